"""Designed availability: the availability a service's design allows, from its components'.

Assumptions:

- A component's own availability is its ``availability`` in the snapshot when set, else its
  class default from ``class_availability`` (the registry's per-class ``availability``), else 1.0
  (customers, services and groups carry no failure of their own unless given one).
- Components fail independently. A CI is up when it is up itself, every hard dependency is up
  (series: the product) and, for a redundancy group, at least k of its n members are up (k-of-n
  over members of different availabilities: an exact Poisson-binomial sum).
- Shared components are handled by conditioning on the service's single points of failure
  (:func:`impact.spof.single_points_of_failure`, the service itself included): each is counted
  exactly once, in series, and the rest of the graph is evaluated given that they are up. That
  rest (what sits under redundancy) is expanded as a tree with memoisation: a component shared
  by two redundant branches is counted once on each, as if independent. This is the classic
  reliability-block approximation; it over-states availability when redundant branches share
  an unreliable component (exact shared-cause analysis is exponential). It is exact when the
  graph under redundancy is a tree.
- Cycles are broken deterministically: walking depth-first from the service in snapshot order,
  an edge back to a CI still being evaluated counts as always up. ``cycles_broken`` says how
  many such edges there were.

>>> from cmdb.topology import Topology
>>> t = Topology.build(
...     version=1, class_names=("business_service", "cluster", "database"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["svc", "db-cluster", "db-1", "db-2"], class_code=[0, 1, 2, 2],
...     is_group=[False, True, False, False], min_required=[0, 1, 0, 0],
...     src=[0, 2, 3], dst=[1, 1, 1], rtype=[0, 1, 1])
>>> round(designed_availability(t, "svc", class_availability={"database": 0.99}).availability, 6)
0.9999
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cmdb.topology import Topology
from impact.propagation import prepare
from impact.spof import single_points_of_failure

__all__ = ["Availability", "Part", "designed_availability", "k_of_n"]

MINUTES_PER_YEAR = 365.25 * 24 * 60
# Up to this many components below 1.0, each one's cost is measured exactly (one more
# evaluation each); past it only the single points in series are costed (their share is exact).
MAX_COSTED = 200


@dataclass(frozen=True)
class Part:
    """A component below 1.0: its own availability, where that comes from (``ci``: the CI's
    own ``availability``; ``class``: its class default), whether it is counted once in series
    (a single point of failure), and ``cost_minutes``: the expected downtime per year of the
    service that it costs (how much shorter it would be were this component perfect)."""

    id: str
    ci_class: str
    availability: float
    source: str
    in_series: bool
    cost_minutes: float


@dataclass(frozen=True)
class Availability:
    """The designed availability of ``service`` (0..1) and how it was reached."""

    service: str
    availability: float
    components: int  # distinct CIs in the expansion, the service included
    single_points: int  # components counted once, in series (the service included)
    cycles_broken: int
    weakest: tuple[tuple[str, float], ...]  # up to five components with the lowest own value
    parts: tuple[Part, ...] = ()  # components below 1.0, costliest first

    @property
    def annual_downtime_minutes(self) -> float:
        return (1.0 - self.availability) * MINUTES_PER_YEAR

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "availability": self.availability,
            "annual_downtime_minutes": round(self.annual_downtime_minutes, 3),
            "components": self.components,
            "single_points": self.single_points,
            "cycles_broken": self.cycles_broken,
            "weakest": [{"id": ci, "availability": a} for ci, a in self.weakest],
            "parts": [
                {
                    "id": x.id,
                    "class": x.ci_class,
                    "availability": x.availability,
                    "source": x.source,
                    "in_series": x.in_series,
                    "cost_minutes": round(x.cost_minutes, 3),
                }
                for x in self.parts
            ],
        }


def k_of_n(probabilities: list[float], k: int) -> float:
    """P(at least ``k`` of independent events with these probabilities happen).

    >>> round(k_of_n([0.9, 0.9], 1), 6), round(k_of_n([0.9, 0.8, 0.5], 3), 6)
    (0.99, 0.36)
    """
    if k <= 0:
        return 1.0
    dist = [1.0]  # dist[j] = P(exactly j up) among the members seen so far
    for q in probabilities:
        nxt = [0.0] * (len(dist) + 1)
        for j, pj in enumerate(dist):
            nxt[j] += pj * (1.0 - q)
            nxt[j + 1] += pj * q
        dist = nxt
    return math.fsum(dist[k:])


def designed_availability(
    topo: Topology, service: str, *, class_availability: Mapping[str, float] | None = None
) -> Availability:
    """The availability that the design of ``service`` allows (see the module's assumptions).

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI.
    """
    defaults = class_availability or {}
    p = prepare(topo)
    k_req = topo.k_required()
    root = topo.index(service)

    def own(i: int) -> float:
        a = float(topo.availability[i])
        return defaults.get(topo.class_of(i), 1.0) if math.isnan(a) else a

    series_once = {root} | {topo.index(s.id) for s in single_points_of_failure(topo, service)}

    def evaluate(perfect: int | None = None) -> tuple[float, dict[int, float], int]:
        """(availability, memo, cycles broken), with component ``perfect`` taken as 1.0."""

        def mine(i: int) -> float:
            return 1.0 if i == perfect else own(i)

        memo: dict[int, float] = {}
        on_stack: set[int] = set()
        broken = 0
        # frame: node, children [(child, is_member)], next child index, values gathered so far
        stack: list[tuple[int, list[tuple[int, bool]], list[int], list[float], list[float]]] = []

        def push(i: int) -> None:
            kids = [(d, False) for d in p.dependencies.row(i).tolist()]
            if topo.is_group[i]:
                kids += [(m, True) for m in p.members.row(i).tolist()]
            on_stack.add(i)
            stack.append((i, kids, [0], [], []))

        push(root)
        while stack:
            i, kids, at, series, members = stack[-1]
            if at[0] < len(kids):
                child, is_member = kids[at[0]]
                if child in memo:
                    (members if is_member else series).append(memo[child])
                    at[0] += 1
                elif child in on_stack:
                    broken += 1
                    (members if is_member else series).append(1.0)
                    at[0] += 1
                else:
                    push(child)
                continue
            value = (1.0 if i in series_once else mine(i)) * math.prod(series)
            if topo.is_group[i]:
                value *= k_of_n(members, int(k_req[i]))
            memo[i] = value
            on_stack.discard(i)
            stack.pop()
            if stack:
                parent_kids, parent_at = stack[-1][1], stack[-1][2]
                is_member = parent_kids[parent_at[0]][1]
                (stack[-1][4] if is_member else stack[-1][3]).append(value)
                parent_at[0] += 1
        once = math.prod(mine(i) for i in sorted(series_once))
        return once * memo[root], memo, broken

    total, memo, broken = evaluate()
    weakest = sorted(((topo.ids[i], own(i)) for i in memo), key=lambda t: (t[1], t[0]))[:5]
    below = [i for i in memo if own(i) < 1.0]
    exact = len(below) <= MAX_COSTED
    parts = []
    for i in below:
        if exact:
            gain = evaluate(i)[0] - total
        else:  # a series component's share is exact; others are not costed
            gain = total / own(i) - total if i in series_once else 0.0
        source = "class" if math.isnan(float(topo.availability[i])) else "ci"
        parts.append(
            Part(
                topo.ids[i],
                topo.class_of(i),
                own(i),
                source,
                i in series_once,
                gain * MINUTES_PER_YEAR,
            )
        )
    parts.sort(key=lambda x: (-x.cost_minutes, x.id))
    return Availability(
        service,
        total,
        len(memo),
        len(series_once),
        broken,
        tuple(w for w in weakest if w[1] < 1.0),
        tuple(parts),
    )
