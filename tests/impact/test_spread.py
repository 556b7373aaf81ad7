"""impact.spread: its tuning thresholds change the cost, never the answer.

On the small random graphs of the reference tests the default thresholds take few of the
engine's large-graph paths (flag arrays, picked rows, edge masks, pieces), so each setting
below forces some of them on or off; the listed CIs and their states must equal the reference
(hard edges) or the default settings (with soft edges, which the reference does not model),
worst state first.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cmdb.topology import Topology
from impact import blast_radius, spread
from impact.propagation import indices, prepare
from tests.impact import reference
from tests.impact.reference import scenarios

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BIG = 10**9
# every path forced on (tiny pieces: the loops over pieces run), then every path forced off
TUNINGS = {
    "large": {
        "FLAG_SHARE": BIG,
        "EXPAND_SHARE": BIG,
        "EDGE_SHARE": BIG,
        "SCAN_SHARE": BIG,
        "RUNS_MIN": 0,
        "CHUNK": 1,
        "SCAN_CHUNK": 2,
        "EDGE_CHUNK": 1,
    },
    "large, runs": {
        "FLAG_SHARE": BIG,
        "EXPAND_SHARE": BIG,
        "EDGE_SHARE": 0,
        "RUNS_MIN": 2,
        "CHUNK": 3,
        "SCAN_CHUNK": 3,
        "EDGE_CHUNK": 2,
    },
    "small": {"FLAG_SHARE": 0, "EXPAND_SHARE": 0, "SCAN_SHARE": 0, "RUNS_MIN": BIG},
}


def listed(topo: Topology, failed, assume) -> list[tuple[str, int]]:
    br = blast_radius(
        topo, [topo.ids[i] for i in failed], assume_down=[topo.ids[i] for i in assume]
    )
    return [(topo.ids[int(i)], c) for i, c in zip(br.nodes, br.codes.tolist(), strict=True)]


def with_soft(topo: Topology) -> Topology:
    """``topo`` with its ``none`` type made ``soft``, so that soft edges take part."""
    propagation = tuple("soft" if p.value == "none" else p.value for p in topo.propagation)
    return Topology.build(
        version=1,
        class_names=topo.class_names,
        class_categories=topo.class_categories,
        rel_type_names=topo.rel_type_names,
        propagation=propagation,
        ids=list(topo.ids),
        class_code=topo.class_code,
        is_group=topo.is_group,
        min_required=topo.min_required,
        src=topo.src,
        dst=topo.dst,
        rtype=topo.rtype,
    )


class TestTuning:
    @pytest.mark.parametrize("tuning", TUNINGS.values(), ids=TUNINGS.keys())
    @SETTINGS
    @given(case=scenarios())
    def test_matches_reference(self, tuning, case):
        topo, failed, assume = case
        with pytest.MonkeyPatch.context() as mp:
            for name, value in tuning.items():
                mp.setattr(spread, name, value)
            got = listed(topo, failed, assume)
        expect = reference.blast(topo, failed, assume)
        names = {"down": 3, "degraded": 2, "at_risk": 1}
        assert dict(got) == {topo.ids[i]: names[s] for i, s in expect.items()}
        assert [c for _, c in got] == sorted((c for _, c in got), reverse=True)

    @pytest.mark.parametrize("tuning", TUNINGS.values(), ids=TUNINGS.keys())
    @SETTINGS
    @given(case=scenarios())
    def test_soft_edges_same_as_default(self, tuning, case):
        topo, failed, assume = case
        topo = with_soft(topo)
        expect = listed(topo, failed, assume)
        with pytest.MonkeyPatch.context() as mp:
            for name, value in tuning.items():
                mp.setattr(spread, name, value)
            got = listed(topo, failed, assume)
        assert sorted(got) == sorted(expect)
        assert [c for _, c in got] == [c for _, c in expect]  # same states in the same order

    @pytest.mark.parametrize("tuning", TUNINGS.values(), ids=TUNINGS.keys())
    @SETTINGS
    @given(case=scenarios())
    def test_scratch_is_handed_back_clean(self, tuning, case):
        topo, failed, assume = case
        p = prepare(topo)
        with pytest.MonkeyPatch.context() as mp:
            for name, value in tuning.items():
                mp.setattr(spread, name, value)
            spread.solve(p, indices(topo, [topo.ids[i] for i in failed]), indices(topo, []))
            spread.solve(
                p,
                indices(topo, [topo.ids[i] for i in failed]),
                indices(topo, [topo.ids[i] for i in assume]),
            )
        sc = p.borrow()
        assert not sc.state.any() and not sc.cnt.any()
        assert sc.flags is None or not sc.flags.any()
        p.give_back(sc)


class TestListing:
    @pytest.mark.parametrize(
        "parts", [[], [[1, 2]], [[1, 2], [5]], [[1], [2, 3], [4]]], ids=["0", "1", "2", "3"]
    )
    def test_levels_in_order_whenever_the_array_is_made(self, parts):
        for made_at in range(len(parts) + 1):
            out = spread._Listing(10)
            for k, part in enumerate(parts):
                if k == made_at:
                    room = out.room()
                    room[: len(part)] = part
                    out.took(room[: len(part)])
                else:
                    out.add(np.asarray(part, np.int32))
            flat = [x for part in parts for x in part]
            assert out.listing().tolist() == flat
            assert out.listing().dtype == np.int32
