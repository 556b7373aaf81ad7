"""Streaming an OTLP trace export through the ``otel`` scanner: spans per second and peak
memory for a large JSON Lines file, next to a baseline in the same run. Prints a markdown table.

Run (from the repository root)::

    .venv/bin/python -m bench.otel_stream --spans 1000000

The file is written by a fast generator (string templates, not the SDK), shaped like the
collector's file exporter output: one export request per line, each with one ``resourceSpans``
entry per service (4 services, 3 pods each), 100 traces per line. A trace has 8 spans:
web-shop (server, client) -> cart-api (server, postgres client) and web-shop (client) ->
checkout (server, kafka producer) -> fulfilment (consumer). Resources are written children
first, so every child span comes before its parent and the scanner's window is exercised.

Each measurement runs in its own subprocess, so the generator's memory does not count; peak
RSS is that process's ``ru_maxrss``. Throughput is per CPU second (user + system of the
measuring process), which a busy machine disturbs less than wall time; both are printed.

- *baseline*: ``json.loads`` of every line and a count of its spans, nothing else.
- *otel scan*: :func:`discovery.otel.scan` of the same file (the whole scanner: reading,
  span records, trace window, graph, CIs).
- *otel scan, one object*: the same spans as one pretty-printed ``{"resourceSpans": [...]}``
  object (``--object``), read item by item.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPANS_PER_TRACE = 8
_SERVICES = {
    "cart-api": {"k8s.namespace.name": "shop", "k8s.deployment.name": "cart-api"},
    "fulfilment": {},
    "checkout": {"host.name": "vm-checkout-1"},
    "web-shop": {"deployment.environment": "prod"},
}
# span index in the trace -> (service, kind, parent index or None, attributes)
_SHAPE = [
    ("web-shop", 2, None, {}),
    ("web-shop", 3, 0, {"server.address": "cart-api", "http.request.method": "GET"}),
    ("cart-api", 2, 1, {}),
    ("cart-api", 3, 2, {"db.system": "postgresql", "server.address": "cart-db"}),
    ("web-shop", 3, 0, {"server.address": "checkout", "http.request.method": "POST"}),
    ("checkout", 2, 4, {}),
    ("checkout", 4, 5, {"messaging.system": "kafka", "messaging.destination.name": "orders"}),
    ("fulfilment", 5, 6, {"messaging.system": "kafka", "messaging.destination.name": "orders"}),
]


def _attrs(d: dict[str, str]) -> str:
    return json.dumps([{"key": k, "value": {"stringValue": v}} for k, v in d.items()])


def _span(trace: int, k: int) -> str:
    _, kind, parent, attrs = _SHAPE[k]
    sid = trace * SPANS_PER_TRACE + k + 1
    start = 1_700_000_000_000_000_000 + trace * 1_000_000 + k * 10_000
    end = start + (8 - k) * 50_000 + (trace % 97) * 1000
    error = ',"status":{"code":2}' if kind == 2 and trace % 100 == k else ""
    pid = "" if parent is None else f'"parentSpanId":"{trace * SPANS_PER_TRACE + parent + 1:016x}",'
    return (
        f'{{"traceId":"{trace:032x}","spanId":"{sid:016x}",{pid}'
        f'"name":"op{k}","kind":{kind},"startTimeUnixNano":"{start}",'
        f'"endTimeUnixNano":"{end}","attributes":{_attrs(attrs)}{error}}}'
    )  # fmt: skip


def generate(path: Path, spans: int, *, per_line: int = 100, one_object: bool = False) -> int:
    """Write about ``spans`` spans; returns how many were written."""
    traces = max(1, spans // SPANS_PER_TRACE)
    with open(path, "w", encoding="utf-8") as fh:
        if one_object:
            fh.write('{\n  "resourceSpans": [\n')
        first = True
        for batch in range(0, traces, per_line):
            entries = []
            for pod in range(3):
                for svc, extra in _SERVICES.items():
                    res = {"service.name": svc, **extra}
                    if "k8s.deployment.name" in extra:
                        res["k8s.pod.name"] = f"{svc}-{pod}"
                    spans_json = ",".join(
                        _span(t, k)
                        for t in range(batch, min(batch + per_line, traces))
                        if t % 3 == pod
                        for k, shape in enumerate(_SHAPE)
                        if shape[0] == svc
                    )
                    entries.append(
                        f'{{"resource":{{"attributes":{_attrs(res)}}},'
                        f'"scopeSpans":[{{"scope":{{"name":"bench"}},"spans":[{spans_json}]}}]}}'
                    )
            if one_object:
                fh.write(("" if first else ",\n") + ",\n".join(f"    {e}" for e in entries))
            else:
                fh.write(f'{{"resourceSpans":[{",".join(entries)}]}}\n')
            first = False
        if one_object:
            fh.write("\n  ]\n}\n")
    return traces * SPANS_PER_TRACE


_MEASURE = """
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
from discovery.otel import scan  # imports are not timed (nor is the baseline charged for them)
t = time.perf_counter()
cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
if mode == "baseline":
    spans = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    spans += len(ss["spans"])
    extra = {}
else:
    r = scan([path])
    spans = None
    extra = {"cis": len(r.cis), "relationships": len(r.relationships), "warnings": r.warnings}
secs = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
cpu = use.ru_utime + use.ru_stime - cpu0
out = {"seconds": secs, "cpu": cpu, "spans": spans, "rss_mb": use.ru_maxrss / 1024}
print(json.dumps({**out, **extra}))
"""


def measure(path: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--object", action="store_true", help="also time one pretty-printed object")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the files (a temp dir)")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="otel-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    jsonl = work / "traces.jsonl"
    t = time.perf_counter()
    n = generate(jsonl, args.spans)
    print(f"generated {n:,} spans, {jsonl.stat().st_size / 2**20:,.0f} MiB "
          f"in {time.perf_counter() - t:.1f} s: {jsonl}", file=sys.stderr)  # fmt: skip
    rows = [("baseline: json.loads per line", jsonl, "baseline"), ("otel scan", jsonl, "scan")]
    if args.object:
        obj = work / "traces.json"
        generate(obj, args.spans, one_object=True)
        rows.append(("otel scan, one object", obj, "scan"))
    print(f"| {n:,} spans | file MiB | wall s | CPU s | spans/CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, path, mode in rows:
        m = measure(path, mode)
        if m["spans"] is not None and m["spans"] != n:
            raise SystemExit(f"baseline counted {m['spans']} spans, expected {n}")
        size = path.stat().st_size / 2**20
        print(f"| {label} | {size:,.0f} | {m['seconds']:.1f} | {m['cpu']:.1f} | "
              f"{n / m['cpu']:,.0f} | {m['rss_mb']:,.0f} |")  # fmt: skip
        if "cis" in m:
            print(f"<!-- {label}: {m['cis']} CIs, {m['relationships']} relationships, "
                  f"warnings {m['warnings']} -->")  # fmt: skip


if __name__ == "__main__":
    main()
