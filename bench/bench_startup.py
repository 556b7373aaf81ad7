"""Process start of the CLI: ``cmdb --help`` and the smallest commands that touch a store,
against ``python -c pass`` and ``python -c "import typer"`` measured in the same run; with
``--hub-db``, ``cmdb ci show`` of hub CIs of a large store too (read-only: nothing is written).
``--hub-db`` may be given more than once (each ``--hub`` is read from each), e.g. a store
before and after a migration, in the same run.

Each command runs ``--rounds`` times, interleaved round by round so that load on the machine
hits every command alike; the table gives the median and the best wall time, the median CPU
time (user + system: what load on the machine disturbs least) and the median wall time as a
multiple of ``python -c pass``. The demo store is built once in a temporary directory.
Commands run as an installed CLI does, with bytecode caches: ``PYTHONDONTWRITEBYTECODE`` is
dropped and ``PYTHONPYCACHEPREFIX`` points at the temporary directory, so the warm-up run
writes them there and nothing in the tree. Run:

    .venv/bin/python bench/bench_startup.py --rounds 15
    .venv/bin/python bench/bench_startup.py --rounds 9 \\
        --hub-db bench/out/incremental-1000000-0.db --hub app-000954 --hub loc-000009
    cp bench/out/incremental-1000000-0.db /tmp/1m.db && .venv/bin/cmdb --db /tmp/1m.db ci show x
    .venv/bin/python bench/bench_startup.py --rounds 9 --hub-db bench/out/incremental-1000000-0.db \
        --hub-db /tmp/1m.db --hub app-000954 --hub loc-000009   # unmigrated against migrated
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--hub-db", type=Path, action="append", default=[], help="A store the hubs are read from."
    )
    parser.add_argument("--hub", action="append", default=[], help="A CI of --hub-db; repeat.")
    args = parser.parse_args()
    if args.hub and not args.hub_db:
        parser.error("--hub needs --hub-db")
    py = sys.executable
    cmdb = str(Path(py).with_name("cmdb"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        db = str(Path(tmp) / "demo.db")
        subprocess.run([cmdb, "--db", db, "demo"], check=True, capture_output=True, env=env)
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
        envs = dict.fromkeys(commands, env)
        for hub_db in args.hub_db:
            for hub in args.hub:
                name = f"cmdb ci show {hub} ({hub_db})"
                commands[name] = [cmdb, "--db", str(hub_db), "ci", "show", hub]
                envs[name] = {**env, "CMDB_READ_ONLY": "1"}  # the large store is only read
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for name, command in commands.items():
            _time(command, envs[name])  # bytecode, the file cache and the snapshot cache
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command, envs[name]))
    base = statistics.median(w for w, _ in times["python -c pass (baseline)"])
    print("| command | median | best | CPU, median | median / `python -c pass` |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(w for w, _ in values)
        best = min(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"| `{name}` | {median:.3f} s | {best:.3f} s | {cpu:.3f} s | {median / base:.1f}× |")


if __name__ == "__main__":
    main()
