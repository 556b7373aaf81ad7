"""Release and supplier routes: create (201, Location, ETag), list with cursor pages, read,
assess, suppliers; roles and errors."""

from __future__ import annotations

import pytest

from cmdb.enums import Role

BASE = "/api/v1/releases"


def _create(client, api_env, body, role=Role.CHANGE_MANAGER):
    return client.post(BASE, json=body, headers=api_env.headers(role))


class TestCreateRelease:
    def test_create_read_list(self, client, api_env):
        r = _create(client, api_env, {"change_ids": ["CHG-000101", "CHG-000102"], "title": "core"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"] == "REL-000001" and body["ci_ids"] == ["sw-core-01", "sw-core-02"]
        assert r.headers["location"] == f"{BASE}/REL-000001" and r.headers["etag"] == '"1"'
        reader = api_env.headers(Role.READER)
        got = client.get(f"{BASE}/REL-000001", headers=reader)
        assert got.status_code == 200 and got.json()["title"] == "core"
        assert got.headers["etag"] == '"1"'
        assert _create(client, api_env, {"change_ids": ["CHG-000104"]}).status_code == 201
        page = client.get(BASE, params={"limit": 1}, headers=reader)
        assert [x["id"] for x in page.json()["items"]] == ["REL-000001"]
        assert page.json()["next_cursor"] == "REL-000001" and 'rel="next"' in page.headers["link"]
        rest = client.get(BASE, params={"limit": 1, "cursor": "REL-000001"}, headers=reader)
        assert [x["id"] for x in rest.json()["items"]] == ["REL-000002"]
        assert rest.json()["next_cursor"] is None

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"change_ids": []}, 422, "change_ids"),
            ({"change_ids": ["CHG-000090"]}, 422, "change_ids"),
            ({"change_ids": ["CHG-000103"], "type": "urgent"}, 422, "type"),
            ({"change_ids": ["CHG-000103"], "window_start": "2026-01-01T00:00Z"}, 422, "window"),
            ({"change_ids": ["CHG-000103"], "extra": 1}, 422, "extra"),
        ],
    )
    def test_invalid_bodies(self, client, api_env, body, status, field):
        r = _create(client, api_env, body)
        assert r.status_code == status and r.json()["field"] == field, r.json()

    def test_unknown_change_is_404(self, client, api_env):
        r = _create(client, api_env, {"change_ids": ["CHG-404"]})
        assert r.status_code == 404 and "CHG-404" in r.json()["detail"]

    def test_needs_a_change_manager(self, client, api_env):
        r = _create(client, api_env, {"change_ids": ["CHG-000103"]}, role=Role.ANALYST)
        assert r.status_code == 403 and "change_manager" in r.json()["detail"]
        assert client.post(BASE, json={"change_ids": ["CHG-000103"]}).status_code == 401


class TestAssessRelease:
    def test_assessment(self, client, api_env):
        _create(client, api_env, {"change_ids": ["CHG-000101", "CHG-000102"]})
        r = client.get(f"{BASE}/REL-000001/assessment", headers=api_env.headers(Role.ADMIN))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["together"][0] == "cl-core-sw" and body["decision"] == "approval"
        assert {s["change_id"] for s in body["shares"]} == {"CHG-000101", "CHG-000102"}
        assert body["suppliers"] and body["weights"] == "risk_weights.yaml"

    def test_emergency_refused(self, client, api_env):
        _create(client, api_env, {"change_ids": ["CHG-000104"], "type": "emergency"})
        r = client.get(
            f"{BASE}/REL-000001/assessment", headers=api_env.headers(Role.CHANGE_MANAGER)
        )
        assert r.json()["decision"] == "refused" and r.json()["emergency"] is True

    def test_errors_and_roles(self, client, api_env):
        cm = api_env.headers(Role.CHANGE_MANAGER)
        assert client.get(f"{BASE}/REL-404/assessment", headers=cm).status_code == 404
        r = client.get(f"{BASE}/CHG-000101", headers=api_env.headers(Role.READER))
        assert r.status_code == 404 and "release 'CHG-000101'" in r.json()["detail"]
        assert client.get(f"{BASE}/CHG-000101/assessment", headers=cm).status_code == 404
        _create(client, api_env, {"change_ids": ["CHG-000103"]})
        r = client.get(f"{BASE}/REL-000001/assessment", headers=api_env.headers(Role.READER))
        assert r.status_code == 403


class TestImpactSuppliers:
    def test_contracts_next_to_the_sla(self, client, api_env):
        r = client.get(
            "/api/v1/impact/suppliers",
            params={"service": "svc-core-banking"},
            headers=api_env.headers(Role.READER),
        )
        assert r.status_code == 200
        verdict = {c["contract"]: c["weaker"] for c in r.json()["contracts"]}
        assert verdict["uc-cisco-smartnet"] is True and verdict["uc-telecom-mpls"] is False

    def test_errors(self, client, api_env):
        reader = api_env.headers(Role.READER)
        r = client.get("/api/v1/impact/suppliers", params={"service": "ghost"}, headers=reader)
        assert r.status_code == 404
        r = client.get("/api/v1/impact/suppliers", headers=reader)
        assert r.status_code == 422 and r.json()["field"] == "service"
