"""The first blast radius in a new process against the steady one, on a cached snapshot.

Each round starts a new Python process that loads a saved topology snapshot (memory-mapped,
``Topology.load``, as the store's cache does) and runs the hub's blast radius ``--queries``
times, timing each; the
first is the cold one (ids looked up, pages of the arrays mapped, the engine's scratch made),
the median of the others the steady one; wall and CPU (``process_time``: user and system,
page faults included, less sensitive to other jobs on the machine). Two kinds of query: the
engine alone (``blast_radius`` and its length) and the whole answer (counts, services,
customers, as ``bench_impact_scale``). The parent first reads the store's snapshot from its
rows and saves it in a directory of its own (``--snapshot``), so that the store's cache, which
other jobs may be using, is left alone; it never regenerates the store.

Run on the 1M-CI store of ``bench_incremental`` (built once, 18 min; see docs/benchmarks.md):

    .venv/bin/python bench/bench_first_query.py --db bench/out/incremental-1000000-0.db --rounds 5

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from cmdb.topology import Topology
from impact.blast import blast_radius
t1 = time.perf_counter()
topo = Topology.load(sys.argv[1])
t2 = time.perf_counter()
hub, queries, full = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "full"
times, cpu = [], []
for _ in range(queries):
    t, c = time.perf_counter(), time.process_time()
    br = blast_radius(topo, [hub])
    size = len(br)
    if full:
        br.counts(); br.services(); br.customers()
    times.append((time.perf_counter() - t) * 1e3)
    cpu.append((time.process_time() - c) * 1e3)
out = {"import": t1 - t0, "load": t2 - t1, "times": times, "cpu": cpu, "size": size}
print(json.dumps(out))
"""


def child(snap: Path, hub: str, queries: int, kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(snap), hub, str(queries), kind],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / "bench/out/incremental-1000000-0.db")
    ap.add_argument("--snapshot", type=Path, default=None, help="default: beside --db")
    ap.add_argument("--hub", default="sw-000000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=6)
    args = ap.parse_args()
    if not args.db.exists():
        sys.exit(f"{args.db}: no such store (build it as the module docstring says)")

    from cmdb.settings import Settings
    from cmdb.store import open_store
    from cmdb.topology import Topology

    snap = args.snapshot or args.db.with_name(args.db.name + ".first-query")
    topo = Topology.load(snap)
    if topo is None:  # missing, or of another format
        shutil.rmtree(snap, ignore_errors=True)
        with open_store(Settings(db=args.db)) as store:
            topo = store._build_topology()[1]  # from rows; the store's cache is not touched
        topo.save(snap)
    rows = [("graph", f"{topo.n:,} CIs, {topo.m:,} relationships")]
    del topo
    for kind in ("engine", "full"):
        runs = [child(snap, args.hub, args.queries, kind) for _ in range(args.rounds)]
        label = "engine alone" if kind == "engine" else "with counts, services, customers"
        for clock in ("times", "cpu"):
            firsts = [r[clock][0] for r in runs]
            steady = [statistics.median(r[clock][1:]) for r in runs]
            ratio = [f / s for f, s in zip(firsts, steady, strict=True)]
            what = "wall" if clock == "times" else "CPU"
            rows.append(
                (
                    f"hub, {label}, {what}: **first** / **steady** (ms, medians of "
                    f"{args.rounds} processes); first / steady per process (median, max)",
                    f"**{statistics.median(firsts):.1f}** / **{statistics.median(steady):.1f}**"
                    f"; **{statistics.median(ratio):.2f}x**, {max(ratio):.2f}x",
                )
            )
        rows.append((f"hub, {label}: affected", f"{runs[0]['size']:,}"))
        if kind == "engine":
            rows.append(
                (
                    "imports / snapshot load (s, medians)",
                    f"{statistics.median(r['import'] for r in runs):.2f} / "
                    f"{statistics.median(r['load'] for r in runs):.3f}",
                )
            )
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
