"""Streamed export and import at 100k CIs (~500k items) in the embedded store.

Measures, in one run, each in its own process (wall time and peak RSS of that process):

- ``cmdb export --format json`` and ``--format jsonl`` to a file (streamed, page by page);
- the baseline of the same run: the whole-document JSON path this replaced (every CI and
  relationship read in one query each, the document built in memory, ``json.dumps(indent=2)``),
  and a floor: the same rows read with plain ``sqlite3`` (no models, no JSON written);
- ``cmdb import`` of the JSON Lines file into an empty store, as one atomic batch and with
  ``--chunked 50000``, and the import of the JSON file (one batch, the path an old file takes).

The streamed JSON file is checked to be byte for byte the whole-document one.

Run (the store is built once, ~1 minute, and reused; the run takes ~6 minutes on 2 cores):

    .venv/bin/python bench/bench_transfer.py --cis 100000 --seed 1

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CMDB = str(ROOT / ".venv" / "bin" / "cmdb")

LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "print(time.perf_counter() - t0, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
)
"""A small launcher runs each measured process, so that its peak RSS is its own (not this
process's pages shared with a forked child)."""


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``cmd``."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def build_store(db: Path, n: int, seed: int) -> None:
    if not db.exists():
        subprocess.run(
            [CMDB, "--db", str(db), "generate", "--cis", str(n), "--seed", str(seed)], check=True
        )


# -- baselines, run as `bench_transfer.py --child NAME DB OUT` ---------------------------------
def whole_document_json(db: str, out: str) -> None:
    """The export as it was: both lists read whole, the document built, then dumped."""
    sys.path.insert(0, str(ROOT))
    from cmdb.filters import CIFilter, RecordFilter, RelFilter
    from cmdb.settings import Settings
    from cmdb.store import open_store

    owned = {"created_at", "updated_at", "version"}
    store = open_store(Settings(db=db))
    cis = store.find_cis(CIFilter())
    rels = store.find_relationships(RelFilter())
    records = [r for r in store.find_records(RecordFilter()) if r.kind != "api_key"]
    data = {
        "cis": [c.model_dump(mode="json", by_alias=True, exclude=owned) for c in cis],
        "relationships": [r.model_dump(mode="json", exclude=owned) for r in rels],
        "records": [r.model_dump(mode="json", exclude=owned) for r in records],
    }
    Path(out).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def plain_sqlite(db: str, out: str) -> None:
    """The floor: the same rows' stored JSON read with sqlite3, nothing parsed or written."""
    import sqlite3

    con = sqlite3.connect(db)
    n = sum(1 for _ in con.execute("SELECT doc FROM ci WHERE status != 'retired' ORDER BY id"))
    n += sum(1 for _ in con.execute("SELECT doc FROM rel WHERE status = 'active'"))
    Path(out).write_text(str(n))


CHILDREN = {"whole-json": whole_document_json, "sqlite3": plain_sqlite}


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--skip-import", action="store_true", help="Exports only.")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, db, out = args.child
        CHILDREN[name](db, out)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"transfer-{args.cis}-{args.seed}.db"
    build_store(db, args.cis, args.seed)
    files = {fmt: OUT / f"transfer-{args.cis}.{fmt}" for fmt in ("json", "jsonl")}
    rows: list[tuple[str, float, float, int]] = []
    items = 0

    def child(name: str, out: Path) -> tuple[float, float]:
        return measure([sys.executable, __file__, "--child", name, str(db), str(out)])

    secs, rss = child("sqlite3", OUT / "transfer-count.txt")
    items = int((OUT / "transfer-count.txt").read_text())
    rows.append(
        (
            "floor: the same rows read with plain sqlite3 (no models, nothing written)",
            secs,
            rss,
            items,
        )
    )
    for fmt, path in files.items():
        secs, rss = measure([CMDB, "--db", str(db), "export", "--format", fmt, "-o", str(path)])
        rows.append((f"**streamed** `cmdb export --format {fmt} -o FILE`", secs, rss, items))
    old = OUT / f"transfer-{args.cis}-whole.json"
    secs, rss = child("whole-json", old)
    rows.append(("baseline: whole-document JSON (the old path)", secs, rss, items))
    same = digest(old) == digest(files["json"])
    old.unlink()
    if not args.skip_import:
        chunked = ["--chunked", str(args.chunk)]
        for label, path, extra in (
            ("`cmdb import FILE.jsonl` (one atomic batch)", files["jsonl"], []),
            (f"`cmdb import FILE.jsonl --chunked {args.chunk}`", files["jsonl"], chunked),
            ("`cmdb import FILE.json` (one atomic batch, as before)", files["json"], []),
        ):
            target = OUT / "transfer-import.db"
            for leftover in OUT.glob("transfer-import.db*"):
                if leftover.is_file():
                    leftover.unlink()
            secs, rss = measure([CMDB, "--db", str(target), "import", str(path), *extra])
            rows.append((label, secs, rss, items))
        for leftover in OUT.glob("transfer-import.db*"):
            if leftover.is_file():
                leftover.unlink()
    print(
        f"\n{args.cis:,} CIs, {items:,} CIs and relationships; streamed JSON identical to "
        f"the whole-document JSON: {same}\n"
    )
    print("| measure | wall | items/s | peak RSS |")
    print("|---|---|---|---|")
    for label, secs, rss, n in rows:
        print(f"| {label} | {secs:.1f} s | {n / secs:,.0f} | {rss:,.0f} MB |")
    for path in files.values():
        print(f"\n{path.name}: {path.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
