"""Declared versus observed: the relationships that run but nobody declared, and the declared
ones that were not seen running.

Assumptions:

- Sources are the discovery sources named in ``last_seen`` (``kubernetes``, ``compose``,
  ``backstage``, ``inventory`` declare; ``otel``, ``host``, ``nmap`` observe). Any name is
  accepted (``cmdb`` never imports ``discovery``), but a name that no relationship of the
  store, active or retired, was ever seen by is a :class:`~cmdb.errors.ValidationError`
  (a typo, ``otell``, must not make every declared edge look unused). A source may not be on
  both sides.
- A source *sees* a CI or a relationship when it has a ``last_seen`` for it and has not since
  marked it stale (``stale_since``: a complete run of that source no longer found it); an
  observed source must also have seen it at or after ``now - window`` when a window is given.
  Only active relationships are compared.
- *Undeclared*: seen by an observed source, by no declared source. *Confirmed*: seen by both.
- *Unobserved*: declared, not seen by an observed source over the window, although an observed
  source can judge it: it saw both of its ends (over the window) and reports relationships of
  its type. A declared relationship that no observed source can judge is *not covered*, with the
  reason, and never counted as unobserved: tracing one namespace says nothing about the others,
  and traces never show a Service's selector or a workload's ConfigMap.

>>> import os, tempfile
>>> from datetime import UTC, datetime
>>> from cmdb.model import CI, Batch, Relationship
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "c.db")), create=True)
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> seen = {"kubernetes": t, "otel": t}
>>> app = [CI(id=i, ci_class="application_instance", name=i, last_seen=seen) for i in "abc"]
>>> rels = [Relationship(source="a", type="depends_on", target="b", last_seen={"otel": t}),
...         Relationship(source="b", type="depends_on", target="c", last_seen=seen)]
>>> _ = store.apply(Batch(cis=app, relationships=rels), actor="doc")
>>> r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"], now=t)
>>> [e.id for e in r.undeclared], [e.id for e in r.confirmed], r.unobserved
(['a|depends_on|b'], ['b|depends_on|c'], ())
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from cmdb.errors import ValidationError
from cmdb.filters import CIFilter, RelFilter
from cmdb.model import CI, Relationship, utcnow
from cmdb.reconcile import parse_duration
from cmdb.store.protocol import GraphStore

__all__ = ["DriftEdge", "DriftReport", "declared_vs_observed"]

SECTIONS = ("undeclared", "unobserved", "confirmed", "not_covered")
"""The report's lists of relationships, in the order they are shown."""


class DriftEdge(BaseModel):
    """One relationship of a :class:`DriftReport`: which of the compared sources see it, when
    an observed source last saw it (also outside the window), its attributes (call counts,
    latencies...) and, when it is not covered, why."""

    model_config = ConfigDict(frozen=True)

    source: str
    type: str
    target: str
    declared_by: tuple[str, ...] = ()
    observed_by: tuple[str, ...] = ()
    last_observed: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """The relationship's id, ``source|type|target``."""
        return f"{self.source}|{self.type}|{self.target}"


