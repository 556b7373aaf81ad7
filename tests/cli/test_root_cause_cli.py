"""`cmdb impact root-cause` on the demo, as a problem analyst tries it (issue 15): end-user
devices do not alert, logical CIs are never causes, `--ci` takes lists, `--alerts` a file."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.cli.conftest import Cmdb

    runner = Cmdb(tmp_path_factory.mktemp("rc") / "demo.db")
    runner("demo")
    return runner


def ranked(demo, *args: str) -> dict:
    return json.loads(demo("impact", "root-cause", *args, "-f", "json").stdout)


class TestRootCauseCli:
    @pytest.mark.parametrize(
        "args",
        [
            ("--ci", "pc-br05-001", "--ci", "pc-br05-002", "--ci", "prn-br05-01"),
            (
                "--ci",
                "pc-br05-001,pc-br05-002, prn-br05-01",
            ),
        ],
    )
    def test_branch_devices_point_at_their_switch(self, demo, args):
        data = ranked(demo, *args)
        assert data["symptoms"] == ["pc-br05-001", "pc-br05-002", "prn-br05-01"]
        best = data["candidates"][0]
        assert best["class"] == "switch" and "br05" in best["id"]
        assert best["explained"] == data["symptoms"] and 0 < best["confidence"] <= 1
        assert "explains 3 of 3 symptoms" in best["why"]

    def test_logical_cis_are_never_causes(self, demo):
        data = ranked(demo, "--ci", "cust-br01,cust-br03,cust-br05")
        for c in data["candidates"]:
            assert c["class"] not in {"business_service", "technical_service", "customer", "sla"}

    def test_two_unrelated_incidents_get_two_causes(self, demo):
        data = ranked(demo, "--ci", "pc-br05-001,pc-br05-002,prn-br05-01,app-exchange,svc-email")
        assert data["cause_set"]["causes"] == ["sw-br05-acc-01", "app-exchange"]
        assert data["cause_set"]["unexplained"] == []

    @pytest.mark.parametrize("suffix", ["csv", "json"])
    def test_alerts_file(self, demo, tmp_path, suffix):
        rows = [
            ("sw-br05-acc-01", "2026-01-07T10:00:00Z", "down"),
            ("pc-br05-001", "2026-01-07T10:01:00Z", "down"),
            ("prn-br05-01", "2026-01-07T10:02:00Z", "down"),
        ]
        path = tmp_path / f"alerts.{suffix}"
        if suffix == "csv":
            path.write_text(
                "id,time,state,severity\n" + "".join(f"{a},{t},{s},major\n" for a, t, s in rows)
            )
        else:
            path.write_text(json.dumps([{"id": a, "time": t, "state": s} for a, t, s in rows]))
        best = ranked(demo, "--alerts", str(path))["candidates"][0]
        assert best["id"] == "sw-br05-acc-01"
        assert any(e["kind"] == "onset" and e["value"] > 0 for e in best["evidence"])

    def test_table_explains(self, demo):
        out = demo("impact", "root-cause", "--ci", "pc-br05-001,pc-br05-002,prn-br05-01").stdout
        assert "Likely root causes" in out and "sw-br05-acc-01" in out

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("id,time,state\nx,not-a-time,down\n", "alerts.csv:2: field 'time'"),
            ("id,when\nx,1\n", "alerts.csv:1: CSV header lacks time"),
            ("id,time,state\npc-br05-001,2026-01-07T10:00:00Z,sideways\n", "field 'state'"),
        ],
    )
    def test_bad_alerts_file(self, demo, tmp_path, content, message):
        path = tmp_path / "alerts.csv"
        path.write_text(content)
        result = demo("impact", "root-cause", "--alerts", str(path), code=1)
        assert message in result.stderr
