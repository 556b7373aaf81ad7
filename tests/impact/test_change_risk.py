"""Change risk: factors, monotonicity, SPOF, collisions (incl. k-of-n), windows, weights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.errors import ConfigError, NotFoundError, ValidationError
from cmdb.model import Batch, Change, Incident
from impact.change_risk import (
    assess_change,
    assess_proposed,
    load_risk_weights,
    record_change,
)
from impact.collisions import change_collisions, in_maintenance_window, parse_windows
from tests.impact.conftest import NOW

FACTORS = ["blast_radius", "services", "customers", "spof", "redundancy", "change_type",
           "history", "maintenance_window", "collisions"]
SAT = datetime(2026, 1, 10, tzinfo=UTC)  # a Saturday, 00:00




def window(start_hours: float, hours: float = 2) -> dict:
    start = SAT + timedelta(hours=start_hours)
    return {"window_start": start, "window_end": start + timedelta(hours=hours)}


def proposed(store, cis, change_type="normal", at=1.0, **kw):
    return assess_proposed(store, ci_ids=cis, change_type=change_type, now=NOW, **window(at),
                           **kw)


class TestAssessProposed:
    def test_every_factor_is_listed(self, estate):
        result = proposed(estate, ["srv-1"])
        assert [f.name for f in result.factors] == FACTORS
        assert all(f.detail and 0 <= f.value <= 1 for f in result.factors)
        assert result.score == pytest.approx(sum(f.points for f in result.factors), abs=0.1)
        data = result.to_json()
        assert set(data) >= {"score", "level", "cab_required", "cab_reasons", "factors",
                              "collisions", "spof_for", "services", "counts"}
        assert data["factors"][0] == {"name": "blast_radius", "weight": 10.0,
                                      "value": result.factors[0].value,
                                      "points": result.factors[0].points,
                                      "detail": result.factors[0].detail}

    def test_change_type_is_monotonic(self, estate):
        scores = [proposed(estate, ["web-1"], kind).score
                  for kind in ("standard", "normal", "emergency")]
        assert scores[0] < scores[1] < scores[2]
        assert proposed(estate, ["web-1"], "emergency").cab_required

    def test_spof_raises_risk(self, estate, tmp_path):
        spof = proposed(estate, ["srv-1"])
        assert spof.spof_for == ("svc-pay",) and spof.factor("spof").value == 1.0
        assert proposed(estate, ["web-1"]).factor("spof").value == 0.0
        no_spof = tmp_path / "w.yaml"
        no_spof.write_text("factors:\n" + "".join(
            f"  {name}: {{weight: {0 if name == 'spof' else 10}}}\n" for name in FACTORS))
        assert proposed(estate, ["srv-1"], weights=no_spof).score < spof.score

    def test_spof_agrees_with_impact_spof(self, estate):
        from impact.spof import single_points_of_failure

        spofs = {p.id for p in single_points_of_failure(estate.topology(), "svc-pay")}
        for ci in ("srv-1", "db-pay", "web-1", "pc-1"):
            assert ("svc-pay" in proposed(estate, [ci]).spof_for) is (ci in spofs)

    def test_service_down_raises_level(self, estate):
        result = proposed(estate, ["srv-1"], "standard")
        assert result.level == "high"
        assert result.level_reasons == ("raised to high by rule min_level.service_down",)

    def test_redundancy_left(self, estate):
        result = proposed(estate, ["web-1"], "standard")
        assert result.factor("redundancy").value == 1.0
        assert "fewest spare members left: 0" in result.factor("redundancy").detail
        assert result.counts["down"] == 0

    def test_open_incidents_count_as_down(self, estate):
        estate.apply(Batch(records=[Incident(id="inc-1", ci_ids=["web-2"])]), actor="t")
        result = proposed(estate, ["web-1"], "standard")
        assert result.assumed_down == ("web-2",)
        assert "svc-mail" in result.services and result.counts["down"] >= 3
        assert result.factor("history").value == 0.0

    def test_history(self, estate):
        estate.apply(Batch(records=[
            Change(id="chg-old", ci_ids=["srv-1"], status="failed",
                   window_start=NOW - timedelta(days=10), window_end=NOW - timedelta(days=9)),
            Incident(id="inc-old", ci_ids=["srv-1"], status="closed",
                     opened_at=NOW - timedelta(days=5)),
            Incident(id="inc-ancient", ci_ids=["srv-1"], status="closed",
                     opened_at=NOW - timedelta(days=400)),
        ]), actor="t")
        history = proposed(estate, ["srv-1"]).factor("history")
        assert history.value == pytest.approx(2 / 3, abs=1e-3)
        assert "chg-old, inc-old" in history.detail

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [({"ci_ids": ["ghost"]}, NotFoundError, "CI 'ghost' not found"),
         ({"ci_ids": []}, ValidationError, "at least one CI"),
         ({"change_type": "yolo"}, ValidationError, "field 'type'"),
         ({"window_end": SAT}, ValidationError, "field 'window_end': must be after"),
         ({"window_start": datetime(2026, 1, 10)}, ValidationError, "needs a timezone")],
    )
    def test_errors(self, estate, kwargs, error, match):
        args = {"ci_ids": ["srv-1"], "change_type": "normal", **window(1), **kwargs}
        with pytest.raises(error, match=match):
            assess_proposed(estate, **args)


class TestMaintenanceWindow:
    @pytest.mark.parametrize(
        ("start_hours", "hours", "inside"),
        [(1, 2, True), (0, 6, True), (5, 2, False), (-1, 2, False), (24 + 1, 4, True),
         (23, 2, False), (48, 1, False)],
    )
    def test_default_window(self, estate, start_hours, hours, inside):
        start = SAT + timedelta(hours=start_hours)
        assert in_maintenance_window(start, start + timedelta(hours=hours),
                                     "sat,sun 00:00-06:00") is inside
        result = assess_proposed(estate, ci_ids=["web-1"], change_type="normal",
                                 window_start=start, window_end=start + timedelta(hours=hours))
        assert result.factor("maintenance_window").value == (0.0 if inside else 1.0)

    def test_wrapping_windows_and_timezones(self):
        fri_late = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
        assert in_maintenance_window(fri_late, fri_late + timedelta(hours=2), "fri 22:00-02:00")
        assert not in_maintenance_window(fri_late, fri_late + timedelta(hours=3),
                                         "fri 22:00-02:00")
        # 01:00-03:00 in Shanghai is 17:00-19:00 UTC the day before
        utc = datetime(2026, 1, 9, 17, tzinfo=UTC)
        assert in_maintenance_window(utc, utc + timedelta(hours=2), "sat 00:00-06:00",
                                     timezone="Asia/Shanghai")

    def test_service_window_overrides_default(self, estate):
        svc = estate.get_ci("svc-mail")
        estate.apply(Batch(cis=[svc.model_copy(update={
            "attributes": {"maintenance_window": "wed 11:00-14:00"}})]), actor="t")
        wed = {"window_start": NOW, "window_end": NOW + timedelta(hours=1)}
        result = assess_proposed(estate, ci_ids=["web-1"], change_type="normal", **wed)
        assert result.factor("maintenance_window").value == 0.0
        assert "svc-mail" in result.factor("maintenance_window").detail
        sat = assess_proposed(estate, ci_ids=["web-1"], change_type="normal", **window(1))
        assert sat.factor("maintenance_window").value == 1.0

    @pytest.mark.parametrize("spec", ["someday 00:00-01:00", "sat 25:00-01:00", "sat"])
    def test_bad_spec(self, spec):
        with pytest.raises(ValidationError, match="bad maintenance window"):
            parse_windows(spec)


class TestCollisions:
    def changes(self, store, second_at=2.0, status="approved"):
        a = record_change(store, ci_ids=["web-1"], change_type="normal", title="patch web-1",
                          actor="t", **window(1))
        b = Change(id="chg-b", ci_ids=["web-2"], status=status, title="patch web-2",
                   **window(second_at))
        store.apply(Batch(records=[b]), actor="t")
        return a

    def test_k_of_n_group_goes_down_together(self, estate):
        a = self.changes(estate)
        result = assess_change(estate, a.id, now=NOW)
        assert result.counts["down"] == 0  # alone, web-1 only degrades the pool
        (hit,) = result.collisions
        assert (hit.change_id, hit.groups, hit.services) == ("chg-b", ("cl-web",), ("svc-mail",))
        assert hit.overlap_start == SAT + timedelta(hours=2)
        assert result.factor("collisions").value == 1.0
        assert result.level in ("high", "critical") and result.cab_required
        assert any("chg-b" in r for r in result.cab_reasons)
        assert "collision_outage" in " ".join(result.level_reasons)

    @pytest.mark.parametrize(("second_at", "status"), [(3.0, "approved"), (2.0, "cancelled"),
                                                        (2.0, "implemented")])
    def test_no_collision(self, estate, second_at, status):
        a = self.changes(estate, second_at, status)
        result = assess_change(estate, a.id, now=NOW)
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
            assess_change(estate, "inc-1")
        with pytest.raises(NotFoundError, match="record 'chg-x' not found"):
            assess_change(estate, "chg-x")

    def test_without_window(self, estate):
        estate.apply(Batch(records=[Change(id="chg-1", ci_ids=["pc-1"])]), actor="t")
        result = assess_change(estate, "chg-1")
        assert result.factor("maintenance_window").detail == "no window scheduled"


class TestWeights:
    def test_default(self):
        w = load_risk_weights()
        assert list(w.weights) == FACTORS and w.source == "risk_weights.yaml"
        assert w.level_for(0) == "low" and w.level_for(80) == "critical"

    def test_override_keeps_missing_sections(self, tmp_path):
        path = tmp_path / "w.yaml"
        path.write_text("levels: {low: 0, medium: 10, high: 20, critical: 30}\n")
        w = load_risk_weights(path)
        assert w.level_for(25) == "high" and w.source == str(path)
        assert list(w.weights) == FACTORS

    def test_override_changes_assessment(self, estate, tmp_path):
        path = tmp_path / "strict.yaml"
        path.write_text("cab: {min_level: low}\n")
        result = proposed(estate, ["pc-1"], "standard", weights=path)
        assert result.level == "low" and result.cab_required

    @pytest.mark.parametrize(
        ("text", "match"),
        [("factors: [1, 2]", "invalid"), ("factors:\n  spof: {weight: -1}\n", "weights must"),
         ("levels: {low: 0, huge: 10}\n", "levels must"), ("a: [\n", "not valid YAML"),
         ("- 1\n", "mapping"), ("cab: {min_level: extreme}\n", "unknown level"),
         ("maintenance_windows: {default: 'sat 99:00-01:00'}\n", "bad maintenance window"),
         ("maintenance_windows: {timezone: Mars/Olympus}\n", "unknown timezone")],
    )
    def test_invalid(self, tmp_path, text, match):
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_risk_weights(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(ConfigError, match="cannot read risk weights"):
            load_risk_weights(tmp_path / "none.yaml")


class TestRecordChange:
    def test_records_requested_change(self, estate):
        change = record_change(estate, ci_ids=["srv-1"], change_type="emergency", title="fix",
                               actor="t", **window(1))
        assert (change.id, change.status.value, change.type.value) == (
            "CHG-000001", "requested", "emergency")

    def test_unknown_ci(self, estate):
        with pytest.raises(NotFoundError, match="CI 'ghost' not found"):
            record_change(estate, ci_ids=["ghost"], change_type="normal", title="x",
                          actor="t", **window(1))
