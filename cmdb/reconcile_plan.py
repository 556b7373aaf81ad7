"""Planning a reconciliation: the plan's model, source precedence, and the CIs of a scan.

Assumptions: planning (:func:`cmdb.reconcile.plan`) only reads the store; the real run
(:func:`cmdb.reconcile.reconcile`) applies ``plan.batch`` unchanged, so a dry run shows exactly
what the real run does. The batch carries the version of every entity it read
(:class:`~cmdb.model.Expected`), so it never writes over a change made after the plan.

- **Identification** is :mod:`cmdb.reconcile_match`.
- **Precedence** is per field (``name``, ``owner``, ``attributes.os``, ``identifiers.fqdn``...):
  a source sets a field unless the field's current value belongs (``CI.provenance``) to a
  source ranked higher; a value no source claims was entered by hand and ranks as ``manual``.
  A source removes a field it owns and no longer reports. A relationship's attributes belong
  to the highest-ranked source that sees it (``manual`` when none does). The class of a stored
  CI never changes through discovery (a different class is a warning).
- **Idempotent:** equal content is no change: only ``last_seen`` moves (no history, no CI
  version bump).
- **Stale:** only after a *complete* run, only CIs and relationships this source asserted
  (``last_seen`` has it), only within the scope the run covered, and only after
  ``stale_after_runs`` complete runs of this source (this one included) missed it, or it has
  not been seen for ``stale_after``. Marking sets ``stale_since[source]``; nothing is retired
  here (see :func:`cmdb.reconcile.purge`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from cmdb.diff import FieldChange, diff_documents
from cmdb.enums import Lifecycle
from cmdb.errors import ValidationError
from cmdb.model import CI, Batch, Expected, Identifiers
from cmdb.reconcile_match import Identified, seen_in
from cmdb.scan import ScanResult, SeenCI
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error, validate_ci

__all__ = [
    "DEFAULT_PRECEDENCE",
    "MANUAL",
    "CIChange",
    "CIPlanner",
    "Precedence",
    "ReconcilePlan",
    "RelChange",
    "Skipped",
    "scope_value",
]

MANUAL = "manual"
DEFAULT_PRECEDENCE = (MANUAL, "kubernetes", "backstage", "compose", "inventory")
_ID_FIELDS = ("serial_number", "fqdn", "hostnames", "ips", "macs", "cloud_ids", "k8s_uids")
_TEXT_FIELDS = ("owner", "support_group", "description")


class Precedence(BaseModel):
    """Sources, highest first. ``manual`` is always ranked (first unless placed); a source not
    listed ranks below every listed one.

    >>> p = Precedence.parse("kubernetes, inventory")
    >>> p.order, p.may_set("inventory", "kubernetes"), p.may_set("kubernetes", None)
    (('manual', 'kubernetes', 'inventory'), False, True)
    """

    model_config = ConfigDict(frozen=True)

    order: tuple[str, ...] = DEFAULT_PRECEDENCE

    @classmethod
    def parse(cls, text: str | Sequence[str]) -> Precedence:
        names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
        names = list(dict.fromkeys(n for n in names if n))
        return cls(order=tuple(names if MANUAL in names else [MANUAL, *names]))

    def rank(self, source: str) -> int:
        return self.order.index(source) if source in self.order else len(self.order)

    def may_set(self, source: str, owner: str | None) -> bool:
        """May ``source`` write a value that ``owner`` set (None: nobody)?"""
        return owner is None or self.rank(source) <= self.rank(owner)


class CIChange(BaseModel):
    """A CI the run creates, updates (field diffs) or marks stale."""

    model_config = ConfigDict(frozen=True)

    ci_id: str
    action: Literal["create", "update", "stale"]
    ci_class: str
    name: str
    key: str | None = None
    changes: tuple[FieldChange, ...] = ()


class RelChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    rel_id: str
    action: Literal["create", "update", "stale"]
    changes: tuple[FieldChange, ...] = ()


class Skipped(BaseModel):
    """A sighting or relationship the run leaves alone, and why (ambiguous match, an end it
    could not identify, a CI retired by hand...). ``candidates`` are the CIs it could be."""

    model_config = ConfigDict(frozen=True)

    what: str
    reason: str
    candidates: tuple[str, ...] = ()
    origin: str | None = None


class ReconcilePlan(BaseModel):
    """What reconciling one scan does. ``batch`` is what the real run applies."""

    model_config = ConfigDict(frozen=True)

    source: str
    scope: tuple[str, ...]
    complete: bool
    now: datetime
    creates: tuple[CIChange, ...] = ()
    updates: tuple[CIChange, ...] = ()
    stale: tuple[CIChange, ...] = ()
    unchanged: int = 0
    relationships: tuple[RelChange, ...] = ()
    relationships_unchanged: int = 0
    ambiguous: tuple[Skipped, ...] = ()
    unresolved: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()
    batch: Batch = Field(default_factory=Batch, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        rel = {
            a: sum(1 for r in self.relationships if r.action == a)
            for a in ("create", "update", "stale")
        }
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "stale": len(self.stale),
            "unchanged": self.unchanged,
            "ambiguous": len(self.ambiguous),
            "unresolved": len(self.unresolved),
            "skipped": len(self.skipped),
            "relationships_created": rel["create"],
            "relationships_updated": rel["update"],
            "relationships_stale": rel["stale"],
            "relationships_unchanged": self.relationships_unchanged,
        }

    def summary(self) -> str:
        """``3 created, 1 updated, 0 stale, 5 unchanged; relationships: ...``."""
        c = self.counts
        text = (
            f"{c['created']} created, {c['updated']} updated, {c['stale']} marked stale, "
            f"{c['unchanged']} unchanged; relationships: {c['relationships_created']} "
            f"created, {c['relationships_updated']} updated, {c['relationships_stale']} "
            f"marked stale, {c['relationships_unchanged']} unchanged"
        )
        extra = [f"{c[k]} {k}" for k in ("ambiguous", "unresolved", "skipped") if c[k]]
        return text + (f"; {', '.join(extra)}" if extra else "")

    def lines(self, limit: int = 20) -> list[str]:
        """The first ``limit`` changes, one per line (``srv-1: attributes.os: 'a' -> 'b'``,
        ``app: created``, ``db: marked stale``), then ``... and N more``."""
        out = [f"{c.ci_id}: created ({c.ci_class})" for c in self.creates]
        out += [f"{c.ci_id}: {f}" for c in self.updates for f in c.changes]
        out += [f"{c.ci_id}: marked stale" for c in self.stale]
        out += [
            f"{r.rel_id}: {r.action if r.action != 'stale' else 'marked stale'}"
            for r in self.relationships
            if r.action != "update"
        ]
        out += [
            f"{r.rel_id}: {f}"
            for r in self.relationships
            if r.action == "update"
            for f in r.changes
        ]
        out += [
            f"{s.what}: ambiguous, not merged ({s.reason}: {', '.join(s.candidates)})"
            for s in self.ambiguous
        ]
        out += [f"{s.what}: skipped ({s.reason})" for s in self.skipped]
        if len(out) <= limit:
            return out
        return [*out[:limit], f"... and {len(out) - limit} more"]

    def to_json(self, *, limit: int | None = None) -> dict[str, Any]:
        """The plan as JSON-ready data, without the batch; ``limit`` caps each list."""
        data = self.model_dump(mode="json", exclude={"batch"})
        if limit is not None:
            for key, value in data.items():
                if isinstance(value, list):
                    data[key] = value[:limit]
        return {**data, "counts": self.counts}


def scope_value(scope: Iterable[str]) -> str:
    """A run's whole scope as one value (for sightings that do not name their element)."""
    return "+".join(sorted(scope))


