"""`cmdb discover`: a scanner into the store, dry run, runs, purge, bad input, diff."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from cmdb.model import utcnow
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.cmdb.test_drift import build, manifest, sdk_traces

FIXTURES = Path(__file__).parents[1] / "discovery" / "fixtures" / "inventory"
CSV, MAPPING = FIXTURES / "bookshop.csv", FIXTURES / "bookshop-mapping.yaml"


def discover(cmdb, *args, code=0):
    return cmdb("discover", "inventory", *args, "--mapping", str(MAPPING), code=code)


class TestDiscover:
    def test_inventory_then_blast_radius(self, cmdb):
        out = discover(cmdb, str(CSV)).stdout
        assert "RUN-000001 applied: 10 created" in out and "(complete)" in out
        got = json.loads(
            cmdb("impact", "blast-radius", "inventory:esx-01", "--format", "json").stdout
        )
        down = {a["id"] for a in got["affected"] if a["state"] == "down"}
        assert down == {
            "inventory:web-01",
            "inventory:app-01",
            "inventory:storefront",
            "inventory:orders",
            "inventory:bookshop",
        }

    def test_dry_run_writes_nothing_then_equals_the_real_run(self, cmdb):
        cmdb("init")
        dry = json.loads(discover(cmdb, str(CSV), "--dry-run", "--format", "json").stdout)
        assert dry["dry_run"] and dry["run_id"] is None
        assert json.loads(cmdb("ci", "list", "--format", "json").stdout) == []
        assert json.loads(cmdb("discover", "runs", "--format", "json").stdout) == []
        real = json.loads(discover(cmdb, str(CSV), "--format", "json").stdout)
        strip = ("now",)
        assert {k: v for k, v in real["plan"].items() if k not in strip} == {
            k: v for k, v in dry["plan"].items() if k not in strip
        }
        assert real["result"]["created"] == 10 + 11  # CIs and relationships

    def test_dry_run_text_lists_the_plan(self, cmdb):
        cmdb("init")
        out = discover(cmdb, str(CSV), "--dry-run", "--show", "3").stdout
        assert "would reconcile (dry run, nothing written): 10 created" in out
        assert "inventory:bookshop: created (business_service)" in out
        assert "... and" in out

    def test_second_run_changes_nothing(self, cmdb):
        discover(cmdb, str(CSV))
        before = cmdb("ci", "show", "inventory:db-01", "--format", "json").stdout
        out = discover(cmdb, str(CSV)).stdout
        assert "0 created, 0 updated, 0 marked stale, 10 unchanged" in out
        after = cmdb("ci", "show", "inventory:db-01", "--format", "json").stdout
        assert json.loads(before)["version"] == json.loads(after)["version"]

    def test_runs_and_purge(self, cmdb, tmp_path):
        discover(cmdb, str(CSV))
        runs = json.loads(cmdb("discover", "runs", "--format", "json").stdout)
        assert [(r["id"], r["source"], r["status"], r["complete"]) for r in runs] == [
            ("RUN-000001", "inventory", "applied", True)
        ]
        assert "RUN-000001" in cmdb("discover", "runs").stdout
        out = cmdb(
            "discover", "purge", "--source", "inventory", "--stale-for", "0s", "--dry-run"
        ).stdout
        assert "would retire 0 CIs and 0 relationships" in out

    def test_stale_marks_after_a_complete_run(self, cmdb, tmp_path, monkeypatch):
        monkeypatch.setenv("CMDB_DISCOVERY_STALE_RUNS", "1")
        copy = tmp_path / "bookshop.csv"
        shutil.copy(CSV, copy)
        discover(cmdb, str(copy))
        lines = CSV.read_text().splitlines()[:-1]  # esx-01 is gone, and so is what it hosts
        copy.write_text("\n".join(line.replace(",esx-01,", ",,") for line in lines) + "\n")
        out = discover(cmdb, str(copy)).stdout
        assert "inventory:esx-01: marked stale" in out
        assert "inventory:web-01|hosted_on|inventory:esx-01: marked stale" in out
        out = cmdb("discover", "purge", "--source", "inventory", "--stale-for", "0s").stdout
        assert "retired 1 CIs and 0 relationships" in out  # its relationships retire with it
        got = json.loads(cmdb("ci", "show", "inventory:esx-01", "--format", "json").stdout)
        assert got["status"] == "retired"


class TestBadInput:
    @pytest.mark.parametrize(
        "text, where",
        [
            ("Name,Type\nweb,vm\nweb,vm\n", "hosts.csv:3: 'web' is already at"),
            ("Name,Type\nweb,robot\n", "hosts.csv:2: field 'class': unknown CI class 'robot'"),
        ],
    )
    def test_names_file_and_line_exit_1_nothing_written(self, cmdb, tmp_path, text, where):
        bad = tmp_path / "hosts.csv"
        bad.write_text(text)
        mapping = tmp_path / "map.yaml"
        mapping.write_text(
            "class: {column: Type, values: {vm: virtual_machine}}\ncolumns: {name: Name}\n"
        )
        result = cmdb("discover", "inventory", str(bad), "--mapping", str(mapping), code=1)
        assert where in result.stderr and len(result.stderr.strip().splitlines()) == 1
        if Path(cmdb.db).exists():  # the registry check runs against the store
            assert json.loads(cmdb("ci", "list", "--format", "json").stdout) == []
            assert json.loads(cmdb("discover", "runs", "--format", "json").stdout) == []

    def test_unknown_scanner_and_missing_mapping(self, cmdb):
        assert cmdb("discover", "nope", "x", code=2).exit_code == 2
        result = cmdb("discover", "inventory", str(CSV), code=1)
        assert "needs --mapping" in result.stderr


class TestDiff:
    """`cmdb discover diff`: the kubernetes scanner through the CLI declares, hand-built otel
    scans (tests/cmdb/test_drift.py) observe, ten days and one hour ago."""

    @pytest.fixture
    def cmdb(self, cmdb, tmp_path):
        store = open_store(Settings(db=cmdb.db))
        try:
            build(store, tmp_path, t2=utcnow() - timedelta(hours=1))
        finally:
            store.close()
        return cmdb

    def diff(self, cmdb, *args, code=0):
        return cmdb(
            "discover", "diff", "--declared", "kubernetes", "--observed", "otel", *args, code=code
        )

    def test_table_has_a_section_per_list_and_a_summary(self, cmdb, monkeypatch):
        monkeypatch.setenv("COLUMNS", "200")
        out = self.diff(cmdb).stdout
        for title in (
            "runs but is not declared (2)",
            "declared but not observed (1)",
            "declared and observed (3)",
            "declared, not covered by the observed sources (14)",
        ):
            assert title in out
        assert "k8s:ops/Deployment/batch not seen by otel" in out
        assert (
            out.strip()
            .splitlines()[-1]
            .startswith(
                "2 undeclared, 1 declared but not observed, 3 confirmed, 14 not covered (otel vs "
                "kubernetes)"
            )
        )

    def test_json_with_a_window(self, cmdb):
        got = json.loads(self.diff(cmdb, "--window", "7d", "--format", "json").stdout)
        assert got["counts"] == {
            "undeclared": 1,
            "unobserved": 2,
            "confirmed": 2,
            "not_covered": 14,
        }
        assert [e["id"] for e in got["undeclared"]] == [
            "k8s:shop/Deployment/checkout|depends_on|otel:payment"
        ]
        assert got["window"] == "P7D" and got["declared"] == ["kubernetes"]

    def test_show_limits_each_table(self, cmdb):
        out = self.diff(cmdb, "--show", "1").stdout
        assert "... and 13 more (--show, or --format json)" in out
        assert "... and 1 more" in out and "k8s:shop/Service/redis" not in out

    @pytest.mark.parametrize(("window", "code"), [(None, 1), ("1s", 0)])
    def test_fail_on_undeclared_gates_a_pipeline(self, cmdb, window, code):
        args = ["--fail-on-undeclared", "--format", "json"]
        result = self.diff(cmdb, *args, *(["--window", window] if window else []), code=code)
        assert json.loads(result.stdout)["counts"]["undeclared"] == (2 if code else 0)

    def test_comma_lists_and_repeats(self, cmdb):
        got = json.loads(
            cmdb(
                "discover",
                "diff",
                "--declared",
                "kubernetes,kubernetes",
                "--observed",
                "otel",
                "--observed",
                "otel",
                "--format",
                "json",
            ).stdout
        )
        assert (got["declared"], got["observed"]) == (["kubernetes"], ["otel"])

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["--declared", "kubernetes", "--observed", "otell"],
                "field 'observed': no relationship was ever seen by source 'otell'",
            ),
            (
                ["--declared", "kubernetes,otel", "--observed", "otel"],
                "source 'otel' is both declared and observed",
            ),
            (
                ["--declared", "kubernetes", "--observed", "otel", "--window", "soon"],
                "field 'window': expected a duration like 30d",
            ),
        ],
    )
    def test_bad_arguments_exit_1_with_one_line(self, cmdb, args, message):
        result = cmdb("discover", "diff", *args, code=1)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1

    def test_both_sides_are_required(self, cmdb):
        result = cmdb("discover", "diff", "--observed", "otel", code=2)
        assert "--declared" in result.stderr


class TestRuntimeScanners:
    """`cmdb discover host` takes no PATH; `cmdb discover otel` then `diff`, end to end."""

    def test_host_needs_no_paths(self, cmdb):
        got = json.loads(cmdb("discover", "host", "--dry-run", "--format", "json").stdout)
        assert got["dry_run"] and got["plan"]["source"] == "host"
        assert any(c["ci_class"] == "application_instance" for c in got["plan"]["creates"])

    def test_file_scanners_still_need_paths(self, cmdb):
        result = cmdb("discover", "kubernetes", code=2)
        assert "Missing argument 'PATH...'" in result.stderr

    def test_kubernetes_otel_then_diff(self, cmdb, tmp_path):
        cmdb("discover", "kubernetes", str(manifest(tmp_path / "app.yaml")))
        cmdb("discover", "otel", str(sdk_traces(tmp_path / "traces.json")), "--min-calls", "1")
        args = ["discover", "diff", "--declared", "kubernetes", "--observed", "otel"]
        got = json.loads(cmdb(*args, "--window", "1h", "--format", "json").stdout)
        assert got["counts"] == {
            "undeclared": 1,
            "unobserved": 1,
            "confirmed": 2,
            "not_covered": 15,
        }
        result = cmdb(*args, "--fail-on-undeclared", code=1)
        assert "1 undeclared, 1 declared but not observed, 2 confirmed" in result.stdout

    def test_min_calls_drops_rare_dependencies(self, cmdb, tmp_path):
        cmdb("discover", "kubernetes", str(manifest(tmp_path / "app.yaml")))
        cmdb("discover", "otel", str(sdk_traces(tmp_path / "traces.json")), "--min-calls", "2")
        result = cmdb("discover", "diff", "--declared", "kubernetes", "--observed", "otel", code=1)
        assert "no relationship was ever seen by source 'otel'" in result.stderr

    def test_min_calls_is_an_otel_option(self, cmdb, tmp_path):
        path = str(manifest(tmp_path / "app.yaml"))
        result = cmdb("discover", "kubernetes", path, "--min-calls", "2", code=1)
        assert "the kubernetes scanner takes no --min-calls" in result.stderr
