"""The configuration audit and point-in-time views at 100k CIs (embedded store).

Measures, in one run and on one store:

- the baseline: a plain full scan of the store's live CIs (``find_cis``, documents parsed);
- ``run_audit`` with every rule, in process (snapshot cached), and a cold ``cmdb audit
  --format json`` process, wall time;
- the as-of view at a time in the middle of the history: rebuilding the graph from history
  (``state_as_of``), its snapshot, and a blast radius of the hub on it; and a cold
  ``cmdb impact blast-radius HUB --as-of T`` process against the same command without
  ``--as-of`` (cached snapshot).

The history: the estate from ``cmdb/generator.py`` (creates), then ``--rounds`` rounds that
each change an attribute of ``--share`` of the CIs and retire a few, as a year of monthly
changes would (history times are the store's clock, so the rounds take seconds, not a year:
what the as-of read costs depends on the number of history rows, not their span).

Run (the store is built once and reused):

    .venv/bin/python bench/bench_audit.py --cis 100000 --rounds 12 --share 0.1

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmdb.asof import state_as_of, topology_of  # noqa: E402
from cmdb.audit_config import load_audit_config  # noqa: E402
from cmdb.bulk import no_gc  # noqa: E402
from cmdb.filters import CIFilter  # noqa: E402
from cmdb.generator import generate, pick_probes  # noqa: E402
from cmdb.model import Batch, utcnow  # noqa: E402
from cmdb.settings import Settings  # noqa: E402
from cmdb.store import open_store  # noqa: E402
from impact.audit import RULES, AuditData, run_audit  # noqa: E402
from impact.blast import blast_radius  # noqa: E402


def build(db: Path, n: int, seed: int, rounds: int, share: float) -> str:
    """Build the store with its history; return an ISO time in the middle of the rounds."""
    store = open_store(Settings(db=db), create=True)
    t0 = time.perf_counter()
    for batch in generate(n, seed=seed, batch_size=50_000):
        store.apply(batch, actor="bench")
    print(f"  estate ingested in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rng = random.Random(seed)
    cis = store.find_cis(CIFilter())
    middle = None
    for r in range(rounds):
        picked = rng.sample(cis, int(len(cis) * share))
        changed = [
            c.model_copy(update={"attributes": {**c.attributes, "role": f"round-{r}"}})
            for c in picked
        ]
        for i in range(0, len(changed), 50_000):
            store.apply(Batch(cis=changed[i : i + 50_000]), actor="bench", change_id=f"R{r}")
        gone = [c.id for c in rng.sample(cis, 20) if store.get_ci(c.id).status != "retired"]
        store.apply(Batch(retire_cis=gone), actor="bench")
        if r == rounds // 2:
            middle = _last(db)[1]
        print(f"  round {r + 1}/{rounds}, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    store.close()
    assert middle is not None
    (db.parent / f"{db.name}.middle").write_text(middle)
    return middle


def _last(db: Path) -> tuple[int, str]:
    """The last history row's seq and time (read with sqlite3: this is a bench)."""
    with sqlite3.connect(db) as conn:
        seq, at = conn.execute("SELECT seq, at FROM history ORDER BY seq DESC LIMIT 1").fetchone()
    return int(seq), str(at)


def _round_start(db: Path, change_id: str) -> datetime:
    with sqlite3.connect(db) as conn:
        (at,) = conn.execute(
            "SELECT min(at) FROM history WHERE change_id = ?", (change_id,)
        ).fetchone()
    return datetime.fromisoformat(at)


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def cold(args: list[str], db: Path) -> float:
    cmd = [str(ROOT / ".venv" / "bin" / "cmdb"), "--db", str(db), *args]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd}: {proc.stderr}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cis", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db = args.dir / f"audit-{args.cis}-{args.seed}-{args.rounds}.db"
    marker = args.dir / f"{db.name}.middle"
    if not db.exists() or not marker.exists():
        for p in args.dir.glob(f"{db.name}*"):
            if p.is_file():
                p.unlink()
        middle = build(db, args.cis, args.seed, args.rounds, args.share)
    else:
        middle = marker.read_text().strip()
    store = open_store(Settings(db=db))
    topo = store.topology()  # builds and caches the snapshot once
    hub = pick_probes(topo)["hub"]
    history_rows = _last(db)[0]
    config = load_audit_config()
    rows: list[tuple[str, str]] = [
        ("store", f"{topo.n:,} live CIs, {topo.m:,} relationships, {history_rows:,} history rows")
    ]
    plain, _ = timed(lambda: store.find_cis(CIFilter()))
    rows.append(("full scan of live CIs (`find_cis`), collector on", f"{plain:.2f} s"))

    def scan_no_gc():
        with no_gc():
            return store.find_cis(CIFilter())

    scan, _ = timed(scan_no_gc)
    rows.append(
        ("**baseline: full scan of live CIs (`find_cis`), collector off**", f"**{scan:.2f} s**")
    )
    audit_s, result = timed(lambda: run_audit(store, config))
    rows.append(
        (
            "**`run_audit`, all 16 rules, in process (unauthorized changes: whole history)**",
            f"**{audit_s:.2f} s** ({audit_s / scan:.1f}× the scan; "
            f"{len(result.findings):,} findings)",  # type: ignore[attr-defined]
        )
    )
    quarter = _round_start(db, f"R{args.rounds - args.rounds // 4}")
    q_s, q_result = timed(lambda: run_audit(store, config, since=quarter))
    rows.append(
        (
            "**`run_audit`, all rules, unauthorized changes over the last quarter only**",
            f"**{q_s:.2f} s** ({q_s / scan:.1f}× the scan; {len(q_result.findings):,} findings)",  # type: ignore[attr-defined]
        )
    )
    now = utcnow()
    with no_gc():
        data = AuditData(
            store=store,
            config=config,
            now=now,
            since=now - timedelta(days=config.unauthorized_change.lookback_days),
            cis=store.find_cis(CIFilter()),
            topology=store.topology(),
        )
        for name, rule in RULES.items():
            one, found = timed(lambda rule=rule: sum(1 for _ in rule(data)), repeat=1)
            rows.append((f"  rule `{name}` alone ({found:,} findings)", f"{one:.2f} s"))
    rows.append(
        (
            "**cold CLI `cmdb audit --format json`**",
            f"**{cold(['audit', '-f', 'json'], db):.2f} s**",
        )
    )
    at = datetime.fromisoformat(middle)
    state_s, state = timed(lambda: state_as_of(store, at))
    rows.append(("as-of: graph rebuilt from history (`state_as_of`)", f"{state_s:.2f} s"))
    topo_s, past = timed(lambda: topology_of(state, store.registry))  # type: ignore[arg-type]
    rows.append(("as-of: its snapshot (`topology_of`)", f"{topo_s:.2f} s"))
    br_s, br = timed(lambda: blast_radius(past, [hub]))  # type: ignore[arg-type]
    rows.append((f"as-of: blast radius of the hub ({len(br):,} affected)", f"{br_s * 1000:.1f} ms"))  # type: ignore[arg-type]
    live_cli = cold(["impact", "blast-radius", hub, "-f", "json", "--limit", "20"], db)
    asof_cli = cold(
        ["impact", "blast-radius", hub, "-f", "json", "--limit", "20", "--as-of", middle], db
    )
    rows.append(
        ("baseline: cold CLI blast radius of the hub now (cached snapshot)", f"{live_cli:.2f} s")
    )
    rows.append(
        (
            "**cold CLI blast radius of the hub `--as-of` the middle of the history**",
            f"**{asof_cli:.2f} s**",
        )
    )
    store.close()
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
