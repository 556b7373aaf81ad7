"""End-to-end CLI tests for `cmdb release` and `cmdb impact suppliers`, on the demo."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from tests.cli.conftest import Cmdb

    runner = Cmdb(tmp_path_factory.mktemp("rel") / "demo.db")
    runner("demo")
    return runner.db


@pytest.fixture
def demo(demo_db, tmp_path):
    import shutil

    from tests.cli.conftest import Cmdb

    shutil.copyfile(demo_db, tmp_path / "demo.db")
    return Cmdb(tmp_path / "demo.db")


def one_line_error(result, text: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], lines


class TestReleaseCli:
    def test_create_list_show_assess(self, demo):
        out = demo("release", "create", "--change", "CHG-000101,CHG-000102", "--title", "DC core")
        assert "recorded REL-000001" in out.stderr + out.output
        rows = json.loads(demo("release", "list", "--open", "-f", "json").output)
        assert [(r["id"], r["change_ids"]) for r in rows] == [
            ("REL-000001", ["CHG-000101", "CHG-000102"])
        ]
        shown = demo("release", "show", "REL-000001").output
        assert "NX-OS upgrade" in shown and "DC core" in shown
        data = json.loads(demo("release", "assess", "REL-000001", "-f", "json").output)
        assert data["together"][0] == "cl-core-sw" and "svc-core-banking" in data["together"]
        assert [s["down"] for s in data["shares"]] == [1, 1]  # each takes down only itself
        assert all(s["share"] < 0.01 for s in data["shares"])
        assert data["decision"] == "approval" and data["level"] == "critical"
        assert data["suppliers"][0]["id"] in ("sup-cisco", "sup-huawei")
        table = demo("release", "assess", "REL-000001").output
        assert "cl-core-sw" in table and "Release policy" in table and "Whom to call" in table

    def test_emergency_release_is_refused_on_an_sla_at_risk(self, demo):
        out = demo("release", "create", "--change", "CHG-000104", "--emergency", "-f", "json")
        rel = json.loads(out.output)
        assert rel["type"] == "emergency"
        table = demo("release", "assess", rel["id"]).output
        assert table.startswith("REFUSED by rule no_emergency_on_sla_at_risk")
        assert "INC-000001" in table and "emergency" in table.lower()

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["release", "create"], "--change"),
            (["release", "create", "--change", "CHG-404"], "record 'CHG-404' not found"),
            (["release", "create", "--change", "CHG-000090"], "is implemented"),
            (
                ["release", "create", "--change", "CHG-000103", "--start", "2026-01-01T00:00"],
                "both",
            ),
            (["release", "create", "--change", "CHG-000103", "--start", "x", "--end", "y"], "ISO"),
            (["release", "show", "CHG-000101"], "not a release"),
            (["release", "assess", "INC-000001"], "not a release"),
            (["release", "assess", "REL-404"], "not found"),
            (["impact", "suppliers", "ghost"], "ghost"),
        ],
    )
    def test_errors(self, demo, args, message):
        one_line_error(demo(*args, code=1), message)

    def test_bad_policy_file(self, demo, tmp_path):
        demo("release", "create", "--change", "CHG-000103")
        bad = tmp_path / "p.yaml"
        bad.write_text("rules: {x: {check: nope}}\n")
        one_line_error(
            demo("release", "assess", "REL-000001", "--policy", str(bad), code=1), "release policy"
        )


class TestImpactSuppliersCli:
    def test_weaker_and_fine_contracts(self, demo):
        data = json.loads(demo("impact", "suppliers", "svc-core-banking", "-f", "json").output)
        verdict = {c["contract"]: c["weaker"] for c in data["contracts"]}
        assert verdict["uc-cisco-smartnet"] is True and verdict["uc-telecom-mpls"] is False
        table = demo("impact", "suppliers", "svc-core-banking").output
        assert "WEAKER" in table and "uc-telecom-mpls" in table and "sla-core-banking" in table

    def test_blast_radius_and_depends_on_name_suppliers(self, demo):
        table = demo("impact", "blast-radius", "sw-dc-acc-05").output
        assert "Whom to call" in table and "sup-cisco" in table
        data = json.loads(demo("impact", "depends-on", "app-core-banking", "-f", "json").output)
        assert "sup-oracle" in [s["id"] for s in data["suppliers"]]
        assert "Suppliers of" in demo("impact", "depends-on", "app-core-banking").output

    def test_change_assess_names_suppliers(self, demo):
        assert "Whom to call" in demo("change", "assess", "CHG-000101").output
