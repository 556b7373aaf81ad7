"""The first blast radius after a small graph write: snapshot brought up to date vs rebuilt.

Measures, in one run and on one generated SQLite store (``bench/_stores.py`` generates it
through ``apply`` the first time, as ``bench/bench_impact_scale.py`` does, and reuses it after):

- a cold ``cmdb impact blast-radius`` process on the cached snapshot (nothing written since it
  was published): the baseline;
- the same cold process after one small write (a new CI and its relationship), which
  brings the snapshot on disk up to date from history (:mod:`cmdb.topology_delta`), sharing
  the base's files copy-on-write, and the same process with ``apply_delta`` bound to
  ``share_files=False`` (copying the arrays, as before: :data:`COPYING`), rounds interleaved;
- the same cold process with no usable snapshot, which rebuilds it from rows (what the first
  query after a graph write cost before);
- in one warm process: ``store.topology()`` after one small write, from the snapshot in memory,
  and a full rebuild from rows (``_build_topology``), medians of ``--rounds``; and the warm
  blast radius of the hub on the snapshot brought up to date (a patched CSR: the hub's row
  moved) against a rebuilt, packed one of the same state (best of ``--rounds``).

With ``--retire``, instead, the path that renumbers the nodes: a CI the benchmark added, in the
published snapshot, retired; cold processes with the snapshot's ids cut as blob slices and
with them made through lists of ``str`` (:func:`list_ids`, the code before, put in place of
``cmdb.topology_delta._renumbered_ids``: :data:`AS_LISTS`), interleaved; and in one warm
process ``apply_delta`` of such a retire and its ids step alone, both ways (:func:`warm_retire`).

With ``--neo4j-cis N`` it also loads N generated CIs into the Neo4j server of
``CMDB_TEST_NEO4J_URI`` / ``CMDB_TEST_NEO4J_PASSWORD`` (wiping it first: never point it at a
server whose data matters) and times ``topology()`` after one small write, refreshed vs rebuilt.

Wall time, CPU time and peak RSS of each cold process are measured by a small launcher
(``bench/_stores.py``). Run (each run adds a few CIs to the store; ``--retire`` retires the
one it adds):

    .venv/bin/python bench/bench_incremental.py --cis 100000 --rounds 3
    .venv/bin/python bench/bench_incremental.py --cis 1000000 --rounds 3 --retire
    CMDB_TEST_NEO4J_URI=bolt://127.0.0.1:7688 CMDB_TEST_NEO4J_PASSWORD=... \
        .venv/bin/python bench/bench_incremental.py --skip-sqlite --neo4j-cis 20000 --rounds 3

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cmdb.topology_delta as td  # noqa: E402
from bench._stores import cold_cli, ensure_store, print_table  # noqa: E402
from cmdb.generator import pick_probes  # noqa: E402
from cmdb.model import CI, Batch, Relationship  # noqa: E402
from cmdb.settings import Settings  # noqa: E402
from cmdb.store import open_store  # noqa: E402
from cmdb.topology_ids import Ids  # noqa: E402

COPYING = (
    "import functools, cmdb.topology_delta as d\n"
    "d.apply_delta = functools.partial(d.apply_delta, share_files=False)"
)
"""Run in a cold process before the CLI: its snapshot is brought up to date by copying the
base's arrays (``apply_delta(share_files=False)``), as before the files were shared."""


def list_ids(ids: Ids, removed: np.ndarray, at: np.ndarray, new: list[str]) -> Ids:
    """The renumbered path's ids as they were made before (the baseline of ``--retire``):
    every id a ``str``, cut and joined as lists, then encoded into a new :class:`Ids`."""
    kept: list[str] = []
    prev = 0
    for i in removed.tolist():
        kept += ids[prev:i]
        prev = i + 1
    kept += ids[prev:]
    out: list[str] = []
    prev = 0
    for i, name in zip(at.tolist(), new, strict=True):
        out += kept[prev:i]
        out.append(name)
        prev = i
    out += kept[prev:]
    return Ids.from_list(out)


AS_LISTS = (
    f"from cmdb.topology_ids import Ids\nimport numpy as np\n{inspect.getsource(list_ids)}"
    "import cmdb.topology_delta as d\nd._renumbered_ids = list_ids"
)
"""Run in a cold process before the CLI: a retire renumbers the ids through
:func:`list_ids` (the baseline) instead of blob slices."""


@contextmanager
def ids_as_lists():
    """In this process: the renumbered path makes its ids through :func:`list_ids`."""
    now = td._renumbered_ids
    td._renumbered_ids = list_ids
    try:
        yield
    finally:
        td._renumbered_ids = now


def small_write(store, target: str, tag: str) -> str:
    """One small graph write: a new application that depends on ``target``; its id."""
    ci = f"bench-inc-{tag}"
    store.apply(
        Batch(
            cis=[CI(id=ci, ci_class="application", name="bench")],
            relationships=[Relationship(source=ci, type="depends_on", target=target)],
        ),
        actor="bench",
    )
    return ci


def retire(store, ci: str) -> None:
    """One small graph write that renumbers the snapshot: ``ci`` (one this benchmark added)
    retired, with its relationships."""
    store.apply(Batch(retire_cis=[ci]), actor="bench")


