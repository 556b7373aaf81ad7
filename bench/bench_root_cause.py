"""Root-cause ranking quality: top-1/3/5 per topology, detection rate and noise, against two
baselines on the same cases.

Run (from the repository root)::

    .venv/bin/python -m bench.bench_root_cause --estates 1000 3000 10000 --micro shop sockshop \
        hotel --cases 30

Each case fails one random CI (not a group, not logical) whose alerting radius (itself and what
its failure makes down or degraded) holds at least ``--min-radius`` (5) CIs, one of which would
alert. Every CI that would alert (the registry's ``alerts`` flag) in its *alerting
radius* (the CI itself and what it makes down or degraded) alerts with probability ``--rates``
(30%, 60%, 90%), at least one; ``--noise`` (0%, 20%, 50% of the symptom count) other CIs that
would alert are added as noise. Onsets: the failure's own alert at 0, a CI ``h`` steps down its
path at ``60·h`` seconds plus an exponential delay of mean 30 s (so neighbours on a path can swap);
noise at a uniform time over the same span. States are what the failure gives (down, degraded);
noise is down or degraded at random. The ranker never sees the rates.

Rankers, all on the same cases: **times** (:func:`~impact.root_cause.rank_root_causes` with the
alerts), **no times** (the same symptoms as plain CI ids), and two baselines: **most explained**
(the candidate explaining most symptoms, the smaller radius first) and **likelihood** (a plain
binomial likelihood, detection 0.6 and noise ``|S|/n`` fixed, every CI counted as silent). All
use the same candidates and alerting radii; candidates with the same radius *set* are one
answer in every ranker. A hit at k: the failed CI is among the first k answers.

Two upper bounds, never rankers: **oracle** and **oracle no times** (:func:`oracle`) rank by the
exact posterior under this bench's own generative model: they know the alerting rate, the
noise share (so the number of noise symptoms a candidate implies), the minimum radius
(``--oracle-floor``, default ``--min-radius``; 1 forgets it) and, with times, the onset model
(60 s per step plus an exponential delay of mean 30 s, the start time integrated out) and the
states. What they miss cannot be recovered by any ranker; what they find, a ranker that does
not know those constants may still miss.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.rc_topologies import TOPOLOGIES
from cmdb.alerts import Alert, monitored_mask
from cmdb.generator import generate_topology
from cmdb.registry import load_registry
from cmdb.topology import Topology
from impact.blast import blast_radius
from impact.root_cause import LOGICAL, _analyse, rank_root_causes
from impact.root_cause_model import log_choose

__all__ = ["inject", "main", "run_case"]

T0 = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
RANKERS = ("times", "no times", "most explained", "likelihood", "oracle", "oracle no times")
MEAN_DELAY = 30.0  # the exponential delay of an onset past its 60 s per step (seconds)
STEP = 60.0


def inject(
    topo: Topology,
    mon: np.ndarray,
    rng: np.random.Generator,
    *,
    rate: float,
    noise: float,
    min_radius: int = 5,
) -> tuple[str, list[Alert]]:
    """A failed CI and its alerts (see the module)."""
    pool = np.flatnonzero(~topo.is_group & ~topo.category_mask(*LOGICAL))
    while True:
        c = int(rng.choice(pool))
        br = blast_radius(topo, [topo.ids[c]])
        alerting = [a for a in br.affected() if a.state.value in ("down", "degraded")]
        visible = [a for a in alerting if mon[topo.index(a.id)]]
        if visible and len(alerting) + 1 >= min_radius:
            break
    inside = {a.id for a in alerting} | {topo.ids[c]}
    alerts = []
    if mon[c] and rng.random() < rate:
        alerts.append(Alert(ci_id=topo.ids[c], time=T0, state="down"))
    for a in visible:
        if rng.random() < rate:
            delay = STEP * (len(a.path) - 1) + rng.exponential(MEAN_DELAY)
            alerts.append(
                Alert(ci_id=a.id, time=T0 + timedelta(seconds=delay), state=a.state.value)
            )
    if not alerts:
        a = visible[int(rng.integers(len(visible)))]
        alerts.append(
            Alert(
                ci_id=a.id,
                time=T0 + timedelta(seconds=STEP * (len(a.path) - 1)),
                state=a.state.value,
            )
        )
    span = max((x.time - T0).total_seconds() for x in alerts) + 60
    outside = np.flatnonzero(mon)
    want, extra = round(noise * len(alerts)), set[str]()
    while len(extra) < want and len(extra) < outside.size - len(inside):
        o = topo.ids[int(rng.choice(outside))]
        if o not in inside and o not in extra:
            extra.add(o)
    for o in sorted(extra):
        at = T0 + timedelta(seconds=float(rng.uniform(-60, span)))
        alerts.append(Alert(ci_id=o, time=at, state=str(rng.choice(["down", "degraded"]))))
    return topo.ids[c], alerts


def _baselines(topo: Topology, symptoms: list[str], mon: np.ndarray) -> dict[str, list[list[str]]]:
    """Answers (each a list of equivalent CI ids) of the two baselines, best first."""
    an = _analyse(topo, symptoms, alerts=(), monitored=None, records=(), now=T0, window_hours=72)
    size = np.asarray([r.size for r in an.radii], dtype=float)
    q = min(0.01, max(an.sym.size / topo.n, 1e-9))
    p = 0.6
    lik = an.e * math.log(p / q) + (size - an.e) * math.log((1 - p) / (1 - q))
    out = {}
    for name, key in (("most explained", (size, -an.e)), ("likelihood", (size, -lik))):
        order = np.lexsort(key).tolist()
        answers: dict[bytes, list[str]] = {}
        for j in order:
            answers.setdefault(an.radii[j].tobytes(), []).append(topo.ids[an.cands[j]])
            if len(answers) > 5:
                break
        out[name] = list(answers.values())[:5]
    return out


def _onset_loglik(
    t: dict[str, float], hops: dict[str, int], c: str, noise: list[str]
) -> tuple[float, float]:
    """log density of the onsets given failure ``c`` with the start ``t0`` integrated out (flat
    prior): for the natural draw (``c`` alerts at ``t0``, the others ``STEP·h`` plus an
    exponential delay later) and for the fallback (one CI alerting at exactly ``STEP·h``)."""
    inside = [a for a in t if a not in noise]
    last = max(t[a] for a in inside)
    nt = [t[n] for n in noise]

    def noise_at(t0: float) -> float:  # noise uniform on [t0 - 60, last + 60]
        if any(x < t0 - 60 or x > last + 60 for x in nt):
            return -math.inf
        return -len(nt) * math.log(last - t0 + 120)

    def delays(t0: float) -> float:
        d = [t[a] - t0 - STEP * hops[a] for a in inside if a != c]
        if any(x < 0 for x in d):
            return -math.inf
        return sum(-math.log(MEAN_DELAY) - x / MEAN_DELAY for x in d)

    if c in t:
        natural = delays(t[c]) + noise_at(t[c])
    else:  # t0 before every onset: integrate on a grid below the latest possible start
        top = min([t[a] - STEP * hops[a] for a in inside] + [x + 60 for x in nt])
        step = MEAN_DELAY / (20 * len(inside))
        grid = top - step * np.arange(800)
        vals = np.asarray([delays(x) + noise_at(x) for x in grid])
        m = float(vals.max())
        natural = m + math.log(float(np.exp(vals - m).sum()) * step) if m > -math.inf else m
    fallback = -math.inf
    if len(inside) == 1 and inside[0] != c:
        a = inside[0]
        fallback = noise_at(t[a] - STEP * hops[a])
    return natural, fallback


def oracle(
    topo: Topology,
    mon: np.ndarray,
    alerts: list[Alert],
    *,
    rate: float,
    noise: float,
    min_radius: int,
    timed: bool,
) -> list[list[str]]:
    """The Bayes-optimal answers under this bench's own generative model (:func:`inject`): it
    knows the alerting rate, the noise share, the minimum radius and, when ``timed``, the onset
    model and the states (the start time is integrated out). An upper bound, never a ranker."""
    symptoms = list(dict.fromkeys(a.ci_id for a in alerts))
    an = _analyse(topo, symptoms, alerts=(), monitored=mon, records=(), now=T0, window_hours=72)
    n_mon, n_sym = int(np.count_nonzero(mon)), an.sym.size
    sym_set = set(an.sym.tolist())
    logical = topo.category_mask(*LOGICAL)
    scores = np.full(len(an.cands), -math.inf)
    parts: list[tuple[float, float]] = [(-math.inf, -math.inf)] * len(an.cands)
    for j, (c, r) in enumerate(zip(an.cands, an.radii, strict=True)):
        visible = int(np.count_nonzero(mon[r])) - int(mon[c])
        if topo.is_group[c] or logical[c] or r.size < min_radius or visible == 0:
            continue
        n_in = int(an.e[j])
        if an.is_sym[c] and not mon[c]:
            continue
        n_out = n_sym - n_in
        cap = max(0, n_mon - r.size)
        if n_out != min(round(noise * n_in), cap):
            continue
        t_all = visible + int(mon[c])
        lr, l1r = (math.log(rate), math.log(1 - rate)) if rate < 1 else (0.0, -math.inf)
        nat = n_in * lr + (t_all - n_in) * l1r
        fb = -math.inf
        if n_in == 1 and not an.is_sym[c]:
            fb = t_all * l1r - math.log(visible)
        m_out = n_mon - int(np.count_nonzero(mon[r]))
        common = -log_choose(m_out, n_out)
        parts[j] = (nat + common, fb + common)
        scores[j] = np.logaddexp(nat, fb) + common
    if timed and np.isfinite(scores).any():
        t = {a.ci_id: (a.time - T0).total_seconds() for a in alerts}
        state = {a.ci_id: a.state for a in alerts}
        keep = scores > float(scores.max()) - 40  # the others cannot come back
        scores[~keep] = -math.inf
        for j in np.flatnonzero(keep).tolist():
            cid = topo.ids[an.cands[j]]
            br = blast_radius(topo, [cid])
            inside = [topo.ids[i] for i in an.radii[j].tolist() if i in sym_set]
            if any(state[a] != ("down" if a == cid else br.state(a).value) for a in inside):
                scores[j] = -math.inf
                continue
            hops = {a: (0 if a == cid else len(br.path(a)) - 1) for a in inside}
            noisy = [s for s in symptoms if s not in set(inside)]
            nat, fb = _onset_loglik(t, hops, cid, noisy)
            ll = np.logaddexp(parts[j][0] + nat, parts[j][1] + fb)
            scores[j] = ll - len(noisy) * math.log(2)
    groups: dict[bytes, list[int]] = {}
    for j in np.flatnonzero(np.isfinite(scores)).tolist():
        groups.setdefault(an.radii[j].tobytes(), []).append(j)
    ranked = sorted(groups.values(), key=lambda js: -float(np.logaddexp.reduce(scores[js])))
    return [[topo.ids[an.cands[j]] for j in js] for js in ranked[:5]]


def run_case(
    topo: Topology,
    mon: np.ndarray,
    failed: str,
    alerts: list[Alert],
    *,
    rate: float,
    noise: float,
    min_radius: int,
) -> dict[str, int]:
    """The rank (1-based, 99 beyond 5) of ``failed`` per ranker; ``rate``, ``noise`` and
    ``min_radius`` are for the oracles only."""
    symptoms = list(dict.fromkeys(a.ci_id for a in alerts))
    answers = _baselines(topo, symptoms, mon)
    for name, ids, timed_alerts in (("times", [], alerts), ("no times", symptoms, [])):
        ranked = rank_root_causes(topo, ids, alerts=timed_alerts, monitored=mon, now=T0, top=5)
        answers[name] = [[c.id, *c.equivalents] for c in ranked]
    for name, timed in (("oracle", True), ("oracle no times", False)):
        answers[name] = oracle(
            topo, mon, alerts, rate=rate, noise=noise, min_radius=min_radius, timed=timed
        )
    return {
        name: next((k + 1 for k, ids in enumerate(answers[name]) if failed in ids), 99)
        for name in RANKERS
    }


def estates(sizes: list[int], micro: list[str]) -> list[tuple[str, Topology]]:
    out = [(f"generated {n:,}", generate_topology(n, seed=n)) for n in sizes]
    return out + [(name, TOPOLOGIES[name]()) for name in micro]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--estates", type=int, nargs="*", default=[1000, 3000, 10000])
    ap.add_argument("--micro", nargs="*", default=list(TOPOLOGIES))
    ap.add_argument("--cases", type=int, default=30, help="per topology, rate and noise")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.3, 0.6, 0.9])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.2, 0.5])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-radius", type=int, default=5)
    ap.add_argument("--oracle-floor", type=int, default=None, help="radius the oracle assumes")
    args = ap.parse_args(argv)
    reg = load_registry()
    floor = args.oracle_floor
    head = " | ".join(f"{r} top-1/3/5" for r in RANKERS)
    sys.stdout.write(f"| topology | alerting | noise | cases | {head} | ms |\n")
    sys.stdout.write("|---|---:|---:|---:|" + "---|" * len(RANKERS) + "---:|\n")
    for name, topo in estates(args.estates, args.micro):
        mon = monitored_mask(topo, reg)
        rng = np.random.default_rng(args.seed)
        pooled: dict[str, list[int]] = defaultdict(list)
        for rate in args.rates:
            for noise in args.noise:
                ranks: dict[str, list[int]] = defaultdict(list)
                t0 = time.perf_counter()
                for _ in range(args.cases):
                    failed, alerts = inject(
                        topo, mon, rng, rate=rate, noise=noise, min_radius=args.min_radius
                    )
                    found = run_case(
                        topo,
                        mon,
                        failed,
                        alerts,
                        rate=rate,
                        noise=noise,
                        min_radius=args.min_radius if floor is None else floor,
                    )
                    for k, v in found.items():
                        ranks[k].append(v)
                        pooled[k].append(v)
                ms = 1000 * (time.perf_counter() - t0) / args.cases
                sys.stdout.write(_row(name, f"{rate:.0%}", f"{noise:.0%}", ranks, ms))
        sys.stdout.write(_row(f"**{name}**", "all", "all", pooled, None))
        sys.stdout.flush()
    return 0


def _row(name: str, rate: str, noise: str, ranks: dict[str, list[int]], ms: float | None) -> str:
    cells = []
    for r in RANKERS:
        v = np.asarray(ranks[r])
        cells.append(" / ".join(f"{np.mean(v <= k):.0%}" for k in (1, 3, 5)))
    n = len(ranks[RANKERS[0]])
    time_ms = "" if ms is None else f"{ms:.0f}"
    return f"| {name} | {rate} | {noise} | {n} | {' | '.join(cells)} | {time_ms} |\n"


if __name__ == "__main__":
    raise SystemExit(main())
