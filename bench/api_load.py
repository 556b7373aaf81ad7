"""The REST API under load: requests/s and p50/p99 latency of three calls, served by uvicorn
(``--workers``, default 2) to ``--procs`` client processes of ``--clients`` async httpx clients
each (default 5 × 10 = 50 concurrent clients) on 127.0.0.1, next to the same calls made in
process (the functions the routes call, one thread), measured in the same run. The HTTP cost
of a call is the latency of one client making one request at a time against the in-process
latency; under 50 clients the latency is mostly queueing (50 clients / requests per second).

The calls:

- ``blast``: ``GET /impact/blast-radius?ci=HUB&limit=100`` (the hub from ``pick_probes`` on a
  generated estate, ``sw-dc-acc-05`` on the demo); in process ``blast_radius_report``;
- ``read``: ``GET /cis/{id}`` of random CIs; in process ``store.get_ci``;
- ``list``: ``GET /cis?limit=100&cursor=<random id>``; in process ``views.list_cis``.

Stores: the demo, and an estate of ``--cis`` CIs from ``cmdb/generator.py`` (built once into
``bench/out/api-load-<cis>-<seed>.db`` and reused; ``--cis 0`` skips it). Run:

    .venv/bin/python bench/api_load.py --cis 100000 --seconds 15

A quick run: ``--cis 5000 --seconds 3``. Prints a markdown table for docs/benchmarks.md. Every
request loop is bounded in time and only talks to the server this script started.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmdb import apikeys  # noqa: E402
from cmdb.demo import build_demo  # noqa: E402
from cmdb.filters import CIFilter  # noqa: E402
from cmdb.generator import generate, pick_probes  # noqa: E402
from cmdb.model import utcnow  # noqa: E402
from cmdb.settings import Settings  # noqa: E402
from cmdb.store import open_store  # noqa: E402
from cmdb.views import list_cis  # noqa: E402
from impact.report import blast_radius_report  # noqa: E402

CALLS = ("blast", "read", "list")
BLAST_LIMIT = 100
DEMO_HUB = "sw-dc-acc-05"


# ---- stores -----------------------------------------------------------------------------


def build_demo_store(db: Path) -> None:
    store = open_store(Settings(db=db), create=True)
    try:
        store.apply(build_demo(now=utcnow()), actor="bench")
    finally:
        store.close()


def build_generated_store(db: Path, n: int, seed: int) -> float:
    """Generate ``n`` CIs into ``db``; returns the seconds it took."""
    store = open_store(Settings(db=db), create=True)
    t0 = time.perf_counter()
    try:
        for batch in generate(n, seed=seed, batch_size=50_000):
            store.apply(batch, actor="bench")
            print(f"  ingested a batch, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        store.close()
    return time.perf_counter() - t0


def prepare(db: Path, hub: str | None, sample: int, seed: int) -> dict[str, Any]:
    """An admin key, the hub, a sample of CI ids; the snapshot is built (and cached) here."""
    store = open_store(Settings(db=db))
    try:
        token = apikeys.create_key(store, role="admin", name="bench", actor="bench").token
        topo = store.topology()
        hub = hub or pick_probes(topo)["hub"]
        ids = random.Random(seed).sample(list(topo.ids), min(sample, topo.n))
        return {"token": token, "hub": hub, "ids": ids, "n": topo.n, "m": topo.m}
    finally:
        store.close()


# ---- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NODELAY = [
    sys.executable,
    "-c",
    # uvicorn binds its multi-worker socket with proto 0, so asyncio never sets TCP_NODELAY on
    # the connections and Nagle + delayed ACK add ~40 ms to a response written in two parts;
    # this variant binds it as IPPROTO_TCP (to measure the difference)
    "import socket, sys, uvicorn.config as c, uvicorn.main as m\n"
    "bind = c.Config.bind_socket\n"
    "def tcp(self):\n"
    "    s = bind(self)\n"
    "    return socket.socket(s.family, s.type, socket.IPPROTO_TCP, fileno=s.detach())\n"
    "c.Config.bind_socket = tcp\n"
    "sys.argv = ['uvicorn', *sys.argv[1:]]\n"
    "m.main()\n",
]


def start_server(db: Path, workers: int, log: Path, server: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmdb = [str(Path(sys.executable).with_name("cmdb")), "--db", str(db), "serve"]
    cmdb += ["--port", str(port), "--workers", str(workers)]
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app_from_env",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        # uvicorn kills a worker that does not answer its 5 s health ping; busy workers (40
        # threads of blast radius contending for the GIL) miss it on a loaded 2-core machine
        "--timeout-worker-healthcheck",
        "120",
    ]
    cmd = {"cmdb": cmdb, "uvicorn": uvicorn, "uvicorn-nodelay": [*NODELAY, *uvicorn[3:]]}[server]
    env = {**os.environ, "CMDB_DB": str(db)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def worker_starts(log: Path) -> int:
    """How many worker processes the server started (more than --workers: some were killed)."""
    return log.read_text(errors="replace").count("Started server process")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# ---- requests ---------------------------------------------------------------------------


def request_for(call: str, rng: random.Random, ctx: dict[str, Any]) -> tuple[str, dict]:
    if call == "blast":
        return "/api/v1/impact/blast-radius", {"ci": ctx["hub"], "limit": BLAST_LIMIT}
    if call == "read":
        return f"/api/v1/cis/{rng.choice(ctx['ids'])}", {}
    return "/api/v1/cis", {"limit": 100, "cursor": rng.choice(ctx["ids"])}


async def _clients(
    base: str, ctx: dict[str, Any], call: str, n: int, seconds: float, barrier, seed: int
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {ctx['token']}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120)
        for _ in range(n)
    ]
    rngs = [random.Random(seed * 1000 + i) for i in range(n)]
    statuses: Counter = Counter()
    latencies: list[float] = []

    async def one(i: int, until: float | None, record: bool) -> None:
        count = 0
        while (until is None and count < 2) or (until is not None and time.perf_counter() < until):
            path, params = request_for(call, rngs[i], ctx)
            t0 = time.perf_counter()
            r = await clients[i].get(path, params=params)
            elapsed = time.perf_counter() - t0
            count += 1
            if record:
                latencies.append(elapsed)
                statuses[r.status_code] += 1

    try:
        await asyncio.gather(*(one(i, None, False) for i in range(n)))  # connect, warm up
        await asyncio.to_thread(barrier.wait)
        start = time.perf_counter()
        await asyncio.gather(*(one(i, start + seconds, True) for i in range(n)))
        stop = time.perf_counter()
    finally:
        for c in clients:
            await c.aclose()
    return {"latencies": latencies, "statuses": dict(statuses), "wall": stop - start}


def client_process(base, ctx, call, n, seconds, barrier, seed, results) -> None:
    results.put(asyncio.run(_clients(base, ctx, call, n, seconds, barrier, seed)))


def load(base: str, ctx: dict[str, Any], call: str, args) -> dict[str, Any]:
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(args.procs)
    results = mp.Queue()
    procs = [
        mp.Process(
            target=client_process,
            args=(base, ctx, call, args.clients, args.seconds, barrier, p, results),
        )
        for p in range(args.procs)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=args.seconds + 600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    latencies = sorted(x for g in got for x in g["latencies"])
    statuses: Counter = Counter()
    for g in got:
        statuses.update(g["statuses"])
    wall = max(g["wall"] for g in got)
    return {
        "rps": len(latencies) / wall,
        "p50": _pct(latencies, 50),
        "p99": _pct(latencies, 99),
        "n": len(latencies),
        "errors": {s: c for s, c in statuses.items() if not 200 <= int(s) < 300},
    }


def sequential(base: str, ctx: dict[str, Any], call: str, seconds: float) -> dict[str, Any]:
    """One client, one request at a time: the latency of a call over HTTP without queueing."""
    import httpx

    rng = random.Random(3)
    lat: list[float] = []
    headers = {"Authorization": f"Bearer {ctx['token']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        for _ in range(3):
            path, params = request_for(call, rng, ctx)
            c.get(path, params=params).raise_for_status()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            path, params = request_for(call, rng, ctx)
            t0 = time.perf_counter()
            c.get(path, params=params).raise_for_status()
            lat.append(time.perf_counter() - t0)
    lat.sort()
    return {"p50": _pct(lat, 50), "n": len(lat)}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * p / 100))]


# ---- in process -------------------------------------------------------------------------


def in_process(db: Path, ctx: dict[str, Any], seconds: float) -> dict[str, dict[str, Any]]:
    """The same calls, one thread, on the store opened once (as a worker holds it)."""
    settings = Settings(db=db)
    store = open_store(settings)
    rng = random.Random(7)
    calls: dict[str, Callable[[], Any]] = {
        "blast": lambda: blast_radius_report(
            store, [ctx["hub"]], stale_days=settings.stale_days, limit=BLAST_LIMIT
        ),
        "read": lambda: store.get_ci(rng.choice(ctx["ids"])),
        "list": lambda: list_cis(
            store, CIFilter(limit=101, after=rng.choice(ctx["ids"])), class_field="class"
        ),
    }
    out = {}
    try:
        for name, fn in calls.items():
            fn()
            lat = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                fn()
                lat.append(time.perf_counter() - t0)
            lat.sort()
            out[name] = {
                "rps": len(lat) / sum(lat),
                "p50": _pct(lat, 50),
                "p99": _pct(lat, 99),
                "n": len(lat),
            }
    finally:
        store.close()
    return out


# ---- main -------------------------------------------------------------------------------


def bench_store(label: str, db: Path, hub: str | None, args, rows: list[str]) -> None:
    ctx = prepare(db, hub, 2000, args.seed)
    print(
        f"{label}: {ctx['n']:,} CIs, {ctx['m']:,} relationships, hub {ctx['hub']}", file=sys.stderr
    )
    local = in_process(db, ctx, args.seconds)
    log = db.with_suffix(".server.log")
    proc, base = start_server(db, args.workers, log, args.server)
    try:
        for call in CALLS:
            one = sequential(base, ctx, call, args.seconds / 2)
            http = load(base, ctx, call, args)
            mine = local[call]
            rows.append(
                f"| {label} | {call} | {http['rps']:,.0f} | {http['p50'] * 1e3:.1f} | "
                f"{http['p99'] * 1e3:.1f} | {one['p50'] * 1e3:.2f} | {mine['rps']:,.0f} | "
                f"{mine['p50'] * 1e3:.2f} | {mine['p99'] * 1e3:.2f} | "
                f"{(one['p50'] - mine['p50']) * 1e3:+.2f} ms ({one['p50'] / mine['p50']:.1f}×) | "
                f"{http['n']:,} | {http['errors'] or 'none'} |"
            )
            print(rows[-1], file=sys.stderr)
    finally:
        stop_server(proc)
    starts = worker_starts(log)
    if starts != args.workers:
        rows.append(f"| {label} | (server) | {starts} worker starts for {args.workers} workers |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cis", type=int, default=100_000, help="generated estate size (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--procs", type=int, default=5, help="client processes")
    ap.add_argument("--clients", type=int, default=10, help="async clients per process")
    ap.add_argument("--seconds", type=float, default=10.0, help="per call and store")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument(
        "--server",
        choices=("uvicorn", "uvicorn-nodelay", "cmdb"),
        default="uvicorn",
        help="uvicorn directly (no access log, 120 s worker health check) or `cmdb serve`",
    )
    args = ap.parse_args()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[str] = []
    notes: list[str] = []
    if not args.no_demo:
        demo = out / "api-load-demo.db"
        for stale in out.glob("api-load-demo.db*"):
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        build_demo_store(demo)
        bench_store("demo", demo, DEMO_HUB, args, rows)
    if args.cis:
        db = out / f"api-load-{args.cis}-{args.seed}.db"
        if not db.exists():
            print(f"building {db} ...", file=sys.stderr)
            seconds = build_generated_store(db, args.cis, args.seed)
            notes.append(f"generating {args.cis:,} CIs into the store took {seconds:.0f} s")
        bench_store(f"{args.cis:,} CIs", db, None, args, rows)
    print(
        f"{args.workers} workers ({args.server}); {args.procs} client processes × {args.clients} "
        f"async clients = {args.procs * args.clients} concurrent; {args.seconds:g} s per call\n"
    )
    print(
        "| store | call | HTTP req/s (50 clients) | p50 ms | p99 ms | 1 client p50 ms | "
        "in-process calls/s (1 thread) | in-process p50 ms | in-process p99 ms | "
        "HTTP cost (1 client p50 vs in-process p50) | requests | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
