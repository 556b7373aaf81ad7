"""Hypothesis strategies: small random topologies with cycles, nested groups and random k."""

from __future__ import annotations

from hypothesis import strategies as st

from cmdb.topology import Topology

CLASSES = ("application", "business_service", "cluster", "customer", "database")
TYPES = ("depends_on", "located_in", "member_of", "provides", "uses")
PROPAGATION = ("to_source", "none", "membership", "to_source", "to_target")
GROUP = CLASSES.index("cluster")


@st.composite
def topologies(draw, max_nodes: int = 12) -> Topology:
    n = draw(st.integers(2, max_nodes))
    codes = draw(st.lists(st.integers(0, len(CLASSES) - 1), min_size=n, max_size=n))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges = draw(st.lists(st.tuples(pairs, st.integers(0, len(TYPES) - 1)),
                          max_size=3 * n, unique_by=lambda e: (e[0], e[1])))
    # membership edges, mostly into groups (some into non-groups, which must be ignored)
    groups = [i for i, c in enumerate(codes) if c == GROUP]
    if groups:
        extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(groups))
                              .filter(lambda p: p[0] != p[1]), max_size=2 * n))
        edges += [(p, TYPES.index("member_of")) for p in extra]
    edges = list({(p, t): None for p, t in edges})
    k = [draw(st.integers(0, 4)) if c == GROUP else 0 for c in codes]
    return Topology.build(
        version=1, class_names=CLASSES, rel_type_names=TYPES, propagation=PROPAGATION,
        ids=[f"n{i}" for i in range(n)], class_code=codes, is_group=[c == GROUP for c in codes],
        min_required=k, src=[p[0] for p, _ in edges], dst=[p[1] for p, _ in edges],
        rtype=[t for _, t in edges])


@st.composite
def scenarios(draw, max_nodes: int = 12):
    """(topology, failed, assume_down) with failed non-empty and the two sets disjoint-ish."""
    topo = draw(topologies(max_nodes))
    nodes = st.integers(0, topo.n - 1)
    failed = draw(st.sets(nodes, min_size=1, max_size=3))
    assume = draw(st.sets(nodes, max_size=3))
    return topo, failed, assume
