"""Snapshots brought up to date from history give exactly what a rebuild gives.

Two levels: :func:`cmdb.topology_delta.apply_delta` on random graphs and random changes against
:meth:`Topology.build` of the final state (both node orders: row numbers and ids), and random
batches on both stores (create, relate, retire, change class, status, criticality, k,
availability, last-seen; and writes that leave the graph alone) where, after each batch, the
store's refreshed snapshot, in this process and in a cold one, equals a rebuild and answers a
blast radius the same, with no rebuild on the way. Snapshots are compared order-insensitively:
nodes by id with their fields, edges as id triples, each CSR as a multiset of id pairs.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.errors import CMDBError
from cmdb.filters import CIFilter, RelFilter
from cmdb.model import CI, Batch, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.topology import CSR, Topology, room
from cmdb.topology_delta import Delta, DeltaError, apply_delta, delta_limit
from cmdb.topology_ids import Ids
from impact.blast import blast_radius

CSRS = ("dependents", "dependencies", "groups", "members")


def canon(topo: Topology) -> dict:
    """A snapshot as plain, order-free data."""

    def num(x: float) -> float | None:
        return None if math.isnan(x) else float(x)

    ids = topo.ids
    nodes = {
        ids[i]: (
            topo.class_names[int(topo.class_code[i])],
            bool(topo.is_group[i]),
            int(topo.min_required[i]),
            int(topo.criticality[i]),
            num(topo.last_seen[i]),
            num(topo.availability[i]),
            bool(topo.in_service[i]),
        )
        for i in range(topo.n)
    }
    assert len(nodes) == topo.n
    edges = Counter(
        (ids[s], topo.rel_type_names[t], ids[d])
        for s, d, t in zip(topo.src.tolist(), topo.dst.tolist(), topo.rtype.tolist(), strict=True)
    )
    out: dict = {"nodes": nodes, "edges": edges}
    check_derived(topo)
    for name in CSRS:
        csr = getattr(topo, name)
        check_csr(csr, topo.n)
        rows = np.repeat(np.arange(topo.n), csr.degree())
        cols = csr.packed().indices
        out[name] = Counter(zip((ids[r] for r in rows), (ids[c] for c in cols), strict=True))
    return out


def check_derived(topo: Topology) -> None:
    """What a snapshot carries besides its arrays (known edge counts per type, saved rows
    with neighbours, group slack) is what its arrays give."""
    k = len(topo.rel_type_names)
    if topo._type_counts is not None:
        assert topo._type_counts.tolist() == np.bincount(topo.rtype, minlength=k)[:k].tolist()
    for name, got in topo._derived.items():
        if name == "slack":
            want = topo.members.degree() - topo.k_required()
        else:
            want = np.flatnonzero(getattr(topo, name.removesuffix(".rows")).degree())
        assert got.tolist() == want.tolist(), name


def check_csr(csr: CSR, n: int) -> None:
    """A packed CSR has n + 1 bounds over all of ``indices``; a patched one has rows that lie
    inside ``indices`` and never overlap, and ``nnz`` entries in them."""
    assert csr.starts.shape == csr.ends.shape == (n,)
    counts = csr.ends - csr.starts
    assert (counts >= 0).all() and int(counts.sum()) == csr.nnz
    if csr.bounds is not None:
        assert csr.indptr.size == n + 1 and int(csr.indptr[0]) == 0
        assert int(csr.indptr[-1]) == csr.indices.size == csr.nnz
        return
    full = np.flatnonzero(counts)
    order = np.argsort(csr.starts[full], kind="stable")
    s, e = csr.starts[full][order], csr.ends[full][order]
    assert (s >= 0).all() and (e <= csr.indices.size).all()
    assert (s[1:] >= e[:-1]).all()  # no two rows share an entry


def rebuild(store) -> Topology:
    """The store's snapshot rebuilt from its rows, whatever it holds (not counted as one of
    the store's own rebuilds)."""
    build = type(store)._build_topology
    if hasattr(store, "_conn"):
        return build(store)[1]
    with store._session() as s:
        return s.execute_read(lambda tx: build(store, tx))


def count_rebuilds(store, monkeypatch) -> list[int]:
    calls: list[int] = []
    build = store._build_topology

    def counting(*args, **kwargs):
        calls.append(1)
        return build(*args, **kwargs)

    monkeypatch.setattr(store, "_build_topology", counting)
    return calls


