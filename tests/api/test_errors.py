"""Every error is a problem document (RFC 9457): unknown routes and methods, bad JSON, bodies
over the size limit (declared or streamed), missing and bad keys, internal errors; no error body
carries a traceback, and no key ever shows in a response or in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings

import pytest

from cmdb import apikeys
from cmdb.enums import Role
from cmdb.settings import Settings
from cmdb.store import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
TRACEBACK_MARKS = ("Traceback", 'File "', "line ", ".py", "Error(", "sqlite3", "neo4j.")
LIMIT = 2048


def _secret(token: str) -> str:
    parts = apikeys.token_parts(token)
    assert parts is not None
    return parts[1]


def assert_problem(r, status: int) -> dict:
    """The response is a problem document for ``status`` and shows no traceback."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:graph-cmdb:problem:")
    assert body["title"] and body["detail"]
    for mark in TRACEBACK_MARKS:
        assert mark not in r.text, f"{mark!r} in {r.text}"
    return body


@pytest.fixture
def small_client(api_env):
    """A client on an app that refuses bodies over 2 KiB."""
    from api.app import create_app

    app = create_app(Settings(db=api_env.settings.db, api_max_body_bytes=LIMIT))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class TestRouting:
    @pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/cis", "/api/v1/cis-x"])
    def test_unknown_route_is_404(self, client, api_env, path):
        body = assert_problem(client.get(path, headers=api_env.headers(Role.ADMIN)), 404)
        assert path in body["detail"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [("PUT", "/api/v1/cis"), ("DELETE", "/api/v1/cis"), ("POST", "/api/v1/health")],
    )
    def test_wrong_method_is_405_with_allow(self, client, api_env, method, path):
        r = client.request(method, path, headers=api_env.headers(Role.ADMIN))
        body = assert_problem(r, 405)
        assert method in body["detail"]
        assert r.headers["allow"]

    def test_allow_names_every_method_of_the_path(self, client, api_env):
        """/cis has GET (list) and POST (create): a 405 there must say both."""
        r = client.put("/api/v1/cis", headers=api_env.headers(Role.ADMIN))
        assert_problem(r, 405)
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert {"GET", "POST"} <= allowed, r.headers["allow"]


