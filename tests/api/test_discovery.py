"""Discovery routes: the runs, and declared versus observed (state built as in
tests/cmdb/test_drift.py: the kubernetes scanner declares, otel scans observe)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.enums import Role
from cmdb.model import utcnow
from cmdb.store import open_store
from tests.cmdb.test_drift import PAYMENT, D, build

BASE = "/api/v1/discovery"
DIFF = {"declared": "kubernetes", "observed": "otel"}


@pytest.fixture
def api_env(api_env, tmp_path):
    """The demo store with a kubernetes run and two otel runs (ten days and an hour ago)."""
    store = open_store(api_env.settings)
    try:
        build(store, tmp_path, t2=utcnow() - timedelta(hours=1))
    finally:
        store.close()
    return api_env


class TestRuns:
    def test_newest_first_with_source_and_limit(self, client, api_env):
        reader = api_env.headers(Role.READER)
        r = client.get(f"{BASE}/runs", headers=reader)
        assert r.status_code == 200
        assert [(x["id"], x["source"], x["status"]) for x in r.json()] == [
            ("RUN-000003", "otel", "applied"),
            ("RUN-000002", "otel", "applied"),
            ("RUN-000001", "kubernetes", "applied"),
        ]
        r = client.get(f"{BASE}/runs", params={"source": "otel", "limit": 1}, headers=reader)
        assert [x["id"] for x in r.json()] == ["RUN-000003"]
        assert r.json()[0]["counts"]["created"] == 0

    @pytest.mark.parametrize("limit", [0, 1001, "x"])
    def test_bad_limit_is_a_problem(self, client, api_env, limit):
        r = client.get(f"{BASE}/runs", params={"limit": limit}, headers=api_env.headers("reader"))
        assert r.status_code == 422 and r.json()["field"] == "limit"
        assert r.headers["content-type"] == "application/problem+json"


class TestDiff:
    def test_sections(self, client, api_env):
        r = client.get(f"{BASE}/diff", params=DIFF, headers=api_env.headers(Role.READER))
        assert r.status_code == 200
        body = r.json()
        assert body["counts"] == {
            "undeclared": 2,
            "unobserved": 1,
            "confirmed": 3,
            "not_covered": 14,
        }
        assert [e["id"] for e in body["undeclared"]] == [
            f"{D}checkout|depends_on|{PAYMENT}",
            f"{D}frontend|depends_on|{D}redis",
        ]
        assert [e["id"] for e in body["unobserved"]] == [f"{D}frontend|depends_on|{D}checkout"]
        assert body["window"] is None and body["since"] is None

    def test_window_and_comma_lists(self, client, api_env):
        params = {"declared": "kubernetes", "observed": ["otel", "otel,otel"], "window": "7d"}
        r = client.get(f"{BASE}/diff", params=params, headers=api_env.headers(Role.READER))
        body = r.json()
        assert body["observed"] == ["otel"] and body["window"] == "P7D"
        assert [e["id"] for e in body["undeclared"]] == [f"{D}checkout|depends_on|{PAYMENT}"]
        assert [e["id"] for e in body["unobserved"]] == [
            f"{D}checkout|depends_on|{D}cart",
            f"{D}frontend|depends_on|{D}checkout",
        ]

    @pytest.mark.parametrize(
        ("params", "field", "detail"),
        [
            ({**DIFF, "observed": "otell"}, "observed", "no relationship was ever seen by"),
            ({**DIFF, "declared": "otel"}, "observed", "both declared and observed"),
            ({**DIFF, "window": "a week"}, "window", "should match pattern"),  # the schema's
            ({**DIFF, "window": "0s"}, "window", "longer than zero"),
            ({**DIFF, "window": "99999999999d"}, "window", "too long"),
            ({**DIFF, "declared": " , "}, "declared.0", "should match pattern"),
            ({**DIFF, "declared": ""}, "declared.0", "at least 1 character"),
            ({"observed": "otel"}, "declared", "Field required"),
        ],
    )
    def test_bad_parameters_are_422_naming_the_field(self, client, api_env, params, field, detail):
        r = client.get(f"{BASE}/diff", params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field and detail in r.json()["detail"]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("path", ["/runs", "/diff"])
def test_every_role_may_read(client, api_env, role, path):
    r = client.get(f"{BASE}{path}", params=DIFF, headers=api_env.headers(role))
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/runs", "/diff"])
def test_a_key_is_required(client, path):
    r = client.get(f"{BASE}{path}", params=DIFF)
    assert r.status_code == 401
