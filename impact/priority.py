"""Incident priority: ITIL impact × urgency, with impact measured on the blast radius.

Assumptions:

- The *impact* of an incident is what the failure of its CIs does to the business: the CIs of
  registry category ``service`` and ``customer`` in their blast radius
  (:func:`impact.blast.blast_radius`), plus the incident's own CIs of those categories (down).
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

Opening an incident writes, so it is a workflow: :func:`cmdb.workflows.incidents.open_incident`.

>>> priority("high", "medium"), priority("low", "low")
(2, 5)
"""

from __future__ import annotations

from collections.abc import Iterable

from cmdb.enums import ImpactState, Urgency
from cmdb.errors import ValidationError
from cmdb.topology import Topology
from impact.blast import blast_radius
from impact.propagation import prepare
from impact.results import Result

__all__ = [
    "MATRIX",
    "Hit",
    "ImpactAssessment",
    "incident_impact",
    "priority",
]

IMPACT_LEVELS = ("high", "medium", "low")
MATRIX: dict[tuple[str, str], int] = {
    (impact, urgency): i + u + 1
    for i, impact in enumerate(IMPACT_LEVELS)
    for u, urgency in enumerate(("high", "medium", "low"))
}
HIGH_POINTS = 3.0  # a high (3) or critical (4) service down reaches it alone
MEDIUM_POINTS = 1.0  # any service down reaches it alone, as does a critical one at risk (4/4)
STATE_FACTOR = {ImpactState.DOWN: 1.0, ImpactState.DEGRADED: 0.5, ImpactState.AT_RISK: 0.25}
CUSTOMER_POINTS = 0.5  # a customer weighs half a low service: many add up, one is no outage
_CRIT_NAME = {1: "low", 2: "medium", 3: "high", 4: "critical"}


def priority(impact: str, urgency: str) -> int:
    """The ITIL priority (1..5) of ``impact`` × ``urgency`` (each high, medium or low)."""
    try:
        return MATRIX[(str(impact), str(Urgency(urgency)))]
    except (KeyError, ValueError):
        raise ValidationError(
            f"impact and urgency must be high, medium or low, got {impact!r}, {urgency!r}"
        ) from None


class Hit(Result):
    """An affected service or customer: its id, state, criticality and the points it adds."""

    id: str
    state: str
    criticality: str
    points: float


class ImpactAssessment(Result):
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
    ...     class_categories=("software", "service"),
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
    p = prepare(topo)
    states = {a: br.state(a) for a in (*br.services(), *br.customers())}
    for ci in failed:
        if p.kind[topo.index(ci)]:
            states[ci] = ImpactState.DOWN
    services: list[Hit] = []
    customers: list[Hit] = []
    reasons: list[str] = []
    for ci, state in sorted(states.items()):
        i = topo.index(ci)
        rank = int(topo.criticality[i])
        is_service = bool(p.service_mask[i])
        points = STATE_FACTOR[state] * (rank if is_service else CUSTOMER_POINTS)
        hit = Hit(
            id=ci, state=state.value, criticality=_CRIT_NAME.get(rank, "medium"), points=points
        )
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
        reasons.append("no service or customer affected")
    reasons.append(
        f"impact {level}: {points:g} points (high >= {HIGH_POINTS:g}, medium >= {MEDIUM_POINTS:g})"
    )
    return ImpactAssessment(
        level=level,
        points=points,
        services=tuple(services),
        customers=tuple(customers),
        reasons=tuple(reasons),
    )