def fresh(store, tmp_path_factory):
    """An empty store of the same backend as ``store`` (a new file; the server wiped)."""
    if hasattr(store, "path"):
        path = tmp_path_factory.mktemp("inc") / "cmdb.db"
        return open_store(Settings(db=path), registry=store.registry, create=True)
    from tests.neo4j_support import wipe

    wipe(store)
    return store


def same_answers(a: Topology, b: Topology, failed: list[str]) -> None:
    ra, rb = blast_radius(a, failed), blast_radius(b, failed)
    assert {x.id: x.state for x in ra.affected()} == {x.id: x.state for x in rb.affected()}
    assert {x.id: len(x.path) for x in ra.affected()} == {x.id: len(x.path) for x in rb.affected()}
    assert (ra.services(), ra.customers(), ra.planned) == (
        rb.services(),
        rb.customers(),
        rb.planned,
    )


# -- apply_delta on its own ------------------------------------------------------------------
CLASSES = ("application", "database", "cluster")
TYPES = ("depends_on", "member_of", "provides", "accesses")
PROPS = ("to_source", "membership", "to_target", "soft")


NODE = st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(1, 4), st.booleans())
"""A CI's state: (class code, last seen, criticality, in service)."""
RTYPE = st.sampled_from((0, 1, 1, 2, 3))


def draw_change(draw, names: list[str], nodes: dict, edges: set) -> tuple:
    """One change to the graph ``nodes`` / ``edges``: (CIs named, the CIs now (a named one
    maybe retired, or new), relationships named and whether active, the relationships now)."""
    changed = draw(st.lists(st.sampled_from(names), unique=True, max_size=6))
    now_nodes = dict(nodes)
    for name in changed:
        now_nodes[name] = draw(st.none() | NODE)
    now_nodes = {k: v for k, v in now_nodes.items() if v is not None}
    triple = st.tuples(st.sampled_from(names), RTYPE, st.sampled_from(names))
    edge_state = {e: draw(st.booleans()) for e in draw(st.lists(triple, max_size=10, unique=True))}
    now_edges = {e for e in edges if e[0] in now_nodes and e[2] in now_nodes}
    for e, active in edge_state.items():
        if active and e[0] in now_nodes and e[2] in now_nodes:
            now_edges.add(e)
        else:
            now_edges.discard(e)
    return changed, now_nodes, edge_state, now_edges


@st.composite
def graph_and_change(draw):
    """A graph (node order: row numbers or ids), one change to it, the CSRs built before."""
    n = draw(st.integers(0, 10))
    by_rown = draw(st.booleans())
    names = [f"c{i:02d}" for i in range(n + 3)]
    if not by_rown:
        names = draw(st.permutations(names))
    base_nodes = {names[i]: draw(NODE) for i in range(n)}
    base_edges = set()
    if base_nodes:
        inside = st.sampled_from(sorted(base_nodes))
        base_edges = set(draw(st.lists(st.tuples(inside, RTYPE, inside), max_size=25)))
    change = draw_change(draw, names, base_nodes, base_edges)
    built = draw(st.lists(st.sampled_from(CSRS), unique=True))
    return by_rown, names, base_nodes, base_edges, change, built


@st.composite
def graph_and_changes(draw):
    """A graph, then 1..4 changes in a row, each maybe on the last one published."""
    by_rown, names, nodes, edges, change, built = draw(graph_and_change())
    steps = [(change, draw(st.booleans()))]
    for _ in range(draw(st.integers(0, 3))):
        _, prev_nodes, _, prev_edges = steps[-1][0]
        steps.append((draw_change(draw, names, prev_nodes, prev_edges), draw(st.booleans())))
    return by_rown, names, nodes, edges, built, steps


