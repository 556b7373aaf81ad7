"""Root-cause ranking quality on generated estates: top-1 / top-3 accuracy and time per ranking.

Run (from the repository root)::

    .venv/bin/python -m bench.bench_root_cause --cis 20000 --seeds 1 2 3 4 --injections 60 \
        --disjoint-noise

Each injection picks a random CI whose blast radius has at least ``--min-radius`` CIs, takes
``--share`` (60%) of that blast radius as symptoms, adds ``--noise`` (20% of the symptom count)
unrelated CIs (outside the blast radius and not the failed CI; with ``--disjoint-noise`` a second
row also requires their own blast radius not to meet the failure's, which rules out e.g. another
member of the failed CI's pool), and ranks. Redundancy groups are never injected: a group fails
through its members. A hit at k means the
failed CI is one of the first k candidates, or one of their ``equivalents`` (CIs with the same
blast radius, which no set of symptoms can tell apart); ``top1 exact`` does not count
equivalents. Times are wall-clock per :func:`impact.root_cause.rank_root_causes` call, after the
snapshot is built. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from cmdb.generator import generate_topology
from cmdb.topology import Topology
from impact.blast import blast_radius
from impact.root_cause import rank_root_causes


def inject(
    topo: Topology,
    rng: np.random.Generator,
    *,
    min_radius: int,
    share: float,
    noise: float,
    disjoint: bool = False,
) -> tuple[str, list[str]]:
    """A failed CI and a noisy subset of its blast radius, as symptoms. Noise CIs are outside
    the blast radius; with ``disjoint``, their own blast radius must not meet it either."""
    deps = topo.dependents.degree() + topo.groups.degree()
    pool = np.flatnonzero((deps > 0) & ~topo.is_group)
    while True:
        failed = topo.ids[int(rng.choice(pool))]
        br = blast_radius(topo, [failed])
        if len(br) < min_radius:
            continue
        listed = [a.id for a in br.affected()]
        k = max(1, round(share * len(listed)))
        picked = list(rng.choice(listed, size=k, replace=False))
        inside = set(listed) | {failed}
        extra = []
        want = round(noise * k)
        while len(extra) < want:
            other = topo.ids[int(rng.integers(topo.n))]
            if other in inside or other in extra:
                continue
            if disjoint and inside & {a.id for a in blast_radius(topo, [other]).affected()}:
                continue
            extra.append(other)
        return failed, picked + extra


def run(
    cis: int,
    seeds: list[int],
    injections: int,
    *,
    min_radius: int,
    share: float,
    noise: float,
    disjoint: bool = False,
) -> dict:
    hits1 = hits1_exact = hits3 = total = 0
    times: list[float] = []
    for seed in seeds:
        topo = generate_topology(cis, seed=seed)
        rng = np.random.default_rng(seed * 1_000)
        for _ in range(injections):
            failed, symptoms = inject(
                topo, rng, min_radius=min_radius, share=share, noise=noise, disjoint=disjoint
            )
            t0 = time.perf_counter()
            ranked = rank_root_causes(topo, symptoms, top=3)
            times.append(time.perf_counter() - t0)
            found = [failed == c.id or failed in c.equivalents for c in ranked]
            hits1 += found[:1] == [True]
            hits1_exact += bool(ranked) and ranked[0].id == failed
            hits3 += any(found)
            total += 1
    return {
        "cis": cis,
        "seeds": seeds,
        "noise": "disjoint" if disjoint else "uniform",
        "n": total,
        "top1": hits1 / total,
        "top1_exact": hits1_exact / total,
        "top3": hits3 / total,
        "median_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--injections", type=int, default=60, help="per seed")
    ap.add_argument("--min-radius", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.6)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument(
        "--disjoint-noise",
        action="store_true",
        help="Also run with noise CIs whose blast radius does not meet the failure's.",
    )
    args = ap.parse_args(argv)
    sys.stdout.write(
        "| CIs | seeds | injections | noise | top-1 | top-1 exact | top-3 | median ms | p95 ms |\n"
        "|---:|---|---:|---|---:|---:|---:|---:|---:|\n"
    )
    for disjoint in (False, True) if args.disjoint_noise else (False,):
        r = run(
            args.cis,
            args.seeds,
            args.injections,
            min_radius=args.min_radius,
            share=args.share,
            noise=args.noise,
            disjoint=disjoint,
        )
        sys.stdout.write(
            f"| {r['cis']:,} | {' '.join(map(str, r['seeds']))} | {r['n']} | {r['noise']} | "
            f"{r['top1']:.1%} | {r['top1_exact']:.1%} | {r['top3']:.1%} | "
            f"{r['median_ms']:.1f} | {r['p95_ms']:.1f} |\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
