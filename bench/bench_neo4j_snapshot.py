"""Neo4j: reading the topology snapshot back, against the raw pull of the same data, in one run.
Prints a markdown table.

Run (from the repository root, with a dev server up: ``scripts/neo4j-dev-server start``)::

    .venv/bin/python -m bench.bench_neo4j_snapshot --cis 100000 --rounds 5

THE TARGET DATABASE IS WIPED and loaded with the generator's estate (seed 0) through
:meth:`Neo4jStore.apply` in batches, unless ``--reuse`` is given and it already holds exactly
that many CIs. The server comes from ``CMDB_TEST_NEO4J_URI`` and ``CMDB_TEST_NEO4J_PASSWORD``,
else the dev server (``.neo4j/password``, port 7687); a host other than localhost needs
``--force``.

Each round times, in a rotating order so that the machine's load falls on all of them alike,
each in its own read transaction:

- *raw pull*: the CI ids and the (source id, target id) pairs of the active relationships, as
  chunked ``collect()`` lists (pages of 50k source CIs), decoded by the driver and nothing
  else: what any snapshot has to fetch, the issue's baseline;
- *plain reader* (before): :func:`read_topology_plain`, one ``collect()`` list per property;
- *text-chunk reader* (now): :func:`read_topology`, what :meth:`Neo4jStore.topology` runs.

The two readers' snapshots are compared array by array; the table gives the best and the
median wall time of the rounds, each median's ratio to the raw pull's, and the CPU time of
this process (the driver's decoding and numpy): the rest of the wall time is the server's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from urllib.parse import urlparse

import numpy as np

from bench.bench_neo4j_ingest import batched, settings, wipe
from cmdb.registry import load_registry
from cmdb.store import open_store
from cmdb.store.neo4j_topology import PAGE, read_topology, read_topology_plain
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


def identical(a: Topology, b: Topology) -> bool:
    if (a.store_id, a.version, a.ids) != (b.store_id, b.version, b.ids):
        return False
    for name in _ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="keep a database of --cis CIs")
    ap.add_argument("--force", action="store_true", help="allow a non-local server")
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
        n_cis, n_rels, seconds = batched(store, args.cis, args.batch)
        print(f"loaded {n_cis} CIs + {n_rels} relationships in {seconds:.0f} s\n")
    readers = {
        "raw pull: ids + (source, target) id pairs, chunked `collect()`": raw_pull,
        "plain reader (before): a `collect()` list per property": read_topology_plain,
        "text-chunk reader (now): `Neo4jStore.topology`": read_topology,
    }
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
    old, new = results[names[1]], results[names[2]]
    assert isinstance(old, Topology) and isinstance(new, Topology)
    base = statistics.median(times[names[0]])
    print(
        f"Neo4j {store.uri}: {new.n} CIs + {new.m} relationships in the snapshot, "
        f"{args.rounds} rounds; snapshots identical: {'yes' if identical(new, old) else 'NO'}\n"
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
    plain, now = statistics.median(times[names[1]]), statistics.median(times[names[2]])
    print(f"\nspeed-up of the text-chunk reader over the plain one: {plain / now:.1f}×")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
