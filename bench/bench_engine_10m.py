"""The engine at ten million CIs: memory of the in-memory estate and the hub's blast radius.

Measures, in one process and on one graph (``generate_topology(--cis)``, ~40M relationships
at 10M CIs):

- generation: wall time, RSS after it, and the process's peak RSS so far (``ru_maxrss``);
- the hub's blast radius (``--hub``, default the core switch ``sw-000000``): the first query,
  which builds what the engine reads (adjacency, scratch), then RSS (the snapshot as queries
  use it) and the peak RSS of generation, snapshot and query together, and what the ids take;
  then the median of ``--rounds``, engine alone (``blast_radius`` and its length) and with
  counts, services and customers as ``bench_impact_scale`` does;
- the baseline in the same run: a compiled CSR breadth-first search,
  ``scipy.sparse.csgraph.breadth_first_order`` from the hub over the same impact and membership
  edges (what a failure can touch), median of ``--rounds``. Its matrix is built after the
  peak above is read, so it does not count against the estate.

With ``--before FILE`` (an older ``impact/spread.py``, e.g. ``git show HEAD:impact/spread.py >
/tmp/spread_before.py``), the engine rounds alternate that engine's ``solve`` with the current
one on the same snapshot (the rest of the code is the current one for both).

Run (about a minute of generation at 10M on 2 cores; scipy comes with the ``bench`` extra):

    .venv/bin/python bench/bench_engine_10m.py --cis 10000000 --rounds 5 [--before FILE]

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import impact.blast  # noqa: E402
from cmdb.generator import generate_topology  # noqa: E402
from impact.blast import blast_radius  # noqa: E402

MB = 2**20


def rss() -> float:
    return psutil.Process().memory_info().rss / MB


def peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(fn, rounds: int) -> tuple[float, float]:
    """(min, median) wall ms of ``fn`` over ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times), statistics.median(times)


def clock(fn) -> tuple[float, float]:
    """(wall, CPU) ms of one call of ``fn``; CPU (``process_time``: user and system, page
    faults included) is less sensitive to other jobs on the machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3


def spread(times: list[tuple[float, float]]) -> str:
    """'min / median' of the wall times, then of the CPU times, in ms."""
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return (
        f"{min(wall):.0f} / **{statistics.median(wall):.0f}**; CPU {min(cpu):.0f} / "
        f"{statistics.median(cpu):.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hub", default="sw-000000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", type=Path, help="an older impact/spread.py to alternate with")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = [("process RSS before (MB)", f"{rss():.0f}")]

    t0 = time.perf_counter()
    topo = generate_topology(args.cis, seed=args.seed)
    gc.collect()
    rows.append(("graph", f"{topo.n:,} CIs, {topo.m:,} relationships"))
    rows.append(
        (
            "generate_topology: wall s / RSS after / peak RSS (MB)",
            f"{time.perf_counter() - t0:.1f} / {rss():.0f} / {peak():.0f}",
        )
    )
    hub = args.hub
    t0 = time.perf_counter()
    first = len(blast_radius(topo, [hub]))
    first_ms = (time.perf_counter() - t0) * 1e3
    rows.append(("hub: first query, which builds the adjacency (s)", f"{first_ms / 1e3:.1f}"))
    gc.collect()
    rows.append(
        (
            "**after the first query** (the snapshot as queries use it): **RSS** / **peak RSS, "
            "generation included** (MB)",
            f"**{rss():.0f}** / **{peak():.0f}**",
        )
    )
    ids = topo.ids
    rows.append(("ids: blob + offsets (+ hash table once built) (MB)", f"{ids.nbytes / MB:.0f}"))

    def full() -> None:
        br = blast_radius(topo, [hub])
        br.counts()
        br.services()
        br.customers()

    best_f, med_f = median_ms(full, args.rounds)
    rows.append(
        (
            f"hub, with counts, services and customers: min / median of {args.rounds} (ms)",
            f"{best_f:.0f} / {med_f:.0f}",
        )
    )
    rows.append(("peak RSS after the queries (MB)", f"{peak():.0f}"))

    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    frm, to = topo.impact_edges()
    member, group = topo.membership_edges()
    a = np.concatenate([frm, member])
    b = np.concatenate([to, group])
    del frm, to, member, group
    graph = csr_matrix((np.ones(a.size, np.int8), (a, b)), shape=(topo.n, topo.n))
    del a, b
    root = topo.index(hub)
    reach = breadth_first_order(graph, root, directed=True, return_predecessors=False).size - 1
    current, before = impact.blast.solve, None
    if args.before is not None:
        spec = importlib.util.spec_from_file_location("spread_before", args.before)
        assert spec is not None and spec.loader is not None
        before = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(before)
    engine: list[tuple[float, float]] = []
    baseline: list[tuple[float, float]] = []
    older: list[tuple[float, float]] = []
    for _ in range(args.rounds):  # alternated, so that load on the machine hits both alike
        if before is not None:
            impact.blast.solve = before.solve  # type: ignore[attr-defined]
            older.append(clock(lambda: len(blast_radius(topo, [hub]))))
            impact.blast.solve = current
        engine.append(clock(lambda: len(blast_radius(topo, [hub]))))
        baseline.append(clock(lambda: breadth_first_order(graph, root, return_predecessors=False)))
    med = statistics.median(t[0] for t in engine)
    med_s = statistics.median(t[0] for t in baseline)
    what = f"min / **median of {args.rounds}** (ms), wall; CPU"
    rows.append(
        (
            f"**hub `{hub}` blast radius**, engine alone ({first:,} affected): {what}",
            spread(engine),
        )
    )
    rows.append(
        (
            f"baseline, alternated with it: scipy `breadth_first_order` from the hub (reach "
            f"{reach:,}): {what}",
            spread(baseline),
        )
    )
    rows.append(("engine / baseline (wall medians)", f"**{med / med_s:.2f}x**"))
    if older:
        med_o = statistics.median(t[0] for t in older)
        rows.append(
            (
                f"engine of `{args.before}`, alternated with both: {what}",
                f"{spread(older)} (current / it, wall medians: {med / med_o:.2f}x)",
            )
        )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    rows.append(("load average (1 / 5 / 15 min) at the end", load))

    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
