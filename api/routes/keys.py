"""API keys (admin): list, create (the token is in the answer, once), revoke; and ``/me``: whom
the key presented belongs to (any role: the console's log-in checks a key with it).

Neither the secret nor its hash ever leaves the server: the listing and every other answer are
:class:`ApiKeyInfo`, which has no such field; only :func:`create_api_key` answers a ``token``,
with ``Cache-Control: no-store``. A revoked key stops working at once and stays listed with
``include_revoked`` (for the history).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import StoreDep
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES
from cmdb import apikeys
from cmdb.enums import Role
from cmdb.model import ApiKey

router = _router(tags=["api-keys"])

KeyPath = Annotated[str, "the key id (KEY-000001)"]


class ApiKeyCreate(BaseModel):
    """A new key: its role, a name saying who uses it (written to history as the actor of its
    writes), and an optional expiry in the future."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=200)
    expires_at: AwareDatetime | None = None


class ApiKeyInfo(BaseModel):
    """A key as listed: everything but its secret (and the secret's hash)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    name: str
    role: Role
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    version: int

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyInfo:
        return cls.model_validate(key)


class Me(BaseModel):
    """The caller: the key's id, its name and its role."""

    id: str
    name: str
    role: Role


class NewApiKey(ApiKeyInfo):
    """A key just created, with its ``token``: shown this once, it cannot be recovered."""

    token: str


@router.get("/me", response_model=Me, summary="Whom the key presented belongs to, and its role")
def whoami(caller: Authorized) -> Me:
    return Me(id=caller.key_id, name=caller.name, role=caller.role)


@router.get("/api-keys", response_model=list[ApiKeyInfo], summary="List API keys, by id")
def list_api_keys(store: StoreDep, include_revoked: bool = False) -> list[ApiKeyInfo]:
    return [ApiKeyInfo.of(k) for k in apikeys.list_keys(store, include_revoked=include_revoked)]


@router.post(
    "/api-keys",
    response_model=NewApiKey,
    status_code=201,
    summary="Create an API key; its token is in this answer only",
)
def create_api_key(
    body: ApiKeyCreate, response: Response, store: StoreDep, caller: Authorized
) -> NewApiKey:
    new = apikeys.create_key(
        store, role=body.role, name=body.name, expires_at=body.expires_at, actor=caller.actor
    )
    response.headers["Cache-Control"] = "no-store"
    return NewApiKey(**ApiKeyInfo.of(new.key).model_dump(), token=new.token)


@router.delete(
    "/api-keys/{key_id}",
    response_model=ApiKeyInfo,
    responses=WRITE_RESPONSES,
    summary="Revoke an API key: it stops working at once (409 if already revoked)",
)
def revoke_api_key(key_id: KeyPath, store: StoreDep, caller: Authorized) -> ApiKeyInfo:
    return ApiKeyInfo.of(apikeys.revoke_key(store, key_id, actor=caller.actor))
