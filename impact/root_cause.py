"""Root cause: which failure best explains a set of symptoms, and which few do together.

Assumptions:

- A candidate is a CI upstream of a symptom (along hard and soft dependencies and membership),
  the symptoms included, that is not logical: a CI of category ``service``, ``customer``,
  ``agreement`` or ``party`` describes what fails, not what breaks (:data:`LOGICAL`).
- A candidate's *alerting radius* is itself and the CIs its failure alone makes down or
  degraded (:mod:`impact.spread`): an at-risk CI need not alert, and one member of a k-of-n
  group degrades the group and no more. It *explains* the symptoms in that radius.
- Only CIs that would alert count as silent evidence against a candidate: ``monitored`` (a mask
  over the snapshot, see :func:`cmdb.alerts.monitored_mask`; default every CI) and the symptoms
  themselves are *observable*. The score is the marginal likelihood of the symptoms with the
  detection and noise rates integrated out (:mod:`impact.root_cause_model`): no tuned rate.
- Two candidates are indistinguishable only when their alerting radii are the same *set*: no
  set of symptoms can tell them apart. They are listed as one, with the others as
  ``equivalents``, at the score each has alone.
- Evidence (:mod:`impact.root_cause_evidence`): recent changes on the candidate's scope,
  incidents and lost sightings add prior odds; with ``alerts``, the onset order along the
  candidate's paths and the observed states add a Bayes factor. The first two ranks of the
  structural score (at least 20 classes) are re-ranked with it.
- ``confidence`` is the posterior probability of each listed candidate among those listed.
- :func:`smallest_cause_set` covers the symptoms greedily with candidates' radii, adding a cause
  while the joint likelihood gains more than the prior cost of one more cause (``log C(K, k)``
  over ``K`` candidates), then swaps single causes while that improves the set. It is offered
  when it beats the best single cause.
- Cost: one blast radius per candidate, cached per snapshot (the closure of a symptom set in a
  20,000-CI estate holds a few thousand candidates: about a second cold, milliseconds warm).

>>> from cmdb.topology import Topology
>>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a1", "a2", "a3", "db", "san"], class_code=[0] * 5,
...     is_group=[False] * 5, min_required=[0] * 5, src=[0, 1, 2, 3], dst=[3, 3, 3, 4],
...     rtype=[0] * 4)
>>> [(c.id, c.explained, c.confidence) for c in rank_root_causes(t, ["a1", "a2", "a3"], top=2)]
[('db', ('a1', 'a2', 'a3'), 0.696), ('san', ('a1', 'a2', 'a3'), 0.304)]
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pydantic import Field, computed_field

from cmdb.alerts import Alert, monitored_mask
from cmdb.enums import ImpactState, RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import CIFilter, RecordFilter
from cmdb.model import Change, Incident, Problem, utcnow
from cmdb.store.protocol import GraphStore
from cmdb.topology import CSR, Topology
from impact.blast import blast_radius
from impact.propagation import DEGRADED, Prepared, indices, prepare, unique_in
from impact.results import Result, SupplierRef
from impact.root_cause_evidence import (
    MAX_PRIOR,
    Evidence,
    freshness_evidence,
    onset_evidence,
    record_evidence,
    state_evidence,
)
from impact.root_cause_model import log_choose, marginal, rank_marginal
from impact.spread import solve
from impact.suppliers import suppliers_of

__all__ = [
    "LOGICAL",
    "Candidate",
    "CauseSet",
    "RootCauseReport",
    "rank_root_causes",
    "root_cause_report",
    "smallest_cause_set",
]

LOGICAL = ("service", "customer", "agreement", "party")  # categories that are never a cause
SHORTLIST = 20  # classes re-ranked with onset and state evidence: at least, or twice ``top``
RECORD_LOOKBACK_DAYS = 30  # records read for evidence: window plus this, so long changes count
SEEDS = 10  # best single candidates each seeding a greedy cover (cost only)
SWAP_POOL = 50  # best single candidates tried as swaps in a cause set (cost only: more is slower)
CACHE_LIMIT = 200_000  # cached radii per snapshot (ids of their CIs), then the cache restarts
_EMPTY = np.empty(0, dtype=np.int32)
_RADII: weakref.WeakKeyDictionary[Topology, dict[int, np.ndarray]] = weakref.WeakKeyDictionary()
_SOFT_UP: weakref.WeakKeyDictionary[Topology, CSR | None] = weakref.WeakKeyDictionary()


class Candidate(Result):
    """A possible root cause and why: the symptoms it explains and those it does not, its silent
    alerting CIs, the evidence that moved it, its confidence among the listed candidates, the
    CIs indistinguishable from it, and all of that in words (``why``)."""

    id: str
    ci_class: str = Field(alias="class")
    confidence: float
    score: float
    explained: tuple[str, ...]
    unexplained: tuple[str, ...]
    silent: tuple[str, ...]
    silent_count: int
    blast_radius_size: int
    evidence: tuple[Evidence, ...] = ()
    equivalents: tuple[str, ...] = ()
    why: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def coverage(self) -> float:
        """The share of the symptoms this candidate explains (3 decimals)."""
        return round(len(self.explained) / max(1, len(self.explained) + len(self.unexplained)), 3)


class CauseSet(Result):
    """Several independent causes that together explain the symptoms better than any one:
    ``confidence`` is the posterior probability of the set against the best single cause."""

    causes: tuple[str, ...]
    explained: tuple[str, ...]
    unexplained: tuple[str, ...]
    confidence: float
    why: str


@dataclass
class _Analysis:
    topo: Topology
    sym: np.ndarray
    is_sym: np.ndarray
    obs: np.ndarray
    cands: list[int]
    radii: list[np.ndarray]
    e: np.ndarray
    t: np.ndarray
    prior: np.ndarray
    evidence: dict[int, list[Evidence]]
    score: np.ndarray


def _soft_up(topo: Topology) -> CSR | None:
    if topo not in _SOFT_UP:
        frm, to = topo.soft_edges()
        _SOFT_UP[topo] = CSR.from_edges(topo.n, to, frm) if frm.size else None
    return _SOFT_UP[topo]


def _closure(topo: Topology, p: Prepared, sym: np.ndarray) -> np.ndarray:
    """The symptoms and everything upstream of them (hard and soft dependencies, members)."""
    seen = np.zeros(topo.n, dtype=bool)
    mark = np.zeros(topo.n, dtype=np.int32)
    soft = _soft_up(topo)
    seen[sym] = True
    found, frontier = [sym], sym
    while frontier.size:
        parts = [p.dependencies.gather(frontier)[1], p.members.gather(frontier)[1]]
        if soft is not None:
            parts.append(soft.gather(frontier)[1])
        nb = np.concatenate(parts)
        nb = unique_in(nb[~seen[nb]], mark)
        seen[nb] = True
        found.append(nb)
        frontier = nb
    return np.concatenate(found)


def _radius(topo: Topology, p: Prepared, c: int) -> np.ndarray:
    """``c`` and what its failure alone makes down or degraded, sorted; cached per snapshot."""
    cache = _RADII.setdefault(topo, {})
    found = cache.get(c)
    if found is None:
        nodes, codes = solve(p, np.asarray([c], dtype=np.int32), _EMPTY)
        found = np.sort(np.concatenate([nodes[codes >= DEGRADED], [c]]).astype(np.int32))
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[c] = found
    return found


def _analyse(
    topo: Topology,
    symptoms: Iterable[str],
    *,
    alerts: Sequence[Alert],
    monitored: np.ndarray | None,
    records: Sequence[Incident | Problem | Change],
    now: datetime | None,
    window_hours: float,
) -> _Analysis:
    sym = indices(topo, [*symptoms, *(a.ci_id for a in alerts)])
    if sym.size == 0:
        raise ValidationError("give at least one symptom", field="symptoms")
    p, n = prepare(topo), topo.n
    is_sym = np.zeros(n, dtype=bool)
    is_sym[sym] = True
    obs = is_sym | (np.ones(n, dtype=bool) if monitored is None else monitored)
    closure = _closure(topo, p, sym)
    closure = closure[~topo.category_mask(*LOGICAL)[closure]]
    radii = [_radius(topo, p, c) for c in closure.tolist()]
    e = np.asarray([int(np.count_nonzero(is_sym[r])) for r in radii], dtype=np.int64)
    keep = np.flatnonzero(e > 0)
    cands = closure[keep].tolist()
    radii = [radii[j] for j in keep.tolist()]
    e = e[keep]
    t = np.asarray([int(np.count_nonzero(obs[r])) for r in radii], dtype=np.int64)
    now = now or utcnow()
    by_id = record_evidence(records, now=now, window_hours=window_hours)
    fresh = freshness_evidence(
        topo, np.asarray(cands, np.int64), now=now, window_hours=window_hours
    )
    evidence = {}
    for c in cands:
        found = [*by_id.get(topo.ids[c], ()), *([fresh[c]] if c in fresh else [])]
        if found:
            evidence[c] = found
    prior = np.asarray(
        [min(MAX_PRIOR, sum(ev.value for ev in evidence.get(c, ()))) for c in cands], dtype=float
    )
    u = int(np.count_nonzero(obs))
    score = rank_marginal(e, t, sym.size - e, u) + prior if cands else np.zeros(0)
    return _Analysis(topo, sym, is_sym, obs, cands, radii, e, t, prior, evidence, score)


def _timed(alerts: Sequence[Alert]) -> tuple[dict[str, datetime], dict[str, str]]:
    onset: dict[str, datetime] = {}
    state: dict[str, str] = {}
    for a in sorted(alerts, key=lambda a: a.time):
        if a.ci_id not in onset:
            onset[a.ci_id], state[a.ci_id] = a.time, a.state
    return onset, state


def _ordered_evidence(an: _Analysis, j: int, alerts: Sequence[Alert]) -> list[Evidence]:
    """Onset and state evidence for candidate number ``j``."""
    topo, c = an.topo, an.cands[j]
    onset, observed = _timed(alerts)
    br = blast_radius(topo, [topo.ids[c]])
    r = an.radii[j]
    explained = [topo.ids[i] for i in r[an.is_sym[r]].tolist()]
    hops = {ci: (len(br.path(ci)) - 1 if ci != topo.ids[c] else 0) for ci in explained}
    out = []
    ev = onset_evidence(hops, onset)
    if ev is not None:
        out.append(ev)
    predicted = {
        ci: ("down" if ci == topo.ids[c] or br.state(ci) is ImpactState.DOWN else "degraded")
        for ci in explained
    }
    ev = state_evidence(predicted, observed)
    if ev is not None:
        out.append(ev)
    return out


def _why(cand: dict, n_sym: int, unobserved: int, quiet_self: bool) -> str:
    parts = [f"explains {len(cand['explained'])} of {n_sym} symptoms"]
    if quiet_self:
        parts.append("did not alert itself")
    if cand["unexplained"]:
        parts.append(
            f"not {', '.join(cand['unexplained'][:3])}" + ("…" * (len(cand["unexplained"]) > 3))
        )
    if cand["silent_count"]:
        parts.append(
            f"{cand['silent_count']} of its dependents that would alert are silent "
            f"({', '.join(cand['silent'][:3])}{'…' * (cand['silent_count'] > 3)})"
        )
    else:
        parts.append("none of its dependents that would alert is silent")
    if unobserved:
        parts.append(f"{unobserved} in its radius would not alert")
    for ev in cand["evidence"]:
        parts.append(f"{ev.detail} ({'+' if ev.value >= 0 else '−'}{abs(ev.value):.1f})")
    if cand["equivalents"]:
        parts.append(f"indistinguishable from {', '.join(cand['equivalents'][:3])}")
    return "; ".join(parts)


def _rank(an: _Analysis, alerts: Sequence[Alert], top: int) -> tuple[Candidate, ...]:
    topo = an.topo
    ids = topo.ids
    classes: dict[tuple[bytes, float], list[int]] = {}
    for j in np.lexsort((an.t, -an.e, -an.score)).tolist():
        classes.setdefault((an.radii[j].tobytes(), float(an.prior[j])), []).append(j)
    ordered = [sorted(js, key=lambda j: ids[an.cands[j]]) for js in classes.values()]
    ordered.sort(key=lambda js: (-an.score[js[0]], -an.e[js[0]], an.t[js[0]], ids[an.cands[js[0]]]))
    short = ordered[: max(SHORTLIST, 2 * top)]
    extra = {js[0]: _ordered_evidence(an, js[0], alerts) if alerts else [] for js in short}
    total = {js[0]: float(an.score[js[0]]) + sum(ev.value for ev in extra[js[0]]) for js in short}
    short.sort(key=lambda js: (-total[js[0]], -an.e[js[0]], an.t[js[0]], ids[an.cands[js[0]]]))
    listed = short[:top]
    best = max(total[js[0]] for js in listed) if listed else 0.0
    weights = [math.exp(total[js[0]] - best) for js in listed]
    norm = sum(weights)
    out = []
    for js, w in zip(listed, weights, strict=True):
        j = js[0]
        c, r = an.cands[j], an.radii[j]
        hit = an.is_sym[r]
        quiet = r[~hit & an.obs[r] & (r != c)]
        explained = {int(i) for i in r[hit].tolist()}
        data = {
            "id": ids[c],
            "ci_class": topo.class_of(c),
            "confidence": round(w / norm, 3),
            "score": round(total[j], 3),
            "explained": tuple(ids[s] for s in an.sym.tolist() if s in explained),
            "unexplained": tuple(ids[s] for s in an.sym.tolist() if s not in explained),
            "silent": tuple(sorted(ids[i] for i in quiet.tolist())[:20]),
            "silent_count": int(quiet.size),
            "blast_radius_size": int(r.size - 1),
            "evidence": (*an.evidence.get(c, ()), *extra[j]),
            "equivalents": tuple(ids[an.cands[k]] for k in js[1:]),
        }
        unobserved = int(np.count_nonzero(~an.obs[r]))
        quiet_self = bool(an.obs[c] and not an.is_sym[c])
        out.append(Candidate(**data, why=_why(data, an.sym.size, unobserved, quiet_self)))
    return tuple(out)


def rank_root_causes(
    topo: Topology,
    symptoms: Iterable[str],
    *,
    alerts: Sequence[Alert] = (),
    monitored: np.ndarray | None = None,
    records: Sequence[Incident | Problem | Change] = (),
    now: datetime | None = None,
    window_hours: float = 72,
    top: int = 10,
) -> tuple[Candidate, ...]:
    """The ``top`` most likely single root causes of ``symptoms`` (CI ids) and ``alerts`` (timed
    symptoms, whose CIs are symptoms too), best first.

    ``monitored`` masks the CIs that would alert (default: all); ``records`` (incidents and
    changes) within ``window_hours`` before ``now`` add evidence. :class:`NotFoundError` for an
    unknown CI, :class:`ValidationError` for no symptom or ``top`` < 1.
    """
    if top < 1:
        raise ValidationError(f"must be at least 1, got {top}", field="top")
    an = _analyse(
        topo,
        symptoms,
        alerts=alerts,
        monitored=monitored,
        records=records,
        now=now,
        window_hours=window_hours,
    )
    return _rank(an, alerts, top)


def _greedy(an: _Analysis, seed: int) -> tuple[list[int], float]:
    """A greedy cover starting from candidate number ``seed`` and its score."""
    s, u, k_all = an.sym.size, int(np.count_nonzero(an.obs)), len(an.cands)
    covered = np.zeros(an.topo.n, dtype=bool)
    covered[an.radii[seed]] = True
    chosen = [seed]
    current = _joint(an, chosen)
    e_cur = int(np.count_nonzero(an.is_sym[an.radii[seed]]))
    t_cur = int(np.count_nonzero(an.obs[an.radii[seed]]))
    prior = float(an.prior[seed])
    while len(chosen) < s:
        best, pick, add = -math.inf, -1, (0, 0)
        for j, r in enumerate(an.radii):
            new = r[~covered[r]]
            e_new = int(np.count_nonzero(an.is_sym[new]))
            if e_new == 0:
                continue
            t_new = int(np.count_nonzero(an.obs[new]))
            joint = marginal(e_cur + e_new, t_cur + t_new, s - e_cur - e_new, u) + prior
            joint += an.prior[j] - log_choose(k_all, len(chosen) + 1)
            if joint > best:
                best, pick, add = joint, j, (e_new, t_new)
        if pick < 0 or best <= current:
            break
        chosen.append(pick)
        covered[an.radii[pick]] = True
        e_cur, t_cur = e_cur + add[0], t_cur + add[1]
        prior += float(an.prior[pick])
        current = best
    return chosen, current


def _cover(an: _Analysis) -> CauseSet | None:
    """The smallest cause set (see the module), when it beats the best single cause: greedy
    covers seeded with each of the best :data:`SEEDS` single candidates, improved by swaps."""
    if not an.cands:
        return None
    order = np.argsort(-an.score, kind="stable").tolist()
    single = _joint(an, order[:1])
    found = [_swap(an, *_greedy(an, seed)) for seed in order[:SEEDS]]
    chosen, current = max(found, key=lambda x: x[1])
    if len(chosen) < 2 or current <= single:
        return None
    s = an.sym.size
    covered = np.zeros(an.topo.n, dtype=bool)
    for j in chosen:
        covered[an.radii[j]] = True
    ids = an.topo.ids
    hit = [s_ for s_ in an.sym.tolist() if covered[s_]]
    miss = [s_ for s_ in an.sym.tolist() if not covered[s_]]
    confidence = 1 / (1 + math.exp(min(700.0, single - current)))
    causes = tuple(ids[an.cands[j]] for j in chosen)
    why = (
        f"{len(causes)} independent failures ({', '.join(causes)}) explain {len(hit)} of {s} "
        f"symptoms; the best single cause explains {int(an.e[order[0]])}"
    )
    return CauseSet(
        causes=causes,
        explained=tuple(ids[i] for i in hit),
        unexplained=tuple(ids[i] for i in miss),
        confidence=round(confidence, 3),
        why=why,
    )


def _joint(an: _Analysis, chosen: list[int]) -> float:
    """The score of the cause set ``chosen`` (see the module)."""
    r = np.unique(np.concatenate([an.radii[j] for j in chosen]))
    e, t = int(np.count_nonzero(an.is_sym[r])), int(np.count_nonzero(an.obs[r]))
    s, u = an.sym.size, int(np.count_nonzero(an.obs))
    prior = float(sum(an.prior[j] for j in chosen))
    return marginal(e, t, s - e, u) + prior - log_choose(len(an.cands), len(chosen))


def _swap(an: _Analysis, chosen: list[int], current: float) -> tuple[list[int], float]:
    """Improve a greedy cover by swapping one cause at a time for one of the best
    :data:`SWAP_POOL` single candidates while the set's score rises (greedy picks the largest
    explanation first, which can hide two better-fitting ones)."""
    pool = np.argsort(-an.score, kind="stable")[:SWAP_POOL].tolist()
    improved = True
    while improved:
        improved = False
        for i in range(len(chosen)):
            for j in pool:
                if j in chosen:
                    continue
                trial = [*chosen[:i], j, *chosen[i + 1 :]]
                score = _joint(an, trial)
                if score > current + 1e-9:
                    chosen, current, improved = trial, score, True
    return chosen, current


def smallest_cause_set(
    topo: Topology,
    symptoms: Iterable[str],
    *,
    monitored: np.ndarray | None = None,
    records: Sequence[Incident | Problem | Change] = (),
    now: datetime | None = None,
    window_hours: float = 72,
) -> CauseSet | None:
    """The fewest independent causes that explain ``symptoms`` better than any single one, or
    None when one cause is the better explanation. Options as :func:`rank_root_causes`."""
    return _cover(
        _analyse(
            topo,
            symptoms,
            alerts=(),
            monitored=monitored,
            records=records,
            now=now,
            window_hours=window_hours,
        )
    )


class RootCauseReport(Result):
    """:func:`root_cause_report`'s answer: the symptoms used, the ranked candidates, and a set
    of independent causes when that explains the symptoms better than one."""

    symptoms: tuple[str, ...]
    incidents: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    cause_set: CauseSet | None = None
    suppliers: tuple[SupplierRef, ...] = ()
    """Whom to call: the suppliers of the first three candidates and the cause set (the
    ``failing`` CIs) and of the symptom CIs."""


def root_cause_report(
    store: GraphStore,
    *,
    ci_ids: Iterable[str] | None = None,
    incident_ids: Iterable[str] | None = None,
    alerts: Sequence[Alert] = (),
    now: datetime | None = None,
    window_hours: float = 72,
    top: int = 10,
) -> RootCauseReport:
    """:func:`rank_root_causes` on a store: the symptoms are ``ci_ids``, the CIs of
    ``incident_ids`` (timed by their ``opened_at``) and ``alerts``; evidence comes from the
    store's other recent incidents and changes; which CIs would alert from the registry and the
    CIs' ``monitored`` attribute."""
    now = now or utcnow()
    incident_ids = list(dict.fromkeys(incident_ids or ()))
    symptoms = list(ci_ids or ())
    timed = list(alerts)
    for inc_id in incident_ids:
        rec = store.get_record(inc_id)
        if not isinstance(rec, Incident):
            raise ValidationError(
                f"record '{inc_id}' is a {rec.kind}, not an incident", field="incidents"
            )
        symptoms.extend(rec.ci_ids)
        timed.extend(Alert(ci_id=ci, time=rec.opened_at) for ci in rec.ci_ids)
    symptoms = list(dict.fromkeys([*symptoms, *(a.ci_id for a in timed)]))
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
    topo = store.topology()
    overrides = {
        ci.id: bool(ci.attributes["monitored"])
        for ci in store.find_cis(CIFilter())
        if isinstance(ci.attributes.get("monitored"), bool)
    }
    an = _analyse(
        topo,
        symptoms,
        alerts=timed,
        monitored=monitored_mask(topo, store.registry, overrides),
        records=records,
        now=now,
        window_hours=window_hours,
    )
    if top < 1:
        raise ValidationError(f"must be at least 1, got {top}", field="top")
    candidates, cause_set = _rank(an, timed, top), _cover(an)
    suspects = [c.id for c in candidates[:3]] + list(cause_set.causes if cause_set else ())
    return RootCauseReport(
        symptoms=tuple(symptoms),
        incidents=tuple(incident_ids),
        candidates=candidates,
        cause_set=cause_set,
        suppliers=suppliers_of(store, topo, symptoms, failing=suspects),
    )
