"""The otel scanner: traces made by the OpenTelemetry SDK in the test, a hand-checked Jaeger
export, streaming and bad input, and reconciliation with the kubernetes scanner."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import discovery._otel
from cmdb.errors import ImportFormatError, ValidationError
from cmdb.filters import CIFilter, RelFilter
from cmdb.reconcile import reconcile
from discovery import kubernetes, otel
from discovery._otel import norm_id
from discovery._otel_graph import Latency
from discovery.otel import get_spans, scan, transform_spans

FIXTURES = Path(__file__).parent / "fixtures" / "otel"
JAEGER = FIXTURES / "jaeger-export.json"
CART = "otel:k8s/shop/Deployment/cart-api"
WEB = "otel:service/web-shop@prod"
CART_RES = {
    "service.name": "cart-api",
    "k8s.namespace.name": "shop",
    "k8s.deployment.name": "cart-api",
    "k8s.pod.name": "cart-api-7d9f-x1",
    "k8s.node.name": "node-1",
    "container.id": "c0ffee",
}


# -- traces made with the SDK ---------------------------------------------------------------
class Shop:
    """A few services, each with its own provider and resource, as in a real deployment."""

    def __init__(self, resources: dict[str, dict[str, Any]] | None = None):
        self.exporters: dict[str, InMemorySpanExporter] = {}
        self.tracers: dict[str, Any] = {}
        for name, extra in {
            "web-shop": {"host.name": "web-1", "deployment.environment": "prod"},
            "cart-api": CART_RES,
            "checkout": {},
            "payment": {},
            "orders": {"service.namespace": "sales"},
            "fulfilment": {},
            **(resources or {}),
        }.items():
            exp = InMemorySpanExporter()
            tp = TracerProvider(resource=Resource.create({"service.name": name, **extra}))
            tp.add_span_processor(SimpleSpanProcessor(exp))
            self.exporters[name], self.tracers[name] = exp, tp.get_tracer(name)

    def call(self, frm: str, to: str | None, kind=SpanKind.CLIENT, error=False, **attrs):
        """A client (or producer) span of ``frm``, answered by ``to`` when given."""
        with self.tracers[frm].start_as_current_span(f"call {to}", kind=kind, attributes=attrs):
            carrier: dict[str, str] = {}
            inject(carrier)
            if to is not None:
                answer = SpanKind.CONSUMER if kind == SpanKind.PRODUCER else SpanKind.SERVER
                with self.tracers[to].start_as_current_span(
                    "handle", context=extract(carrier), kind=answer, attributes=attrs
                ) as span:
                    if error:
                        span.set_status(Status(StatusCode.ERROR))
                    yield

    def run(self) -> None:
        """web-shop -> cart-api -> postgres (3 requests); checkout -> payment (2, one fails)
        and -> an un-instrumented card API; orders -> kafka topic -> fulfilment."""
        for _ in range(3):
            with self.tracers["web-shop"].start_as_current_span("GET /", kind=SpanKind.SERVER):
                web = {"server.address": "cart-api", "http.request.method": "GET"}
                for _ in self.call("web-shop", "cart-api", **web):
                    for _ in self.call(
                        "cart-api",
                        None,
                        **{
                            "db.system": "postgresql",
                            "server.address": "cart-db",
                            "db.name": "carts",
                        },
                    ):
                        pass
        for error in (False, True):
            with self.tracers["checkout"].start_as_current_span("POST /", kind=SpanKind.SERVER):
                url = {"url.full": "http://payment:8080/pay", "http.request.method": "POST"}
                for _ in self.call("checkout", "payment", error=error, **url):
                    pass
        with self.tracers["checkout"].start_as_current_span("POST /x", kind=SpanKind.SERVER):
            for _ in self.call("checkout", None, **{"url.full": "https://cards.example.com/v1"}):
                pass
        kafka = {"messaging.system": "kafka", "messaging.destination.name": "orders"}
        for _ in self.call("orders", "fulfilment", kind=SpanKind.PRODUCER, **kafka):
            pass

    def requests(self, *, b64: bool = False) -> list[dict[str, Any]]:
        """One OTLP export request per service (as each service's exporter would send)."""
        out = []
        for exp in self.exporters.values():
            d = MessageToDict(encode_spans(exp.get_finished_spans()), use_integers_for_enums=True)
            if not d:
                continue
            for rs in d["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        for k in ("traceId", "spanId", "parentSpanId"):
                            if sp.get(k) and not b64:
                                sp[k] = base64.b64decode(sp[k]).hex()
            out.append(d)
        return out


@pytest.fixture(scope="module")
def shop() -> Shop:
    s = Shop()
    s.run()
    return s


def as_object(reqs: list[dict[str, Any]]) -> str:
    """All requests as one pretty-printed OTLP object."""
    return json.dumps({"resourceSpans": [rs for r in reqs for rs in r["resourceSpans"]]}, indent=2)


def as_lines(reqs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in reqs)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def graph(result) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (r.source, r.target): (r.attributes["otel"]["calls"], r.attributes["otel"]["errors"])
        for r in result.relationships
        if r.type == "depends_on"
    }


EXPECTED = {
    (WEB, CART): (3, 0),
    (CART, "otel:db/postgresql/cart-db"): (3, 0),
    ("otel:service/checkout", "otel:service/payment"): (2, 1),
    ("otel:service/checkout", "otel:peer/cards.example.com"): (1, 0),
    ("otel:service/sales/orders", "otel:queue/kafka/orders"): (1, 0),
    ("otel:service/sales/orders", "otel:service/fulfilment"): (1, 0),
    ("otel:service/fulfilment", "otel:queue/kafka/orders"): (1, 0),
}


class TestServiceGraph:
    @pytest.mark.parametrize("form", [as_object, as_lines])
    def test_sdk_traces_give_the_exact_graph(self, shop, tmp_path, form):
        r = scan([write(tmp_path, "traces.json", form(shop.requests()))])
        assert graph(r) == EXPECTED
        classes = {c.key: (c.ci_class, c.unresolved) for c in r.cis}
        assert classes == {
            WEB: ("application", False),
            "otel:host/web-1": ("virtual_machine", True),
            CART: ("application_instance", False),
            "otel:k8s/shop/Pod/cart-api-7d9f-x1": ("pod", False),
            "otel:host/node-1": ("virtual_machine", True),
            "otel:db/postgresql/cart-db": ("database_instance", True),
            "otel:service/checkout": ("application", False),
            "otel:service/payment": ("application", False),
            "otel:peer/cards.example.com": ("application_instance", True),
            "otel:service/sales/orders": ("application", False),
            "otel:queue/kafka/orders": ("middleware", True),
            "otel:service/fulfilment": ("application", False),
        }
        others = {(x.source, x.type, x.target) for x in r.relationships if x.type != "depends_on"}
        assert others == {
            (WEB, "runs_on", "otel:host/web-1"),
            ("otel:k8s/shop/Pod/cart-api-7d9f-x1", "part_of", CART),
            ("otel:k8s/shop/Pod/cart-api-7d9f-x1", "runs_on", "otel:host/node-1"),
        }
        assert r.warnings == [] and r.complete

    def test_stored_sdk_export(self):
        """``fixtures/otel/shop.jsonl``: :meth:`Shop.run` exported once, kept as a file."""
        assert graph(scan([FIXTURES / "shop.jsonl"])) == EXPECTED

    def test_attributes_of_services_and_peers(self, shop, tmp_path):
        r = scan([write(tmp_path, "t.jsonl", as_lines(shop.requests()))])
        cis = {c.key: c for c in r.cis}
        assert cis[CART].attributes == {
            "kind": "Deployment",
            "namespace": "shop",
            "name": "cart-api",
            "service_name": "cart-api",
        }
        assert cis[WEB].attributes == {"service_name": "web-shop", "environment": "prod"}
        db = cis["otel:db/postgresql/cart-db"]
        assert db.attributes == {"engine": "postgresql", "db_system": "postgresql",
                                 "databases": ["carts"]}  # fmt: skip
        assert db.identifiers.hostnames == ["cart-db"]
        assert cis["otel:queue/kafka/orders"].attributes["product"] == "kafka"
        assert cis["otel:k8s/shop/Pod/cart-api-7d9f-x1"].attributes["container_ids"] == ["c0ffee"]
        edge = next(x for x in r.relationships if (x.source, x.target) == (WEB, CART))
        metrics = edge.attributes["otel"]
        assert metrics["protocols"] == ["http"]
        assert 0 < metrics["p50_ms"] <= metrics["p99_ms"]
        assert metrics["first_seen"] < metrics["last_seen"]

    def test_every_sighting_obeys_the_registry(self, shop, tmp_path, registry):
        r = scan([write(tmp_path, "t.jsonl", as_lines(shop.requests()))])
        classes = {c.key: c.ci_class for c in r.cis}
        for c in r.cis:
            registry.validate_attributes(c.ci_class, c.attributes)
        for x in r.relationships:
            registry.check_relationship(classes[x.source], x.type, classes[x.target])

    def test_jaeger_export_hand_checked(self):
        r = scan([JAEGER])
        fe, be = "otel:service/frontend", "otel:service/backend"
        db, q = "otel:db/mysql/db-1.example.net:3306", "otel:queue/rabbitmq/stock-events"
        assert {(x.source, x.target): x.attributes.get("otel", {}) for x in r.relationships} == {
            (fe, "otel:host/web-01"): {},
            (be, "otel:host/app-01"): {},
            (fe, be): {
                "calls": 2,
                "errors": 1,  # the second trace's server span has error=true
                "p50_ms": 10.0,
                "p99_ms": 30.0,
                "first_seen": "2023-11-14T22:13:20.005000Z",
                "last_seen": "2023-11-14T22:14:20.030000Z",
                "protocols": ["http"],
            },
            (be, db): {
                "calls": 1,
                "errors": 0,
                "p50_ms": 4.0,
                "p99_ms": 4.0,
                "first_seen": "2023-11-14T22:13:20.007000Z",
                "last_seen": "2023-11-14T22:13:20.011000Z",
                "protocols": ["db"],
            },
            (be, q): {
                "calls": 1,
                "errors": 0,
                "p50_ms": 2.0,
                "p99_ms": 2.0,
                "first_seen": "2023-11-14T22:14:20.010000Z",
                "last_seen": "2023-11-14T22:14:20.012000Z",
                "protocols": ["messaging"],
            },
        }
        dbci = next(c for c in r.cis if c.key == db)
        assert dbci.identifiers.fqdn == "db-1.example.net" and dbci.attributes["port"] == 3306

    @pytest.mark.parametrize(
        ("min_calls", "dropped"),
        [(1, set()), (2, {("otel:service/checkout", "otel:peer/cards.example.com")})],
    )
    def test_min_calls(self, shop, tmp_path, min_calls, dropped):
        r = scan([write(tmp_path, "t.jsonl", as_lines(shop.requests()))], min_calls=min_calls)
        kept = {k for k, (calls, _) in EXPECTED.items() if calls >= min_calls}
        assert set(graph(r)) == kept and not kept & dropped
        assert ("otel:peer/cards.example.com" in {c.key for c in r.cis}) == (min_calls == 1)
        assert "otel:service/fulfilment" in {c.key for c in r.cis}  # services stay
        if dropped:
            assert r.warnings == [
                f"dropped {len(EXPECTED) - len(kept)} dependencies seen fewer than 2 times"
            ]

    def test_base64_ids(self, shop, tmp_path):
        r = scan([write(tmp_path, "t.jsonl", as_lines(shop.requests(b64=True)))])
        assert graph(r) == EXPECTED

    def test_child_before_parent(self, shop, tmp_path):
        reqs = shop.requests()
        spans = [
            (rs, sp) for r in reqs for rs in r["resourceSpans"] for ss in rs["scopeSpans"]
            for sp in ss["spans"]
        ]  # fmt: skip
        flipped = [
            {"resource": rs["resource"], "scopeSpans": [{"spans": [sp]}]} for rs, sp in spans
        ]
        for order in (flipped, flipped[::-1]):
            text = json.dumps({"resourceSpans": order})
            assert graph(scan([write(tmp_path, "t.json", text)])) == EXPECTED

    def test_duplicate_export_counts_once(self, shop, tmp_path):
        r = scan([write(tmp_path, "t.jsonl", as_lines(shop.requests()) * 2)])
        assert graph(r) == EXPECTED
        assert r.warnings == ["22 spans were read twice (same trace and span id); counted once"]

    def test_http_peer_answered_elsewhere_is_the_service(self, tmp_path):
        s = Shop()
        attrs = {"server.address": "payment", "server.port": 8080}
        for _ in s.call("checkout", "payment", **attrs):
            pass
        for _ in s.call("checkout", None, **attrs):  # its server span was not sampled
            pass
        r = scan([write(tmp_path, "t.jsonl", as_lines(s.requests()))])
        assert graph(r) == {("otel:service/checkout", "otel:service/payment"): (2, 0)}


class TestStreaming:
    def test_small_buffer_reads_the_same(self, shop, tmp_path, monkeypatch):
        monkeypatch.setattr(discovery._otel, "_CHUNK", 7)
        for form in (as_object, as_lines):
            assert graph(scan([write(tmp_path, "t.json", form(shop.requests()))])) == EXPECTED

    def test_window_evicts_old_traces(self, tmp_path):
        s = Shop()
        for _ in s.call("checkout", "payment", **{"server.address": "pay-gw"}):
            pass
        for _ in s.call("web-shop", "cart-api", **{"server.address": "cart-api"}):
            pass
        spans = [
            sp
            for r in s.requests()
            for sp in get_spans([write(tmp_path, "a.jsonl", json.dumps(r))])
        ]
        # checkout's client, web-shop's client, then the two server spans (children last)
        order = sorted(spans, key=lambda sp: sp.kind != 3)
        wide = transform_spans(order, window=2)
        assert {(r.source, r.target) for r in wide.rels.values() if r.type == "depends_on"} == {
            ("otel:service/checkout", "otel:service/payment"),
            (WEB, CART),
        }
        narrow = transform_spans(order, window=1)
        assert ("otel:service/checkout", "depends_on", "otel:peer/pay-gw") in narrow.rels
        assert any("never seen" in w for w in narrow.warnings)

    def test_latency_switches_to_histogram(self):
        exact, big = Latency(), Latency()
        for v in range(1, 1001):
            exact.add(float(v))
        assert (exact.quantile(0.5), exact.quantile(0.99)) == (500.0, 990.0)
        for v in range(1, 5001):
            big.add(float(v))
        assert big.exact is None
        assert big.quantile(0.5) == pytest.approx(2500, rel=0.01)
        assert big.quantile(0.99) == pytest.approx(4950, rel=0.01)
        exact.merge(big)
        assert exact.quantile(0.5) == pytest.approx(2000, rel=0.02)


class TestBadInput:
    def test_malformed_json_lines_names_line_and_column(self, shop, tmp_path):
        good = as_lines(shop.requests()[:2])
        p = write(tmp_path, "bad.jsonl", good + '{"resourceSpans": [{"resource": }]}\n')
        with pytest.raises(
            ImportFormatError, match=r"bad\.jsonl:3: malformed JSON \(Expecting value, column 33\)"
        ):
            scan([p])

    def test_malformed_pretty_object(self, tmp_path):
        p = write(tmp_path, "bad.json", '{\n  "resourceSpans": [\n    {"a": 1}\n    {"b": 2}\n]}')
        with pytest.raises(
            ImportFormatError,
            match=r"bad\.json:4: malformed JSON \(expected ',' or '\]', found '\{', column 5\)",
        ):
            scan([p])

    def test_nothing_is_written_when_one_file_is_bad(self, shop, tmp_path, sqlite_store):
        good = write(tmp_path, "a.jsonl", as_lines(shop.requests()))
        bad = write(tmp_path, "b.jsonl", '{"resourceSpans": [}\n')
        with pytest.raises(ImportFormatError, match=r"b\.jsonl:1: malformed JSON"):
            reconcile(sqlite_store, scan([good, bad]))
        assert sqlite_store.find_cis(CIFilter()) == []

    def test_byte_order_mark_and_not_utf8(self, shop, tmp_path):
        p = tmp_path / "bom.json"
        p.write_bytes(b"\xef\xbb\xbf" + as_lines(shop.requests()).encode())
        assert graph(scan([p])) == EXPECTED
        p.write_bytes(b'{"resourceSpans": ["\xff"]}')
        with pytest.raises(ImportFormatError, match=r"bom\.json: not UTF-8 text"):
            scan([p])

    def test_truncated_file(self, shop, tmp_path):
        text = as_object(shop.requests())
        p = write(tmp_path, "cut.json", text[: len(text) // 2])
        with pytest.raises(ImportFormatError, match=r"cut\.json:\d+: malformed JSON"):
            scan([p])

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", r"no spans"),
            ('{"resourceSpans": []}', r"no spans"),
            ('{"other": [1]}', r"no spans"),
            ("[1, 2]", r"t\.json:1: malformed JSON \(expected '\{', found '\['"),
        ],
    )
    def test_not_traces(self, tmp_path, text, message):
        with pytest.raises(ImportFormatError, match=message):
            scan([write(tmp_path, "t.json", text)])

    def test_missing_field_and_bad_id(self, tmp_path):
        span = {
            "traceId": "ab" * 16,
            "spanId": "zz",
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
        }
        doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
        with pytest.raises(ValidationError, match=r"t\.json:1: unexpected OTLP shape \(id 'zz'"):
            scan([write(tmp_path, "t.json", json.dumps(doc))])
        del span["spanId"]
        with pytest.raises(ValidationError, match=r"t\.json:1: missing required field 'spanId'"):
            scan([write(tmp_path, "t.json", json.dumps(doc))])

    def test_missing_path_and_options(self, tmp_path):
        with pytest.raises(ImportFormatError, match="no such file"):
            scan([tmp_path / "nope.json"])
        with pytest.raises(ImportFormatError, match="no trace files"):
            scan([tmp_path])
        with pytest.raises(ValidationError, match="at least 1"):
            scan([JAEGER], min_calls=0)

    def test_ids(self):
        assert norm_id("AAECAwQFBgcICQoLDA0ODw==") == "000102030405060708090a0b0c0d0e0f"
        with pytest.raises(ValueError, match="not 8 or 16 bytes"):
            norm_id("AAEC")


K8S = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: cart-api}}
    spec: {containers: [{name: c, image: "shop/cart-api:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart-api, namespace: shop}
spec: {selector: {app: cart-api}, ports: [{port: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-shop, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web-shop}}
    spec:
      containers:
        - {name: c, image: "shop/web:1", env: [{name: CART_URL, value: "http://cart-api:8080"}]}
"""


class TestReconcile:
    def test_rerun_is_a_no_op(self, shop, tmp_path, store):
        p = write(tmp_path, "t.jsonl", as_lines(shop.requests()))
        first = reconcile(store, scan([p])).plan
        assert len(first.creates) == 12 and len(first.relationships) == 10
        again = reconcile(store, scan([p])).plan
        assert (again.creates, again.updates, again.relationships) == ((), (), ())

    @pytest.mark.parametrize("k8s_first", [True, False])
    def test_kubernetes_and_traces_are_one_ci_and_one_edge(self, tmp_path, store, k8s_first):
        web = {"k8s.namespace.name": "shop", "k8s.deployment.name": "web-shop"}
        s = Shop({"web-shop": web})
        for _ in s.call("web-shop", "cart-api", **{"url.full": "http://cart-api:8080/items"}):
            pass
        traces = scan([write(tmp_path, "t.jsonl", as_lines(s.requests()))])
        manifests = kubernetes.scan([write(tmp_path, "app.yaml", textwrap.dedent(K8S))])
        for result in (manifests, traces) if k8s_first else (traces, manifests):
            reconcile(store, result)
        apps = store.find_cis(CIFilter(classes=("application_instance",)))
        by_name = {c.name: c for c in apps}
        assert sorted(c.name for c in apps) == ["cart-api", "web-shop"]
        assert set(by_name["cart-api"].last_seen) == {"kubernetes", "otel"}
        rels = store.find_relationships(RelFilter(types=("depends_on",)))
        edge = [
            r
            for r in rels
            if (r.source, r.target) == (by_name["web-shop"].id, by_name["cart-api"].id)
        ]
        assert len(edge) == 1 and set(edge[0].last_seen) == {"kubernetes", "otel"}

    def test_declared_edge_carries_the_observed_counts(self, tmp_path, sqlite_store):
        s = Shop({"web-shop": {"k8s.namespace.name": "shop", "k8s.deployment.name": "web-shop"}})
        for _ in s.call("web-shop", "cart-api", **{"url.full": "http://cart-api:8080/items"}):
            pass
        reconcile(sqlite_store, kubernetes.scan([write(tmp_path, "a.yaml", textwrap.dedent(K8S))]))
        reconcile(sqlite_store, scan([write(tmp_path, "t.jsonl", as_lines(s.requests()))]))
        rel = sqlite_store.find_relationships(RelFilter(source="k8s:shop/Deployment/web-shop"))
        deps = [r for r in rel if r.type == "depends_on"]
        assert [r.attributes["otel"]["calls"] for r in deps] == [1]
        for _ in s.call("web-shop", "cart-api", **{"url.full": "http://cart-api:8080/items"}):
            pass
        reconcile(sqlite_store, scan([write(tmp_path, "u.jsonl", as_lines(s.requests()))]))
        rel = sqlite_store.find_relationships(RelFilter(source="k8s:shop/Deployment/web-shop"))
        assert [r.attributes["otel"]["calls"] for r in rel if r.type == "depends_on"] == [2]


def test_doctests():
    import doctest

    for module in (discovery._otel, otel):
        assert doctest.testmod(module).failed == 0