def delta_of(change: tuple, names: list[str], by_rown: bool) -> Delta:
    """The delta that takes a snapshot to ``change``'s state: (CIs named, their state now,
    relationships named and whether active, the relationships now)."""
    changed, now_nodes, edge_state, _ = change
    rank = {name: i for i, name in enumerate(names)}

    def key(c):
        return rank[c] if by_rown else c

    return Delta.of(
        keys=[key(c) for c in changed],
        ids=changed,
        live=[c in now_nodes for c in changed],
        class_code=[now_nodes.get(c, (0,))[0] for c in changed],
        is_group=[now_nodes.get(c, (0,))[0] == 2 for c in changed],
        min_required=[(now_nodes.get(c, (0, 0, 2, False))[3] and 1) or 0 for c in changed],
        criticality=[now_nodes.get(c, (0, 0, 2))[2] for c in changed],
        last_seen=[
            float(now_nodes[c][1]) if c in now_nodes and now_nodes[c][1] else np.nan
            for c in changed
        ],
        in_service=[now_nodes.get(c, (0, 0, 2, True))[3] for c in changed],
        edges=[(key(s), t, key(d), a) for (s, t, d), a in edge_state.items()],
    )


def _digest(topo: Topology) -> str | None:
    """A hash of every file of the directory ``topo`` was loaded from (None: built)."""
    if topo._files is None:
        return None
    h = hashlib.sha256()
    for f in sorted(topo._files.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def _mapping(a: np.ndarray) -> str | None:
    """The mode of the file mapping ``a`` lives in (None: memory of its own)."""
    b: object = a
    while isinstance(b, np.ndarray):
        if isinstance(b, np.memmap):
            return b.mode
        b = b.base
    return None


def make(nodes: dict, edges: set, names: list[str], by_rown: bool) -> Topology:
    rank = {name: i for i, name in enumerate(names)}
    ids = sorted(nodes, key=rank.__getitem__) if by_rown else sorted(nodes)
    pos = {c: i for i, c in enumerate(ids)}
    edges_l = sorted(edges)
    return Topology.build(
        version=1,
        class_names=CLASSES,
        rel_type_names=TYPES,
        propagation=PROPS,
        ids=ids,
        class_code=[nodes[c][0] for c in ids],
        is_group=[nodes[c][0] == 2 for c in ids],
        min_required=[(nodes[c][3] and 1) or 0 for c in ids],
        criticality=[nodes[c][2] for c in ids],
        last_seen=[float(nodes[c][1]) if nodes[c][1] else np.nan for c in ids],
        in_service=[nodes[c][3] for c in ids],
        src=[pos[e[0]] for e in edges_l],
        dst=[pos[e[2]] for e in edges_l],
        rtype=[e[1] for e in edges_l],
        rown=[rank[c] for c in ids] if by_rown else None,
    )


class TestApplyDelta:
    @settings(max_examples=200, deadline=None)
    @given(graph_and_change())
    def test_equals_a_rebuild(self, case):
        by_rown, names, base_nodes, base_edges, change, built = case
        _, now_nodes, _, now_edges = change
        base = make(base_nodes, base_edges, names, by_rown)
        for name in built:
            getattr(base, name)
        before = canon(base)
        delta = delta_of(change, names, by_rown)
        new = apply_delta(base, delta, version=2, seq=5, mark="m")
        assert canon(new) == canon(make(now_nodes, now_edges, names, by_rown))
        assert new.ids == make(now_nodes, now_edges, names, by_rown).ids  # a rebuild's order
        assert canon(base) == before  # the base is left as it was
        assert (new.version, new.seq, new.mark) == (2, 5, "m")

    @settings(max_examples=150, deadline=None)
    @given(graph_and_changes())
    def test_deltas_on_deltas_and_on_published_snapshots(self, case):
        """A chain of deltas, each on the last result or on it published and loaded again
        (copy-on-write maps of its files, room at their ends): every step equals a rebuild,
        and neither the snapshot it started from nor its files change."""
        by_rown, names, nodes, edges, built, steps = case
        topo = make(nodes, edges, names, by_rown)
        for name in built:
            getattr(topo, name)
        with tempfile.TemporaryDirectory() as tmp:
            for j, (change, publish) in enumerate(steps):
                if publish:
                    topo.save(Path(tmp) / f"s{j}")
                    topo = Topology.load(Path(tmp) / f"s{j}")
                    assert topo is not None
                before, files = canon(topo), _digest(topo)
                new = apply_delta(topo, delta_of(change, names, by_rown), version=j + 2)
                want = make(change[1], change[3], names, by_rown)
                assert canon(new) == canon(want) and new.ids == want.ids
                assert canon(topo) == before and _digest(topo) == files
                same_answers(new, want, [c for c in change[0] if c in change[1]][:2])
                topo = new

    def test_a_loaded_snapshot_is_patched_copy_on_write(self, tmp_path):
        names = [f"c{i}" for i in range(6)]
        nodes = {c: (0, 1, 2, True) for c in names[:5]} | {"c2": (2, 1, 2, True)}
        edges = {("c0", 0, "c1"), ("c3", 1, "c2"), ("c4", 1, "c2"), ("c1", 0, "c4")}
        base = make(nodes, edges, names, True)
        base.save(tmp_path / "s")
        loaded = Topology.load(tmp_path / "s")
        assert loaded is not None and loaded._files == tmp_path / "s"
        files = _digest(loaded)
        # a new CI that depends on c1, c0's criticality, and c1 -> c4 gone
        now_nodes = nodes | {"c5": (0, 0, 2, True), "c0": (0, 1, 4, True)}
        now_edges = (edges - {("c1", 0, "c4")}) | {("c5", 0, "c1")}
        change = (["c5", "c0"], now_nodes, {("c5", 0, "c1"): True, ("c1", 0, "c4"): False}, None)
        new = apply_delta(loaded, delta_of(change, names, True), version=2)
        assert canon(new) == canon(make(now_nodes, now_edges, names, True))
        assert _digest(loaded) == files  # the published files are left as they were
        for a in (new.criticality, new.src, new.rown, new.dependents.indices):
            assert _mapping(a) == "c", a  # the base's file, private pages only where written
        assert new.dependents.bounds is None  # c1's row grew: moved to the end
        assert new.dependents.row(1).tolist() == [0, 5]
        # on a snapshot patched in memory: its arrays are copied (never written), and the
        # columns the delta leaves as they are shared
        again = apply_delta(new, delta_of(change, names, True), version=3)
        assert canon(again) == canon(new) and _mapping(again.src) is None
        assert again.class_code is new.class_code and again.criticality is new.criticality
        # share_files=False: the loaded base patched as one in memory, its files left alone
        copied = apply_delta(loaded, delta_of(change, names, True), version=2, share_files=False)
        assert canon(copied) == canon(new) and _digest(loaded) == files
        for a in (copied.criticality, copied.src, copied.rown, copied.dependents.indices):
            assert _mapping(a) is None, a
        assert loaded._files == tmp_path / "s" and copied._files is None

    @pytest.mark.parametrize("by_rown", [True, False])
    def test_renumbering_makes_no_string_per_ci(self, by_rown, monkeypatch):
        """A CI retired and one inserted among the others: the ids are cut and joined as
        blob slices (reading a few by position, to place the new one, is all)."""
        names = [f"c{i:03d}" for i in range(300)]
        nodes = {c: (0, 0, 2, True) for c in names if c != "c150"}
        edges = {("c010", 0, "c020"), ("c200", 0, "c010")}
        base = make(nodes, edges, names, by_rown)
        now_nodes = {c: v for c, v in nodes.items() if c != "c010"} | {"c150": (1, 0, 3, True)}
        change = (["c010", "c150"], now_nodes, {("c150", 0, "c020"): True}, None)
        delta = delta_of(change, names, by_rown)

        def whole(*args, **kwargs):
            raise AssertionError("a string made per CI")

        with monkeypatch.context() as m:
            for name in ("take", "__iter__", "tolist"):  # what makes many strings at once
                m.setattr(Ids, name, whole)
            new = apply_delta(base, delta, version=2)
        want = make(now_nodes, {("c150", 0, "c020")}, names, by_rown)  # c010's edges went
        assert new.ids == want.ids and canon(new) == canon(want)

    def test_a_patched_csr_with_much_unused_room_is_packed_again(self, monkeypatch):
        names = ["a", "b", "c"]
        nodes = {c: (0, 0, 2, True) for c in names}
        edges = {("b", 0, "a")}
        base = make(nodes, edges, names, True)
        base.dependents  # noqa: B018
        change = ([], nodes, {("c", 0, "a"): True}, None)
        want = make(nodes, edges | {("c", 0, "a")}, names, True)
        patched = apply_delta(base, delta_of(change, names, True), version=2)
        assert patched.dependents.bounds is None  # a's row moved: one unused entry
        assert canon(patched) == canon(want)
        monkeypatch.setattr("cmdb.topology_delta._SLACK_MIN", 0)
        packed = apply_delta(base, delta_of(change, names, True), version=2)
        assert packed.dependents.bounds is not None and packed.dependents.indices.size == 2
        assert canon(packed) == canon(want)

    def test_arrays_are_saved_with_room_and_loaded_as_used(self, tmp_path):
        names = ["a", "b"]
        base = make({c: (0, 0, 2, True) for c in names}, {("a", 0, "b")}, names, True)
        base.save(tmp_path / "s")
        on_disk = np.load(tmp_path / "s" / "dependents.indices.npy", mmap_mode="r")
        assert on_disk.shape == (room(1),) and room(1) > 1
        loaded = Topology.load(tmp_path / "s")
        assert loaded is not None and loaded.dependents.indices.tolist() == [0]
        assert loaded.src.shape == (1,) and loaded.class_code.shape == (2,)
        manifest = tmp_path / "s" / "manifest.json"
        man = json.loads(manifest.read_text())
        man["arrays"]["src"]["capacity"] = room(1) + 1  # not what the file holds
        manifest.write_text(json.dumps(man))
        assert Topology.load(tmp_path / "s") is None

    def test_a_file_gone_under_the_patch_is_copied_instead(self, tmp_path):
        names = ["a", "b"]
        nodes, edges = {"a": (0, 0, 2, True)}, {("a", 0, "a")}
        base = make(nodes, edges, names, True)
        base.dependents  # noqa: B018
        base.save(tmp_path / "s")
        loaded = Topology.load(tmp_path / "s")
        assert loaded is not None
        loaded.dependents.indices.tolist()  # mapped before the files go
        shutil.rmtree(tmp_path / "s")  # a newer snapshot was published meanwhile
        now_nodes, now_edges = nodes | {"b": (0, 0, 2, True)}, edges | {("b", 0, "a")}
        change = (["b"], now_nodes, {("b", 0, "a"): True}, None)
        new = apply_delta(loaded, delta_of(change, names, True), version=2)
        assert canon(new) == canon(make(now_nodes, now_edges, names, True))
        assert _mapping(new.dependents.indices) is None

    def test_a_removed_edge_that_is_not_there_is_refused(self):
        base = make({"a": (0, 0, 2, True), "b": (0, 0, 2, True)}, set(), ["a", "b"], False)
        base.dependents  # noqa: B018
        # an edge the delta says is gone, while the base's arrays and CSR disagree
        base.src, base.dst, base.rtype = (np.array([0], np.int32),) * 2 + (np.array([0], np.int16),)
        with pytest.raises(DeltaError, match="not in the snapshot"):
            apply_delta(
                base, Delta.of(keys=[], ids=[], live=[], edges=[("a", 0, "a", False)]), version=2
            )

    def test_unknown_fields_are_refused(self):
        with pytest.raises(TypeError, match="unknown node fields"):
            Delta.of(keys=[], ids=[], live=[], colour=[])


# -- both stores ------------------------------------------------------------------------------
LIVE_CLASSES = ("application", "physical_server", "cluster", "business_service", "desktop")
SWAPPABLE = ("application", "physical_server", "cluster")


def new_ci(ci_id: str, cls: str, draw) -> CI:
    kw: dict = {
        "criticality": draw(st.sampled_from(("low", "medium", "high", "critical"))),
        "status": draw(st.sampled_from(("live", "live", "maintenance", "planned", "build"))),
    }
    if cls == "cluster":
        kw["min_required"] = draw(st.integers(1, 3))
    if cls == "application" and draw(st.booleans()):
        kw["attributes"] = {"availability": draw(st.sampled_from((0.99, 0.995, 0.9)))}
    return CI(id=ci_id, ci_class=cls, name=ci_id.upper(), **kw)


def draw_batch(draw, store, tag: str, step: int) -> Batch:
    """One random batch of the kinds of write a store sees."""
    live = {c.id: c for c in store.find_cis(CIFilter())}
    rels = store.find_relationships(RelFilter())
    ops = draw(st.lists(st.integers(0, 9), min_size=1, max_size=4))
    batch = Batch()
    used: set[str] = set()
    for j, op in enumerate(ops):
        free = sorted(set(live) - used)
        if op <= 1 or len(live) < 2:  # a new CI, maybe related to an existing one
            cls = draw(st.sampled_from(LIVE_CLASSES))
            c = new_ci(f"{tag}-{step}-{j}", cls, draw)
            batch.cis.append(c)
            if live:
                other = live[draw(st.sampled_from(sorted(live)))]
                batch.relationships.append(
                    Relationship(source=c.id, type="depends_on", target=other.id)
                )
        elif op == 2:  # a relationship between two CIs
            s, t = draw(
                st.lists(st.sampled_from(sorted(live)), min_size=2, max_size=2, unique=True)
            )
            cs, ct = live[s].ci_class, live[t].ci_class
            if ct == "cluster":
                rtype = "member_of"
            elif cs == "application" and ct == "business_service":
                rtype = "provides"
            elif cs == "desktop" and ct == "application":
                rtype = "accesses"
            else:
                rtype = "depends_on"
            batch.relationships.append(Relationship(source=s, type=rtype, target=t))
        elif op == 3 and free:
            ci_id = draw(st.sampled_from(free))
            used.add(ci_id)
            batch.retire_cis.append(ci_id)
        elif op == 4 and rels:
            r = draw(st.sampled_from(rels))
            if r.source not in used and r.target not in used:
                batch.retire_relationships.append((r.source, r.type, r.target))
        elif op in (5, 6) and free:  # class, status, criticality, k, availability
            ci_id = draw(st.sampled_from(free))
            used.add(ci_id)
            old = live[ci_id]
            update: dict = {}
            if old.ci_class in SWAPPABLE and draw(st.booleans()):
                cls = draw(st.sampled_from(SWAPPABLE))
                update["ci_class"] = cls
                update["min_required"] = draw(st.integers(1, 3)) if cls == "cluster" else None
                update["attributes"] = {}
            else:
                fresh = new_ci(ci_id, old.ci_class, draw)
                update = {
                    "criticality": fresh.criticality,
                    "status": fresh.status,
                    "min_required": fresh.min_required,
                    "attributes": fresh.attributes,
                }
            batch.cis.append(old.model_copy(update=update))
        elif op == 7 and free:  # seen by discovery: last-seen moves, nothing else
            ci_id = draw(st.sampled_from(free))
            used.add(ci_id)
            old = live[ci_id]
            at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 10**5)))
            batch.cis.append(old.model_copy(update={"last_seen": {"scan": at}}))
        elif op == 8 and free:  # a write that leaves the graph alone
            ci_id = draw(st.sampled_from(free))
            used.add(ci_id)
            batch.cis.append(live[ci_id].model_copy(update={"name": f"renamed {step}"}))
        else:
            batch.records.append(Incident(title=f"incident {step}", ci_ids=sorted(live)[:1]))
    return batch


