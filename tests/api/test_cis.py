"""CI routes: list with filters and cursor pages, read with ETag, create, patch, retire."""

from __future__ import annotations

import pytest

from cmdb.enums import Role

BASE = "/api/v1/cis"


class TestListCIs:
    def test_pages_through_every_ci_once(self, client, api_env):
        seen, cursor = [], None
        while True:
            params = {"limit": 50, "class": "desktop"}
            if cursor:
                params["cursor"] = cursor
            r = client.get(BASE, params=params, headers=api_env.headers(Role.READER))
            assert r.status_code == 200
            body = r.json()
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                assert "link" not in r.headers
                break
            assert 'rel="next"' in r.headers["link"]
        assert seen == sorted(seen) and len(seen) == len(set(seen)) > 50
        assert all(i.startswith("pc-") or i for i in seen)

    def test_unknown_class_names_the_field(self, client, api_env):
        r = client.get(BASE, params={"class": "nope"}, headers=api_env.headers(Role.READER))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "class"

    def test_limit_out_of_range_is_a_problem(self, client, api_env):
        r = client.get(BASE, params={"limit": 0}, headers=api_env.headers(Role.READER))
        assert r.status_code == 422 and r.json()["field"] == "limit"


class TestWriteCI:
    def test_create_patch_retire_with_etags(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        r = client.post(
            BASE, json={"id": "x/1", "class": "physical_server", "name": "X"}, headers=admin
        )
        assert r.status_code == 201 and r.headers["etag"] == '"1"'
        assert r.headers["location"] == "/api/v1/cis/x/1"
        assert client.get(f"{BASE}/x/1", headers=admin).json()["name"] == "X"
        r = client.patch(
            f"{BASE}/x/1",
            json={"owner": "bob", "attributes": {"cpu_count": 8}},
            headers={**admin, "If-Match": '"1"'},
        )
        assert r.status_code == 200 and r.headers["etag"] == '"2"'
        assert r.json()["attributes"] == {"cpu_count": 8}
        r = client.patch(
            f"{BASE}/x/1",
            json={"attributes": {"cpu_count": None}},
            headers={**admin, "If-Match": '"2"'},
        )
        assert r.json()["attributes"] == {}
        r = client.delete(f"{BASE}/x/1", headers={**admin, "If-Match": '"3"'})
        assert r.status_code == 200 and r.json()["status"] == "retired"

    @pytest.mark.parametrize(
        ("if_match", "status"), [(None, 428), ('"0"', 412), ('W/"1"', 412), ("nonsense", 412)]
    )
    def test_patch_needs_a_current_if_match(self, client, api_env, if_match, status):
        headers = api_env.headers(Role.ADMIN)
        if if_match is not None:
            headers["If-Match"] = if_match
        r = client.patch(f"{BASE}/pm-core-db-01", json={"owner": "x"}, headers=headers)
        assert r.status_code == status
        assert client.get(f"{BASE}/pm-core-db-01", headers=headers).json()["owner"] != "x"

    def test_duplicate_id_is_409(self, client, api_env):
        r = client.post(
            BASE,
            json={"id": "pm-core-db-01", "class": "physical_server", "name": "X"},
            headers=api_env.headers(Role.ADMIN),
        )
        assert r.status_code == 409

    def test_bad_attribute_type_names_the_field(self, client, api_env):
        r = client.post(
            BASE,
            json={
                "id": "x2",
                "class": "physical_server",
                "name": "X",
                "attributes": {"cpu_count": "many"},
            },
            headers=api_env.headers(Role.ADMIN),
        )
        assert r.status_code == 422 and r.json()["field"] == "attributes.cpu_count"

    def test_unparseable_body_is_400(self, client, api_env):
        r = client.post(
            BASE,
            content=b"{bad",
            headers={**api_env.headers(Role.ADMIN), "content-type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["status"] == 400


class TestAuth:
    def test_no_key_is_401(self, client):
        r = client.get(BASE)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"

    def test_wrong_key_is_401_and_not_echoed(self, client, api_env):
        token = api_env.keys[Role.ADMIN] + "x"
        r = client.get(BASE, headers={"X-API-Key": token})
        assert r.status_code == 401 and token not in r.text

    def test_reader_cannot_write(self, client, api_env):
        r = client.post(
            BASE,
            json={"id": "x3", "class": "physical_server", "name": "X"},
            headers=api_env.headers(Role.READER),
        )
        assert r.status_code == 403 and "admin" in r.json()["detail"]
