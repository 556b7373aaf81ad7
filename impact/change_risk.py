"""Change risk: a 0..100 score with every contributing factor, a level, and the CAB rule.

Assumptions:

- A change is treated as the failure of its CIs for its window, on top of the CIs of open
  incidents (assumed down already: patching the second node of a cluster whose first node is in
  an incident is an outage, not a degradation).
- Every weight, threshold, maintenance window and the CAB rule is data: a :class:`RiskWeights`
  passed in as ``weights=``, made from a mapping by :meth:`RiskWeights.from_mapping`. This
  module reads no file: the packaged defaults and the ``--weights`` / ``CMDB_RISK_WEIGHTS``
  override are read by :func:`cmdb.workflows.risk.load_risk_weights` (see
  ``cmdb/workflows/risk_weights.yaml`` for what each entry means).
  ``score = 100 × Σ weight × value / Σ weight``, each value in 0..1, and every factor is
  reported with its weight, value, points and a one-line detail, whether it contributed or not.
- Factors: ``blast_radius`` (size, log-scaled), ``services`` and ``customers`` (criticality and
  state of those in the blast radius), ``spof`` (a changed CI alone takes a service down: the
  definition of :mod:`impact.spof`, checked with one blast radius per changed CI),
  ``redundancy`` (spare members left in the groups the change degrades), ``change_type``,
  ``history`` (failed changes and incidents on the changed CIs), ``maintenance_window`` and
  ``collisions`` (:mod:`impact.collisions`).
- ``min_level`` floors raise the level when the change takes a service down (given the open
  incidents), or takes one down together with a colliding change.
- Times are read in a service's own ``timezone`` attribute, else the weights' ``timezone``,
  else the CMDB's (the registry's ``timezone``). A service (a CI of registry category
  ``service``) in the impact with a ``maintenance_window`` attribute imposes its own window
  instead of the default. ``service_hours`` names the affected services whose service hours
  (``7x24``, ``mon-fri 08:00-18:00``) the window meets outside their own agreed window;
  ``freeze`` the freeze periods it meets (the weights' CMDB-wide ``freeze`` and each service's
  ``freeze`` attribute): a change in a freeze also needs the CAB.

>>> w = RiskWeights.from_mapping({
...     "factors": {"spof": {"weight": 1}, "change_type": {"weight": 1}},
...     "state_factor": {"down": 1.0, "degraded": 0.5, "at_risk": 0.25},
...     "levels": {"low": 0, "medium": 25, "high": 50, "critical": 75},
...     "cab": {"min_level": "high"}}, source="example")
>>> w.level_for(60), sorted(w.weights)
('high', ['change_type', 'spof'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import Field

from cmdb.enums import ChangeType, ImpactState, RecordKind
from cmdb.errors import ConfigError, ValidationError
from cmdb.filters import CIFilter, RecordFilter
from cmdb.model import Change, Incident, utcnow
from cmdb.store.protocol import GraphStore
from impact.blast import blast_radius
from impact.collisions import (
    PENDING,
    Collision,
    change_collisions,
    in_maintenance_window,
    parse_freeze,
    zone,
)
from impact.propagation import prepare
from impact.results import Counts, Result, SupplierRef
from impact.schedule import freezes_met, service_hours_met, window_fits
from impact.suppliers import suppliers_of_nodes
from impact.window import FailureImpact, failure_impact

__all__ = [
    "ChangeAssessment",
    "Factor",
    "RiskWeights",
    "assess_change",
    "assess_proposed",
    "proposed_change",
]

_LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class RiskWeights:
    """Risk weights and rules, as data (the shape of ``cmdb/workflows/risk_weights.yaml``);
    ``source`` names where they came from."""

    source: str
    weights: Mapping[str, float]
    params: Mapping[str, Mapping[str, Any]]
    state_factor: Mapping[str, float]
    levels: tuple[tuple[str, float], ...]
    min_level: Mapping[str, str]
    cab_min_level: str
    cab_types: frozenset[str]
    cab_any_collision: bool
    timezone: str  # "" : the CMDB's (the registry's ``timezone``)
    default_window: str
    freeze: str = ""  # CMDB-wide freeze periods (:func:`impact.collisions.parse_freeze`)

    def param(self, factor: str, name: str, default: Any) -> Any:
        return self.params.get(factor, {}).get(name, default)

    def level_for(self, score: float) -> str:
        """The highest level whose lower bound ``score`` reaches."""
        reached = [name for name, bound in self.levels if score >= bound]
        return reached[-1] if reached else self.levels[0][0]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> RiskWeights:
        """Risk weights from a mapping of the weights file's shape (every top-level section
        present); :class:`~cmdb.errors.ConfigError`, naming ``source``, if it is invalid."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"risk weights {source}: expected a mapping at the top level")
        try:
            factors = {str(k): dict(v) for k, v in data["factors"].items()}
            weights = {k: float(v["weight"]) for k, v in factors.items()}
            if any(w < 0 for w in weights.values()) or not sum(weights.values()):
                raise ValueError("weights must be >= 0 and not all 0")
            levels = tuple(
                sorted(
                    ((str(k), float(v)) for k, v in data["levels"].items()), key=lambda kv: kv[1]
                )
            )
            names = [k for k, _ in levels]
            cab = data["cab"]
            floors = {str(k): str(v) for k, v in (data.get("min_level") or {}).items()}
            if not set(names) <= set(_LEVELS) or names != sorted(names, key=_LEVELS.index):
                raise ValueError(f"levels must be ordered {', '.join(_LEVELS)}")
            for name in (cab["min_level"], *floors.values()):
                if name not in names:
                    raise ValueError(f"unknown level {name!r}")
            mw = data.get("maintenance_windows") or {}
            out = cls(
                source=source,
                weights=weights,
                params={
                    k: {p: v for p, v in f.items() if p != "weight"} for k, f in factors.items()
                },
                state_factor={str(k): float(v) for k, v in data["state_factor"].items()},
                levels=levels,
                min_level=floors,
                cab_min_level=cab["min_level"],
                cab_types=frozenset(cab.get("change_types") or ()),
                cab_any_collision=bool(cab.get("any_collision", False)),
                timezone=str(mw.get("timezone") or ""),
                default_window=str(mw.get("default") or ""),
                freeze=str(mw.get("freeze") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"risk weights {source}: invalid ({exc})") from None
        try:
            if out.timezone:
                zone(out.timezone)
            parse_freeze(out.freeze)
            in_maintenance_window(utcnow(), utcnow() + timedelta(hours=1), out.default_window)
        except ValidationError as exc:
            raise ConfigError(f"risk weights {source}: {exc}") from None
        return out


class Factor(Result):
    """One contribution to the score: ``points = 100 × weight × value / Σ weights``."""

    name: str
    weight: float
    value: float
    points: float
    detail: str


class ChangeAssessment(Result):
    """The risk of one change; ``factors`` lists every factor, in the weights' order;
    ``weights_source`` (``weights`` in JSON) says which weights were used.

    ``headline`` is the decisive sentence, first. ``counts``, ``services`` and ``customers``
    are the change's *full* impact during its window (its own CIs counted as down, whatever the
    open incidents already affect); ``impact`` (:class:`~impact.window.FailureImpact`) adds
    their states, what the change makes worse, which open incident already affects the same
    services and customers, the groups it leaves short and the redundancy left (the CIs that are
    single points of failure while it runs); ``suppliers`` whom to call for the changed CIs and
    what they affect (:class:`~impact.results.SupplierRef`)."""

    change_id: str | None
    ci_ids: tuple[str, ...]
    change_type: str
    window_start: datetime | None
    window_end: datetime | None
    score: float
    level: str
    level_reasons: tuple[str, ...]
    cab_required: bool
    cab_reasons: tuple[str, ...]
    factors: tuple[Factor, ...]
    counts: Counts
    services: tuple[str, ...]
    customers: tuple[str, ...]
    spof_for: tuple[str, ...]
    assumed_down: tuple[str, ...] = Field(alias="assume_down")
    collisions: tuple[Collision, ...]
    weights_source: str = Field(alias="weights")
    headline: str = ""
    impact: FailureImpact | None = None
    suppliers: tuple[SupplierRef, ...] = ()

    def factor(self, name: str) -> Factor:
        return next(f for f in self.factors if f.name == name)


def _few(ids: list[str], k: int = 6) -> str:
    return ", ".join(ids[:k]) + (f" and {len(ids) - k} more" if len(ids) > k else "")


def assess_change(
    store: GraphStore,
    change_id: str,
    *,
    weights: RiskWeights,
    now: datetime | None = None,
) -> ChangeAssessment:
    """The risk of the stored change ``change_id``.

    :class:`~cmdb.errors.NotFoundError` if there is no such record,
    :class:`~cmdb.errors.ValidationError` if it is not a change.
    """
    rec = store.get_record(change_id)
    if not isinstance(rec, Change):
        raise ValidationError(f"record '{change_id}' is a {rec.kind}, not a change")
    return _assess(
        store,
        rec.ci_ids,
        rec.type,
        rec.window_start,
        rec.window_end,
        change_id=rec.id,
        weights=weights,
        now=now,
    )


def assess_proposed(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    change_type: str,
    window_start: datetime,
    window_end: datetime,
    weights: RiskWeights,
    now: datetime | None = None,
) -> ChangeAssessment:
    """The risk of a change not recorded yet, on ``ci_ids`` in ``[window_start, window_end)``."""
    proposal = proposed_change(ci_ids, change_type, window_start, window_end)
    return _assess(
        store,
        proposal.ci_ids,
        proposal.type,
        proposal.window_start,
        proposal.window_end,
        change_id=None,
        weights=weights,
        now=now,
    )


def proposed_change(
    ci_ids: Iterable[str],
    change_type: str,
    window_start: datetime,
    window_end: datetime,
    *,
    title: str = "",
) -> Change:
    """A requested change not recorded yet (``id`` None), checked: at least one CI, a known
    type, timezone-aware window times and an end after the start (:class:`ValidationError`).

    >>> from datetime import UTC, datetime
    >>> c = proposed_change(["srv-1"], "normal", datetime(2026, 1, 10, 1, tzinfo=UTC),
    ...                     datetime(2026, 1, 10, 3, tzinfo=UTC))
    >>> c.id, c.status.value
    (None, 'requested')
    """
    ci_ids = list(dict.fromkeys(ci_ids))
    if not ci_ids:
        raise ValidationError("a change needs at least one CI", field="ci_ids")
    try:
        kind = ChangeType(change_type)
    except ValueError:
        raise ValidationError(
            f"must be standard, normal or emergency, got {change_type!r}", field="type"
        ) from None
    for name, at in (("window_start", window_start), ("window_end", window_end)):
        if at.tzinfo is None:
            raise ValidationError("needs a timezone (e.g. 2026-01-03T22:00+00:00)", field=name)
    if window_end <= window_start:
        raise ValidationError("must be after window_start", field="window_end")
    return Change(
        id=None,
        title=title,
        ci_ids=ci_ids,
        type=kind,
        window_start=window_start,
        window_end=window_end,
    )


def _assess(
    store,
    ci_ids,
    change_type,
    start,
    end,
    *,
    change_id,
    weights: RiskWeights,
    now,
    own: frozenset[str] = frozenset(),
    noun: str = "this change",
):
    """The assessment; ``own`` names records that are part of what is assessed (a release's
    changes): never a collision, nor history, of it; ``noun`` names it in the headline."""
    now = now or utcnow()
    own = own | {change_id} if change_id else own
    topo = store.topology()
    ci_ids = list(dict.fromkeys(ci_ids))
    for ci in ci_ids:
        topo.index(ci)
    incidents = store.find_records(RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=True))
    outages = {r.id: tuple(r.ci_ids) for r in incidents}
    fi = failure_impact(topo, ci_ids, outages=outages)
    assumed = list(fi.assumed_down)
    sf = weights.state_factor
    values: dict[str, tuple[float, str]] = {}
    crit = {s.id: int(topo.criticality[topo.index(s.id)]) for s in fi.services}

    n, cap = fi.counts.total, weights.param("blast_radius", "saturate", 500)
    values["blast_radius"] = (
        min(1.0, math.log1p(n) / math.log1p(cap)),
        f"{n} CIs affected during the window ({fi.counts.down} down, the changed CIs included)",
    )
    svc_pts = sum(crit[s.id] / 4 * sf[s.state.value] for s in fi.services)
    values["services"] = (
        min(1.0, svc_pts / weights.param("services", "saturate", 2.0)),
        f"{len(fi.services)} services affected, weighted {svc_pts:.2f}",
    )
    cust_pts = sum(sf[c.state.value] for c in fi.customers)
    values["customers"] = (
        min(1.0, cust_pts / weights.param("customers", "saturate", 10)),
        f"{len(fi.customers)} customers affected, weighted {cust_pts:.2f}",
    )

    spof_for: dict[str, int] = {}
    for ci in ci_ids:
        alone = blast_radius(topo, [ci])
        for s in alone.services():
            if alone.state(s) is ImpactState.DOWN:
                spof_for[s] = max(spof_for.get(s, 0), int(topo.criticality[topo.index(s)]))
    values["spof"] = (
        max(spof_for.values(), default=0) / 4,
        f"single point of failure for {', '.join(sorted(spof_for))}"
        if spof_for
        else "no changed CI alone takes a service down",
    )

    fewest = min(fi.groups, key=lambda g: (g.spare, g.id), default=None)
    values["redundancy"] = (
        0.0 if fewest is None else 1.0 if fewest.spare < 0 else 1.0 / (1 + fewest.spare),
        "no redundancy group loses a member"
        if fewest is None
        else f"{len(fi.groups)} groups lose members; {fewest.id} goes to {fewest.up} of "
        f"{fewest.members} up (needs {fewest.needs})" + (": down" if fewest.spare < 0 else ""),
    )

    kind = ChangeType(change_type).value
    values["change_type"] = (
        float(weights.param("change_type", "values", {}).get(kind, 0.0)),
        f"{kind} change",
    )

    since = now - timedelta(days=weights.param("history", "lookback_days", 90))
    past: set[str] = set()
    for ci in ci_ids:
        for rec in store.find_records(RecordFilter(ci=ci, since=since)):
            failed_change = isinstance(rec, Change) and rec.status.value == "failed"
            if rec.id not in own and (failed_change or isinstance(rec, Incident)):
                past.add(rec.id)
    values["history"] = (
        min(1.0, len(past) / weights.param("history", "saturate", 3)),
        f"{len(past)} failed changes or incidents since {since.date()}"
        + (f": {', '.join(sorted(past))}" if past else ""),
    )

    tz = weights.timezone or store.registry.timezone
    service = prepare(topo).service_mask
    named = sorted({s.id for s in fi.services} | {c for c in ci_ids if service[topo.index(c)]})
    svc_cis = {ci.id: ci for ci in store.find_cis(CIFilter(ids=tuple(named)))} if named else {}
    frozen: list[str] = []
    if start is None or end is None:
        values["maintenance_window"] = (1.0, "no window scheduled")
        values["service_hours"] = (1.0, "no window scheduled")
        values["freeze"] = (0.0, "no window scheduled")
        collisions: tuple[Collision, ...] = ()
    else:
        fits, why = window_fits(svc_cis, start, end, weights.default_window, tz)
        values["maintenance_window"] = (0.0 if fits else 1.0, why)
        values["service_hours"] = service_hours_met(fi, svc_cis, start, end, tz, sf)
        frozen = freezes_met(svc_cis, start, end, weights.freeze, tz)
        values["freeze"] = (
            1.0 if frozen else 0.0,
            ("inside " + "; ".join(frozen)) if frozen else "no freeze period",
        )
        others = store.find_records(RecordFilter(kinds=(RecordKind.CHANGE,), open_only=True))
        collisions = change_collisions(
            topo,
            ci_ids,
            start,
            end,
            [
                c
                for c in others
                if isinstance(c, Change) and c.status in PENDING and c.id not in own
            ],
            assume_down=assumed,
        )
    p = weights.params.get("collisions", {})
    outage = any(c.combined_outage for c in collisions)
    values["collisions"] = (
        float(p.get("combined_outage", 1.0))
        if outage
        else float(p.get("intersect", 0.5))
        if collisions
        else 0.0,
        f"{len(collisions)} overlapping changes with intersecting impact"
        + (
            "; together they take down "
            + _few(sorted({x for c in collisions for x in c.services + c.groups}))
            if outage
            else ""
        ),
    )

    total = sum(weights.weights.values()) or 1.0
    factors = tuple(
        Factor(
            name=name,
            weight=w,
            value=round(values[name][0], 3),
            points=round(100 * w * values[name][0] / total, 2),
            detail=values[name][1],
        )
        for name, w in weights.weights.items()
        if name in values
    )
    score = round(min(100.0, sum(f.points for f in factors)), 1)
    level = weights.level_for(score)
    raised = []
    taken_down = [s.id for s in fi.made_worse if s.state is ImpactState.DOWN and s.id in crit]
    critical_down = [s for s in taken_down if crit[s] >= _CRITICAL]
    critical_left = sorted(
        {x.id for x in fi.single_points if any(crit.get(s, 0) >= _CRITICAL for s in x.services)}
    )
    critical_together = any(
        int(topo.criticality[topo.index(s)]) >= _CRITICAL for c in collisions for s in c.services
    )
    for rule, hit in (
        ("service_down", bool(taken_down)),
        ("critical_service_down", bool(critical_down)),
        ("collision_outage", outage),
        ("collision_critical_outage", critical_together),
        ("single_point_left", bool(critical_left)),
    ):
        floor = weights.min_level.get(rule)
        if hit and floor and _LEVELS.index(floor) > _LEVELS.index(level):
            level = floor
            raised.append(f"raised to {floor} by rule min_level.{rule}")
    reasons = []
    if _LEVELS.index(level) >= _LEVELS.index(weights.cab_min_level):
        reasons.append(f"risk level {level} (CAB from {weights.cab_min_level})")
    if kind in weights.cab_types:
        reasons.append(f"{kind} change")
    if collisions and weights.cab_any_collision:
        reasons.append("collides with " + ", ".join(c.change_id for c in collisions))
    if frozen:
        reasons.append("inside " + "; ".join(frozen))
    return ChangeAssessment(
        change_id=change_id,
        ci_ids=tuple(ci_ids),
        change_type=kind,
        window_start=start,
        window_end=end,
        score=score,
        level=level,
        level_reasons=tuple(raised),
        cab_required=bool(reasons),
        cab_reasons=tuple(reasons),
        factors=factors,
        counts=fi.counts,
        services=tuple(s.id for s in fi.services),
        customers=tuple(c.id for c in fi.customers),
        spof_for=tuple(sorted(spof_for)),
        assumed_down=tuple(assumed),
        collisions=collisions,
        weights_source=weights.source,
        headline=_headline(fi, taken_down, critical_left, collisions, crit, noun),
        impact=fi,
        suppliers=suppliers_of_nodes(
            store,
            topo,
            blast_radius(topo, ci_ids).nodes,
            failing=np.asarray([topo.index(c) for c in ci_ids]),
        ),
    )


