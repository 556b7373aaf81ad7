"""Helpers shared by the backends for ITSM records (incidents, problems, changes, releases)."""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError

from cmdb.enums import ChangeStatus, ReleaseStatus
from cmdb.model import (
    AnyRecord,
    ApiKey,
    Baseline,
    Change,
    DiscoveryRun,
    Incident,
    Problem,
    Release,
)
from cmdb.store.stored import unreadable

__all__ = ["history_doc", "is_open", "record_from_json", "record_time"]

_ADAPTER: TypeAdapter = TypeAdapter(AnyRecord)
AnyRec = Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey | Release


def record_from_json(
    doc: str | bytes,
) -> AnyRec:
    """Parse a stored record document into its model."""
    try:
        return _ADAPTER.validate_json(doc)
    except PydanticError as exc:
        raise unreadable(exc) from None


def is_open(rec: AnyRec) -> bool:
    """Open incidents, problems not closed or resolved, changes not yet finished, and discovery
    runs still running, releases planned or approved; a baseline is never open; an API key is
    open until revoked."""
    if isinstance(rec, Baseline):
        return False
    if isinstance(rec, ApiKey):
        return rec.revoked_at is None
    if isinstance(rec, DiscoveryRun):
        return rec.status == "running"
    if isinstance(rec, Release):
        return rec.status in (ReleaseStatus.PLANNED, ReleaseStatus.APPROVED)
    if isinstance(rec, Incident):
        return rec.is_open
    if isinstance(rec, Problem):
        return rec.status in ("open", "known_error")
    return rec.status in (ChangeStatus.REQUESTED, ChangeStatus.APPROVED)


def record_time(rec: AnyRec) -> datetime:
    """When a record happened, for time-window filters: an incident's opening, a change's
    (or a release's) planned start, a discovery run's start, a baseline's time, otherwise its
    creation."""
    if isinstance(rec, Baseline):
        return rec.taken_at
    if isinstance(rec, DiscoveryRun):
        return rec.started_at
    if isinstance(rec, Incident):
        return rec.opened_at
    if isinstance(rec, Change | Release) and rec.window_start is not None:
        return rec.window_start
    assert rec.created_at is not None
    return rec.created_at


_SECRET_FIELDS = {"api_key": ("secret_sha256",)}
"""Fields of a record kind that its history never holds: history is readable by every reader
(``cmdb history``, ``GET /history``), a key's hash is not."""


def history_doc(kind: str, doc: dict | None) -> dict | None:
    """``doc`` as the history of a ``kind`` record keeps it: without its secret fields.

    >>> history_doc("api_key", {"id": "KEY-000001", "secret_sha256": "ab"})
    {'id': 'KEY-000001'}
    """
    hidden = _SECRET_FIELDS.get(kind)
    if doc is None or not hidden:
        return doc
    return {k: v for k, v in doc.items() if k not in hidden}
