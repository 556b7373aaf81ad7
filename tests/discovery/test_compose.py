"""The compose scanner: merging, interpolation, the pure transform, and the voting app."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ImportFormatError, ValidationError
from cmdb.reconcile import reconcile
from discovery._common import Doc, classify_image
from discovery._compose import expand, merge_files, normalize, parse_env_file
from discovery.compose import scan, transform_project
from impact.blast import blast_radius

APP = Path(__file__).parent / "fixtures" / "compose" / "example-voting-app"
FILES = [APP / "docker-compose.yml", APP / "docker-compose.override.yml"]
P = "compose:example-voting-app/"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def model(*files: dict, env: dict | None = None) -> dict:
    return merge_files([normalize(f, env or {}) for f in files])


def transform(*files: dict, env: dict | None = None, **options):
    return transform_project(
        [Doc(f, f"f{i}.yml", 1) for i, f in enumerate(files)],
        env or {},
        project=options.pop("project", "p"),
        **options,
    )


def deps(out) -> set[tuple[str, str]]:
    return {
        (r.source.rsplit("/", 1)[-1], r.target.rsplit("/", 1)[-1])
        for r in out.rels.values()
        if r.type == "depends_on"
    }


class TestMerge:
    def test_mappings_merge_and_scalars_replace(self):
        m = model(
            {"services": {"w": {"image": "a", "restart": "always"}}},
            {"services": {"w": {"image": "b"}, "x": {"image": "c"}}},
        )
        assert m["services"] == {"w": {"image": "b", "restart": "always"}, "x": {"image": "c"}}

    def test_ports_append_and_command_replaces(self):
        m = model(
            {
                "services": {
                    "w": {
                        "ports": ["80:80"],
                        "command": ["a", "b"],
                        "entrypoint": "x",
                        "expose": ["1"],
                    }
                }
            },
            {
                "services": {
                    "w": {
                        "ports": ["443:443", "80:80"],
                        "command": ["c"],
                        "entrypoint": ["y"],
                        "expose": ["2"],
                    }
                }
            },
        )
        assert m["services"]["w"] == {
            "ports": ["80:80", "443:443"],
            "command": ["c"],
            "entrypoint": ["y"],
            "expose": ["1", "2"],
        }

    def test_healthcheck_test_replaces(self):
        m = model(
            {"services": {"w": {"healthcheck": {"test": ["CMD", "a"], "interval": "5s"}}}},
            {"services": {"w": {"healthcheck": {"test": ["CMD", "b"]}}}},
        )
        assert m["services"]["w"]["healthcheck"] == {"test": ["CMD", "b"], "interval": "5s"}

    def test_list_and_map_forms_merge_by_key(self):
        m = model(
            {
                "services": {
                    "w": {
                        "environment": ["A=1", "B=2"],
                        "depends_on": ["db"],
                        "networks": ["front"],
                        "labels": ["x=1"],
                    }
                }
            },
            {
                "services": {
                    "w": {
                        "environment": {"B": "3", "C": "4"},
                        "depends_on": {"cache": {"condition": "service_healthy"}},
                        "networks": {"back": {"aliases": ["api"]}},
                    }
                }
            },
        )
        w = m["services"]["w"]
        assert w["environment"] == {"A": "1", "B": "3", "C": "4"}
        assert w["depends_on"] == {
            "db": {"condition": "service_started"},
            "cache": {"condition": "service_healthy"},
        }
        assert w["networks"] == {"front": None, "back": {"aliases": ["api"]}}
        assert w["labels"] == {"x": "1"}

    def test_environment_name_alone_comes_from_the_environment(self):
        m = model({"services": {"w": {"environment": ["TOKEN", "UNSET"]}}}, env={"TOKEN": "t"})
        assert m["services"]["w"]["environment"] == {"TOKEN": "t", "UNSET": None}

    def test_volumes_replace_by_target(self):
        m = model(
            {"services": {"w": {"volumes": ["data:/var/lib/x", "./a:/app"]}}},
            {"services": {"w": {"volumes": ["./b:/app", {"type": "tmpfs", "target": "/tmp"}]}}},
        )
        assert m["services"]["w"]["volumes"] == [
            "data:/var/lib/x",
            "./b:/app",
            {"type": "tmpfs", "target": "/tmp"},
        ]

    def test_reset_and_override_tags(self, tmp_path):
        write(
            tmp_path,
            "a.yml",
            """\
            services:
              w: {image: app, ports: ["80:80"], environment: {A: "1", B: "2"}}
            """,
        )
        write(
            tmp_path,
            "b.yml",
            """\
            services:
              w:
                ports: !reset []
                environment: !override {C: "3"}
            """,
        )
        r = scan([tmp_path / "a.yml", tmp_path / "b.yml"], environ={}, project="p")
        ci = next(c for c in r.cis if c.key == "compose:p/w")
        assert "ports" not in ci.attributes

    def test_override_file_applies_in_order(self):
        r = scan(FILES, environ={})
        vote = next(c for c in r.cis if c.key == P + "vote")
        assert vote.attributes["ports"] == ["8080:80", "5000:80"]
        assert vote.attributes["image"] == "dockersamples/examplevotingapp_vote:latest"


class TestInterpolation:
    @pytest.mark.parametrize(
        ("text", "env", "expected"),
        [
            ("${A}", {"A": "x"}, "x"),
            ("$A-b", {"A": "x"}, "x-b"),
            ("${A:-d}", {}, "d"),
            ("${A:-d}", {"A": ""}, "d"),
            ("${A-d}", {"A": ""}, ""),
            ("${A-d}", {}, "d"),
            ("${A:+alt}", {"A": "x"}, "alt"),
            ("${A:+alt}", {}, ""),
            ("$${A}", {"A": "x"}, "${A}"),
            ("${A:-${B:-deep}}", {}, "deep"),
            ("postgres://u:${PW}@db/x", {"PW": "s"}, "postgres://u:s@db/x"),
            ("$", {}, "$"),
        ],
    )
    def test_forms(self, text, env, expected):
        assert expand(text, env, "f.yml", set(), []) == expected

    def test_unset_variables_are_reported_once(self):
        warnings: list[str] = []
        unset: set[str] = set()
        out = expand({"a": "${X}", "b": ["$X", "${Y}"]}, {}, "f.yml", unset, warnings)
        assert out == {"a": "", "b": ["", ""]}
        assert warnings == [
            "variable X is not set: substituted an empty string (first used in f.yml at a)",
            "variable Y is not set: substituted an empty string (first used in f.yml at b[1])",
        ]

    def test_required_variable(self):
        with pytest.raises(
            ValidationError,
            match=r"f\.yml: services\.w\.image: required variable TAG is not "
            r"set: give a tag",
        ):
            expand({"services": {"w": {"image": "app:${TAG:?give a tag}"}}}, {}, "f.yml", set(), [])

    def test_keys_are_not_expanded(self):
        assert expand({"$A": "$A"}, {"A": "x"}, "f", set(), []) == {"$A": "x"}

    def test_env_file_and_environment(self, tmp_path):
        r = scan(FILES, env_file=APP / "vote.env", environ={"TAG": "from-shell"})
        vote = next(c for c in r.cis if c.key == P + "vote")
        # the shell environment wins over the env file, as with docker compose
        assert (
            vote.attributes["image"]
            == "registry.example.com/voting/examplevotingapp_vote:from-shell"
        )

    def test_dot_env_beside_the_first_file_is_read(self, tmp_path):
        write(tmp_path, "compose.yaml", "services:\n  w: {image: 'app:${TAG}'}\n")
        write(tmp_path, ".env", "TAG=v3\n")
        r = scan([tmp_path / "compose.yaml"], environ={}, project="p")
        assert r.cis[1].attributes["image"] == "app:v3" and r.warnings == []

    def test_bad_env_file(self, tmp_path):
        env = write(tmp_path, "x.env", "A=1\nnot a line\n")
        with pytest.raises(ImportFormatError, match=r"x\.env:2: expected KEY=value"):
            scan(FILES, env_file=env, environ={})

    def test_env_file_syntax(self):
        assert parse_env_file("export A=1\n# c\nB='$x y'\nC=v # note\n", "e") == {
            "A": "1",
            "B": "$x y",
            "C": "v",
        }


class TestTransform:
    def test_depends_on_list_and_map_links_and_more(self):
        out = transform(
            {
                "services": {
                    "web": {"depends_on": ["api"], "links": ["cache:c"]},
                    "api": {
                        "depends_on": {"db": {"condition": "service_healthy"}},
                        "volumes_from": ["data"],
                    },
                    "proxy": {"network_mode": "service:web"},
                    "db": {},
                    "cache": {},
                    "data": {},
                }
            }
        )
        assert deps(out) == {
            ("web", "api"),
            ("web", "cache"),
            ("api", "db"),
            ("api", "data"),
            ("proxy", "web"),
        }
        assert out.rels["compose:p/api", "depends_on", "compose:p/db"].attributes == {
            "via": "depends_on",
            "condition": "service_healthy",
        }

    def test_undefined_service_is_unresolved(self):
        out = transform({"services": {"web": {"depends_on": ["ghost"]}}})
        assert out.cis["compose:p/ghost"].unresolved
        assert "service web refers to service ghost, which is not defined" in out.warnings

    @pytest.mark.parametrize(
        "value",
        [
            "postgres://user@db:5432/x",
            "jdbc:mysql://db:3306/x",
            "db:5432",
            "Server=db;Port=5432;Database=x",
            "mongodb://other:1,db:27017/x?replicaSet=r",
            "http://database-alias/health",
        ],
    )
    def test_env_values_address_services(self, value):
        out = transform(
            {
                "services": {
                    "app": {"environment": {"URL": value}},
                    "db": {"networks": {"back": {"aliases": ["database-alias"]}}},
                }
            }
        )
        assert ("app", "db") in deps(out)

    def test_command_and_entrypoint_are_searched(self):
        out = transform(
            {
                "services": {
                    "app": {
                        "command": "celery -A x worker -b redis://cache:6379/0",
                        "entrypoint": ["wait-for", "db:5432", "--"],
                    },
                    "cache": {"image": "redis"},
                    "db": {"image": "postgres"},
                }
            }
        )
        assert deps(out) == {("app", "cache"), ("app", "db")}

    def test_unknown_hosts_are_unresolved_never_dropped(self):
        out = transform(
            {
                "services": {
                    "app": {
                        "environment": {
                            "A": "redis://cache.example.com:6379",
                            "B": "mysql://10.0.0.9/x",
                            "C": "plain",
                        }
                    }
                }
            }
        )
        assert out.cis["compose:host/cache.example.com"].unresolved
        ip = out.cis["compose:host/10.0.0.9"]
        assert ip.ci_class == "database_instance" and ip.attributes["engine"] == "mysql"
        assert ip.identifiers.ips == ["10.0.0.9"]

    def test_self_reference_is_not_a_dependency(self):
        out = transform({"services": {"web": {"environment": {"URL": "http://web:80"}}}})
        assert deps(out) == set()

    def test_named_volumes_are_storage(self):
        out = transform(
            {
                "services": {"db": {"volumes": ["pg:/var/lib/pg", "./x:/x", "/anon"]}},
                "volumes": {"pg": {"driver": "local"}},
            }
        )
        vol = out.cis["compose:p/volume/pg"]
        assert vol.ci_class == "storage" and vol.parent == "compose:p"
        assert deps(out) == {("db", "pg")}

    def test_hostnames_and_parent(self):
        out = transform(
            {
                "services": {
                    "web": {
                        "container_name": "web-1",
                        "hostname": "www",
                        "networks": {"n": {"aliases": ["site"]}},
                    }
                }
            }
        )
        web = out.cis["compose:p/web"]
        assert web.identifiers.hostnames == ["web", "web-1", "www", "site"]
        assert web.parent == "compose:p" and out.cis["compose:p"].ci_class == "system"
        assert web.attributes["networks"] == ["n"]

    @pytest.mark.parametrize(
        ("image", "expected"),
        [
            ("postgres:15-alpine", ("database_instance", {"engine": "postgresql"})),
            ("bitnami/postgresql:16", ("database_instance", {"engine": "postgresql"})),
            ("mysql", ("database_instance", {"engine": "mysql"})),
            ("mariadb:11", ("database_instance", {"engine": "mysql"})),
            (
                "mcr.microsoft.com/mssql/server:2022-latest",
                ("database_instance", {"engine": "sqlserver"}),
            ),
            ("gvenzl/oracle-xe:21", ("database_instance", {"engine": "oracle"})),
            ("mongo:7", ("database_instance", {"engine": "other"})),
            ("redis:alpine", ("database_instance", {"engine": "other"})),
            ("rabbitmq:3-management", ("middleware", {"product": "rabbitmq"})),
            ("nginx:1.27", ("load_balancer", {"product": "nginx"})),
            ("haproxy", ("load_balancer", {"product": "haproxy"})),
            ("traefik:v3", ("load_balancer", {"product": "traefik"})),
            ("prometheuscommunity/postgres-exporter", None),
            ("rediscommander/redis-commander", None),
            ("oraclelinux:9", None),
            ("dockersamples/examplevotingapp_vote", None),
            (None, None),
        ],
    )
    def test_images_classify(self, image, expected):
        assert classify_image(image) == expected

    def test_project_name(self, tmp_path):
        write(tmp_path, "c.yml", "name: My_Shop!\nservices:\n  w: {image: x}\n")
        assert scan([tmp_path / "c.yml"], environ={}).cis[0].key == "compose:my_shop"
        assert scan([tmp_path / "c.yml"], environ={}, project="other").cis[0].key == "compose:other"


class TestVotingApp:
    """dockersamples/example-voting-app, trimmed, with an override file."""

    def test_services_and_classes(self):
        r = scan(FILES, environ={})
        classes = {c.key: c.ci_class for c in r.cis}
        assert classes == {
            "compose:example-voting-app": "system",
            P + "vote": "application_instance",
            P + "result": "application_instance",
            P + "worker": "application_instance",
            P + "redis": "database_instance",
            P + "db": "database_instance",
            "compose:host/statsd.monitoring.example.com": "technical_service",
            P + "volume/db-data": "storage",
        }
        db = next(c for c in r.cis if c.key == P + "db")
        assert db.attributes["engine"] == "postgresql"

    def test_dependencies(self):
        r = scan(FILES, environ={})
        got = {(x.source, x.target) for x in r.relationships if x.type == "depends_on"}
        assert got == {
            (P + "vote", P + "redis"),
            (P + "result", P + "db"),
            (P + "worker", P + "redis"),
            (P + "worker", P + "db"),
            (P + "worker", "compose:host/statsd.monitoring.example.com"),
            (P + "db", P + "volume/db-data"),
        }

    def test_unset_variable_and_profiles_reported(self):
        r = scan(FILES, environ={})
        assert r.warnings == [
            "variable POSTGRES_PASSWORD is not set: substituted an empty string (first used in "
            f"{FILES[1]} at services.result.environment.DATABASE_URL)",
            "skipped services not in an active profile: seed",
        ]
        assert r.complete and r.scope == [f"file:{f.resolve().as_posix()}" for f in FILES]

    def test_active_profile(self):
        r = scan(FILES, environ={"POSTGRES_PASSWORD": "x"}, profiles=["seed"])
        assert (P + "seed", P + "vote") in {(x.source, x.target) for x in r.relationships}
        assert r.warnings == []

    def test_base_file_alone(self):
        r = scan(FILES[:1], environ={})
        got = {(x.source, x.target) for x in r.relationships if x.type == "depends_on"}
        assert (P + "worker", P + "db") in got and (P + "result", P + "db") in got
        assert not any("statsd" in c.key for c in r.cis)

    def test_every_sighting_obeys_the_registry(self, registry):
        r = scan(FILES, environ={}, profiles=["*"])
        classes = {c.key: c.ci_class for c in r.cis}
        for c in r.cis:
            registry.validate_attributes(c.ci_class, c.attributes)
        for x in r.relationships:
            registry.check_relationship(classes[x.source], x.type, classes[x.target])


class TestBadInput:
    def test_malformed_yaml_names_file_and_line(self, tmp_path):
        p = write(tmp_path, "docker-compose.yml", "services:\n  web:\n    image: [x\n")
        with pytest.raises(ImportFormatError, match=r"docker-compose\.yml:4: malformed YAML"):
            scan([p], environ={})

    def test_not_a_compose_file(self, tmp_path):
        p = write(tmp_path, "x.yml", "apiVersion: v1\nkind: Service\n")
        with pytest.raises(
            ImportFormatError,
            match=r"x\.yml: not a Compose file: none of its "
            r"top-level keys \(apiVersion, kind\)",
        ):
            scan([p], environ={})

    def test_no_services(self, tmp_path):
        p = write(tmp_path, "c.yml", "volumes:\n  data: {}\n")
        with pytest.raises(ImportFormatError, match=r"c\.yml: no services to read"):
            scan([p], environ={}, project="p")

    def test_two_documents(self, tmp_path):
        p = write(tmp_path, "c.yml", "services: {a: {}}\n---\nservices: {b: {}}\n")
        with pytest.raises(ImportFormatError, match=r"c\.yml:3: a Compose file holds one YAML"):
            scan([p], environ={})

    def test_service_not_a_mapping(self, tmp_path):
        p = write(tmp_path, "c.yml", "services:\n  web: nginx\n")
        with pytest.raises(ValidationError, match=r"c\.yml: services\.web: expected a mapping"):
            scan([p], environ={}, project="p")


class TestEndToEnd:
    """Real files -> the reconciler -> a store (both backends) -> blast radius."""

    def test_db_down_takes_result_and_worker_down(self, store):
        ids = {c.key: c.ci_id for c in reconcile(store, scan(FILES, environ={})).plan.creates}
        topo = store.topology()

        def down(key: str) -> set[str]:
            return {
                a.id for a in blast_radius(topo, [ids[key]]).affected() if a.state.value == "down"
            }

        assert down(P + "db") == {ids[P + "result"], ids[P + "worker"]}
        assert down(P + "redis") == {ids[P + "vote"], ids[P + "worker"]}
        assert down(P + "volume/db-data") == {ids[P + "db"], ids[P + "result"], ids[P + "worker"]}
        assert down("compose:example-voting-app") == set()  # the project is structure only
        again = reconcile(store, scan(FILES, environ={})).plan
        assert (again.creates, again.updates, again.relationships) == ((), (), ())

    def test_cli_discover_then_blast_radius(self, tmp_path, monkeypatch):
        for var in ("POSTGRES_PASSWORD", "REGISTRY", "TAG", "METRICS_URL", "COMPOSE_PROJECT_NAME"):
            monkeypatch.delenv(var, raising=False)
        runner, db = CliRunner(), str(tmp_path / "c.db")
        done = runner.invoke(
            app,
            [
                "--db",
                db,
                "discover",
                "compose",
                *map(str, FILES),
                "--env-file",
                str(APP / "vote.env"),
            ],
        )
        assert done.exit_code == 0, done.output
        assert "variable POSTGRES_PASSWORD is not set" in done.output + done.stderr
        out = runner.invoke(
            app, ["--db", db, "impact", "blast-radius", P + "redis", "--format", "json"]
        )
        assert out.exit_code == 0, out.output
        assert {a["id"] for a in json.loads(out.output)["affected"]} == {P + "vote", P + "worker"}


def test_doctests():
    import doctest

    import discovery._compose
    import discovery.compose

    for module in (
        discovery._compose,
        discovery.compose,
    ):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
