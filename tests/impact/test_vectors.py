"""Every shared impact vector, loaded into a fresh store, must give exactly its blast radius;
random vectors of the same shape must give what the reference semantics give.

``services`` and ``customers`` are compared in their documented order, sorted by id
(:mod:`impact.blast`), never in whatever order the shared vectors happen to list them."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from cmdb.enums import Propagation
from cmdb.filters import RelFilter
from impact import blast_radius
from tests.impact import reference
from tests.impact.reference import load_vector, rolled_up, vector_files, vector_store, vectors

VECTORS = vector_files()


def propagating_steps(store) -> set[tuple[str, str]]:
    """(hit, cause) pairs: a failure of ``cause`` reaches ``hit`` along one relationship."""
    steps = set()
    for rel in store.find_relationships(RelFilter()):
        prop = store.registry.rel_type(rel.type).propagation
        if prop is Propagation.TO_SOURCE:
            steps.add((rel.source, rel.target))
        elif prop in (Propagation.TO_TARGET, Propagation.MEMBERSHIP):
            steps.add((rel.target, rel.source))
    return steps


def test_there_are_sixteen_or_more_vectors():
    assert len(VECTORS) >= 16


@pytest.fixture
def vector(request, tmp_path):
    """(the vector, a fresh store holding it)."""
    v = load_vector(request.param)
    store = vector_store(tmp_path, v)
    yield v, store
    store.close()


@pytest.mark.parametrize("vector", VECTORS, ids=[p.stem for p in VECTORS], indirect=True)
class TestVectors:
    def test_states_services_customers(self, vector):
        v, store = vector
        br = blast_radius(store.topology(), v["fail"], assume_down=v["assume_down"])
        assert {a.id: a.state.value for a in br.affected()} == v["expect"]
        assert sorted(br.services()) == sorted(v["services"])
        assert sorted(br.customers()) == sorted(v["customers"])
        assert len(br) == len(v["expect"])

    def test_paths_follow_relationships(self, vector):
        v, store = vector
        steps = propagating_steps(store)
        br = blast_radius(store.topology(), v["fail"], assume_down=v["assume_down"])
        for a in br.affected():
            assert a.path[0] == a.id
            assert a.path[-1] in v["fail"]
            assert len(set(a.path)) == len(a.path)
            for hit, cause in zip(a.path, a.path[1:], strict=False):
                assert (hit, cause) in steps, (a.id, a.path)
            if a.state.value == "down":
                assert all(br.state(x).value == "down" for x in a.path)

    def test_json_matches(self, vector):
        v, store = vector
        out = blast_radius(store.topology(), v["fail"], assume_down=v["assume_down"]).to_json()
        assert {a["id"]: a["state"] for a in out["affected"]} == v["expect"]
        # the documented order: sorted by id (the vectors list them in any order)
        assert out["services"] == sorted(v["services"])
        assert out["customers"] == sorted(v["customers"])
        assert out["counts"]["total"] == len(v["expect"])


class TestRandomVectors:
    """Vectors drawn at random in the shared vectors' shape, with random names. Comparing
    ``services`` with the expected list in listing order, as the shared-vector test once did,
    failed on about 1 random vector in 4 (40-53 of 200); the documented order holds on all."""

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(vectors())
    def test_json_matches_reference(self, case):
        topo, failed, assume = case
        expect = reference.blast(topo, failed, assume)
        out = blast_radius(
            topo, [topo.ids[i] for i in failed], assume_down=[topo.ids[i] for i in assume]
        ).to_json()
        assert {a["id"]: a["state"] for a in out["affected"]} == {
            topo.ids[i]: s for i, s in expect.items()
        }
        assert out["services"] == rolled_up(topo, expect, "service")
        assert out["customers"] == rolled_up(topo, expect, "customer")
        assert out["counts"]["services"] == len(out["services"])
        assert out["counts"]["customers"] == len(out["customers"])


def test_the_kept_copy_matches_the_shared_vectors():
    """tests/impact/vectors is a copy for clones without the workspace; when the shared
    folder is there, every vector we keep must equal its shared original."""
    from tests.impact.reference import REPO

    shared = REPO.parent / "shared" / "vectors" / "impact"
    if not any(shared.glob("*.json")):
        pytest.skip("no ../shared/vectors/impact next to this clone")
    kept = REPO / "tests" / "impact" / "vectors"
    for path in sorted(kept.glob("*.json")):
        assert path.read_text() == (shared / path.name).read_text(), path.name
