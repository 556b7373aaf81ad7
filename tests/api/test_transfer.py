"""Import and export routes: files in every format, dry runs, atomic failures naming the
line, roles and the body-size limit."""

from __future__ import annotations

import csv
import io
import json
import warnings

import networkx as nx
import pytest

from cmdb.enums import Role
from cmdb.exchange import import_data
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.settings import Settings
from cmdb.store import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

EXPORT, IMPORT = "/api/v1/export", "/api/v1/import"

THREE_CIS = {
    "cis": [
        {"id": f"imp-{i}", "class": "physical_server", "name": f"Imported {i}", "owner": "ops"}
        for i in range(3)
    ]
}


def _counts(settings: Settings) -> tuple[int, int, int]:
    """Live CIs, active relationships and records in the store, read by the core."""
    store = open_store(settings)
    try:
        return (
            len(store.find_cis(CIFilter())),
            len(store.find_relationships(RelFilter())),
            len(store.find_records(RecordFilter())),
        )
    finally:
        store.close()


def _post(client, api_env, content, *, role=Role.ADMIN, media="application/json", **params):
    headers = api_env.headers(role, **{"content-type": media})
    return client.post(IMPORT, content=content, params=params, headers=headers)


class TestExport:
    def test_json_reimports_into_an_empty_store(self, client, api_env, tmp_path):
        r = client.get(EXPORT, headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert 'filename="cmdb-export.json"' in r.headers["content-disposition"]
        doc = r.json()
        assert {rec["kind"] for rec in doc["records"]} >= {"incident", "change"}
        assert "api_key" not in {rec["kind"] for rec in doc["records"]}
        empty = open_store(Settings(db=tmp_path / "empty.db"), create=True)
        try:
            result = import_data(empty, r.content, format="json", actor="test")
            live = len(empty.find_cis(CIFilter()))
            rels = len(empty.find_relationships(RelFilter()))
        finally:
            empty.close()
        assert result.created == len(doc["cis"]) + len(doc["relationships"]) + len(doc["records"])
        assert (live, rels) == _counts(api_env.settings)[:2]

    def test_csv_holds_one_row_per_live_ci(self, client, api_env):
        r = client.get(EXPORT, params={"format": "csv"}, headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == _counts(api_env.settings)[0]
        assert next(row for row in rows if row["id"] == "pm-core-db-01")["class"]

    def test_csv_relationships(self, client, api_env):
        r = client.get(
            EXPORT,
            params={"format": "csv", "what": "relationships"},
            headers=api_env.headers(Role.READER),
        )
        assert r.status_code == 200
        assert r.text.startswith("source,type,target")
        assert len(r.text.strip().splitlines()) - 1 == _counts(api_env.settings)[1]

    def test_graphml_holds_the_graph(self, client, api_env):
        r = client.get(EXPORT, params={"format": "graphml"}, headers=api_env.headers(Role.READER))
        assert r.status_code == 200 and r.headers["content-type"] == "application/graphml+xml"
        graph = nx.read_graphml(io.BytesIO(r.content), force_multigraph=True)
        cis, rels, _ = _counts(api_env.settings)
        assert (graph.number_of_nodes(), graph.number_of_edges()) == (cis, rels)

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"format": "yaml"}, "format"),
            ({"format": "csv", "what": "records"}, "what"),
        ],
    )
    def test_bad_options_name_the_field(self, client, api_env, params, field):
        r = client.get(EXPORT, params=params, headers=api_env.headers(Role.READER))
        assert r.status_code == 422 and r.json()["field"] == field

    def test_what_is_ignored_but_by_csv(self, client, api_env):
        reader = api_env.headers(Role.READER)
        plain = client.get(EXPORT, params={"format": "graphml"}, headers=reader)
        r = client.get(EXPORT, params={"format": "graphml", "what": "cis"}, headers=reader)
        assert r.status_code == 200 and r.text == plain.text

    def test_needs_a_key(self, client):
        assert client.get(EXPORT).status_code == 401


