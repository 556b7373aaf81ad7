"""API keys: the secret is shown once, only its hash is stored, history never holds the hash,
and a key stops working when revoked or expired (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb import apikeys
from cmdb.enums import Role
from cmdb.errors import AuthError, ConflictError, NotFoundError, ValidationError
from cmdb.filters import HistoryFilter, RecordFilter
from cmdb.model import utcnow
from cmdb.transfer import export_json


class TestKeys:
    def test_create_verify_revoke(self, store):
        new = apikeys.create_key(store, role="analyst", name="grafana", actor="t")
        assert new.key.id == "KEY-000001" and new.token.startswith("cmdb_KEY-000001_")
        assert apikeys.verify_key(store, new.token).role is Role.ANALYST
        secret = new.token.split("_", 2)[2]
        assert secret not in new.key.model_dump_json()
        apikeys.revoke_key(store, "KEY-000001", actor="t")
        with pytest.raises(AuthError, match="revoked"):
            apikeys.verify_key(store, new.token)
        with pytest.raises(ConflictError, match="already revoked"):
            apikeys.revoke_key(store, "KEY-000001", actor="t")
        assert apikeys.list_keys(store) == []
        assert [k.id for k in apikeys.list_keys(store, include_revoked=True)] == ["KEY-000001"]

    def test_history_and_export_never_hold_the_hash(self, store):
        new = apikeys.create_key(store, role="admin", name="ops", actor="t")
        apikeys.revoke_key(store, new.key.id, actor="t")
        entries = store.history(HistoryFilter(entity="api_key"))
        assert [e.action.value for e in entries] == ["create", "update"]
        for e in entries:
            for doc in (e.before, e.after):
                assert doc is None or ("secret_sha256" not in doc and doc["name"] == "ops")
        assert new.key.secret_sha256 not in str(export_json(store))
        stored = store.find_records(RecordFilter(ids=(new.key.id,)))
        assert stored[0].secret_sha256 == new.key.secret_sha256  # the record itself keeps it

    @pytest.mark.parametrize(
        "token",
        ["", "nonsense", "cmdb_", "cmdb_KEY-000001", "cmdb_KEY-000001_", "cmdb_KEY-999999_abc"],
    )
    def test_bad_tokens(self, store, token):
        apikeys.create_key(store, role="reader", name="r", actor="t")
        with pytest.raises(AuthError) as err:
            apikeys.verify_key(store, token)
        assert token not in str(err.value) or token in ("", "cmdb_")

    def test_wrong_secret_and_expiry(self, store):
        now = utcnow()
        new = apikeys.create_key(
            store, role="reader", name="r", actor="t", expires_at=now + timedelta(days=1)
        )
        with pytest.raises(AuthError, match="unknown or wrong"):
            apikeys.verify_key(store, new.token[:-1] + ("A" if new.token[-1] != "A" else "B"))
        assert apikeys.verify_key(store, new.token, now=now).name == "r"
        with pytest.raises(AuthError, match="expired"):
            apikeys.verify_key(store, new.token, now=now + timedelta(days=2))

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"role": "root"}, "role"),
            ({"role": "reader", "expires_at": utcnow() - timedelta(seconds=1)}, "expires_at"),
            ({"role": "reader", "expires_at": utcnow().replace(tzinfo=None)}, "expires_at"),
        ],
    )
    def test_bad_requests_name_the_field(self, store, kwargs, field):
        with pytest.raises(ValidationError) as err:
            apikeys.create_key(store, name="x", actor="t", **kwargs)
        assert err.value.field == field

    def test_revoking_something_else_is_not_found(self, store):
        with pytest.raises(NotFoundError, match="API key 'KEY-000042'"):
            apikeys.revoke_key(store, "KEY-000042", actor="t")