class TestIncrementalOnStores:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_equals_a_rebuild_after_every_batch(self, store, tmp_path_factory, monkeypatch, data):
        store = fresh(store, tmp_path_factory)
        tag = "x"
        store.topology()
        calls = count_rebuilds(store, monkeypatch)
        for step in range(data.draw(st.integers(1, 4))):
            batch = draw_batch(data.draw, store, tag, step)
            try:
                store.apply(batch, actor="test")
            except CMDBError:
                continue  # a batch the registry refuses (a pair of classes it does not allow)
            topo = store.topology()
            want = rebuild(store)
            assert canon(topo) == canon(want)
            assert topo.version == want.version and topo.seq >= 1
            picks = (
                data.draw(st.lists(st.sampled_from(want.ids), max_size=3, unique=True))
                if want.n
                else []
            )
            if picks:
                same_answers(topo, want, picks)
            if hasattr(store, "path"):  # a cold process: from the snapshot on disk
                with open_store(Settings(db=store.path), registry=store.registry) as cold:
                    cold_calls = count_rebuilds(cold, monkeypatch)
                    assert canon(cold.topology()) == canon(want)
                    assert cold_calls == []
        assert calls == []  # every step took the delta
        monkeypatch.undo()
        if hasattr(store, "path"):
            store.close()

    def test_the_delta_path_is_taken(self, store, monkeypatch):
        store.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
        first = store.topology()
        calls = count_rebuilds(store, monkeypatch)
        store.apply(
            Batch(
                cis=[CI(id="b", ci_class="application", name="B")],
                relationships=[Relationship(source="b", type="depends_on", target="a")],
            ),
            actor="t",
        )
        topo = store.topology()
        assert calls == [] and topo is not first and topo.seq > first.seq
        assert topo.dependents.row(topo.index("a")).tolist() == [topo.index("b")]
        assert first.ids == ["a"]  # the old snapshot is unchanged

    def test_a_large_delta_rebuilds(self, store, monkeypatch):
        store.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
        first = store.topology()
        calls = count_rebuilds(store, monkeypatch)
        many = delta_limit(first) + 1
        store.apply(
            Batch(cis=[CI(id=f"n{i}", ci_class="application", name="N") for i in range(many)]),
            actor="t",
        )
        topo = store.topology()
        assert calls == [1] and topo.n == many + 1


