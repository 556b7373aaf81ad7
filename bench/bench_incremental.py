"""The first blast radius after a small graph write: snapshot brought up to date vs rebuilt.

Measures, in one run and on one generated SQLite store:

- a cold ``cmdb impact blast-radius`` process on the cached snapshot (nothing written since it
  was published): the baseline;
- the same cold process after one small graph write (a new CI and its relationship), which
  brings the snapshot on disk up to date from history (:mod:`cmdb.topology_delta`), sharing
  the base's files copy-on-write, and the same with ``SHARE_FILES`` off (copying the arrays,
  as before), rounds interleaved;
- the same cold process with no usable snapshot, which rebuilds it from rows (what the first
  query after a graph write cost before);
- in one warm process: ``store.topology()`` after one small write, from the snapshot in memory,
  and a full rebuild from rows (``_build_topology``), medians of ``--rounds``; and the warm
  blast radius of the hub on the snapshot brought up to date (a patched CSR: the hub's row
  moved) against a rebuilt, packed one of the same state (best of ``--rounds``).

With ``--neo4j-cis N`` it also loads N generated CIs into the Neo4j server of
``CMDB_TEST_NEO4J_URI`` / ``CMDB_TEST_NEO4J_PASSWORD`` (wiping it first: never point it at a
server whose data matters) and times ``topology()`` after one small write, refreshed vs rebuilt.

Wall time and peak RSS of each cold process are measured by a small launcher, as in
``bench/bench_impact_scale.py``. Run (the store is generated once and reused; each run adds a
few CIs to it):

    .venv/bin/python bench/bench_incremental.py --cis 100000 --rounds 3
    CMDB_TEST_NEO4J_URI=bolt://127.0.0.1:7688 CMDB_TEST_NEO4J_PASSWORD=... \
        .venv/bin/python bench/bench_incremental.py --skip-sqlite --neo4j-cis 20000 --rounds 3

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmdb.generator import pick_probes  # noqa: E402
from cmdb.model import CI, Batch, Relationship  # noqa: E402
from cmdb.settings import Settings  # noqa: E402
from cmdb.store import open_store  # noqa: E402


def cold_cli(db: Path, ci: str, *, share: bool = True) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: what a loaded machine does not inflate) and
    peak RSS (MB) of one `cmdb impact blast-radius` process. ``share=False``: the snapshot
    brought up to date copies the base's arrays instead of mapping its files copy-on-write
    (``cmdb.topology_delta.SHARE_FILES``), as before."""
    cmd = [str(ROOT / ".venv" / "bin" / "cmdb"), "--db", str(db), "impact", "blast-radius", ci]
    cmd += ["--format", "json", "--limit", "20"]
    if not share:
        script = (
            "import sys, cmdb.topology_delta as d; d.SHARE_FILES = False\n"
            "from cli.main import main; sys.argv = sys.argv[1:]; sys.exit(main())"
        )
        cmd = [sys.executable, "-c", script, *cmd]
    launcher = (
        "import resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(time.perf_counter() - t0, r.ru_utime + r.ru_stime, r.ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", launcher, *cmd], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def small_write(store, target: str, tag: str) -> None:
    """One small graph write: a new application that depends on ``target``."""
    store.apply(
        Batch(
            cis=[CI(id=f"bench-inc-{tag}", ci_class="application", name="bench")],
            relationships=[
                Relationship(source=f"bench-inc-{tag}", type="depends_on", target=target)
            ],
        ),
        actor="bench",
    )


def neo4j_rows(cis: int, seed: int, rounds: int) -> list[tuple[str, str]]:
    """topology() after one small write on a Neo4j store: refreshed vs rebuilt (ms)."""
    from cmdb.generator import generate
    from tests.neo4j_support import neo4j_settings_or_skip, wipe

    store = open_store(neo4j_settings_or_skip())
    wipe(store)
    for batch in generate(cis, seed=seed, batch_size=5_000):
        store.apply(batch, actor="bench")
    topo = store.topology()
    hub = pick_probes(topo)["hub"]
    refresh, full = [], []
    build = store._build_topology
    rebuilt: list[int] = []
    store._build_topology = lambda tx: (rebuilt.append(1), build(tx))[1]
    for i in range(rounds):
        small_write(store, hub, f"neo-{i}")
        t0 = time.perf_counter()
        store.topology()
        refresh.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with store._session() as s:
            s.execute_read(build)
        full.append(time.perf_counter() - t0)
    store.close()
    return [
        ("Neo4j graph", f"{topo.n:,} CIs, {topo.m:,} relationships"),
        (
            "Neo4j: topology() after one small write (ms)",
            f"{statistics.median(refresh) * 1e3:.0f} ({len(rebuilt)} of {rounds} rebuilt)",
        ),
        ("Neo4j: full snapshot read (ms)", f"{statistics.median(full) * 1e3:.0f}"),
    ]