class TestImport:
    def test_three_cis_then_found_by_the_ci_routes(self, client, api_env):
        r = _post(client, api_env, json.dumps(THREE_CIS))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["dry_run"], body["created"], body["updated"]) == (False, 3, 0)
        assert body["batch_id"] > 0 and body["changes"] == []
        admin = api_env.headers(Role.ADMIN)
        found = client.get("/api/v1/cis", params={"q": "imp-"}, headers=admin).json()["items"]
        assert [c["id"] for c in found] == ["imp-0", "imp-1", "imp-2"]
        history = client.get(
            "/api/v1/history", params={"entity_id": "imp-0"}, headers=admin
        ).json()["items"]
        assert history[0]["actor"].startswith("api:test-admin")

    def test_csv_from_its_content_type_sets_only_its_columns(self, client, api_env):
        before = client.get("/api/v1/cis/pm-core-db-01", headers=api_env.headers(Role.ADMIN))
        text = "id,class,name\npm-core-db-01,physical_server,Renamed\nnew-1,physical_server,N\n"
        r = _post(client, api_env, text, media="text/csv")
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["updated"]) == (1, 1)
        after = client.get("/api/v1/cis/pm-core-db-01", headers=api_env.headers(Role.ADMIN))
        assert after.json()["name"] == "Renamed"
        assert after.json()["owner"] == before.json()["owner"] is not None

    def test_graphml(self, client, api_env):
        graph = nx.MultiDiGraph()
        graph.add_node("gx-1", **{"class": "physical_server", "name": "G1"})
        graph.add_node("gx-2", **{"class": "application", "name": "G2"})
        graph.add_edge("gx-2", "gx-1", type="runs_on")
        text = "\n".join(nx.generate_graphml(graph))
        r = _post(client, api_env, text, media="application/xml")
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 3
        store = open_store(api_env.settings)
        try:
            rels = store.find_relationships(RelFilter(ci="gx-1"))
        finally:
            store.close()
        assert [(r.source, r.type, r.target) for r in rels] == [("gx-2", "runs_on", "gx-1")]

    def test_dry_run_plans_and_writes_nothing(self, client, api_env):
        counts = _counts(api_env.settings)
        text = "id,class,name\npm-core-db-01,physical_server,Renamed\nnew-1,physical_server,N\n"
        r = _post(client, api_env, text, media="text/csv", dry_run="true")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["dry_run"], body["created"], body["updated"]) == (True, 1, 1)
        assert body["batch_id"] is None
        renamed = next(c for c in body["changes"] if c["id"] == "pm-core-db-01")
        assert renamed["fields"][0]["path"] == "name"
        assert renamed["fields"][0]["after"] == "Renamed"
        assert _counts(api_env.settings) == counts
        r = client.get("/api/v1/cis/new-1", headers=api_env.headers(Role.ADMIN))
        assert r.status_code == 404

    @pytest.mark.parametrize(
        ("content", "media", "where"),
        [
            ('{"cis": [\n  {"id": "x",\n  oops}\n]}', "application/json", "body:3"),
            ('{"cis": {}}', "application/json", "'cis' must be a list"),
            ("", "application/json", "body:1"),
            ("id,class,name\nok-1,physical_server,A\nbad,row\n", "text/csv", "body:3"),
            ("nope,header\n", "text/csv", "body:1"),
            ("<graphml>\n<graph>\n</grph>", "application/xml", "body:3"),
        ],
    )
    def test_unreadable_file_is_422_naming_the_line(self, client, api_env, content, media, where):
        counts = _counts(api_env.settings)
        r = _post(client, api_env, content, media=media)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert where in r.json()["detail"]
        assert _counts(api_env.settings) == counts

    def test_invalid_row_names_line_and_field_and_writes_nothing(self, client, api_env):
        counts = _counts(api_env.settings)
        text = "id,class,name\nok-1,physical_server,A\nok-2,no_such_class,B\n"
        for dry_run in ("true", "false"):
            r = _post(client, api_env, text, media="text/csv", dry_run=dry_run)
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "class" and "body:3" in r.json()["detail"]
        assert _counts(api_env.settings) == counts
        assert (
            client.get("/api/v1/cis/ok-1", headers=api_env.headers(Role.ADMIN)).status_code == 404
        )

    def test_bad_attribute_in_json_names_the_item(self, client, api_env):
        doc = {
            "cis": [
                {
                    "id": "j-1",
                    "class": "physical_server",
                    "name": "J",
                    "attributes": {"cpu_count": "many"},
                }
            ]
        }
        r = _post(client, api_env, json.dumps(doc))
        assert r.status_code == 422
        assert r.json()["field"] == "attributes.cpu_count" and "j-1" in r.json()["detail"]

    def test_not_utf8_is_422(self, client, api_env):
        r = _post(client, api_env, b"id,class,name\n\xff\xfe,x,y\n", media="text/csv")
        assert r.status_code == 422 and "body:2: not UTF-8" in r.json()["detail"]

    def test_bad_format_name_is_422(self, client, api_env):
        r = _post(client, api_env, json.dumps(THREE_CIS), format="yaml")
        assert r.status_code == 422 and r.json()["field"] == "format"

    def test_format_param_for_an_unspecific_media_type(self, client, api_env):
        text = "id,class,name\nf-1,physical_server,F\n"
        r = _post(client, api_env, text, format="csv", media="text/plain")
        assert r.status_code == 200 and r.json()["created"] == 1

    def test_format_param_disagreeing_with_the_media_type_is_415(self, client, api_env):
        counts = _counts(api_env.settings)
        r = _post(client, api_env, json.dumps(THREE_CIS), format="csv")
        assert r.status_code == 415 and "application/json" in r.json()["detail"]
        assert _counts(api_env.settings) == counts

    def test_unknown_media_type_without_format_is_415(self, client, api_env):
        r = _post(client, api_env, json.dumps(THREE_CIS), media="application/octet-stream")
        assert r.status_code == 415 and "format" in r.json()["detail"]

    @pytest.mark.parametrize("role", [Role.READER, Role.ANALYST, Role.CHANGE_MANAGER])
    def test_only_admin_imports(self, client, api_env, role):
        counts = _counts(api_env.settings)
        r = _post(client, api_env, json.dumps(THREE_CIS), role=role)
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        assert _counts(api_env.settings) == counts

    def test_body_over_the_limit_is_413(self, api_env):
        from api.app import create_app

        settings = api_env.settings.model_copy(update={"api_max_body_bytes": 2048})
        counts = _counts(settings)
        big = {"cis": [{**c, "description": "x" * 1000} for c in THREE_CIS["cis"]]}
        with TestClient(create_app(settings)) as small:
            r = _post(small, api_env, json.dumps(big))
            assert r.status_code == 413 and r.json()["status"] == 413
            ok = _post(small, api_env, json.dumps(THREE_CIS))
            assert ok.status_code == 200
        assert _counts(settings)[0] == counts[0] + 3

    def test_change_id_is_written_to_history(self, client, api_env):
        r = _post(client, api_env, json.dumps(THREE_CIS), change_id="CHG-000101")
        assert r.status_code == 200
        lines = client.get(
            "/api/v1/history",
            params={"change_id": "CHG-000101", "entity": "ci"},
            headers=api_env.headers(Role.READER),
        ).json()["items"]
        assert {line["entity_id"] for line in lines} >= {"imp-0", "imp-1", "imp-2"}
