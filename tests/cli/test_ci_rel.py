"""End-to-end CLI tests for `cmdb ci` and `cmdb rel`, including exit codes for bad input."""

from __future__ import annotations

import json

import pytest


def add_db_stack(cmdb):
    cmdb(
        "ci",
        "add",
        "cb-db",
        "--class",
        "database",
        "--name",
        "Core DB",
        "--set",
        "engine=oracle",
        "--owner",
        "dba-team",
        "--ip",
        "10.1.1.5",
    )
    cmdb(
        "ci",
        "add",
        "cb-app",
        "--class",
        "application",
        "--name",
        "Core app",
        "--criticality",
        "critical",
    )
    cmdb("rel", "add", "cb-app", "depends_on", "cb-db")


class TestCi:
    def test_add_show_list(self, cmdb):
        add_db_stack(cmdb)
        shown = json.loads(cmdb("ci", "show", "cb-db", "--format", "json").stdout)
        assert shown["class"] == "database" and shown["attributes"] == {"engine": "oracle"}
        assert shown["identifiers"]["ips"] == ["10.1.1.5"]
        assert [r["source"] for r in shown["relationships"]] == ["cb-app"]
        listed = json.loads(cmdb("ci", "list", "--class", "database", "-f", "json").stdout)
        assert [c["id"] for c in listed] == ["cb-db"]
        by_ip = json.loads(cmdb("ci", "list", "--identifier", "10.1.1.5", "-f", "json").stdout)
        assert [c["id"] for c in by_ip] == ["cb-db"]
        assert "cb-app" in cmdb("ci", "list").stdout

    def test_update_and_retire_are_in_history(self, cmdb):
        add_db_stack(cmdb)
        out = cmdb(
            "ci",
            "update",
            "cb-db",
            "--owner",
            "dba-2",
            "--set",
            "version=19c",
            "--change",
            "CHG-1",
            "-f",
            "json",
        ).stdout
        assert json.loads(out)["owner"] == "dba-2"
        assert json.loads(out)["version"] == 2
        cmdb("ci", "retire", "cb-db")
        listed = json.loads(cmdb("ci", "list", "-f", "json").stdout)
        assert [c["id"] for c in listed] == ["cb-app"]
        assert json.loads(cmdb("rel", "list", "-f", "json").stdout) == []

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["ci", "add", "x", "--class", "spaceship", "--name", "X"],
                "field 'class': unknown CI class 'spaceship'",
            ),
            (
                ["ci", "add", "x", "--class", "database", "--name", "X"],
                "field 'attributes.engine': required",
            ),
            (["ci", "add", "bad id", "--class", "application", "--name", "X"], "field 'id'"),
            (
                ["ci", "add", "x", "--class", "application", "--name", "X", "--ip", "999.1.1.1"],
                "'999.1.1.1' is not an IP address",
            ),
            (
                ["ci", "add", "x", "--class", "application", "--name", "X", "--set", "novalue"],
                "field '--set': expected NAME=VALUE",
            ),
            (
                [
                    "ci",
                    "add",
                    "cb-db",
                    "--class",
                    "database",
                    "--name",
                    "X",
                    "--set",
                    "engine=oracle",
                ],
                "CI 'cb-db' already exists",
            ),
            (["ci", "show", "ghost"], "CI 'ghost' not found"),
            (["ci", "update", "ghost", "--owner", "x"], "CI 'ghost' not found"),
            (["ci", "update", "cb-db", "--unset", "colour"], "has no such attribute"),
            (["ci", "update", "cb-db", "--set", "engine=excel"], "'excel' is not one of"),
            (["ci", "retire", "ghost"], "CI 'ghost' not found"),
            (["ci", "list", "--class", "spaceship"], "field '--class': unknown CI class"),
            (["rel", "add", "cb-app", "flies_to", "cb-db"], "unknown relationship type 'flies_to'"),
            (["rel", "add", "cb-app", "depends_on", "ghost"], "CI 'ghost' does not exist"),
            (["rel", "add", "cb-app", "depends_on", "cb-db"], "exists"),
            (["rel", "add", "cb-app", "depends_on", "cb-app"], "cannot join 'cb-app' to itself"),
            (["rel", "remove", "cb-db", "depends_on", "cb-app"], "not found"),
            (["rel", "list", "--type", "flies_to"], "unknown relationship type"),
        ],
    )
    def test_user_errors_are_one_line_and_exit_1(self, cmdb, args, message):
        add_db_stack(cmdb)
        result = cmdb(*args, code=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:")
        assert message in lines[0]

    def test_usage_error_exits_2(self, cmdb):
        cmdb("ci", "add", "x", code=2)
        cmdb("ci", "list", "--format", "yaml", code=2)

    def test_set_reads_values_as_the_registry_types_them(self, cmdb):
        """`--set version=12.2` is text for a database (declared str), as in a CSV import."""
        out = cmdb(
            "ci",
            "add",
            "db-9",
            "--class",
            "database",
            "--name",
            "DB",
            "--set",
            "engine=oracle",
            "--set",
            "version=12.2",
            "--set",
            "port=1521",
            "-f",
            "json",
        ).stdout
        assert json.loads(out)["attributes"] == {
            "engine": "oracle",
            "version": "12.2",
            "port": 1521,
        }
        out = cmdb("ci", "update", "db-9", "--set", "version=19.3", "-f", "json").stdout
        assert json.loads(out)["attributes"]["version"] == "19.3"

    def test_show_lists_missing_recommended(self, cmdb):
        add_db_stack(cmdb)
        shown = json.loads(cmdb("ci", "show", "cb-db", "-f", "json").stdout)
        assert shown["missing_recommended"] == ["version"]
        assert "missing recommended" in cmdb("ci", "show", "cb-db").stdout

    def test_show_of_a_hub_counts_by_type_and_lists_the_first(self, cmdb):
        add_db_stack(cmdb)
        for i in range(4):
            cmdb("ci", "add", f"app-{i}", "--class", "application", "--name", f"App {i}")
            cmdb("rel", "add", f"app-{i}", "depends_on", "cb-db")
        table = cmdb("ci", "show", "cb-db", "--limit", "2").stdout
        assert "Relationships by type" in table and "2 of 5 shown" in table
        shown = json.loads(cmdb("ci", "show", "cb-db", "-f", "json", "--limit", "3").stdout)
        assert len(shown["relationships"]) == 3 and shown["relationships_total"] == 5
        assert shown["relationship_counts"] == [
            {"type": "depends_on", "direction": "in", "count": 5}
        ]
        everything = json.loads(cmdb("ci", "show", "cb-db", "-f", "json").stdout)
        assert len(everything["relationships"]) == 5
        assert "Relationships by type" not in cmdb("ci", "show", "cb-db").stdout

    def test_oversized_value_is_one_line(self, cmdb):
        result = cmdb(
            "ci",
            "add",
            "big",
            "--class",
            "application",
            "--name",
            "Big",
            "--set",
            "blob=" + "x" * 70_000,
            code=1,
        )
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "field 'attributes.blob'" in lines[0]
        assert "the limit is 65,536" in lines[0] and "xxxx" not in lines[0]

    def test_bad_setting_is_one_line(self, cmdb, monkeypatch):
        monkeypatch.setenv("CMDB_STALE_DAYS", "soon")
        result = cmdb("ci", "list", code=1)
        assert "CMDB_STALE_DAYS" in result.stderr


class TestRel:
    def test_add_list_remove(self, cmdb):
        add_db_stack(cmdb)
        rels = json.loads(cmdb("rel", "list", "--ci", "cb-db", "-f", "json").stdout)
        assert [(r["source"], r["type"], r["target"]) for r in rels] == [
            ("cb-app", "depends_on", "cb-db")
        ]
        cmdb("rel", "remove", "cb-app", "depends_on", "cb-db")
        assert json.loads(cmdb("rel", "list", "-f", "json").stdout) == []
        retired = json.loads(cmdb("rel", "list", "--include-retired", "-f", "json").stdout)
        assert retired[0]["status"] == "retired"

    def test_a_table_lists_the_first_rows_and_says_more_exist(self, tmp_path, monkeypatch):
        import cli.rel
        from tests.cli.conftest import Cmdb

        monkeypatch.setattr(cli.rel, "TABLE_LIMIT", 2)
        demo = Cmdb(tmp_path / "demo.db")
        demo("demo")
        every = json.loads(demo("rel", "list", "--ci", "sw-dc-acc-05", "-f", "json").stdout)
        assert len(every) > 2
        table = " ".join(demo("rel", "list", "--ci", "sw-dc-acc-05").stdout.split())
        assert "the first 2 relationships; more exist" in table
        shown = [r for r in every if r["source"] in table and r["target"] in table]
        assert len(shown) >= 2
        table = " ".join(demo("rel", "list", "--ci", "sw-dc-acc-05", "--limit", "3").stdout.split())
        assert "3 relationships" in table and "more exist" not in table


class TestAdmin:
    def test_init_reports_the_store(self, cmdb):
        out = json.loads(cmdb("init", "-f", "json").stdout)
        assert out["store"].endswith("cli.db") and out["version"] == 0

    def test_unknown_store_scheme(self, cmdb):
        result = cmdb("--store", "mongodb://x", "ci", "list", code=1)
        assert "unknown store URI 'mongodb://x'" in result.stderr

    def test_registry_listing(self, cmdb):
        classes = json.loads(cmdb("registry", "classes", "-f", "json").stdout)
        assert {"cluster", "database", "business_service"} <= {c["class"] for c in classes}
        types = {t["type"]: t for t in json.loads(cmdb("registry", "types", "-f", "json").stdout)}
        assert types["provides"]["propagation"] == "to_target"

    def test_unreachable_neo4j_exits_3(self, cmdb, monkeypatch):
        monkeypatch.setenv("CMDB_NEO4J_PASSWORD", "whatever")
        result = cmdb("--store", "bolt://127.0.0.1:1", "ci", "list", code=3)
        assert "cannot reach Neo4j at bolt://127.0.0.1:1" in result.stderr

    def test_neo4j_without_password(self, cmdb, monkeypatch):
        monkeypatch.delenv("CMDB_NEO4J_PASSWORD", raising=False)
        result = cmdb("--store", "neo4j://127.0.0.1:7687", "ci", "list", code=1)
        assert "set CMDB_NEO4J_PASSWORD" in result.stderr

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("classes: [unclosed", "reg.yaml:1: invalid YAML (expected ',' or ']'"),
            ("classes:\n  a: b\n c: d\n", "reg.yaml:3: invalid YAML"),
            ("classes:\n  gizmo: {category: nowhere}", "class 'gizmo': unknown category"),
            ("relationships:\n  zaps: {propagation: sideways}", "field 'relationships.zaps"),
        ],
    )
    def test_bad_registry_file(self, cmdb, tmp_path, text, message):
        path = tmp_path / "reg.yaml"
        path.write_text(text)
        result = cmdb("--registry", str(path), "ci", "list", code=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}")
        assert message in lines[0] and "Traceback" not in result.stderr

    def test_missing_registry_file(self, cmdb, tmp_path):
        result = cmdb("--registry", str(tmp_path / "nope.yaml"), "ci", "list", code=1)
        assert "cannot read registry" in result.stderr

    def test_registry_extension_adds_a_class(self, cmdb, tmp_path):
        path = tmp_path / "reg.yaml"
        path.write_text(
            "classes:\n  atm:\n    category: enduser\n    attributes:\n"
            "      model: {type: str, required: true}\n"
        )
        cmdb(
            "--registry",
            str(path),
            "ci",
            "add",
            "atm-1",
            "--class",
            "atm",
            "--name",
            "ATM",
            "--set",
            "model=NCR",
            "-f",
            "json",
        )
        result = cmdb(
            "--registry", str(path), "ci", "add", "atm-2", "--class", "atm", "--name", "ATM", code=1
        )
        assert "field 'attributes.model': required" in result.stderr


class TestGenerate:
    def test_generate_small_estate(self, cmdb):
        cmdb("generate", "--cis", "600", "--seed", "3")
        cis = json.loads(cmdb("ci", "list", "-f", "json").stdout)
        assert len(cis) == 600
        hub = json.loads(cmdb("impact", "blast-radius", "sw-000000", "-f", "json").stdout)
        assert hub["counts"]["total"] > 100

    def test_generate_rejects_tiny(self, cmdb):
        result = cmdb("generate", "--cis", "10", code=2)
        assert "--cis" in result.stderr and "500" in result.stderr
