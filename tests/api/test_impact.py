"""Impact routes on the demo CMDB: blast radius (JSON, DOT, Mermaid), depends-on, single
points of failure, availability, root cause and the incident priority preview."""

from __future__ import annotations

import pytest

from cmdb.store import open_store
from cmdb.workflows.incidents import assess_incident

V1 = "/api/v1/impact"


def get(client, api_env, path, params, role="reader"):
    return client.get(f"{V1}/{path}", params=params, headers=api_env.headers(role))


class TestBlastRadius:
    def test_core_switch_reaches_services_and_customers(self, client, api_env):
        r = get(client, api_env, "blast-radius", {"ci": "sw-core-01"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["failed"] == ["sw-core-01"]
        assert "svc-core-banking" in body["services"] and len(body["customers"]) == 15
        assert body["counts"]["total"] == len(body["affected"]) > 100
        assert {a["state"] for a in body["affected"]} <= {"down", "degraded", "at_risk"}
        assert body["affected"][0]["path"][-1] == "sw-core-01"

    @pytest.mark.parametrize(
        "params",
        [
            {"ci": ["sw-core-01", "sw-core-02"]},
            {"ci": "sw-core-01,sw-core-02"},
            {"ci": "sw-core-01 , sw-core-02"},
        ],
    )
    def test_several_cis_repeated_or_comma_separated(self, client, api_env, params):
        body = get(client, api_env, "blast-radius", params).json()
        assert body["failed"] == ["sw-core-01", "sw-core-02"]
        assert body["counts"]["down"] > 300  # both core switches: the redundancy is gone

    def test_assume_down_and_open_incidents(self, client, api_env):
        alone = get(client, api_env, "blast-radius", {"ci": "sw-core-01"}).json()
        both = get(
            client, api_env, "blast-radius", {"ci": "sw-core-01", "assume_down": "sw-core-02"}
        ).json()
        assert both["assume_down"] == ["sw-core-02"]
        assert both["counts"]["down"] > alone["counts"]["down"]
        body = get(
            client, api_env, "blast-radius", {"ci": "sw-core-01", "open_incidents": True}
        ).json()
        assert "pm-core-db-01" in body["assume_down"]  # INC-000001 is open on it

    def test_depth_types_and_limit(self, client, api_env):
        full = get(client, api_env, "blast-radius", {"ci": "pm-core-db-01"}).json()
        near = get(client, api_env, "blast-radius", {"ci": "pm-core-db-01", "depth": 1}).json()
        assert 0 < near["counts"]["total"] < full["counts"]["total"]
        few = get(client, api_env, "blast-radius", {"ci": "pm-core-db-01", "limit": 3}).json()
        assert len(few["affected"]) == 3 and few["counts"] == full["counts"]
        typed = [
            get(client, api_env, "blast-radius", {"ci": "pm-core-db-01", "types": t}).json()
            for t in (["runs_on", "member_of"], "runs_on,member_of")
        ]
        assert typed[0] == typed[1]
        assert typed[0]["counts"]["total"] < full["counts"]["total"]

    @pytest.mark.parametrize(
        ("fmt", "media", "start"),
        [("dot", "text/vnd.graphviz", "digraph"), ("mermaid", "text/plain", "flowchart")],
    )
    def test_pictures(self, client, api_env, fmt, media, start):
        r = get(client, api_env, "blast-radius", {"ci": "sw-core-01", "format": fmt})
        assert r.status_code == 200
        assert r.headers["content-type"].split(";")[0] == media
        assert r.text.startswith(start) and "sw-core-01" in r.text

    def test_picture_media_types_are_documented(self, client):
        spec = client.get("/openapi.json").json()
        for path in ("blast-radius", "depends-on"):
            content = spec["paths"][f"{V1}/{path}"]["get"]["responses"]["200"]["content"]
            assert {"application/json", "text/vnd.graphviz", "text/plain"} <= set(content)

    def test_as_of_a_time_before_the_demo_existed(self, client, api_env):
        r = get(client, api_env, "blast-radius", {"ci": "sw-core-01", "at": "2000-01-01T00:00:00Z"})
        assert r.status_code == 404 and "sw-core-01" in r.json()["detail"]

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"ci": "ghost"}, 404, None),
            ({"ci": "sw-core-01", "assume_down": "ghost"}, 404, None),
            ({"ci": "sw-core-01", "types": "teleports_to"}, 422, "types"),
            ({"ci": "sw-core-01", "depth": -1}, 422, "depth"),
            ({"ci": "sw-core-01", "limit": 0}, 422, "limit"),
            ({"ci": "sw-core-01", "format": "png"}, 422, "format"),
            ({"ci": "sw-core-01", "at": "yesterday"}, 422, "at"),
            ({"ci": ","}, 422, "ci.0"),
            ({}, 422, "ci"),
        ],
    )
    def test_errors(self, client, api_env, params, status, field):
        r = get(client, api_env, "blast-radius", params)
        assert r.status_code == status, r.text
        assert r.json().get("field") == field
        assert r.headers["content-type"] == "application/problem+json"

    def test_needs_a_key(self, client):
        assert client.get(f"{V1}/blast-radius", params={"ci": "sw-core-01"}).status_code == 401