class TestSQLiteFiles:
    def test_a_diverged_copy_rebuilds(self, tmp_path, registry, monkeypatch):
        path = tmp_path / "cmdb.db"
        with open_store(Settings(db=path), registry=registry, create=True) as s:
            s.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
            s.topology()  # published next to the file
        copy = tmp_path / "copy.db"
        copy.write_bytes(path.read_bytes())
        # the original moves on, and publishes its own snapshot under the same store id
        with open_store(Settings(db=path), registry=registry) as s:
            s.apply(Batch(cis=[CI(id="b", ci_class="application", name="B")]), actor="t")
            s._publish(*s._build_topology())  # a full snapshot of the new state
        # the copy takes another write, and finds the original's snapshots in its cache dir
        (tmp_path / "copy.db.snapshots").mkdir(exist_ok=True)
        for d in (tmp_path / "cmdb.db.snapshots").iterdir():
            d.rename(tmp_path / "copy.db.snapshots" / d.name)
        with open_store(Settings(db=copy), registry=registry) as c:
            c.apply(Batch(cis=[CI(id="c", ci_class="application", name="C")]), actor="t")
            calls = count_rebuilds(c, monkeypatch)
            assert sorted(c.topology().ids) == ["a", "c"]
            assert calls == [1]

    def test_a_cold_process_takes_the_delta_and_publishes_a_large_one(
        self, tmp_path, registry, monkeypatch
    ):
        path = tmp_path / "cmdb.db"
        with open_store(Settings(db=path), registry=registry, create=True) as s:
            s.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
            s.topology()
            s.apply(Batch(cis=[CI(id="b", ci_class="application", name="B")]), actor="t")
        snapshots = tmp_path / "cmdb.db.snapshots"
        published = set(snapshots.iterdir())
        with open_store(Settings(db=path), registry=registry) as cold:
            calls = count_rebuilds(cold, monkeypatch)
            assert cold.topology().ids == ["a", "b"] and calls == []
        assert set(snapshots.iterdir()) == published  # a small delta publishes nothing
        monkeypatch.setattr("cmdb.topology_delta.COMPACT_SHARE", 0.0)
        with open_store(Settings(db=path), registry=registry) as cold:
            assert cold.topology().ids == ["a", "b"]
        now = set(snapshots.iterdir())  # compacted: the next start from it, the base is gone
        assert len(now) == 1 and now != published
        with open_store(Settings(db=path), registry=registry) as cold:
            calls = count_rebuilds(cold, monkeypatch)
            assert cold.topology().seq == rebuild(cold).seq
            assert calls == []


