"""ITSM record routes: incidents, problems and changes on the demo CMDB (list, read with
ETag, open or record with the workflow's answer, resolve with If-Match, change risk)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from cmdb.store import open_store
from cmdb.workflows.incidents import assess_incident
from cmdb.workflows.risk import assess_change

V1 = "/api/v1"
_DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _at(days: int, hours: int) -> str:
    """A time as the demo's records place them: ``days`` after today's midnight (UTC)."""
    return (_DAY + timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


# the window of the demo's CHG-000101 (tomorrow 22:00 to 02:00), so that proposals collide
WINDOW = {"window_start": _at(1, 22), "window_end": _at(2, 2)}


@contextmanager
def store_of(api_env):
    store = open_store(api_env.settings)
    try:
        yield store
    finally:
        store.close()


def no_new_change(client, api_env) -> bool:
    """No change after the demo's last one (a page after it is empty: no risk assessed)."""
    r = client.get(
        f"{V1}/changes", params={"cursor": "CHG-000106"}, headers=api_env.headers("reader")
    )
    return ids(r) == []


def ids(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


class TestListIncidents:
    def test_pages_through_every_incident_once(self, client, api_env):
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = client.get(f"{V1}/incidents", params=params, headers=api_env.headers("reader"))
            seen += ids(r)
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
            assert 'rel="next"' in r.headers["link"]
        assert seen == [f"INC-00000{i}" for i in range(1, 8)]

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"open_only": True}, ["INC-000001", "INC-000002", "INC-000003"]),
            ({"ci": "pm-core-db-01"}, ["INC-000001", "INC-000004"]),
            ({"ci": "prn-br03-01", "open_only": True}, ["INC-000002"]),
        ],
    )
    def test_filters(self, client, api_env, params, expected):
        r = client.get(f"{V1}/incidents", params=params, headers=api_env.headers("reader"))
        assert ids(r) == expected

    def test_since_keeps_later_records(self, client, api_env):
        headers = api_env.headers("reader")
        every = client.get(f"{V1}/incidents", headers=headers).json()["items"]
        later = client.get(
            f"{V1}/incidents", params={"since": "2100-01-01T00:00:00Z"}, headers=headers
        )
        assert every and ids(later) == []

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"ci": "ghost"}, 404, None),
            ({"limit": 0}, 422, "limit"),
            ({"since": "0.5"}, 422, "since"),
            ({"open_only": "perhaps"}, 422, "open_only"),
        ],
    )
    def test_bad_filters(self, client, api_env, params, status, field):
        r = client.get(f"{V1}/incidents", params=params, headers=api_env.headers("reader"))
        assert r.status_code == status and r.json().get("field") == field
        assert r.headers["content-type"] == "application/problem+json"


class TestReadRecords:
    @pytest.mark.parametrize(
        ("path", "kind"),
        [
            ("incidents/INC-000001", "incident"),
            ("problems/PRB-000001", "problem"),
            ("changes/CHG-000101", "change"),
        ],
    )
    def test_one_record_with_its_version_as_etag(self, client, api_env, path, kind):
        r = client.get(f"{V1}/{path}", headers=api_env.headers("reader"))
        assert r.status_code == 200 and r.json()["kind"] == kind
        assert r.headers["etag"] == f'"{r.json()["version"]}"'

    @pytest.mark.parametrize(
        "path",
        [
            "incidents/INC-999999",
            "incidents/CHG-000101",
            "problems/INC-000001",
            "changes/PRB-000001",
        ],
    )
    def test_unknown_or_other_kind_is_404(self, client, api_env, path):
        r = client.get(f"{V1}/{path}", headers=api_env.headers("reader"))
        assert r.status_code == 404 and path.split("/")[1] in r.json()["detail"]

    def test_no_key_is_401(self, client):
        assert client.get(f"{V1}/incidents/INC-000001").status_code == 401


INCIDENT = {"ci_ids": ["pm-core-db-01"], "urgency": "high", "title": "CBSDB node down again"}


