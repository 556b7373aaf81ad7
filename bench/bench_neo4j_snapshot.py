"""Neo4j: reading the topology snapshot back, against the raw pull of the same data, in one run.
Prints a markdown table.

Run (from the repository root, with a dev server up: ``scripts/neo4j-dev-server start``)::

    .venv/bin/python -m bench.bench_neo4j_snapshot --cis 100000 --rounds 5

THE TARGET DATABASE IS WIPED and loaded with the generator's estate (seed 0) through
:meth:`Neo4jStore.apply` in batches, unless ``--reuse`` is given and it already holds exactly
that many CIs. At a million CIs, load it with ``cmdb neo4j bulk-import --generate 1000000
--dev-server`` (minutes; ``apply`` takes about 90) or ``bench.bench_neo4j_import``, and skip
the plain reader (``--no-plain``: a minute a round; the snapshots are then not compared).
The server comes from ``CMDB_TEST_NEO4J_URI`` and ``CMDB_TEST_NEO4J_PASSWORD``, else the dev
server (``.neo4j/password``, port 7687); a host other than localhost needs
``--force``.

Each round times, in a rotating order so that the machine's load falls on all of them alike,
each in its own read transaction:

- *raw pull*: the CI ids and the (source id, target id) pairs of the active relationships, as
  chunked ``collect()`` lists (pages of 50k source CIs), decoded by the driver and nothing
  else: what any snapshot has to fetch, the issue's baseline;
- *plain reader* (before): :func:`read_topology_plain`, one ``collect()`` list per property;
- *reader, one session*: :func:`read_topology` reading the CI pages and then their
  relationships in the one transaction;
- *reader, two sessions* (now): :func:`read_topology` with ``session``, the relationships read
  in a second session on a second thread (and the rest of them by the first session once the
  CIs are read), what :meth:`Neo4jStore.topology` runs.

The readers' snapshots are compared array by array with the plain one's; the table gives the
best and the median wall time of the rounds, each median's ratio to the raw pull's, and the CPU
time of this process (the driver's decoding and numpy; both threads): the rest of the wall time
is the server's. Whether the driver's Rust extension (``neo4j-rust-ext``) decodes is printed.

``--refresh K`` then times :func:`refresh_topology` after a write that only moves the
last-seen of K CIs (no history; THE DATABASE IS WRITTEN), each round from the same base both
ways: found by their ``touched`` marks (now), and with a mark of the reader before (the seq
alone), which reads every live CI's last-seen; the two results are compared.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from urllib.parse import urlparse

import numpy as np

from bench.bench_neo4j_ingest import batched, settings, wipe
from cmdb.registry import load_registry
from cmdb.store import open_store
from cmdb.store.neo4j_topology import PAGE, read_topology, read_topology_plain, refresh_topology
from cmdb.topology import Topology

_IDS = (
    "MATCH (c:CI) WHERE c.id > $after AND c.status <> 'retired' "
    "WITH c ORDER BY c.id LIMIT $page RETURN collect(c.id)"
)
_PAIRS = (
    "MATCH (s:CI)-[r]->(t:CI) WHERE s.id > $after AND s.id <= $last AND r.status = 'active' "
    "RETURN collect(s.id), collect(t.id)"
)
_ARRAYS = (
    "class_code",
    "is_group",
    "min_required",
    "criticality",
    "last_seen",
    "availability",
    "in_service",
    "src",
    "dst",
    "rtype",
)


def raw_pull(tx, registry) -> int:
    """The ids and the pairs, as the driver decodes them; the number of pairs."""
    after, pairs = "", 0
    while True:
        (ids,) = tx.run(_IDS, after=after, page=PAGE).single()
        if not ids:
            return pairs
        src, _ = tx.run(_PAIRS, after=after, last=ids[-1]).single()
        pairs += len(src)
        after = ids[-1]


def two_sessions(store):
    """:func:`read_topology` as :meth:`Neo4jStore.topology` runs it."""

    def read(tx, registry) -> Topology:
        return read_topology(tx, registry, session=store._session)

    return read


def identical(a: Topology, b: Topology) -> bool:
    if (a.store_id, a.version, a.ids) != (b.store_id, b.version, b.ids):
        return False
    for name in _ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def touch(store, ids: list[str], rnd: int) -> None:
    """A write that only moves the last-seen of ``ids`` (no history)."""
    from datetime import UTC, datetime, timedelta

    from cmdb.model import Batch

    when = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=rnd)
    cis = [c.model_copy(update={"last_seen": {"bench": when}}) for c in map(store.get_ci, ids)]
    store.apply(Batch(cis=cis), actor="bench")


def refresh_rounds(store, base: Topology, k: int, rounds: int) -> None:
    """Time the refresh after a last-seen-only write of ``k`` CIs, by marks and by column."""
    with store._session() as s:
        s.run("CALL db.awaitIndexes(600)").consume()
    by_mark: list[float] = []
    by_column: list[float] = []
    step = max(base.n // (k * rounds + 1), 1)
    for r in range(rounds):
        touch(store, [base.ids[(r * k + i) * step] for i in range(k)], r)
        mark = base.mark
        base.mark = mark.split(":")[0]  # the reader before: no store version in the mark
        t0 = time.perf_counter()
        old = refresh_topology(store, base)
        by_column.append(time.perf_counter() - t0)
        base.mark = mark
        t0 = time.perf_counter()
        new = refresh_topology(store, base)
        by_mark.append(time.perf_counter() - t0)
        assert old is not None and new is not None and identical(new, old)
        base = new
    print(
        f"\nrefresh after a write that moves only the last-seen of {k} CIs ({rounds} rounds, "
        "results identical):\n\n| refresh | best s | median s |\n|---|---:|---:|"
    )
    for name, t in (("every live CI's last-seen read (before)", by_column),
                    ("CIs found by their `touched` marks (now)", by_mark)):  # fmt: skip
        print(f"| {name} | {min(t):.3f} | {statistics.median(t):.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="keep a database of --cis CIs")
    ap.add_argument("--force", action="store_true", help="allow a non-local server")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain reader")
    ap.add_argument("--refresh", type=int, default=0, metavar="K", help="time the refresh")
    args = ap.parse_args(argv)
    cfg = settings()
    if urlparse(cfg.store).hostname not in ("127.0.0.1", "localhost", "::1") and not args.force:
        sys.exit(f"refusing to wipe {cfg.store}: not local (use --force)")
    registry = load_registry()
    store = open_store(cfg, registry=registry)
    with store._session() as s:
        (have,) = s.run("MATCH (c:CI) RETURN count(c)").single()
    if not (args.reuse and have == args.cis):
        wipe(store)
        timing = batched(store, args.cis, args.batch, bulk=True)
        n_cis, n_rels = sum(t[0] for t in timing), sum(t[1] for t in timing)
        seconds = sum(t[2] for t in timing)
        print(f"loaded {n_cis} CIs + {n_rels} relationships in {seconds:.0f} s (bulk apply)\n")
    readers = {
        "raw pull: ids + (source, target) id pairs, chunked `collect()`": raw_pull,
        "plain reader (before): a `collect()` list per property": read_topology_plain,
        "reader, one session": read_topology,
        "**reader, two sessions (now): `Neo4jStore.topology`**": two_sessions(store),
    }
    if args.no_plain:
        del readers["plain reader (before): a `collect()` list per property"]
    times: dict[str, list[float]] = {name: [] for name in readers}
    cpu: dict[str, list[float]] = {name: [] for name in readers}
    results: dict[str, object] = {}
    names = list(readers)
    with store._session() as s:
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                t0, c0 = time.perf_counter(), time.process_time()
                results[name] = s.execute_read(readers[name], registry)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    new = results[names[-1]]
    assert isinstance(new, Topology)
    if args.no_plain:
        same = "not compared with the plain reader"
    else:
        old = results[names[1]]
        assert isinstance(old, Topology)
        same = "yes" if all(identical(results[n], old) for n in names[2:]) else "NO"
    base = statistics.median(times[names[0]])
    rust = "yes" if importlib.util.find_spec("neo4j._rust") else "no"
    print(
        f"Neo4j {store.uri}: {new.n} CIs + {new.m} relationships in the snapshot, "
        f"{args.rounds} rounds; snapshots identical: {same}; driver's Rust extension: {rust}\n"
    )
    print(
        "| read | best s | median s | median / raw pull | client CPU s (median) |\n"
        "|---|---:|---:|---:|---:|"
    )
    for name in names:
        best, median = min(times[name]), statistics.median(times[name])
        print(
            f"| {name} | {best:.2f} | {median:.2f} | {median / base:.2f}× "
            f"| {statistics.median(cpu[name]):.2f} |"
        )
    if not args.no_plain:
        plain, now = statistics.median(times[names[1]]), statistics.median(times[names[-1]])
        print(f"\nspeed-up of the reader (two sessions) over the plain one: {plain / now:.1f}×")
    if args.refresh:
        refresh_rounds(store, new, args.refresh, args.rounds)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
