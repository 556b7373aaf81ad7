"""Root cause: which single failure best explains a set of symptoms.

Assumptions:

- A candidate is a CI whose blast radius covers at least one symptom: the union of the symptoms'
  dependency closures (upstream along hard dependencies and, for a group, its members), the
  symptoms included. A CI *explains* a symptom when the symptom is the CI itself or in its blast
  radius. Every state counts: the listed CIs of a blast radius are exactly the CIs reachable
  along impact and membership edges, which is what is used here.
- The score is a log-likelihood ratio against "every symptom is noise": if ``c`` failed, each
  CI of ``P(c)`` (``c`` and its blast radius) shows a symptom with probability
  :data:`DETECTION`, any other CI with probability ``q = |symptoms| / n`` (at most
  :data:`MAX_NOISE`, so that small graphs still favour explanations). So

      score(c) = E·log(p/q) + (|P(c)| − E)·log((1−p)/(1−q)) + boosts

  with ``E`` the symptoms ``c`` explains: coverage dominates, and among candidates that explain
  the same symptoms the smallest blast radius (the most specific) wins.
- Boosts (log-odds added to the score): each change implemented, failed or approved on the
  candidate whose window meets the last ``window_hours`` adds :data:`CHANGE_BOOST`; each incident
  on it opened in that time adds :data:`INCIDENT_BOOST`; at most :data:`MAX_BOOST` in all.
- A redundancy group fails through its members, not by itself: groups get a prior of
  ``log(GROUP_PRIOR)``.
- Candidates that explain the same symptoms with blast radii of the same size and the same
  boosts (typically the members of one group) cannot be told apart by these symptoms; they are
  returned as one candidate with the others in ``equivalents``, and the class is ranked by its
  total likelihood: ``score + log(its size)``.
- Cost: which symptoms each candidate explains is one bitset fixpoint over the candidates'
  edges; then branch and bound, since a score is at most ``E·log(p/q) + boosts``, sizes blast
  radii only while that bound can still reach the top. Sizes are cached per snapshot.

>>> from cmdb.topology import Topology
>>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a1", "a2", "db", "san"], class_code=[0] * 4,
...     is_group=[False] * 4, min_required=[0] * 4, src=[0, 1, 2], dst=[2, 2, 3], rtype=[0] * 3)
>>> [(c.id, c.explained) for c in rank_root_causes(t, ["a1", "a2"], top=2)]
[('db', ('a1', 'a2')), ('san', ('a1', 'a2'))]
"""

from __future__ import annotations

import heapq
import math
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from pydantic import Field, computed_field

from cmdb.enums import ChangeStatus, RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Change, Incident, Problem, utcnow
from cmdb.store.protocol import GraphStore
from cmdb.topology import Topology
from impact.propagation import Prepared, indices, prepare, unique_in
from impact.results import Result

__all__ = ["Boost", "Candidate", "RootCauseReport", "rank_root_causes", "root_cause_report"]

# The model's constants (see the module's assumptions), each with why it has its value.
DETECTION = 0.6  # P(a CI the cause hits shows a symptom): < 1, so a few silent CIs rule out nothing
MAX_NOISE = 0.01  # cap on P(a CI alarms by itself), so that small graphs still favour causes
CHANGE_BOOST = 3.0  # log-odds of a recent change on the candidate (about 20 to 1)
INCIDENT_BOOST = 1.5  # log-odds of a recent incident on it: weaker evidence (about 4.5 to 1)
MAX_BOOST = 6.0  # cap on all boosts: one or two explained symptoms (each >= log(0.6/0.01) = 4.1)
GROUP_PRIOR = 0.1  # prior odds of a group failing by itself rather than through its members
RECORD_LOOKBACK_DAYS = 30  # records read for boosts: window plus this, so long changes count
_DONE = (ChangeStatus.IMPLEMENTED, ChangeStatus.FAILED, ChangeStatus.APPROVED)
_SIZES: weakref.WeakKeyDictionary[Topology, np.ndarray] = weakref.WeakKeyDictionary()


class Boost(Result):
    """A recent record on a candidate and the log-odds it adds."""

    record_id: str
    kind: str
    value: float


class Candidate(Result):
    """A possible root cause and why: the symptoms it explains and those it does not, the size
    of its blast radius, its boosts, and the CIs indistinguishable from it."""

    id: str
    ci_class: str = Field(alias="class")
    score: float
    explained: tuple[str, ...]
    unexplained: tuple[str, ...]
    blast_radius_size: int
    boosts: tuple[Boost, ...] = ()
    equivalents: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def coverage(self) -> float:
        """The share of the symptoms this candidate explains (3 decimals)."""
        return round(len(self.explained) / max(1, len(self.explained) + len(self.unexplained)), 3)


