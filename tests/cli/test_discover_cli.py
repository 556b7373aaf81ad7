"""`cmdb discover`: a scanner into the store, dry run, runs, purge, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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
