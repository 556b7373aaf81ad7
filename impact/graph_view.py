"""The impact graph: a blast radius or a depends-on answer as nodes and edges to draw.

Assumptions:

- The node set and states are exactly those of :func:`impact.report.blast_radius_report`
  (``mode="blast"``: the failed CIs, state ``failed``, and every listed CI with its state) or of
  :func:`impact.report.depends_on_report` (``mode="depends"``: the queried CIs, state ``root``,
  and their dependencies, state None; with several CIs, the union). In blast mode an
  assumed-down CI (given, or of an open incident) is drawn too, state ``assumed_down``, when an
  impact edge joins it to a failed or listed CI: it explains why a group is short.
- ``path`` runs from a root (a failed or queried CI) to the node, by the answer's own
  explanation (blast radius) or shortest path (depends-on); ``[]`` for a root.
- Edges are the snapshot's relationships among the drawn nodes that carry impact in this
  answer, oriented the way impact flows: a failure of ``from`` affects ``to`` (``to_source``
  and ``soft`` types are reversed, ``to_target`` kept, membership runs member -> group and is
  flagged ``membership``). Types outside ``types`` and types of propagation ``none`` are left
  out; membership always counts, as in the engine.
- A member's ``parent`` is the redundancy group (a class with ``group: true``) it is drawn
  inside: of its groups among the drawn nodes, the one with the smallest id; a parent link that
  would close a cycle (nested groups that contain each other) is dropped at its smallest id. A
  group's ``group`` is k (``min_required``, at least 1), n (its members in the snapshot) and
  ``out``: its members failed, assumed down or down in this answer (0 in depends mode).
- ``layer`` is the registry layer of the CI's category (:meth:`cmdb.registry.Registry.layer_of`).
- ``max_nodes`` keeps the roots, services and customers (and in blast mode the assumed-down CIs
  drawn) whatever it says, then the nearest CIs (shortest path first; in blast mode the worst
  state first among equals); ``omitted`` counts the rest. Counts describe the whole answer.
- Only reads: the snapshot, the open incidents (``assume_open_incidents``) and the drawn CIs'
  names and criticality.

>>> import os, tempfile
>>> from cmdb.model import CI, Batch, Relationship
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "g.db")), create=True)
>>> _ = store.apply(Batch(cis=[
...     CI(id="svc", ci_class="business_service", name="Payments"),
...     CI(id="app", ci_class="application", name="Payments app"),
...     CI(id="pool", ci_class="cluster", name="Web pool", min_required=1),
...     CI(id="web-1", ci_class="application_instance", name="Web 1"),
...     CI(id="web-2", ci_class="application_instance", name="Web 2")],
...     relationships=[Relationship(source="app", type="provides", target="svc"),
...                    Relationship(source="app", type="runs_on", target="pool"),
...                    Relationship(source="web-1", type="member_of", target="pool"),
...                    Relationship(source="web-2", type="member_of", target="pool")]),
...     actor="doc")
>>> g = impact_graph(store, ["web-1"])
>>> [(n.id, n.state, n.parent) for n in g.nodes]
[('web-1', 'failed', 'pool'), ('svc', 'at_risk', None), ('pool', 'degraded', None), ('app', 'at_risk', None)]
>>> g.nodes[2].group
GroupInfo(k=1, n=2, out=1)
>>> [(e.source, e.to, e.membership) for e in g.edges]
[('app', 'svc', False), ('pool', 'app', False), ('web-1', 'pool', True)]
>>> impact_graph(store, ["svc"], mode="depends", max_nodes=2).omitted
3
>>> store.close()
"""  # noqa: E501

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from cmdb.enums import Propagation
from cmdb.errors import ValidationError
from cmdb.filters import CIFilter
from cmdb.store import GraphStore
from cmdb.topology import Topology
from impact.blast import BlastRadius, blast_radius
from impact.depends import Dependencies, depends_on
from impact.propagation import (
    AT_RISK,
    CUSTOMER,
    DEGRADED,
    DOWN,
    OK,
    SERVICE,
    check_types,
    indices,
)
from impact.report import SECONDS_PER_DAY, open_incident_cis
from impact.results import BlastCounts, Result

__all__ = [
    "MAX_NODES",
    "DependsCounts",
    "GraphEdge",
    "GraphLayer",
    "GraphNode",
    "GroupInfo",
    "ImpactGraph",
    "impact_graph",
]

MAX_NODES = 20000  # default cap on drawn nodes: a browser lays out about this many in seconds

