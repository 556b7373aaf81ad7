"""Incident priority: ITIL impact × urgency, with impact measured on the blast radius.

Assumptions:

- The *impact* of an incident is what the failure of its CIs does to the business: the
  ``business_service`` / ``technical_service`` and ``customer`` CIs in their blast radius
  (:func:`impact.blast.blast_radius`), plus the incident's own CIs of those classes (down).
  CIs of other open incidents are assumed down already, so an incident that takes out the last
  healthy member of a group is rated on the outage it completes.
- Each affected service adds ``criticality rank × state factor`` points (rank: low 1, medium 2,
  high 3, critical 4; factor: down 1, degraded 0.5, at risk 0.25); each affected customer adds
  ``0.5 × state factor``. Impact is **high** from :data:`HIGH_POINTS` points (one high or
  critical service down), **medium** from :data:`MEDIUM_POINTS` (any service down or degraded, a
  critical one at risk), else **low**.
- Priority is the ITIL matrix :data:`MATRIX` (1 is the most urgent)::

                      urgency high   urgency medium   urgency low
        impact high        1               2               3
        impact medium      2               3               4
        impact low         3               4               5

>>> priority("high", "medium"), priority("low", "low")
(2, 5)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cmdb.enums import ImpactState, IncidentStatus, RecordKind, Urgency
from cmdb.errors import ConflictError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Batch, Incident, utcnow
from cmdb.store.protocol import GraphStore
from cmdb.topology import Topology
from impact.blast import CUSTOMER_CLASSES, SERVICE_CLASSES, blast_radius

__all__ = [
    "MATRIX",
    "Hit",
    "ImpactAssessment",
    "IncidentAssessment",
    "incident_impact",
    "next_record_id",
    "open_incident",
    "priority",
    "resolve_incident",
]

IMPACT_LEVELS = ("high", "medium", "low")
MATRIX: dict[tuple[str, str], int] = {
    (impact, urgency): i + u + 1
    for i, impact in enumerate(IMPACT_LEVELS)
    for u, urgency in enumerate(("high", "medium", "low"))
}
HIGH_POINTS = 3.0
MEDIUM_POINTS = 1.0
STATE_FACTOR = {ImpactState.DOWN: 1.0, ImpactState.DEGRADED: 0.5, ImpactState.AT_RISK: 0.25}
CUSTOMER_POINTS = 0.5
_CRIT_NAME = {1: "low", 2: "medium", 3: "high", 4: "critical"}


def priority(impact: str, urgency: str) -> int:
    """The ITIL priority (1..5) of ``impact`` × ``urgency`` (each high, medium or low)."""
    try:
        return MATRIX[(str(impact), str(Urgency(urgency)))]
    except (KeyError, ValueError):
        raise ValidationError(
            f"impact and urgency must be high, medium or low, got {impact!r}, {urgency!r}"
        ) from None


@dataclass(frozen=True)
class Hit:
    """An affected service or customer: its id, state, criticality and the points it adds."""

    id: str
    state: str
    criticality: str
    points: float


@dataclass(frozen=True)
class ImpactAssessment:
    """The business impact of a set of failed CIs; ``reasons`` say why, in words."""

    level: str
    points: float
    services: tuple[Hit, ...]
    customers: tuple[Hit, ...]
    reasons: tuple[str, ...]


def incident_impact(
    topo: Topology, ci_ids: Iterable[str], *, assume_down: Iterable[str] = ()
) -> ImpactAssessment:
    """The impact level (high/medium/low) of the failure of ``ci_ids``.

    >>> from cmdb.topology import Topology
    >>> t = Topology.build(version=1, class_names=("application", "business_service"),
    ...     rel_type_names=("provides",), propagation=("to_target",), ids=["app", "svc"],
    ...     class_code=[0, 1], is_group=[False, False], min_required=[0, 0], src=[0], dst=[1],
    ...     rtype=[0], criticality=[2, 4])
    >>> incident_impact(t, ["app"]).level
    'high'
    """
    failed = list(dict.fromkeys(ci_ids))
    if not failed:
        raise ValidationError("an incident needs at least one CI", field="ci_ids")
    assumed = [c for c in dict.fromkeys(assume_down) if c not in failed]
    br = blast_radius(topo, failed, assume_down=assumed)
    states = {a: br.state(a) for a in (*br.services(), *br.customers())}
    for ci in failed:
        if topo.class_of(topo.index(ci)) in SERVICE_CLASSES + CUSTOMER_CLASSES:
            states[ci] = ImpactState.DOWN
    services, customers, reasons = [], [], []
    for ci, state in sorted(states.items()):
        i = topo.index(ci)
        rank = int(topo.criticality[i])
        is_service = topo.class_of(i) in SERVICE_CLASSES
        points = STATE_FACTOR[state] * (rank if is_service else CUSTOMER_POINTS)
        hit = Hit(ci, state.value, _CRIT_NAME.get(rank, "medium"), points)
        (services if is_service else customers).append(hit)
        if is_service:
            reasons.append(f"{hit.criticality} service {ci} {state.value} (+{points:g})")
    if customers:
        down = sum(1 for h in customers if h.state == ImpactState.DOWN)
        total = sum(h.points for h in customers)
        reasons.append(f"{len(customers)} customers affected, {down} down (+{total:g})")
    points = round(sum(h.points for h in services) + sum(h.points for h in customers), 3)
    level = "high" if points >= HIGH_POINTS else "medium" if points >= MEDIUM_POINTS else "low"
    if not reasons:
        reasons.append("no business service or customer affected")
    reasons.append(f"impact {level}: {points:g} points (high >= {HIGH_POINTS:g}, "
                   f"medium >= {MEDIUM_POINTS:g})")
    return ImpactAssessment(level, points, tuple(services), tuple(customers), tuple(reasons))


@dataclass(frozen=True)
class IncidentAssessment:
    """What :func:`open_incident` recorded and why it got its priority."""

    incident: Incident
    priority: int
    urgency: str
    impact: ImpactAssessment

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.incident.id,
            "title": self.incident.title,
            "ci_ids": list(self.incident.ci_ids),
            "priority": self.priority,
            "impact": self.impact.level,
            "urgency": self.urgency,
            "impact_points": self.impact.points,
            "services": [vars(h) for h in self.impact.services],
            "customers": [vars(h) for h in self.impact.customers],
            "reasons": list(self.impact.reasons),
        }


def next_record_id(store: GraphStore, prefix: str) -> str:
    """The next free record id ``PREFIX-000123``: one above the highest number that any stored
    record id with this prefix (any case, any zero-padding) carries."""
    pattern = re.compile(rf"^{re.escape(prefix)}-?(\d+)$", re.IGNORECASE)
    numbers = [int(m.group(1)) for r in store.find_records(RecordFilter())
               if (m := pattern.match(r.id))]
    return f"{prefix.upper()}-{max(numbers, default=0) + 1:06d}"


def open_incident(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    urgency: str,
    title: str,
    actor: str,
    now: datetime | None = None,
) -> IncidentAssessment:
    """Record a new open incident on ``ci_ids`` with its computed priority, and say why.

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI and
    :class:`~cmdb.errors.ValidationError` for a bad urgency or an empty CI list.
    """
    ci_ids = list(dict.fromkeys(ci_ids))
    try:
        urgency = Urgency(urgency).value
    except ValueError:
        raise ValidationError(f"must be high, medium or low, got {urgency!r}",
                              field="urgency") from None
    if not title.strip():
        raise ValidationError("must not be empty", field="title")
    topo = store.topology()
    open_cis = {ci for rec in store.find_records(
                    RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=True))
                for ci in rec.ci_ids if ci in topo}
    impact = incident_impact(topo, ci_ids, assume_down=sorted(open_cis - set(ci_ids)))
    prio = priority(impact.level, urgency)
    now = now or utcnow()
    incident = Incident(id=next_record_id(store, "INC"), title=title.strip(), ci_ids=ci_ids,
                        urgency=urgency, priority=prio, opened_at=now)
    store.apply(Batch(records=[incident]), actor=actor)
    return IncidentAssessment(store.get_record(incident.id), prio, urgency, impact)


def resolve_incident(
    store: GraphStore, incident_id: str, *, actor: str, now: datetime | None = None
) -> Incident:
    """Mark an open incident resolved; :class:`~cmdb.errors.ConflictError` if it is not open."""
    rec = store.get_record(incident_id)
    if not isinstance(rec, Incident):
        raise ValidationError(f"record '{incident_id}' is a {rec.kind}, not an incident")
    if not rec.is_open:
        raise ConflictError(f"incident '{incident_id}' is already {rec.status.value}")
    done = rec.model_copy(update={"status": IncidentStatus.RESOLVED,
                                  "resolved_at": now or utcnow()})
    store.apply(Batch(records=[done]), actor=actor)
    return store.get_record(incident_id)
