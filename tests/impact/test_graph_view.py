"""impact_graph: the same nodes and states as the blast-radius and depends-on reports (on the
demo and on random estates), truncation, edges, compound groups and layers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.demo import build_demo
from cmdb.enums import Propagation
from cmdb.errors import NotFoundError, UnknownRelTypeError, ValidationError
from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship, utcnow
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.topology import Topology
from impact.graph_view import ImpactGraph, _parents, impact_graph
from impact.report import blast_radius_report, depends_on_report
from tests.impact.reference import REQUIRED, build, vectors

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DEMO_FAILURES = [
    ["sw-dc-acc-05"],
    ["dbi-core-rac-1"],
    ["pm-core-db-01", "dbi-core-rac-2"],
    ["app-core-banking"],
    ["svc-core-banking"],
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = open_store(Settings(db=tmp_path_factory.mktemp("graph") / "demo.db"), create=True)
    store.apply(build_demo(now=utcnow()), actor="demo")
    yield store
    store.close()


def blast_states(graph: ImpactGraph) -> dict[str, str | None]:
    return {n.id: n.state for n in graph.nodes if n.state not in ("failed", "assumed_down")}


def check_against_blast(store, cis, **options) -> ImpactGraph:
    """The graph (untruncated) lists exactly the report's failed and affected CIs, with their
    states and paths (reversed: from the failed CI)."""
    graph = impact_graph(store, cis, **options)
    report = blast_radius_report(store, cis, **options)
    assert graph.omitted == 0
    assert graph.roots == report.failed and graph.assume_down == report.assume_down
    assert {n.id for n in graph.nodes if n.state == "failed"} == set(report.failed)
    assert blast_states(graph) == {a.id: a.state.value for a in report.affected}
    paths = {n.id: n.path for n in graph.nodes}
    for a in report.affected:
        assert paths[a.id] == tuple(reversed(a.path))
    assert graph.counts == report.counts
    assert graph.store_version == report.store_version
    return graph


def check_against_depends(store, ci, **options) -> ImpactGraph:
    graph = impact_graph(store, [ci], mode="depends", **options)
    report = depends_on_report(store, ci, **options)
    assert graph.roots == (ci,) and graph.nodes[0].id == ci and graph.nodes[0].state == "root"
    deps = {n.id: n.path for n in graph.nodes[1:]}
    assert deps == {d.id: d.path for d in report.dependencies}
    assert all(n.state is None for n in graph.nodes[1:])
    assert graph.counts.total == report.total
    return graph


def check_edges(store, graph: ImpactGraph, types=None) -> None:
    """Edges join drawn nodes, run the way impact flows and are every impact-carrying
    relationship among the drawn nodes."""
    drawn = {n.id for n in graph.nodes}
    reg = store.registry
    expected = set()
    for rel in store.find_relationships(RelFilter()):
        prop = reg.rel_type(rel.type).propagation
        if rel.source not in drawn or rel.target not in drawn or prop is Propagation.NONE:
            continue
        if prop is Propagation.MEMBERSHIP:
            if reg.is_group(store.get_ci(rel.target).ci_class):
                expected.add((rel.source, rel.target, rel.type, True))
        elif types is None or rel.type in types:
            flip = prop in (Propagation.TO_SOURCE, Propagation.SOFT)
            ends = (rel.target, rel.source) if flip else (rel.source, rel.target)
            expected.add((*ends, rel.type, False))
    got = [(e.source, e.to, e.type, e.membership) for e in graph.edges]
    assert got == sorted(got) and len(got) == len(set(got))
    assert set(got) == expected


class TestSameAsReports:
    @pytest.mark.parametrize("cis", DEMO_FAILURES, ids=lambda c: ",".join(c))
    def test_demo_blast(self, demo, cis):
        graph = check_against_blast(demo, cis)
        check_edges(demo, graph)

    @pytest.mark.parametrize(
        "options",
        [
            {"assume_down": ["dbi-core-rac-2"]},
            {"assume_open_incidents": True},
            {"depth": 2},
            {"types": ["runs_on", "uses", "provides"]},
        ],
    )
    def test_demo_blast_options(self, demo, options):
        graph = check_against_blast(demo, ["dbi-core-rac-1"], **options)
        check_edges(demo, graph, options.get("types"))

    @pytest.mark.parametrize("ci", ["svc-core-banking", "app-core-banking", "cust-br01"])
    def test_demo_depends(self, demo, ci):
        graph = check_against_depends(demo, ci)
        check_edges(demo, graph)
        assert check_against_depends(demo, ci, depth=2).counts.total <= graph.counts.total

    @SETTINGS
    @given(vectors(), st.data())
    def test_random_estates(self, case, data):
        topo, failed, assume = case
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(Settings(db=Path(tmp) / "r.db"), create=True)
            try:
                store.apply(estate_of(topo), actor="test")
                ids = topo.ids
                check_against_blast(
                    store, [ids[i] for i in failed], assume_down=[ids[i] for i in assume]
                )
                root = data.draw(st.sampled_from(ids))
                check_against_depends(store, root)
            finally:
                store.close()


def estate_of(topo: Topology) -> Batch:
    """A random vector topology (built-in class and type names) as a batch."""
    cis = [
        CI(
            id=ci,
            ci_class=topo.class_of(i),
            name=ci,
            attributes=dict(REQUIRED.get(topo.class_of(i), {})),
            min_required=int(topo.min_required[i]) if topo.is_group[i] else None,
        )
        for i, ci in enumerate(topo.ids)
    ]
    rels = [
        Relationship(source=topo.ids[s], type=topo.rel_type_names[t], target=topo.ids[d])
        for s, d, t in zip(topo.src.tolist(), topo.dst.tolist(), topo.rtype.tolist(), strict=True)
    ]
    return Batch(cis=cis, relationships=rels)


class TestTruncation:
    @pytest.mark.parametrize("max_nodes", [1, 10, 40])
    def test_keeps_roots_services_customers_then_nearest(self, demo, max_nodes):
        full = impact_graph(demo, ["sw-dc-acc-05"])
        cut = impact_graph(demo, ["sw-dc-acc-05"], max_nodes=max_nodes)
        always = {n.id for n in full.nodes if n.state == "failed" or n.rollup is not None}
        kept = {n.id for n in cut.nodes}
        assert always <= kept
        assert len(kept) == max(max_nodes, len(always))
        assert cut.omitted == len(full.nodes) - len(kept) > 0
        assert cut.counts == full.counts
        rest = [n for n in full.nodes if n.id not in always]
        longest_kept = max((len(n.path) for n in rest if n.id in kept), default=0)
        shortest_left = min(len(n.path) for n in rest if n.id not in kept)
        assert longest_kept <= shortest_left
        assert all(e.source in kept and e.to in kept for e in cut.edges)
        assert all(n.parent is None or n.parent in kept for n in cut.nodes)

    def test_depends(self, demo):
        full = impact_graph(demo, ["svc-core-banking"], mode="depends")
        cut = impact_graph(demo, ["svc-core-banking"], mode="depends", max_nodes=3)
        assert [n.id for n in cut.nodes] == [n.id for n in full.nodes[:3]]
        assert cut.omitted == len(full.nodes) - 3


class TestGroups:
    def test_rac_member_fails(self, demo):
        graph = impact_graph(demo, ["dbi-core-rac-1"])
        nodes = {n.id: n for n in graph.nodes}
        assert nodes["dbi-core-rac-1"].parent == "cl-core-rac"
        rac = nodes["cl-core-rac"]
        assert rac.state == "degraded" and rac.parent is None
        assert rac.group is not None and rac.group.model_dump() == {"k": 1, "n": 2, "out": 1}
        assert "dbi-core-rac-2" not in nodes  # not affected, so not drawn
        assert ("dbi-core-rac-1", "cl-core-rac", "member_of", True) in {
            (e.source, e.to, e.type, e.membership) for e in graph.edges
        }
        assert all(n.group is None for n in graph.nodes if n.id != "cl-core-rac" and n.parent)

    def test_other_member_assumed_down(self, demo):
        graph = impact_graph(demo, ["dbi-core-rac-1"], assume_down=["dbi-core-rac-2"])
        nodes = {n.id: n for n in graph.nodes}
        assert nodes["dbi-core-rac-2"].state == "assumed_down"
        assert nodes["dbi-core-rac-2"].parent == "cl-core-rac"
        assert nodes["cl-core-rac"].state == "down"
        assert nodes["cl-core-rac"].group.out == 2  # type: ignore[union-attr]

    def test_unrelated_assumed_down_is_not_drawn(self, demo):
        graph = impact_graph(demo, ["dbi-core-rac-1"], assume_down=["sw-dc-acc-05"])
        assert "sw-dc-acc-05" in graph.assume_down
        assert "sw-dc-acc-05" not in {n.id for n in graph.nodes}

    def test_depends_counts_no_member_out(self, demo):
        graph = impact_graph(demo, ["db-core"], mode="depends")
        rac = next(n for n in graph.nodes if n.id == "cl-core-rac")
        assert rac.group is not None and (rac.group.n, rac.group.out) == (2, 0)
        members = {n.id: n.parent for n in graph.nodes if n.id.startswith("dbi-core-rac")}
        assert members == {"dbi-core-rac-1": "cl-core-rac", "dbi-core-rac-2": "cl-core-rac"}

    def test_parent_is_the_smallest_group_and_cycles_are_broken(self):
        topo = build(
            {"g-b": ("cluster", 1), "g-a": ("cluster", 1), "m": ("database", 0)},
            [
                ("m", "member_of", "g-b"),
                ("m", "member_of", "g-a"),
                ("g-a", "member_of", "g-b"),
                ("g-b", "member_of", "g-a"),
            ],
        )
        keep = np.arange(topo.n, dtype=np.int32)
        parent = _parents(topo, keep, np.ones(topo.n, dtype=bool))
        named = {topo.ids[c]: topo.ids[p] for c, p in parent.items()}
        assert named == {"m": "g-a", "g-b": "g-a"}  # g-a -> g-b dropped: g-a is the smallest


class TestLayers:
    def test_node_layers_follow_the_registry(self, demo):
        graph = impact_graph(demo, ["sw-dc-acc-05"])
        reg = demo.registry
        for n in graph.nodes:
            assert n.layer == reg.categories[n.category].layer
        assert {(x.layer, x.category) for x in graph.layers} == {
            (n.layer, n.category) for n in graph.nodes
        }
        assert [x.layer for x in graph.layers] == sorted(x.layer for x in graph.layers)
        top = {n.id: n.layer for n in graph.nodes}
        assert top["cust-br01"] < top["svc-core-banking"] or top["cust-br01"] == 0

    def test_every_built_in_category_has_a_layer(self):
        reg = load_registry()
        assert all(c.layer is not None for c in reg.categories.values())
        assert reg.categories["customer"].layer == 0
        assert reg.layer_of("no-such-category") > max(c.layer or 0 for c in reg.categories.values())

    def test_a_user_label_keeps_the_built_in_layer(self, tmp_path):
        path = tmp_path / "r.yaml"
        path.write_text("categories:\n  network: {label: Net}\n  atm: {label: ATMs}\n")
        reg = load_registry(path)
        assert reg.categories["network"].label == "Net"
        assert reg.categories["network"].layer == load_registry().categories["network"].layer
        assert reg.layer_of("atm") == reg.layer_of("no-such-category")


class TestErrors:
    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"ci_ids": ["nope"]}, NotFoundError, "nope"),
            ({"ci_ids": ["db-core"], "assume_down": ["nope"]}, NotFoundError, "nope"),
            ({"ci_ids": ["nope"], "mode": "depends"}, NotFoundError, "nope"),
            ({"ci_ids": ["db-core"], "types": ["bogus"]}, UnknownRelTypeError, "bogus"),
            ({"ci_ids": ["db-core"], "mode": "sideways"}, ValidationError, "blast or depends"),
            ({"ci_ids": ["db-core"], "max_nodes": 0}, ValidationError, ">= 1"),
            ({"ci_ids": ["db-core"], "depth": -1}, ValidationError, ">= 0"),
            ({"ci_ids": []}, ValidationError, "at least one"),
        ],
    )
    def test_raises(self, demo, kwargs, error, match):
        with pytest.raises(error, match=match):
            impact_graph(demo, **kwargs)

    def test_json_shape(self, demo):
        doc = impact_graph(demo, ["dbi-core-rac-1"], max_nodes=3).to_json()
        assert set(doc) == {
            "mode", "roots", "assume_down", "store_version", "nodes", "edges", "layers",
            "counts", "omitted",
        }  # fmt: skip
        assert set(doc["nodes"][0]) == {
            "id", "name", "class", "category", "layer", "state", "path", "parent", "group",
            "rollup", "criticality", "stale",
        }  # fmt: skip
        assert all(set(e) == {"from", "to", "type", "membership"} for e in doc["edges"])
