"""Tests of the estate generator: determinism, validity, agreement of both outputs, shape."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest

from cmdb.enums import Lifecycle
from cmdb.errors import ValidationError
from cmdb.generator import MIN_CIS, generate, generate_topology, pick_probes
from cmdb.registry import load_registry
from cmdb.validation import validate_batch


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.fixture(scope="module")
def topo5k(reg):
    return generate_topology(5_000, seed=1, registry=reg)


def _impact_graph(topo, *, membership: bool = False) -> nx.DiGraph:
    """Hard impact edges; with ``membership``, also member -> group (what can change state)."""
    frm, to = topo.impact_edges()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(topo.n))
    graph.add_edges_from(zip(frm.tolist(), to.tolist(), strict=True))
    if membership:
        member, group = topo.membership_edges()
        graph.add_edges_from(zip(member.tolist(), group.tolist(), strict=True))
    return graph


def _down(topo, failed: int) -> set[int]:
    """The CIs a failure of ``failed`` takes down: hard edges, and groups below k members up."""
    k, size = topo.k_required(), topo.members.degree()
    lost: Counter[int] = Counter()
    down, stack = {failed}, [failed]
    while stack:
        i = stack.pop()
        hit = topo.dependents.row(i).tolist()
        for g in topo.groups.row(i).tolist():
            lost[g] += 1
            if size[g] - lost[g] < k[g]:
                hit.append(g)
        for j in hit:
            if j not in down:
                down.add(j)
                stack.append(j)
    return down - {failed}


class TestGenerate:
    def test_deterministic(self):
        first = [b.model_dump() for b in generate(800, seed=2, batch_size=1_000)]
        again = [b.model_dump() for b in generate(800, seed=2, batch_size=1_000)]
        other = [b.model_dump() for b in generate(800, seed=3, batch_size=1_000)]
        assert first == again
        assert first != other

    def test_every_batch_validates_in_order(self, reg):
        stored: dict[str, tuple[str, Lifecycle]] = {}
        keys: set[tuple[str, str, str]] = set()

        def lookup(ids):
            return {i: stored[i] for i in ids if i in stored}

        batches = list(generate(2_000, seed=1, batch_size=1_500))
        assert len(batches) > 3
        for batch in batches:
            assert 0 < len(batch) <= 1_500
            validate_batch(batch, reg, lookup)
            for ci in batch.cis:
                assert ci.id not in stored
                stored[ci.id] = (ci.ci_class, ci.status)
            for rel in batch.relationships:
                assert rel.key not in keys
                keys.add(rel.key)
        assert len(stored) == 2_000

    def test_cis_carry_required_fields(self):
        cis = [ci for b in generate(1_000, seed=5) for ci in b.cis]
        seen = sum(1 for ci in cis if ci.last_seen)
        assert seen > len(cis) / 2
        by_class = {ci.ci_class: ci for ci in cis}
        assert by_class["database"].attributes["engine"]
        assert by_class["middleware"].attributes["product"]
        assert 0 < by_class["sla"].attributes["availability_target"] <= 1
        assert by_class["business_service"].criticality.rank >= 3
        assert by_class["desktop"].criticality.rank == 1
        assert by_class["virtual_machine"].id.startswith("vm-")

    def test_progress_counts_every_item(self):
        done: list[int] = []
        totals: set[int] = set()

        def progress(n: int, total: int) -> None:
            done.append(n)
            totals.add(total)

        batches = list(generate(1_000, seed=1, batch_size=700, progress=progress))
        assert done == [len(b) for b in batches]
        assert totals == {sum(done)} == {sum(len(b.cis) + len(b.relationships) for b in batches)}

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"n_cis": MIN_CIS - 1}, "at least"), ({"n_cis": 1_000, "batch_size": 0}, "batch_size")],
    )
    def test_rejects_bad_arguments(self, kwargs, match):
        with pytest.raises(ValidationError, match=match):
            generate(**kwargs)


class TestGenerateTopology:
    @pytest.mark.parametrize(("n", "seed"), [(600, 0), (1_500, 4)])
    def test_agrees_with_generate(self, reg, n, seed):
        topo = generate_topology(n, seed=seed, registry=reg)
        batches = list(generate(n, seed=seed, batch_size=2_500))
        cis = [ci for b in batches for ci in b.cis]
        assert topo.ids == [ci.id for ci in cis]
        assert [topo.class_of(i) for i in range(n)] == [ci.ci_class for ci in cis]
        assert topo.min_required.tolist() == [ci.min_required or 0 for ci in cis]
        assert topo.criticality.tolist() == [ci.criticality.rank for ci in cis]
        assert topo.is_group.tolist() == [reg.is_group(ci.ci_class) for ci in cis]
        edges = Counter(
            (topo.ids[s], topo.rel_type_names[t], topo.ids[d])
            for s, d, t in zip(
                topo.src.tolist(), topo.dst.tolist(), topo.rtype.tolist(), strict=True
            )
        )
        assert edges == Counter(r.key for b in batches for r in b.relationships)

    def test_deterministic(self, reg):
        a = generate_topology(3_000, seed=9, registry=reg)
        b = generate_topology(3_000, seed=9, registry=reg)
        assert a.ids == b.ids
        for name in ("class_code", "src", "dst", "rtype", "min_required", "criticality"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(a.last_seen, b.last_seen, equal_nan=True)
        c = generate_topology(3_000, seed=10, registry=reg)
        assert not np.array_equal(a.dst, c.dst)

    def test_codes_follow_the_registry(self, reg, topo5k):
        assert topo5k.class_names == reg.class_names
        assert topo5k.rel_type_names == reg.rel_type_names
        assert [p.value for p in topo5k.propagation] == [
            reg.rel_type(t).propagation.value for t in reg.rel_type_names
        ]
        pairs = {
            (int(a), int(t), int(b))
            for a, t, b in zip(
                topo5k.class_code[topo5k.src],
                topo5k.rtype,
                topo5k.class_code[topo5k.dst],
                strict=True,
            )
        }
        for a, t, b in pairs:
            reg.check_relationship(reg.class_names[a], reg.rel_type_names[t], reg.class_names[b])

    @pytest.mark.parametrize("n", [5_000, 20_000])
    def test_about_four_relationships_per_ci(self, reg, n):
        topo = generate_topology(n, seed=0, registry=reg)
        assert topo.n == n
        assert 3.5 <= topo.m / topo.n <= 4.5
        assert np.all(topo.src != topo.dst)

    def test_proportions_resemble_an_estate(self, topo5k):
        count = Counter(topo5k.class_of(i) for i in range(topo5k.n))
        assert count["desktop"] > count["virtual_machine"] > count["application_instance"]
        assert count["application_instance"] > count["application"] > count["business_service"]
        assert count["switch"] < count["physical_server"] < count["virtual_machine"]
        assert count["firewall"] == 4

    def test_customers_consume_services(self, topo5k):
        consumes = topo5k.rtype == topo5k.rel_type_names.index("consumes")
        customers = np.flatnonzero(topo5k.class_mask("customer"))
        assert set(topo5k.src[consumes].tolist()) == set(customers.tolist())
        assert topo5k.class_mask("business_service")[topo5k.dst[consumes]].all()

    def test_blast_radius_by_layer(self, topo5k):
        graph = _impact_graph(topo5k, membership=True)
        probes = pick_probes(topo5k)
        reach = {k: len(nx.descendants(graph, topo5k.index(v))) for k, v in probes.items()}
        assert topo5k.class_of(topo5k.index(probes["hub"])) == "switch"
        assert topo5k.class_of(topo5k.index(probes["mid"])) == "physical_server"
        assert reach["hub"] > 0.5 * topo5k.n
        assert 0 < reach["mid"] <= 0.1 * topo5k.n
        assert reach["leaf"] == 0
        core = topo5k.index("sw-000000")
        assert len(nx.descendants(graph, core)) > 0.5 * topo5k.n

    def test_redundancy_is_modelled(self, topo5k):
        core = topo5k.index("sw-000000")
        (pair,) = topo5k.groups.row(core).tolist()
        assert topo5k.class_of(pair) == "cluster"
        assert topo5k.members.degree()[pair] == 2 and topo5k.k_required()[pair] == 1
        # one core switch takes nothing down: its pair is only degraded
        assert len(nx.descendants(_impact_graph(topo5k), core)) < 0.01 * topo5k.n
        assert _down(topo5k, core) == set()
        # the loss of the whole pair takes most of the estate down
        assert len(_down(topo5k, pair)) > 0.5 * topo5k.n

    def test_uplinks_are_switch_pairs(self, topo5k):
        switch = topo5k.class_mask("switch")
        frm, to = topo5k.impact_edges()
        dual = topo5k.class_mask(
            "physical_server",
            "hypervisor",
            "hypervisor_cluster",
            "storage",
            "load_balancer",
            "firewall",
        )
        assert not (switch[frm] & (dual | switch)[to]).any()  # no hard link to one switch
        paired = np.flatnonzero(switch & (topo5k.groups.degree() == 1))
        pairs = {int(topo5k.groups.row(s)[0]) for s in paired}
        assert len(pairs) == paired.size // 2
        for g in pairs:
            assert switch[topo5k.members.row(g)].all()
            assert topo5k.members.degree()[g] == 2 and topo5k.k_required()[g] == 1
            assert topo5k.dependents.degree()[g] > 0
        single = np.flatnonzero(switch & (topo5k.groups.degree() == 0))
        feeds = topo5k.dependencies.degree()[single]
        assert (feeds == 1).all()  # branch access switches hang on one branch router
        assert topo5k.class_mask("router")[
            topo5k.dependencies.indices[topo5k.dependencies.indptr[single]]
        ].all()

    def test_groups_are_satisfiable(self, topo5k):
        groups = np.flatnonzero(topo5k.is_group)
        assert groups.size > 0
        sizes = topo5k.members.degree()[groups]
        k = topo5k.k_required()[groups]
        assert (sizes >= 2).all()
        assert (topo5k.min_required[groups] >= 1).all()
        assert (k <= sizes).all()
        assert (k < sizes).any()  # some real redundancy

    def test_impact_graph_has_a_cycle(self, topo5k):
        cycle = nx.find_cycle(_impact_graph(topo5k))
        assert len(cycle) >= 2
        assert {topo5k.class_of(a) for a, _ in cycle} == {"application"}


class TestPickProbes:
    def test_stable(self, topo5k):
        assert pick_probes(topo5k) == pick_probes(topo5k)
        assert set(pick_probes(topo5k)) == {"leaf", "mid", "hub"}