NodeState = Literal["failed", "assumed_down", "down", "degraded", "at_risk", "root"]
_CRITICALITY = {1: "low", 2: "medium", 3: "high", 4: "critical"}  # Criticality.rank
# node state codes: the engine's (OK: a dependency, state None), then the roots' own
_FAILED, _ASSUMED, _ROOT = DOWN + 1, DOWN + 2, DOWN + 3
_STATE_NAMES: dict[int, NodeState | None] = {
    OK: None,
    AT_RISK: "at_risk",
    DEGRADED: "degraded",
    DOWN: "down",
    _FAILED: "failed",
    _ASSUMED: "assumed_down",
    _ROOT: "root",
}


class GroupInfo(Result):
    """A redundancy group's k-of-n, and how many members are out in this answer."""

    k: int
    n: int
    out: int


class GraphNode(Result):
    """A CI drawn in an impact graph (see the module's assumptions)."""

    id: str
    name: str
    ci_class: str = Field(alias="class")
    category: str
    layer: int
    state: NodeState | None
    path: tuple[str, ...] = ()
    parent: str | None = None
    group: GroupInfo | None = None
    rollup: Literal["service", "customer"] | None = None
    criticality: str
    stale: bool = False


class GraphEdge(Result):
    """A relationship that carries impact: a failure of ``from`` affects ``to``."""

    source: str = Field(alias="from")
    to: str
    type: str
    membership: bool = False


class GraphLayer(Result):
    """A registry category drawn in the graph, with its layer (0 at the top) and label."""

    layer: int
    category: str
    label: str


class DependsCounts(Result):
    """How many CIs the queried CIs need in all."""

    total: int


class ImpactGraph(Result):
    """:func:`impact_graph`'s answer: nodes (roots first, then nearest first), edges (sorted),
    the layers drawn, the counts of the whole answer and how many nodes ``max_nodes`` left
    out."""

    mode: Literal["blast", "depends"]
    roots: tuple[str, ...]
    assume_down: tuple[str, ...] = ()
    store_version: int
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    layers: tuple[GraphLayer, ...]
    counts: BlastCounts | DependsCounts
    omitted: int = 0


@dataclass(frozen=True)
class _Found:
    """What one mode found: node numbers in the order they are kept (the first ``always``
    whatever ``max_nodes`` says), their states, paths on demand, the nodes out of service."""

    roots: tuple[str, ...]
    assume_down: tuple[str, ...]
    order: np.ndarray
    always: int
    state: np.ndarray  # int8 state code per snapshot node (see _STATE_NAMES)
    path: Callable[[int], tuple[str, ...]]
    out: np.ndarray  # bool per snapshot node: failed, assumed down or down
    counts: BlastCounts | DependsCounts


def _by_hops(nodes: np.ndarray, hops: np.ndarray) -> np.ndarray:
    return nodes[np.argsort(hops, kind="stable")]


