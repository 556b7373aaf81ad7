"""Alerts files and which CIs would alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.alerts import load_alerts, monitored_mask, parse_alerts
from cmdb.errors import ValidationError
from cmdb.generator import generate_topology
from cmdb.registry import load_registry


class TestParseAlerts:
    @pytest.mark.parametrize(
        ("text", "name"),
        [
            ("id,time,state,severity\napp,2026-01-07T10:00:00,degraded,major\n", "a.csv"),
            ('[{"id": "app", "time": "2026-01-07T10:00:00Z", "state": "degraded"}]', "a.json"),
            (
                '{"alerts": [{"id": "app", "time": "2026-01-07T10:00:00Z", "state": "degraded"}]}',
                "x",
            ),
        ],
    )
    def test_formats(self, text, name):
        (alert,) = parse_alerts(text, name)
        assert (alert.ci_id, alert.state) == ("app", "degraded")
        assert alert.time == datetime(2026, 1, 7, 10, tzinfo=UTC)  # no zone: UTC

    @pytest.mark.parametrize(
        ("text", "name", "match"),
        [
            ("id,time\napp,2026-01-07\nb,never\n", "a.csv", r"a\.csv:3: field 'time'"),
            ("id,state\napp,down\n", "a.csv", r"a\.csv:1: CSV header lacks time"),
            ('[{"id": "app"}]', "a.json", r"a\.json: item 1: field 'time'"),
            ("[1, 2", "a.json", r"a\.json:1: "),
            ('{"x": 1}', "a.json", "expected a list of alerts"),
            ('[{"id": "a", "time": "2026-01-07", "state": "up"}]', "a.json", "field 'state'"),
        ],
    )
    def test_errors_name_file_and_line(self, text, name, match):
        with pytest.raises(ValidationError, match=match):
            parse_alerts(text, name)


class TestLoadAlerts:
    def test_missing_file(self, tmp_path):
        with pytest.raises(ValidationError, match="cannot read alerts"):
            load_alerts(tmp_path / "none.csv")


class TestMonitoredMask:
    @pytest.mark.parametrize(
        ("cls", "alerts"),
        [("desktop", False), ("printer", False), ("customer", False), ("switch", True)],
    )
    def test_registry_flags(self, cls, alerts):
        assert load_registry().classes[cls].alerts is alerts

    def test_class_flag_then_ci_override(self):
        t = generate_topology(1_000, seed=1)
        reg = load_registry()
        pc = next(i for i in range(t.n) if t.class_of(i) == "desktop")
        sw = next(i for i in range(t.n) if t.class_of(i) == "switch")
        mask = monitored_mask(t, reg)
        assert (mask[pc], mask[sw]) == (False, True)
        mask = monitored_mask(t, reg, {t.ids[pc]: True, t.ids[sw]: False, "ghost": True})
        assert (mask[pc], mask[sw]) == (True, False)
