"""Relationship routes: list with filters, cursor pages and as-of; add; retire."""

from __future__ import annotations

import pytest

from cmdb.enums import Role
from cmdb.filters import HistoryFilter
from cmdb.model import utcnow
from cmdb.store import open_store

BASE = "/api/v1/relationships"
NEW = {"source": "dbi-core-rac-1", "type": "runs_on", "target": "pm-core-db-02"}
OLD = {"source": "pm-core-db-01", "type": "located_in", "target": "loc-dc-main"}


def keys(body):
    return [(r["source"], r["type"], r["target"]) for r in body["items"]]


class TestListRelationships:
    def test_pages_through_every_relationship_once_in_key_order(self, client, api_env):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            r = client.get(BASE, params=params, headers=api_env.headers(Role.READER))
            assert r.status_code == 200
            body = r.json()
            seen += keys(body)
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                assert "link" not in r.headers
                break
            assert 'rel="next"' in r.headers["link"] and f"cursor={cursor}" in r.headers["link"]
        everything = client.get(
            BASE, params={"limit": 1000, "cursor": "0"}, headers=api_env.headers(Role.READER)
        ).json()
        assert pages > 2 and seen == sorted(seen) and len(seen) == len(set(seen))
        assert seen[:1000] == keys(everything)

    def test_filters(self, client, api_env):
        reader = api_env.headers(Role.READER)
        around = keys(client.get(BASE, params={"ci": "pm-core-db-01"}, headers=reader).json())
        assert tuple(OLD.values()) in around
        assert all("pm-core-db-01" in (s, t) for s, _, t in around) and len(around) > 3
        out = client.get(BASE, params={"source": "pm-core-db-01"}, headers=reader).json()
        assert {s for s, _, _ in keys(out)} == {"pm-core-db-01"}
        into = client.get(BASE, params={"target": "pm-core-db-01"}, headers=reader).json()
        assert {t for _, _, t in keys(into)} == {"pm-core-db-01"}
        typed = client.get(
            BASE,
            params=[("ci", "pm-core-db-01"), ("type", "located_in"), ("type", "supplied_by")],
            headers=reader,
        ).json()
        assert {t for _, t, _ in keys(typed)} == {"located_in", "supplied_by"}

    def test_retired_only_when_asked(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        assert client.request("DELETE", BASE, params=OLD, headers=admin).status_code == 200
        params = {"source": OLD["source"], "type": OLD["type"]}
        assert client.get(BASE, params=params, headers=admin).json()["items"] == []
        r = client.get(BASE, params={**params, "include_retired": True}, headers=admin)
        assert [i["status"] for i in r.json()["items"]] == ["retired"]

    def test_as_of_shows_the_past(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        before = utcnow().isoformat()
        assert client.post(BASE, json=NEW, headers=admin).status_code == 201
        params = {"source": NEW["source"], "type": "runs_on"}
        now = keys(client.get(BASE, params=params, headers=admin).json())
        then = keys(client.get(BASE, params={**params, "at": before}, headers=admin).json())
        assert tuple(NEW.values()) in now and tuple(NEW.values()) not in then and then

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"type": "nope"}, "type"),
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"cursor": "abc"}, "cursor"),
            ({"cursor": "-1"}, "cursor"),
            ({"cursor": "99999999999"}, "cursor"),
            ({"at": "yesterday"}, "at"),
        ],
    )
    def test_bad_query_names_the_field(self, client, api_env, params, field):
        r = client.get(BASE, params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422 and r.json()["field"] == field
        assert r.headers["content-type"] == "application/problem+json"

    def test_needs_a_key(self, client):
        assert client.get(BASE).status_code == 401


class TestAddRelationship:
    def test_created_with_location_and_the_caller_in_history(self, client, api_env):
        r = client.post(
            BASE, json={**NEW, "attributes": {"note": "x"}}, headers=api_env.headers(Role.ADMIN)
        )
        assert r.status_code == 201
        body = r.json()
        assert (body["status"], body["version"], body["attributes"]) == ("active", 1, {"note": "x"})
        assert r.headers["location"] == (
            f"{BASE}?source=dbi-core-rac-1&type=runs_on&target=pm-core-db-02"
        )
        store = open_store(api_env.settings)
        try:
            entry = store.history(
                HistoryFilter(entity="relationship", entity_id="|".join(NEW.values()))
            )[-1]
        finally:
            store.close()
        assert entry.actor.startswith("api:test-admin (KEY-")

    def test_already_active_is_409_and_a_retired_one_comes_back(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        assert client.post(BASE, json=OLD, headers=admin).status_code == 409
        assert client.request("DELETE", BASE, params=OLD, headers=admin).status_code == 200
        r = client.post(BASE, json=OLD, headers=admin)
        assert r.status_code == 201 and r.json()["status"] == "active"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({**NEW, "type": "nope"}, "type"),
            ({**NEW, "source": "no-such-ci"}, "source"),
            ({**NEW, "type": "located_in"}, "type"),  # a pair the rule table forbids
            ({**NEW, "colour": "red"}, "colour"),
            ({"source": NEW["source"], "type": "runs_on"}, "target"),
            ({**NEW, "source": ""}, "source"),
        ],
    )
    def test_bad_body_names_the_field(self, client, api_env, body, field):
        r = client.post(BASE, json=body, headers=api_env.headers(Role.ADMIN))
        assert r.status_code == 422 and r.json()["field"] == field

    def test_a_self_loop_is_refused(self, client, api_env):
        body = {**NEW, "target": NEW["source"]}
        r = client.post(BASE, json=body, headers=api_env.headers(Role.ADMIN))
        assert r.status_code == 422 and "itself" in r.json()["detail"]

    @pytest.mark.parametrize("role", [Role.READER, Role.ANALYST, Role.CHANGE_MANAGER])
    def test_only_admin_writes(self, client, api_env, role):
        r = client.post(BASE, json=NEW, headers=api_env.headers(role))
        assert r.status_code == 403
        r = client.request("DELETE", BASE, params=OLD, headers=api_env.headers(role))
        assert r.status_code == 403

    def test_no_key_is_401(self, client):
        assert client.post(BASE, json=NEW).status_code == 401
        assert client.request("DELETE", BASE, params=OLD).status_code == 401


class TestRetireRelationship:
    def test_retired_then_404(self, client, api_env):
        admin = api_env.headers(Role.ADMIN)
        r = client.request("DELETE", BASE, params={**OLD, "change_id": "CHG-1"}, headers=admin)
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["version"]) == ("retired", 2)
        again = client.request("DELETE", BASE, params=OLD, headers=admin)
        assert again.status_code == 404 and "pm-core-db-01" in again.json()["detail"]

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({**OLD, "target": "no-such-ci"}, 404, None),
            ({**OLD, "type": "nope"}, 422, "type"),
            ({"source": OLD["source"], "type": OLD["type"]}, 422, "target"),
        ],
    )
    def test_errors(self, client, api_env, params, status, field):
        r = client.request("DELETE", BASE, params=params, headers=api_env.headers(Role.ADMIN))
        assert r.status_code == status and r.json().get("field") == field