def warm_blast(patched, packed, hub: str, rounds: int) -> list[tuple[str, str]]:
    """Warm blast radius of ``hub`` (ms, best of ``rounds`` after a first run) on a snapshot
    brought up to date in memory and on a rebuilt, packed one of the same state."""
    from impact.blast import blast_radius

    out = []
    for label, topo in (("brought up to date", patched), ("rebuilt, packed", packed)):
        blast_radius(topo, [hub])
        times = []
        for _ in range(max(rounds, 3)):
            t0 = time.perf_counter()
            blast_radius(topo, [hub])
            times.append(time.perf_counter() - t0)
        name = f"warm blast radius of {hub}, snapshot {label} (ms)"
        out.append((name, f"{min(times) * 1e3:.1f}"))
    return out


def median_of(runs: list[tuple[float, float, float]]) -> str:
    wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
    return f"{wall:.2f} s wall, {cpu:.2f} s CPU, {rss:.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--neo4j-cis", type=int, default=0)
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    if args.skip_sqlite:
        rows = neo4j_rows(args.neo4j_cis, args.seed, args.rounds)
        print("| measure | value |\n|---|---|")
        for name, value in rows:
            print(f"| {name} | {value} |")
        return
    db = args.db or ROOT / "bench" / "out" / f"incremental-{args.cis}-{args.seed}.db"
    if not db.exists():
        sys.exit(f"{db} is missing: cmdb --db {db} generate --cis {args.cis} --seed {args.seed}")
    stamp = f"{time.time_ns():x}"
    cache = db.with_name(db.name + ".snapshots")
    rows: list[tuple[str, str]] = []

    # a published snapshot of the state now (a full one, as a rebuild publishes it)
    shutil.rmtree(cache, ignore_errors=True)
    with open_store(Settings(db=db)) as store:
        t0 = time.perf_counter()
        topo = store.topology()
        rows.append(("rebuild from rows, in process (s)", f"{time.perf_counter() - t0:.2f}"))
        rows.append(("graph", f"{topo.n:,} CIs, {topo.m:,} relationships"))
        hub = pick_probes(topo)["hub"]
    rounds = args.rounds
    rows.append(
        (
            "cold CLI blast radius, cached snapshot",
            median_of([cold_cli(db, hub) for _ in range(rounds)]),
        )
    )

    with open_store(Settings(db=db)) as store:
        small_write(store, hub, f"{stamp}-0")
    shared, copied = [], []
    for _ in range(rounds):  # interleaved: a loaded machine weighs on both alike
        shared.append(cold_cli(db, hub))
        copied.append(cold_cli(db, hub, share=False))
    rows.append(("cold CLI after one small write, brought up to date", median_of(shared)))
    rows.append(
        ("cold CLI after one small write, up to date by copying (before)", median_of(copied))
    )
    rebuilt = []
    for _ in range(rounds):  # no usable snapshot: the process rebuilds (and publishes)
        shutil.rmtree(cache, ignore_errors=True)
        rebuilt.append(cold_cli(db, hub))
    rows.append(("cold CLI after one small write, rebuilt from rows", median_of(rebuilt)))

    # one warm process: each write followed by a refresh from the snapshot in memory
    with open_store(Settings(db=db)) as store:
        store.topology()
        refresh, full = [], []
        for i in range(rounds):
            small_write(store, hub, f"{stamp}-w{i}")
            t0 = time.perf_counter()
            new = store.topology()
            new.dependents  # noqa: B018 (what a blast radius reads first)
            refresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store._build_topology()
            full.append(time.perf_counter() - t0)
        # the engine on a snapshot patched in memory (the hub's row moved) vs a packed one
        rows += warm_blast(new, store._build_topology()[1], hub, rounds)
    rows.append(
        ("warm: topology() after one small write (ms)", f"{statistics.median(refresh) * 1e3:.1f}")
    )
    rows.append(("warm: full rebuild from rows (ms)", f"{statistics.median(full) * 1e3:.0f}"))

    if args.neo4j_cis:
        rows += neo4j_rows(args.neo4j_cis, args.seed, rounds)
    print(f"\n{args.cis:,} generated CIs, seed {args.seed}, medians of {rounds}\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
