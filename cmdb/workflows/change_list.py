"""Changes as listed: each as stored, and for those still to be done their risk assessed now.

Assumptions: a change is still to be done when it is requested or approved
(:data:`impact.collisions.PENDING`); its risk and CAB decision come from
:func:`cmdb.workflows.risk.assess_change` with one set of weights for the whole list, at the
time of listing (the open incidents and the other changes move it). Finished changes carry no
risk. Reads only.

>>> import os, tempfile
>>> from datetime import UTC, datetime
>>> from cmdb.model import CI, Batch, Change
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "c.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="pc-1", ci_class="desktop", name="PC")], records=[
...     Change(title="re-image", ci_ids=["pc-1"], type="standard",
...            window_start=datetime(2026, 1, 10, 1, tzinfo=UTC),
...            window_end=datetime(2026, 1, 10, 2, tzinfo=UTC))]), actor="doc")
>>> [(c.id, c.risk.level, c.cab) for c in list_changes(store)]
[('CHG-000001', 'low', 'not required')]
>>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from cmdb.filters import RecordFilter
from cmdb.model import Change
from cmdb.record_views import list_records
from cmdb.store.protocol import GraphStore
from cmdb.workflows.risk import assess_change, load_risk_weights
from impact.change_risk import RiskWeights
from impact.collisions import PENDING
from impact.results import Result

__all__ = ["ListedChange", "PendingRisk", "list_changes"]


class PendingRisk(Result):
    """The risk score (0..100) and level of a change still to be done."""

    score: float
    level: str


class ListedChange(Change):
    """A change as stored; for one still to be done, its ``risk`` now, whether the CAB must
    approve it (``cab``: ``required`` or ``not required``) and why (``cab_reasons``)."""

    risk: PendingRisk | None = None
    cab: Literal["required", "not required"] | None = None
    cab_reasons: list[str] = Field(default_factory=list)


def list_changes(
    store: GraphStore,
    flt: RecordFilter | None = None,
    *,
    weights: RiskWeights | str | Path | None = None,
    limit: int | None = None,
    after: str | None = None,
    now: datetime | None = None,
) -> list[ListedChange]:
    """The changes matching ``flt`` by id (after the id ``after``, at most ``limit``, as
    :func:`cmdb.record_views.list_records`), those still to be done with their risk."""
    loaded = weights if isinstance(weights, RiskWeights) else load_risk_weights(weights)
    out = []
    for rec in list_records(store, Change, flt, limit=limit, after=after):
        data = rec.model_dump()
        if rec.id is not None and rec.status in PENDING:
            risk = assess_change(store, rec.id, weights=loaded, now=now)
            data["risk"] = PendingRisk(score=risk.score, level=risk.level)
            data["cab"] = "required" if risk.cab_required else "not required"
            data["cab_reasons"] = list(risk.cab_reasons)
        out.append(ListedChange(**data))
    return out
