"""Change risk: factors, monotonicity, SPOF, collisions (incl. k-of-n), windows, weights as data.

Reading weights from YAML and recording changes are workflows: tests/cmdb/workflows/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.errors import ConfigError, NotFoundError, ValidationError
from cmdb.model import Batch, Change, Incident
from cmdb.workflows.risk import load_risk_weights
from impact.change_risk import RiskWeights, assess_change, assess_proposed, proposed_change
from impact.collisions import change_collisions, in_maintenance_window, parse_windows
from tests.impact.conftest import NOW

FACTORS = [
    "blast_radius",
    "services",
    "customers",
    "spof",
    "redundancy",
    "change_type",
    "history",
    "maintenance_window",
    "service_hours",
    "freeze",
    "collisions",
]
SAT = datetime(2026, 1, 10, tzinfo=UTC)  # a Saturday, 00:00
WEIGHTS = load_risk_weights()


def window(start_hours: float, hours: float = 2) -> dict:
    start = SAT + timedelta(hours=start_hours)
    return {"window_start": start, "window_end": start + timedelta(hours=hours)}


def proposed(store, cis, change_type="normal", at=1.0, weights=WEIGHTS, **kw):
    return assess_proposed(
        store, ci_ids=cis, change_type=change_type, now=NOW, **window(at), weights=weights, **kw
    )


class TestAssessProposed:
    def test_every_factor_is_listed(self, estate):
        result = proposed(estate, ["srv-1"])
        assert [f.name for f in result.factors] == FACTORS
        assert all(f.detail and 0 <= f.value <= 1 for f in result.factors)
        assert result.score == pytest.approx(sum(f.points for f in result.factors), abs=0.1)
        data = result.to_json()
        assert set(data) >= {
            "score",
            "level",
            "cab_required",
            "cab_reasons",
            "factors",
            "collisions",
            "spof_for",
            "services",
            "counts",
        }
        assert data["factors"][0] == {
            "name": "blast_radius",
            "weight": 10.0,
            "value": result.factors[0].value,
            "points": result.factors[0].points,
            "detail": result.factors[0].detail,
        }

    def test_change_type_is_monotonic(self, estate):
        scores = [
            proposed(estate, ["web-1"], kind).score for kind in ("standard", "normal", "emergency")
        ]
        assert scores[0] < scores[1] < scores[2]
        assert proposed(estate, ["web-1"], "emergency").cab_required

    def test_spof_raises_risk(self, estate, tmp_path):
        spof = proposed(estate, ["srv-1"])
        assert spof.spof_for == ("svc-pay",) and spof.factor("spof").value == 1.0
        assert proposed(estate, ["web-1"]).factor("spof").value == 0.0
        no_spof = tmp_path / "w.yaml"
        no_spof.write_text(
            "factors:\n"
            + "".join(f"  {name}: {{weight: {0 if name == 'spof' else 10}}}\n" for name in FACTORS)
        )
        no_spof_weights = load_risk_weights(no_spof)
        assert proposed(estate, ["srv-1"], weights=no_spof_weights).score < spof.score

    def test_spof_agrees_with_impact_spof(self, estate):
        from impact.spof import single_points_of_failure

        spofs = {p.id for p in single_points_of_failure(estate.topology(), "svc-pay")}
        for ci in ("srv-1", "db-pay", "web-1", "pc-1"):
            assert ("svc-pay" in proposed(estate, [ci]).spof_for) is (ci in spofs)

    def test_service_down_raises_level(self, estate):
        result = proposed(estate, ["srv-1"], "standard")
        # svc-pay is critical: a certain outage of a critical service is a critical change
        assert result.level == "critical"
        assert result.level_reasons == (
            "raised to high by rule min_level.service_down",
            "raised to critical by rule min_level.critical_service_down",
        )

    def test_redundancy_left(self, estate):
        result = proposed(estate, ["web-1"], "standard")
        assert result.factor("redundancy").value == 1.0
        assert "cl-web goes to 1 of 2 up (needs 1)" in result.factor("redundancy").detail
        assert result.counts.down == 1  # web-1 itself, out for the window

    def test_open_incidents_count_as_down(self, estate):
        estate.apply(Batch(records=[Incident(id="inc-1", ci_ids=["web-2"])]), actor="t")
        result = proposed(estate, ["web-1"], "standard")
        assert result.assumed_down == ("web-2",)
        assert "svc-mail" in result.services and result.counts.down >= 3
        assert result.factor("history").value == 0.0

    def test_history(self, estate):
        estate.apply(
            Batch(
                records=[
                    Change(
                        id="chg-old",
                        ci_ids=["srv-1"],
                        status="failed",
                        window_start=NOW - timedelta(days=10),
                        window_end=NOW - timedelta(days=9),
                    ),
                    Incident(
                        id="inc-old",
                        ci_ids=["srv-1"],
                        status="closed",
                        opened_at=NOW - timedelta(days=5),
                    ),
                    Incident(
                        id="inc-ancient",
                        ci_ids=["srv-1"],
                        status="closed",
                        opened_at=NOW - timedelta(days=400),
                    ),
                ]
            ),
            actor="t",
        )
        history = proposed(estate, ["srv-1"]).factor("history")
        assert history.value == pytest.approx(2 / 3, abs=1e-3)
        assert "chg-old, inc-old" in history.detail

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"ci_ids": ["ghost"]}, NotFoundError, "CI 'ghost' not found"),
            ({"ci_ids": []}, ValidationError, "at least one CI"),
            ({"change_type": "yolo"}, ValidationError, "field 'type'"),
            ({"window_end": SAT}, ValidationError, "field 'window_end': must be after"),
            ({"window_start": datetime(2026, 1, 10)}, ValidationError, "needs a timezone"),
        ],
    )
    def test_errors(self, estate, kwargs, error, match):
        args = {"ci_ids": ["srv-1"], "change_type": "normal", **window(1), **kwargs}
        with pytest.raises(error, match=match):
            assess_proposed(estate, weights=WEIGHTS, **args)


class TestMaintenanceWindow:
    @pytest.mark.parametrize(
        ("start_hours", "hours", "inside"),
        [
            (1, 2, True),
            (0, 6, True),
            (5, 2, False),
            (-1, 2, False),
            (24 + 1, 4, True),
            (23, 2, False),
            (48, 1, False),
        ],
    )
    def test_default_window(self, estate, start_hours, hours, inside):
        start = SAT + timedelta(hours=start_hours)
        assert (
            in_maintenance_window(start, start + timedelta(hours=hours), "sat,sun 00:00-06:00")
            is inside
        )
        result = assess_proposed(
            estate,
            ci_ids=["web-1"],
            change_type="normal",
            window_start=start,
            window_end=start + timedelta(hours=hours),
            weights=WEIGHTS,
        )
        assert result.factor("maintenance_window").value == (0.0 if inside else 1.0)

    def test_wrapping_windows_and_timezones(self):
        fri_late = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
        assert in_maintenance_window(fri_late, fri_late + timedelta(hours=2), "fri 22:00-02:00")
        assert not in_maintenance_window(fri_late, fri_late + timedelta(hours=3), "fri 22:00-02:00")
        # 01:00-03:00 in Shanghai is 17:00-19:00 UTC the day before
        utc = datetime(2026, 1, 9, 17, tzinfo=UTC)
        assert in_maintenance_window(
            utc, utc + timedelta(hours=2), "sat 00:00-06:00", timezone="Asia/Shanghai"
        )

    def test_service_window_overrides_default(self, estate):
        svc = estate.get_ci("svc-mail")
        estate.apply(
            Batch(
                cis=[
                    svc.model_copy(update={"attributes": {"maintenance_window": "wed 11:00-14:00"}})
                ]
            ),
            actor="t",
        )
        wed = {"window_start": NOW, "window_end": NOW + timedelta(hours=1)}
        result = assess_proposed(
            estate, ci_ids=["web-1"], change_type="normal", **wed, weights=WEIGHTS
        )
        assert result.factor("maintenance_window").value == 0.0
        assert "svc-mail" in result.factor("maintenance_window").detail
        sat = assess_proposed(
            estate, ci_ids=["web-1"], change_type="normal", **window(1), weights=WEIGHTS
        )
        assert sat.factor("maintenance_window").value == 1.0

    @pytest.mark.parametrize("spec", ["someday 00:00-01:00", "sat 25:00-01:00", "sat"])
    def test_bad_spec(self, spec):
        with pytest.raises(ValidationError, match="bad maintenance window"):
            parse_windows(spec)


class TestCollisions:
    def changes(self, store, second_at=2.0, status="approved"):
        a = Change(id="chg-a", ci_ids=["web-1"], title="patch web-1", **window(1))
        b = Change(
            id="chg-b", ci_ids=["web-2"], status=status, title="patch web-2", **window(second_at)
        )
        store.apply(Batch(records=[a, b]), actor="t")
        return a

    def test_k_of_n_group_goes_down_together(self, estate):
        a = self.changes(estate)
        result = assess_change(estate, a.id, now=NOW, weights=WEIGHTS)
        assert result.counts.down == 1  # alone, web-1 (out) only degrades the pool
        (hit,) = result.collisions
        assert (hit.change_id, hit.groups, hit.services) == ("chg-b", ("cl-web",), ("svc-mail",))
        assert hit.overlap_start == SAT + timedelta(hours=2)
        assert result.factor("collisions").value == 1.0
        assert result.level in ("high", "critical") and result.cab_required
        assert any("chg-b" in r for r in result.cab_reasons)
        assert "collision_outage" in " ".join(result.level_reasons)

    @pytest.mark.parametrize(
        ("second_at", "status"), [(3.0, "approved"), (2.0, "cancelled"), (2.0, "implemented")]
    )
    def test_no_collision(self, estate, second_at, status):
        a = self.changes(estate, second_at, status)
        result = assess_change(estate, a.id, now=NOW, weights=WEIGHTS)
        assert result.collisions == () and result.factor("collisions").value == 0.0

    def test_intersecting_without_outage(self, estate):
        topo = estate.topology()
        other = Change(id="c2", ci_ids=["web-2"], **window(0))
        (hit,) = change_collisions(topo, ["app-mail"], **window(1), others=[other])
        assert hit.shared > 0 and hit.down_together == () and not hit.combined_outage


class TestAssessChange:
    def test_not_a_change(self, estate):
        estate.apply(Batch(records=[Incident(id="inc-1", ci_ids=["pc-1"])]), actor="t")
        with pytest.raises(ValidationError, match="'inc-1' is a incident, not a change"):
            assess_change(estate, "inc-1", weights=WEIGHTS)
        with pytest.raises(NotFoundError, match="record 'chg-x' not found"):
            assess_change(estate, "chg-x", weights=WEIGHTS)

    def test_without_window(self, estate):
        estate.apply(Batch(records=[Change(id="chg-1", ci_ids=["pc-1"])]), actor="t")
        result = assess_change(estate, "chg-1", weights=WEIGHTS)
        assert result.factor("maintenance_window").detail == "no window scheduled"

    def test_to_json(self, estate):
        estate.apply(Batch(records=[Change(id="chg-1", ci_ids=["srv-1"], **window(1))]), actor="t")
        data = assess_change(estate, "chg-1", weights=WEIGHTS, now=NOW).to_json()
        assert data["weights"] == "risk_weights.yaml" and data["change_id"] == "chg-1"
        assert data["window_start"] == "2026-01-10T01:00:00Z"
        assert data["counts"] == {  # srv-1 itself counts: it is out for the window
            "down": 5,
            "degraded": 0,
            "at_risk": 0,
            "total": 5,
            "services": 1,
            "customers": 1,
        }
        assert data["services"] == ["svc-pay"] and data["customers"] == ["cust-a"]


class TestRiskWeights:
    """Weights are data: impact builds them from a mapping and never reads a file."""

    def test_from_mapping(self):
        data = {
            "factors": {"spof": {"weight": 2}, "history": {"weight": 1, "saturate": 5}},
            "state_factor": {"down": 1.0},
            "levels": {"low": 0, "high": 40},
            "cab": {"min_level": "high", "change_types": ["emergency"]},
        }
        w = RiskWeights.from_mapping(data, source="inline")
        assert (w.source, dict(w.weights), w.param("history", "saturate", 3)) == (
            "inline",
            {"spof": 2.0, "history": 1.0},
            5,
        )
        assert w.level_for(39) == "low" and w.level_for(40) == "high"
        assert w.cab_types == frozenset({"emergency"}) and w.timezone == ""  # the CMDB's

    def test_changes_assessment(self, estate):
        data = {
            "factors": {"change_type": {"weight": 1, "values": {"standard": 1.0}}},
            "state_factor": {"down": 1.0, "degraded": 0.5, "at_risk": 0.25},
            "levels": {"low": 0, "critical": 50},
            "cab": {"min_level": "critical"},
        }
        result = proposed(
            estate, ["pc-1"], "standard", weights=RiskWeights.from_mapping(data, source="inline")
        )
        assert [f.name for f in result.factors] == ["change_type"]
        assert (result.score, result.level, result.cab_required) == (100.0, "critical", True)
        assert result.weights_source == "inline"

    @pytest.mark.parametrize(
        ("data", "match"),
        [
            ([1, 2], "expected a mapping"),
            ({"factors": [1, 2]}, "invalid"),
            ({"factors": {"spof": {"weight": -1}}}, "weights must"),
        ],
    )
    def test_invalid(self, data, match):
        with pytest.raises(ConfigError, match=f"risk weights inline: .*{match}"):
            RiskWeights.from_mapping(data, source="inline")


class TestProposedChange:
    def test_is_not_recorded(self):
        change = proposed_change(["srv-1", "srv-1"], "emergency", *window(1).values())
        assert (change.id, change.ci_ids, change.type.value) == (None, ["srv-1"], "emergency")
