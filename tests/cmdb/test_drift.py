"""Declared versus observed (cmdb.drift), on both backends.

The declared side is the real kubernetes scanner on a small manifest. The observed side is
either the real otel scanner on traces that the OpenTelemetry SDK makes in the test
(:func:`sdk_traces`), or, where the test needs sightings at chosen times, hand-built ``otel``
scan results that name the workloads as the otel scanner does (namespace, kind and name),
reconciled by the real reconciler. :func:`build` is shared with the CLI and API tests.
"""

from __future__ import annotations

import base64
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cmdb.drift import DriftReport, declared_vs_observed
from cmdb.errors import ValidationError
from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.reconcile import reconcile
from cmdb.scan import ScanResult, SeenCI, SeenRelationship
from discovery.kubernetes import scan as kubernetes_scan
from discovery.otel import scan as otel_scan

T1 = datetime(2026, 11, 1, tzinfo=UTC)
T2 = T1 + timedelta(days=10)
NOW = T2 + timedelta(hours=1)
D = "k8s:shop/Deployment/"
PAYMENT = "otel:payment"


def _deployment(name: str, ns: str = "shop", image: str = "app:1", **env: str) -> str:
    envs = "".join(f'\n          - {{name: {k}, value: "{v}"}}' for k, v in env.items())
    return textwrap.dedent(f"""\
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: {ns}}}
        spec:
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              containers:
                - name: c
                  image: {image}
                  env: []
        """).replace("env: []", "env:" + envs if envs else "env: []")


def _service(name: str) -> str:
    return textwrap.dedent(f"""\
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}, namespace: shop}}
        spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
        """)


def manifest(path: Path) -> Path:
    """Workloads frontend, cart, checkout, redis (with Services) in ``shop``, and ``batch`` in
    ``ops``; env references declare frontend→cart, frontend→checkout, checkout→cart,
    cart→redis and batch→cart."""
    path.write_text(
        _deployment("frontend", CART="cart:7070", CHECKOUT="checkout:5050")
        + _deployment("cart", REDIS="redis:6379")
        + _deployment("checkout", CART="cart:7070")
        + _deployment("redis", image="redis:7")
        + _deployment("batch", ns="ops", CART="cart.shop:7070")
        + "".join(_service(n) for n in ("frontend", "cart", "checkout", "redis"))
    )
    return path


def otel(cis: list[str], edges: list[tuple[str, str]], at: datetime) -> ScanResult:
    """An ``otel`` scan result as a trace scanner would give it: services named by their
    Kubernetes namespace, kind and name (``payment`` is not in the manifest)."""
    classes = {"redis": "database_instance"}
    seen = [
        SeenCI(
            key=f"otel:{name}",
            ci_class=classes.get(name, "application_instance"),
            name=name,
            attributes={"namespace": "shop", "kind": "Deployment"} if name != "payment" else {},
        )
        for name in cis
    ]
    rels = [
        SeenRelationship(source=f"otel:{a}", type="depends_on", target=f"otel:{b}")
        for a, b in edges
    ]
    return ScanResult(
        source="otel", scope=["file:traces.json"], complete=False, cis=seen, relationships=rels
    ).model_copy(update={"started_at": at})


ALL = ["frontend", "cart", "checkout", "redis", "payment"]
FIRST = [
    ("frontend", "cart"),
    ("checkout", "cart"),
    ("cart", "redis"),
    ("checkout", "payment"),
    ("frontend", "redis"),
]
SECOND = [("frontend", "cart"), ("cart", "redis"), ("checkout", "payment")]


def build(store, tmp_path: Path, *, second: list[str] | None = None, t2: datetime = T2) -> None:
    """Kubernetes and otel (every edge of FIRST) ten days before ``t2``, and otel at ``t2``
    (SECOND, between the CIs ``second``, all by default)."""
    t1 = t2 - (T2 - T1)
    declared = kubernetes_scan([manifest(tmp_path / "app.yaml")])
    reconcile(store, declared.model_copy(update={"started_at": t1}), now=t1)
    reconcile(store, otel(ALL, FIRST, t1), now=t1)
    cis = ALL if second is None else second
    reconcile(store, otel(cis, [e for e in SECOND if set(e) <= set(cis)], t2), now=t2)


