"""The routes the web console needs: GET /search, GET /ci-pages/{id} and GET /impact/graph,
on the demo store: answers, 404s, 422s naming the parameter, and 401 without a key."""

from __future__ import annotations

import pytest

from cmdb.enums import Role

SEARCH = "/api/v1/search"
PAGE = "/api/v1/ci-pages"
GRAPH = "/api/v1/impact/graph"


@pytest.fixture
def get(client, api_env):
    """GET as a reader: the role the console's every read needs."""

    def call(path: str, **params):
        return client.get(path, params=params, headers=api_env.headers(Role.READER))

    return call


class TestSearch:
    def test_id_and_name(self, get):
        r = get(SEARCH, q="RAC", limit=5)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total_shown"] == len(body["items"]) == 5
        first = body["items"][0]
        assert first == {
            "id": "cl-core-rac",
            "name": "Core banking Oracle RAC (CBSDB)",
            "class": "cluster",
            "status": "live",
            "match": "id",
            "identifier": None,
        }
        assert {i["match"] for i in body["items"]} <= {"id", "name"}

    def test_identifier(self, get):
        r = get(SEARCH, q="10.10.0.24")
        assert r.status_code == 200, r.text
        (hit,) = [i for i in r.json()["items"] if i["match"] == "identifier"]
        assert (hit["id"], hit["identifier"]) == ("fw-dmz-01", "10.10.0.24")

    def test_class_label(self, get):
        items = get(SEARCH, q="database instance", limit=3).json()["items"]
        assert items and all(i["class"] == "database_instance" for i in items)
        assert all(i["match"] == "class" for i in items)

    def test_live_first(self, client, api_env, get):
        admin = api_env.headers(Role.ADMIN)
        etag = client.get("/api/v1/cis/dbi-core-rac-1", headers=admin).headers["etag"]
        r = client.patch(
            "/api/v1/cis/dbi-core-rac-1",
            json={"status": "maintenance"},
            headers={**admin, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        items = get(SEARCH, q="dbi-core-rac").json()["items"]
        assert [(i["id"], i["status"]) for i in items] == [
            ("dbi-core-rac-2", "live"),
            ("dbi-core-rac-1", "maintenance"),
        ]

    def test_nothing_found(self, get):
        assert get(SEARCH, q="no-such-thing-anywhere").json() == {"items": [], "total_shown": 0}

    @pytest.mark.parametrize(
        ("params", "field"),
        [({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "a", "limit": 0}, "limit")],
    )
    def test_bad_params(self, get, params, field):
        r = get(SEARCH, **params)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field

    def test_needs_a_key(self, client):
        assert client.get(SEARCH, params={"q": "rac"}).status_code == 401


class TestCIPage:
    def test_page(self, get):
        r = get(f"{PAGE}/cl-core-rac")
        assert r.status_code == 200, r.text
        assert r.headers["etag"]
        page = r.json()
        assert page["id"] == "cl-core-rac" and page["class"] == "cluster"
        counts = {(c["type"], c["direction"]): c["count"] for c in page["relationship_counts"]}
        assert counts[("member_of", "in")] == 2
        assert page["relationships_total"] == sum(counts.values())
        assert len(page["relationships"]) == sum(min(5, n) for n in counts.values())
        assert isinstance(page["missing_recommended"], list)

    def test_open_records(self, get):
        page = get(f"{PAGE}/dbi-core-rac-1").json()
        assert any(rec["kind"] == "incident" for rec in page["open_records"])

    @pytest.mark.parametrize("per_type", [None, 1, 3, 100])
    def test_a_hub_lists_the_first_of_each_type_and_direction(self, get, per_type):
        params = {} if per_type is None else {"per_type": per_type}
        page = get(f"{PAGE}/app-ad", **params).json()
        k = per_type or 5
        counts = {(c["type"], c["direction"]): c["count"] for c in page["relationship_counts"]}
        assert len(counts) > 1 and max(counts.values()) > 5  # a hub, of several types
        listed: dict[tuple[str, str], list[str]] = {}
        for r in page["relationships"]:
            group = (r["type"], "out" if r["source"] == "app-ad" else "in")
            listed.setdefault(group, []).append(r["target"] if group[1] == "out" else r["source"])
        assert {g: len(ends) for g, ends in listed.items()} == {
            g: min(k, n) for g, n in counts.items()
        }
        assert all(ends == sorted(ends) for ends in listed.values())
        keys = [(r["source"], r["type"], r["target"]) for r in page["relationships"]]
        assert keys == sorted(keys)

    def test_per_type_and_at_together(self, get):
        r = get(f"{PAGE}/app-ad", per_type=1, at="2100-01-01T00:00:00Z")
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["relationships"]) == len(page["relationship_counts"])

    @pytest.mark.parametrize("per_type", ["0", "101", "five"])
    def test_bad_per_type(self, get, per_type):
        r = get(f"{PAGE}/cl-core-rac", per_type=per_type)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "per_type"

    def test_as_of(self, get):
        assert get(f"{PAGE}/cl-core-rac", at="2000-01-01T00:00:00Z").status_code == 404

    def test_unknown_ci(self, get):
        r = get(f"{PAGE}/no/such-ci")
        assert r.status_code == 404
        assert "no/such-ci" in r.json()["detail"]

    def test_bad_time(self, get):
        r = get(f"{PAGE}/cl-core-rac", at="yesterday")
        assert r.status_code == 422 and r.json()["field"] == "at"

    def test_needs_a_key(self, client):
        assert client.get(f"{PAGE}/cl-core-rac").status_code == 401


class TestImpactGraph:
    def test_blast(self, get):
        r = get(GRAPH, ci="sw-dc-acc-05")
        assert r.status_code == 200, r.text
        g = r.json()
        report = get("/api/v1/impact/blast-radius", ci="sw-dc-acc-05").json()
        states = {n["id"]: n["state"] for n in g["nodes"] if n["state"] != "failed"}
        assert states == {a["id"]: a["state"] for a in report["affected"]}
        assert g["counts"] == report["counts"] and g["omitted"] == 0
        assert g["mode"] == "blast" and g["roots"] == ["sw-dc-acc-05"]
        ids = {n["id"] for n in g["nodes"]}
        assert all(e["from"] in ids and e["to"] in ids for e in g["edges"])
        assert g["layers"][0] == {"layer": 0, "category": "customer", "label": "Customers"}

    def test_rac_member(self, get):
        g = get(GRAPH, ci="dbi-core-rac-1").json()
        nodes = {n["id"]: n for n in g["nodes"]}
        assert nodes["dbi-core-rac-1"]["parent"] == "cl-core-rac"
        assert nodes["cl-core-rac"]["group"] == {"k": 1, "n": 2, "out": 1}

    def test_options(self, get):
        r = get(
            GRAPH,
            ci="dbi-core-rac-1",
            assume_down="dbi-core-rac-2",
            depth=6,
            types="runs_on,uses,provides,consumes",
            max_nodes=1,
        )
        assert r.status_code == 200, r.text
        g = r.json()
        assert g["assume_down"] == ["dbi-core-rac-2"] and g["omitted"] > 0
        drawn = {n["id"]: n for n in g["nodes"]}
        assert drawn["dbi-core-rac-2"]["state"] == "assumed_down"
        others = [n for n in g["nodes"] if n["state"] not in ("failed", "assumed_down")]
        assert {n["rollup"] for n in others} == {"service", "customer"}

    def test_open_incidents(self, get):
        """pm-core-db-01 has an open incident: dbi-core-rac-1 runs on it, so it is already out
        and its failure makes nothing worse; the assumed-down server is drawn to say why."""
        g = get(GRAPH, ci="dbi-core-rac-1", open_incidents="true").json()
        assert "pm-core-db-01" in g["assume_down"]
        states = {n["id"]: n["state"] for n in g["nodes"]}
        assert states == {"dbi-core-rac-1": "failed", "pm-core-db-01": "assumed_down"}

    def test_depends(self, get):
        g = get(GRAPH, ci="svc-core-banking", mode="depends").json()
        report = get("/api/v1/impact/depends-on", ci="svc-core-banking").json()
        assert g["counts"] == {"total": report["total"]}
        assert g["nodes"][0]["state"] == "root"
        assert {n["id"] for n in g["nodes"][1:]} == {d["id"] for d in report["dependencies"]}

    def test_as_of(self, get):
        assert get(GRAPH, ci="sw-dc-acc-05", at="2000-01-01T00:00:00Z").status_code == 404

    @pytest.mark.parametrize(
        "params", [{"ci": "no-such-ci"}, {"ci": "sw-dc-acc-05", "assume_down": "no-such-ci"}]
    )
    def test_unknown_ci(self, get, params):
        r = get(GRAPH, **params)
        assert r.status_code == 404 and "no-such-ci" in r.json()["detail"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({}, "ci"),
            ({"ci": "sw-dc-acc-05", "types": "bogus"}, "types"),
            ({"ci": "sw-dc-acc-05", "mode": "sideways"}, "mode"),
            ({"ci": "sw-dc-acc-05", "max_nodes": 0}, "max_nodes"),
            ({"ci": "sw-dc-acc-05", "max_nodes": 100001}, "max_nodes"),
            ({"ci": "sw-dc-acc-05", "depth": -1}, "depth"),
        ],
    )
    def test_bad_params(self, get, params, field):
        r = get(GRAPH, **params)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field

    def test_needs_a_key(self, client):
        assert client.get(GRAPH, params={"ci": "sw-dc-acc-05"}).status_code == 401
