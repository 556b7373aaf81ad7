"""Neo4j: batched ingest against the raw driver and one MERGE per row, and blast radius in the
database against the in-memory engine, on one generated estate. Prints markdown tables.

Run (from the repository root, with a dev server up: ``scripts/neo4j-dev-server start``)::

    .venv/bin/python -m bench.bench_neo4j_ingest --cis 100000 --sample 5000

THE TARGET DATABASE IS WIPED. The server comes from ``CMDB_TEST_NEO4J_URI`` and
``CMDB_TEST_NEO4J_PASSWORD``, else the dev server (``.neo4j/password``, port 7687); a host other
than localhost needs ``--force``.

Every ingest loads the same generator batches (``--batch`` items each, CIs first) into a wiped
database, one write transaction per batch; only the writes are timed (the generator's pydantic
objects are built before each timed call, and the raw rows before the raw run):

- *raw driver*: plain ``UNWIND $rows AS row CREATE`` from the Python driver, the same node and
  relationship properties as the store writes (documents included), no validation, no look-ups,
  no history: the anchor the store is measured against, in the same run.
- *apply*: :meth:`Neo4jStore.apply` (validation, change detection, one History node per item).
- *apply bulk*: ``apply(batch, bulk=True)``: the same, but the history of what a batch creates
  goes into one summary and compressed chunks (:mod:`cmdb.store.neo4j_bulk`).
- *naive*: the first ``--sample`` rows written one auto-commit ``MERGE`` statement per row,
  without validation or history, on an empty database; the rate is extrapolated
  (``--sample 0`` skips it).
- *blast radius*: :meth:`Neo4jStore.server_side_blast_radius` (plain reachability, warm: the best
  of three runs, also ``through_groups=True``, which should list what the engine lists plus
  the failed CI) against :func:`impact.blast.blast_radius` (full semantics: its count lists
  degraded and at-risk CIs too, and never the failed CI) and a plain breadth-first search over
  the snapshot's CSR arrays, for the generator's three probes plus the hub's switch pair
  (``--no-blast`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from cmdb.asof import state_as_of
from cmdb.errors import CMDBError
from cmdb.filters import HistoryFilter
from cmdb.generator import generate, pick_probes
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.cypher import CHUNK, rel_type
from cmdb.topology import Topology
from impact.blast import blast_radius

ROOT = Path(__file__).resolve().parent.parent


def settings() -> Settings:
    uri = os.environ.get("CMDB_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
    password = os.environ.get("CMDB_TEST_NEO4J_PASSWORD")
    if password is None:
        password = (ROOT / ".neo4j" / "password").read_text().strip()
    return Settings(store=uri, neo4j_password=password)


def wipe(store) -> None:
    with store._session() as s:
        for what in ("MATCH ()-[x]->() WITH x", "MATCH (x) WITH x"):
            while s.execute_write(
                lambda tx, what=what: tx.run(
                    f"{what} LIMIT 20000 DELETE x RETURN count(*)"
                ).single()[0]
            ):
                pass
        s.run(
            "MERGE (m:CMDBMeta {name: 'cmdb'}) ON CREATE SET m.version = 0, m.batch = 0, "
            "m.seq = 0, m.schema = 1"
        ).consume()
    store._topology = None


def naive(store, cis: int, sample: int) -> tuple[int, float]:
    """One auto-commit MERGE per row for the first ``sample`` rows; (rows, seconds)."""
    rows = 0
    t0 = time.perf_counter()
    with store._session() as s:
        for batch in generate(cis, batch_size=sample):
            for ci in batch.cis[: sample - rows]:
                s.run(
                    "MERGE (c:CI {id: $id}) SET c.class = $cls, c.name = $name, c.status = $status",
                    id=ci.id,
                    cls=ci.ci_class,
                    name=ci.name,
                    status=ci.status.value,
                ).consume()
                rows += 1
            for r in batch.relationships[: sample - rows]:
                cy = rel_type(store.registry, r.type)
                s.run(
                    f"MATCH (a:CI {{id: $s}}) MATCH (b:CI {{id: $t}}) "
                    f"MERGE (a)-[r:`{cy}` {{key: $key}}]->(b) SET r.status = 'active'",
                    s=r.source,
                    t=r.target,
                    key=r.id,
                ).consume()
                rows += 1
            if rows >= sample:
                break
    return rows, time.perf_counter() - t0


Timing = list[tuple[int, int, float]]
"""Per batch: (CIs, relationships, seconds)."""


def batched(store, cis: int, batch_size: int, *, bulk: bool) -> Timing:
    """Every generator batch through ``apply``, timing only the call."""
    out = []
    for batch in generate(cis, batch_size=batch_size):
        t0 = time.perf_counter()
        store.apply(batch, actor="bench", bulk=bulk)
        out.append((len(batch.cis), len(batch.relationships), time.perf_counter() - t0))
    return out


_RAW_CIS = (
    "UNWIND $rows AS row CREATE (:CI {id: row[0], doc: row[1], version: 1, class: row[2], "
    "name: row[3], status: row[4], criticality: row[5], owner: row[6], support_group: row[7], "
    "min_required: row[8], availability: row[9], last_seen: row[10]})"
)


def raw_rows(store, cis: int, batch_size: int) -> list[tuple[list, dict[str, list]]]:
    """Per batch: the CI rows and the relationship rows by Cypher type, documents included."""
    out = []
    for batch in generate(cis, batch_size=batch_size):
        ci_rows = [
            [
                c.id,
                json.dumps(c.to_json()),
                c.ci_class,
                c.name,
                c.status.value,
                c.criticality.value,
                c.owner,
                c.support_group,
                c.min_required,
                c.own_availability(),
                c.last_seen_epoch(),
            ]
            for c in batch.cis
        ]
        rels: dict[str, list] = defaultdict(list)
        for r in sorted(batch.relationships, key=lambda r: r.source):
            rels[rel_type(store.registry, r.type)].append(
                [r.source, r.target, r.id, r.status, json.dumps(r.to_json())]
            )
        out.append((ci_rows, rels))
    return out


def raw(store, batches: list[tuple[list, dict[str, list]]]) -> Timing:
    """Plain ``UNWIND ... CREATE`` from the driver, one write transaction per batch."""

    def work(tx, ci_rows: list, rels: dict[str, list]) -> None:
        for i in range(0, len(ci_rows), CHUNK):
            tx.run(_RAW_CIS, rows=ci_rows[i : i + CHUNK]).consume()
        for cy, rows in rels.items():
            q = (
                "UNWIND $rows AS row MATCH (a:CI {id: row[0]}) MATCH (b:CI {id: row[1]}) "
                f"CREATE (a)-[:`{cy}` {{key: row[2], status: row[3], doc: row[4], "
                "version: 1}]->(b)"
            )
            for i in range(0, len(rows), CHUNK):
                tx.run(q, rows=rows[i : i + CHUNK]).consume()

    out = []
    with store._session() as s:
        for ci_rows, rels in batches:
            t0 = time.perf_counter()
            s.execute_write(work, ci_rows, rels)
            out.append((len(ci_rows), sum(map(len, rels.values())), time.perf_counter() - t0))
    return out


def history_reads(store) -> dict[str, float | str]:
    """Seconds (best of three; one run for the whole as-of read) of the history reads that
    bulk mode must answer from its chunks; the error instead when the server refuses one."""
    hub = "sw-000000"
    filters = {
        f"`history(ci={hub})` (the hub and its relationships)": HistoryFilter(ci=hub),
        "`history(entity_id=...)` (one CI)": HistoryFilter(entity_id="srv-001454"),
        "`history(newest_first, limit=100)`": HistoryFilter(newest_first=True, limit=100),
        "`history(after_seq=250000, limit=1000)` (a cursor page)": HistoryFilter(
            after_seq=250_000, limit=1000
        ),
    }
    reads = {what: (lambda f=f: store.history(f)) for what, f in filters.items()}
    reads["`state_as_of(now)` (every CI and relationship)"] = lambda: state_as_of(
        store, datetime.now(UTC)
    )
    out: dict[str, float | str] = {}
    for what, fn in reads.items():
        try:
            out[what] = best(fn, runs=1 if "state_as_of" in what else 3)[0]
        except CMDBError as err:  # e.g. the server's transaction memory limit
            out[what] = str(err).split(": ")[-1][:60]
    return out


def _cell(value: float | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else f"failed: {value}"


def rates(timing: Timing) -> tuple[int, float, float, float]:
    """(rows, seconds, CIs/s over the batches of CIs only, relationships/s over the batches
    holding relationships)."""
    rows = sum(c + r for c, r, _ in timing)
    seconds = sum(t for _, _, t in timing)
    ci_t = [(c, t) for c, r, t in timing if not r]
    rel_t = [(r, t) for _, r, t in timing if r]
    ci_rate = sum(c for c, _ in ci_t) / max(sum(t for _, t in ci_t), 1e-9)
    rel_rate = sum(r for r, _ in rel_t) / max(sum(t for _, t in rel_t), 1e-9)
    return rows, seconds, ci_rate, rel_rate


def bfs(topo: Topology, start: str) -> int:
    """Plain reachability over the hard impact edges, in memory (the failed CI included)."""
    dep = topo.dependents
    seen = np.zeros(topo.n, dtype=bool)
    frontier = np.asarray([topo.index(start)], dtype=np.int64)
    seen[frontier] = True
    while frontier.size:
        _, nxt = dep.gather(frontier)
        nxt = np.unique(nxt[~seen[nxt]])
        seen[nxt] = True
        frontier = nxt.astype(np.int64)
    return int(seen.sum())


def best(fn, runs: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def ingest_table(results: dict[str, Timing]) -> None:
    base = rates(results["raw"])
    print(
        "| ingest | rows | seconds | rows/s | CIs/s (CI batches) | relationships/s "
        "(relationship batches) | rels/s vs raw |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for name, label in (
        ("raw", "raw driver: `UNWIND ... CREATE`, no validation or history"),
        ("apply", "`apply` (one History node per item)"),
        ("bulk", "`apply(bulk=True)` (one summary + compressed chunks per batch)"),
    ):
        rows, sec, ci_rate, rel_rate = rates(results[name])
        print(
            f"| {label} | {rows:,} | {sec:.1f} | {rows / sec:,.0f} | {ci_rate:,.0f} "
            f"| {rel_rate:,.0f} | {rel_rate / base[3]:.0%} |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--no-blast", action="store_true", help="skip the blast-radius table")
    ap.add_argument("--force", action="store_true", help="allow a non-local server")
    args = ap.parse_args(argv)
    cfg = settings()
    if urlparse(cfg.store).hostname not in ("127.0.0.1", "localhost", "::1") and not args.force:
        sys.exit(f"refusing to wipe {cfg.store}: not local (use --force)")
    store = open_store(cfg, registry=load_registry())
    results: dict[str, Timing] = {}
    if args.sample:
        wipe(store)
        n_naive, t_naive = naive(store, args.cis, args.sample)
    rows = raw_rows(store, args.cis, args.batch)
    wipe(store)
    results["raw"] = raw(store, rows)
    print(f"raw: {rates(results['raw'])}", file=sys.stderr, flush=True)
    del rows
    reads: dict[str, dict[str, float]] = {}
    for name, bulk in (("apply", False), ("bulk", True)):
        wipe(store)
        results[name] = batched(store, args.cis, args.batch, bulk=bulk)
        print(f"{name}: {rates(results[name])}", file=sys.stderr, flush=True)
        reads[name] = history_reads(store)
        print(f"{name}: {reads[name]}", file=sys.stderr, flush=True)
    n_cis = sum(c for c, _, _ in results["bulk"])
    n_rels = sum(r for _, r, _ in results["bulk"])
    print(
        f"Neo4j {store.uri}: {n_cis} CIs + {n_rels} relationships "
        f"(generator, seed 0, batches of {args.batch}, each into a wiped database)\n"
    )
    ingest_table(results)
    print("\n| history read | after `apply` (s) | after `apply(bulk=True)` (s) |\n|---|---:|---:|")
    for what, seconds in reads["apply"].items():
        print(f"| {what} | {_cell(seconds)} | {_cell(reads['bulk'][what])} |")
    if args.sample:
        rows_done, seconds, _, _ = rates(results["apply"])
        batch_rate = rows_done / seconds
        naive_rate = n_naive / t_naive
        print(
            f"\nnaive, one auto-commit MERGE per row: {n_naive} rows in {t_naive:.1f} s, "
            f"{naive_rate:,.0f} rows/s (`apply` is {batch_rate / naive_rate:.0f}x that)\n"
        )
    if not args.no_blast:
        blast_table(store)
    store.close()
    return 0


def blast_table(store) -> None:
    t_topo, topo = best(store.topology, runs=1)
    probes = pick_probes(topo)
    print(
        f"Topology snapshot read from Neo4j: {t_topo:.1f} s "
        f"({topo.n} CIs, {topo.m} relationships)\n"
    )
    print(
        "| probe | CI | reachable (in-db) | in-db ms | reachable (in-memory BFS) | BFS ms "
        "| in-db through groups | ms | engine listed | engine ms |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    hub = topo.index(probes["hub"])
    # the hub is one switch of a pair (a redundancy group); reachability stops at groups, so
    # the pair itself is the probe that reaches most of the estate
    probes["hub pair"] = (
        topo.ids[int(topo.groups.row(hub)[0])] if topo.groups.row(hub).size else probes["hub"]
    )
    for name in ("leaf", "mid", "hub", "hub pair"):
        ci = probes[name]
        t_db, got = best(lambda ci=ci: store.server_side_blast_radius([ci]))
        t_bfs, n_bfs = best(lambda ci=ci: bfs(topo, ci))
        t_grp, grp = best(lambda ci=ci: store.server_side_blast_radius([ci], through_groups=True))
        t_eng, br = best(lambda ci=ci: blast_radius(topo, [ci]))
        flag = "" if len(got) == n_bfs else " (MISMATCH)"
        flag2 = "" if grp == {a.id for a in br.affected()} | {ci} else " (MISMATCH)"
        print(
            f"| {name} | {ci} | {len(got)}{flag} | {t_db * 1e3:.1f} | {n_bfs} "
            f"| {t_bfs * 1e3:.2f} | {len(grp)}{flag2} | {t_grp * 1e3:.1f} | {len(br)} "
            f"| {t_eng * 1e3:.2f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
