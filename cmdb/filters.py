"""One filter object per query, shared by the API, the CLI and every store backend.

Each backend translates a filter into its own query language in one place, with parameters,
never by pasting values into the query text.

>>> f = CIFilter(classes=["database"], status=["live"])
>>> f.include_retired
False
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cmdb.enums import Criticality, HistoryAction, HistoryEntity, Lifecycle, RecordKind

__all__ = ["CIFilter", "HistoryFilter", "RecordFilter", "RelFilter"]


class _Filter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CIFilter(_Filter):
    """Select CIs. Empty lists mean "any"; all given conditions must hold.

    ``identifier`` matches any identifier value exactly (an IP, a hostname, a serial number...);
    ``text`` matches a substring of the id or the name, case-insensitively.
    """

    ids: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    status: tuple[Lifecycle, ...] = ()
    criticality: tuple[Criticality, ...] = ()
    owner: str | None = None
    support_group: str | None = None
    identifier: str | None = None
    text: str | None = None
    include_retired: bool = False
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)
    after: str | None = None
    """A cursor: only CIs whose id sorts after this one (the last id of the page before), so
    ``limit`` pages through CIs in id order without skipping or repeating under writes."""


class RelFilter(_Filter):
    """Select relationships. ``ci`` matches either end."""

    source: str | None = None
    target: str | None = None
    ci: str | None = None
    types: tuple[str, ...] = ()
    include_retired: bool = False
    limit: int | None = Field(default=None, ge=1)
    after: tuple[str, str, str] | None = None
    """A cursor: only relationships whose ``(source, type, target)`` key sorts after this one
    (the key of the last relationship of the page before), so ``limit`` pages through them in
    key order without skipping or repeating under writes.

    >>> RelFilter(after=("app-1", "runs_on", "srv-1"), limit=500).after
    ('app-1', 'runs_on', 'srv-1')
    """


class RecordFilter(_Filter):
    """Select ITSM records. ``ci`` matches records linked to that CI; ``open_only`` keeps
    incidents that are open or in progress, problems not closed, changes not finished."""

    kinds: tuple[RecordKind, ...] = ()
    ids: tuple[str, ...] = ()
    ci: str | None = None
    open_only: bool = False
    since: datetime | None = None


class HistoryFilter(_Filter):
    """Select history entries, oldest first (newest first with ``newest_first``). ``since`` and
    ``until`` are inclusive.

    Page oldest first with the ``after_seq`` cursor, newest first with ``before_seq``: both
    bounds hold in either order, and appended entries always have a greater ``seq``, so neither
    way skips or repeats an entry while others write.

    >>> HistoryFilter(newest_first=True, before_seq=10, limit=5).before_seq
    10
    """

    entity: HistoryEntity | None = None
    entity_id: str | None = None
    actor: str | None = None
    change_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = Field(default=None, ge=1)
    ci: str | None = None
    """The CI's own entries and those of every relationship with the CI at either end."""
    actions: tuple[HistoryAction, ...] = ()
    """Only entries of these actions (empty: any)."""
    after_seq: int = Field(default=0, ge=0)
    """A cursor: only entries with ``seq`` greater than this (the last ``seq`` of the page
    before), so ``limit`` pages through history in order without skipping or repeating."""
    newest_first: bool = False
    """Newest entries first (``seq`` descending), as a CI page shows history."""
    before_seq: int | None = Field(default=None, ge=0)
    """The cursor of ``newest_first``: only entries with ``seq`` smaller than this (the last
    ``seq`` of the page before); None: no upper bound."""
