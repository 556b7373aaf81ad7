"""One page of history, made readable: the filter checked, the entries as
:class:`~cmdb.history.HistoryLine`, and the cursor of the next page.

Assumptions: pages follow the cursors of :class:`~cmdb.filters.HistoryFilter`: oldest first,
``after_seq`` (entries with a greater ``seq``); newest first (``newest_first``), ``before_seq``
(entries with a smaller ``seq``). New entries always get a greater ``seq``, so paging either way
never skips or repeats an entry while others write (newest first, the entries written after the
first page are simply not in the pages that follow it). The store is asked for one entry more
than the page holds, to know whether another page follows. A ``since`` after ``until`` is an
error naming the field, and a ``ci`` the store never had is not found, not an empty page.

>>> from cmdb.store import open_store
>>> from cmdb.settings import Settings
>>> from cmdb.model import Batch, CI
>>> import tempfile, os
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "h.db")), create=True)
>>> for i in range(3):
...     _ = store.apply(Batch(cis=[CI(id=f"a{i}", ci_class="application", name="A")]), actor="t")
>>> page = history_page(store, HistoryFilter(limit=2))
>>> [line.entity_id for line in page.items], page.next_after_seq
(['a0', 'a1'], 2)
>>> history_page(store, HistoryFilter(limit=2, after_seq=2)).next_after_seq is None
True
>>> page = history_page(store, HistoryFilter(limit=2, newest_first=True))
>>> [line.entity_id for line in page.items], page.next_before_seq, page.next_cursor
(['a2', 'a1'], 2, 2)
>>> history_page(store, HistoryFilter(limit=2, newest_first=True, before_seq=2)).next_cursor
>>> store.close()
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cmdb.errors import ValidationError
from cmdb.filters import HistoryFilter
from cmdb.history import HistoryLine, history_line
from cmdb.store.protocol import GraphStore

__all__ = ["HistoryPage", "history_page"]

DEFAULT_LIMIT = 100


class HistoryPage(BaseModel):
    """History lines in the filter's order, and the cursor of the next page (the last line's
    ``seq``; None on the last page): ``next_after_seq`` when oldest first, ``next_before_seq``
    when newest first (the other is None). :attr:`next_cursor` is whichever applies."""

    model_config = ConfigDict(frozen=True)

    items: tuple[HistoryLine, ...]
    next_after_seq: int | None = None
    next_before_seq: int | None = None

    @property
    def next_cursor(self) -> int | None:
        """The next page's cursor in this page's order (None on the last page)."""
        return self.next_before_seq if self.next_before_seq is not None else self.next_after_seq


def history_page(store: GraphStore, flt: HistoryFilter) -> HistoryPage:
    """The first ``flt.limit`` (default 100) entries matching ``flt`` after ``flt.after_seq``
    (newest first with ``flt.newest_first``: before ``flt.before_seq``), made readable.
    :class:`ValidationError` if ``since`` is after ``until`` (field ``until``);
    :class:`NotFoundError` if the store never had the CI ``flt.ci``."""
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise ValidationError("'until' is before 'since'", field="until")
    if flt.ci is not None:
        store.get_ci(flt.ci)  # NotFoundError if the store never had it
    limit = flt.limit or DEFAULT_LIMIT
    found = store.history(flt.model_copy(update={"limit": limit + 1}))
    items = tuple(history_line(e) for e in found[:limit])
    cursor = items[-1].seq if len(found) > limit else None
    if flt.newest_first:
        return HistoryPage(items=items, next_before_seq=cursor)
    return HistoryPage(items=items, next_after_seq=cursor)