def sdk_traces(path: Path) -> Path:
    """OTLP/JSON from the SDK: frontend calls cart; checkout calls cart and ``payment`` (a
    service outside Kubernetes). frontend never calls checkout, as the manifest declares."""
    services = {}
    for name in ("frontend", "cart", "checkout", "payment"):
        attrs = {"service.name": name}
        if name != "payment":
            attrs |= {"k8s.namespace.name": "shop", "k8s.deployment.name": name}
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create(attrs))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        services[name] = (provider.get_tracer(name), exporter)

    def call(caller: str, callee: str) -> None:
        tracer = services[caller][0]
        with tracer.start_as_current_span(f"GET {callee}", kind=SpanKind.CLIENT):
            carrier: dict[str, str] = {}
            inject(carrier)
            ctx = extract(carrier)
            services[callee][0].start_span("GET /", context=ctx, kind=SpanKind.SERVER).end()

    for caller, callees in (("frontend", ["cart"]), ("checkout", ["cart", "payment"])):
        with services[caller][0].start_as_current_span("request", kind=SpanKind.SERVER):
            for callee in callees:
                call(caller, callee)
    spans = [s for _, exporter in services.values() for s in exporter.get_finished_spans()]
    data = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if sp.get(k):
                        sp[k] = base64.b64decode(sp[k]).hex()
    path.write_text(json.dumps(data))
    return path


def ids(edges) -> list[str]:
    return [e.id for e in edges]


NOT_COVERED = sorted(
    [f"k8s:ops/Deployment/batch|depends_on|{D}cart"]
    + [f"k8s:shop/Service/{n}|depends_on|{D}{n}" for n in ("cart", "checkout", "frontend", "redis")]
    + [f"{D}{n}|part_of|k8s:Namespace/shop" for n in ("cart", "checkout", "frontend", "redis")]
    + [f"k8s:shop/Service/{n}|part_of|k8s:Namespace/shop" for n in ("cart", "checkout")]
    + [f"k8s:shop/Service/{n}|part_of|k8s:Namespace/shop" for n in ("frontend", "redis")]
    + ["k8s:ops/Deployment/batch|part_of|k8s:Namespace/ops"]
)