class TestDependsOn:
    def test_what_the_core_banking_app_needs(self, client, api_env):
        body = get(client, api_env, "depends-on", {"ci": "app-core-banking"}).json()
        needed = [d["id"] for d in body["dependencies"]]
        assert body["ci"] == "app-core-banking" and body["total"] == len(needed) > 10
        assert "db-core" in needed and "stor-san-01" in needed
        assert all(d["path"][0] == "app-core-banking" for d in body["dependencies"])

    def test_limit_depth_and_dot(self, client, api_env):
        body = get(client, api_env, "depends-on", {"ci": "app-core-banking", "limit": 2}).json()
        assert len(body["dependencies"]) == 2 and body["total"] > 2
        near = get(client, api_env, "depends-on", {"ci": "app-core-banking", "depth": 1}).json()
        assert all(len(d["path"]) == 2 for d in near["dependencies"])
        r = get(client, api_env, "depends-on", {"ci": "app-core-banking", "format": "dot"})
        assert r.text.startswith("digraph") and "db-core" in r.text

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"ci": "ghost"}, 404, None),
            ({"ci": "app-core-banking", "types": "nope"}, 422, "types"),
            ({}, 422, "ci"),
        ],
    )
    def test_errors(self, client, api_env, params, status, field):
        r = get(client, api_env, "depends-on", params)
        assert r.status_code == status and r.json().get("field") == field


class TestSpofAndAvailability:
    def test_spof_of_core_banking(self, client, api_env):
        body = get(client, api_env, "spof", {"service": "svc-core-banking"}).json()
        physical = [s["id"] for s in body["single_points_of_failure"] if s["kind"] == "physical"]
        assert body["service"] == "svc-core-banking"
        assert physical == ["stor-san-01", "sw-dc-acc-05"] and body["physical"] == 2

    def test_availability_of_every_service(self, client, api_env):
        body = get(client, api_env, "availability", {}).json()
        services = [a["service"] for a in body]
        assert "svc-core-banking" in services and services == sorted(services)
        assert all(0 < a["availability"] <= 1 for a in body)

    @pytest.mark.parametrize(
        "params",
        [{"service": ["svc-core-banking", "svc-email"]}, {"service": "svc-core-banking,svc-email"}],
    )
    def test_availability_of_some_services(self, client, api_env, params):
        body = get(client, api_env, "availability", params).json()
        assert [a["service"] for a in body] == ["svc-core-banking", "svc-email"]
        core = body[0]
        assert core["slas"] and core["slas"][0]["id"] == "sla-core-banking"
        assert core["costliest"] == core["parts"][0]["id"]

    @pytest.mark.parametrize(
        ("path", "params", "status", "field"),
        [
            ("spof", {"service": "ghost"}, 404, None),
            ("spof", {}, 422, "service"),
            ("availability", {"service": "ghost"}, 404, None),
        ],
    )
    def test_errors(self, client, api_env, path, params, status, field):
        r = get(client, api_env, path, params)
        assert r.status_code == status and r.json().get("field") == field


