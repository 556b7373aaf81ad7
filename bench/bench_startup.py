"""Process start of the CLI: ``cmdb --help`` and the smallest commands that touch a store,
against ``python -c pass`` and ``python -c "import typer"`` measured in the same run.

Each command runs ``--rounds`` times, interleaved round by round so that load on the machine
hits every command alike; the table gives the median and the best wall time, and the median as
a multiple of ``python -c pass``. The store is the demo, built once in a temporary directory.
Run:

    .venv/bin/python bench/bench_startup.py --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    cmdb = str(Path(py).with_name("cmdb"))
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "demo.db")
        subprocess.run([cmdb, "--db", db, "demo"], check=True, capture_output=True)
        commands = {
            "python -c pass (baseline)": [py, "-c", "pass"],
            'python -c "import typer"': [py, "-c", "import typer"],
            "cmdb --help": [cmdb, "--help"],
            "cmdb ci --help": [cmdb, "ci", "--help"],
            "cmdb ci show db-core": [cmdb, "--db", db, "ci", "show", "db-core"],
            "cmdb ci list --class switch": [cmdb, "--db", db, "ci", "list", "--class", "switch"],
            "cmdb impact blast-radius sw-dc-acc-05": [
                cmdb, "--db", db, "impact", "blast-radius", "sw-dc-acc-05"
            ],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():
            _time(command)  # warm the file cache and the snapshot cache
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command))
    base = statistics.median(times["python -c pass (baseline)"])
    print("| command | median | best | median / `python -c pass` |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} s | {min(values):.3f} s | {median / base:.1f}× |")


if __name__ == "__main__":
    main()
