"""Evidence for and against a root-cause candidate besides coverage: recent records, freshness,
onset order along the candidate's paths, and down versus degraded states.

Assumptions:

- A change whose window meets the last ``window_hours`` (implemented, failed or approved) is
  evidence against every CI of its scope (its ``ci_ids``); an incident opened in that time
  against each of its CIs. These are prior odds, the one place the ranker keeps constants:
  :data:`CHANGE_PRIOR` and :data:`INCIDENT_PRIOR` (log-odds), at most :data:`MAX_PRIOR` in all.
- Freshness: a CI that discovery stopped seeing within the window (last seen more than twice
  the estate's median age of sightings ago, but within ``window_hours``) is more suspect, by
  :data:`FRESHNESS_PRIOR`. The median comes from the snapshot, not from a setting.
- Onset: if ``c`` failed, its effects spread along the dependency paths, so symptoms nearer to
  ``c`` (fewer steps on their explanation path, ``c`` itself 0) start first. The onsets of the
  symptoms ``c`` explains are scored by :func:`~impact.root_cause_model.onset_fit`, an order
  model with one factor per symptom (not per pair, which counted the same evidence many times
  over and favoured whoever explained most) and no assumed delay. Symptoms ``c`` does not
  explain are noise to it, whose onsets say nothing: the candidate that explains them gets
  the credit if they fit its paths.
  State: an explained symptom agrees when its observed state (down, degraded) is what ``c``'s
  failure would give it, scored with :func:`~impact.root_cause_model.order_evidence` against
  chance.

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 1, 7, tzinfo=UTC)
>>> from cmdb.model import Change
>>> chg = Change(id="chg-1", ci_ids=["db"], status="implemented", window_start=now)
>>> [(e.record_id, e.value) for e in record_evidence([chg], now=now, window_hours=24)["db"]]
[('chg-1', 3.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import numpy as np

from cmdb.enums import ChangeStatus
from cmdb.model import Change, Incident, Problem
from cmdb.topology import Topology
from impact.results import Result
from impact.root_cause_model import onset_fit, order_evidence

__all__ = [
    "CHANGE_PRIOR",
    "FRESHNESS_PRIOR",
    "INCIDENT_PRIOR",
    "MAX_PRIOR",
    "Evidence",
    "freshness_evidence",
    "onset_evidence",
    "record_evidence",
    "state_evidence",
]

CHANGE_PRIOR = 3.0  # log prior odds of a recent change on the CI's scope (about 20 to 1)
INCIDENT_PRIOR = 1.5  # a recent incident on it: weaker (about 4.5 to 1)
FRESHNESS_PRIOR = 1.5  # discovery stopped seeing it within the window
MAX_PRIOR = 6.0  # cap on all prior evidence: one or two explained symptoms still outweigh it
_DONE = (ChangeStatus.IMPLEMENTED, ChangeStatus.FAILED, ChangeStatus.APPROVED)


class Evidence(Result):
    """One piece of evidence on a candidate: its kind (``change``, ``incident``, ``freshness``,
    ``onset``, ``state``), the record behind it if any, when, the log-odds it adds, and a
    sentence for a problem analyst."""

    kind: str
    value: float
    detail: str
    record_id: str | None = None
    at: datetime | None = None


def record_evidence(
    records: Iterable[Incident | Problem | Change], *, now: datetime, window_hours: float
) -> dict[str, list[Evidence]]:
    """Per CI id: the recent changes on its scope and incidents on it (see the module)."""
    since = now - timedelta(hours=window_hours)
    out: dict[str, list[Evidence]] = {}
    for rec in records:
        if isinstance(rec, Change):
            start = rec.window_start or rec.created_at
            if rec.status not in _DONE or start is None:
                continue
            end = rec.window_end or start
            if not (start <= now and end >= since):
                continue
            what = f"change {rec.id} ({rec.status.value}, window from {start:%Y-%m-%d %H:%M})"
            ev = Evidence(
                kind="change", value=CHANGE_PRIOR, detail=what, record_id=rec.id, at=start
            )
        elif isinstance(rec, Incident) and since <= rec.opened_at <= now:
            what = f"incident {rec.id} opened {rec.opened_at:%Y-%m-%d %H:%M}"
            ev = Evidence(
                kind="incident",
                value=INCIDENT_PRIOR,
                detail=what,
                record_id=rec.id,
                at=rec.opened_at,
            )
        else:
            continue
        for ci in dict.fromkeys(rec.ci_ids):
            out.setdefault(ci, []).append(ev)
    return out


def freshness_evidence(
    topo: Topology, nodes: np.ndarray, *, now: datetime, window_hours: float
) -> dict[int, Evidence]:
    """Per node of ``nodes``: evidence that discovery stopped seeing it recently."""
    seen = topo.last_seen
    known = seen[~np.isnan(seen)] if seen.size else seen
    if known.size == 0:
        return {}
    t = now.timestamp()
    typical = max(float(np.median(t - known)), 1.0)
    out = {}
    for i in nodes.tolist():
        age = t - float(seen[i])
        if age > 2 * typical and age <= window_hours * 3600:
            at = datetime.fromtimestamp(float(seen[i]), tz=now.tzinfo)
            out[i] = Evidence(
                kind="freshness",
                value=FRESHNESS_PRIOR,
                detail=f"discovery last saw it {at:%Y-%m-%d %H:%M}, "
                f"{age / 3600:.1f} h ago (typical {typical / 3600:.1f} h)",
                at=at,
            )
    return out


def onset_evidence(hops: Mapping[str, int], onset: Mapping[str, datetime]) -> Evidence | None:
    """The onset order of a candidate's explained symptoms, ``hops`` steps down its paths (the
    candidate itself 0): :func:`~impact.root_cause_model.onset_fit` of the timed ones, in
    id order. The words count the pairs at different distances whose nearer one started first.
    None without two timed symptoms at different distances."""
    timed = sorted(ci for ci in hops if ci in onset)
    if len({hops[ci] for ci in timed}) < 2:
        return None
    h = np.asarray([hops[ci] for ci in timed], dtype=np.int64)
    at = np.asarray([onset[ci].timestamp() for ci in timed], dtype=np.float64)
    nearer = h[:, None] < h[None, :]
    agree = int(np.count_nonzero(nearer & (at[:, None] < at[None, :])))
    pairs = int(np.count_nonzero(nearer))
    detail = f"onset order fits {agree} of {pairs} pairs along its paths"
    return Evidence(kind="onset", value=round(onset_fit(h, at), 3), detail=detail)


def state_evidence(predicted: Mapping[str, str], observed: Mapping[str, str]) -> Evidence | None:
    """How many explained symptoms show the state (down, degraded) the candidate predicts."""
    both = [ci for ci in predicted if ci in observed]
    if not both:
        return None
    agree = sum(predicted[ci] == observed[ci] for ci in both)
    wrong = [ci for ci in both if predicted[ci] != observed[ci]]
    detail = f"states fit {agree} of {len(both)} symptoms"
    if wrong:
        detail += f" ({', '.join(wrong[:3])} would be {predicted[wrong[0]]})"
    return Evidence(
        kind="state", value=round(order_evidence(agree, len(both) - agree), 3), detail=detail
    )