class TestRootCause:
    def post(self, client, api_env, body, role="analyst"):
        return client.post(f"{V1}/root-cause", json=body, headers=api_env.headers(role))

    def test_incident_points_at_its_server(self, client, api_env):
        r = self.post(client, api_env, {"incident_ids": ["INC-000001"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["incidents"] == ["INC-000001"]
        assert body["candidates"][0]["id"] == "pm-core-db-01"
        assert 0 < body["candidates"][0]["confidence"] <= 1

    def test_cis_alerts_and_top(self, client, api_env):
        body = self.post(
            client,
            api_env,
            {
                "ci_ids": ["dbi-core-rac-1"],
                "alerts": [
                    {"id": "pm-core-db-01", "time": "2026-11-30T10:00:00Z", "state": "down"}
                ],
                "top": 2,
            },
        ).json()
        assert body["symptoms"] == ["dbi-core-rac-1", "pm-core-db-01"]
        assert len(body["candidates"]) == 2

    @pytest.mark.parametrize(
        ("body", "role", "status", "field"),
        [
            ({}, "analyst", 422, "symptoms"),
            ({"ci_ids": ["ghost"]}, "analyst", 404, None),
            ({"incident_ids": ["CHG-000101"]}, "analyst", 422, "incidents"),
            ({"alerts": [{"id": "pm-core-db-01", "time": "now"}]}, "analyst", 422, "alerts.0.time"),
            (
                {
                    "alerts": [
                        {"id": "pm-core-db-01", "time": "2026-11-30T10:00:00Z", "state": "meh"}
                    ]
                },
                "analyst",
                422,
                "alerts.0.state",
            ),
            ({"ci_ids": ["pm-core-db-01"], "top": 0}, "analyst", 422, "top"),
            ({"ci_ids": ["pm-core-db-01"]}, "reader", 403, None),
            ({"ci_ids": ["pm-core-db-01"]}, "change_manager", 403, None),
        ],
    )
    def test_errors(self, client, api_env, body, role, status, field):
        r = self.post(client, api_env, body, role)
        assert r.status_code == status, r.text
        assert r.json().get("field") == field


class TestIncidentPriority:
    def test_preview_is_the_workflows_and_writes_nothing(self, client, api_env):
        params = {"ci": "app-core-banking", "urgency": "medium"}
        r = get(client, api_env, "priority", params)
        assert r.status_code == 200, r.text
        body = r.json()
        store = open_store(api_env.settings)
        try:
            expected = assess_incident(store, ci_ids=["app-core-banking"], urgency="medium")
        finally:
            store.close()
        assert (body["priority"], body["impact"]["level"]) == (2, "high")
        assert body["priority"] == expected.priority
        assert body["impact"]["reasons"] == list(expected.impact.reasons)
        assert body["sla_id"] == expected.sla_id == "sla-atm-pos"
        assert body["opened_at"] < body["response_due"] < body["resolution_due"]
        listed = client.get("/api/v1/incidents", headers=api_env.headers("reader")).json()
        assert len(listed["items"]) == 7

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"ci": "ghost", "urgency": "high"}, 404, None),
            ({"ci": "pm-core-db-01", "urgency": "asap"}, 422, "urgency"),
            ({"ci": "pm-core-db-01"}, 422, "urgency"),
            ({"urgency": "high"}, 422, "ci"),
        ],
    )
    def test_errors(self, client, api_env, params, status, field):
        r = get(client, api_env, "priority", params)
        assert r.status_code == status and r.json().get("field") == field
