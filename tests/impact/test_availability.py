"""designed_availability and k_of_n: hand-computed series, parallel and k-of-n cases."""

from __future__ import annotations

import pytest

from cmdb.errors import NotFoundError
from impact import designed_availability
from impact.availability import k_of_n
from tests.impact.reference import build

DEFAULTS = {"application": 0.99, "database": 0.9, "switch": 0.8}

SERIES = build(
    {"svc": ("business_service", 0), "app": ("application", 0), "db": ("database", 0)},
    [("svc", "depends_on", "app"), ("app", "depends_on", "db")],
)


def pool(k: int, members: dict[str, float]) -> object:
    cis = {"svc": ("business_service", 0), "pool": ("cluster", k)}
    cis.update({m: ("database", 0) for m in members})
    rels = [("svc", "depends_on", "pool")] + [(m, "member_of", "pool") for m in members]
    return build(cis, rels, availability=members)


class TestKOfN:
    @pytest.mark.parametrize(
        ("ps", "k", "expect"),
        [
            ([0.9, 0.9], 1, 0.99),
            ([0.9, 0.9], 2, 0.81),
            ([0.9, 0.8, 0.7], 2, 0.902),
            ([0.9, 0.8, 0.7], 0, 1.0),
            ([0.9], 2, 0.0),
            ([], 1, 0.0),
        ],
    )
    def test_values(self, ps, k, expect):
        assert k_of_n(ps, k) == pytest.approx(expect)


class TestDesignedAvailability:
    def test_series_multiplies(self):
        a = designed_availability(SERIES, "svc", class_availability=DEFAULTS)
        assert a.availability == pytest.approx(0.99 * 0.9)
        assert a.components == 3 and a.cycles_broken == 0 and a.single_points == 3
        assert a.weakest == (("db", 0.9), ("app", 0.99))

    def test_missing_class_default_counts_as_one(self):
        assert designed_availability(SERIES, "svc").availability == 1.0

    @pytest.mark.parametrize(
        ("k", "members", "expect"),
        [
            (1, {"m1": 0.9, "m2": 0.9}, 0.99),
            (2, {"m1": 0.9, "m2": 0.8, "m3": 0.7}, 0.902),
            (3, {"m1": 0.9, "m2": 0.8}, 0.0),
        ],
    )
    def test_k_of_n_group(self, k, members, expect):
        a = designed_availability(pool(k, members), "svc")
        assert a.availability == pytest.approx(expect)

    def test_ci_value_overrides_class_default(self):
        topo = build(
            {"svc": ("business_service", 0), "db": ("database", 0)},
            [("svc", "depends_on", "db")],
            availability={"db": 0.5},
        )
        a = designed_availability(topo, "svc", class_availability=DEFAULTS)
        assert a.availability == pytest.approx(0.5)

    def test_shared_single_point_counts_once(self):
        topo = build(
            {
                "svc": ("business_service", 0),
                "a": ("application", 0),
                "b": ("application", 0),
                "sw": ("switch", 0),
            },
            [
                ("svc", "depends_on", "a"),
                ("svc", "depends_on", "b"),
                ("a", "depends_on", "sw"),
                ("b", "depends_on", "sw"),
            ],
        )
        a = designed_availability(topo, "svc", class_availability=DEFAULTS)
        assert a.availability == pytest.approx(0.99 * 0.99 * 0.8)
        assert a.components == 4 and a.single_points == 4

    def test_shared_under_redundancy_counts_once_per_branch(self):
        # two pool members share a database that is not a single point (a third member avoids it)
        topo = build(
            {
                "svc": ("business_service", 0),
                "pool": ("cluster", 1),
                "m1": ("application", 0),
                "m2": ("application", 0),
                "m3": ("application", 0),
                "db": ("database", 0),
            },
            [
                ("svc", "depends_on", "pool"),
                ("m1", "member_of", "pool"),
                ("m2", "member_of", "pool"),
                ("m3", "member_of", "pool"),
                ("m1", "depends_on", "db"),
                ("m2", "depends_on", "db"),
            ],
        )
        a = designed_availability(topo, "svc", class_availability=DEFAULTS)
        branch = 0.99 * 0.9
        assert a.availability == pytest.approx(k_of_n([branch, branch, 0.99], 1))
        assert a.single_points == 2  # the service and the pool

    def test_cycle_is_broken_once(self):
        topo = build(
            {"a": ("application", 0), "b": ("application", 0), "db": ("database", 0)},
            [("a", "depends_on", "b"), ("b", "depends_on", "a"), ("a", "depends_on", "db")],
        )
        a = designed_availability(topo, "a", class_availability=DEFAULTS)
        assert a.cycles_broken == 1
        assert a.availability == pytest.approx(0.99 * 0.99 * 0.9)

    def test_provides_counts_in_its_direction(self):
        topo = build(
            {"svc": ("business_service", 0), "app": ("application", 0)},
            [("app", "provides", "svc")],
        )
        a = designed_availability(topo, "svc", class_availability=DEFAULTS)
        assert a.availability == pytest.approx(0.99)

    def test_json(self):
        out = designed_availability(SERIES, "svc", class_availability=DEFAULTS).to_json()
        assert out["availability"] == pytest.approx(0.891)
        assert out["annual_downtime_minutes"] == pytest.approx(0.109 * 525960, rel=1e-6)
        assert out["weakest"][0] == {"id": "db", "availability": 0.9}

    def test_unknown_service(self):
        with pytest.raises(NotFoundError, match="CI 'nope' not found"):
            designed_availability(SERIES, "nope")
