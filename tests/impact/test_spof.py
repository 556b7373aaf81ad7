"""single_points_of_failure: brute force on random graphs and the hidden-SPOF vector."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.errors import NotFoundError
from impact import blast_radius, single_points_of_failure
from tests.impact import reference
from tests.impact.reference import VECTORS, load_vector, topologies, vector_store
from tests.impact.test_blast import chain


class TestSinglePointsOfFailure:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(topologies(), st.data())
    def test_matches_brute_force(self, topo, data):
        service = data.draw(st.integers(0, topo.n - 1))
        found = single_points_of_failure(topo, topo.ids[service])
        assert {s.id for s in found} == {topo.ids[i] for i in reference.spofs(topo, service)}
        for s in found:
            assert blast_radius(topo, [s.id]).state(topo.ids[service]).value == "down"
            assert s.path[0] == topo.ids[service] and s.path[-1] == s.id

    @pytest.mark.parametrize(
        ("ci", "spof", "expect"),
        [
            ("sw-access-3", True, "down"),
            ("cb-db-1", False, "at_risk"),
            ("cb-db-cluster", True, "down"),
            ("cb-app", True, "down"),
        ],
    )
    def test_hidden_spof(self, tmp_path, ci, spof, expect):
        store = vector_store(tmp_path, load_vector(VECTORS / "12-hidden-spof.json"))
        topo = store.topology()
        store.close()
        found = {s.id for s in single_points_of_failure(topo, "core-banking")}
        assert (ci in found) is spof
        assert blast_radius(topo, [ci]).state("core-banking").value == expect

    def test_chain(self):
        assert [s.id for s in single_points_of_failure(chain(), "n0")] == ["n1", "n2", "n3"]

    def test_unknown_service(self):
        with pytest.raises(NotFoundError, match="CI 'nope' not found"):
            single_points_of_failure(chain(), "nope")