def _reach(
    p: Prepared,
    start: int,
    stamp: np.ndarray,
    mark: np.ndarray,
    tag: int,
    *,
    up: bool,
    seeds: np.ndarray | None = None,
) -> np.ndarray:
    """Nodes reachable from ``start`` (or ``seeds``), themselves included: downstream along
    impact and membership edges, or (``up``) upstream along dependencies and members."""
    one, two = (p.dependencies, p.members) if up else (p.dependents, p.groups)
    frontier = np.asarray([start], dtype=np.int32) if seeds is None else seeds
    stamp[frontier] = tag
    found = [frontier]
    while frontier.size:
        _, a = one.gather(frontier)
        _, b = two.gather(frontier)
        nb = np.concatenate([a, b]) if b.size else a
        nb = unique_in(nb[stamp[nb] != tag], mark)
        stamp[nb] = tag
        found.append(nb)
        frontier = nb
    return np.concatenate(found) if len(found) > 1 else found[0]


_POP = np.asarray([bin(i).count("1") for i in range(256)], dtype=np.int32)


def _explains(p: Prepared, sym: np.ndarray, stamp, mark) -> tuple[np.ndarray, np.ndarray]:
    """The candidates (the symptoms' upstream closure) and, per candidate, a packed bit row of
    the symptoms it explains: bit j is set when symptom j is reachable downstream from it."""
    cands = _reach(p, -1, stamp, mark, 1, up=True, seeds=sym)
    loc = np.full(stamp.size, -1, dtype=np.int32)
    loc[cands] = np.arange(cands.size, dtype=np.int32)
    bits = np.zeros((cands.size, 8 * ((sym.size + 63) // 64)), dtype=np.uint8)
    j = np.arange(sym.size)
    np.bitwise_or.at(bits, (loc[sym], j // 8), (1 << (7 - j % 8)).astype(np.uint8))
    words = bits.view(np.uint64)  # the same memory, 64 symptoms per element
    o1, d1 = p.dependents.gather(cands)
    o2, d2 = p.groups.gather(cands)
    src, dst = loc[np.concatenate([o1, o2])], loc[np.concatenate([d1, d2])]
    keep = dst >= 0
    order = np.argsort(src[keep], kind="stable")
    src, dst = src[keep][order], dst[keep][order]
    changed = np.ones(cands.size, dtype=bool)
    while src.size:  # a fixpoint, re-examining only the edges into rows that just changed
        live = changed[dst]
        s_, d_ = src[live], dst[live]
        if s_.size == 0:
            break
        heads = np.flatnonzero(np.r_[True, s_[1:] != s_[:-1]])
        rows = s_[heads]
        new = words[rows] | np.bitwise_or.reduceat(words[d_], heads, axis=0)
        diff = (new != words[rows]).any(axis=1)
        changed[:] = False
        changed[rows[diff]] = True
        words[rows[diff]] = new[diff]
    return cands, bits


def _boosts(
    topo: Topology,
    records: Iterable[Incident | Problem | Change],
    now: datetime,
    window_hours: float,
) -> dict[int, list[Boost]]:
    since = now - timedelta(hours=window_hours)
    out: dict[int, list[Boost]] = {}
    for rec in records:
        if isinstance(rec, Change):
            start = rec.window_start or rec.created_at
            if rec.status not in _DONE or start is None:
                continue
            end = rec.window_end or start
            if not (start <= now and end >= since):
                continue
            boost = Boost(record_id=rec.id, kind="change", value=CHANGE_BOOST)
        elif isinstance(rec, Incident) and since <= rec.opened_at <= now:
            boost = Boost(record_id=rec.id, kind="incident", value=INCIDENT_BOOST)
        else:
            continue
        for ci in dict.fromkeys(rec.ci_ids):
            if ci in topo:
                out.setdefault(topo.index(ci), []).append(boost)
    return out


def rank_root_causes(
    topo: Topology,
    symptoms: Iterable[str],
    *,
    records: Sequence[Incident | Problem | Change] = (),
    now: datetime | None = None,
    window_hours: float = 72,
    top: int = 10,
) -> tuple[Candidate, ...]:
    """The ``top`` most likely single root causes of ``symptoms``, best first.

    ``records`` (incidents and changes) give the boosts, counted within ``window_hours`` before
    ``now``. :class:`~cmdb.errors.NotFoundError` for an unknown CI.
    """
    if top < 1:
        raise ValidationError(f"must be at least 1, got {top}", field="top")
    sym = indices(topo, symptoms)
    if sym.size == 0:
        raise ValidationError("give at least one symptom CI", field="symptoms")
    p, n = prepare(topo), topo.n
    stamp, mark = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int32)
    cands, bits = _explains(p, sym, stamp, mark)
    cov = _POP[bits].sum(axis=1)
    q = min(MAX_NOISE, max(sym.size / n, 1e-9))
    gain, loss = math.log(DETECTION / q), math.log((1 - DETECTION) / (1 - q))
    boosts = _boosts(topo, records, now or utcnow(), window_hours)
    extra = (
        np.asarray(
            [min(MAX_BOOST, sum(b.value for b in boosts.get(int(c), ()))) for c in cands.tolist()]
        )
        if boosts
        else np.zeros(cands.size)
    )
    extra = extra + np.where(topo.is_group[cands], math.log(GROUP_PRIOR), 0.0)
    bound = cov * gain + extra
    # a class of indistinguishable candidates shares cov: its weight is at most log(how many)
    _, inverse, counts = np.unique(cov, return_inverse=True, return_counts=True)
    reach_bound = bound + np.log(counts[inverse.reshape(-1)])
    order = np.argsort(-reach_bound, kind="stable")
    sizes = _SIZES.get(topo)
    if sizes is None:
        sizes = _SIZES[topo] = np.full(n, -1, dtype=np.int64)
    best: list[float] = []  # a min-heap of the top distinct scores
    classes: dict[tuple, list[int]] = {}
    tag = 1
    for j in order.tolist():
        c = int(cands[j])
        if len(best) >= top and reach_bound[j] < best[0]:
            break
        if sizes[c] < 0:
            tag += 1
            sizes[c] = _reach(p, c, stamp, mark, tag, up=False).size - 1
        score = round(cov[j] * gain + (sizes[c] + 1 - cov[j]) * loss + extra[j], 6)
        classes.setdefault((score, int(sizes[c]), bits[j].tobytes()), []).append(j)
        if score not in best:
            heapq.heappush(best, score)
            if len(best) > top:
                heapq.heappop(best)
    ranked = sorted(
        (
            (key[0] + math.log(len(js)), key[1], sorted(js, key=lambda j: topo.ids[cands[j]]))
            for key, js in classes.items()
        ),
        key=lambda cls: (-cls[0], cls[1], topo.ids[cands[cls[2][0]]]),
    )
    ids, out = topo.ids, []
    for weight, size, js in ranked[:top]:
        c = int(cands[js[0]])
        hit = np.unpackbits(bits[js[0]], count=sym.size).astype(bool)
        out.append(
            Candidate(
                id=ids[c],
                ci_class=topo.class_of(c),
                score=round(weight, 3),
                explained=tuple(ids[s] for s in sym[hit].tolist()),
                unexplained=tuple(ids[s] for s in sym[~hit].tolist()),
                blast_radius_size=size,
                boosts=tuple(boosts.get(c, ())),
                equivalents=tuple(ids[int(cands[j])] for j in js[1:]),
            )
        )
    return tuple(out)


class RootCauseReport(Result):
    """:func:`root_cause_report`'s answer: the symptoms used and the ranked candidates."""

    symptoms: tuple[str, ...]
    incidents: tuple[str, ...]
    candidates: tuple[Candidate, ...]


def root_cause_report(
    store: GraphStore,
    *,
    ci_ids: Iterable[str] | None = None,
    incident_ids: Iterable[str] | None = None,
    now: datetime | None = None,
    window_hours: float = 72,
    top: int = 10,
) -> RootCauseReport:
    """:func:`rank_root_causes` on a store: the symptoms are ``ci_ids`` plus the CIs of
    ``incident_ids``; boosts come from the store's other recent incidents and changes."""
    now = now or utcnow()
    incident_ids = list(dict.fromkeys(incident_ids or ()))
    symptoms = list(ci_ids or ())
    for inc_id in incident_ids:
        rec = store.get_record(inc_id)
        if not isinstance(rec, Incident):
            raise ValidationError(
                f"record '{inc_id}' is a {rec.kind}, not an incident", field="incidents"
            )
        symptoms.extend(rec.ci_ids)
    symptoms = list(dict.fromkeys(symptoms))
    if not symptoms:
        raise ValidationError("give symptom CIs or incidents with CIs", field="symptoms")
    since = now - timedelta(hours=window_hours, days=RECORD_LOOKBACK_DAYS)
    records = [
        r
        for r in store.find_records(
            RecordFilter(kinds=(RecordKind.INCIDENT, RecordKind.CHANGE), since=since)
        )
        if isinstance(r, Incident | Change) and r.id not in incident_ids
    ]
    ranked = rank_root_causes(
        store.topology(), symptoms, records=records, now=now, window_hours=window_hours, top=top
    )
    return RootCauseReport(
        symptoms=tuple(symptoms), incidents=tuple(incident_ids), candidates=ranked
    )
