"""depends_on: reference comparison on random graphs, depth, types and errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.errors import NotFoundError, UnknownRelTypeError, ValidationError
from impact import blast_radius, depends_on
from tests.impact import reference
from tests.impact.reference import TYPES, topologies
from tests.impact.test_blast import chain

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestDependsOn:
    @SETTINGS
    @given(topologies(), st.data(), st.one_of(st.none(), st.sets(st.sampled_from(TYPES))))
    def test_matches_reference(self, topo, data, types):
        root = data.draw(st.integers(0, topo.n - 1))
        blast_radius(topo, topo.ids[:2])  # earlier queries share scratch arrays: no trace
        depends_on(topo, topo.ids[-1])
        deps = depends_on(topo, topo.ids[root], types=types)
        expect = reference.depends(topo, root, types or None)
        assert {d.id: d.hops for d in deps} == {topo.ids[i]: h for i, h in expect.items()}
        needs, membership = reference.graphs(topo, types or None)
        index = {ci: i for i, ci in enumerate(topo.ids)}
        for d in deps:
            assert d.path[0] == topo.ids[root] and d.path[-1] == d.id
            for a, b in zip(d.path, d.path[1:], strict=False):
                assert needs.has_edge(index[a], index[b]) or membership.has_edge(index[a], index[b])

    @pytest.mark.parametrize(
        ("depth", "expect"), [(0, ()), (1, ("n1",)), (2, ("n1", "n2")), (None, ("n1", "n2", "n3"))]
    )
    def test_depth(self, depth, expect):
        assert depends_on(chain(), "n0", depth=depth).ids() == expect

    def test_path_and_membership_test(self):
        deps = depends_on(chain(), "n1")
        assert deps.path("n3") == ("n1", "n2", "n3")
        assert "n3" in deps and "n0" not in deps
        assert deps.path("n0") == ()

    def test_types_restrict_hard_edges(self):
        assert depends_on(chain(), "n0", types=["uses"]).ids() == ()

    def test_json(self):
        out = depends_on(chain(), "n0").to_json(limit=1)
        assert out == {
            "ci": "n0",
            "dependencies": [{"id": "n1", "class": "application", "path": ["n0", "n1"]}],
            "total": 3,
        }

    def test_unknown_ci(self):
        with pytest.raises(NotFoundError, match="CI 'zz' not found"):
            depends_on(chain(), "zz")

    def test_unknown_type(self):
        with pytest.raises(UnknownRelTypeError, match="unknown relationship type 'nope'"):
            depends_on(chain(), "n0", types=["nope"])

    def test_bad_depth(self):
        with pytest.raises(ValidationError, match="depth"):
            depends_on(chain(), "n0", depth=-2)
