"""The backstage scanner: entity references, the pure transform, and a demo catalog."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ImportFormatError, ValidationError
from cmdb.reconcile import reconcile
from discovery._common import Doc
from discovery.backstage import parse_ref, scan, transform_entities
from impact.blast import blast_radius

CATALOG = Path(__file__).parent / "fixtures" / "backstage" / "catalog-info.yaml"
B = "backstage:"


def entity(kind: str, name: str, ns: str | None = None, **spec) -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def run(*entities: dict):
    return transform_entities([Doc(e, "catalog-info.yaml", i + 1) for i, e in enumerate(entities)])


def rels(out, rel_type: str) -> set[tuple[str, str]]:
    return {
        (r.source.removeprefix(B), r.target.removeprefix(B))
        for r in out.rels.values()
        if r.type == rel_type
    }


class TestParseRef:
    @pytest.mark.parametrize(
        ("ref", "default_kind", "expected"),
        [
            ("team-a", "group", ("group", "ops", "team-a")),
            ("user:jdoe", "group", ("user", "ops", "jdoe")),
            ("Component:Default/Artist-Lookup", None, ("component", "default", "artist-lookup")),
            ("infra/artists-db", "resource", ("resource", "infra", "artists-db")),
            ("artists-db", None, (None, "ops", "artists-db")),
        ],
    )
    def test_forms_and_defaults(self, ref, default_kind, expected):
        assert parse_ref(ref, default_kind=default_kind, namespace="ops") == expected


class TestTransform:
    @pytest.mark.parametrize(
        ("obj", "ci_class", "attrs"),
        [
            (
                entity("Component", "web", type="website", lifecycle="production"),
                "application",
                {"type": "website", "lifecycle": "production"},
            ),
            (
                entity("API", "web-api", type="openapi", definition="openapi: 3.0.0"),
                "technical_service",
                {"type": "openapi"},
            ),
            (
                entity("Resource", "orders-db", type="postgres-database"),
                "database",
                {"engine": "postgresql"},
            ),
            (entity("Resource", "assets", type="s3-bucket"), "storage", {}),
            (
                entity("Resource", "events", type="kafka-topic"),
                "middleware",
                {"product": "kafka-topic"},
            ),
            (entity("System", "shop"), "system", {}),
            (entity("Domain", "retail"), "domain", {}),
            (
                entity("Group", "team-a", type="team", profile={"email": "a@x"}),
                "support_group",
                {"email": "a@x"},
            ),
            (
                entity("User", "jdoe", profile={"displayName": "J Doe"}),
                "person",
                {"display_name": "J Doe"},
            ),
        ],
    )
    def test_kind_to_class(self, obj, ci_class, attrs):
        ci = next(iter(run(obj).cis.values()))
        assert ci.ci_class == ci_class
        assert attrs.items() <= ci.attributes.items()
        assert "definition" not in ci.attributes

    def test_key_and_identity(self):
        ci = run(entity("Component", "Artist-Lookup", ns="Music")).cis[
            "backstage:component:music/artist-lookup"
        ]
        assert ci.name == "Artist-Lookup"
        assert {
            "kind": "Component",
            "namespace": "music",
            "ref": "component:music/artist-lookup",
        }.items() <= ci.attributes.items()

    def test_field_default_kinds(self):
        out = run(
            entity(
                "Component",
                "web",
                owner="team-a",
                system="shop",
                providesApis=["web-api"],
                consumesApis=["pay-api"],
                subcomponentOf="portal",
            ),
            entity("System", "shop", domain="retail"),
            entity("Domain", "retail", subdomainOf="commerce"),
        )
        keys = set(out.cis)
        assert {
            f"{B}group:default/team-a",
            f"{B}system:default/shop",
            f"{B}api:default/web-api",
            f"{B}api:default/pay-api",
            f"{B}component:default/portal",
            f"{B}domain:default/retail",
            f"{B}domain:default/commerce",
        } <= keys

    def test_namespace_defaults_to_the_referring_entity(self):
        out = run(entity("Component", "web", ns="ops", owner="team-a", system="default/shop"))
        assert {f"{B}group:ops/team-a", f"{B}system:default/shop"} <= set(out.cis)

    def test_references_compare_case_insensitively(self):
        out = run(
            entity("Component", "web", owner="Group:Team-A", consumesApis=["Pay-API"]),
            entity("Group", "team-a"),
            entity("API", "pay-api"),
        )
        assert not any(c.unresolved for c in out.cis.values())
        assert rels(out, "depends_on") == {("component:default/web", "api:default/pay-api")}

    def test_dependencies_carry_impact(self):
        out = run(
            entity(
                "Component",
                "web",
                dependsOn=["resource:db"],
                consumesApis=["api"],
                providesApis=["web-api"],
            ),
            entity("Component", "migrations", dependencyOf=["component:web"]),
        )
        assert rels(out, "depends_on") == {
            ("component:default/web", "resource:default/db"),
            ("component:default/web", "api:default/api"),
            ("component:default/web", "component:default/migrations"),
        }
        assert rels(out, "provides") == {("component:default/web", "api:default/web-api")}

    def test_structure_carries_no_impact(self, registry):
        out = run(
            entity("Component", "web", system="shop", subcomponentOf="portal"),
            entity("System", "shop", domain="retail"),
            entity("Group", "team-a", parent="org", children=["team-b"], members=["jdoe"]),
            entity("User", "ann", memberOf=["team-a"]),
        )
        assert rels(out, "part_of") == {
            ("component:default/web", "system:default/shop"),
            ("component:default/web", "component:default/portal"),
            ("system:default/shop", "domain:default/retail"),
            ("group:default/team-a", "group:default/org"),
            ("group:default/team-b", "group:default/team-a"),
            ("user:default/jdoe", "group:default/team-a"),
            ("user:default/ann", "group:default/team-a"),
        }
        assert rels(out, "depends_on") == set()
        assert registry.rel_type("part_of").propagation.value == "none"

    def test_owners_become_support_groups(self):
        out = run(
            entity("Component", "web", owner="team-a"),
            entity("Component", "api", owner="user:jdoe"),
            entity("User", "jdoe", profile={"displayName": "Jane Doe"}),
        )
        web, api = out.cis[f"{B}component:default/web"], out.cis[f"{B}component:default/api"]
        assert web.support_group == f"{B}group:default/team-a" and web.owner is None
        assert out.cis[f"{B}group:default/team-a"].ci_class == "support_group"
        assert rels(out, "supported_by") == {("component:default/web", "group:default/team-a")}
        assert api.owner == "Jane Doe" and api.support_group is None

    def test_depends_on_without_kind(self):
        out = run(
            entity("Component", "web", dependsOn=["orders-db", "ghost"]),
            entity("Resource", "orders-db", type="database"),
        )
        assert rels(out, "depends_on") == {
            ("component:default/web", "resource:default/orders-db"),
            ("component:default/web", "component:default/ghost"),
        }
        assert out.cis[f"{B}component:default/ghost"].unresolved
        assert len([w for w in out.warnings if "has no kind" in w]) == 2

    def test_unresolved_references_are_explicit(self):
        out = run(entity("Component", "web", consumesApis=["missing-api"], system="nowhere"))
        missing = out.cis[f"{B}api:default/missing-api"]
        assert missing.unresolved and missing.ci_class == "technical_service"
        assert missing.attributes["kind"] == "API"
        assert out.cis[f"{B}system:default/nowhere"].unresolved

    def test_unmodelled_kinds_are_reported(self):
        out = run(
            entity("Component", "web"),
            {
                "apiVersion": "scaffolder.backstage.io/v1beta3",
                "kind": "Template",
                "metadata": {"name": "t"},
            },
        )
        assert out.warnings == [
            "ignored entities of kinds this scanner does not model: Template (1)"
        ]

    def test_missing_name_is_located(self):
        with pytest.raises(
            ValidationError,
            match=r"catalog-info\.yaml:2: missing required "
            r"field 'name'",
        ):
            run(
                entity("Component", "ok"),
                {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {}},
            )

    def test_duplicate_entity_is_reported(self):
        out = run(entity("Component", "web", type="a"), entity("Component", "WEB", type="b"))
        assert out.cis[f"{B}component:default/web"].attributes["type"] == "a"
        assert "defined twice" in out.warnings[0]


@pytest.fixture(scope="module")
def result():
    return scan([CATALOG])


class TestDemoCatalog:
    """A Backstage demo catalog: artist-lookup, artists-db, petstore, with an org."""

    def test_locations_are_followed(self, result):
        assert [s.rsplit("/", 1)[-1] for s in result.scope] == [
            "catalog-info.yaml",
            "apis.yaml",
            "groups.yaml",
            "users.yaml",
        ]
        assert f"{B}user:default/breanna.davison" in {c.key for c in result.cis}

    def test_impact_chain(self, result):
        got = {
            (r.source.removeprefix(B), r.type, r.target.removeprefix(B))
            for r in result.relationships
        }
        assert {
            ("component:default/artist-lookup", "depends_on", "resource:default/artists-db"),
            ("component:default/artist-lookup", "provides", "api:default/artist-api"),
            ("component:default/artist-web", "depends_on", "api:default/artist-api"),
            (
                "component:default/petstore",
                "depends_on",
                "component:default/petstore-db-migrations",
            ),
            (
                "component:default/petstore-db-migrations",
                "depends_on",
                "resource:default/artists-db",
            ),
        } <= got

    def test_unresolved(self, result):
        assert {c.key for c in result.cis if c.unresolved} == {
            f"{B}api:default/searcher",
            f"{B}group:default/sre",
        }

    def test_sighting_scope_is_its_file(self, result):
        api = next(c for c in result.cis if c.key == f"{B}api:default/artist-api")
        assert api.scope == result.scope[1] and api.origin.endswith("apis.yaml:1")

    def test_every_sighting_obeys_the_registry(self, result, registry):
        classes = {c.key: c.ci_class for c in result.cis}
        for c in result.cis:
            registry.validate_attributes(c.ci_class, c.attributes)
        for r in result.relationships:
            registry.check_relationship(classes[r.source], r.type, classes[r.target])


class TestBadInput:
    def test_malformed_yaml_names_file_and_line(self, tmp_path):
        p = tmp_path / "catalog-info.yaml"
        p.write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
            "  name: web\n  tags: [a, b\n"
        )
        with pytest.raises(ImportFormatError, match=r"catalog-info\.yaml:6: malformed YAML"):
            scan([p])

    def test_no_entities_says_so(self, tmp_path):
        p = tmp_path / "catalog-info.yaml"
        p.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
        with pytest.raises(
            ImportFormatError,
            match=r"catalog-info\.yaml: no Backstage "
            r"entities",
        ):
            scan([p])

    def test_only_unmodelled_kinds_says_so(self, tmp_path):
        p = tmp_path / "t.yaml"
        p.write_text("apiVersion: backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\n")
        with pytest.raises(ImportFormatError, match=r"no Backstage entities this scanner reads"):
            scan([p])

    def test_missing_location_target(self, tmp_path):
        p = tmp_path / "catalog-info.yaml"
        p.write_text(
            textwrap.dedent("""\
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata: {name: web}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: Location
            metadata: {name: more}
            spec: {targets: [./gone.yaml, "https://example.com/catalog-info.yaml"]}
            """)
        )
        with pytest.raises(
            ImportFormatError,
            match=r"catalog-info\.yaml:5: Location target "
            r".*gone\.yaml: no such file",
        ):
            scan([p])
        r = scan([p], strict=False)
        assert not r.complete and "gone.yaml" in r.errors[0]
        assert any("is a URL: not fetched" in w for w in r.warnings)
        assert not scan([p], follow_locations=False).errors


class TestEndToEnd:
    """Real files -> the reconciler -> a store (both backends) -> blast radius."""

    def test_artists_db_down(self, store):
        ids = {c.key: c.ci_id for c in reconcile(store, scan([CATALOG])).plan.creates}
        br = blast_radius(store.topology(), [ids[f"{B}resource:default/artists-db"]])
        affected = {a.id: a.state.value for a in br.affected()}
        assert affected == {
            ids[f"{B}{k}"]: "down"
            for k in (
                "component:default/artist-lookup",
                "api:default/artist-api",
                "component:default/artist-web",
                "component:default/petstore-db-migrations",
                "component:default/petstore",
                "api:default/petstore",
                "api:default/streetlights",
            )
        }
        # structure and ownership carry no impact: the system, domain and team stay up
        again = reconcile(store, scan([CATALOG])).plan
        assert (again.creates, again.updates, again.relationships) == ((), (), ())

    def test_cli_discover_then_blast_radius(self, tmp_path):
        runner, db = CliRunner(), str(tmp_path / "b.db")
        done = runner.invoke(app, ["--db", db, "discover", "backstage", str(CATALOG)])
        assert done.exit_code == 0, done.output
        out = runner.invoke(
            app,
            [
                "--db",
                db,
                "impact",
                "blast-radius",
                f"{B}api:default/artist-api",
                "--format",
                "json",
            ],
        )
        assert out.exit_code == 0, out.output
        assert {a["id"] for a in json.loads(out.output)["affected"]} == {
            f"{B}component:default/artist-web"
        }


def test_doctests():
    import doctest

    import discovery.backstage

    for module in (discovery.backstage,):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