def _writer(path: str, rounds: int) -> None:
    from cmdb.registry import load_registry

    with open_store(Settings(db=Path(path)), registry=load_registry()) as s:
        for i in range(rounds):
            s.apply(
                Batch(
                    cis=[CI(id=f"w{i}", ci_class="application", name="W")],
                    relationships=[Relationship(source=f"w{i}", type="depends_on", target="a")],
                ),
                actor="writer",
            )


class TestTwoProcesses:
    def test_a_reader_follows_a_writer_by_deltas(self, tmp_path, registry, monkeypatch):
        path = tmp_path / "cmdb.db"
        with open_store(Settings(db=path), registry=registry, create=True) as s:
            s.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
            s.topology()
        with open_store(Settings(db=path), registry=registry) as reader:
            calls = count_rebuilds(reader, monkeypatch)
            proc = multiprocessing.get_context("spawn").Process(
                target=_writer, args=(str(path), 30)
            )
            proc.start()
            while proc.is_alive():
                topo = reader.topology()
                writers = [c for c in topo.ids if c.startswith("w")]
                assert len(topo.dependents.row(topo.index("a"))) == len(writers)
            proc.join()
            assert proc.exitcode == 0
            assert canon(reader.topology()) == canon(rebuild(reader))
            assert calls == []
