"""The service-graph builder for :mod:`discovery.otel`: services, peers and the calls between
them, built span by span.

:mod:`discovery._otel` reads the files into :class:`~discovery._otel.Span` records; this module
turns them into :class:`Node` and :class:`Edge` values; :func:`discovery.otel.transform_spans`
turns those into CIs and relationships. The rules for what is a service, a peer or a
dependency are the scanner's and are stated in :mod:`discovery.otel`.

Assumptions:

- **Nodes** are numbered in the order they are first seen; an edge is keyed by the
  ``(caller, callee)`` pair of numbers. A span id is kept per trace as ``node * 8 + kind``.
- **Traces** live in a window of the ``window`` most recently touched ones
  (:class:`Graph` ``.traces``, oldest first); the one that leaves it settles its unanswered
  calls (to their peers) and its children whose parent never came (counted).
- **Peers** are resolved once per distinct set of span attributes; that cache is cleared when
  it passes 4096 entries (attributes with unique values, such as URLs with ids).
- **Folding**: :meth:`Graph.finish` moves the edges to an HTTP/gRPC peer that exactly one
  service answered onto that service (merging with an edge already there).
- **Latency** (:class:`Latency`) is exact up to 1024 values, then a histogram of 1% log
  buckets; quantiles are nearest rank.

>>> lat = Latency()
>>> for ms in (1.0, 2.0, 3.0, 40.0):
...     lat.add(ms)
>>> lat.quantile(0.5), lat.quantile(0.99)
(2.0, 40.0)
>>> from discovery._otel import CLIENT, SERVER, Resource, Span
>>> def span(id, parent, kind, service):
...     return Span("t1", id, parent, kind, 0, 2_000_000, False, Resource(service), {}, "f", 1)
>>> g = Graph(window=10)
>>> g.add(span("b", "a", SERVER, "cart"))  # a child may come before its parent
>>> g.add(span("a", None, CLIENT, "web"))
>>> g.finish()
>>> [(g.nodes[s].key, g.nodes[d].key, e.calls) for (s, d), e in g.edges.items()]
[('otel:service/web', 'otel:service/cart', 1)]
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from discovery._otel import CLIENT, CONSUMER, PRODUCER, SERVER, Resource, Span, iso

__all__ = ["Edge", "Graph", "Latency", "Node", "host_ids"]

_ENGINES = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "mssql": "sqlserver"}
_ENGINES |= {"oracle": "oracle", "db2": "db2", "sqlserver": "sqlserver"}


class Latency:
    """Durations in ms: exact up to ``CAP`` values, then a log histogram (1% buckets)."""

    CAP, _LOG = 1024, math.log(1.01)

    def __init__(self) -> None:
        self.exact: list[float] | None = []
        self.hist: dict[int, int] = {}

    def add(self, ms: float) -> None:
        if self.exact is None:
            b = self._bucket(ms)
            self.hist[b] = self.hist.get(b, 0) + 1
            return
        self.exact.append(ms)
        if len(self.exact) > self.CAP:
            self._to_hist()

    def _to_hist(self) -> None:
        for v in self.exact or []:
            b = self._bucket(v)
            self.hist[b] = self.hist.get(b, 0) + 1
        self.exact = None

    def merge(self, other: Latency) -> None:
        for v in other.exact or []:
            self.add(v)
        if other.exact is None:
            self._to_hist()
            for b, n in other.hist.items():
                self.hist[b] = self.hist.get(b, 0) + n

    def _bucket(self, ms: float) -> int:
        return -(10**6) if ms <= 0 else math.floor(math.log(ms) / self._LOG)

    def quantile(self, q: float) -> float:
        if self.exact is not None:
            values = sorted(self.exact)
            return round(values[max(1, math.ceil(q * len(values))) - 1], 3)
        total, acc = sum(self.hist.values()), 0
        rank = max(1, math.ceil(q * total))
        for b in sorted(self.hist):
            acc += self.hist[b]
            if acc >= rank:
                return 0.0 if b == -(10**6) else round(math.exp((b + 0.5) * self._LOG), 3)
        raise AssertionError("unreachable")


class Edge:
    """One dependency: its calls, errors, times, latency and protocols."""

    __slots__ = ("calls", "errors", "first", "last", "lat", "via")

    def __init__(self) -> None:
        self.calls = self.errors = 0
        self.first, self.last = 1 << 62, 0
        self.lat, self.via = Latency(), set[str]()

    def add(self, start: int, end: int, error: bool, via: str) -> None:
        self.calls += 1
        self.errors += error
        self.first, self.last = min(self.first, start), max(self.last, end)
        self.lat.add((end - start) / 1e6)
        self.via.add(via)

    def merge(self, other: Edge) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        self.lat.merge(other.lat)
        self.via |= other.via

    def attributes(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "p50_ms": self.lat.quantile(0.5),
            "p99_ms": self.lat.quantile(0.99),
            "first_seen": iso(self.first),
            "last_seen": iso(self.last),
            "protocols": sorted(self.via),
        }


class _Call:
    __slots__ = ("answered", "end", "error", "kind", "node", "peer", "start", "via")

    def __init__(self, node: int, span: Span, peer: int = -1, via: str = "call"):
        self.node, self.kind, self.peer, self.via = node, span.kind, peer, via
        self.start, self.end, self.error, self.answered = span.start, span.end, span.error, False


class _Trace:
    __slots__ = ("calls", "orphans", "spans")

    def __init__(self) -> None:
        self.spans: dict[str, int] = {}  # span id -> node * 8 + kind
        self.calls: dict[str, _Call] = {}  # client and producer spans
        self.orphans: dict[str, list[_Call]] = {}  # parent id -> children that came first


class Node:
    """A service, workload or peer, with what its spans said about it."""

    __slots__ = ("attrs", "ci_class", "dbs", "ids", "key", "name", "origin", "peer", "placed")

    def __init__(self, key: str, ci_class: str, name: str, span: Span, peer: bool, **attrs: Any):
        self.key, self.ci_class, self.name, self.peer = key, ci_class, name, peer
        self.attrs = {k: v for k, v in attrs.items() if v is not None}
        self.origin = f"{span.path}:{span.line}"
        self.ids: dict[str, Any] = {}
        self.dbs: set[str] = set()
        self.placed: set[Resource] = set()


def host_ids(host: str) -> dict[str, Any]:
    """The identifiers a host name or address gives: ``ips``, or ``hostnames`` and ``fqdn``."""
    try:
        return {"ips": [str(ipaddress.ip_address(host))]}
    except ValueError:
        short, _, domain = host.lower().partition(".")
        return {"hostnames": [short], **({"fqdn": host.lower()} if domain else {})}


class Graph:
    """Builds the service graph span by span (the rules: :mod:`discovery.otel`). Call
    :meth:`add` for every span, then :meth:`finish` once; read ``nodes`` and ``edges``."""

    def __init__(self, window: int):
        self.window = window
        self.traces: OrderedDict[str, _Trace] = OrderedDict()
        self.nodes: list[Node] = []
        self.index: dict[str, int] = {}
        self.by_resource: dict[Resource, int] = {}
        self.edges: dict[tuple[int, int], Edge] = {}
        self.answers: dict[int, set[int]] = {}  # http peer -> services that answered it
        self.missing_parent = self.no_peer = self.duplicates = 0
        self.last: tuple[Resource | None, int] = (None, -1)
        self.peers: dict[tuple[Any, ...], tuple[int, str]] = {}  # span attributes -> peer

    def _node(self, key: str, ci_class: str, name: str, span: Span, peer: bool, **a: Any) -> int:
        idx = self.index.get(key)
        if idx is None:
            idx = self.index[key] = len(self.nodes)
            self.nodes.append(Node(key, ci_class, name, span, peer, **a))
        return idx

    def _service(self, span: Span) -> int:
        r = span.resource
        if r is self.last[0]:  # the spans of one resource item come together
            return self.last[1]
        idx = self.by_resource.get(r)
        if idx is None:
            extra = {"service_name": r.service, "service_namespace": r.service_namespace}
            extra |= {"environment": r.environment}
            if r.workload and r.k8s_namespace:
                key = f"otel:k8s/{r.k8s_namespace}/{r.workload_kind}/{r.workload}"
                idx = self._node(key, "application_instance", r.workload, span, False, **extra)
                self.nodes[idx].attrs |= {
                    "kind": r.workload_kind,
                    "namespace": r.k8s_namespace,
                    "name": r.workload,
                }
            else:
                ns = f"{r.service_namespace}/" if r.service_namespace else ""
                env = f"@{r.environment}" if r.environment else ""
                key = f"otel:service/{ns}{r.service}{env}"
                idx = self._node(key, "application", r.service, span, False, **extra)
            self.nodes[idx].placed.add(r)
            self.by_resource[r] = idx
        self.last = (r, idx)
        return idx

    def _cached_peer(self, span: Span) -> tuple[int, str]:
        key = (span.kind == CLIENT, *span.attrs.items())
        got = self.peers.get(key)
        if got is None:
            if len(self.peers) > 4096:  # attributes with unique values (URLs with ids)
                self.peers.clear()
            got = self.peers[key] = self._peer(span)
        return got

    def _peer(self, span: Span) -> tuple[int, str]:
        a = span.attrs
        addr = a.get("server.address") or a.get("net.peer.name")
        port = a.get("server.port") or a.get("net.peer.port")
        if a.get("messaging.system"):
            system = str(a["messaging.system"])
            dest = a.get("messaging.destination.name") or a.get("messaging.destination")
            if not dest:
                return -1, "messaging"
            return self._node(
                f"otel:queue/{system}/{dest}", "middleware", str(dest), span, True,
                product=system, destination=str(dest),
            ), "messaging"  # fmt: skip
        if a.get("db.system"):
            system = str(a["db.system"])
            dbname = a.get("db.name") or a.get("db.namespace")
            name = addr or a.get("peer.service") or dbname
            if not name:
                return -1, "db"
            at = f":{port}" if port else ""
            idx = self._node(
                f"otel:db/{system}/{name}{at}", "database_instance", str(name), span, True,
                engine=_ENGINES.get(system, "other"), db_system=system,
                port=int(port) if port else None,
            )  # fmt: skip
            if addr and not self.nodes[idx].ids:
                self.nodes[idx].ids = host_ids(str(addr))
            if dbname:
                self.nodes[idx].dbs.add(str(dbname))
            return idx, "db"
        if span.kind != CLIENT:
            return -1, "call"
        url = a.get("url.full") or a.get("http.url")
        parts = urlsplit(str(url)) if url else None
        host = addr or (parts.hostname if parts else None)
        port = port or (parts.port if parts else None)
        via = "grpc" if a.get("rpc.system") == "grpc" else a.get("rpc.system") or "call"
        if url or a.get("http.method") or a.get("http.request.method"):
            via = "http"
        name = a.get("peer.service") or host
        if not name:
            return -1, via
        at = f":{port}" if port else ""
        idx = self._node(
            f"otel:peer/{name}{at}", "application_instance", str(name), span, True,
            port=int(port) if port else None, protocol=via,
        )  # fmt: skip
        if host and not self.nodes[idx].ids:
            self.nodes[idx].ids = host_ids(str(host))
        return idx, via

    def _edge(self, src: int, dst: int, call: _Call, via: str, error: bool = False) -> None:
        edge = self.edges.get((src, dst))
        if edge is None:
            edge = self.edges[src, dst] = Edge()
        edge.add(call.start, call.end, call.error or error, via)

    def add(self, span: Span) -> None:
        t = self.traces.get(span.trace)
        if t is None:
            t = self.traces[span.trace] = _Trace()
            if len(self.traces) > self.window:
                self._flush(self.traces.popitem(last=False)[1])
        else:
            self.traces.move_to_end(span.trace)
            if span.span in t.spans:  # exported twice (a retried export request)
                self.duplicates += 1
                return
        node, kind = self._service(span), span.kind
        packed = t.spans[span.span] = node * 8 + kind
        if kind >= CLIENT:
            peer, via = self._cached_peer(span) if span.attrs else (-1, "call")
            if kind == CONSUMER:
                if peer >= 0:
                    self._edge(node, peer, _Call(node, span), via)
            else:
                call = t.calls[span.span] = _Call(node, span, peer, via)
                if kind == PRODUCER and peer >= 0:
                    self._edge(node, peer, call, via)
        if span.parent and kind in (SERVER, CONSUMER):
            child = _Call(node, span)
            parent = t.spans.get(span.parent)
            if parent is None:
                t.orphans.setdefault(span.parent, []).append(child)
            else:
                self._pair(t, span.parent, parent, child)
        for child in t.orphans.pop(span.span, ()):
            self._pair(t, span.span, packed, child)

    def _pair(self, t: _Trace, parent_id: str, packed: int, child: _Call) -> None:
        caller = t.calls.get(parent_id)
        src = packed >> 3
        if caller is not None:
            caller.answered = True
            if caller.peer >= 0 and self.nodes[caller.peer].key.startswith("otel:peer/"):
                self.answers.setdefault(caller.peer, set()).add(child.node)
        if src == child.node:
            return
        via = caller.via if caller is not None else "call"
        if child.kind == CONSUMER:
            via = "messaging"
        self._edge(src, child.node, caller or child, via, child.error)

    def _flush(self, t: _Trace) -> None:
        for call in t.calls.values():
            if call.answered:
                continue
            if call.peer < 0:
                self.no_peer += 1
            elif call.kind == CLIENT:  # a producer's queue edge is counted when it is read
                self._edge(call.node, call.peer, call, call.via)
        self.missing_parent += sum(len(c) for c in t.orphans.values())

    def finish(self) -> None:
        while self.traces:
            self._flush(self.traces.popitem(last=False)[1])
        for (src, dst), edge in list(self.edges.items()):
            answered = self.answers.get(dst, set())
            if len(answered) == 1:
                del self.edges[src, dst]
                if (target := next(iter(answered))) == src:
                    continue
                if (src, target) in self.edges:
                    self.edges[src, target].merge(edge)
                else:
                    self.edges[src, target] = edge