class TestDeclaredVsObserved:
    def test_sections_without_a_window(self, store, tmp_path):
        build(store, tmp_path)
        r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"], now=NOW)
        assert ids(r.undeclared) == [
            f"{D}checkout|depends_on|{PAYMENT}",
            f"{D}frontend|depends_on|{D}redis",
        ]
        assert ids(r.confirmed) == [
            f"{D}cart|depends_on|{D}redis",
            f"{D}checkout|depends_on|{D}cart",
            f"{D}frontend|depends_on|{D}cart",
        ]
        assert ids(r.unobserved) == [f"{D}frontend|depends_on|{D}checkout"]
        assert ids(r.not_covered) == NOT_COVERED
        assert r.counts == {"undeclared": 2, "unobserved": 1, "confirmed": 3, "not_covered": 14}
        confirmed = r.confirmed[0]
        assert (confirmed.declared_by, confirmed.observed_by) == (("kubernetes",), ("otel",))
        assert confirmed.last_observed == T2
        assert r.undeclared[1].declared_by == () and r.undeclared[1].last_observed == T1
        assert r.unobserved[0].last_observed is None and r.unobserved[0].reason is None

    def test_with_the_otel_scanner_on_sdk_traces(self, store, tmp_path):
        reconcile(store, kubernetes_scan([manifest(tmp_path / "app.yaml")]))
        reconcile(store, otel_scan([sdk_traces(tmp_path / "traces.json")]))
        r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"])
        assert ids(r.confirmed) == [
            f"{D}checkout|depends_on|{D}cart",
            f"{D}frontend|depends_on|{D}cart",
        ]
        assert ids(r.unobserved) == [f"{D}frontend|depends_on|{D}checkout"]
        [undeclared] = r.undeclared
        assert undeclared.source == f"{D}checkout"
        [stored] = store.find_relationships(
            RelFilter(source=f"{D}checkout", target=undeclared.target)
        )
        assert undeclared.attributes == stored.attributes != {}  # call counts, latencies...
        assert store.get_ci(undeclared.target).name == "payment"
        reasons = {e.id: e.reason for e in r.not_covered}
        assert reasons[f"{D}cart|depends_on|{D}redis"] == f"{D}redis not seen by otel"
        assert len(reasons) == 15  # the 14 of the other tests, and cart→redis

    def test_a_trace_service_and_a_workload_are_one_ci(self, store, tmp_path):
        build(store, tmp_path)
        cart = store.get_ci(f"{D}cart")
        assert set(cart.last_seen) == {"kubernetes", "otel"}
        assert store.get_ci(PAYMENT).last_seen == {"otel": T2}

    def test_window_keeps_only_recent_sightings(self, store, tmp_path):
        build(store, tmp_path)
        r = declared_vs_observed(
            store, declared=["kubernetes"], observed=["otel"], window=timedelta(days=7), now=NOW
        )
        assert r.since == NOW - timedelta(days=7)
        assert ids(r.confirmed) == [
            f"{D}cart|depends_on|{D}redis",
            f"{D}frontend|depends_on|{D}cart",
        ]
        assert ids(r.unobserved) == [
            f"{D}checkout|depends_on|{D}cart",
            f"{D}frontend|depends_on|{D}checkout",
        ]
        assert r.unobserved[0].last_observed == T1 and r.unobserved[0].observed_by == ()
        # frontend→redis ran only before the window: no longer reported as running undeclared
        assert ids(r.undeclared) == [f"{D}checkout|depends_on|{PAYMENT}"]
        assert ids(r.not_covered) == NOT_COVERED

    @pytest.mark.parametrize("window", [timedelta(days=7), "7d"])
    def test_an_end_unseen_over_the_window_is_not_covered(self, store, tmp_path, window):
        build(store, tmp_path, second=["frontend", "cart", "redis"])
        r = declared_vs_observed(
            store, declared=["kubernetes"], observed=["otel"], window=window, now=NOW
        )
        assert ids(r.unobserved) == []
        not_covered = {e.id: e.reason for e in r.not_covered}
        unseen = f"{D}checkout not seen by otel in the window"
        assert not_covered[f"{D}checkout|depends_on|{D}cart"] == unseen
        assert not_covered[f"{D}frontend|depends_on|{D}checkout"] == unseen
        assert len(not_covered) == 16

    def test_not_covered_says_which_ends_no_observed_source_saw(self, store, tmp_path):
        build(store, tmp_path)
        r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"], now=NOW)
        reasons = {e.id: e.reason for e in r.not_covered}
        assert reasons[f"k8s:ops/Deployment/batch|depends_on|{D}cart"] == (
            "k8s:ops/Deployment/batch not seen by otel"
        )
        assert reasons["k8s:shop/Service/cart|part_of|k8s:Namespace/shop"] == (
            "k8s:shop/Service/cart and k8s:Namespace/shop not seen by otel"
        )

    def test_a_type_no_observed_source_reports_is_not_covered(self, store):
        seen = {"kubernetes": T1, "otel": T1}
        cis = [CI(id=i, ci_class="application_instance", name=i, last_seen=seen) for i in "abc"]
        rels = [
            Relationship(source="a", type="part_of", target="b", last_seen={"kubernetes": T1}),
            Relationship(source="a", type="depends_on", target="c", last_seen={"kubernetes": T1}),
            Relationship(source="b", type="depends_on", target="c", last_seen=seen),
        ]
        store.apply(Batch(cis=cis, relationships=rels), actor="t")
        r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"], now=NOW)
        assert [(e.id, e.reason) for e in r.not_covered] == [
            ("a|part_of|b", "no part_of relationship seen by otel")
        ]
        assert ids(r.unobserved) == ["a|depends_on|c"] and ids(r.confirmed) == ["b|depends_on|c"]

    def test_stale_marks_and_retired_relationships(self, store):
        """A declared source that marked an edge stale no longer declares it; a retired
        relationship is not compared at all."""
        seen = {"kubernetes": T1, "otel": T1}
        cis = [CI(id=i, ci_class="application_instance", name=i, last_seen=seen) for i in "abcd"]
        rels = [
            Relationship(
                source="a",
                type="depends_on",
                target="b",
                last_seen=seen,
                stale_since={"kubernetes": T2},
            ),
            Relationship(
                source="c",
                type="depends_on",
                target="d",
                last_seen=seen,
                stale_since={"otel": T2},
            ),
            Relationship(source="b", type="depends_on", target="c", last_seen=seen),
            Relationship(
                source="a", type="depends_on", target="d", last_seen=seen, status="retired"
            ),
        ]
        store.apply(Batch(cis=cis, relationships=rels), actor="t")
        r = declared_vs_observed(store, declared=["kubernetes"], observed=["otel"], now=NOW)
        assert ids(r.undeclared) == ["a|depends_on|b"]
        assert ids(r.unobserved) == ["c|depends_on|d"]
        assert ids(r.confirmed) == ["b|depends_on|c"] and r.not_covered == ()

    def test_several_sources_per_side(self, store, tmp_path):
        build(store, tmp_path)
        extra = ScanResult(
            source="host",
            complete=False,
            cis=[
                SeenCI(
                    key="h:frontend",
                    ci_class="application_instance",
                    name="frontend",
                    attributes={"namespace": "shop", "kind": "Deployment"},
                ),
                SeenCI(
                    key="h:checkout",
                    ci_class="application_instance",
                    name="checkout",
                    attributes={"namespace": "shop", "kind": "Deployment"},
                ),
            ],
            relationships=[
                SeenRelationship(source="h:frontend", type="depends_on", target="h:checkout")
            ],
        )
        reconcile(store, extra, now=T2)
        r = declared_vs_observed(
            store, declared=["kubernetes"], observed=["otel,host", "otel"], now=NOW
        )
        assert r.observed == ("otel", "host") and r.unobserved == ()
        edge = next(e for e in r.confirmed if e.id == f"{D}frontend|depends_on|{D}checkout")
        assert edge.observed_by == ("host",)

    @pytest.mark.parametrize(
        ("declared", "observed", "field", "match"),
        [
            (
                ["kubernetes"],
                ["otell"],
                "observed",
                "no relationship was ever seen by source 'otell' .*sources seen: kubernetes, otel",
            ),
            (["kubernets"], ["otel"], "declared", "source 'kubernets'"),
        ],
    )
    def test_unknown_sources(self, store, tmp_path, declared, observed, field, match):
        build(store, tmp_path)
        with pytest.raises(ValidationError, match=match) as err:
            declared_vs_observed(store, declared=declared, observed=observed, now=NOW)
        assert err.value.field == field

    @pytest.mark.parametrize(
        ("declared", "observed", "window", "field", "match"),
        [
            (["kubernetes"], ["otel"], None, "declared", r"kubernetes. \(sources seen: none"),
            (["kubernetes"], [" , "], None, "observed", "name at least one observed source"),
            ([], ["otel"], None, "declared", "name at least one declared source"),
            (["otel"], ["otel"], None, "observed", "'otel' is both declared and observed"),
            (["kubernetes"], ["otel"], "7x", "window", "expected a duration like 30d"),
            (["kubernetes"], ["otel"], timedelta(0), "window", "longer than zero"),
            (["kubernetes"], ["otel"], "99999999999d", "window", "too long"),
            (["kubernetes"], ["otel"], timedelta(days=999_999_999), "window", "too long"),
        ],
    )
    def test_bad_arguments(self, store, declared, observed, window, field, match):
        with pytest.raises(ValidationError, match=match) as err:
            declared_vs_observed(
                store, declared=declared, observed=observed, window=window, now=NOW
            )
        assert err.value.field == field

    def test_reads_only(self, store, tmp_path):
        build(store, tmp_path)
        version = store.version()
        declared_vs_observed(store, declared=["kubernetes"], observed=["otel"])
        assert store.version() == version


class TestDriftReport:
    def test_summary_and_json(self, store, tmp_path):
        build(store, tmp_path)
        r = declared_vs_observed(
            store, declared=["kubernetes"], observed=["otel"], window="7d", now=NOW
        )
        assert r.summary() == (
            "1 undeclared, 2 declared but not observed, 2 confirmed, 14 not covered "
            "(otel since 2026-11-04 01:00 UTC vs kubernetes)"
        )
        data = r.to_json()
        assert data["window"] == "P7D" and data["since"] == "2026-11-04T01:00:00Z"
        assert data["undeclared"][0]["id"] == f"{D}checkout|depends_on|{PAYMENT}"
        assert data["counts"]["not_covered"] == 14
        assert (
            DriftReport.model_validate(
                {k: v for k, v in data.items() if k not in ("since", "counts")}
            )
            == r
        )
