"""Reading history: paging through it, and the readable story of one CI.

Assumptions: history entries hold full before/after documents (see :mod:`cmdb.store.protocol`);
what changed is their field-level diff (:func:`cmdb.diff.diff_documents`) without the fields the
store keeps for itself (``version``, ``created_at``, ``updated_at``) and the discovery noise
(``last_seen``, ``provenance``). A discovery run's entries carry the actor
``discovery:<source>`` and the run id (``RUN-...``) as their change id; anything else in
``change_id`` names a change record.

>>> from datetime import UTC, datetime
>>> from cmdb.model import HistoryEntry
>>> e = HistoryEntry(seq=3, at=datetime(2026, 1, 1, tzinfo=UTC), actor="discovery:agent",
...     change_id="RUN-000002", batch_id=2, entity="ci", entity_id="srv-1", action="update",
...     before={"id": "srv-1", "version": 1, "attributes": {"os": "AIX 7.1"}},
...     after={"id": "srv-1", "version": 2, "attributes": {"os": "AIX 7.2"}})
>>> line = history_line(e)
>>> [str(c) for c in line.changes], line.source, line.run_id, line.change_record
(["attributes.os: 'AIX 7.1' -> 'AIX 7.2'"], 'agent', 'RUN-000002', None)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from cmdb.diff import FieldChange, diff_documents
from cmdb.enums import HistoryAction
from cmdb.filters import HistoryFilter
from cmdb.model import HistoryEntry
from cmdb.store.protocol import GraphStore

__all__ = ["NOISE", "HistoryLine", "ci_history", "history_line", "iter_history"]

NOISE = frozenset({"version", "created_at", "updated_at", "last_seen", "provenance"})
"""Top-level fields that a history diff leaves out: the store's own, and discovery noise."""
PAGE = 5_000


class HistoryLine(BaseModel):
    """One history entry made readable: what changed, by whom, under which record."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    entity: str
    entity_id: str
    action: HistoryAction
    actor: str
    source: str | None = None
    """The discovery source when a discovery run made the change."""
    run_id: str | None = None
    """The discovery run (``RUN-...``) that made the change."""
    change_record: str | None = None
    """The change record (or other id) the writer named."""
    changes: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict:
        return self.model_dump(mode="json")

    def summary(self) -> str:
        """The changes as one readable text, one field per line."""
        if self.action is HistoryAction.CREATE:
            return "created"
        if self.action is HistoryAction.RETIRE and not self.changes:
            return "retired"
        return "\n".join(f"{c.path}: {_show(c.before)} → {_show(c.after)}" for c in self.changes)


def _show(value: object) -> str:
    return "∅" if value is None else repr(value) if isinstance(value, str) else str(value)


def history_line(entry: HistoryEntry) -> HistoryLine:
    """``entry`` with its field-level changes and who made it, in words."""
    source = run_id = record = None
    if entry.actor.startswith("discovery:"):
        source = entry.actor.removeprefix("discovery:")
        run_id = entry.change_id
    else:
        record = entry.change_id
    changes: tuple[FieldChange, ...] = ()
    if entry.action is not HistoryAction.CREATE:
        changes = tuple(diff_documents(entry.before, entry.after, ignore=NOISE))
    return HistoryLine(
        seq=entry.seq,
        at=entry.at,
        entity=entry.entity,
        entity_id=entry.entity_id,
        action=entry.action,
        actor=entry.actor,
        source=source,
        run_id=run_id,
        change_record=record,
        changes=changes,
    )


def iter_history(
    store: GraphStore, flt: HistoryFilter, *, page: int = PAGE
) -> Iterator[HistoryEntry]:
    """Every entry matching ``flt`` (its ``limit`` ignored), read ``page`` entries at a time
    with the ``after_seq`` cursor (``before_seq`` when ``flt.newest_first``): memory stays
    bounded however long the history is."""
    key = "before_seq" if flt.newest_first else "after_seq"
    cursor = getattr(flt, key)
    while True:
        chunk = store.history(flt.model_copy(update={key: cursor, "limit": page}))
        yield from chunk
        if len(chunk) < page:
            return
        cursor = chunk[-1].seq


def ci_history(
    store: GraphStore,
    ci_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    newest_first: bool = False,
) -> list[HistoryLine]:
    """Every change to ``ci_id`` and its relationships, oldest first (or newest first), made
    readable. :class:`~cmdb.errors.NotFoundError` if the store never had that CI."""
    store.get_ci(ci_id)
    flt = HistoryFilter(ci=ci_id, since=since, until=until, newest_first=newest_first)
    return [history_line(e) for e in iter_history(store, flt)]
