"""How an upsert meets what is stored: the one rule every backend applies.

Assumptions: ``old`` is the stored entity and ``incoming`` the batch item with the same key.
Equal content is a no-op for history (last-seen and provenance may still move: "touched");
otherwise the entity gets a new version, keeps its creation time, and the change is an update,
or a retirement when it moves to retired.

>>> from datetime import UTC, datetime
>>> old = CI(id="a", ci_class="application", name="A", version=1)
>>> merge_ci(old, CI(id="a", ci_class="application", name="B"), datetime.now(UTC)).action.value
'update'
>>> merge_ci(old, CI(id="a", ci_class="application", name="A"), datetime.now(UTC)).action is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from cmdb.enums import HistoryAction, Lifecycle
from cmdb.model import CI, Relationship, merge_last_seen

__all__ = ["Merged", "merge_ci", "merge_relationship"]

T = TypeVar("T", CI, Relationship)


@dataclass(frozen=True)
class Merged(Generic[T]):
    """``action`` is None when the content is unchanged; ``entity`` is what to store;
    ``touched`` says an unchanged entity still needs writing (last-seen or provenance moved)."""

    action: HistoryAction | None
    entity: T
    touched: bool = False


def merge_ci(old: CI, incoming: CI, now: datetime) -> Merged[CI]:
    seen = merge_last_seen(old.last_seen, incoming.last_seen)
    prov = {**old.provenance, **incoming.provenance}
    if incoming.content() == old.content():
        if seen != old.last_seen or prov != old.provenance:
            return Merged(
                None, old.model_copy(update={"last_seen": seen, "provenance": prov}), touched=True
            )
        return Merged(None, old)
    new = incoming.model_copy(
        update={
            "created_at": old.created_at,
            "updated_at": now,
            "version": old.version + 1,
            "last_seen": seen,
            "provenance": prov,
        }
    )
    retiring = new.status is Lifecycle.RETIRED and old.status is not Lifecycle.RETIRED
    return Merged(HistoryAction.RETIRE if retiring else HistoryAction.UPDATE, new)


def merge_relationship(
    old: Relationship, incoming: Relationship, now: datetime
) -> Merged[Relationship]:
    seen = merge_last_seen(old.last_seen, incoming.last_seen)
    if incoming.content() == old.content():
        if seen != old.last_seen:
            return Merged(None, old.model_copy(update={"last_seen": seen}), touched=True)
        return Merged(None, old)
    new = incoming.model_copy(
        update={
            "created_at": old.created_at,
            "updated_at": now,
            "version": old.version + 1,
            "last_seen": seen,
        }
    )
    retiring = new.status == "retired" != old.status
    return Merged(HistoryAction.RETIRE if retiring else HistoryAction.UPDATE, new)