class DriftReport(BaseModel):
    """The relationships of the store sorted into :data:`SECTIONS`, each list by id."""

    model_config = ConfigDict(frozen=True)

    declared: tuple[str, ...]
    observed: tuple[str, ...]
    window: timedelta | None = Field(description="As an ISO 8601 duration (P7D); null: ever.")
    now: datetime
    undeclared: tuple[DriftEdge, ...] = ()
    unobserved: tuple[DriftEdge, ...] = ()
    confirmed: tuple[DriftEdge, ...] = ()
    not_covered: tuple[DriftEdge, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def since(self) -> datetime | None:
        """The start of the window (None: no window, any sighting counts)."""
        return self.now - self.window if self.window is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        """The size of each section."""
        return {name: len(getattr(self, name)) for name in SECTIONS}

    def summary(self) -> str:
        """One line: the size of each section, and what was compared."""
        over = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
        return (
            f"{len(self.undeclared)} undeclared, {len(self.unobserved)} declared but not "
            f"observed, {len(self.confirmed)} confirmed, {len(self.not_covered)} not covered "
            f"({', '.join(self.observed)}{over} vs {', '.join(self.declared)})"
        )

    def to_json(self) -> dict[str, Any]:
        """As the API answers it: JSON types, the window as an ISO 8601 duration."""
        return self.model_dump(mode="json")


def _sees(entity: CI | Relationship, source: str, since: datetime | None) -> bool:
    at = entity.last_seen.get(source)
    if at is None or source in entity.stale_since:
        return False
    return since is None or at >= since


def _names(given: Iterable[str], side: str) -> tuple[str, ...]:
    split = (n.strip() for value in given for n in value.split(","))
    names = tuple(dict.fromkeys(n for n in split if n))
    if not names:
        raise ValidationError(f"name at least one {side} source", field=side)
    return names


def _since(
    window: timedelta | str | None, now: datetime
) -> tuple[timedelta | None, datetime | None]:
    """The window as a timedelta, and its start."""
    if window is None:
        return None, None
    try:
        span = parse_duration(window) if isinstance(window, str) else window
        if span <= timedelta(0):
            raise ValidationError("the window must be longer than zero")
        return span, now - span
    except ValidationError as exc:
        raise ValidationError(exc.detail, field="window") from None
    except OverflowError:
        raise ValidationError(f"the window {window!s} is too long", field="window") from None


def _check_sources(
    rels: list[Relationship], declared: tuple[str, ...], observed: tuple[str, ...]
) -> None:
    both = sorted(set(declared) & set(observed))
    if both:
        raise ValidationError(f"source '{both[0]}' is both declared and observed", field="observed")
    known = {s for r in rels for s in r.last_seen}
    for side, names in (("declared", declared), ("observed", observed)):
        for name in names:
            if name not in known:
                raise ValidationError(
                    f"no relationship was ever seen by source '{name}' (sources seen: "
                    f"{', '.join(sorted(known)) or 'none'})",
                    field=side,
                )


def _edge(
    rel: Relationship,
    declared: list[str],
    observed: list[str],
    sources: tuple[str, ...],
    reason: str | None = None,
) -> DriftEdge:
    times = [rel.last_seen[s] for s in sources if s in rel.last_seen]
    return DriftEdge(
        source=rel.source,
        type=rel.type,
        target=rel.target,
        declared_by=tuple(declared),
        observed_by=tuple(observed),
        last_observed=max(times, default=None),
        attributes=rel.attributes,
        reason=reason,
    )


def declared_vs_observed(
    store: GraphStore,
    *,
    declared: Sequence[str],
    observed: Sequence[str],
    window: timedelta | str | None = None,
    now: datetime | None = None,
) -> DriftReport:
    """Compare what the ``declared`` sources say with what the ``observed`` sources saw
    running (over ``window`` before ``now``, or ever); reads only. A name may be a comma list
    (``"kubernetes,compose"``); ``window`` may be a duration as text (``"7d"``).

    Raises :class:`~cmdb.errors.ValidationError` (``field`` ``declared``, ``observed`` or
    ``window``) for an empty side, a source on both sides, a source no relationship was ever
    seen by, or a window that is not a positive duration.
    """
    declared_, observed_ = _names(declared, "declared"), _names(observed, "observed")
    now = now or utcnow()
    span, since = _since(window, now)
    every = store.find_relationships(RelFilter(include_retired=True))
    _check_sources(every, declared_, observed_)
    rels = [r for r in every if r.status == "active"]
    judged: list[tuple[Relationship, list[str], list[str]]] = []
    for rel in rels:
        decl = [s for s in declared_ if _sees(rel, s, None)]
        obs = [s for s in observed_ if _sees(rel, s, since)]
        if decl or obs:
            judged.append((rel, decl, obs))
    ends = sorted(
        {e for rel, decl, obs in judged if decl and not obs for e in (rel.source, rel.target)}
    )
    cis = {c.id: c for c in store.find_cis(CIFilter(ids=tuple(ends)))} if ends else {}
    covered = {i for i, c in cis.items() if any(_sees(c, s, since) for s in observed_)}
    observed_types = {r.type for r in rels if any(_sees(r, s, since) for s in observed_)}
    out: dict[str, list[DriftEdge]] = {name: [] for name in SECTIONS}
    for rel, decl, obs in judged:
        if not decl:
            out["undeclared"].append(_edge(rel, decl, obs, observed_))
        elif obs:
            out["confirmed"].append(_edge(rel, decl, obs, observed_))
        else:
            reason = _uncovered(rel, covered, observed_types, observed_, since is not None)
            section = "not_covered" if reason else "unobserved"
            out[section].append(_edge(rel, decl, obs, observed_, reason))
    return DriftReport(
        declared=declared_,
        observed=observed_,
        window=span,
        now=now,
        **{name: tuple(sorted(edges, key=lambda e: e.id)) for name, edges in out.items()},
    )


def _uncovered(
    rel: Relationship,
    covered: set[str],
    types: set[str],
    observed: tuple[str, ...],
    windowed: bool,
) -> str | None:
    """Why no observed source can judge ``rel`` (None: one can)."""
    by = " or ".join(observed) + (" in the window" if windowed else "")
    unseen = [e for e in (rel.source, rel.target) if e not in covered]
    if unseen:
        return f"{' and '.join(unseen)} not seen by {by}"
    if rel.type not in types:
        return f"no {rel.type} relationship seen by {by}"
    return None
