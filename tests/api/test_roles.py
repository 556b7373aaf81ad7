"""Every route under /api/v1 × every role: 401 without a key, 403 when the role may not call it
(:data:`api.policy.POLICY`, :meth:`Role.allows`), otherwise its success status for a valid
request taken from :data:`EXAMPLES`.

A new route fails :func:`test_every_route_has_an_example` until it gets an example here, and a
POLICY entry that no route uses fails :func:`test_every_policy_entry_is_a_route`. Examples that
write get a fresh copy of the demo store; reads share one (a refused write is checked to change
nothing). Builders of read examples set up what they need once (idempotently) on the shared store.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from api.app import PREFIX, create_app
from api.policy import POLICY, PUBLIC
from cmdb.enums import Role
from cmdb.filters import RelFilter
from cmdb.model import Batch, utcnow
from cmdb.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Example:
    """A valid request to one route (``path`` under /api/v1) and the status it succeeds with."""

    method: str
    path: str
    status: int = 200
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[TestClient, dict[str, str]], Example]
"""Builds an example on the store of the case (client, admin headers): to read an ETag first."""


def _etag(client: TestClient, admin: dict[str, str], path: str) -> dict[str, str]:
    r = client.get(PREFIX + path, headers=admin)
    assert r.status_code == 200, r.text
    return {"If-Match": r.headers["etag"]}


def _patch_ci(client: TestClient, admin: dict[str, str]) -> Example:
    headers = _etag(client, admin, "/cis/pm-core-db-01")
    return Example("PATCH", "/cis/pm-core-db-01", json={"owner": "roles"}, headers=headers)


def _retire_ci(client: TestClient, admin: dict[str, str]) -> Example:
    return Example("DELETE", "/cis/pc-br01-001", headers=_etag(client, admin, "/cis/pc-br01-001"))


def _revoke_key(client: TestClient, admin: dict[str, str]) -> Example:
    r = client.post(
        PREFIX + "/api-keys", json={"role": "reader", "name": "to-revoke"}, headers=admin
    )
    assert r.status_code == 201, r.text
    return Example("DELETE", f"/api-keys/{r.json()['id']}")


def _resolve_incident(client: TestClient, admin: dict[str, str]) -> Example:
    headers = _etag(client, admin, "/incidents/INC-000001")
    return Example("POST", "/incidents/INC-000001/resolve", headers=headers)


def _baseline(client: TestClient, admin: dict[str, str]) -> str:
    """The name of a baseline of the demo, taken once per store."""
    if client.get(PREFIX + "/baselines/roles-base", headers=admin).status_code == 404:
        r = client.post(PREFIX + "/baselines", json={"name": "roles-base"}, headers=admin)
        assert r.status_code == 201, r.text
    return "roles-base"


def _get_baseline(client: TestClient, admin: dict[str, str]) -> Example:
    return Example("GET", f"/baselines/{_baseline(client, admin)}")


def _diff_baseline(client: TestClient, admin: dict[str, str]) -> Example:
    return Example("GET", f"/baselines/{_baseline(client, admin)}/diff")


def _discovery_diff(client: TestClient, admin: dict[str, str]) -> Example:
    """Two sources have seen one demo relationship (the demo has no discovery data)."""
    store = client.app.state.cmdb.store  # type: ignore[attr-defined]
    key = RelFilter(source=OLD_REL["source"], target=OLD_REL["target"], types=(OLD_REL["type"],))
    (rel,) = store.find_relationships(key)
    if set(rel.last_seen) != {"declared-src", "observed-src"}:
        now = utcnow()
        seen = rel.model_copy(update={"last_seen": {"declared-src": now, "observed-src": now}})
        store.apply(Batch(relationships=[seen]), actor="roles")
    params = {"declared": "declared-src", "observed": "observed-src"}
    return Example("GET", "/discovery/diff", params=params)


def _release(client: TestClient, admin: dict[str, str]) -> str:
    """The id of a release of a demo change, recorded once per store."""
    listed = client.get(PREFIX + "/releases", headers=admin)
    assert listed.status_code == 200, listed.text
    if listed.json()["items"]:
        return listed.json()["items"][0]["id"]
    r = client.post(PREFIX + "/releases", json=RELEASE, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _get_release(client: TestClient, admin: dict[str, str]) -> Example:
    return Example("GET", f"/releases/{_release(client, admin)}")


def _assess_release(client: TestClient, admin: dict[str, str]) -> Example:
    return Example("GET", f"/releases/{_release(client, admin)}/assessment")


NEW_CI = {"id": "roles/new-ci", "class": "physical_server", "name": "Roles test server"}
REL = {"source": "pm-core-db-01", "type": "connected_to", "target": "sw-dc-acc-04"}
OLD_REL = {"source": "pm-core-db-01", "type": "connected_to", "target": "sw-dc-acc-05"}
WINDOW = {"window_start": "2030-01-05T22:00:00Z", "window_end": "2030-01-06T02:00:00Z"}
CHANGE = {"ci_ids": ["pm-core-db-01"], "type": "normal", **WINDOW}
RELEASE = {"change_ids": ["CHG-000101"], "title": "Roles release"}
IMPORT = {"cis": [{"id": "roles-imported", "class": "physical_server", "name": "Imported"}]}

EXAMPLES: dict[str, Example | Builder] = {
    "health": Example("GET", "/health"),
    # CIs
    "list_cis": Example("GET", "/cis", params={"limit": 5, "class": "switch"}),
    "get_ci": Example("GET", "/cis/pm-core-db-01"),
    "get_ci_page": Example("GET", "/ci-pages/pm-core-db-01"),
    "search": Example("GET", "/search", params={"q": "core", "limit": 5}),
    "create_ci": Example("POST", "/cis", status=201, json=NEW_CI),
    "patch_ci": _patch_ci,
    "retire_ci": _retire_ci,
    # relationships and the registry
    "list_relationships": Example("GET", "/relationships", params={"ci": "pm-core-db-01"}),
    "create_relationship": Example("POST", "/relationships", status=201, json=REL),
    "retire_relationship": Example("DELETE", "/relationships", params=OLD_REL),
    "list_classes": Example("GET", "/registry/classes"),
    "list_relationship_types": Example("GET", "/registry/relationship-types"),
    # ITSM records
    "list_incidents": Example("GET", "/incidents", params={"limit": 5}),
    "get_incident": Example("GET", "/incidents/INC-000001"),
    "open_incident": Example(
        "POST",
        "/incidents",
        status=201,
        json={"ci_ids": ["pm-core-db-01"], "urgency": "low", "title": "Roles test"},
    ),
    "resolve_incident": _resolve_incident,
    "incident_priority": Example(
        "GET", "/impact/priority", params={"ci": "pm-core-db-01", "urgency": "high"}
    ),
    "list_problems": Example("GET", "/problems"),
    "get_problem": Example("GET", "/problems/PRB-000001"),
    "open_problem": Example("POST", "/problems", status=201, json={"incident_ids": ["INC-000001"]}),
    "list_changes": Example("GET", "/changes", params={"limit": 5}),
    "get_change": Example("GET", "/changes/CHG-000101"),
    "record_change": Example("POST", "/changes", status=201, json={**CHANGE, "title": "Roles"}),
    "assess_change": Example("GET", "/changes/CHG-000101/risk"),
    "assess_proposed_change": Example("POST", "/impact/change-risk", json=CHANGE),
    # impact analysis
    "blast_radius": Example("GET", "/impact/blast-radius", params={"ci": "sw-dc-acc-05"}),
    "depends_on": Example("GET", "/impact/depends-on", params={"ci": "svc-core-banking"}),
    "impact_graph": Example("GET", "/impact/graph", params={"ci": "sw-dc-acc-05"}),
    "spof": Example("GET", "/impact/spof", params={"service": "svc-core-banking"}),
    "availability": Example("GET", "/impact/availability", params={"service": "svc-core-banking"}),
    "root_cause": Example("POST", "/impact/root-cause", json={"incident_ids": ["INC-000001"]}),
    # import and export
    "export_cmdb": Example("GET", "/export", params={"format": "json"}),
    "import_cmdb": Example("POST", "/import", json=IMPORT),
    # audit, history, baselines, discovery
    "audit_report": Example("GET", "/audit", params={"rule": "missing_owner"}),
    "audit_document": Example("GET", "/audit/report", params={"rule": "missing_owner"}),
    "list_history": Example("GET", "/history", params={"ci": "pm-core-db-01"}),
    "list_baselines": Example("GET", "/baselines"),
    "take_baseline": Example("POST", "/baselines", status=201, json={"name": "roles-new"}),
    "get_baseline": _get_baseline,
    "diff_baseline": _diff_baseline,
    "list_discovery_runs": Example("GET", "/discovery/runs"),
    "discovery_diff": _discovery_diff,
    # releases and suppliers
    "create_release": Example("POST", "/releases", status=201, json=RELEASE),
    "list_releases": Example("GET", "/releases"),
    "get_release": _get_release,
    "assess_release": _assess_release,
    "impact_suppliers": Example("GET", "/impact/suppliers", params={"service": "svc-email"}),
    # API keys
    "whoami": Example("GET", "/me"),
    "list_api_keys": Example("GET", "/api-keys"),
    "create_api_key": Example(
        "POST", "/api-keys", status=201, json={"role": "analyst", "name": "roles"}
    ),
    "revoke_api_key": _revoke_key,
}


@dataclass(frozen=True)
class Route:
    """A route as mounted: its name, full path, methods and success status."""

    name: str
    path: str
    methods: frozenset[str]
    status_code: int

    def hit_by(self, ex: Example) -> bool:
        regex, _, _ = compile_path(self.path)
        return ex.method in self.methods and regex.match(PREFIX + ex.path) is not None


def mounted_routes(app: FastAPI) -> list[Route]:
    """Every API route of ``app`` with its full path, also where FastAPI keeps included routers
    as branches (``app.routes`` then holds the routers, not their routes)."""
    found = []
    route: Any
    for r in app.routes:
        branch: Any = r
        contexts = (
            branch.effective_route_contexts() if hasattr(r, "effective_route_contexts") else [r]
        )
        for route in contexts:
            if isinstance(getattr(route, "original_route", route), APIRoute):
                status = route.status_code or 200
                found.append(Route(route.name, route.path, frozenset(route.methods), status))
    return found


def _api_routes() -> dict[str, Route]:
    """The app's routes under /api/v1, by name (the app is built without opening a store)."""
    app = create_app(Settings(db="/nonexistent/roles.db"))
    return {r.name: r for r in mounted_routes(app) if r.path.startswith(PREFIX)}


