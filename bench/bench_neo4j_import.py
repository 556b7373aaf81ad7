"""Neo4j first load: `neo4j-admin database import` (`cmdb neo4j bulk-import`) against
``Neo4jStore.apply`` in the same run. Prints a markdown table.

Run (from the repository root; it uses, stops, replaces and restarts the dev-server instance
that ``CMDB_NEO4J_DEV_DIR`` / ``CMDB_NEO4J_DEV_PORT`` name, so give it a private one)::

    CMDB_NEO4J_DEV_DIR=$PWD/.neo4j-bench CMDB_NEO4J_DEV_PORT=7699 \\
        .venv/bin/python -m bench.bench_neo4j_import --cis 100000 --baseline-cis 10000

THE INSTANCE'S DATABASE IS REPLACED. Stages, each timed on its own:

- *generate*: the generator's pydantic batches (the source: a file read instead costs what
  ``read_file`` costs);
- *CSV*: validation with the registry (as ``apply``), documents, the history of CIs and
  relationships in compressed HistoryChunk rows (``--history-nodes``: one History row per
  entity, as before), written to CSV (one Python process);
- *neo4j-admin*: ``database import full`` on those files (JVM start included);
- *schema*: the server started, then the first open creating constraints and indexes (the
  server's start is timed apart);
- *baseline*: ``Neo4jStore.apply`` of a ``--baseline-cis`` estate into an empty database
  (made by an import of nothing), the path a load would otherwise take; same run, same server.

Records are CIs plus relationships; the History and meta nodes come with them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cmdb.generator import generate
from cmdb.model import Batch
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.neo4j_import import (
    admin_command,
    create_schema,
    dev_server,
    dev_server_uri,
    run_import,
    write_csv,
)

ROOT = Path(__file__).resolve().parent.parent


class Timed:
    """Wraps a batch iterator and adds up the time spent producing its batches."""

    def __init__(self, batches: Iterator[Batch]):
        self.batches, self.seconds = batches, 0.0

    def __iter__(self) -> Iterator[Batch]:
        while True:
            started = time.perf_counter()
            try:
                batch = next(self.batches)
            except StopIteration:
                self.seconds += time.perf_counter() - started
                return
            self.seconds += time.perf_counter() - started
            yield batch


def empty_database(registry, admin: list[str], work_dir: str | None) -> None:
    """Replace the stopped instance's database by an empty store (an import of nothing:
    far faster than deleting a big graph), then start it."""
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        files = write_csv([], tmp, registry=registry, actor="bench")
        run_import(admin, files, overwrite=True, max_memory="512M")
    dev_server("start")


def baseline(registry, cis: int, seed: int) -> tuple[int, float]:
    """Rows and seconds of ``apply`` (batches of 20k) of a ``cis`` estate into the empty
    dev-server database."""
    uri, password = dev_server_uri()
    store = open_store(Settings(store=uri, neo4j_password=password), registry=registry)
    try:
        rows, started = 0, time.perf_counter()
        for batch in generate(cis, seed=seed, batch_size=20_000):
            store.apply(batch, actor="bench")
            rows += len(batch)
        return rows, time.perf_counter() - started
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-cis", type=int, default=10_000, help="0: no baseline")
    ap.add_argument("--max-memory", default="2G", help="neo4j-admin --max-off-heap-memory")
    ap.add_argument("--work-dir", default=None, help="where the CSV files go (temp dir)")
    ap.add_argument(
        "--history-nodes", action="store_true", help="one History node per entity (no chunks)"
    )
    ap.add_argument("--workers", type=int, default=1, help="CSV processes (write_csv)")
    args = ap.parse_args()
    if not os.environ.get("CMDB_NEO4J_DEV_DIR"):
        sys.exit("set CMDB_NEO4J_DEV_DIR (and CMDB_NEO4J_DEV_PORT) to a private instance")
    registry = load_registry()
    admin = admin_command(dev=True)

    base_rows, base_s = 0, 0.0
    dev_server("stop")
    if args.baseline_cis:
        empty_database(registry, admin, args.work_dir)
        base_rows, base_s = baseline(registry, args.baseline_cis, args.seed)
        dev_server("stop")

    source = Timed(generate(args.cis, seed=args.seed))
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        files = write_csv(
            source,
            tmp,
            registry=registry,
            actor="bench",
            chunked=not args.history_nodes,
            workers=args.workers,
        )
        csv_s = files.seconds - source.seconds
        size = sum(p.stat().st_size for p in Path(tmp).glob("*.csv"))
        admin_s = run_import(admin, files, overwrite=True, max_memory=args.max_memory)
        log = (Path(tmp) / "neo4j-admin.log").read_text(errors="replace")
        own = re.search(r"IMPORT DONE in ([^.]*)", log)
    started = time.perf_counter()
    dev_server("start")
    start_s = time.perf_counter() - started
    uri, password = dev_server_uri()
    _, schema_s = create_schema(uri, password=password, registry=registry)
    store = open_store(Settings(store=uri, neo4j_password=password), registry=registry)
    try:
        topo = store.topology()
        assert (topo.n, topo.m) == (files.cis, files.relationships), (topo.n, topo.m)
    finally:
        store.close()

    records = files.entities
    total = source.seconds + csv_s + admin_s

    def row(stage: str, seconds: float, n: int = records) -> str:
        return f"| {stage} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} |"

    print(
        f"{args.cis:,} CIs + {files.relationships:,} relationships (generator, seed {args.seed});"
        f" {files.history:,} history entries ({files.chunks:,} HistoryChunk nodes); "
        f"CSV {size / 1e6:,.0f} MB; CSV workers {args.workers}; "
        f"neo4j-admin --max-off-heap-memory={args.max_memory}\n"
    )
    print("| stage | records | seconds | records/s |")
    print("|---|---:|---:|---:|")
    print(row("generate (pydantic batches, the source)", source.seconds))
    print(row("validate + write CSV (Python; wall time not spent generating)", csv_s))
    print(row("`neo4j-admin database import full` (JVM start included)", admin_s))
    print(f"| (neo4j-admin's own report: IMPORT DONE in {own[1] if own else '?'}) | | | |")
    print(row("**end to end** (generate + CSV + neo4j-admin)", total))
    print(f"| server start (not counted) | | {start_s:.1f} | |")
    print(f"| constraints and indexes on first open (not counted) | | {schema_s:.1f} | |")
    if base_rows:
        print(row(f"baseline: `Neo4jStore.apply`, {args.baseline_cis:,} CIs", base_s, base_rows))
        print(
            f"| **ratio end to end / apply** | | | **{(records / total) / (base_rows / base_s):.0f}"
            "×** |"
        )


if __name__ == "__main__":
    main()