def _sighting_scope(seen: SeenCI, scan: ScanResult) -> str:
    if seen.scope:
        return seen.scope
    return scan.scope[0] if len(scan.scope) == 1 else scope_value(scan.scope)


def _flat(
    name: str,
    owner: str | None,
    support_group: str | None,
    description: str | None,
    attributes: dict[str, Any],
    identifiers: Identifiers,
) -> dict[str, Any]:
    """A CI's discoverable fields by path; unset fields are absent."""
    out: dict[str, Any] = {"name": name}
    for path, value in zip(_TEXT_FIELDS, (owner, support_group, description), strict=True):
        if value is not None:
            out[path] = value
    out.update((f"attributes.{k}", v) for k, v in attributes.items() if v is not None)
    for f in _ID_FIELDS:
        if getattr(identifiers, f):
            out[f"identifiers.{f}"] = getattr(identifiers, f)
    out.update((f"identifiers.keys.{k}", v) for k, v in identifiers.keys.items() if v)
    return out


def _under(flat: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {p[len(prefix) :]: v for p, v in flat.items() if p.startswith(prefix)}


def _build(base: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a CI document) with its discoverable fields replaced by ``flat``."""
    doc = {**base, "name": flat["name"]}
    for f in _TEXT_FIELDS:
        doc[f] = flat.get(f)
    doc["attributes"] = _under(flat, "attributes.")
    ids: dict[str, Any] = {f: flat.get(f"identifiers.{f}") for f in _ID_FIELDS}
    ids = {k: v for k, v in ids.items() if v is not None}
    ids["keys"] = _under(flat, "identifiers.keys.")
    doc["identifiers"] = ids
    return doc


class CIPlanner:
    """Plans the CIs of one scan (see the module docstring); relationships and stale marks
    are :mod:`cmdb.reconcile_links`."""

    def __init__(
        self,
        store: GraphStore,
        scan: ScanResult,
        precedence: Precedence,
        now: datetime,
        progress: Callable[[int], None] | None,
    ):
        self.store, self.scan, self.prec, self.now = store, scan, precedence, now
        self.source = scan.source
        self.progress = progress
        self.cis: dict[str, CI] = {}  # ci id -> the CI as this run leaves it
        self.batch_cis: list[CI] = []
        self.expected: list[Expected] = []
        self.creates: list[CIChange] = []
        self.updates: list[CIChange] = []
        self.unchanged = 0
        self.skipped: list[Skipped] = []
        self.ambiguous: list[Skipped] = []
        self.unresolved: list[str] = []
        self.warnings: list[str] = []

    # -- CIs --------------------------------------------------------------------------------
    def _ref(self, seen: SeenCI, value: str | None, by_key: dict[str, Identified]) -> str | None:
        """An owner or support group given as the scan key of another sighting: its CI id."""
        if value is None or value not in by_key:
            return value
        if by_key[value].ci_id is None:
            self.warnings.append(f"{seen.origin or seen.key}: '{value}' is ambiguous; not set")
        return by_key[value].ci_id

    def _incoming(
        self, seen: SeenCI, got: Identified, by_key: dict[str, Identified]
    ) -> dict[str, Any]:
        flat = _flat(
            seen.name,
            self._ref(seen, seen.owner, by_key),
            self._ref(seen, seen.support_group, by_key),
            seen.description,
            {**seen.attributes, **({"unresolved": True} if seen.unresolved else {})},
            seen.identifiers,
        )
        flat.update((f"identifiers.keys.{k}", v) for k, v in got.keys.items())
        scope = _sighting_scope(seen, self.scan)
        if scope:
            flat[f"identifiers.keys.{seen_in(self.source)}"] = scope
        return flat

    def _create(self, seen: SeenCI, got: Identified, flat: dict[str, Any]) -> CI:
        doc = _build({"id": got.ci_id, "class": seen.ci_class}, flat)
        doc["last_seen"] = {self.source: self.now}
        doc["provenance"] = {
            p: self.source for p in flat if not p.startswith("identifiers.keys.seen_in:")
        }
        return CI.model_validate(doc)

    def _merge(self, seen: SeenCI, old: CI, flat: dict[str, Any]) -> CI | None:
        src = self.source
        placeholder = old.attributes.get("unresolved") is True
        if seen.unresolved and not placeholder:
            # a reference to a CI described elsewhere: it names it, asserts nothing about it
            if src not in old.last_seen:
                return old
            flat = {
                f"identifiers.keys.{seen_in(src)}": flat.get(f"identifiers.keys.{seen_in(src)}")
            }
        have = _flat(
            old.name, old.owner, old.support_group, old.description, old.attributes, old.identifiers
        )
        new, prov = dict(have), {}
        for path, value in flat.items():
            if value is None:
                continue
            # a value nobody claims was entered by hand; a field removed by hand stays removed
            owner = (
                old.provenance.get(path, MANUAL)
                if path in have
                else MANUAL
                if old.provenance.get(path) == MANUAL
                else None
            )
            if path.startswith("identifiers.keys.seen_in:") or self.prec.may_set(src, owner):
                new[path] = value
                if not path.startswith("identifiers.keys.seen_in:"):
                    prov[path] = src
        if not seen.unresolved or placeholder:
            for path in have:
                owner = old.provenance.get(path, MANUAL)
                gone = path not in flat and path != "name"
                if gone and (
                    owner == src
                    or (
                        path == "attributes.unresolved"
                        and placeholder
                        and self.prec.may_set(src, owner)
                    )
                ):
                    new.pop(path)
        doc = _build(old.model_dump(by_alias=True), new)
        if old.status is Lifecycle.RETIRED:
            owner = old.provenance.get("status", MANUAL)
            if not self.prec.may_set(src, owner):
                self.skipped.append(
                    Skipped(
                        what=seen.key,
                        reason=f"CI '{old.id}' was retired by {owner}; not revived",
                        origin=seen.origin,
                    )
                )
                return None
            doc["status"], prov["status"] = Lifecycle.LIVE, src
        if seen.ci_class != old.ci_class:
            self.warnings.append(
                f"{seen.origin or seen.key}: seen as {seen.ci_class}, but CI "
                f"'{old.id}' is a {old.ci_class}; class kept"
            )
        doc["last_seen"] = {**old.last_seen, src: self.now}
        doc["stale_since"] = {k: v for k, v in old.stale_since.items() if k != src}
        doc["provenance"] = {**old.provenance, **prov}
        return CI.model_validate(doc)

    def sightings(self, by_key: dict[str, Identified]) -> None:
        for seen in self.scan.cis:
            got = by_key[seen.key]
            where = seen.origin or seen.key
            if got.ci_id is None:
                self.ambiguous.append(
                    Skipped(
                        what=seen.key,
                        reason=got.reason or "ambiguous",
                        candidates=got.candidates,
                        origin=seen.origin,
                    )
                )
                continue
            flat = self._incoming(seen, got, by_key)
            old, changes = got.existing, []
            try:
                new = self._create(seen, got, flat) if old is None else self._merge(seen, old, flat)
                if new is not None and old is not None and new is not old:
                    before, after = old.content(), new.content()
                    changes = diff_documents(before, after) if before != after else []
                if new is not None and (old is None or changes):  # stored CIs were valid
                    validate_ci(new, self.store.registry)
            except PydanticError as exc:
                raise pydantic_error(exc, location=where) from None
            except ValidationError as err:
                raise err.at(where) from None
            if self.progress is not None:
                self.progress(1)
            if new is not None:
                self.cis[new.id] = new
                self._record(seen, old, new, changes)

    def _record(self, seen: SeenCI, old: CI | None, new: CI, changes: list[FieldChange]) -> None:
        if old is None:
            self.batch_cis.append(new)
            self.expected.append(Expected(entity="ci", id=new.id, version=0))
            self.creates.append(
                CIChange(
                    ci_id=new.id,
                    action="create",
                    ci_class=new.ci_class,
                    name=new.name,
                    key=seen.key,
                )
            )
            if seen.unresolved:
                self.unresolved.append(new.id)
            return
        if new is old:
            return
        if changes:
            self.updates.append(
                CIChange(
                    ci_id=new.id,
                    action="update",
                    ci_class=new.ci_class,
                    name=new.name,
                    key=seen.key,
                    changes=tuple(changes),
                )
            )
        else:
            self.unchanged += 1
        if changes or new.last_seen != old.last_seen or new.provenance != old.provenance:
            self.batch_cis.append(new)
            self.expected.append(Expected(entity="ci", id=new.id, version=old.version))