ROUTES = _api_routes()
CALLERS: list[Role | None] = [None, *Role]


def _expected(name: str, route: Route, role: Role | None) -> int:
    if name in PUBLIC:
        return route.status_code
    if role is None:
        return 401
    if not role.allows(POLICY[name]):
        return 403
    return route.status_code


def _writes(route: Route) -> bool:
    """Whether the route writes (a builder of a read's example only sets up, idempotently)."""
    return bool(route.methods - {"GET", "HEAD"})


@pytest.fixture(scope="module")
def shared(_demo_template, tmp_path_factory):
    """One demo store and client for the cases that must not write."""
    template, keys = _demo_template
    path = tmp_path_factory.mktemp("roles") / "cmdb.db"
    shutil.copyfile(template, path)
    with TestClient(create_app(Settings(db=path))) as c:
        yield c, keys


def _build(example: Example | Builder, client: TestClient, keys: dict[Role, str]) -> Example:
    if callable(example):
        return example(client, {"Authorization": f"Bearer {keys[Role.ADMIN]}"})
    return example


def _call(client: TestClient, ex: Example, role: Role | None, keys: dict[Role, str]):
    headers = dict(ex.headers)
    if role is not None:
        headers["Authorization"] = f"Bearer {keys[role]}"
    return client.request(
        ex.method, PREFIX + ex.path, params=ex.params, json=ex.json, headers=headers
    )