_CRITICAL = 4  # criticality rank of "critical"


def _headline(
    fi: FailureImpact,
    taken_down: list[str],
    critical_left: list[str],
    collisions: tuple[Collision, ...],
    crit: Mapping[str, int],
    noun: str = "this change",
) -> str:
    """The decisive sentence: which open incident already has what out, then what this change
    takes down, or takes down with an overlapping change, or leaves without redundancy."""
    down = sorted(taken_down, key=lambda s: (-crit.get(s, 0), s))
    customers = [c.id for c in fi.made_worse if c.state is ImpactState.DOWN and c.id not in crit]
    together = sorted(
        {s for c in collisions for s in c.services}, key=lambda s: (-crit.get(s, 0), s)
    )
    # the critical services the sentence is about, to name the incidents behind them
    about = {s for s in (*down, *together) if crit.get(s, 0) >= _CRITICAL}
    about |= {
        s
        for x in fi.single_points
        if x.id in critical_left
        for s in x.services
        if crit.get(s, 0) >= _CRITICAL
    }
    blamed = [a for a in fi.already_affected if any(s.id in about for s in a.services)]
    parts = [f"{a.record} already has {', '.join(a.ci_ids)} out" for a in blamed[:2]]
    if down:
        parts.append(f"{noun} takes {_few(down, 3)} down")
    if together:
        ids = ", ".join(c.change_id for c in collisions if c.services)
        parts.append(f"with {ids} in the same window it takes {_few(together, 3)} down")
    if customers:
        parts.append(f"it takes customers {_few(customers, 3)} down")
    if critical_left and not down:
        parts.append(f"while it runs {_few(critical_left, 3)} are single points of failure")
    if not (down or together or customers or critical_left):
        worst = max((s.state for s in fi.services), key=_SEVERITY.index, default=None)
        parts.append(
            f"no service goes down (worst: {worst.value})"
            if worst is not None
            else "no service or customer affected"
        )
    return "; ".join(parts)


_SEVERITY = [ImpactState.OK, ImpactState.AT_RISK, ImpactState.DEGRADED, ImpactState.DOWN]
