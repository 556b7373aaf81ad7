"""What the blast-radius benchmarks share: a generated store, a cold CLI process, the table.

Assumptions: run from a checkout with ``.venv`` (the cold process is ``.venv/bin/cmdb``); a
store is generated once per size and seed and reused while its file exists (generating 1M CIs
takes about 15 minutes on 2 cores), so a benchmark never regenerates one it finds.

>>> print_table([("graph", "3 CIs")])
| measure | value |
|---|---|
| graph | 3 CIs |
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "build_store", "cold_cli", "ensure_store", "print_table"]

_LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(time.perf_counter() - t0, r.ru_utime + r.ru_stime, r.ru_maxrss / 1024)\n"
)
"""Runs the measured process and prints its wall seconds, CPU seconds and peak RSS (MB): a
small process of its own, so that the child's peak RSS is not inflated by the pages a large
benchmark process shares with a forked child before it execs."""


def build_store(db: Path, n: int, seed: int) -> dict[str, float]:
    """Generate ``n`` CIs (seed ``seed``) into a new SQLite store at ``db`` through
    ``GraphStore.apply``, batched with history, as ``cmdb generate`` does: items and seconds."""
    from cmdb.generator import generate
    from cmdb.settings import Settings
    from cmdb.store import open_store

    store = open_store(Settings(db=db), create=True)
    t0 = time.perf_counter()
    items = 0
    for batch in generate(n, seed=seed, batch_size=50_000):
        items += len(batch)
        store.apply(batch, actor="bench")
        print(f"  ingested {items:,} items, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    store.close()
    return {"items": items, "seconds": elapsed}


def ensure_store(db: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """The store at ``db``, built by :func:`build_store` unless it exists: the ingest's table
    row when it was built now, else none."""
    if db.exists():
        return []
    db.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {db} ...", file=sys.stderr)
    ingest = build_store(db, n, seed)
    rate = ingest["items"] / ingest["seconds"]
    done = f"{ingest['items']:,} items, {ingest['seconds']:.0f} s"
    return [("ingest through apply (items/s)", f"{rate:,.0f} ({done})")]


def cold_cli(db: Path, ci: str, *, setup: str = "") -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: what a loaded machine does not inflate) and
    peak RSS (MB) of one ``cmdb impact blast-radius`` process. ``setup``: Python run in that
    process before the CLI (a benchmark's baseline, e.g. a function bound to other options)."""
    cmd = [str(ROOT / ".venv" / "bin" / "cmdb"), "--db", str(db), "impact", "blast-radius", ci]
    cmd += ["--format", "json", "--limit", "20"]
    if setup:
        script = f"import sys\n{setup}\nfrom cli.main import main\nsys.argv = sys.argv[1:]\n"
        cmd = [sys.executable, "-c", script + "sys.exit(main())", *cmd]
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def print_table(rows: list[tuple[str, str]]) -> None:
    """``rows`` as the markdown table docs/benchmarks.md takes."""
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