def test_every_route_has_an_example():
    missing = sorted(set(ROUTES) - set(EXAMPLES))
    assert not missing, f"add an example to EXAMPLES for {missing}"


def test_every_example_is_a_route():
    stale = sorted(set(EXAMPLES) - set(ROUTES))
    assert not stale, f"EXAMPLES names routes that do not exist: {stale}"


def test_every_policy_entry_is_a_route():
    unused = sorted(set(POLICY) - set(ROUTES))
    assert not unused, f"POLICY names routes that do not exist: {unused}"


def test_every_route_needs_a_key_but_the_public_ones():
    assert sorted(set(ROUTES) - set(POLICY)) == sorted(PUBLIC & set(ROUTES))


def test_route_names_are_unique():
    app = create_app(Settings(db="/nonexistent/roles.db"))
    names = [r.name for r in mounted_routes(app) if r.path.startswith(PREFIX)]
    assert len(names) == len(set(names))


def test_openapi_names_each_operations_role():
    schema = create_app(Settings(db="/nonexistent/roles.db")).openapi()
    seen = {}
    for ops in schema["paths"].values():
        for op in ops.values():
            seen[op["operationId"]] = op.get("x-required-role")
    expected = {name: POLICY[name].value if name in POLICY else None for name in ROUTES}
    assert seen == expected


