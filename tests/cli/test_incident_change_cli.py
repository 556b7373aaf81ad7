"""End-to-end CLI tests for `cmdb incident`, `cmdb change`, `cmdb problem` and the root-cause
command, with their exit codes."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import main as cli_main
from cli.problem import register_root_cause
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.impact.conftest import estate_batch

SAT = "2026-01-10T01:00"


@pytest.fixture
def loaded(cmdb):
    store = open_store(Settings(db=cmdb.db), create=True)
    store.apply(estate_batch(), actor="test")
    store.close()
    return cmdb


def one_line_error(result, text: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], lines


class TestIncidentCli:
    def test_open_list_show_resolve(self, loaded):
        out = loaded(
            "incident",
            "open",
            "--ci",
            "srv-1",
            "--urgency",
            "high",
            "--title",
            "DB host down",
            "-f",
            "json",
        ).stdout
        data = json.loads(out)
        assert (data["id"], data["priority"], data["impact"]) == ("INC-000001", 1, "high")
        assert data["services"] == ["svc-pay"]
        assert [s["id"] for s in data["service_states"]] == ["svc-pay"]
        assert data["customers"] == ["cust-a"]
        table = loaded(
            "incident", "open", "--ci", "pc-1", "--urgency", "low", "--title", "PC broken"
        ).stdout
        assert "P5" in table
        listed = json.loads(loaded("incident", "list", "--open", "-f", "json").stdout)
        assert [r["id"] for r in listed] == ["INC-000001", "INC-000002"]
        shown = json.loads(loaded("incident", "show", "INC-000002", "-f", "json").stdout)
        assert shown["priority"] == 5
        loaded("incident", "resolve", "INC-000002")
        listed = json.loads(loaded("incident", "list", "--open", "-f", "json").stdout)
        assert [r["id"] for r in listed] == ["INC-000001"]
        assert "INC-000002" in loaded("incident", "list").stdout
        one_line_error(
            loaded("incident", "resolve", "INC-000002", code=1),
            "incident 'INC-000002' is already resolved",
        )

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["incident", "open", "--ci", "ghost", "--urgency", "high", "--title", "x"],
                "CI 'ghost' not found",
            ),
            (["incident", "show", "INC-404"], "record 'INC-404' not found"),
            (["incident", "resolve", "INC-404"], "record 'INC-404' not found"),
        ],
    )
    def test_errors(self, loaded, args, message):
        one_line_error(loaded(*args, code=1), message)

    def test_bad_urgency_is_a_usage_error(self, loaded):
        loaded("incident", "open", "--ci", "srv-1", "--urgency", "asap", "--title", "x", code=2)


class TestChangeCli:
    def test_add_list_assess(self, loaded):
        out = loaded(
            "change",
            "add",
            "--ci",
            "web-1",
            "--type",
            "normal",
            "--start",
            SAT,
            "--end",
            "2026-01-10T03:00",
            "--title",
            "patch web-1",
            "-f",
            "json",
        ).stdout
        assert json.loads(out)["id"] == "CHG-000001"
        loaded(
            "change",
            "add",
            "--ci",
            "web-2",
            "--start",
            "2026-01-10T02:00+00:00",
            "--end",
            "2026-01-10T04:00+00:00",
            "--title",
            "patch web-2",
        )
        listed = json.loads(loaded("change", "list", "-f", "json").stdout)
        assert [c["id"] for c in listed] == ["CHG-000001", "CHG-000002"]
        data = json.loads(loaded("change", "assess", "CHG-000001", "-f", "json").stdout)
        assert data["level"] in ("high", "critical") and data["cab_required"]
        assert (data["window_start"], data["weights"]) == (
            "2026-01-10T01:00:00Z",
            "risk_weights.yaml",
        )
        assert data["collisions"][0]["groups"] == ["cl-web"]
        assert len(data["factors"]) == 11
        table = loaded("change", "assess", "CHG-000001").stdout
        assert "HIGH" in table or "CRITICAL" in table
        assert "Collisions" in table

    def test_ad_hoc(self, loaded):
        out = loaded(
            "change",
            "assess",
            "--ci",
            "pc-1",
            "--type",
            "standard",
            "--start",
            SAT,
            "--end",
            "2026-01-10T02:00",
            "-f",
            "json",
        ).stdout
        data = json.loads(out)
        assert data["change_id"] is None and data["level"] == "low"
        assert not data["cab_required"]

    def test_weights_from_environment(self, loaded, tmp_path, monkeypatch):
        path = tmp_path / "w.yaml"
        path.write_text("cab: {min_level: low}\n")
        monkeypatch.setenv("CMDB_RISK_WEIGHTS", str(path))
        args = [
            "change",
            "assess",
            "--ci",
            "pc-1",
            "--type",
            "standard",
            "--start",
            SAT,
            "--end",
            "2026-01-10T02:00",
            "-f",
            "json",
        ]
        data = json.loads(loaded(*args).stdout)
        assert data["cab_required"] and data["weights"] == str(path)
        path.write_text("factors: nope\n")
        one_line_error(loaded(*args, code=1), "risk weights")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["change", "assess", "CHG-404"], "record 'CHG-404' not found"),
            (
                ["change", "assess", "--ci", "pc-1", "--start", "tomorrow", "--end", SAT],
                "field '--start': not an ISO time",
            ),
            (["change", "assess", "--ci", "pc-1", "--start", SAT], "field '--end': is required"),
            (
                ["change", "assess", "--ci", "ghost", "--start", SAT, "--end", "2026-01-10T02:00"],
                "CI 'ghost' not found",
            ),
            (
                ["change", "assess", "--ci", "pc-1", "--start", SAT, "--end", SAT],
                "must be after window_start",
            ),
            (["change", "assess"], "give a CHANGE_ID"),
            (["change", "assess", "CHG-1", "--ci", "pc-1"], "not both"),
            (
                [
                    "change",
                    "add",
                    "--ci",
                    "ghost",
                    "--start",
                    SAT,
                    "--end",
                    "2026-01-10T02:00",
                    "--title",
                    "x",
                ],
                "CI 'ghost' not found",
            ),
        ],
    )
    def test_errors(self, loaded, args, message):
        one_line_error(loaded(*args, code=1), message)


@pytest.fixture
def with_root_cause(loaded):
    """The `cmdb` app with an `impact` group holding `root-cause`, as cli/impact.py will."""
    app = typer.Typer(cls=cli_main._Group)
    app.callback()(cli_main._root)
    impact = typer.Typer()
    register_root_cause(impact)
    app.add_typer(impact, name="impact")

    def run(*args: str, code: int = 0):
        result = CliRunner().invoke(app, ["--db", str(loaded.db), *args])
        assert result.exit_code == code, (result.output, result.stderr)
        return result

    return run


class TestProblemAndRootCauseCli:
    def test_root_cause_from_cis_and_incidents(self, loaded, with_root_cause):
        data = json.loads(
            with_root_cause(
                "impact",
                "root-cause",
                "--ci",
                "svc-pay",
                "--ci",
                "cust-a",
                "--top",
                "2",
                "-f",
                "json",
            ).stdout
        )
        # a service or a customer is never a root cause (issue 15)
        assert [c["id"] for c in data["candidates"]] == ["app-pay", "db-pay"]
        loaded("incident", "open", "--ci", "app-pay", "--urgency", "high", "--title", "a")
        loaded("incident", "open", "--ci", "svc-pay", "--urgency", "high", "--title", "b")
        table = with_root_cause(
            "impact", "root-cause", "--incidents", "INC-000001,INC-000002"
        ).stdout
        assert "app-pay" in table and "2 symptoms" in table

    def test_root_cause_errors(self, loaded, with_root_cause):
        one_line_error(with_root_cause("impact", "root-cause", code=1), "give symptom CIs")
        one_line_error(
            with_root_cause("impact", "root-cause", "--ci", "ghost", code=1), "CI 'ghost' not found"
        )

    def test_problem_open_and_list(self, loaded):
        loaded("incident", "open", "--ci", "app-pay", "--urgency", "high", "--title", "a")
        loaded("incident", "open", "--ci", "svc-pay", "--urgency", "high", "--title", "b")
        data = json.loads(
            loaded("problem", "open", "--incidents", "INC-000001,INC-000002", "-f", "json").stdout
        )
        assert data["id"] == "PRB-000001" and data["suspected_root"] == "app-pay"
        out = loaded("problem", "open", "--incidents", "INC-000001", "--root", "srv-1").stdout
        assert "srv-1" in out
        listed = json.loads(loaded("problem", "list", "-f", "json").stdout)
        assert [p["suspected_root"] for p in listed] == ["app-pay", "srv-1"]
        one_line_error(
            loaded("problem", "open", "--incidents", "INC-404", code=1),
            "record 'INC-404' not found",
        )


class TestCabOutput:
    """Issue 19: `change list` shows risk and the CAB decision; `incident list` what is due;
    `change assess` names core banking and the redundancy left."""

    @pytest.fixture
    def demo(self, cmdb):
        cmdb("demo")
        return cmdb

    def test_change_list_shows_risk_and_cab(self, demo):
        rows = {c["id"]: c for c in json.loads(demo("change", "list", "-f", "json").stdout)}
        assert rows["CHG-000101"]["risk"]["level"] == "critical"
        assert rows["CHG-000101"]["cab"] == "required"
        assert "risk" not in rows["CHG-000090"]  # implemented: nothing to assess
        table = demo("change", "list", "--open").stdout
        assert "critica" in table and "CHG-000104" in table

    def test_incident_list_shows_what_is_due(self, demo):
        rows = {i["id"]: i for i in json.loads(demo("incident", "list", "-f", "json").stdout)}
        assert rows["INC-000001"]["sla_id"] == "sla-core-banking"
        assert rows["INC-000001"]["resolution_due"].endswith("Z")
        assert "overdue" in demo("incident", "list", "--open").stdout
        args = ["incident", "open", "--ci", "db-core", "--urgency", "high", "--title", "x"]
        opened = json.loads(demo(*args, "-f", "json").stdout)
        assert opened["priority"] == 1 and opened["response_due"] is not None

    def test_change_assess_names_core_banking_and_the_redundancy_left(self, demo):
        out = demo("change", "assess", "CHG-000101").stdout
        assert out.splitlines()[0].startswith("INC-000001 already has")
        assert "svc-core-banking (at_risk)" in out.replace("\n", " ").replace("│", " ") or (
            "svc-core-banking" in out
        )
        assert "sw-core-02" in out and "pm-core-db-02" in out
