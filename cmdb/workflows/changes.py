"""Changes: record a requested change.

Assumptions: the change is checked as :func:`impact.change_risk.proposed_change` checks a
proposal (at least one CI, a known type, an aware window that ends after it starts), its CIs
must be live, and it is applied as one batch with ``id=None``: the store allocates its id
(``CHG-000123``) inside that batch. Assessing a change only reads: see
:mod:`cmdb.workflows.risk`.

>>> import os, tempfile
>>> from datetime import UTC, datetime
>>> from cmdb.model import CI, Batch
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "c.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="pc-1", ci_class="desktop", name="PC")]), actor="doc")
>>> record_change(store, ci_ids=["pc-1"], change_type="standard", title="re-image",
...               window_start=datetime(2026, 1, 10, 1, tzinfo=UTC),
...               window_end=datetime(2026, 1, 10, 2, tzinfo=UTC), actor="doc").id
'CHG-000001'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from cmdb.model import Batch, Change
from cmdb.store.protocol import GraphStore
from impact.change_risk import proposed_change

__all__ = ["record_change"]


def record_change(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    change_type: str,
    window_start: datetime,
    window_end: datetime,
    title: str,
    actor: str,
) -> Change:
    """Record a requested change and return it as stored.

    :class:`~cmdb.errors.NotFoundError` for an unknown CI,
    :class:`~cmdb.errors.ValidationError` for no CI, a bad type or a bad window."""
    change = proposed_change(ci_ids, change_type, window_start, window_end, title=title)
    topo = store.topology()
    for ci in change.ci_ids:
        topo.index(ci)
    done = store.apply(Batch(records=[change]), actor=actor)
    return cast(Change, store.get_record(done.allocated[0]))
