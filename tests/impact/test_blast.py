"""blast_radius: reference comparison on random graphs, paths, options and errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.errors import NotFoundError, UnknownRelTypeError, ValidationError
from cmdb.topology import Topology
from impact import blast_radius
from impact.blast import BlastRadius
from tests.impact import reference
from tests.impact.reference import TYPES, build, scenarios

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chain(n: int = 4, **extra) -> Topology:
    """n0 depends on n1 depends on ... n(n-1)."""
    return Topology.build(
        version=1,
        class_names=("application",),
        rel_type_names=("depends_on", "uses"),
        propagation=("to_source", "to_source"),
        ids=[f"n{i}" for i in range(n)],
        class_code=[0] * n,
        is_group=[False] * n,
        min_required=[0] * n,
        src=list(range(n - 1)),
        dst=list(range(1, n)),
        rtype=[0] * (n - 1),
        **extra,
    )


def as_states(br: BlastRadius) -> dict[str, str]:
    return {a.id: a.state.value for a in br.affected()}


def check_paths(topo: Topology, br: BlastRadius, types=None) -> None:
    needs, membership = reference.graphs(topo, types or None)
    index = {ci: i for i, ci in enumerate(topo.ids)}
    for a in br.affected():
        assert a.path[0] == a.id and a.path[-1] in br.failed
        for hit, cause in zip(a.path, a.path[1:], strict=False):
            h, c = index[hit], index[cause]
            assert needs.has_edge(h, c) or membership.has_edge(h, c)
        if a.state.value in ("down", "degraded"):
            assert all(br.state(x).value == "down" for x in a.path[1:])


class TestBlastRadius:
    @SETTINGS
    @given(scenarios())
    def test_matches_reference(self, case):
        topo, failed, assume = case
        # an earlier, larger query on the same snapshot must leave no trace (scratch reuse)
        blast_radius(topo, topo.ids[: topo.n // 2 + 1], assume_down=topo.ids[-2:])
        br = blast_radius(
            topo, [topo.ids[i] for i in failed], assume_down=[topo.ids[i] for i in assume]
        )
        expect = reference.blast(topo, failed, assume)
        assert as_states(br) == {topo.ids[i]: s for i, s in expect.items()}
        check_paths(topo, br)

    @SETTINGS
    @given(scenarios(), st.sets(st.sampled_from(TYPES)))
    def test_types_match_reference(self, case, types):
        topo, failed, _ = case
        br = blast_radius(topo, [topo.ids[i] for i in failed], types=types)
        expect = reference.blast(topo, failed, types=types or None)
        assert as_states(br) == {topo.ids[i]: s for i, s in expect.items()}
        check_paths(topo, br, types)

    @SETTINGS
    @given(scenarios(), st.integers(0, 4))
    def test_depth_keeps_a_prefix_with_the_same_states(self, case, depth):
        topo, failed, assume = case
        ids = [topo.ids[i] for i in failed]
        full = as_states(blast_radius(topo, ids, assume_down=[topo.ids[i] for i in assume]))
        cut = blast_radius(topo, ids, assume_down=[topo.ids[i] for i in assume], depth=depth)
        assert {a.id: a.state.value for a in cut.affected()}.items() <= full.items()
        assert all(len(a.path) - 1 <= depth for a in cut.affected())
        assert {x for x, _ in full.items()} - set(as_states(cut)) == {
            a.id
            for a in blast_radius(topo, ids, assume_down=[topo.ids[i] for i in assume]).affected()
            if len(a.path) - 1 > depth
        }

    @pytest.mark.parametrize(
        ("failed", "expect"),
        [
            (["n3"], {"n2": 1, "n1": 2, "n0": 3}),
            (["n1"], {"n0": 1}),
            (["n0"], {}),
        ],
    )
    def test_paths_are_shortest(self, failed, expect):
        br = blast_radius(chain(), failed)
        assert {a.id: len(a.path) - 1 for a in br.affected()} == expect

    def test_down_path_goes_through_down_cis(self):
        # x is down through a-b-c-f (4 steps), and at risk through y-g (3 steps, shorter)
        t = build(
            {
                "f": ("database", 0),
                "m2": ("database", 0),
                "g": ("cluster", 1),
                "y": ("application", 0),
                "x": ("application", 0),
                "a": ("application", 0),
                "b": ("application", 0),
                "c": ("application", 0),
            },
            [
                ("f", "member_of", "g"),
                ("m2", "member_of", "g"),
                ("y", "depends_on", "g"),
                ("x", "depends_on", "y"),
                ("x", "depends_on", "a"),
                ("a", "depends_on", "b"),
                ("b", "depends_on", "c"),
                ("c", "depends_on", "f"),
            ],
        )
        br = blast_radius(t, ["f"])
        assert br.state("x").value == "down"
        assert br.path("x") == ("x", "a", "b", "c", "f")
        assert br.path("y") == ("y", "g", "f")

    def test_cycle_terminates(self):
        t = Topology.build(
            version=1,
            class_names=("application",),
            rel_type_names=("depends_on",),
            propagation=("to_source",),
            ids=["a", "b", "c"],
            class_code=[0] * 3,
            is_group=[False] * 3,
            min_required=[0] * 3,
            src=[0, 1, 0],
            dst=[1, 0, 2],
            rtype=[0] * 3,
        )
        assert as_states(blast_radius(t, ["c"])) == {"a": "down", "b": "down"}

    @pytest.mark.parametrize(
        ("ci", "expect"), [("n0", "down"), ("n1", "down"), ("n2", "down"), ("n3", "ok")]
    )
    def test_state_of_any_ci(self, ci, expect):
        br = blast_radius(chain(), ["n2"], assume_down=["n0"])
        assert br.state(ci).value == expect

    def test_failed_and_assumed_are_never_listed(self):
        br = blast_radius(chain(), ["n2", "n1"], assume_down=["n3"])
        assert len(br) == 0 and br.counts()["total"] == 0

    @pytest.mark.parametrize(("seen", "stale"), [(1000.0, False), (0.0, True), (math.nan, False)])
    def test_freshness(self, seen, stale):
        t = chain(2, last_seen=[seen, seen])
        a = next(blast_radius(t, ["n1"], stale_after=500.0, now=1200.0).affected())
        assert a.stale is stale
        assert a.last_seen == (None if math.isnan(seen) else seen)

    def test_to_json_limit_keeps_counts(self):
        out = blast_radius(chain(6), ["n5"]).to_json(limit=2)
        assert [a["id"] for a in out["affected"]] == ["n4", "n3"]
        assert out["counts"] == {
            "down": 5,
            "degraded": 0,
            "at_risk": 0,
            "total": 5,
            "services": 0,
            "customers": 0,
        }
        assert out["affected"][1]["path"] == ["n3", "n4", "n5"]

    @pytest.mark.parametrize(
        "kwargs", [{"failed": ["nope"]}, {"failed": ["n0"], "assume_down": ["nope"]}]
    )
    def test_unknown_ci(self, kwargs):
        with pytest.raises(NotFoundError, match="CI 'nope' not found"):
            blast_radius(chain(), **kwargs)

    @pytest.mark.parametrize(
        ("types", "expect"), [(None, 2), ((), 2), (["uses"], 0), ("depends_on", 2)]
    )
    def test_types(self, types, expect):
        assert len(blast_radius(chain(3), ["n2"], types=types)) == expect

    def test_unknown_type(self):
        with pytest.raises(UnknownRelTypeError, match="unknown relationship type 'runs_onn'"):
            blast_radius(chain(), ["n1"], types=["runs_onn"])

    @pytest.mark.parametrize("depth", [-1, 1.5, True])
    def test_bad_depth(self, depth):
        with pytest.raises(ValidationError, match="depth"):
            blast_radius(chain(), ["n1"], depth=depth)
