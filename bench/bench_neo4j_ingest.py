"""Neo4j: batched ingest against one MERGE per row, and blast radius in the database against the
in-memory engine, on one generated estate. Prints a markdown table.

Run (from the repository root, with a dev server up: ``scripts/neo4j-dev-server start``)::

    .venv/bin/python -m bench.bench_neo4j_ingest --cis 100000 --sample 5000

THE TARGET DATABASE IS WIPED. The server comes from ``CMDB_TEST_NEO4J_URI`` and
``CMDB_TEST_NEO4J_PASSWORD``, else the dev server (``.neo4j/password``, port 7687); a host other
than localhost needs ``--force``.

- *batched*: :meth:`Neo4jStore.apply` on the generator's batches (validation, change detection,
  history and all), one write transaction per batch, ``UNWIND`` in chunks inside it.
- *naive*: the first ``--sample`` rows (CIs first, then relationships) written one auto-commit
  ``MERGE`` statement per row, without validation or history, on an empty database; the rate is
  extrapolated.
- *blast radius*: :meth:`Neo4jStore.server_side_blast_radius` (plain reachability, warm: the best
  of three runs, also ``through_groups=True``, which should list what the engine lists plus
  the failed CI) against :func:`impact.blast.blast_radius` (full semantics: its count lists
  degraded and at-risk CIs too, and never the failed CI) and a plain breadth-first search over
  the snapshot's CSR arrays, for the generator's three probes plus the hub's switch pair.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from cmdb.generator import generate, pick_probes
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.cypher import rel_type
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


def batched(store, cis: int, batch_size: int) -> tuple[int, int, float]:
    n_cis = n_rels = 0
    t0 = time.perf_counter()
    for batch in generate(cis, batch_size=batch_size):
        store.apply(batch, actor="bench")
        n_cis += len(batch.cis)
        n_rels += len(batch.relationships)
    return n_cis, n_rels, time.perf_counter() - t0


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--force", action="store_true", help="allow a non-local server")
    args = ap.parse_args(argv)
    cfg = settings()
    if urlparse(cfg.store).hostname not in ("127.0.0.1", "localhost", "::1") and not args.force:
        sys.exit(f"refusing to wipe {cfg.store}: not local (use --force)")
    store = open_store(cfg, registry=load_registry())
    wipe(store)
    n_naive, t_naive = naive(store, args.cis, args.sample)
    wipe(store)
    n_cis, n_rels, t_batch = batched(store, args.cis, args.batch)
    t_topo, topo = best(store.topology, runs=1)
    probes = pick_probes(topo)
    naive_rate, batch_rate = n_naive / t_naive, (n_cis + n_rels) / t_batch
    print(
        f"Neo4j {store.uri}: {n_cis} CIs + {n_rels} relationships "
        f"(generator, seed 0, batches of {args.batch})\n"
    )
    print("| ingest | rows | seconds | rows/s |\n|---|---:|---:|---:|")
    print(
        f"| batched `apply` (UNWIND, one tx per batch) | {n_cis + n_rels} | {t_batch:.1f} "
        f"| {batch_rate:,.0f} |"
    )
    print(f"| naive: one MERGE per row (sample) | {n_naive} | {t_naive:.1f} | {naive_rate:,.0f} |")
    print(f"| **ratio batched / naive** | | | **{batch_rate / naive_rate:.0f}x** |\n")
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
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
