"""Registry routes: the classes and relationship types the server validates against."""

from __future__ import annotations

import warnings

import pytest

from cmdb.enums import Role
from cmdb.registry import load_registry

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

CLASSES = "/api/v1/registry/classes"
TYPES = "/api/v1/registry/relationship-types"

EXTRA = """
classes:
  ticket_printer:
    category: enduser
    label: Ticket printer
    attributes:
      model: {type: str, required: true}
      tray: {type: str, recommended: true, values: [a4, letter]}
relationships:
  prints_for:
    propagation: none
    inverse: printed_by
    allowed:
      - [ticket_printer, service]
"""


class TestClasses:
    def test_every_class_by_name_as_the_registry_has_it(self, client, api_env):
        r = client.get(CLASSES, headers=api_env.headers(Role.READER))
        assert r.status_code == 200
        body = r.json()
        registry = load_registry()
        assert [c["name"] for c in body] == sorted(registry.classes)
        db = next(c for c in body if c["name"] == "physical_server")
        spec = registry.classes["physical_server"]
        assert db["category"] == spec.category and db["group"] is False
        assert db["recommended"] == list(spec.recommended)
        assert db["attributes"]["cpu_count"]["type"] == "int"
        cluster = next(c for c in body if c["name"] == "cluster")
        assert cluster["group"] is True

    def test_needs_a_key(self, client):
        assert client.get(CLASSES).status_code == 401


class TestRelationshipTypes:
    def test_propagation_and_allowed_pairs(self, client, api_env):
        r = client.get(TYPES, headers=api_env.headers(Role.READER))
        assert r.status_code == 200
        by_name = {t["name"]: t for t in r.json()}
        assert list(by_name) == sorted(load_registry().relationships)
        depends = by_name["depends_on"]
        assert (depends["propagation"], depends["inverse"]) == ("to_source", "required_by")
        assert {"source": "*", "target": "*"} in depends["allowed"]
        assert by_name["member_of"]["propagation"] == "membership"

    def test_needs_a_key(self, client):
        assert client.get(TYPES).status_code == 401


@pytest.fixture
def custom_client(api_env, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(EXTRA, encoding="utf-8")
    from api.app import create_app

    settings = api_env.settings.model_copy(update={"registry": path})
    with TestClient(create_app(settings)) as c:
        yield c


def test_answers_the_registry_the_server_runs_with(custom_client, api_env):
    reader = api_env.headers(Role.READER)
    printer = next(
        c
        for c in custom_client.get(CLASSES, headers=reader).json()
        if c["name"] == "ticket_printer"
    )
    assert printer["required"] == ["model"] and printer["recommended"] == ["tray"]
    assert printer["attributes"]["tray"]["values"] == ["a4", "letter"]
    assert printer["label"] == "Ticket printer"
    types = {t["name"]: t for t in custom_client.get(TYPES, headers=reader).json()}
    assert types["prints_for"]["allowed"] == [{"source": "ticket_printer", "target": "service"}]