class TestOpenIncident:
    def test_allocates_an_id_with_the_workflows_priority(self, client, api_env):
        with store_of(api_env) as store:
            expected = assess_incident(store, ci_ids=["pm-core-db-01"], urgency="high")
        r = client.post(f"{V1}/incidents", json=INCIDENT, headers=api_env.headers("analyst"))
        assert r.status_code == 201, r.text
        body = r.json()
        assert re.fullmatch(r"INC-\d{6}", body["id"]) and body["id"] > "INC-000007"
        assert r.headers["location"] == f"{V1}/incidents/{body['id']}"
        assert r.headers["etag"] == '"1"'
        assert (body["priority"], body["impact"]) == (expected.priority, expected.impact.level)
        assert body["priority"] == 1 and "svc-core-banking" in body["services"]
        assert body["reasons"][-1].startswith("impact high")
        stored = client.get(r.headers["location"], headers=api_env.headers("reader")).json()
        assert (stored["priority"], stored["status"], stored["title"]) == (
            1,
            "open",
            INCIDENT["title"],
        )

    @pytest.mark.parametrize(
        ("change", "status", "field"),
        [
            ({"ci_ids": ["ghost"]}, 404, None),
            ({"ci_ids": []}, 422, "ci_ids"),
            ({"ci_ids": [""]}, 422, "ci_ids.0"),
            ({"urgency": "whenever"}, 422, "urgency"),
            ({"title": ""}, 422, "title"),
            ({"title": "   "}, 422, "title"),
            ({"priority": 1}, 422, "priority"),
        ],
    )
    def test_bad_bodies(self, client, api_env, change, status, field):
        r = client.post(
            f"{V1}/incidents", json={**INCIDENT, **change}, headers=api_env.headers("analyst")
        )
        assert r.status_code == status, r.text
        assert r.json().get("field") == field
        listed = client.get(f"{V1}/incidents", headers=api_env.headers("reader"))
        assert len(ids(listed)) == 7

    @pytest.mark.parametrize(
        ("role", "status"),
        [("reader", 403), ("change_manager", 403), ("analyst", 201), ("admin", 201)],
    )
    def test_roles(self, client, api_env, role, status):
        r = client.post(f"{V1}/incidents", json=INCIDENT, headers=api_env.headers(role))
        assert r.status_code == status


