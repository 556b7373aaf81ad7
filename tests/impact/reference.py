"""A deliberately plain reference of the impact semantics (shared/vectors/impact/README.md),
for property tests: networkx graphs, sets and rules iterated to a fixpoint. Slow on purpose."""

from __future__ import annotations

import networkx as nx

from cmdb.enums import Propagation
from cmdb.topology import Topology

RANK = {"ok": 0, "at_risk": 1, "degraded": 2, "down": 3}


def graphs(topo: Topology, types=None) -> tuple[nx.DiGraph, nx.DiGraph]:
    """(needs, membership): ``needs`` has an edge x -> y when a failure of y hits x directly;
    ``membership`` has group -> member edges, for groups only."""
    needs, membership = nx.DiGraph(), nx.DiGraph()
    needs.add_nodes_from(range(topo.n))
    membership.add_nodes_from(range(topo.n))
    for s, d, t in zip(topo.src.tolist(), topo.dst.tolist(), topo.rtype.tolist(), strict=True):
        name, prop = topo.rel_type_names[t], topo.propagation[t]
        if prop is Propagation.MEMBERSHIP:
            if topo.is_group[d]:
                membership.add_edge(d, s)
            continue
        if types is not None and name not in types:
            continue
        if prop is Propagation.TO_SOURCE:
            needs.add_edge(s, d)
        elif prop is Propagation.TO_TARGET:
            needs.add_edge(d, s)
    return needs, membership


def states(topo: Topology, out: set[int], types=None) -> dict[int, str]:
    """The state of every node with ``out`` failed, by the README's rules."""
    needs, membership = graphs(topo, types)
    groups = [g for g in range(topo.n) if topo.is_group[g]]
    k = {g: max(int(topo.min_required[g]), 1) for g in groups}
    down = set(out)
    changed = True
    while changed:
        changed = False
        for x in range(topo.n):
            if x in down:
                continue
            hard = any(y in down for y in needs.successors(x))
            short = False
            if topo.is_group[x]:
                up = sum(1 for m in membership.successors(x) if m not in down)
                short = up < k[x]
            if hard or short:
                down.add(x)
                changed = True
    degraded = {g for g in groups if g not in down
                and any(m in down for m in membership.successors(g))}
    risk: set[int] = set()
    changed = True
    while changed:
        changed = False
        for x in range(topo.n):
            if x in down or x in degraded or x in risk:
                continue
            deps = list(needs.successors(x)) + list(membership.successors(x))
            if any(y in degraded or y in risk for y in deps):
                risk.add(x)
                changed = True
    result = dict.fromkeys(range(topo.n), "ok")
    result.update(dict.fromkeys(risk, "at_risk"))
    result.update(dict.fromkeys(degraded, "degraded"))
    result.update(dict.fromkeys(down, "down"))
    return result


def blast(topo: Topology, failed: set[int], assume: set[int] = frozenset(), types=None):
    """{node: new state} for the nodes made worse by ``failed`` on top of ``assume``."""
    base = states(topo, set(assume), types)
    full = states(topo, set(assume) | set(failed), types)
    return {x: s for x, s in full.items()
            if x not in failed and x not in assume and RANK[s] > RANK[base[x]]}


def depends(topo: Topology, ci: int, types=None) -> dict[int, int]:
    """{node: hops} for everything ``ci`` needs: hard dependencies and group members."""
    needs, membership = graphs(topo, types)
    both = nx.compose(needs, membership)
    dist = nx.single_source_shortest_path_length(both, ci)
    dist.pop(ci)
    return dist


def spofs(topo: Topology, service: int) -> set[int]:
    """Brute force: every other node whose failure alone takes ``service`` down."""
    return {x for x in range(topo.n)
            if x != service and blast(topo, {x}).get(service) == "down"}