class TestBodies:
    @pytest.mark.parametrize("body", [b"{bad", b"", b'{"id": "x",', b"\xff\xfe", b"[1, 2"])
    def test_unparseable_json_is_400(self, client, api_env, body):
        headers = {**api_env.headers(Role.ADMIN), "content-type": "application/json"}
        r = client.post("/api/v1/cis", content=body, headers=headers)
        if body == b"":
            assert_problem(r, 422)  # no body at all: the body is missing, not malformed
        else:
            assert_problem(r, 400)

    def test_body_over_the_limit_is_413(self, small_client, api_env):
        r = small_client.post(
            "/api/v1/cis",
            content=b" " * (LIMIT + 1),
            headers={**api_env.headers(Role.ADMIN), "content-type": "application/json"},
        )
        assert "2048" in assert_problem(r, 413)["detail"]

    def test_body_at_the_limit_is_read(self, small_client, api_env):
        body = b'{"id": "lim", "class": "physical_server", "name": "L"}'
        r = small_client.post(
            "/api/v1/cis",
            content=body + b" " * (LIMIT - len(body)),
            headers={**api_env.headers(Role.ADMIN), "content-type": "application/json"},
        )
        assert r.status_code == 201, r.text

    def test_chunked_body_over_the_limit_is_413(self, small_client, api_env):
        """No Content-Length: the limit applies while the body streams in."""

        def chunks():
            for _ in range(8):
                yield b" " * 1000

        r = small_client.post(
            "/api/v1/cis",
            content=chunks(),
            headers={**api_env.headers(Role.ADMIN), "content-type": "application/json"},
        )
        assert r.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.request.headers
        assert_problem(r, 413)

    def test_streamed_body_over_the_limit_is_413_at_the_asgi_level(self, api_env):
        """Several ``http.request`` messages, as a server passes a chunked upload on."""
        from api.app import create_app

        app = create_app(Settings(db=api_env.settings.db, api_max_body_bytes=LIMIT))
        token = api_env.keys[Role.ADMIN].encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/cis",
            "raw_path": b"/api/v1/cis",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                (b"content-type", b"application/json"),
                (b"transfer-encoding", b"chunked"),
                (b"authorization", b"Bearer " + token),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        messages = [
            {"type": "http.request", "body": b" " * 700, "more_body": True} for _ in range(5)
        ] + [{"type": "http.request", "body": b"", "more_body": False}]
        sent: list[dict] = []

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        assert start["status"] == 413
        assert dict(start["headers"])[b"content-type"] == PROBLEM.encode()


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", "/api/v1/cis"), ("GET", "/api/v1/cis/pm-core-db-01"), ("DELETE", "/api/v1/cis/x")],
    )
    def test_missing_key_is_401_with_www_authenticate(self, client, method, path):
        r = client.request(method, path)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "headers",
        [
            {"Authorization": "Bearer "},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"X-API-Key": ""},
        ],
    )
    def test_empty_or_other_scheme_is_401(self, client, headers):
        r = client.get("/api/v1/cis", headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"

    def test_a_failing_key_never_shows_in_responses_or_logs(self, client, api_env, caplog):
        good = api_env.keys[Role.ADMIN]
        secret = _secret(good)
        store = open_store(api_env.settings)
        try:
            revoked = apikeys.create_key(store, role=Role.ADMIN, name="gone", actor="t")
            assert revoked.key.id is not None
            apikeys.revoke_key(store, revoked.key.id, actor="t")
        finally:
            store.close()
        wrong_secret = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        unknown_id = "cmdb_KEY-999999_" + secret
        malformed = "not-a-cmdb-key-" + secret
        tokens = [wrong_secret, unknown_id, malformed, revoked.token]
        caplog.set_level(logging.DEBUG)
        for token in tokens:
            for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": token}):
                r = client.get("/api/v1/cis/pm-core-db-01", headers=headers)
                assert_problem(r, 401)
                assert r.headers["www-authenticate"] == "Bearer"
                for leaked in (token, secret, _secret(revoked.token)):
                    assert leaked not in r.text
                    assert leaked not in str(r.headers)
        for leaked in [*tokens, secret, _secret(revoked.token)]:
            assert leaked not in caplog.text
        assert (
            "revoked"
            in client.get("/api/v1/cis", headers={"X-API-Key": revoked.token}).json()["detail"]
        )

    def test_a_good_key_never_shows_in_a_response(self, client, api_env):
        token = api_env.keys[Role.ADMIN]
        for path in ("/api/v1/cis?limit=5", "/api/v1/cis/pm-core-db-01", "/openapi.json"):
            r = client.get(path, headers=api_env.headers(Role.ADMIN))
            assert r.status_code == 200
            assert token not in r.text and _secret(token) not in r.text

    def test_forbidden_is_a_problem_naming_the_role(self, client, api_env):
        r = client.post(
            "/api/v1/cis",
            json={"id": "f1", "class": "physical_server", "name": "F"},
            headers=api_env.headers(Role.ANALYST),
        )
        body = assert_problem(r, 403)
        assert "admin" in body["detail"] and "analyst" in body["detail"]
        assert api_env.keys[Role.ANALYST] not in r.text


class TestOtherErrors:
    def test_validation_error_names_the_field(self, client, api_env):
        r = client.get("/api/v1/cis", params={"limit": "x"}, headers=api_env.headers(Role.READER))
        body = assert_problem(r, 422)
        assert body["field"] == "limit" and body["errors"][0]["field"] == "limit"

    @pytest.mark.parametrize(
        ("method", "path", "params", "field"),
        [
            ("GET", "/cis", {"class": "", "cursor": ""}, "class"),
            ("GET", "/cis", {"cursor": ""}, "cursor"),
            ("GET", "/cis", {"owner": ""}, "owner"),
            ("GET", "/cis", {"support_group": ""}, "support_group"),
            ("GET", "/cis", {"identifier": ""}, "identifier"),
            ("GET", "/cis", {"q": ""}, "q"),
            ("GET", "/relationships", {"cursor": "", "type": "", "source": ""}, "source"),
            ("GET", "/relationships", {"type": ""}, "type"),
            ("GET", "/relationships", {"target": ""}, "target"),
            ("GET", "/relationships", {"ci": ""}, "ci"),
            ("GET", "/relationships", {"cursor": ""}, "cursor"),
            ("GET", "/relationships", {"cursor": "²"}, "cursor"),
            ("DELETE", "/relationships", {"source": "a", "type": "", "target": "b"}, "type"),
            ("GET", "/discovery/diff", {"declared": "", "observed": ""}, "declared"),
            ("GET", "/discovery/diff", {"declared": ",", "observed": "k8s"}, "declared"),
            ("GET", "/discovery/diff", {"declared": "a", "observed": "b", "window": ""}, "window"),
            ("GET", "/discovery/runs", {"source": ""}, "source"),
            ("GET", "/audit", {"skip_rule": ""}, "skip_rule"),
            ("GET", "/audit", {"rule": ""}, "rule"),
            ("GET", "/audit/report", {"class": ""}, "class"),
            ("GET", "/history", {"actor": ""}, "actor"),
            ("GET", "/history", {"entity_id": ""}, "entity_id"),
            ("GET", "/history", {"change_id": ""}, "change_id"),
            ("GET", "/incidents", {"ci": ""}, "ci"),
            ("GET", "/problems", {"cursor": ""}, "cursor"),
            ("GET", "/changes", {"ci": ""}, "ci"),
            ("GET", "/releases", {"cursor": ""}, "cursor"),
            ("GET", "/impact/suppliers", {"service": ""}, "service"),
            ("POST", "/cis", {"change_id": ""}, "change_id"),
            ("PATCH", "/cis/web-01", {"change_id": ""}, "change_id"),
            ("DELETE", "/cis/web-01", {"change_id": ""}, "change_id"),
            ("POST", "/relationships", {"change_id": ""}, "change_id"),
            (
                "DELETE",
                "/relationships",
                {"source": "a", "type": "b", "target": "c", "change_id": ""},
                "change_id",
            ),
            ("POST", "/import", {"change_id": "", "dry_run": "true"}, "change_id"),
        ],
    )
    def test_an_empty_name_is_refused_by_the_schema(
        self, client, api_env, method, path, params, field
    ):
        """An empty id, name, cursor or change names nothing: the OpenAPI says ``minLength: 1``
        and the answer is the 422 of validation, before the route runs."""
        headers = api_env.headers(Role.ADMIN, **{"If-Match": "*"})
        r = client.request(method, f"/api/v1{path}", params=params, headers=headers)
        body = assert_problem(r, 422)
        assert field in {e["field"].split(".")[0] for e in body["errors"]}, body
        template = "/cis/{ci_id}" if path.startswith("/cis/") else path
        operation = client.get("/openapi.json").json()["paths"][f"/api/v1{template}"]
        (param,) = [p for p in operation[method.lower()]["parameters"] if p["name"] == field]
        schema = json.dumps(param["schema"])  # a registry name may be an enum of the names
        assert any(f'"{word}"' in schema for word in ("minLength", "pattern", "enum")), param

    def test_unknown_ci_is_404(self, client, api_env):
        r = client.get("/api/v1/cis/no/such/ci", headers=api_env.headers(Role.READER))
        assert "no/such/ci" in assert_problem(r, 404)["detail"]

    @pytest.mark.parametrize(("if_match", "status"), [(None, 428), ('"999"', 412)])
    def test_preconditions_are_problems(self, client, api_env, if_match, status):
        headers = api_env.headers(Role.ADMIN)
        if if_match:
            headers["If-Match"] = if_match
        r = client.patch("/api/v1/cis/pm-core-db-01", json={"owner": "z"}, headers=headers)
        assert_problem(r, status)

    def test_missing_store_is_503_without_paths_of_code(self, tmp_path):
        from api.app import create_app

        app = create_app(Settings(db=tmp_path / "missing" / "cmdb.db"))
        with TestClient(app, raise_server_exceptions=False) as c:
            assert_problem(c.get("/api/v1/health"), 503)

    def test_internal_error_is_500_with_the_traceback_only_in_the_log(self, api_env, caplog):
        from api.app import create_app

        app = create_app(api_env.settings)

        def boom() -> None:
            raise RuntimeError("secret internals /srv/app.py")

        app.add_api_route("/boom", boom)
        caplog.set_level(logging.ERROR)
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/boom")
        body = assert_problem(r, 500)
        assert "secret internals" not in r.text and "logged" in body["detail"]
        assert "secret internals" in caplog.text and "Traceback" in caplog.text


class TestCredentials:
    @pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "token-without-scheme"])
    def test_a_malformed_authorization_is_refused_even_with_a_key(
        self, client, api_env, authorization
    ):
        headers = {"X-API-Key": api_env.keys[Role.ADMIN], "Authorization": authorization}
        body = assert_problem(client.get("/api/v1/cis", headers=headers), 401)
        assert "Bearer" in body["detail"]

    def test_two_different_keys_are_refused(self, client, api_env):
        headers = {
            "X-API-Key": api_env.keys[Role.READER],
            "Authorization": f"Bearer {api_env.keys[Role.ADMIN]}",
        }
        assert_problem(client.post("/api/v1/cis", json={}, headers=headers), 401)
        same = {**headers, "X-API-Key": api_env.keys[Role.ADMIN]}
        assert client.get("/api/v1/cis", headers=same).status_code == 200
