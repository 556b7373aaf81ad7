"""Reading trace files for the ``otel`` scanner: a streaming JSON reader, and spans as compact
records. :mod:`discovery._otel_graph` builds the service graph from these spans, and
:mod:`discovery.otel` turns it into records.

Assumptions:

- **Formats.** A file holds one or more top-level JSON objects, one after another (JSON Lines,
  as the collector's file exporter writes one export request per line, or one pretty-printed
  object). An object with ``resourceSpans`` is OTLP/JSON; one with ``data`` is Jaeger's JSON
  export. The format is decided per object, so a file may mix them.
- **Streaming.** :func:`iter_elements` never holds a whole file: it decodes the top-level
  objects' array items (one ``resourceSpans`` entry, one Jaeger trace) one at a time from a
  buffer it refills, and drops what it has decoded. Memory is bounded by the largest *item*
  (one resource's spans in one export request, or one Jaeger trace), not by the file.
- **Errors.** Malformed JSON is an :class:`~cmdb.errors.ImportFormatError` naming the file,
  line and column; a missing required field (``spanId``, ``traceId``) is a located
  :class:`~cmdb.errors.ValidationError`.
- **Ids** are hex (32 or 16 characters, as OTLP/JSON specifies) or base64 (as protobuf's JSON
  mapping writes them); both come out as lower-case hex.

>>> norm_id("AAECAwQFBgc="), norm_id("0001020304050607")
('0001020304050607', '0001020304050607')
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from cmdb.errors import ImportFormatError, ValidationError

__all__ = [
    "CLIENT",
    "CONSUMER",
    "INTERNAL",
    "KIND_NAMES",
    "PEER_KEYS",
    "PRODUCER",
    "SERVER",
    "Resource",
    "Span",
    "iso",
    "iter_elements",
    "jaeger_spans",
    "norm_id",
    "otlp_spans",
]

INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5
KIND_NAMES = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_OTLP_KINDS = {f"SPAN_KIND_{k.upper()}": v for k, v in KIND_NAMES.items()}
PEER_KEYS = frozenset(
    {
        "db.system",
        "db.name",
        "db.namespace",
        "server.address",
        "server.port",
        "net.peer.name",
        "net.peer.port",
        "peer.service",
        "url.full",
        "http.url",
        "http.method",
        "http.request.method",
        "rpc.system",
        "messaging.system",
        "messaging.destination.name",
        "messaging.destination",
    }
)
"""The span attributes the scanner reads (to name a called peer); all others are skipped."""
_WS = re.compile(r"[ \t\n\r]*")
_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()


class Resource(NamedTuple):
    """What a span's resource (or Jaeger process) says about where it ran."""

    service: str
    service_namespace: str | None = None
    environment: str | None = None
    version: str | None = None
    host: str | None = None
    k8s_namespace: str | None = None
    workload_kind: str | None = None
    workload: str | None = None
    pod: str | None = None
    node: str | None = None
    container: str | None = None


class Span(NamedTuple):
    """One span, reduced to what dependency discovery needs."""

    trace: str
    span: str
    parent: str | None
    kind: int
    start: int  # ns since the epoch
    end: int
    error: bool
    resource: Resource
    attrs: dict[str, Any]  # only PEER_KEYS, and only for client, producer and consumer spans
    path: str
    line: int


def norm_id(value: Any) -> str:
    """A trace or span id as lower-case hex: 32 or 16 hex characters as they are, anything
    else read as base64. Raises ValueError when it is neither."""
    text = str(value)
    if len(text) in (32, 16):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"id {text!r} is neither hex nor base64") from None
    if len(raw) not in (16, 8):
        raise ValueError(f"id {text!r} is not 8 or 16 bytes")
    return raw.hex()


