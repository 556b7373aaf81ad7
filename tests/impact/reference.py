"""Test support for the impact engine.

- A deliberately plain reference of the impact semantics (shared/vectors/impact/README.md), for
  property tests: networkx graphs, sets and rules iterated to a fixpoint. Slow on purpose.
- Hypothesis strategies for small random topologies (cycles, nested groups, random k).
- A tiny builder of hand-written topologies, and the adapter that loads the shared vectors.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import networkx as nx
from hypothesis import strategies as st

from cmdb.enums import Propagation
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
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
    degraded = {
        g for g in groups if g not in down and any(m in down for m in membership.successors(g))
    }
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
    return {
        x: s
        for x, s in full.items()
        if x not in failed and x not in assume and RANK[s] > RANK[base[x]]
    }


def depends(topo: Topology, ci: int, types=None) -> dict[int, int]:
    """{node: hops} for everything ``ci`` needs: hard dependencies and group members."""
    needs, membership = graphs(topo, types)
    both = nx.compose(needs, membership)
    dist = nx.single_source_shortest_path_length(both, ci)
    dist.pop(ci)
    return dist


def spofs(topo: Topology, service: int) -> set[int]:
    """Brute force: every other node whose failure alone takes ``service`` down."""
    return {x for x in range(topo.n) if x != service and blast(topo, {x}).get(service) == "down"}


# -- random topologies -------------------------------------------------------------------
CLASSES = ("application", "business_service", "cluster", "customer", "database")
CATEGORIES = ("software", "service", "group", "customer", "data")  # as in cmdb/registry.yaml
TYPES = ("depends_on", "located_in", "member_of", "provides", "uses")
PROPAGATION = ("to_source", "none", "membership", "to_target", "to_source")
GROUP = CLASSES.index("cluster")


@st.composite
def topologies(draw, max_nodes: int = 12) -> Topology:
    n = draw(st.integers(2, max_nodes))
    codes = draw(st.lists(st.integers(0, len(CLASSES) - 1), min_size=n, max_size=n))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges = draw(
        st.lists(
            st.tuples(pairs, st.integers(0, len(TYPES) - 1)),
            max_size=3 * n,
            unique_by=lambda e: (e[0], e[1]),
        )
    )
    # membership edges, mostly into groups (some into non-groups, which must be ignored)
    groups = [i for i, c in enumerate(codes) if c == GROUP]
    if groups:
        extra = draw(
            st.lists(
                st.tuples(st.integers(0, n - 1), st.sampled_from(groups)).filter(
                    lambda p: p[0] != p[1]
                ),
                max_size=2 * n,
            )
        )
        edges += [(p, TYPES.index("member_of")) for p in extra]
    edges = list({(p, t): None for p, t in edges})
    k = [draw(st.integers(0, 4)) if c == GROUP else 0 for c in codes]
    return Topology.build(
        version=1,
        class_names=CLASSES,
        class_categories=CATEGORIES,
        rel_type_names=TYPES,
        propagation=PROPAGATION,
        ids=[f"n{i}" for i in range(n)],
        class_code=codes,
        is_group=[c == GROUP for c in codes],
        min_required=k,
        src=[p[0] for p, _ in edges],
        dst=[p[1] for p, _ in edges],
        rtype=[t for _, t in edges],
    )


@st.composite
def scenarios(draw, max_nodes: int = 12):
    """(topology, failed, assume_down) with failed non-empty and the two sets disjoint-ish."""
    topo = draw(topologies(max_nodes))
    nodes = st.integers(0, topo.n - 1)
    failed = draw(st.sets(nodes, min_size=1, max_size=3))
    assume = draw(st.sets(nodes, max_size=3))
    return topo, failed, assume


# -- random vectors --------------------------------------------------------------------
V_CLASSES = (
    "customer",
    "business_service",
    "application",
    "cluster",
    "database",
    "physical_server",
)
V_CATEGORIES = ("customer", "service", "software", "group", "data", "compute")
V_TYPES = ("consumes", "provides", "depends_on", "member_of", "runs_on")
V_PROPAGATION = ("to_source", "to_target", "to_source", "membership", "to_source")
_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)


@st.composite
def vectors(draw):
    """(topology, failed, assume_down) in the shape of the shared vectors: customers consume
    services, applications provide them and depend on databases, which run on servers or on
    clusters of servers. CI names are random, so the snapshot's node order says nothing about
    the names' order, and several services and customers are usually hit."""
    layer: list[int] = []
    for c in range(len(V_CLASSES)):
        layer += [c] * draw(st.integers(2, 5) if c < 2 else st.integers(1, 4))
    n = len(layer)
    ids = draw(st.lists(_NAMES, min_size=n, max_size=n, unique=True))
    cust, svc, app, clu, db, srv = (
        [i for i, x in enumerate(layer) if x == c] for c in range(len(V_CLASSES))
    )
    edges: set[tuple[int, int, int]] = set()

    def link(sources, targets, rtype, lo=1, hi=2):
        for s in sources:
            for d in draw(
                st.lists(st.sampled_from(targets), min_size=lo, max_size=hi, unique=True)
            ):
                edges.add((s, d, rtype))

    link(cust, svc, 0)
    link(app, svc, 1, 1, 1)
    link(app, db, 2)
    link(srv, clu, 3, 0, 2)
    link(db, srv + clu, 4, 1, 1)
    k = [draw(st.integers(1, 2)) if x == V_CLASSES.index("cluster") else 0 for x in layer]
    rels = sorted(edges)
    topo = Topology.build(
        version=1,
        class_names=V_CLASSES,
        class_categories=V_CATEGORIES,
        rel_type_names=V_TYPES,
        propagation=V_PROPAGATION,
        ids=ids,
        class_code=layer,
        is_group=[x == V_CLASSES.index("cluster") for x in layer],
        min_required=k,
        src=[s for s, _, _ in rels],
        dst=[d for _, d, _ in rels],
        rtype=[t for _, _, t in rels],
    )
    failed = draw(st.sets(st.sampled_from(db + srv + clu), min_size=1, max_size=2))
    assume = draw(st.sets(st.sampled_from(srv), max_size=1)) - failed
    return topo, failed, assume


