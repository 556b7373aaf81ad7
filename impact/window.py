"""The impact of a failure in a world where other things are already out: full, made worse,
already affected, and the redundancy left.

A change advisory board or an incident manager needs four answers at once, not only the
difference a failure makes:

- the **full impact**: every CI the failure reaches (on its own, or given what is already out),
  with the state the failure gives it (on its own, or together with the outages where they
  combine), the failed CIs themselves counted as down (a change's CIs are out for its window);
- what the failure **makes worse** than the CIs already out (open incidents) leave it;
- which open incident **already affects** the same services and customers;
- the **redundancy left**: the CIs that are single points of failure of an affected service
  while the failure lasts but are not on a healthy estate (the surviving core switch, the last
  RAC node).

Assumptions: ``outages`` maps each open record (an incident) to its CIs; their union is what is
already out. CIs not in service (lifecycle planned or build, ``Topology.in_service``) are never
affected and are named apart. States
come from :func:`impact.blast.blast_radius`; single points from
:func:`impact.spof.single_points_of_failure` with and without the failure, per affected service
that is not down (a down service has no single point left).

>>> from cmdb.topology import Topology
>>> t = Topology.build(version=1, class_names=("business_service", "cluster", "switch"),
...     class_categories=("service", "group", "network"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["svc", "pair", "sw-a", "sw-b"], class_code=[0, 1, 2, 2],
...     is_group=[False, True, False, False], min_required=[0, 1, 0, 0],
...     src=[0, 2, 3], dst=[1, 1, 1], rtype=[0, 1, 1])
>>> fi = failure_impact(t, ["sw-a"])
>>> [(s.id, s.state.value) for s in fi.services], [p.id for p in fi.single_points]
([('svc', 'at_risk')], ['sw-b'])
>>> fi = failure_impact(t, ["sw-a"], outages={"inc-1": ("sw-b",)})
>>> [(s.id, s.state.value) for s in fi.made_worse], fi.counts.down
([('svc', 'down')], 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from pydantic import Field

from cmdb.enums import ImpactState
from cmdb.topology import Topology
from impact.blast import BlastRadius, blast_radius
from impact.propagation import AT_RISK, DEGRADED, DOWN, prepare
from impact.results import Counts, Result, RolledUpCI
from impact.spof import single_points_of_failure

__all__ = ["AlreadyAffected", "FailureImpact", "GroupLeft", "RedundancyLeft", "failure_impact"]


class AlreadyAffected(Result):
    """An open record (incident) whose CIs already affect some of the same services and
    customers, each with its state from that record alone."""

    record: str
    ci_ids: tuple[str, ...]
    services: tuple[RolledUpCI, ...] = Field(alias="service_states")
    customers: tuple[RolledUpCI, ...] = Field(alias="customer_states")


class RedundancyLeft(Result):
    """A CI that is a single point of failure of ``services`` while the failure lasts, and is
    not one on a healthy estate: the last of its kind."""

    id: str
    ci_class: str = Field(alias="class")
    services: tuple[str, ...]


class GroupLeft(Result):
    """A redundancy group of the full impact with a member out: ``up`` of its ``members`` are
    left while the failure lasts, and it ``needs`` that many (k); ``spare`` = up - needs, below
    0 when the group is down."""

    id: str
    state: ImpactState
    up: int
    members: int
    needs: int

    @property
    def spare(self) -> int:
        return self.up - self.needs


class FailureImpact(Result):
    """See the module docstring. ``counts`` and ``services`` / ``customers`` are the full
    impact (sorted by id, with their state while the failure lasts); ``made_worse`` the services
    and customers whose state the failure makes worse than ``assumed_down`` leaves them;
    ``planned`` the CIs not in service that the failure reaches. In JSON the states are
    ``service_states`` / ``customer_states`` (``services`` is always a list of ids) and
    ``assumed_down`` is ``assume_down``."""

    failed: tuple[str, ...]
    assumed_down: tuple[str, ...] = Field(alias="assume_down")
    counts: Counts
    services: tuple[RolledUpCI, ...] = Field(alias="service_states")
    customers: tuple[RolledUpCI, ...] = Field(alias="customer_states")
    made_worse: tuple[RolledUpCI, ...]
    already_affected: tuple[AlreadyAffected, ...]
    single_points: tuple[RedundancyLeft, ...]
    groups: tuple[GroupLeft, ...]
    planned: tuple[str, ...]

    def state(self, ci_id: str) -> ImpactState:
        """The state of a service or customer of the full impact (``ok`` if not in it)."""
        for r in (*self.services, *self.customers):
            if r.id == ci_id:
                return r.state
        return ImpactState.OK


# The redundancy left is searched for at most this many affected services (the most critical
# first): each costs two single-point searches over its dependency closure, and a hub change in
# a large estate can reach thousands of services.
REDUNDANCY_SERVICES = 25

_STATE = {DOWN: ImpactState.DOWN, DEGRADED: ImpactState.DEGRADED, AT_RISK: ImpactState.AT_RISK}


def _rolled(topo: Topology, states: Mapping[int, int], mask: np.ndarray) -> tuple:
    return tuple(
        RolledUpCI(id=topo.ids[i], ci_class=topo.class_of(i), state=_STATE[c])
        for i, c in sorted(states.items(), key=lambda kv: topo.ids[kv[0]])
        if mask[i]
    )


def _states(br: BlastRadius) -> dict[int, int]:
    return dict(zip(br.nodes.tolist(), br.codes.tolist(), strict=True))


def failure_impact(
    topo: Topology,
    failed: Iterable[str],
    *,
    outages: Mapping[str, Sequence[str]] | None = None,
    redundancy: bool = True,
) -> FailureImpact:
    """The full impact of the failure of ``failed`` while the ``outages`` (record id -> CIs,
    e.g. open incidents) are out, what it makes worse, which outage already affects the same
    services and customers, and (``redundancy``) the redundancy left. CIs of ``outages`` not
    in ``topo`` (retired) are skipped; :class:`~cmdb.errors.NotFoundError` for an unknown
    ``failed`` CI."""
    failed = list(dict.fromkeys(failed))
    fidx = [topo.index(c) for c in failed]
    outages = {rid: tuple(c for c in cis if c in topo) for rid, cis in (outages or {}).items()}
    assumed = sorted({c for cis in outages.values() for c in cis} - set(failed))
    p = prepare(topo)
    alone = blast_radius(topo, failed)
    worse = blast_radius(topo, failed, assume_down=assumed) if assumed else alone
    # a CI's state: the one the failure gives it on its own, or, when the outages make it
    # worse, the state they give it together (never a state the outages cause on their own)
    states = _states(alone)
    if assumed:
        states.update(_states(worse))
    for i in fidx:
        states[i] = DOWN
    kinds = p.kind
    n_down = sum(1 for c in states.values() if c == DOWN)
    n_deg = sum(1 for c in states.values() if c == DEGRADED)
    counts = Counts(
        down=n_down,
        degraded=n_deg,
        at_risk=len(states) - n_down - n_deg,
        total=len(states),
        services=sum(1 for i in states if kinds[i] == 1),
        customers=sum(1 for i in states if kinds[i] == 2),
    )
    services = _rolled(topo, states, p.service_mask)
    customers = _rolled(topo, states, p.customer_mask)
    worse_states = _states(worse)
    made_worse = _rolled(topo, {i: states.get(i, c) for i, c in worse_states.items()}, kinds != 0)
    affected_ids = {r.id for r in (*services, *customers)}
    already = []
    for rid, cis in sorted(outages.items()):
        if not cis:
            continue
        theirs = blast_radius(topo, cis)
        own = _states(theirs)
        for c in cis:
            own[topo.index(c)] = DOWN
        hit = {i: c for i, c in own.items() if topo.ids[i] in affected_ids}
        if hit:
            already.append(
                AlreadyAffected(
                    record=rid,
                    ci_ids=cis,
                    services=_rolled(topo, hit, p.service_mask),
                    customers=_rolled(topo, hit, p.customer_mask),
                )
            )
    down = {i for i, c in states.items() if c == DOWN}
    down.update(topo.index(c) for c in assumed)
    k = topo.k_required()
    groups = []
    for i in sorted(
        (i for i, c in states.items() if c >= DEGRADED and topo.is_group[i]),
        key=lambda i: topo.ids[i],
    ):
        members = p.members.row(i).tolist()
        groups.append(
            GroupLeft(
                id=topo.ids[i],
                state=_STATE[states[i]],
                up=sum(1 for m in members if m not in down),
                members=len(members),
                needs=int(k[i]),
            )
        )
    planned = [topo.ids[i] for i in np.flatnonzero(~topo.in_service)] if p.not_in_service else []
    left = _redundancy_left(topo, services, [*failed, *assumed], planned) if redundancy else ()
    return FailureImpact(
        failed=tuple(failed),
        assumed_down=tuple(assumed),
        counts=counts,
        services=services,
        customers=customers,
        made_worse=made_worse,
        already_affected=tuple(already),
        single_points=left,
        groups=tuple(groups),
        planned=tuple(sorted(set(alone.planned) | set(worse.planned))),
    )


def _redundancy_left(
    topo: Topology, services: Sequence[RolledUpCI], out: list[str], planned: list[str]
) -> tuple[RedundancyLeft, ...]:
    """Per service of the full impact that is not down (at most :data:`REDUNDANCY_SERVICES`,
    the most critical first): the single points of failure with ``out`` down that are not
    single points on a healthy estate (groups left out: the CIs are what an engineer must not
    touch)."""
    found: dict[str, set[str]] = {}
    skip = set(out) | set(planned)
    up = [s for s in services if s.state is not ImpactState.DOWN]
    # the most critical first: two single-point searches per service cost the most here
    up.sort(key=lambda s: (-int(topo.criticality[topo.index(s.id)]), s.id))
    for svc in up[:REDUNDANCY_SERVICES]:
        before = {s.id for s in single_points_of_failure(topo, svc.id)}
        for s in single_points_of_failure(topo, svc.id, assume_down=out):
            if s.id not in before and s.id not in skip and not topo.is_group[topo.index(s.id)]:
                found.setdefault(s.id, set()).add(svc.id)
    return tuple(
        RedundancyLeft(id=ci, ci_class=topo.class_of(topo.index(ci)), services=tuple(sorted(s)))
        for ci, s in sorted(found.items())
    )
