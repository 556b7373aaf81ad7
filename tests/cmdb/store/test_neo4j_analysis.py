"""Neo4j against the in-memory side: the in-database blast radius equals reachability over the
snapshot's impact edges, and a graph survives export and import between the two backends."""

from __future__ import annotations

import json
import random

import networkx as nx
import pytest

from cmdb.enums import ImpactState
from cmdb.filters import RelFilter
from cmdb.generator import generate, pick_probes
from cmdb.model import CI, Batch, Change, Incident, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.transfer import export_json, import_file
from impact.blast import blast_radius
from tests.neo4j_support import neo4j_settings_or_skip, wipe

pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo(registry):
    store = open_store(neo4j_settings_or_skip(), registry=registry)
    wipe(store)
    yield store
    store.close()


def reachable(topo, failed, types=None, *, through_groups=False) -> set[str]:
    """Reference answer: the failed CIs and their descendants along hard impact edges (and
    member -> group edges with ``through_groups``)."""
    frm, to = topo.impact_edges(types)
    g = nx.DiGraph()
    g.add_nodes_from(range(topo.n))
    g.add_edges_from(zip(frm.tolist(), to.tolist(), strict=True))
    if through_groups:
        member, group = topo.membership_edges()
        g.add_edges_from(zip(member.tolist(), group.tolist(), strict=True))
    out = set(failed)
    for ci in failed:
        out |= {topo.ids[i] for i in nx.descendants(g, topo.index(ci))}
    return out


def layered(seed: int) -> Batch:
    """A random layered estate without redundancy groups: switches <- servers <- databases <-
    applications -> services, with a few application-to-application dependencies."""
    rnd = random.Random(seed)
    layers = {
        "sw": ("switch", 4),
        "srv": ("physical_server", 12),
        "db": ("database", 10),
        "app": ("application", 20),
        "svc": ("business_service", 6),
    }
    cis = [
        CI(
            id=f"{p}-{i}",
            ci_class=cls,
            name=f"{p} {i}",
            attributes={"engine": "postgresql"} if cls == "database" else {},
        )
        for p, (cls, n) in layers.items()
        for i in range(n)
    ]
    rels: set[tuple[str, str, str]] = set()

    def link(src: str, type_: str, dst: str, k: int) -> None:
        for i in range(layers[src][1]):
            for j in rnd.sample(range(layers[dst][1]), k):
                rels.add((f"{src}-{i}", type_, f"{dst}-{j}"))

    link("srv", "connected_to", "sw", 2)
    link("db", "runs_on", "srv", 1)
    link("app", "depends_on", "db", 2)
    link("app", "provides", "svc", 1)
    for i in range(0, 20, 4):
        rels.add((f"app-{i}", "depends_on", f"app-{i + 1}"))
    return Batch(
        cis=cis,
        relationships=[Relationship(source=s, type=t, target=d) for s, t, d in sorted(rels)],
    )


class TestServerSideBlastRadius:
    @pytest.mark.parametrize("seed", [1, 2])
    def test_equals_reachability_on_a_generated_estate(self, neo, seed):
        for batch in generate(800, seed=seed):
            neo.apply(batch, actor="gen")
        topo = neo.topology()
        probes = pick_probes(topo)
        widest = topo.ids[int(topo.dependents.degree().argmax())]
        cases = [[p] for p in probes.values()] + [sorted(probes.values()), [widest]]
        for failed in cases:
            assert neo.server_side_blast_radius(failed) == reachable(topo, failed)
        assert len(reachable(topo, [widest])) > 10  # not only trivial cases
        limited = ("runs_on", "hosted_on", "member_of")
        assert neo.server_side_blast_radius([probes["hub"]], types=limited) == reachable(
            topo, [probes["hub"]], limited
        )

    def test_through_groups_is_what_the_engine_lists(self, neo):
        for batch in generate(800, seed=3):
            neo.apply(batch, actor="gen")
        topo = neo.topology()
        probes = pick_probes(topo)
        for failed in [[p] for p in probes.values()] + [[probes["mid"], probes["leaf"]]]:
            got = neo.server_side_blast_radius(failed, through_groups=True)
            assert got == reachable(topo, failed, through_groups=True)
            listed = {a.id for a in blast_radius(topo, failed).affected()}
            assert got == listed | set(failed)
        hub = probes["hub"]
        assert len(neo.server_side_blast_radius([hub], through_groups=True)) > 100
        assert neo.server_side_blast_radius([hub], types=("runs_on",), through_groups=True) == {
            a.id for a in blast_radius(topo, [hub], types=("runs_on",)).affected()
        } | {hub}

    @pytest.mark.parametrize("seed", [3, 4, 5])
    def test_equals_the_engine_without_redundancy(self, neo, seed):
        neo.apply(layered(seed), actor="t")
        topo = neo.topology()
        for failed in (["sw-0"], ["srv-3"], ["db-1", "app-5"], ["svc-0"]):
            br = blast_radius(topo, failed)
            down = {a.id for a in br.affected() if a.state is ImpactState.DOWN}
            assert len(down) == len(br)  # no groups: nothing merely degraded or at risk
            assert neo.server_side_blast_radius(failed) == down | set(failed)

    def test_skips_retired_relationships_and_cis(self, neo):
        neo.apply(layered(3), actor="t")
        before = neo.server_side_blast_radius(["sw-0"])
        rels = neo.find_relationships(RelFilter(target="sw-0"))
        neo.apply(Batch(retire_relationships=[rels[0].key]), actor="t")
        neo.apply(Batch(retire_cis=["app-0"]), actor="t")
        after = neo.server_side_blast_radius(["sw-0"])
        assert after == reachable(neo.topology(), ["sw-0"])
        assert "app-0" not in after and after <= before
        assert neo.server_side_blast_radius(["app-0"]) == set()


def _estate() -> list[Batch]:
    batches = list(generate(600, seed=7))
    batches.append(
        Batch(
            records=[
                Incident(id="INC-1", title="slow", ci_ids=["loc-000000"]),
                Change(id="CHG-1", title="patch", ci_ids=["loc-000000"], type="emergency"),
            ]
        )
    )
    return batches


class TestRoundTrip:
    def test_sqlite_to_neo4j_and_back(self, neo, registry, tmp_path):
        lite = open_store(Settings(db=tmp_path / "a.db"), registry=registry, create=True)
        for batch in _estate():
            lite.apply(batch, actor="gen")
        lite.apply(Batch(retire_cis=[lite.topology().ids[-1]]), actor="t")
        exported = export_json(lite)
        path = tmp_path / "estate.json"
        path.write_text(json.dumps(exported))
        import_file(neo, path, actor="import")
        assert export_json(neo) == exported
        path.write_text(json.dumps(export_json(neo)))
        back = open_store(Settings(db=tmp_path / "b.db"), registry=registry, create=True)
        import_file(back, path, actor="import")
        assert export_json(back) == exported

        def edges(store):
            t = store.topology()
            return sorted(
                (t.ids[s], int(r), t.ids[d]) for s, r, d in zip(t.src, t.rtype, t.dst, strict=True)
            )

        assert edges(neo) == edges(lite) == edges(back)
        assert sorted(neo.topology().ids) == sorted(lite.topology().ids)
        lite.close()
        back.close()