def rolled_up(topo: Topology, nodes, category: str) -> list[str]:
    """The ids of ``nodes`` whose class is of ``category``, sorted: the documented order of a
    blast radius's ``services`` and ``customers``."""
    return sorted(
        topo.ids[i] for i in nodes if topo.class_categories[int(topo.class_code[i])] == category
    )


# -- hand-written topologies --------------------------------------------------------------
BUILD_CLASSES = ("application", "business_service", "cluster", "database", "switch")
BUILD_CATEGORIES = ("software", "service", "group", "data", "network")
BUILD_TYPES = ("depends_on", "member_of", "provides")
BUILD_PROPAGATION = ("to_source", "membership", "to_target")


def build(
    cis: dict[str, tuple[str, int]],
    rels: list[tuple[str, str, str]],
    availability: dict[str, float] | None = None,
) -> Topology:
    """``cis``: id -> (class, min_required); ``rels``: (source, type, target)."""
    ids = list(cis)
    at = {ci: i for i, ci in enumerate(ids)}
    availability = availability or {}
    return Topology.build(
        version=1,
        class_names=BUILD_CLASSES,
        class_categories=BUILD_CATEGORIES,
        rel_type_names=BUILD_TYPES,
        propagation=BUILD_PROPAGATION,
        ids=ids,
        class_code=[BUILD_CLASSES.index(c) for c, _ in cis.values()],
        is_group=[c == "cluster" for c, _ in cis.values()],
        min_required=[k for _, k in cis.values()],
        src=[at[s] for s, _, _ in rels],
        dst=[at[d] for _, _, d in rels],
        rtype=[BUILD_TYPES.index(t) for _, t, _ in rels],
        availability=[availability.get(ci, math.nan) for ci in ids],
    )


# -- the shared vectors -------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def _vector_dir() -> Path:
    """``CMDB_IMPACT_VECTORS`` if set; else the workspace's ``../shared/vectors/impact`` (the
    source of truth, which may hold vectors newer than ours); else the copy kept in
    ``tests/impact/vectors`` so that a clone on its own still runs them."""
    override = os.environ.get("CMDB_IMPACT_VECTORS")
    if override:
        return Path(override).resolve()
    shared = (REPO.parent / "shared" / "vectors" / "impact").resolve()
    if any(shared.glob("*.json")):
        return shared
    return Path(__file__).resolve().parent / "vectors"


VECTORS = _vector_dir()

CLASS_MAP = {"server": "physical_server"}
REQUIRED = {"database": {"engine": "oracle"}, "middleware": {"product": "mq"}}


def vector_files() -> list[Path]:
    files = sorted(VECTORS.glob("*.json"))
    if not files:
        raise RuntimeError(f"no impact vectors found in {VECTORS}")
    return files


def vector_batch(vector: dict) -> Batch:
    cis = []
    for raw in vector["cis"]:
        cls = CLASS_MAP.get(raw["class"], raw["class"])
        cis.append(
            CI(
                id=raw["id"],
                ci_class=cls,
                name=raw["id"],
                attributes=dict(REQUIRED.get(cls, {})),
                min_required=raw.get("min_required"),
            )
        )
    rels = [
        Relationship(source=r["source"], type=r["type"], target=r["target"])
        for r in vector["relationships"]
    ]
    return Batch(cis=cis, relationships=rels)


def vector_store(tmp_path: Path, vector: dict):
    """A fresh SQLite store under ``tmp_path`` holding ``vector`` (the caller closes it)."""
    store = open_store(Settings(db=tmp_path / f"{vector['name']}.db"), create=True)
    store.apply(vector_batch(vector), actor="test")
    return store


def load_vector(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
