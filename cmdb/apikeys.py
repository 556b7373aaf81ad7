"""API keys: create one (its secret shown once), list, revoke, and check a presented key.

Assumptions: a key is ``cmdb_<KEY-id>_<secret>``, where the secret is 32 random bytes
(``secrets.token_urlsafe``). Only the SHA-256 of the secret is stored, in an
:class:`~cmdb.model.ApiKey` record; a fast hash is enough because the secret has 256 bits of
entropy (no dictionary to try). The id in the key finds the record with one point read, and the
hashes are compared in constant time. Keys are records, so creating and revoking one is in the
history, like any other write.

>>> token_parts("cmdb_KEY-000001_abc")
('KEY-000001', 'abc')
>>> token_parts("Bearer xyz") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from cmdb.enums import RecordKind, Role
from cmdb.errors import AuthError, ConflictError, NotFoundError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import ApiKey, Batch, Expected, utcnow
from cmdb.store.protocol import GraphStore

__all__ = ["NewKey", "create_key", "list_keys", "revoke_key", "token_parts", "verify_key"]

_PREFIX = "cmdb_"


@dataclass(frozen=True)
class NewKey:
    """A key just created: its record, and the token to hand to the user (shown once)."""

    key: ApiKey
    token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_parts(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed token, else None."""
    if not token.startswith(_PREFIX):
        return None
    key_id, sep, secret = token[len(_PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def create_key(
    store: GraphStore,
    *,
    role: Role | str,
    name: str,
    actor: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> NewKey:
    """Create a key with ``role``. ``expires_at`` must be in the future."""
    try:
        role = Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError(f"'{role}' is not one of {choices}", field="role") from None
    now = now or utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationError("needs a time zone (or use a date)", field="expires_at")
        if expires_at <= now:
            raise ValidationError("is not in the future", field="expires_at")
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        title=f"API key {name}",
        name=name,
        role=role,
        secret_sha256=_digest(secret),
        expires_at=expires_at,
    )
    result = store.apply(Batch(records=[key]), actor=actor)
    key_id = result.allocated[0]
    stored = store.get_record(key_id)
    assert isinstance(stored, ApiKey)
    return NewKey(key=stored, token=f"{_PREFIX}{key_id}_{secret}")


def list_keys(store: GraphStore, *, include_revoked: bool = False) -> list[ApiKey]:
    """The keys, by id; revoked ones only when asked."""
    keys = store.find_records(
        RecordFilter(kinds=(RecordKind.API_KEY,), open_only=not include_revoked)
    )
    return [k for k in keys if isinstance(k, ApiKey)]


def _get(store: GraphStore, key_id: str) -> ApiKey:
    try:
        rec = store.get_record(key_id)
    except NotFoundError:
        raise NotFoundError("API key", key_id) from None
    if not isinstance(rec, ApiKey):
        raise NotFoundError("API key", key_id)
    return rec


def revoke_key(
    store: GraphStore, key_id: str, *, actor: str, now: datetime | None = None
) -> ApiKey:
    """Revoke a key: it stops working at once. Revoking a revoked key is a ConflictError."""
    key = _get(store, key_id)
    if key.revoked_at is not None:
        raise ConflictError(f"API key '{key_id}' was already revoked at {key.revoked_at}")
    revoked = key.model_copy(update={"revoked_at": now or utcnow()})
    guard = Expected(entity="record", id=key_id, version=key.version)
    store.apply(Batch(records=[revoked], expected=[guard]), actor=actor)
    return _get(store, key_id)


def verify_key(store: GraphStore, token: str, *, now: datetime | None = None) -> ApiKey:
    """The key that ``token`` presents, if it is valid now; :class:`AuthError` otherwise,
    with a message that never repeats the token."""
    parts = token_parts(token.strip())
    if parts is None:
        raise AuthError("malformed API key")
    key_id, secret = parts
    try:
        key = _get(store, key_id)
    except NotFoundError:
        # compare anyway, so that an unknown id costs the same as a wrong secret
        hmac.compare_digest(_digest(secret), "0" * 64)
        raise AuthError("unknown or wrong API key") from None
    if not hmac.compare_digest(_digest(secret), key.secret_sha256):
        raise AuthError("unknown or wrong API key")
    if key.revoked_at is not None:
        raise AuthError(f"API key {key_id} was revoked")
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        raise AuthError(f"API key {key_id} expired at {key.expires_at.isoformat()}")
    return key