def test_a_route_without_a_policy_entry_stops_the_app(monkeypatch):
    name = next(n for n in sorted(ROUTES) if n in POLICY)
    monkeypatch.delitem(POLICY, name)
    with pytest.raises(RuntimeError, match=name):
        create_app(Settings(db="/nonexistent/roles.db"))


@pytest.mark.parametrize(
    ("name", "role"),
    [(name, role) for name in sorted(ROUTES) for role in CALLERS],
    ids=lambda v: v.value if isinstance(v, Role) else ("nokey" if v is None else v),
)
def test_route_and_role(name, role, shared, _demo_template, tmp_path):
    route = ROUTES[name]
    if name not in EXAMPLES:
        pytest.fail(f"route {name} has no example in EXAMPLES")
    example = EXAMPLES[name]
    expected = _expected(name, route, role)
    succeeds = expected < 400
    client, keys = shared
    if succeeds and _writes(route):
        template, keys = _demo_template
        path = tmp_path / "cmdb.db"
        shutil.copyfile(template, path)
        with TestClient(create_app(Settings(db=path))) as fresh:
            _check(fresh, name, route, example, role, keys, expected)
    else:
        _check(client, name, route, example, role, keys, expected)


def _check(client, name, route, example, role, keys, expected) -> None:
    ex = _build(example, client, keys)
    assert route.hit_by(ex), f"the example of {name} ({ex.method} {ex.path}) is not its route"
    before = client.get(PREFIX + "/health").json()["store_version"]
    r = _call(client, ex, role, keys)
    assert r.status_code == expected, f"{ex.method} {ex.path} as {role}: {r.text[:500]}"
    if expected >= 400:
        assert r.headers["content-type"] == "application/problem+json"
        if expected == 401:
            assert r.headers["www-authenticate"] == "Bearer"
        after = client.get(PREFIX + "/health").json()["store_version"]
        assert after == before, f"a refused {ex.method} {ex.path} changed the store"
    else:
        assert r.headers["content-type"] != "application/problem+json"
