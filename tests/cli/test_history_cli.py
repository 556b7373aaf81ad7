"""End-to-end CLI tests for `cmdb history CI` and `--as-of` on ci, rel and impact commands."""

from __future__ import annotations

import json
import time

from cmdb.model import utcnow


def as_json(result):
    return json.loads(result.stdout)


def _estate(cmdb):
    cmdb("ci", "add", "db", "--class", "database", "--name", "DB", "--set", "engine=oracle")
    cmdb("ci", "add", "srv", "--class", "physical_server", "--name", "Server", "--owner", "ann")
    cmdb("rel", "add", "db", "runs_on", "srv")


class TestHistory:
    def test_readable_diffs_of_the_ci_and_its_relationships(self, cmdb):
        _estate(cmdb)
        cmdb("ci", "update", "srv", "--owner", "bob", "--set", "os=AIX", "--change", "CHG-9")
        data = as_json(cmdb("history", "srv", "-f", "json"))
        assert [(d["entity_id"], d["action"]) for d in data] == [
            ("srv", "create"),
            ("db|runs_on|srv", "create"),
            ("srv", "update"),
        ]
        last = data[-1]
        assert last["change_record"] == "CHG-9" and last["actor"].startswith("cli")
        assert last["changes"] == [
            {"path": "owner", "before": "ann", "after": "bob"},
            {"path": "attributes.os", "before": None, "after": "AIX"},
        ]

    def test_table_shows_each_field(self, cmdb):
        _estate(cmdb)
        cmdb("ci", "update", "srv", "--owner", "bob")
        from cli.main import app

        wide = cmdb.runner.invoke(
            app, ["--db", str(cmdb.db), "history", "srv"], env={"COLUMNS": "200"}
        )
        assert wide.exit_code == 0
        assert "owner: 'ann' → 'bob'" in wide.stdout and "← runs_on db" in wide.stdout

    def test_newest_first(self, cmdb):
        _estate(cmdb)
        cmdb("ci", "update", "srv", "--owner", "bob")
        oldest = as_json(cmdb("history", "srv", "-f", "json"))
        newest = as_json(cmdb("history", "srv", "--newest-first", "-f", "json"))
        assert newest == oldest[::-1] and newest[0]["action"] == "update"
        mid = oldest[1]["at"]
        since = as_json(cmdb("history", "srv", "--newest-first", "--since", mid, "-f", "json"))
        assert [d["seq"] for d in since] == [oldest[2]["seq"], oldest[1]["seq"]]
        table = cmdb("history", "srv", "--newest-first").stdout
        assert table.index("update") < table.index("create")

    def test_since_until(self, cmdb):
        _estate(cmdb)
        time.sleep(0.01)
        mid = utcnow().isoformat()
        cmdb("ci", "update", "srv", "--owner", "bob")
        assert [
            d["action"] for d in as_json(cmdb("history", "srv", "--since", mid, "-f", "json"))
        ] == ["update"]
        assert len(as_json(cmdb("history", "srv", "--until", mid, "-f", "json"))) == 2

    def test_unknown_ci_and_bad_time(self, cmdb):
        cmdb("history", "nope", code=1)
        cmdb("history", "nope", "--since", "yesterday", code=2)


class TestAsOf:
    def test_ci_rel_and_impact_as_of(self, cmdb):
        _estate(cmdb)
        time.sleep(0.01)
        mid = utcnow().isoformat()
        cmdb("ci", "update", "srv", "--owner", "bob")
        cmdb("ci", "retire", "db")
        assert as_json(cmdb("ci", "show", "srv", "--as-of", mid, "-f", "json"))["owner"] == "ann"
        ids = [c["id"] for c in as_json(cmdb("ci", "list", "--as-of", mid, "-f", "json"))]
        assert ids == ["db", "srv"]
        assert [c["id"] for c in as_json(cmdb("ci", "list", "-f", "json"))] == ["srv"]
        rels = as_json(cmdb("rel", "list", "--as-of", mid, "-f", "json"))
        assert [(r["source"], r["target"], r["status"]) for r in rels] == [("db", "srv", "active")]
        blast = as_json(cmdb("impact", "blast-radius", "srv", "--as-of", mid, "-f", "json"))
        assert [a["id"] for a in blast["affected"]] == ["db"]
        now = as_json(cmdb("impact", "blast-radius", "srv", "-f", "json"))
        assert now["affected"] == []
        deps = as_json(cmdb("impact", "depends-on", "db", "--as-of", mid, "-f", "json"))
        assert [d["id"] for d in deps["dependencies"]] == ["srv"]

    def test_before_the_ci_existed(self, cmdb):
        _estate(cmdb)
        cmdb("ci", "show", "srv", "--as-of", "2000-01-01", code=1)