def iso(ns: int) -> str:
    """Nanoseconds since the epoch as an ISO 8601 UTC time (microseconds).

    >>> iso(1_700_000_000_123_456_789)
    '2023-11-14T22:13:20.123456Z'
    """
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the streaming reader ---------------------------------------------------------------------
class _Reader:
    """Top-level objects of a text stream, decoded array item by array item."""

    def __init__(self, fh: TextIO, path: str):
        self.fh, self.path = fh, path
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.col = 1, 1  # where buf[0] is
        self.at, self.at_line = 0, 1  # a position in buf whose line is known

    def _more(self) -> None:
        consumed = self.buf[: self.pos]
        nl = consumed.count("\n")
        self.line += nl
        self.col = len(consumed) - consumed.rfind("\n") if nl else self.col + len(consumed)
        rest = self.buf[self.pos :]
        try:
            chunk = self.fh.read(max(_CHUNK, len(rest)))
        except UnicodeDecodeError:
            raise ImportFormatError(f"{self.path}: not UTF-8 text") from None
        self.buf, self.pos, self.at, self.at_line = rest + chunk, 0, 0, self.line
        self.eof = not chunk

    def line_at(self, pos: int) -> int:
        if pos < self.at:
            self.at, self.at_line = 0, self.line
        self.at_line += self.buf.count("\n", self.at, pos)
        self.at = pos
        return self.at_line

    def error(self, message: str, pos: int) -> ImportFormatError:
        line = self.line_at(pos)
        start = self.buf.rfind("\n", 0, pos)
        col = pos - start if start >= 0 else self.col + pos
        return ImportFormatError(f"{self.path}:{line}: malformed JSON ({message}, column {col})")

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos : self.pos + 1]
            self._more()

    def expect(self, chars: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            found = repr(ch) if ch else "end of file"
            raise self.error(f"expected {' or '.join(map(repr, chars))}, found {found}", self.pos)
        self.pos += 1
        return ch

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.msg.startswith("Unterminated") or exc.pos >= len(self.buf) - 16
                if cut and not self.eof:
                    self._more()
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end >= len(self.buf) and not self.eof:  # a number may go on
                self._more()
                continue
            self.pos = end
            return obj

    def items(self, keys: frozenset[str]) -> Iterator[tuple[str, Any, int]]:
        """``(key, item, line)`` for each item of the arrays under ``keys`` of each top-level
        object; other members are decoded and dropped."""
        while self.peek():
            self.expect("{")
            if self.peek() == "}":
                self.pos += 1
                continue
            while True:
                if self.peek() != '"':
                    raise self.error("expected a member name", self.pos)
                key = self.value()
                self.expect(":")
                if key in keys and self.peek() == "[":
                    self.pos += 1
                    if self.peek() == "]":
                        self.pos += 1
                    else:
                        while True:
                            self.peek()
                            line = self.line_at(self.pos)
                            yield key, self.value(), line
                            if self.expect(",]") == "]":
                                break
                else:
                    self.value()
                if self.expect(",}") == "}":
                    break


def iter_elements(path: str | Path, keys: frozenset[str]) -> Iterator[tuple[str, Any, int]]:
    """Stream ``(key, item, line)`` from a JSON or JSON Lines file (see the module docstring).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.jsonl")
    >>> _ = open(p, "w").write('{"resourceSpans": [{"a": 1}, {"b": 2}]}\\n{"data": [3]}\\n')
    >>> list(iter_elements(p, frozenset({"resourceSpans", "data"})))
    [('resourceSpans', {'a': 1}, 1), ('resourceSpans', {'b': 2}, 1), ('data', 3, 2)]
    """
    try:
        with open(path, encoding="utf-8-sig") as fh:
            yield from _Reader(fh, str(path)).items(keys)
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


# -- OTLP/JSON and Jaeger items -> spans ------------------------------------------------------
def _any(v: dict[str, Any]) -> Any:
    for k in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    return None


def _resource(attrs: dict[str, Any]) -> Resource:
    def s(*keys: str) -> str | None:
        for k in keys:
            if attrs.get(k) not in (None, ""):
                return str(attrs[k])
        return None

    kind, workload = None, None
    for k in ("deployment", "statefulset", "daemonset", "job", "cronjob"):
        if s(f"k8s.{k}.name"):
            kind, workload = _WORKLOAD[k], s(f"k8s.{k}.name")
            break
    pod = s("k8s.pod.name")
    host = s("host.name", "hostname")
    return Resource(
        service=s("service.name") or "unknown_service",
        service_namespace=s("service.namespace"),
        environment=s("deployment.environment.name", "deployment.environment"),
        version=s("service.version"),
        host=None if pod and host == pod else host,  # in a pod, host.name is the pod's
        k8s_namespace=s("k8s.namespace.name"),
        workload_kind=kind,
        workload=workload,
        pod=pod,
        node=s("k8s.node.name"),
        container=s("container.id"),
    )


_WORKLOAD = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "cronjob": "CronJob",
}


