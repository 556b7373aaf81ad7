"""End-to-end CLI tests for `cmdb baseline create|list|diff`."""

from __future__ import annotations

import json


def as_json(result):
    return json.loads(result.stdout)


def test_create_list_diff(cmdb):
    cmdb("ci", "add", "srv", "--class", "physical_server", "--name", "Server", "--owner", "ann")
    cmdb("ci", "add", "old", "--class", "physical_server", "--name", "Old")
    created = as_json(cmdb("baseline", "create", "q4", "--title", "year end", "-f", "json"))
    assert created["id"] == "BL-000001" and created["counts"]["cis"] == 2
    cmdb("ci", "update", "srv", "--owner", "bob")
    cmdb("ci", "retire", "old")
    cmdb("ci", "add", "new", "--class", "physical_server", "--name", "New")
    cmdb("baseline", "create", "q1")
    listed = as_json(cmdb("baseline", "list", "-f", "json"))
    assert [b["name"] for b in listed] == ["q4", "q1"]
    diff = as_json(cmdb("baseline", "diff", "q4", "q1", "-f", "json"))
    assert [(i["id"], i["change"]) for i in diff["items"]] == [
        ("new", "added"),
        ("old", "retired"),
        ("srv", "changed"),
    ]
    assert diff["items"][2]["fields"] == [{"path": "owner", "before": "ann", "after": "bob"}]
    assert as_json(cmdb("baseline", "diff", "q4", "-f", "json"))["b"] == "now"
    assert "1 cis added" in cmdb("baseline", "diff", "q4", "now").stdout


def test_errors(cmdb):
    cmdb("baseline", "create", "q4")
    cmdb("baseline", "create", "q4", code=1)
    cmdb("baseline", "diff", "nope", code=1)
