"""The kubernetes scanner: reading files, the pure transform, and the Online Boutique fixture."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ImportFormatError, ValidationError
from cmdb.reconcile import reconcile
from discovery._common import Doc
from discovery.kubernetes import get_objects, scan, transform_objects
from impact.blast import blast_radius

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes"
BOUTIQUE = "k8s:boutique/Deployment/"


def docs(text: str, path: str = "m.yaml") -> list[Doc]:
    """In-memory documents, one per YAML document, numbered as lines."""
    return [
        Doc(d, path, i + 1)
        for i, d in enumerate(yaml.safe_load_all(textwrap.dedent(text)))
        if d is not None
    ]


def deployment(
    name: str,
    *,
    ns: str = "shop",
    labels: dict | None = None,
    image: str = "app:1",
    env: dict | None = None,
    kind: str = "Deployment",
    **container,
) -> dict:
    pod = {
        "metadata": {"labels": labels or {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": image,
                    **container,
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }
            ]
        },
    }
    spec = {"jobTemplate": {"spec": {"template": pod}}} if kind == "CronJob" else {"template": pod}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def service(name: str, selector: dict | None, *, ns: str = "shop") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "ports": [{"port": 80}]},
    }


def run(*objects: dict, **options):
    return transform_objects([Doc(o, "m.yaml", i + 1) for i, o in enumerate(objects)], **options)


def deps(out) -> set[tuple[str, str]]:
    return {
        (r.source.split("/")[-1], r.target.split("/")[-1])
        for r in out.rels.values()
        if r.type == "depends_on"
    }


class TestGetObjects:
    def test_multi_document_and_list_kinds(self, tmp_path):
        p = tmp_path / "dump.yaml"
        p.write_text(
            textwrap.dedent("""\
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a}
            ---
            apiVersion: v1
            kind: List
            items:
              - apiVersion: v1
                kind: ConfigMap
                metadata: {name: b}
              - apiVersion: v1
                kind: Secret
                metadata: {name: c}
            """)
        )
        objects, errors, files = get_objects([p])
        assert [o.data["metadata"]["name"] for o in objects] == ["a", "b", "c"]
        assert [o.line for o in objects] == [1, 8, 11]
        assert errors == [] and files == [str(p)]

    def test_directory_is_read_recursively(self, tmp_path):
        (tmp_path / "sub").mkdir()
        for name in ("a.yaml", "sub/b.yml"):
            (tmp_path / name).write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        (tmp_path / "notes.txt").write_text("not yaml: [")
        assert len(get_objects([tmp_path])[0]) == 2

    def test_malformed_yaml_names_file_and_line(self, tmp_path):
        p = tmp_path / "bad.yaml"
        p.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n")
        with pytest.raises(ImportFormatError, match=r"bad\.yaml:5: malformed YAML"):
            scan([p])

    def test_not_kubernetes_says_so(self, tmp_path):
        p = tmp_path / "other.yaml"
        p.write_text("name: not a manifest\nitems: [1, 2]\n")
        with pytest.raises(ImportFormatError, match=r"other\.yaml: no Kubernetes objects"):
            scan([p])

    def test_only_unmodelled_kinds_says_so(self, tmp_path):
        p = tmp_path / "crd.yaml"
        p.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
        with pytest.raises(
            ImportFormatError,
            match=r"no Kubernetes objects this scanner reads"
            r".*Widget \(1\)",
        ):
            scan([p])

    def test_missing_path(self, tmp_path):
        with pytest.raises(ImportFormatError, match="no such file"):
            scan([tmp_path / "nope.yaml"])

    def test_not_strict_reports_an_incomplete_run(self, tmp_path):
        (tmp_path / "good.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        )
        (tmp_path / "bad.yaml").write_text("kind: [\n")
        r = scan([tmp_path], strict=False)
        assert not r.complete and r.errors[0].startswith(f"{tmp_path / 'bad.yaml'}:")
        assert [c.name for c in r.cis if not c.unresolved] == ["a"]

    def test_missing_required_field_is_located(self, tmp_path):
        p = tmp_path / "m.yaml"
        p.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec: {}\n"
        )
        with pytest.raises(
            ValidationError,
            match=r"m\.yaml:5: missing required field "
            r"'template'",
        ):
            scan([p])


class TestKubectlDump:
    """A ``kubectl get ... -o yaml`` List: uids, owned objects folded, a missing Service."""

    def test_dump(self):
        r = scan([FIXTURES.parent / "kubernetes-dump"], scope_by="namespace")
        by_key = {c.key: c for c in r.cis}
        assert set(by_key) == {
            "k8s:Namespace/shop",
            "k8s:shop/Deployment/cart",
            "k8s:shop/Service/cart",
            "k8s:shop/Service/cache",
        }
        assert by_key["k8s:shop/Deployment/cart"].identifiers.k8s_uids == [
            "0b6e3c1e-8f3a-4d7e-9a51-1c2d3e4f5a60"
        ]
        assert by_key["k8s:shop/Deployment/cart"].attributes["replicas"] == 2
        assert by_key["k8s:shop/Deployment/cart"].origin.endswith("kubectl-get-all.yaml:8")
        assert by_key["k8s:shop/Service/cache"].unresolved
        assert ("k8s:shop/Deployment/cart", "k8s:shop/Service/cache") in {
            (x.source, x.target) for x in r.relationships if x.type == "depends_on"
        }
        assert ("k8s:shop/Service/cart", "k8s:shop/Deployment/cart") in {
            (x.source, x.target) for x in r.relationships if x.type == "depends_on"
        }
        assert "folded 2 objects" in r.warnings[0]
        assert {c.scope for c in r.cis} == {"namespace:shop"}


class TestClasses:
    @pytest.mark.parametrize(
        ("obj", "ci_class", "attrs"),
        [
            (deployment("web"), "application_instance", {"kind": "Deployment"}),
            (
                deployment("pg", kind="StatefulSet", image="postgres:16"),
                "database_instance",
                {"engine": "postgresql"},
            ),
            (deployment("agent", kind="DaemonSet"), "application_instance", {"kind": "DaemonSet"}),
            (deployment("once", kind="Job"), "application_instance", {"kind": "Job"}),
            (
                deployment("nightly", kind="CronJob", image="mysql:8"),
                "database_instance",
                {"engine": "mysql"},
            ),
            (deployment("edge", image="nginx:1.27"), "load_balancer", {"product": "nginx"}),
            (service("web", {"app": "web"}), "technical_service", {"type": "ClusterIP"}),
            (
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {"name": "in", "namespace": "shop"},
                    "spec": {},
                },
                "load_balancer",
                {},
            ),
            (
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "cfg"},
                    "data": {"B": "1", "A": "2"},
                },
                "configuration",
                {"keys": ["A", "B"]},
            ),
            (
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                "namespace",
                {"kind": "Namespace"},
            ),
        ],
    )
    def test_kind_to_class(self, obj, ci_class, attrs):
        out = run(obj)
        ci = next(c for c in out.cis.values() if c.attributes.get("kind") == obj["kind"])
        assert ci.ci_class == ci_class
        assert attrs.items() <= ci.attributes.items()

    def test_keys_identity_and_parent(self):
        obj = deployment("web")
        obj["metadata"]["uid"] = "1234-abcd"
        ci = run(obj).cis["k8s:shop/Deployment/web"]
        assert ci.identifiers.k8s_uids == ["1234-abcd"]
        assert {
            "namespace": "shop",
            "kind": "Deployment",
            "name": "web",
        }.items() <= ci.attributes.items()
        assert ci.parent == "k8s:Namespace/shop"

    def test_service_dns_names_are_hostnames(self):
        ci = run(service("cart", {"app": "cart"}), cluster_domain="corp.local").cis[
            "k8s:shop/Service/cart"
        ]
        assert ci.identifiers.hostnames == [
            "cart",
            "cart.shop",
            "cart.shop.svc",
            "cart.shop.svc.corp.local",
        ]

    def test_default_namespace(self):
        obj = deployment("web")
        del obj["metadata"]["namespace"]
        out = run(obj, namespace="team-x")
        assert "k8s:team-x/Deployment/web" in out.cis
        assert out.cis["k8s:Namespace/team-x"].unresolved  # named, not described

    def test_secret_values_never_leave_the_file(self):
        r = scan([FIXTURES])
        text = r.model_dump_json()
        assert "hunter2" not in text and "c3VwZXItc2VjcmV0" not in text
        assert "SMTP_PASSWORD" not in str(
            r.cis[[c.key for c in r.cis].index("k8s:boutique/Secret/checkout-secrets")].attributes
        )

    def test_controller_owned_objects_fold_into_their_owner(self):
        owned = deployment("web-5d9c", kind="ReplicaSet")
        owned["metadata"]["ownerReferences"] = [
            {"kind": "Deployment", "name": "web", "controller": True}
        ]
        out = run(deployment("web"), owned)
        assert "k8s:shop/ReplicaSet/web-5d9c" not in out.cis
        assert any("folded 1 objects" in w for w in out.warnings)

    def test_unknown_kinds_are_reported(self):
        out = run(
            deployment("web"),
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
            },
        )
        assert out.warnings == [
            "ignored objects of kinds this scanner does not model: HorizontalPodAutoscaler (1)"
        ]

    def test_duplicate_object_is_reported(self):
        out = run(deployment("web"), deployment("web", image="other:2"))
        assert out.cis["k8s:shop/Deployment/web"].attributes["images"] == ["app:1"]
        assert "defined twice" in out.warnings[0]


class TestRelationships:
    def test_service_selects_by_labels_not_by_name(self):
        out = run(
            deployment("api", labels={"app": "legacy"}),
            deployment("backend-v1", labels={"app": "backend", "track": "stable"}),
            service("api", {"app": "backend"}),
        )
        assert deps(out) == {("api", "backend-v1")}
        assert out.rels[
            "k8s:shop/Service/api", "depends_on", "k8s:shop/Deployment/backend-v1"
        ].attributes == {"via": "selector"}

    def test_selector_matches_only_its_namespace(self):
        out = run(deployment("web", ns="other"), service("web", {"app": "web"}))
        assert deps(out) == set()

    def test_ingress_connects_to_its_backend_services(self):
        ing = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "in", "namespace": "shop"},
            "spec": {
                "defaultBackend": {"service": {"name": "web"}},
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {"backend": {"service": {"name": "api"}}},
                                {"backend": {"serviceName": "legacy"}},
                            ]
                        },
                    }
                ],
            },
        }
        out = run(ing, service("web", {"app": "web"}))
        assert deps(out) == {("in", "web"), ("in", "api"), ("in", "legacy")}
        assert out.cis["k8s:shop/Service/api"].unresolved
        assert not out.cis["k8s:shop/Service/web"].unresolved
        assert out.cis["k8s:shop/Ingress/in"].identifiers.hostnames == ["shop.example.com"]

    @pytest.mark.parametrize(
        "value",
        [
            "cart:7070",
            "http://cart/api",
            "grpc://cart.shop:7070",
            "cart.shop.svc.cluster.local",
            "cart.shop.svc:7070",
            "--backend=cart",
            "postgres://u:p@cart:5432/db?ssl=1",
        ],
    )
    def test_a_reference_to_a_service_is_a_dependency_on_its_workloads(self, value):
        out = run(
            deployment("web", env={"ADDR": value}),
            deployment("cart-v2", labels={"app": "cart"}),
            service("cart", {"app": "cart"}),
        )
        assert ("web", "cart-v2") in deps(out)
        assert not any(c.unresolved for c in out.cis.values() if "Service" in c.key)

    def test_cross_namespace_reference(self):
        out = run(
            deployment("web", env={"DB": "pg.data:5432"}),
            deployment("pg", ns="data", image="postgres:16"),
            service("pg", {"app": "pg"}, ns="data"),
        )
        assert ("k8s:shop/Deployment/web", "depends_on", "k8s:data/Deployment/pg") in out.rels

    def test_a_workload_naming_its_own_service_does_not_depend_on_itself(self):
        out = run(
            deployment("web", env={"SELF": "http://web:80", "BASE": "web.shop"}),
            service("web", {"app": "web"}),
        )
        assert not [
            r
            for r in out.rels.values()
            if r.type == "depends_on" and r.source == "k8s:shop/Deployment/web"
        ]

    def test_service_without_workloads_is_the_target_itself(self):
        out = run(deployment("web", env={"X": "ext:443"}), service("ext", None))
        assert ("k8s:shop/Deployment/web", "depends_on", "k8s:shop/Service/ext") in out.rels

    @pytest.mark.parametrize(
        ("value", "key", "ci_class"),
        [
            ("payments:9090", "k8s:shop/Service/payments", "technical_service"),
            ("mail.other.svc.cluster.local:25", "k8s:other/Service/mail", "technical_service"),
            ("https://api.stripe.com/v1", "k8s:host/api.stripe.com", "technical_service"),
            (
                "postgres://app@db.example.com:5432/x",
                "k8s:host/db.example.com",
                "database_instance",
            ),
            ("10.1.2.3:1521", "k8s:host/10.1.2.3", "technical_service"),
        ],
    )
    def test_a_reference_to_something_not_in_the_input_is_unresolved(self, value, key, ci_class):
        out = run(deployment("web", env={"ADDR": value}))
        assert out.cis[key].unresolved and out.cis[key].ci_class == ci_class
        assert ("k8s:shop/Deployment/web", "depends_on", key) in out.rels

    def test_unresolved_hosts_carry_identifiers(self):
        out = run(deployment("web", env={"A": "10.1.2.3:1521", "B": "https://api.stripe.com"}))
        assert out.cis["k8s:host/10.1.2.3"].identifiers.ips == ["10.1.2.3"]
        assert out.cis["k8s:host/api.stripe.com"].identifiers.hostnames == ["api.stripe.com"]

    @pytest.mark.parametrize(
        "value",
        [
            "production",
            "true",
            "8080",
            ":8080",
            "0.0.0.0:8080",
            "localhost:6379",
            "12:30",
            "gcr.io/app/web:1.2",
        ],
    )
    def test_words_that_name_nothing_are_not_references(self, value):
        out = run(deployment("web", env={"X": value}))
        assert deps(out) == set()

    def test_configmaps_and_secrets_are_dependencies_and_their_data_is_searched(self):
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "shop"},
            "data": {"CART": "cart:7070", "UNUSED": "other:1"},
        }
        web = deployment("web")
        c = web["spec"]["template"]["spec"]["containers"][0]
        c["env"] = [
            {"name": "CART", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "CART"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
        ]
        worker = deployment("worker")
        worker["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "missing"}},
        ]
        out = run(cm, web, worker, deployment("cart"), service("cart", {"app": "cart"}))
        assert {
            ("web", "cfg"),
            ("web", "creds"),
            ("web", "cart"),
            ("worker", "cfg"),
            ("worker", "missing"),
            ("worker", "cart"),
            ("worker", "other"),
        } <= deps(out)
        assert ("web", "other") not in deps(out)  # configMapKeyRef reads one key only
        assert out.cis["k8s:shop/Secret/creds"].unresolved
        assert out.rels[
            "k8s:shop/Deployment/web", "depends_on", "k8s:shop/Deployment/cart"
        ].attributes == {"via": "configmap cfg key CART", "port": 7070}

    def test_args_and_command_are_searched(self):
        out = run(
            deployment(
                "web",
                args=["--cache", "redis://cache:6379/0"],
                command=["sh", "-c", "wait-for db:5432 && run"],
            ),
            deployment("cache", image="redis:7"),
            service("cache", {"app": "cache"}),
            deployment("db", image="postgres"),
            service("db", {"app": "db"}),
        )
        assert deps(out) >= {("web", "cache"), ("web", "db")}

    def test_volume_configs_are_dependencies(self):
        web = deployment("web")
        web["spec"]["template"]["spec"]["volumes"] = [
            {"name": "a", "configMap": {"name": "nginx-conf"}},
            {"name": "b", "secret": {"secretName": "tls"}},
            {"name": "c", "projected": {"sources": [{"configMap": {"name": "extra"}}]}},
        ]
        assert deps(run(web)) == {("web", "nginx-conf"), ("web", "tls"), ("web", "extra")}

    def test_a_url_to_an_ingress_host_depends_on_the_ingress(self):
        ing = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "in", "namespace": "shop"},
            "spec": {"rules": [{"host": "Shop.Example.com"}]},
        }
        out = run(ing, deployment("probe", env={"URL": "https://shop.example.com/health"}))
        assert deps(out) == {("probe", "in")}

    def test_external_name_service(self):
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"type": "ExternalName", "externalName": "db.prod.example.com"},
        }
        out = run(svc)
        assert ("k8s:shop/Service/db", "depends_on", "k8s:host/db.prod.example.com") in out.rels

    def test_everything_is_part_of_its_namespace(self):
        out = run(deployment("web"), service("web", {"app": "web"}))
        parts = {(r.source, r.target) for r in out.rels.values() if r.type == "part_of"}
        assert parts == {
            ("k8s:shop/Deployment/web", "k8s:Namespace/shop"),
            ("k8s:shop/Service/web", "k8s:Namespace/shop"),
        }


@pytest.fixture(scope="module")
def result():
    return scan([FIXTURES])


class TestOnlineBoutique:
    """A trimmed Google microservices-demo (Online Boutique) manifest set."""

    def test_dependencies(self, result):
        got = {
            (r.source, r.target)
            for r in result.relationships
            if r.type == "depends_on" and r.source.startswith(BOUTIQUE)
        }
        d = BOUTIQUE
        assert {
            (d + "frontend", d + "productcatalogservice"),
            (d + "frontend", d + "cartservice"),
            (d + "frontend", d + "currencyservice"),
            (d + "frontend", d + "checkoutservice"),
            (d + "cartservice", d + "redis-cart"),
            (d + "checkoutservice", d + "paymentservice"),  # FQDN, via the ConfigMap
            (d + "checkoutservice", d + "currencyservice"),  # svc.ns, via the ConfigMap
            (d + "loadgenerator", d + "frontend"),
        } <= got
        assert (d + "frontend", d + "frontend") not in got

    def test_unresolved_are_explicit(self, result):
        unresolved = {c.key for c in result.cis if c.unresolved}
        assert unresolved == {"k8s:boutique/Service/adservice", "k8s:boutique/Service/emailservice"}

    def test_classes(self, result):
        by_key = {c.key: c for c in result.cis}
        assert by_key[BOUTIQUE + "redis-cart"].ci_class == "database_instance"
        assert by_key["k8s:boutique/Ingress/frontend-ingress"].ci_class == "load_balancer"
        assert by_key["k8s:Namespace/boutique"].identifiers.k8s_uids

    def test_scope_and_completeness(self, result):
        assert result.complete and result.source == "kubernetes"
        assert result.scope == [
            f"file:{(FIXTURES / 'namespace.yaml').resolve().as_posix()}",
            f"file:{(FIXTURES / 'online-boutique.yaml').resolve().as_posix()}",
            "namespace:boutique",
        ]
        web = next(c for c in result.cis if c.key == BOUTIQUE + "frontend")
        assert web.scope == result.scope[1]
        assert web.origin == f"{FIXTURES / 'online-boutique.yaml'}:3"

    def test_scope_by_namespace(self):
        r = scan([FIXTURES], scope_by="namespace")
        assert {c.scope for c in r.cis} == {"namespace:boutique"}

    def test_every_sighting_obeys_the_registry(self, result, registry):
        classes = {c.key: c.ci_class for c in result.cis}
        for c in result.cis:
            registry.validate_attributes(c.ci_class, c.attributes)
        for r in result.relationships:
            registry.check_relationship(classes[r.source], r.type, classes[r.target])


class TestEndToEnd:
    """Real files -> the reconciler -> a store (both backends) -> blast radius."""

    def test_redis_cart_down_takes_cart_and_frontend_down(self, store):
        scan_result = scan([FIXTURES])
        ids = {c.key: c.ci_id for c in reconcile(store, scan_result).plan.creates}
        br = blast_radius(store.topology(), [ids[BOUTIQUE + "redis-cart"]])
        down = {a.id for a in br.affected() if a.state.value == "down"}
        d = BOUTIQUE
        assert {
            ids[d + "cartservice"],
            ids[d + "frontend"],
            ids[d + "checkoutservice"],
            ids[d + "loadgenerator"],
            ids["k8s:boutique/Service/cartservice"],
            ids["k8s:boutique/Ingress/frontend-ingress"],
        } <= down
        assert ids[d + "productcatalogservice"] not in down
        assert ids["k8s:boutique/Service/adservice"] not in down
        unresolved = store.get_ci(ids["k8s:boutique/Service/adservice"])
        assert unresolved.attributes.get("unresolved") is True
        again = reconcile(store, scan([FIXTURES])).plan
        assert (again.creates, again.updates, again.relationships) == ((), (), ())

    def test_cli_discover_then_blast_radius(self, tmp_path):
        runner, db = CliRunner(), str(tmp_path / "k8s.db")
        done = runner.invoke(app, ["--db", db, "discover", "kubernetes", str(FIXTURES)])
        assert done.exit_code == 0, done.output
        out = runner.invoke(
            app, ["--db", db, "impact", "blast-radius", BOUTIQUE + "redis-cart", "--format", "json"]
        )
        assert out.exit_code == 0, out.output
        affected = {a["id"]: a for a in json.loads(out.output)["affected"]}
        assert affected[BOUTIQUE + "frontend"]["path"] == [
            BOUTIQUE + "frontend",
            BOUTIQUE + "cartservice",
            BOUTIQUE + "redis-cart",
        ]

    def test_cli_malformed_file_writes_nothing(self, tmp_path):
        bad = tmp_path / "bad.yaml"
        bad.write_text("kind: [\n")
        runner, db = CliRunner(), str(tmp_path / "k8s.db")
        out = runner.invoke(app, ["--db", db, "discover", "kubernetes", str(FIXTURES), str(bad)])
        assert out.exit_code == 1 and "bad.yaml:2: malformed YAML" in out.output + out.stderr
        assert "Traceback" not in out.output + out.stderr
        assert not (tmp_path / "k8s.db").exists()


def test_doctests():
    import doctest

    import discovery._common
    import discovery.kubernetes

    for module in (discovery._common, discovery.kubernetes):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
