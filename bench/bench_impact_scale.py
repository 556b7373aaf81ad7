"""Blast radius at scale: 1M CIs / ~4M relationships in the embedded store.

Measures, in one run and on one graph:

- ingest of the generated estate through ``GraphStore.apply`` (batched, with history);
- a cold ``cmdb impact blast-radius`` process: first without the topology cache (the snapshot is
  rebuilt from rows and saved), then with it (the normal case), wall time and peak RSS;
- warm in-process blast radius (states, services, customers and counts included) for a leaf CI,
  a mid-tier server and the core network hub, and for the median of random CIs;
- the networkx baseline on the same graph: ``nx.descendants`` of the hub over the same impact
  and membership edges (the superset of what a failure can touch), plus building the DiGraph.

Run (the store is built once and reused; ~15 minutes the first time on 2 cores):

    .venv/bin/python bench/bench_impact_scale.py --cis 1000000 --seed 0

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stores import cold_cli, ensure_store, print_table  # noqa: E402
from cmdb.generator import pick_probes  # noqa: E402
from cmdb.settings import Settings  # noqa: E402
from cmdb.store import open_store  # noqa: E402
from impact.blast import blast_radius  # noqa: E402


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def query(topo, ci):
    def run():
        br = blast_radius(topo, [ci])
        br.counts()
        br.services()
        br.customers()
        return br

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cis", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--skip-networkx", action="store_true")
    args = ap.parse_args()
    db = args.db or ROOT / "bench" / "out" / f"impact-{args.cis}-{args.seed}.db"
    rows = ensure_store(db, args.cis, args.seed)

    store = open_store(Settings(db=db))
    for cache in db.parent.glob(db.name + ".snapshots"):
        shutil.rmtree(cache)
    t0 = time.perf_counter()
    topo = store.topology()  # rebuilds from rows and writes the cache
    rows.append(("topology snapshot rebuilt from rows (s)", f"{time.perf_counter() - t0:.1f}"))
    rows.append(("graph", f"{topo.n:,} CIs, {topo.m:,} relationships"))
    probes = pick_probes(topo)

    cold = [cold_cli(db, probes["hub"]) for _ in range(3)]
    rows.append(
        (
            "cold CLI, hub, cached snapshot: wall s (median of 3)",
            f"{statistics.median(c[0] for c in cold):.2f}",
        )
    )
    rows.append(("cold CLI peak RSS (MB)", f"{max(c[2] for c in cold):.0f}"))

    for name in ("leaf", "mid", "hub"):
        br = query(topo, probes[name])()
        ms = timed(query(topo, probes[name]), 7) * 1e3
        rows.append(
            (
                f"warm blast radius, {name} `{probes[name]}` (ms, median of 7)",
                f"{ms:.2f} ({len(br):,} affected: {br.counts()})",
            )
        )
    rng = np.random.default_rng(1)
    sample = [topo.ids[i] for i in rng.choice(topo.n, 1000, replace=False)]
    per_ci = sorted(timed(query(topo, ci), 1) for ci in sample)
    rows.append(
        (
            "warm blast radius, 1000 random CIs: median / p99 (ms)",
            f"{per_ci[500] * 1e3:.3f} / {per_ci[990] * 1e3:.3f}",
        )
    )
    hub_ms = timed(query(topo, probes["hub"]), 7) * 1e3

    if not args.skip_networkx:
        import networkx as nx
        import psutil

        rss0 = psutil.Process().memory_info().rss
        t0 = time.perf_counter()
        frm, to = topo.impact_edges()
        member, group = topo.membership_edges()
        g = nx.DiGraph()
        g.add_nodes_from(range(topo.n))
        g.add_edges_from(
            zip(
                np.concatenate([frm, member]).tolist(),
                np.concatenate([to, group]).tolist(),
                strict=True,
            )
        )
        build = time.perf_counter() - t0
        rss = (psutil.Process().memory_info().rss - rss0) / 2**20
        hub = topo.index(probes["hub"])
        nx_ms = timed(lambda: nx.descendants(g, hub), 3) * 1e3
        rows.append(("networkx DiGraph build (s) / extra RSS (MB)", f"{build:.1f} / {rss:.0f}"))
        rows.append(
            (
                "networkx descendants of the hub (ms, median of 3)",
                f"{nx_ms:.0f} (reach {len(nx.descendants(g, hub)):,})",
            )
        )
        rows.append(("speed-up on the hub vs networkx", f"{nx_ms / hub_ms:.0f}x"))

    store.close()
    print_table(rows)


if __name__ == "__main__":
    main()