def warm_retire(db: Path, hub: str, stamp: str, rounds: int) -> list[tuple[str, str]]:
    """In one warm process, each round: a CI added (the snapshot in memory holds it), then
    retired; ``apply_delta`` of the retire on that snapshot with the ids cut as blob slices
    (now) and made through :func:`list_ids` (before), interleaved; and the ids step alone,
    the same two ways (medians, ms)."""
    from cmdb.store.sqlite_delta import read_delta

    whole: dict[bool, list[float]] = {True: [], False: []}
    step: dict[bool, list[float]] = {True: [], False: []}
    with open_store(Settings(db=db)) as store:
        store.topology()
        for i in range(rounds):
            ci = small_write(store, hub, f"{stamp}-r{i}")
            base = store.topology()
            retire(store, ci)
            delta = read_delta(store._conn, store.registry, base, td.delta_limit(base))
            assert delta is not None
            gone = np.array([base.index(ci)], np.int64)
            no = np.empty(0, np.int64)
            for blob in (i % 2 == 0, i % 2 == 1):  # which goes first alternates
                make = td._renumbered_ids if blob else list_ids
                t0 = time.perf_counter()
                make(base.ids, gone, no, [])
                step[blob].append(time.perf_counter() - t0)
                with nullcontext() if blob else ids_as_lists():
                    t0 = time.perf_counter()
                    new = td.apply_delta(base, delta, version=base.version + 1)
                    whole[blob].append(time.perf_counter() - t0)
                assert new.n == base.n - 1 and ci not in new.ids
            store.topology()

    def ms(times: list[float]) -> str:
        return f"{statistics.median(times) * 1e3:.0f}"

    return [
        ("warm: apply_delta of one retire, ids as blob slices (ms)", ms(whole[True])),
        ("warm: the same, ids through lists of str (before, ms)", ms(whole[False])),
        ("warm: the retire's ids alone, blob slices (ms)", ms(step[True])),
        ("warm: the retire's ids alone, lists of str (before, ms)", ms(step[False])),
    ]


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


def publish_now(db: Path, cache: Path) -> tuple[list[tuple[str, str]], str]:
    """A published snapshot of the state now (a full one, as a rebuild publishes it): the
    rebuild's table rows and the hub."""
    shutil.rmtree(cache, ignore_errors=True)
    with open_store(Settings(db=db)) as store:
        t0 = time.perf_counter()
        topo = store.topology()
        took = time.perf_counter() - t0
    rows = [
        ("rebuild from rows, in process (s)", f"{took:.2f}"),
        ("graph", f"{topo.n:,} CIs, {topo.m:,} relationships"),
    ]
    return rows, pick_probes(topo)["hub"]


def retire_rows(db: Path, cache: Path, stamp: str, rounds: int) -> list[tuple[str, str]]:
    """The renumbered path, ``--retire``: a CI this benchmark adds is published in a full
    snapshot, then retired by another process; cold CLI processes bring the snapshot up to
    date with the ids cut as blob slices and through :func:`list_ids` (before), interleaved;
    then :func:`warm_retire`, and a full snapshot of the state now published again."""
    with open_store(Settings(db=db)) as store:
        hub = pick_probes(store.topology())["hub"]
        doomed = small_write(store, hub, f"{stamp}-ret")
    rows, hub = publish_now(db, cache)
    rows.append(("cold CLI blast radius, cached snapshot", median_of(cold(db, hub, rounds))))
    with open_store(Settings(db=db)) as store:
        retire(store, doomed)
    now, before = [], []
    for _ in range(rounds):  # interleaved: a loaded machine weighs on both alike
        now.append(cold_cli(db, hub))
        before.append(cold_cli(db, hub, setup=AS_LISTS))
    rows.append(("cold CLI after one retire, ids as blob slices", median_of(now)))
    rows.append(("cold CLI after one retire, ids through lists of str (before)", median_of(before)))
    rows += warm_retire(db, hub, stamp, rounds)
    publish_now(db, cache)  # the next processes start from the state now, not from a retire
    return rows


def cold(db: Path, hub: str, rounds: int) -> list[tuple[float, float, float]]:
    return [cold_cli(db, hub) for _ in range(rounds)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--neo4j-cis", type=int, default=0)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--retire", action="store_true", help="measure the retire path only")
    args = ap.parse_args()
    rounds = args.rounds
    if args.skip_sqlite:
        print_table(neo4j_rows(args.neo4j_cis, args.seed, rounds))
        return
    db = args.db or ROOT / "bench" / "out" / f"incremental-{args.cis}-{args.seed}.db"
    rows = ensure_store(db, args.cis, args.seed)  # reused when it exists
    stamp = f"{time.time_ns():x}"
    cache = db.with_name(db.name + ".snapshots")
    if args.retire:
        rows += retire_rows(db, cache, stamp, rounds)
    else:
        rows += append_rows(db, cache, stamp, rounds)
    if args.neo4j_cis:
        rows += neo4j_rows(args.neo4j_cis, args.seed, rounds)
    print(f"\n{args.cis:,} generated CIs, seed {args.seed}, medians of {rounds}\n")
    print_table(rows)


def append_rows(db: Path, cache: Path, stamp: str, rounds: int) -> list[tuple[str, str]]:
    """The in-place path: cold CLI processes after one small write (shared, copying, rebuilt),
    then one warm process (refresh vs rebuild, and the engine on the patched snapshot)."""
    rows, hub = publish_now(db, cache)
    rows.append(("cold CLI blast radius, cached snapshot", median_of(cold(db, hub, rounds))))
    with open_store(Settings(db=db)) as store:
        small_write(store, hub, f"{stamp}-0")
    shared, copied = [], []
    for _ in range(rounds):  # interleaved: a loaded machine weighs on both alike
        shared.append(cold_cli(db, hub))
        copied.append(cold_cli(db, hub, setup=COPYING))
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
    return rows


if __name__ == "__main__":
    main()