def _split_rollup(
    kind: np.ndarray, nodes: np.ndarray, hops: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(services and customers, the rest) of ``nodes``, each nearest first (``kind``: 1
    service, 2 customer, 0 other, per snapshot node)."""
    ranked = _by_hops(nodes, hops)
    top = kind[ranked] != 0
    return ranked[top], ranked[~top]


def _blast(store: GraphStore, topo: Topology, cis: list[str], **options) -> _Found:
    assumed = set(options["assume_down"])
    if options["assume_open_incidents"]:
        assumed |= set(open_incident_cis(store)) - set(cis)
    now = time.time()
    br = blast_radius(
        topo,
        cis,
        assume_down=sorted(assumed),
        depth=options["depth"],
        types=options["types"],
        stale_after=options["stale_days"] * SECONDS_PER_DAY,
        now=now,
    )
    failed, assume = indices(topo, br.failed), indices(topo, br.assume_down)
    _, hops = br._parents()  # the explanation tree: path length per listed CI
    answer = np.zeros(topo.n, dtype=bool)
    answer[failed] = True
    answer[br.nodes] = True
    shown = [a for a in assume.tolist() if not answer[a] and _touches(br, a, answer)]
    out = np.zeros(topo.n, dtype=bool)
    out[failed] = out[assume] = True
    out[br.nodes[br.codes == DOWN]] = True
    if assume.size:
        alone = blast_radius(topo, br.assume_down, types=options["types"])
        out[alone.nodes[alone.codes == DOWN]] = True
    top, rest = _split_rollup(br.prepared.kind, br.nodes, hops[br.nodes])
    order = np.concatenate([failed, top, np.asarray(shown, np.int32), rest]).astype(np.int32)
    state = np.zeros(topo.n, dtype=np.int8)
    state[br.nodes] = br.codes
    state[failed] = _FAILED
    state[shown] = _ASSUMED
    return _Found(
        br.failed,
        br.assume_down,
        order,
        failed.size + top.size + len(shown),
        state,
        lambda i: _blast_path(br, i, state),
        out,
        BlastCounts(**br.counts(), stale=br.stale_count()),
    )


def _touches(br: BlastRadius, i: int, answer: np.ndarray) -> bool:
    """Whether an impact edge (hard, soft or membership) runs from ``i`` into ``answer``."""
    p = br.prepared
    rows = [p.dependents.row(i), p.groups.row(i)]
    if p.soft is not None:
        rows.append(p.soft.row(i))
    return any(bool(answer[row].any()) for row in rows)


def _blast_path(br: BlastRadius, i: int, state: np.ndarray) -> tuple[str, ...]:
    """:meth:`BlastRadius.path` of a listed CI, reversed, read straight from the explanation
    tree (the method looks the CI up first: twice the cost on a large graph)."""
    if state[i] in (_FAILED, _ASSUMED):
        return ()
    parent, _ = br._parents()
    out = [i]
    while parent[i] - 1 != i:
        i = int(parent[i]) - 1
        out.append(i)
    ids = br.topology.ids
    return tuple(ids[j] for j in reversed(out))


def _depends(topo: Topology, cis: list[str], **options) -> _Found:
    roots = indices(topo, cis)
    best: dict[int, tuple[int, Dependencies]] = {}
    for ci in dict.fromkeys(cis):
        deps = depends_on(topo, ci, depth=options["depth"], types=options["types"])
        hop = {topo.index(ci): 0}
        for node, parent in zip(deps.nodes.tolist(), deps.parents.tolist(), strict=True):
            hop[node] = hop[parent] + 1
            if node not in best or hop[node] < best[node][0]:
                best[node] = (hop[node], deps)
    is_root = set(roots.tolist())
    nodes = np.asarray([i for i in best if i not in is_root], dtype=np.int32)
    hops = np.asarray([best[i][0] for i in nodes.tolist()], dtype=np.int32)
    kind = topo.category_mask(SERVICE).astype(np.int8) + 2 * topo.category_mask(CUSTOMER)
    top, rest = _split_rollup(kind, nodes, hops)
    state = np.zeros(topo.n, dtype=np.int8)
    state[roots] = _ROOT

    def path(i: int) -> tuple[str, ...]:
        return () if i in is_root else best[i][1].path(topo.ids[i])

    return _Found(
        tuple(topo.ids[i] for i in roots.tolist()),
        (),
        np.concatenate([roots, top, rest]).astype(np.int32),
        roots.size + top.size,
        state,
        path,
        np.zeros(topo.n, dtype=bool),
        DependsCounts(total=int(nodes.size)),
    )


def _parents(topo: Topology, keep: np.ndarray, kept: np.ndarray) -> dict[int, int]:
    """Member -> the group it is drawn inside (smallest id among its drawn groups), cycles
    broken at their smallest id."""
    parent: dict[int, int] = {}
    for i in keep.tolist():
        groups = [g for g in topo.groups.row(i).tolist() if kept[g] and g != i]
        if groups:
            parent[i] = min(groups, key=lambda g: topo.ids[g])
    for start in sorted(parent, key=lambda i: topo.ids[i]):
        seen, i = [start], parent.get(start)
        while i is not None and i not in seen:
            seen.append(i)
            i = parent.get(i)
        if i is not None:  # back at a node of the chain: a cycle
            cycle = seen[seen.index(i) :]
            del parent[min(cycle, key=lambda j: topo.ids[j])]
    return parent


def _edges(topo: Topology, kept: np.ndarray, types: frozenset[str] | None) -> list[GraphEdge]:
    count = len(topo.rel_type_names)
    flip, carries, member = (np.zeros(count, dtype=bool) for _ in range(3))
    for code, (name, prop) in enumerate(zip(topo.rel_type_names, topo.propagation, strict=True)):
        member[code] = prop is Propagation.MEMBERSHIP
        hard = prop in (Propagation.TO_SOURCE, Propagation.TO_TARGET, Propagation.SOFT)
        carries[code] = member[code] or (hard and (types is None or name in types))
        flip[code] = prop in (Propagation.TO_SOURCE, Propagation.SOFT)
    sel = kept[topo.src] & kept[topo.dst] & carries[topo.rtype]
    sel &= ~member[topo.rtype] | topo.is_group[topo.dst]
    src, dst, rtype = topo.src[sel], topo.dst[sel], topo.rtype[sel]
    reverse = flip[rtype]
    frm, to = np.where(reverse, dst, src), np.where(reverse, src, dst)
    ids, names = topo.ids, topo.rel_type_names
    edges = [
        GraphEdge(source=ids[f], to=ids[t], type=names[r], membership=bool(member[r]))
        for f, t, r in zip(frm.tolist(), to.tolist(), rtype.tolist(), strict=True)
    ]
    return sorted(edges, key=lambda e: (e.source, e.to, e.type))


def _nodes(
    store: GraphStore, topo: Topology, found: _Found, keep: np.ndarray, stale_after: float
) -> list[GraphNode]:
    kept = np.zeros(topo.n, dtype=bool)
    kept[keep] = True
    reg, now = store.registry, time.time()
    docs = {c.id: c for c in store.find_cis(CIFilter(ids=tuple(topo.ids[i] for i in keep)))}
    parent = _parents(topo, keep, kept)
    k_required, members = topo.k_required(), topo.members
    nodes = []
    for i in keep.tolist():
        ci_id, category = topo.ids[i], topo.class_categories[int(topo.class_code[i])]
        doc, seen = docs.get(ci_id), float(topo.last_seen[i])
        group = None
        if topo.is_group[i]:
            row = members.row(i)
            group = GroupInfo(k=int(k_required[i]), n=int(row.size), out=int(found.out[row].sum()))
        criticality = _CRITICALITY.get(int(topo.criticality[i]), "medium")
        nodes.append(
            GraphNode(
                id=ci_id,
                name=doc.name if doc is not None else ci_id,
                ci_class=topo.class_of(i),
                category=category,
                layer=reg.layer_of(category),
                state=_STATE_NAMES[int(found.state[i])],
                path=found.path(i),
                parent=topo.ids[parent[i]] if i in parent else None,
                group=group,
                rollup=category if category in ("service", "customer") else None,
                criticality=doc.criticality.value if doc is not None else criticality,
                stale=bool(not np.isnan(seen) and now - seen > stale_after),
            )
        )
    return nodes


def _layers(store: GraphStore, nodes: Iterable[GraphNode]) -> tuple[GraphLayer, ...]:
    reg = store.registry
    drawn = {(n.layer, n.category) for n in nodes}
    return tuple(
        GraphLayer(
            layer=layer,
            category=cat,
            label=(reg.categories[cat].label or cat) if cat in reg.categories else cat,
        )
        for layer, cat in sorted(drawn)
    )


def impact_graph(
    store: GraphStore,
    ci_ids: Iterable[str],
    *,
    mode: str = "blast",
    assume_down: Iterable[str] = (),
    assume_open_incidents: bool = False,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    max_nodes: int = MAX_NODES,
    stale_days: float = 30.0,
) -> ImpactGraph:
    """The impact graph of ``ci_ids``: their blast radius (``mode="blast"``, with
    ``assume_down``, ``assume_open_incidents``, ``depth`` and ``types`` as in
    :func:`impact.report.blast_radius_report`) or what they need (``mode="depends"``, with
    ``depth`` and ``types`` as in :func:`impact.report.depends_on_report`), at most
    ``max_nodes`` nodes besides the ones always kept (see the module's assumptions).

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI,
    :class:`~cmdb.errors.UnknownRelTypeError` for an unknown type and
    :class:`~cmdb.errors.ValidationError` for a bad ``mode``, ``depth`` or ``max_nodes``.
    """
    if mode not in ("blast", "depends"):
        raise ValidationError(f"must be blast or depends, got {mode!r}", field="mode")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValidationError(f"must be a whole number >= 1, got {max_nodes!r}", field="max_nodes")
    cis = list(dict.fromkeys([ci_ids] if isinstance(ci_ids, str) else ci_ids))
    if not cis:
        raise ValidationError("name at least one CI", field="ci")
    topo = store.topology()
    names = check_types(topo, types)
    options = dict(depth=depth, types=names)
    if mode == "blast":
        found = _blast(
            store,
            topo,
            cis,
            assume_down=list(assume_down),
            assume_open_incidents=assume_open_incidents,
            stale_days=stale_days,
            **options,
        )
    else:
        found = _depends(topo, cis, **options)
    keep = found.order[: max(max_nodes, found.always)]
    kept = np.zeros(topo.n, dtype=bool)
    kept[keep] = True
    nodes = _nodes(store, topo, found, keep, stale_days * SECONDS_PER_DAY)
    return ImpactGraph(
        mode=mode,
        roots=found.roots,
        assume_down=found.assume_down,
        store_version=topo.version,
        nodes=tuple(nodes),
        edges=tuple(_edges(topo, kept, names)),
        layers=_layers(store, nodes),
        counts=found.counts,
        omitted=int(found.order.size - keep.size),
    )
