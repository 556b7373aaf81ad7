"""Audit, history and baseline routes: real content on the demo, and every error a user can
reach."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cmdb.apikeys import token_parts
from cmdb.audit_config import load_audit_config
from cmdb.enums import Role
from cmdb.history import ci_history
from cmdb.store import open_store
from impact.audit import run_audit

BASE = "/api/v1"


def _create_ci(client, api_env, ci_id: str) -> None:
    r = client.post(
        f"{BASE}/cis",
        json={"id": ci_id, "class": "physical_server", "name": ci_id},
        headers=api_env.headers(Role.ADMIN),
    )
    assert r.status_code == 201, r.text


class TestAudit:
    def test_matches_the_core_audit(self, client, api_env):
        r = client.get(f"{BASE}/audit", headers=api_env.headers(Role.READER))
        assert r.status_code == 200, r.text
        body = r.json()
        store = open_store(api_env.settings)
        try:
            core = run_audit(store, load_audit_config())
        finally:
            store.close()
        assert body["checked"] == core.checked > 300
        assert body["counts"] == core.counts and sum(core.counts.values()) > 0
        assert body["scores"]["overall"] == pytest.approx(core.scores.overall)
        assert len(body["findings"]) == len(core.findings)

    def test_rules_and_classes_narrow_the_audit(self, client, api_env):
        r = client.get(
            f"{BASE}/audit",
            params={"rule": "orphan,missing_owner", "class": "desktop"},
            headers=api_env.headers(Role.READER),
        )
        body = r.json()
        assert body["rules"] == ["orphan", "missing_owner"]
        assert body["classes"] == ["desktop"]
        assert body["findings"] and {f["ci_class"] for f in body["findings"]} == {"desktop"}
        assert {f["rule"] for f in body["findings"]} <= {"orphan", "missing_owner"}

    def test_skip_rule(self, client, api_env):
        r = client.get(
            f"{BASE}/audit",
            params=[("skip_rule", "orphan"), ("skip_rule", "stale")],
            headers=api_env.headers(Role.READER),
        )
        rules = r.json()["rules"]
        assert rules and "orphan" not in rules and "stale" not in rules

    def test_at_audits_the_past_graph(self, client, api_env):
        reader = api_env.headers(Role.READER)
        before = datetime.now(UTC)
        time.sleep(0.01)
        _create_ci(client, api_env, "audit-new-1")
        then = client.get(f"{BASE}/audit", params={"at": before.isoformat()}, headers=reader)
        now = client.get(f"{BASE}/audit", headers=reader)
        assert then.status_code == 200, then.text
        assert now.json()["checked"] == then.json()["checked"] + 1
        assert then.json()["at"].startswith(before.strftime("%Y-%m-%dT%H:%M"))

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"rule": "nope"}, "rule"),
            ({"skip_rule": "orphan,nope"}, "skip_rule"),
            ({"class": "nope"}, "class"),
            ({"since": "2026-02-01T00:00Z", "at": "2026-01-01T00:00Z"}, "since"),
            ({"since": "last tuesday"}, "since"),
            ({"since": "0.5"}, "since"),
            ({"at": "2026-13-01"}, "at"),
            ({"at": "2999-01-01T00:00Z"}, "at"),
        ],
    )
    def test_bad_options_name_the_field(self, client, api_env, params, field):
        r = client.get(f"{BASE}/audit", params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field

    @staticmethod
    def _client_with_rules(api_env, rules, monkeypatch):
        from api.app import create_app
        from cmdb.settings import load_settings

        monkeypatch.setenv("CMDB_AUDIT_RULES", str(rules))
        return TestClient(create_app(load_settings(db=api_env.settings.db)))

    def test_server_rules_file_is_used(self, api_env, tmp_path, monkeypatch):
        tuned = tmp_path / "rules.yaml"
        tuned.write_text("stale:\n  days: 1\n")
        with self._client_with_rules(api_env, tuned, monkeypatch) as client:
            r = client.get(f"{BASE}/audit", headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.json()["config"].endswith(str(tuned))

    def test_broken_server_rules_file_is_a_500(self, api_env, tmp_path, monkeypatch):
        broken = tmp_path / "rules.yaml"
        broken.write_text("stale:\n  days: -1\n")
        with self._client_with_rules(api_env, broken, monkeypatch) as client:
            r = client.get(f"{BASE}/audit", headers=api_env.headers(Role.READER))
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in r.text


class TestAuditDocument:
    def test_html_stands_alone(self, client, api_env):
        r = client.get(f"{BASE}/audit/report", headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.text.lstrip().lower().startswith("<!doctype html")
        assert "<svg" in r.text and "ISO/IEC 20000-1" in r.text

    def test_markdown(self, client, api_env):
        r = client.get(
            f"{BASE}/audit/report",
            params={"format": "md", "rule": "orphan"},
            headers=api_env.headers(Role.READER),
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
        assert r.text.startswith("# Configuration audit") and "### orphan (" in r.text
        assert "### missing_owner" not in r.text

    def test_junit_fails_under_the_score(self, client, api_env):
        reader = api_env.headers(Role.READER)
        params = {"format": "junit", "fail_under": 100}
        r = client.get(f"{BASE}/audit/report", params=params, headers=reader)
        assert r.status_code == 200 and r.headers["content-type"] == "application/xml"
        root = ET.fromstring(r.text)
        score = [c for c in root.iter("testcase") if c.get("name") == "score"]
        assert score and score[0].find("failure") is not None

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"format": "pdf"}, "format"),
            ({"rule": "nope"}, "rule"),
            ({"fail_under": 101}, "fail_under"),
        ],
    )
    def test_bad_options(self, client, api_env, params, field):
        r = client.get(f"{BASE}/audit/report", params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422 and r.json()["field"] == field


class TestHistory:
    def test_pages_through_a_ci_like_the_cli(self, client, api_env):
        reader = api_env.headers(Role.READER)
        r = client.patch(
            f"{BASE}/cis/pm-core-db-01",
            json={"owner": "someone-else"},
            headers={**api_env.headers(Role.ADMIN), "If-Match": "*"},
        )
        assert r.status_code == 200
        seqs, cursor = [], None
        while True:
            params = {"ci": "pm-core-db-01", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = client.get(f"{BASE}/history", params=params, headers=reader)
            assert r.status_code == 200, r.text
            body = r.json()
            seqs += [line["seq"] for line in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
            assert cursor == str(seqs[-1]) and 'rel="next"' in r.headers["link"]
        store = open_store(api_env.settings)
        try:
            expected = [line.seq for line in ci_history(store, "pm-core-db-01")]
        finally:
            store.close()
        assert seqs == expected and len(seqs) > 2
        last = r.json()["items"][-1]
        assert last["action"] == "update"
        assert {"path": "owner", "after": "someone-else"}.items() <= last["changes"][0].items()

    @pytest.mark.parametrize("params", [{"ci": "pm-core-db-01"}, {"entity": "ci"}])
    def test_pages_newest_first(self, client, api_env, params):
        reader = api_env.headers(Role.READER)
        _create_ci(client, api_env, "hist-new")
        first = client.get(f"{BASE}/history", params={**params, "limit": 1000}, headers=reader)
        expected = [line["seq"] for line in first.json()["items"]][::-1]
        seqs: list[int] = []
        url = f"{BASE}/history"
        query: dict | None = {**params, "order": "desc", "limit": 3}
        while True:
            r = client.get(url, params=query, headers=reader)
            assert r.status_code == 200, r.text
            body = r.json()
            seqs += [line["seq"] for line in body["items"]]
            if body["next_cursor"] is None:
                assert "link" not in r.headers
                break
            assert body["next_cursor"] == str(seqs[-1])
            link = r.headers["link"]
            assert link.endswith('>; rel="next"') and "order=desc" in link
            if len(seqs) == 3:  # a write after the first page is not in the pages that follow
                _create_ci(client, api_env, "hist-newer")
            url, query = link[1 : link.index(">")], None  # follow the Link header
        assert seqs == expected and len(seqs) > 3
        if params == {"entity": "ci"}:
            assert body["items"][-1]["seq"] == 1

    def test_order_asc_is_the_default(self, client, api_env):
        reader = api_env.headers(Role.READER)
        got = {
            order: client.get(
                f"{BASE}/history", params={"limit": 5, **order_param}, headers=reader
            ).json()
            for order, order_param in (("none", {}), ("asc", {"order": "asc"}))
        }
        assert got["none"] == got["asc"]
        assert [i["seq"] for i in got["asc"]["items"]] == [1, 2, 3, 4, 5]
        assert got["asc"]["next_cursor"] == "5"

    def test_filters(self, client, api_env):
        reader = api_env.headers(Role.READER)
        start = datetime.now(UTC)
        _create_ci(client, api_env, "hist-1")
        key_id = token_parts(api_env.keys[Role.ADMIN])[0]  # type: ignore[index]
        params = {"actor": f"api:test-admin ({key_id})", "since": start.isoformat()}
        r = client.get(f"{BASE}/history", params=params, headers=reader)
        items = r.json()["items"]
        assert [(i["entity_id"], i["action"]) for i in items] == [("hist-1", "create")]
        r = client.get(
            f"{BASE}/history",
            params={"entity": "ci", "action": "create", "until": start.isoformat(), "limit": 5},
            headers=reader,
        )
        assert len(r.json()["items"]) == 5
        assert all(i["entity"] == "ci" and i["action"] == "create" for i in r.json()["items"])
        naive = start.replace(tzinfo=None).isoformat()
        r = client.get(f"{BASE}/history", params={"since": naive, "entity": "ci"}, headers=reader)
        assert [i["entity_id"] for i in r.json()["items"]] == ["hist-1"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"since": "2026-02-01T00:00Z", "until": "2026-01-01T00:00Z"}, "until"),
            ({"since": "soon"}, "since"),
            ({"until": "2026-01-32"}, "until"),
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"cursor": "-1"}, "cursor"),
            ({"cursor": "abc"}, "cursor"),
            ({"action": "delete"}, "action"),
            ({"entity": "widget"}, "entity"),
            ({"ci": ""}, "ci"),
            ({"since": "1700000000"}, "since"),
            ({"order": "newest"}, "order"),
            ({"order": "DESC"}, "order"),
            ({"order": "desc", "cursor": "-1"}, "cursor"),
        ],
    )
    def test_bad_filters_name_the_field(self, client, api_env, params, field):
        r = client.get(f"{BASE}/history", params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422, r.text
        assert r.json()["field"].split(".")[0] == field

    @pytest.mark.parametrize("ci", ["0", "no-such-ci"])
    def test_an_unknown_ci_is_404(self, client, api_env, ci):
        r = client.get(f"{BASE}/history", params={"ci": ci}, headers=api_env.headers(Role.READER))
        assert r.status_code == 404, r.text
        assert f"'{ci}'" in r.json()["detail"]


class TestBaselines:
    def test_take_list_get_and_diff_with_now(self, client, api_env):
        admin, reader = api_env.headers(Role.ADMIN), api_env.headers(Role.READER)
        r = client.post(f"{BASE}/baselines", json={"name": "q4", "title": "Q4"}, headers=admin)
        assert r.status_code == 201, r.text
        taken = r.json()
        assert taken["id"].startswith("BL-") and taken["counts"]["cis"] > 300
        assert r.headers["location"] == f"{BASE}/baselines/{taken['id']}"
        assert client.get(r.headers["location"], headers=reader).json() == taken
        assert client.get(f"{BASE}/baselines/q4", headers=reader).json()["id"] == taken["id"]
        assert [b["name"] for b in client.get(f"{BASE}/baselines", headers=reader).json()] == ["q4"]
        time.sleep(0.01)
        r = client.patch(
            f"{BASE}/cis/pm-core-db-01",
            json={"owner": "new-owner"},
            headers={**admin, "If-Match": "*"},
        )
        assert r.status_code == 200
        _create_ci(client, api_env, "bl-new-1")
        r = client.get(f"{BASE}/baselines/{taken['id']}/diff", headers=reader)
        assert r.status_code == 200, r.text
        diff = r.json()
        assert (diff["a"], diff["b"]) == ("q4", "now")
        changes = {(i["id"], i["change"]): i for i in diff["items"]}
        assert set(changes) == {("pm-core-db-01", "changed"), ("bl-new-1", "added")}
        fields = changes[("pm-core-db-01", "changed")]["fields"]
        assert [(f["path"], f["after"]) for f in fields] == [("owner", "new-owner")]

    def test_diff_two_baselines(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        assert (
            client.post(f"{BASE}/baselines", json={"name": "a"}, headers=admin).status_code == 201
        )
        time.sleep(0.01)
        _create_ci(client, api_env, "bl-new-2")
        assert (
            client.post(f"{BASE}/baselines", json={"name": "b"}, headers=admin).status_code == 201
        )
        _create_ci(client, api_env, "bl-new-3")
        r = client.get(f"{BASE}/baselines/a/diff", params={"against": "b"}, headers=admin)
        assert [(i["id"], i["change"]) for i in r.json()["items"]] == [("bl-new-2", "added")]
        r = client.get(f"{BASE}/baselines/b/diff", params={"against": "a"}, headers=admin)
        assert [(i["id"], i["change"]) for i in r.json()["items"]] == [("bl-new-2", "retired")]

    @pytest.mark.parametrize(
        ("url", "params"),
        [
            ("/baselines/nope", {}),
            ("/baselines/BL-999999/diff", {}),
            ("/baselines/q1/diff", {"against": "nope"}),
        ],
    )
    def test_unknown_baseline_is_404(self, client, api_env, url, params):
        admin = api_env.headers(Role.ADMIN)
        assert (
            client.post(f"{BASE}/baselines", json={"name": "q1"}, headers=admin).status_code == 201
        )
        r = client.get(f"{BASE}{url}", params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 404 and "baseline" in r.json()["detail"]

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"name": "now"}, 409),
            ({"name": ""}, 422),
            ({"name": "a/b"}, 422),
            ({"name": "tab\there"}, 422),
            ({"name": "x", "title": "esc\u001b[2J"}, 422),
            ({"name": "x", "taken_at": "2026-01-01T00:00Z"}, 422),
            ({}, 422),
        ],
    )
    def test_bad_new_baseline(self, client, api_env, body, status):
        r = client.post(f"{BASE}/baselines", json=body, headers=api_env.headers(Role.ADMIN))
        assert r.status_code == status, r.text

    def test_duplicate_name_is_409(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        assert (
            client.post(f"{BASE}/baselines", json={"name": "dup"}, headers=admin).status_code == 201
        )
        r = client.post(f"{BASE}/baselines", json={"name": "dup"}, headers=admin)
        assert r.status_code == 409 and "dup" in r.json()["detail"]

    @pytest.mark.parametrize("role", [Role.READER, Role.ANALYST, Role.CHANGE_MANAGER])
    def test_only_admin_takes_baselines(self, client, api_env, role):
        r = client.post(f"{BASE}/baselines", json={"name": "x"}, headers=api_env.headers(role))
        assert r.status_code == 403
        assert client.get(f"{BASE}/baselines", headers=api_env.headers(role)).json() == []