class TestResolveIncident:
    def _open(self, client, api_env) -> str:
        r = client.post(
            f"{V1}/incidents",
            json={"ci_ids": ["pc-br01-001"], "urgency": "low", "title": "PC"},
            headers=api_env.headers("analyst"),
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def test_resolve_then_again_is_409(self, client, api_env):
        inc = self._open(client, api_env)
        url = f"{V1}/incidents/{inc}/resolve"
        r = client.post(url, headers=api_env.headers("analyst", **{"If-Match": '"1"'}))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "resolved" and r.json()["resolved_at"]
        assert r.headers["etag"] == '"2"'
        again = client.post(url, headers=api_env.headers("analyst", **{"If-Match": '"2"'}))
        assert again.status_code == 409 and "already resolved" in again.json()["detail"]

    @pytest.mark.parametrize(("if_match", "status"), [(None, 428), ('"7"', 412), ("W/1", 412)])
    def test_needs_a_current_if_match(self, client, api_env, if_match, status):
        inc = self._open(client, api_env)
        extra = {} if if_match is None else {"If-Match": if_match}
        r = client.post(
            f"{V1}/incidents/{inc}/resolve", headers=api_env.headers("analyst", **extra)
        )
        assert r.status_code == status
        got = client.get(f"{V1}/incidents/{inc}", headers=api_env.headers("reader")).json()
        assert got["status"] == "open" and got["version"] == 1

    def test_star_matches_any_version(self, client, api_env):
        inc = self._open(client, api_env)
        r = client.post(
            f"{V1}/incidents/{inc}/resolve", headers=api_env.headers("admin", **{"If-Match": "*"})
        )
        assert r.status_code == 200 and r.json()["status"] == "resolved"

    @pytest.mark.parametrize(
        ("record", "role", "status"),
        [
            ("INC-999999", "analyst", 404),
            ("CHG-000101", "analyst", 422),
            ("INC-000001", "reader", 403),
            ("INC-000001", "change_manager", 403),
        ],
    )
    def test_errors(self, client, api_env, record, role, status):
        r = client.post(
            f"{V1}/incidents/{record}/resolve", headers=api_env.headers(role, **{"If-Match": "*"})
        )
        assert r.status_code == status


class TestProblems:
    def test_list_and_filter(self, client, api_env):
        headers = api_env.headers("reader")
        assert ids(client.get(f"{V1}/problems", headers=headers)) == ["PRB-000001", "PRB-000002"]
        r = client.get(f"{V1}/problems", params={"ci": "pm-core-db-01"}, headers=headers)
        assert ids(r) == ["PRB-000001"]

    def test_open_with_the_best_candidate_as_root(self, client, api_env):
        r = client.post(
            f"{V1}/problems",
            json={"incident_ids": ["INC-000001"]},
            headers=api_env.headers("analyst"),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert re.fullmatch(r"PRB-\d{6}", body["id"]) and body["id"] > "PRB-000002"
        assert r.headers["location"] == f"{V1}/problems/{body['id']}"
        assert body["incident_ids"] == ["INC-000001"]
        assert body["suspected_root"] == body["root_cause"]["candidates"][0]["id"]
        assert body["suspected_root"] == "pm-core-db-01"
        assert body["title"] == "Common cause of INC-000001"

    def test_open_with_a_given_root_and_title(self, client, api_env):
        r = client.post(
            f"{V1}/problems",
            json={
                "incident_ids": ["INC-000001", "INC-000004"],
                "root": "sw-dc-acc-05",
                "title": "t",
            },
            headers=api_env.headers("admin"),
        )
        assert r.status_code == 201 and r.json()["suspected_root"] == "sw-dc-acc-05"
        assert r.json()["title"] == "t"

    @pytest.mark.parametrize(
        ("body", "role", "status", "field"),
        [
            ({"incident_ids": ["INC-999999"]}, "analyst", 404, None),
            ({"incident_ids": ["INC-000001"], "root": "ghost"}, "analyst", 404, None),
            ({"incident_ids": []}, "analyst", 422, "incident_ids"),
            ({"incident_ids": ["CHG-000101"]}, "analyst", 422, "incidents"),
            ({"incident_ids": ["INC-000001"], "title": ""}, "analyst", 422, "title"),
            ({"incident_ids": ["INC-000001"]}, "reader", 403, None),
            ({"incident_ids": ["INC-000001"]}, "change_manager", 403, None),
        ],
    )
    def test_errors(self, client, api_env, body, role, status, field):
        r = client.post(f"{V1}/problems", json=body, headers=api_env.headers(role))
        assert r.status_code == status, r.text
        assert r.json().get("field") == field
        assert len(ids(client.get(f"{V1}/problems", headers=api_env.headers("reader")))) == 2


class TestChanges:
    def test_list_with_the_risk_of_those_still_to_be_done(self, client, api_env):
        r = client.get(f"{V1}/changes", headers=api_env.headers("reader"))
        by_id = {c["id"]: c for c in r.json()["items"]}
        assert len(by_id) == 9
        assert by_id["CHG-000101"]["cab"] == "required"
        assert by_id["CHG-000101"]["risk"]["level"] == "critical"
        assert "collides with CHG-000102" in by_id["CHG-000101"]["cab_reasons"]
        assert by_id["CHG-000103"]["cab"] == "not required"
        assert by_id["CHG-000090"]["status"] == "implemented"
        assert by_id["CHG-000090"]["risk"] is None and by_id["CHG-000090"]["cab"] is None

    def test_open_only_pages(self, client, api_env):
        headers = api_env.headers("reader")
        first = client.get(f"{V1}/changes", params={"open_only": True, "limit": 4}, headers=headers)
        assert ids(first) == ["CHG-000101", "CHG-000102", "CHG-000103", "CHG-000104"]
        cursor = first.json()["next_cursor"]
        rest = client.get(
            f"{V1}/changes", params={"open_only": True, "cursor": cursor}, headers=headers
        )
        assert ids(rest) == ["CHG-000105", "CHG-000106"] and rest.json()["next_cursor"] is None

    def test_risk_is_the_cab_answer(self, client, api_env):
        r = client.get(f"{V1}/changes/CHG-000101/risk", headers=api_env.headers("change_manager"))
        assert r.status_code == 200, r.text
        body = r.json()
        with store_of(api_env) as store:
            expected = assess_change(store, "CHG-000101").to_json()
        assert body["change_id"] == "CHG-000101" and body["cab_required"] is True
        assert "svc-core-banking" in body["services"]
        for key in ("score", "level", "cab_reasons", "services", "customers", "headline"):
            assert body[key] == expected[key], key
        assert [f["name"] for f in body["factors"]] == [f["name"] for f in expected["factors"]]

    @pytest.mark.parametrize(
        ("change", "role", "status"),
        [
            ("CHG-999999", "change_manager", 404),
            ("INC-000001", "change_manager", 422),
            ("CHG-000101", "analyst", 403),
            ("CHG-000101", "reader", 403),
        ],
    )
    def test_risk_errors(self, client, api_env, change, role, status):
        r = client.get(f"{V1}/changes/{change}/risk", headers=api_env.headers(role))
        assert r.status_code == status

    def test_record_then_read(self, client, api_env):
        body = {"ci_ids": ["sw-core-01"], "type": "standard", "title": "Rotate logs", **WINDOW}
        r = client.post(f"{V1}/changes", json=body, headers=api_env.headers("change_manager"))
        assert r.status_code == 201, r.text
        change = r.json()
        assert re.fullmatch(r"CHG-\d{6}", change["id"]) and change["status"] == "requested"
        assert (change["type"], change["window_start"]) == ("standard", WINDOW["window_start"])
        assert r.headers["location"] == f"{V1}/changes/{change['id']}"
        got = client.get(r.headers["location"], headers=api_env.headers("reader"))
        assert got.json()["title"] == "Rotate logs" and got.headers["etag"] == '"1"'
        assert not no_new_change(client, api_env)

    @pytest.mark.parametrize(
        ("change", "role", "status", "field"),
        [
            ({}, "analyst", 403, None),
            ({}, "reader", 403, None),
            ({"ci_ids": ["ghost"]}, "change_manager", 404, None),
            ({"ci_ids": []}, "change_manager", 422, "ci_ids"),
            ({"type": "sneaky"}, "change_manager", 422, "type"),
            ({"window_start": _at(1, 22)[:-1]}, "change_manager", 422, "window_start"),
            ({"window_end": _at(1, 21)}, "change_manager", 422, "window_end"),
            ({"title": ""}, "change_manager", 422, "title"),
            ({"title": "bell\x07"}, "change_manager", 422, "title"),
        ],
    )
    def test_record_errors(self, client, api_env, change, role, status, field):
        body = {"ci_ids": ["sw-core-01"], "title": "x", **WINDOW, **change}
        r = client.post(f"{V1}/changes", json=body, headers=api_env.headers(role))
        assert r.status_code == status, r.text
        assert r.json().get("field") == field
        assert no_new_change(client, api_env)

    def test_assess_a_proposal_writes_nothing(self, client, api_env):
        body = {"ci_ids": ["sw-core-02"], "type": "normal", **WINDOW}
        r = client.post(
            f"{V1}/impact/change-risk", json=body, headers=api_env.headers("change_manager")
        )
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["change_id"] is None and got["ci_ids"] == ["sw-core-02"]
        assert got["cab_required"] is True
        assert any(c["change_id"] == "CHG-000101" for c in got["collisions"])
        assert no_new_change(client, api_env)

    @pytest.mark.parametrize(
        ("change", "role", "status", "field"),
        [
            ({"ci_ids": ["ghost"]}, "change_manager", 404, None),
            ({"window_end": _at(1, 21)}, "change_manager", 422, "window_end"),
            ({"title": "not a field here"}, "change_manager", 422, "title"),
            ({}, "analyst", 403, None),
        ],
    )
    def test_assess_errors(self, client, api_env, change, role, status, field):
        body = {"ci_ids": ["sw-core-02"], **WINDOW, **change}
        r = client.post(f"{V1}/impact/change-risk", json=body, headers=api_env.headers(role))
        assert r.status_code == status, r.text
        assert r.json().get("field") == field

    def test_assess_is_not_under_a_change_id(self, client, api_env):
        """``/changes/assess`` would read as the change ``assess``: the proposal is assessed at
        ``/impact/change-risk`` and no path under ``/changes/{change_id}`` takes a POST."""
        paths = client.get("/openapi.json").json()["paths"]
        assert "post" in paths[f"{V1}/impact/change-risk"]
        assert f"{V1}/changes/assess" not in paths
        body = {"ci_ids": ["sw-core-02"], **WINDOW}
        r = client.post(
            f"{V1}/changes/assess", json=body, headers=api_env.headers("change_manager")
        )
        assert r.status_code == 405, r.text


def test_openapi_refs_all_resolve(client):
    """Every ``$ref`` names a schema (the error document and the problem record both exist)."""
    spec = client.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(spec).replace("'", '"')))
    assert sorted(refs - set(spec["components"]["schemas"])) == []
