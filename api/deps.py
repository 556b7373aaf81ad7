"""The dependencies routes declare, as ``Annotated`` aliases: the store, the caller, the actor
written to history, and ``If-Match`` versions.

The store is opened once per worker process, on first use, from the app's settings (the same
``CMDB_*`` settings as the CLI). A key is presented as ``Authorization: Bearer <key>`` or
``X-API-Key: <key>``; :mod:`api.policy` decides what its role may call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from cmdb.apikeys import verify_key
from cmdb.enums import Role
from cmdb.errors import StaleVersionError
from cmdb.registry import Registry, load_registry
from cmdb.settings import Settings
from cmdb.store import GraphStore, open_store

__all__ = [
    "ApiState",
    "Caller",
    "CallerDep",
    "IfMatch",
    "IfMatchDep",
    "SettingsDep",
    "StoreDep",
    "etag",
    "precondition",
    "set_etag",
]


@dataclass
class ApiState:
    """What one worker process holds: its settings and the store, opened on first use."""

    settings: Settings
    _store: GraphStore | None = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def store(self) -> GraphStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    if self._registry is None:
                        self._registry = load_registry(self.settings.registry)
                    self._store = open_store(self.settings, registry=self._registry)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _state(request: Request) -> ApiState:
    return request.app.state.cmdb


def _store(request: Request) -> GraphStore:
    return _state(request).store


def _settings(request: Request) -> Settings:
    return _state(request).settings


StoreDep = Annotated[GraphStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """The actor written to history for this caller's writes."""
        return f"api:{self.name} ({self.key_id})"


def _caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Caller:
    raw = request.headers.get("authorization")
    if raw is not None and bearer is None:
        raise ProblemError(
            401,
            "the Authorization header must be `Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if bearer is not None and header is not None and bearer.credentials != header:
        raise ProblemError(
            401,
            "two different keys (Authorization and X-API-Key): send one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = bearer.credentials if bearer is not None else header
    if not token:
        raise ProblemError(
            401,
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = verify_key(_store(request), token)
    assert key.id is not None
    return Caller(key_id=key.id, name=key.name, role=key.role)


CallerDep = Annotated[Caller, Depends(_caller)]


def etag(version: int) -> str:
    """The ``ETag`` of a CI or record at ``version``: a strong tag, the version in quotes."""
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


@dataclass(frozen=True)
class IfMatch:
    """The ``If-Match`` header as sent (None when absent); read by :func:`precondition` once
    the whole request has been validated, so a malformed request is a 422 before a 412/428."""

    raw: str | None

    def version(self) -> int | None:
        """The version it names; None for ``*``. 428 without one, 412 if unreadable."""
        if self.raw is None:
            raise ProblemError(
                428, "this write needs an If-Match header with the ETag you read (or *)"
            )
        value = self.raw.strip()
        if value == "*":
            return None
        tags = [t.strip() for t in value.split(",")]
        versions = [
            int(t[1:-1])
            for t in tags
            if t.startswith('"') and t.endswith('"') and t[1:-1].isdigit()
        ]
        if versions == [0]:
            raise ProblemError(412, 'If-Match "0" is never current: versions start at 1')
        if len(versions) != 1 or len(tags) != 1:
            raise ProblemError(412, f'If-Match {value!r} is not one ETag of this API (like "3")')
        return versions[0]


def _if_match(
    if_match: Annotated[
        str | None,
        Header(description="The ETag you read (required): a stale one gets 412, `*` matches any."),
    ] = None,
) -> IfMatch:
    return IfMatch(if_match)


IfMatchDep = Annotated[IfMatch, Depends(_if_match)]


@contextmanager
def precondition(if_match: IfMatch) -> Iterator[int | None]:
    """Around a write guarded by ``If-Match``: yields the version it names (428 without one,
    412 if unreadable), and a stale version is a 412, not a 409."""
    version = if_match.version()
    try:
        yield version
    except StaleVersionError as exc:
        raise ProblemError(
            412, f'{exc} (If-Match "{exc.expected}", current ETag "{exc.stored}")'
        ) from None
