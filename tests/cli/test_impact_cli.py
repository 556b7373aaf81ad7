"""End-to-end CLI tests for `cmdb impact` on the demo CMDB."""

from __future__ import annotations

import json

import pytest

from cmdb.demo import HIDDEN_SPOF


@pytest.fixture
def demo(cmdb):
    cmdb("demo")
    return cmdb


def as_json(result):
    return json.loads(result.stdout)


class TestBlastRadius:
    def test_hidden_spof_takes_core_banking_down(self, demo):
        data = as_json(demo("impact", "blast-radius", HIDDEN_SPOF, "-f", "json"))
        states = {a["id"]: a["state"] for a in data["affected"]}
        assert states["svc-core-banking"] == "down"
        assert states["cl-core-rac"] == "down"
        assert "svc-core-banking" in data["services"] and "cust-br01" in data["customers"]
        assert {s["id"] for s in data["slas"]} >= {"sla-core-banking"}
        for a in data["affected"]:
            assert a["path"][0] == a["id"] and a["path"][-1] == HIDDEN_SPOF
        assert set(data) >= {"affected", "services", "customers"}

    def test_services_and_customers_are_sorted_rollup_is_worst_first(self, demo):
        data = as_json(demo("impact", "blast-radius", HIDDEN_SPOF, "-f", "json"))
        assert data["services"] == sorted(data["services"]) and len(data["services"]) > 1
        assert data["customers"] == sorted(data["customers"]) and len(data["customers"]) > 1
        rolled = [r["id"] for r in data["rollup"]]
        assert sorted(rolled) == sorted(data["services"] + data["customers"])
        order = {a["id"]: n for n, a in enumerate(data["affected"])}
        services = rolled[: len(data["services"])]
        assert services == sorted(services, key=order.__getitem__)

    def test_one_rac_node_only_degrades(self, demo):
        data = as_json(demo("impact", "blast-radius", "dbi-core-rac-1", "-f", "json"))
        states = {a["id"]: a["state"] for a in data["affected"]}
        assert states["cl-core-rac"] == "degraded"
        assert states["svc-core-banking"] == "at_risk"
        assert data["counts"]["down"] == 0

    def test_assume_down_exhausts_the_cluster(self, demo):
        data = as_json(
            demo(
                "impact",
                "blast-radius",
                "dbi-core-rac-1",
                "--assume-down",
                "dbi-core-rac-2",
                "-f",
                "json",
            )
        )
        states = {a["id"]: a["state"] for a in data["affected"]}
        assert states["cl-core-rac"] == "down" and states["svc-core-banking"] == "down"
        assert data["assume_down"] == ["dbi-core-rac-2"]

    def test_open_incidents_are_assumed_down(self, demo):
        # the demo has an open incident on RAC node host pm-core-db-01
        alone = as_json(demo("impact", "blast-radius", "pm-core-db-02", "-f", "json"))
        both = as_json(
            demo("impact", "blast-radius", "pm-core-db-02", "--open-incidents", "-f", "json")
        )
        assert "pm-core-db-01" in both["assume_down"]
        assert alone["counts"]["down"] < both["counts"]["down"]

    def test_table_and_limit(self, demo):
        out = demo("impact", "blast-radius", HIDDEN_SPOF, "--limit", "3").stdout
        assert "svc-core-banking" in out and "3 of" in out

    @pytest.mark.parametrize(("fmt", "head"), [("dot", "digraph"), ("mermaid", "flowchart")])
    def test_pictures(self, demo, fmt, head):
        out = demo("impact", "blast-radius", HIDDEN_SPOF, "-f", fmt).stdout
        assert out.lstrip().startswith(head) and "sw-dc-acc-05" in out

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["ghost"], "CI 'ghost' not found"),
            (
                [HIDDEN_SPOF, "--types", "depends_on,teleports"],
                "unknown relationship type 'teleports'",
            ),
            ([HIDDEN_SPOF, "--assume-down", "ghost"], "CI 'ghost' not found"),
        ],
    )
    def test_bad_input(self, demo, args, message):
        result = demo("impact", "blast-radius", *args, code=1)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


class TestOtherQueries:
    def test_depends_on(self, demo):
        data = as_json(demo("impact", "depends-on", "svc-core-banking", "-f", "json"))
        ids = {d["id"] for d in data["dependencies"]}
        assert {"app-core-banking", "db-core", HIDDEN_SPOF} <= ids
        assert "mermaid" not in demo("impact", "depends-on", "db-core", "-f", "mermaid").stderr

    def test_spof(self, demo):
        data = as_json(demo("impact", "spof", "svc-core-banking", "-f", "json"))
        ids = {s["id"] for s in data["single_points_of_failure"]}
        assert HIDDEN_SPOF in ids
        assert "dbi-core-rac-1" not in ids and "sw-core-01" not in ids

    def test_availability(self, demo):
        data = as_json(demo("impact", "availability", "svc-core-banking", "-f", "json"))
        assert 0 < data["availability"] < 1
        assert data["slas"][0]["id"] == "sla-core-banking"
        every = as_json(demo("impact", "availability", "-f", "json"))
        services = [d["service"] for d in every]
        # every CI of category service, technical ones included, by id
        assert set(services) >= {"svc-core-banking", "svc-email", "ts-identity"}
        assert services == sorted(services)

    def test_unknown_service(self, demo):
        demo("impact", "spof", "ghost", code=1)
        demo("impact", "availability", "ghost", code=1)
