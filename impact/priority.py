"""Incident priority: ITIL impact × urgency, with impact measured on the blast radius.

Assumptions:

- The *impact* of an incident is what the failure of its CIs does to the business: the CIs of
  registry category ``service`` and ``customer`` in its *full* impact
  (:func:`impact.window.failure_impact`: everything the failure reaches, the incident's own CIs
  down), whatever else is open: the order incidents are opened in never hides an impact. The
  CIs of other open incidents only make states worse where they combine with this failure (an
  incident that takes out the last healthy member of a group is rated on the outage it
  completes), and the incidents that already affect the same services are named.
- Each affected service adds ``criticality rank × state factor`` points (rank: low 1, medium 2,
  high 3, critical 4; factor: down 1, degraded 0.5, at risk 0.25); each affected customer adds
  1 when down (a whole site or department cannot work), 0.5 when degraded, 0 at risk. Impact is
  **high** from :data:`HIGH_POINTS` points (one high or critical service down), **medium** from
  :data:`MEDIUM_POINTS` (any service down or degraded, a critical one at risk, a customer
  down), else **low**.
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

from collections.abc import Iterable, Mapping, Sequence

from pydantic import Field

from cmdb.enums import ImpactState, Urgency
from cmdb.errors import ValidationError
from cmdb.topology import Topology
from impact.propagation import prepare
from impact.results import Result
from impact.window import AlreadyAffected, failure_impact

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
# A customer down is a whole site or department that cannot work: alone it reaches medium. A
# customer at risk adds nothing: it is at risk because a service is, which is counted already.
CUSTOMER_FACTOR = {ImpactState.DOWN: 1.0, ImpactState.DEGRADED: 0.5, ImpactState.AT_RISK: 0.0}
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
    services: tuple[Hit, ...] = Field(alias="service_states")
    customers: tuple[Hit, ...] = Field(alias="customer_states")
    reasons: tuple[str, ...]
    already_affected: tuple[AlreadyAffected, ...] = ()
    made_worse: tuple[str, ...] = ()


def incident_impact(
    topo: Topology,
    ci_ids: Iterable[str],
    *,
    assume_down: Iterable[str] = (),
    outages: Mapping[str, Sequence[str]] | None = None,
) -> ImpactAssessment:
    """The impact level (high/medium/low) of the failure of ``ci_ids``: its full impact
    (:func:`impact.window.failure_impact`), whatever else is out. ``outages`` (record id ->
    CIs: the other open incidents) and ``assume_down`` (named ``assumed``) only make states
    worse where they combine with this failure, and are named in ``already_affected``; they
    never hide what this failure affects. CIs not in service (planned) are never affected.

    >>> from cmdb.topology import Topology
    >>> t = Topology.build(version=1, class_names=("application", "business_service"),
    ...     class_categories=("software", "service"),
    ...     rel_type_names=("provides",), propagation=("to_target",), ids=["app", "svc"],
    ...     class_code=[0, 1], is_group=[False, False], min_required=[0, 0], src=[0], dst=[1],
    ...     rtype=[0], criticality=[2, 4])
    >>> incident_impact(t, ["app"]).level
    'high'
    >>> incident_impact(t, ["app"], outages={"inc-1": ["app"]}).level
    'high'
    """
    failed = list(dict.fromkeys(ci_ids))
    if not failed:
        raise ValidationError("an incident needs at least one CI", field="ci_ids")
    outages = dict(outages or {})
    assumed = [c for c in dict.fromkeys(assume_down) if c not in failed]
    if assumed:
        outages["assumed"] = tuple(assumed)
    fi = failure_impact(topo, failed, outages=outages, redundancy=False)
    p = prepare(topo)
    services: list[Hit] = []
    customers: list[Hit] = []
    reasons: list[str] = []
    for r in (*fi.services, *fi.customers):
        i = topo.index(r.id)
        rank = int(topo.criticality[i])
        is_service = bool(p.service_mask[i])
        state = r.state
        points = STATE_FACTOR[state] * rank if is_service else CUSTOMER_FACTOR[state]
        hit = Hit(
            id=r.id, state=state.value, criticality=_CRIT_NAME.get(rank, "medium"), points=points
        )
        (services if is_service else customers).append(hit)
        if is_service:
            reasons.append(f"{hit.criticality} service {r.id} {state.value} (+{points:g})")
    if customers:
        down = [h.id for h in customers if h.state == ImpactState.DOWN]
        total = sum(h.points for h in customers)
        named = f": {', '.join(down[:6])}{' …' if len(down) > 6 else ''}" if down else ""
        reasons.append(f"{len(customers)} customers affected, {len(down)} down{named} (+{total:g})")
    for a in fi.already_affected:
        # the services it shares; customers only when no service (and only those it hurts)
        shared = a.services or tuple(c for c in a.customers if c.state is not ImpactState.AT_RISK)
        if shared:
            named = ", ".join(f"{x.id} ({x.state.value})" for x in shared[:4])
            more = f" and {len(shared) - 4} more" if len(shared) > 4 else ""
            reasons.append(f"{a.record} already affects {named}{more}")
    points = round(sum(h.points for h in services) + sum(h.points for h in customers), 3)
    level = "high" if points >= HIGH_POINTS else "medium" if points >= MEDIUM_POINTS else "low"
    if not services and not customers:
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
        already_affected=fi.already_affected,
        made_worse=tuple(r.id for r in fi.made_worse),
    )
