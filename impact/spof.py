"""Single points of failure: the CIs whose failure alone takes a service down.

Assumptions: "down" is the blast-radius state of :func:`impact.blast.blast_radius` with nothing
assumed down, so redundancy counts (one node of a 1-of-2 cluster is not a single point of
failure) and so do shared dependencies under redundancy (a switch under both cluster nodes is).
A CI that is down whatever happens (a group with fewer members than k) takes nothing down by
itself, so a service that is already down has no single points of failure.

Only the service's dependency closure (:func:`impact.depends.depends_on`) can matter, so the
search runs on that subgraph alone. Candidates are tried nearest first; since a failure that
takes down a known single point of failure takes the service down too, each trial stops as soon
as it reaches the service or one already found.

>>> from cmdb.topology import CSR, Topology
>>> t = Topology.build(
...     version=1, class_names=("business_service", "cluster", "database", "switch"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["svc", "db-cluster", "db-1", "db-2", "sw"], class_code=[0, 1, 2, 2, 3],
...     is_group=[False, True, False, False, False], min_required=[0, 1, 0, 0, 0],
...     src=[0, 2, 3, 2, 3], dst=[1, 1, 1, 4, 4], rtype=[0, 1, 1, 0, 0])
>>> [s.id for s in single_points_of_failure(t, "svc")]
['db-cluster', 'sw']
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from cmdb.topology import CSR, Topology
from impact.depends import depends_on
from impact.propagation import prepare

__all__ = ["SinglePoint", "single_points_of_failure"]


@dataclass(frozen=True)
class SinglePoint:
    """A CI whose failure alone takes the service down; ``path`` runs from the service to it."""

    id: str
    ci_class: str
    path: tuple[str, ...]


class _Rows(dict[int, list[int]]):
    """The rows of a CSR as Python lists, each made on first use and kept with the snapshot:
    services share most of their closures, and cutting a service's subgraph from lists is
    much faster than from array rows. Only rows some closure needed are held."""

    def __init__(self, csr: CSR) -> None:
        super().__init__()
        self.csr = csr

    def __missing__(self, x: int) -> list[int]:
        row = self[x] = self.csr.row(x).tolist()
        return row


@dataclass(frozen=True, eq=False)
class _Lists:
    """Row ``x`` of ``dependents``: who a failure of ``x`` hits directly; of ``groups``: the
    groups ``x`` counts in; of ``members``: the members of group ``x``."""

    dependents: _Rows
    groups: _Rows
    members: _Rows


_LISTS: weakref.WeakKeyDictionary[Topology, _Lists] = weakref.WeakKeyDictionary()


def _lists(topo: Topology) -> _Lists:
    found = _LISTS.get(topo)
    if found is None:
        p = prepare(topo)
        found = _LISTS[topo] = _Lists(_Rows(p.dependents), _Rows(p.groups), _Rows(p.members))
    return found


def _down_closure(seeds, dependents, groups, slack, state, stop) -> bool:
    """Spread "down" from ``seeds`` over ``state`` (a set, updated in place) with per-group
    counters; True as soon as a node in ``stop`` goes down. The answer does not depend on the
    order in which nodes are visited: everything reachable is visited unless a stop is."""
    counts: dict[int, int] = {}
    queue = deque(x for x in seeds if x not in state)
    state.update(queue)
    while queue:
        x = queue.popleft()
        if x in stop:
            return True
        for y in dependents[x]:
            if y not in state:
                state.add(y)
                queue.append(y)
        for g in groups[x]:
            counts[g] = counts.get(g, 0) + 1
            if g not in state and counts[g] > slack[g]:
                state.add(g)
                queue.append(g)
    return False


def single_points_of_failure(
    topo: Topology, service: str, *, assume_down: Iterable[str] = ()
) -> tuple[SinglePoint, ...]:
    """The CIs whose failure alone takes ``service`` down, nearest first; with ``assume_down``
    (CIs already out: open incidents, a change's own CIs during its window) counted as down,
    so what redundancy is left then is what counts (the CIs themselves are never listed).

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI.
    """
    deps = depends_on(topo, service)
    root = topo.index(service)
    closure = [root, *deps.nodes.tolist()]
    inside = set(closure)
    p, rows = prepare(topo), _lists(topo)
    # the closure subgraph (nothing outside it can take the service down): who a failure
    # reaches directly (a set made in C: a hub's row has thousands, a few of them inside),
    # and the groups each node counts in (a list: a member counts once per membership)
    dependents = {x: inside.intersection(rows.dependents[x]) for x in closure}
    groups = {x: [g for g in rows.groups[x] if g in inside] for x in closure}
    slack = {x: int(p.slack[x]) for x in closure if topo.is_group[x]}
    base: set[int] = set()
    out = [i for i in (topo.index(c) for c in assume_down) if i in inside]
    seeds = [g for g, s in slack.items() if s < 0] + out
    _down_closure(seeds, dependents, groups, slack, base, set())
    if root in base:
        return ()
    # base counts are folded in by starting every trial from the base state
    shifted = dict(slack)
    if base:
        for g in shifted:
            shifted[g] -= sum(1 for m in rows.members[g] if m in base)
    stop = {root}  # the service, and every single point found so far
    order = []
    for c in closure[1:]:
        if c in base:
            continue
        # most trials end at the first step: a direct dependent is the service or a single
        # point already found (stop nodes are never in the base), or nothing to spread to
        if not stop.isdisjoint(dependents[c]) or (
            (dependents[c] or groups[c])
            and _down_closure([c], dependents, groups, shifted, set(base), stop)
        ):
            stop.add(c)
            order.append(c)
    return tuple(SinglePoint(topo.ids[i], topo.class_of(i), deps.path(topo.ids[i])) for i in order)