_ERROR_CODES = frozenset({2, "2", "STATUS_CODE_ERROR"})


def _kind(value: Any) -> int:
    kind = _OTLP_KINDS.get(value, 0) if isinstance(value, str) else int(value)
    return kind if 0 <= kind <= CONSUMER else 0


def otlp_spans(item: dict[str, Any], path: str, line: int) -> Iterator[Span]:
    """The spans of one ``resourceSpans`` item (the hot loop: ids of the usual length are
    taken as they are, everything else goes through :func:`norm_id`)."""
    where = f"{path}:{line}"
    try:
        res_attrs = {
            a["key"]: _any(a["value"]) for a in (item.get("resource") or {}).get("attributes") or []
        }
        resource = _resource(res_attrs)
        scopes = item.get("scopeSpans") or item.get("instrumentationLibrarySpans") or []
        for scope in scopes:
            for sp in scope.get("spans") or []:
                kind = sp.get("kind", 0)
                if kind.__class__ is not int or not 0 <= kind <= CONSUMER:
                    kind = _kind(kind)
                attrs: dict[str, Any] = {}
                if kind >= CLIENT:
                    for a in sp.get("attributes") or ():
                        if a["key"] in PEER_KEYS:
                            attrs[a["key"]] = _any(a["value"])
                trace, span, parent = sp["traceId"], sp["spanId"], sp.get("parentSpanId")
                if len(trace) != 32:
                    trace = norm_id(trace)
                if len(span) != 16:
                    span = norm_id(span)
                if parent and len(parent) != 16:
                    parent = norm_id(parent)
                status = sp.get("status")
                yield Span(
                    trace.lower(),
                    span.lower(),
                    parent.lower() if parent else None,
                    kind,
                    int(sp["startTimeUnixNano"]),
                    int(sp["endTimeUnixNano"]),
                    bool(status) and status.get("code") in _ERROR_CODES,
                    resource,
                    attrs,
                    path,
                    line,
                )
    except KeyError as exc:
        raise ValidationError(f"missing required field '{exc.args[0]}'", location=where) from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise ValidationError(f"unexpected OTLP shape ({exc})", location=where) from None


def _jaeger_id(value: Any) -> str:
    text = str(value).lower().lstrip("0") or "0"
    if not re.fullmatch(r"[0-9a-f]{1,32}", text):
        raise ValueError(f"id {value!r} is not hex")
    return text


def jaeger_spans(trace: dict[str, Any], path: str, line: int) -> Iterator[Span]:
    """The spans of one trace of a Jaeger JSON export (``{"data": [trace, ...]}``). Ids are
    kept as hex without leading zeros (Jaeger drops them in some places)."""
    where = f"{path}:{line}"
    try:
        procs = {
            pid: _resource(
                {
                    "service.name": p["serviceName"],
                    **{t["key"]: t.get("value") for t in p.get("tags") or []},
                }
            )
            for pid, p in (trace.get("processes") or {}).items()
        }
        for sp in trace["spans"]:
            tags = {t["key"]: t.get("value") for t in sp.get("tags") or []}
            kind = KIND_NAMES.get(str(tags.get("span.kind", "")).lower(), 0)
            refs = sp.get("references") or []
            parent = next((r["spanID"] for r in refs if r.get("refType") == "CHILD_OF"), None)
            parent = parent or (refs[0]["spanID"] if refs else sp.get("parentSpanID"))
            start = int(sp["startTime"]) * 1000
            error = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
            yield Span(
                _jaeger_id(sp.get("traceID") or trace["traceID"]),
                _jaeger_id(sp["spanID"]),
                _jaeger_id(parent) if parent and parent != "0" else None,
                kind,
                start,
                start + int(sp["duration"]) * 1000,
                error,
                procs[sp["processID"]],
                {k: v for k, v in tags.items() if k in PEER_KEYS} if kind >= CLIENT else {},
                path,
                line,
            )
    except KeyError as exc:
        raise ValidationError(f"missing required field '{exc.args[0]}'", location=where) from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise ValidationError(f"unexpected Jaeger shape ({exc})", location=where) from None
