"""Read views of ITSM records that the CLI and the API both show: one record of a kind, and
a kind's records with filters, in pages.

Assumptions: records are read through the ``GraphStore`` protocol, ordered by id (ids of one
kind share a prefix and a fixed width, ``INC-000042``, so id order is creation order). Asking
for an incident by a change's id is a :class:`~cmdb.errors.NotFoundError` for the incident,
never the change. A filter naming a CI that does not exist is an error, never an empty answer.
Pages are cut after the fetch: ``find_records`` has no limit, which is cheap at ITSM volumes
(thousands of records, not millions).

>>> import os, tempfile
>>> from cmdb.model import CI, Batch, Incident
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "r.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="pc-1", ci_class="desktop", name="PC")],
...     records=[Incident(title="a", ci_ids=["pc-1"]), Incident(title="b", ci_ids=["pc-1"])]),
...     actor="doc")
>>> [r.id for r in list_records(store, Incident, RecordFilter(ci="pc-1"), after="INC-000001")]
['INC-000002']
>>> get_record_as(store, Incident, "INC-000001").title
'a'
>>> store.close()
"""

from __future__ import annotations

from typing import TypeVar

from cmdb.enums import RecordKind
from cmdb.errors import NotFoundError
from cmdb.filters import RecordFilter
from cmdb.model import Change, Incident, Problem
from cmdb.store.protocol import GraphStore

__all__ = ["get_record_as", "list_records"]

R = TypeVar("R", Incident, Problem, Change)


def _kind(cls: type[Incident | Problem | Change]) -> str:
    return str(cls.model_fields["kind"].default)


def get_record_as(store: GraphStore, cls: type[R], record_id: str) -> R:
    """The record ``record_id`` if it is of ``cls`` (an incident, problem or change);
    :class:`~cmdb.errors.NotFoundError` naming that kind otherwise."""
    try:
        rec = store.get_record(record_id)
    except NotFoundError:
        raise NotFoundError(_kind(cls), record_id) from None
    if not isinstance(rec, cls):
        raise NotFoundError(_kind(cls), record_id)
    return rec


def list_records(
    store: GraphStore,
    cls: type[R],
    flt: RecordFilter | None = None,
    *,
    limit: int | None = None,
    after: str | None = None,
) -> list[R]:
    """The records of ``cls`` matching ``flt`` (its ``kinds`` are replaced by ``cls``'s), by
    id, only those after the id ``after`` (a cursor), at most ``limit``.
    :class:`~cmdb.errors.NotFoundError` if ``flt.ci`` names no CI (retired CIs are found)."""
    flt = flt or RecordFilter()
    if flt.ci is not None:
        store.get_ci(flt.ci)
    found = store.find_records(flt.model_copy(update={"kinds": (RecordKind(_kind(cls)),)}))
    out = [r for r in found if isinstance(r, cls) and (after is None or (r.id or "") > after)]
    return out if limit is None else out[:limit]
