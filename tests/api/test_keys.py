"""API key routes: create (token shown once), use, list (never a secret), revoke, expire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb import apikeys
from cmdb.enums import Role
from cmdb.errors import AuthError
from cmdb.model import ApiKey, Batch, utcnow
from cmdb.store import open_store

BASE = "/api/v1/api-keys"


def create(client, api_env, **body):
    r = client.post(BASE, json={"role": "reader", "name": "bob", **body}, headers=admin(api_env))
    assert r.status_code == 201, r.text
    return r


def admin(api_env):
    return api_env.headers(Role.ADMIN)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class TestCreate:
    def test_the_new_key_works_with_its_role(self, client, api_env):
        r = create(client, api_env, role="analyst", name="noc-bot")
        body = r.json()
        assert r.headers["cache-control"] == "no-store"
        assert (body["role"], body["name"], body["revoked_at"]) == ("analyst", "noc-bot", None)
        assert body["token"].startswith(f"cmdb_{body['id']}_")
        assert "secret_sha256" not in body
        assert client.get("/api/v1/cis", headers=bearer(body["token"])).status_code == 200
        writes = client.post(
            BASE, json={"role": "reader", "name": "x"}, headers=bearer(body["token"])
        )
        assert writes.status_code == 403 and "admin" in writes.json()["detail"]

    def test_a_future_expiry_is_kept(self, client, api_env):
        when = (utcnow() + timedelta(days=30)).replace(microsecond=0)
        body = create(client, api_env, expires_at=when.isoformat()).json()
        assert body["expires_at"].startswith(when.strftime("%Y-%m-%dT%H:%M:%S"))

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"role": "reader", "name": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
            ({"role": "reader", "name": "x", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
            ({"role": "root", "name": "x"}, "role"),
            ({"role": "reader"}, "name"),
            ({"role": "reader", "name": ""}, "name"),
            ({"role": "reader", "name": "x", "secret_sha256": "0" * 64}, "secret_sha256"),
        ],
    )
    def test_bad_body_names_the_field(self, client, api_env, body, field):
        r = client.post(BASE, json=body, headers=admin(api_env))
        assert r.status_code == 422 and r.json()["field"] == field
        listed = client.get(BASE, headers=admin(api_env)).json()
        assert len(listed) == len(Role)  # nothing was created


class TestList:
    def test_never_shows_a_token_or_a_hash(self, client, api_env):
        token = create(client, api_env).json()["token"]
        secret = apikeys.token_parts(token)[1]
        r = client.get(BASE, params={"include_revoked": True}, headers=admin(api_env))
        assert r.status_code == 200
        assert [k["name"] for k in r.json()][-1] == "bob"
        assert secret not in r.text and "secret_sha256" not in r.text and "token" not in r.text
        for token in api_env.keys.values():
            assert apikeys.token_parts(token)[1] not in r.text

    def test_the_schema_has_no_secret_either(self, client):
        r = client.get("/openapi.json")
        assert r.status_code == 200 and "ApiKeyInfo" in r.text and "NewApiKey" in r.text
        assert "secret_sha256" not in r.text


class TestRevoke:
    def test_revoked_key_is_401_then_409(self, client, api_env):
        body = create(client, api_env).json()
        key_id, token = body["id"], body["token"]
        r = client.delete(f"{BASE}/{key_id}", headers=admin(api_env))
        assert r.status_code == 200 and r.json()["revoked_at"] is not None
        assert "token" not in r.json()
        refused = client.get("/api/v1/cis", headers=bearer(token))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert client.delete(f"{BASE}/{key_id}", headers=admin(api_env)).status_code == 409
        listed = [k["id"] for k in client.get(BASE, headers=admin(api_env)).json()]
        assert key_id not in listed
        everything = client.get(BASE, params={"include_revoked": "true"}, headers=admin(api_env))
        assert key_id in [k["id"] for k in everything.json()]

    @pytest.mark.parametrize("key_id", ["KEY-999999", "INC-000001", "nonsense"])
    def test_unknown_key_is_404(self, client, api_env, key_id):
        r = client.delete(f"{BASE}/{key_id}", headers=admin(api_env))
        assert r.status_code == 404 and key_id in r.json()["detail"]


class TestExpiry:
    def test_a_key_stops_working_when_it_expires(self, client, api_env):
        when = utcnow() + timedelta(days=1)
        token = create(client, api_env, expires_at=when.isoformat()).json()["token"]
        store = open_store(api_env.settings)
        try:
            assert apikeys.verify_key(store, token, now=when - timedelta(seconds=1)).name == "bob"
            with pytest.raises(AuthError, match="expired"):
                apikeys.verify_key(store, token, now=when)
        finally:
            store.close()

    def test_an_expired_key_is_401(self, client, api_env):
        body = create(client, api_env, expires_at=(utcnow() + timedelta(days=1)).isoformat()).json()
        store = open_store(api_env.settings)
        try:  # as if the day had passed: the stored expiry moves into the past
            key = store.get_record(body["id"])
            assert isinstance(key, ApiKey)
            past = key.model_copy(update={"expires_at": utcnow() - timedelta(minutes=1)})
            store.apply(Batch(records=[past]), actor="test")
        finally:
            store.close()
        r = client.get("/api/v1/cis", headers={"X-API-Key": body["token"]})
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        assert body["token"] not in r.text


class TestRoles:
    @pytest.mark.parametrize("role", [Role.READER, Role.ANALYST, Role.CHANGE_MANAGER])
    def test_only_admin_manages_keys(self, client, api_env, role):
        headers = api_env.headers(role)
        assert client.get(BASE, headers=headers).status_code == 403
        body = {"role": "admin", "name": "escalate"}
        assert client.post(BASE, json=body, headers=headers).status_code == 403
        assert client.delete(f"{BASE}/KEY-000001", headers=headers).status_code == 403

    def test_no_key_is_401(self, client):
        assert client.get(BASE).status_code == 401
        assert client.post(BASE, json={"role": "admin", "name": "x"}).status_code == 401
        assert client.delete(f"{BASE}/KEY-000001").status_code == 401
