"""Streamed export and import at 100k CIs (~500k items) in the embedded store.

Measures, in one run, each in its own process (wall time and peak RSS of that process):

- ``cmdb export --format json``, ``--format jsonl`` and ``--format csv`` (the CIs) to a file
  (streamed, page by page; the SQLite store's stored JSON text re-keyed without models);
- the baselines of the same run: the same export through the protocol's model reads only (the
  model path: every row a pydantic model, as every export was before the raw path and as Neo4j
  still is), the whole-document JSON path the streamed writer replaced (every CI and
  relationship read in one query each, the document built in memory, ``json.dumps(indent=2)``),
  and a floor: the same rows read with plain ``sqlite3`` (no models, no JSON written);
- ``cmdb import`` of the JSON Lines file into an empty store, as one atomic batch and with
  ``--chunked 50000``, and the import of the JSON file (one batch, the path an old file takes).

The streamed JSON file is checked to be byte for byte the whole-document one, and each format's
file byte for byte the model path's.

Run (the store is built once, ~1 minute, and reused; the run takes ~6 minutes on 2 cores):

    .venv/bin/python bench/bench_transfer.py --cis 100000 --seed 1
    .venv/bin/python bench/bench_transfer.py --cis 100000 --seed 1 --skip-import  # ~2 minutes
    .venv/bin/python bench/bench_transfer.py --skip-import --out /tmp/x  # its own store, files

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CMDB = str(ROOT / ".venv" / "bin" / "cmdb")
FORMATS = ("json", "jsonl", "csv")

LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(time.perf_counter() - t0, use.ru_maxrss / 1024, use.ru_utime + use.ru_stime)\n"
)
"""A small launcher runs each measured process, so that its peak RSS and CPU time are its own
(not this process's pages shared with a forked child)."""

Run = tuple[float, float, float]
"""Wall seconds, peak RSS (MB) and CPU seconds (user + system: on a shared machine they move
far less than the wall time) of one measured process."""


def measure(cmd: list[str]) -> Run:
    """The :data:`Run` of ``cmd``."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


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
    cis = sum(1 for _ in con.execute("SELECT doc FROM ci WHERE status != 'retired' ORDER BY id"))
    rels = sum(1 for _ in con.execute("SELECT doc FROM rel WHERE status = 'active'"))
    Path(out).write_text(f"{cis} {rels}")


class ModelsOnly:
    """The store through the protocol's model reads only: its class has no ``find_ci_texts``,
    so the export takes the model path."""

    def __init__(self, store: object) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def model_path(fmt: str, db: str, out: str) -> None:
    """The same export, every row read as a model."""
    sys.path.insert(0, str(ROOT))
    from cmdb.export_stream import write_export
    from cmdb.settings import Settings
    from cmdb.store import open_store

    store = open_store(Settings(db=db))
    with open(out, "w", encoding="utf-8") as f:
        write_export(ModelsOnly(store), f, format=fmt)  # type: ignore[arg-type]


CHILDREN: dict[str, Callable[[str, str], None]] = {
    "whole-json": whole_document_json,
    "sqlite3": plain_sqlite,
    **{f"models-{fmt}": partial(model_path, fmt) for fmt in FORMATS},
}


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
    parser.add_argument(
        "--out", type=Path, default=OUT, help="Where the store and files are (bench/out)."
    )
    parser.add_argument("--child", nargs=3, metavar=("NAME", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, db, out = args.child
        CHILDREN[name](db, out)
        return
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / f"transfer-{args.cis}-{args.seed}.db"
    build_store(db, args.cis, args.seed)
    files = {fmt: out_dir / f"transfer-{args.cis}.{fmt}" for fmt in FORMATS}
    rows: list[tuple[str, Run, int]] = []

    def child(name: str, out: Path) -> Run:
        return measure([sys.executable, __file__, "--child", name, str(db), str(out)])

    run = child("sqlite3", out_dir / "transfer-count.txt")
    n_cis, n_rels = map(int, (out_dir / "transfer-count.txt").read_text().split())
    items = n_cis + n_rels
    count = {"json": items, "jsonl": items, "csv": n_cis}  # CSV: one table, the CIs
    rows.append(
        (
            "floor: the same rows read with plain sqlite3 (no models, nothing written)",
            run,
            items,
        )
    )
    same_as_models = {}
    for fmt, path in files.items():  # each format: the model path, then the raw path
        models = out_dir / f"transfer-{args.cis}-models.{fmt}"
        run = child(f"models-{fmt}", models)
        rows.append((f"baseline: {fmt}, model path (every row a model)", run, count[fmt]))
        run = measure([CMDB, "--db", str(db), "export", "--format", fmt, "-o", str(path)])
        label = f"**streamed** `cmdb export --format {fmt} -o FILE` (raw path)"
        rows.append((label, run, count[fmt]))
        same_as_models[fmt] = digest(models) == digest(path)
        models.unlink()
    old = out_dir / f"transfer-{args.cis}-whole.json"
    run = child("whole-json", old)
    rows.append(("baseline: whole-document JSON (the old path)", run, items))
    same = digest(old) == digest(files["json"])
    old.unlink()
    if not args.skip_import:
        chunked = ["--chunked", str(args.chunk)]
        for label, path, extra in (
            ("`cmdb import FILE.jsonl` (one atomic batch)", files["jsonl"], []),
            (f"`cmdb import FILE.jsonl --chunked {args.chunk}`", files["jsonl"], chunked),
            ("`cmdb import FILE.json` (one atomic batch, as before)", files["json"], []),
        ):
            target = out_dir / "transfer-import.db"
            for leftover in out_dir.glob("transfer-import.db*"):
                if leftover.is_file():
                    leftover.unlink()
            run = measure([CMDB, "--db", str(target), "import", str(path), *extra])
            rows.append((label, run, items))
        for leftover in out_dir.glob("transfer-import.db*"):
            if leftover.is_file():
                leftover.unlink()
    print(
        f"\n{args.cis:,} CIs, {items:,} CIs and relationships; streamed JSON identical to "
        f"the whole-document JSON: {same}; raw path identical to the model path: "
        + ", ".join(f"{fmt} {ok}" for fmt, ok in same_as_models.items())
        + "\n"
    )
    print("| measure | items | wall | items/s | CPU | items per CPU s | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for label, (secs, rss, cpu), n in rows:
        print(
            f"| {label} | {n:,} | {secs:.1f} s | {n / secs:,.0f} | {cpu:.1f} s | "
            f"{n / cpu:,.0f} | {rss:,.0f} MB |"
        )
    for path in files.values():
        print(f"\n{path.name}: {path.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
