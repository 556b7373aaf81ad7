"""The ``otel`` scanner: the service dependency graph that OpenTelemetry traces show.

This module reads (:func:`get_spans`), turns the graph into records (:func:`transform_spans`)
and scans (:func:`scan`). The streaming reader and the span records are in
:mod:`discovery._otel`; the builder of the service graph (nodes, edges, latency) is in
:mod:`discovery._otel_graph`.

Assumptions:

- **Input**: OTLP/JSON files (one ``{"resourceSpans": ...}`` object, or JSON Lines of them as
  the collector's file exporter writes) and Jaeger JSON exports (``{"data": [...]}``), or
  directories of ``.json``/``.jsonl``/``.ndjson`` files; read as streams (see
  :mod:`discovery._otel`).
- **Services**: one CI per ``service.name`` (with ``service.namespace`` and
  ``deployment.environment`` as part of its identity): an ``application``. When the resource
  names its Kubernetes workload (``k8s.namespace.name`` and ``k8s.deployment.name``, or
  statefulset, daemonset, job, cronjob), the service *is* that workload: an
  ``application_instance`` with the ``kind``, ``namespace`` and ``name`` attributes the
  ``kubernetes`` scanner gives it, so the registry's ``[namespace, kind, name]`` rule makes the
  two sightings one CI. Pods (``k8s.pod.name``) are ``pod`` CIs ``part_of`` their service and
  ``runs_on`` their node (``k8s.node.name``), with their ``container.id`` values; a service
  outside Kubernetes ``runs_on`` its ``host.name``. Hosts are ``virtual_machine`` references
  (``unresolved``; an FQDN gives ``fqdn``, so they match hosts that other sources describe).
- **Dependencies** (``depends_on``, caller to callee): a parent span and its SERVER or CONSUMER
  child in another service (CLIENT->SERVER, PRODUCER->CONSUMER); a CLIENT span that no server
  span answers, to its peer: a ``database_instance`` (``db.system``, named by
  ``server.address``/``net.peer.name``, with the ``db.name`` values seen), or an HTTP/gRPC peer
  (``peer.service``, ``server.address``, ``url.full``), an ``application_instance`` reference;
  when another call to the same address *was* answered by exactly one service, the unanswered
  ones are that service's too. Producers and consumers depend on their queue, a
  ``middleware`` CI per ``messaging.system`` and destination. Peers are ``unresolved``
  references named by their address: a peer that a Kubernetes manifest describes as a
  Service is not matched to that Service's CI. Span links are not followed.
- **Edge attributes**, under the key ``otel`` (a source always owns the relationship attribute
  named after it, whoever else declares the edge: :mod:`cmdb.reconcile_links`): ``calls``,
  ``errors`` (status code 2, Jaeger ``error`` tag), ``p50_ms`` and ``p99_ms`` (nearest rank,
  exact up to 1024 calls, then within 1%), ``first_seen`` and ``last_seen`` (span start and
  end times, UTC), ``protocols`` (``http``, ``grpc``, ``db``, ``messaging``, ``call``).
  Latency is the caller's span duration. ``min_calls`` drops edges seen fewer times, and the
  peers only those edges named.
- **Memory** (held by the builder, :mod:`discovery._otel_graph`): per trace only span id ->
  (service, kind), the client spans not yet answered and the children whose parent has not
  arrived. Traces live in a window of the ``window`` most recently touched traces; the oldest
  leaves it (its unanswered calls go to their peers) when a new one arrives. Within the
  window, a child may come before or after its parent; a child whose parent arrives after the
  trace left the window is counted as a missing parent (warning), and a client call that lost
  its answer that way goes to its peer. Also held: one entry per distinct service, resource,
  peer and edge (a latency histogram of a few hundred buckets at most), and the reader's
  buffer (see :mod:`discovery._otel`). A span read twice (a retried export) counts once while
  its trace is in the window. ``bench/otel_stream.py`` measures it.

>>> import json, pathlib, tempfile
>>> tags = lambda **t: [{"key": k.replace("_", "."), "value": v} for k, v in t.items()]
>>> spans = [{"spanID": "a1", "processID": "p1", "startTime": 0, "duration": 5000,
...           "tags": tags(span_kind="client", db_system="postgresql", server_address="db")}]
>>> p = pathlib.Path(tempfile.mkdtemp()) / "jaeger.json"
>>> _ = p.write_text(json.dumps({"data": [{"traceID": "1", "spans": spans,
...                                        "processes": {"p1": {"serviceName": "cart"}}}]}))
>>> [(x.source, x.target, x.attributes["otel"]["calls"], x.attributes["otel"]["p50_ms"])
...  for x in scan([p]).relationships]
[('otel:service/cart', 'otel:db/postgresql/db', 1, 5.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from cmdb.errors import ImportFormatError, ValidationError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import Collector, file_scope, scoped_by_file
from discovery._otel import Span, iter_elements, jaeger_spans, otlp_spans
from discovery._otel_graph import Graph, Node, host_ids

__all__ = ["get_spans", "scan", "transform_spans"]

SOURCE = "otel"
SUFFIXES = (".json", ".jsonl", ".ndjson")
_KEYS = frozenset({"resourceSpans", "data"})


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise ImportFormatError(f"{p}: no such file or directory")
    if not out:
        raise ImportFormatError("no trace files (.json, .jsonl) in " + ", ".join(map(str, paths)))
    return out


def get_spans(paths: Iterable[str | Path]) -> Iterator[Span]:
    """Stream the spans of every file, in file order. Raises
    :class:`~cmdb.errors.ImportFormatError` (file, line, column) on malformed JSON, and when
    no file holds a span."""
    files, seen = _files(paths), 0
    for path in files:
        for key, item, line in iter_elements(path, _KEYS):
            read = otlp_spans if key == "resourceSpans" else jaeger_spans
            spans = list(read(item, str(path), line))  # one item: bounded by the reader
            seen += len(spans)
            yield from spans
    if not seen:
        raise ImportFormatError(
            f"{', '.join(map(str, files))}: no spans (expected OTLP/JSON with "
            "'resourceSpans' or a Jaeger export with 'data')"
        )


def transform_spans(
    spans: Iterable[Span], *, min_calls: int = 1, window: int = 10_000
) -> Collector:
    """The CIs and relationships that ``spans`` show (see the module docstring); reads the
    spans once, in order."""
    if min_calls < 1 or window < 1:
        raise ValidationError("min_calls and window must be at least 1")
    g = Graph(window)
    for span in spans:
        g.add(span)
    g.finish()
    out = Collector()
    edges = {k: e for k, e in g.edges.items() if e.calls >= min_calls}
    linked = {n for pair in edges for n in pair}
    for i, n in enumerate(g.nodes):
        if n.peer and i not in linked:
            continue
        attrs = dict(n.attrs)
        if n.dbs:
            attrs["databases"] = sorted(n.dbs)
        versions = sorted({r.version for r in n.placed if r.version})
        if versions:
            attrs["version"] = ", ".join(versions)
        out.add(
            SeenCI(
                key=n.key,
                ci_class=n.ci_class,
                name=n.name,
                identifiers=Identifiers(**n.ids),
                attributes=attrs,
                unresolved=n.peer,
                origin=n.origin,
            )
        )
        _placements(out, n)
    for (src, dst), edge in edges.items():
        s, d = g.nodes[src], g.nodes[dst]
        out.rel(s.key, "depends_on", d.key, s.origin, **{SOURCE: edge.attributes()})
    dropped = len(g.edges) - len(edges)
    if dropped:
        out.warn(f"dropped {dropped} dependencies seen fewer than {min_calls} times")
    if g.missing_parent:
        out.warn(
            f"{g.missing_parent} server or consumer spans name a parent span that was never "
            f"seen (not exported, or more than {window} traces later)"
        )
    if g.duplicates:
        out.warn(f"{g.duplicates} spans were read twice (same trace and span id); counted once")
    if g.no_peer:
        out.warn(f"{g.no_peer} client or producer spans had no answer and named no peer")
    return out


def _placements(out: Collector, n: Node) -> None:
    """Pods, hosts and containers a service ran in, from its resources."""
    containers: dict[str, set[str]] = {}
    for r in sorted(n.placed, key=lambda r: tuple(v or "" for v in r)):
        host = r.node or r.host
        host_key = f"otel:host/{host.lower()}" if host else None
        if host_key and host:
            out.add(
                SeenCI(
                    key=host_key,
                    ci_class="virtual_machine",
                    name=host.lower(),
                    identifiers=Identifiers(**host_ids(host)),
                    unresolved=True,
                    origin=n.origin,
                )
            )
        if r.pod:
            ns = r.k8s_namespace or "default"
            key = f"otel:k8s/{ns}/Pod/{r.pod}"
            containers.setdefault(key, set()).update([r.container] if r.container else [])
            attrs = {"kind": "Pod", "namespace": ns, "name": r.pod}
            ids = sorted(containers[key])
            out.cis[key] = SeenCI(
                key=key,
                ci_class="pod",
                name=r.pod,
                attributes=attrs | ({"container_ids": ids} if ids else {}),
                origin=n.origin,
            )
            out.rel(key, "part_of", n.key, n.origin)
            if host_key:
                out.rel(key, "runs_on", host_key, n.origin)
        elif host_key:
            out.rel(n.key, "runs_on", host_key, n.origin)


def scan(paths: Iterable[str | Path], *, min_calls: int = 1, window: int = 10_000) -> ScanResult:
    """Read trace files and return the services, their placements and their dependencies
    (see the module docstring). ``min_calls`` drops dependencies seen fewer times; ``window``
    is how many traces are kept open at once to match children with parents. Raises on bad
    input before returning anything, so a run never applies part of a file."""
    started = utcnow()
    files = [str(f) for f in _files(paths)]
    out = transform_spans(get_spans(files), min_calls=min_calls, window=window)
    return ScanResult(
        source=SOURCE,
        scope=[file_scope(f) for f in files],
        complete=True,
        started_at=started,
        cis=scoped_by_file(out.cis.values()),
        relationships=list(out.rels.values()),
        warnings=out.warnings,
    ).finished()
