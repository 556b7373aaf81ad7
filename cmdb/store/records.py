"""Helpers shared by the backends for ITSM records (incidents, problems, changes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter

from cmdb.enums import ChangeStatus
from cmdb.model import AnyRecord, ApiKey, Baseline, Change, DiscoveryRun, Incident, Problem

__all__ = ["is_open", "record_from_json", "record_time"]

_ADAPTER: TypeAdapter = TypeAdapter(AnyRecord)


def record_from_json(
    doc: str | bytes,
) -> Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey:
    """Parse a stored record document into its model."""
    return _ADAPTER.validate_json(doc)


def is_open(rec: Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey) -> bool:
    """Open incidents, problems not closed or resolved, changes not yet finished, and discovery
    runs still running; a baseline is never open; an API key is open until revoked."""
    if isinstance(rec, Baseline):
        return False
    if isinstance(rec, ApiKey):
        return rec.revoked_at is None
    if isinstance(rec, DiscoveryRun):
        return rec.status == "running"
    if isinstance(rec, Incident):
        return rec.is_open
    if isinstance(rec, Problem):
        return rec.status in ("open", "known_error")
    return rec.status in (ChangeStatus.REQUESTED, ChangeStatus.APPROVED)


def record_time(rec: Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey) -> datetime:
    """When a record happened, for time-window filters: an incident's opening, a change's
    planned start, a discovery run's start, a baseline's time, otherwise its creation."""
    if isinstance(rec, Baseline):
        return rec.taken_at
    if isinstance(rec, DiscoveryRun):
        return rec.started_at
    if isinstance(rec, Incident):
        return rec.opened_at
    if isinstance(rec, Change) and rec.window_start is not None:
        return rec.window_start
    assert rec.created_at is not None
    return rec.created_at
