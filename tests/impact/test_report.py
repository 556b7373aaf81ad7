"""Store-taking reports: typed results, their JSON shapes, SLA look-ups and errors, on a vector
loaded into a store."""

from __future__ import annotations

import pytest

from cmdb.errors import NotFoundError, UnknownRelTypeError
from cmdb.model import CI, Batch, Relationship
from impact.report import (
    availability_report,
    availability_reports,
    blast_radius_report,
    depends_on_report,
    spof_report,
)
from impact.results import BlastRadiusReport
from tests.impact.reference import VECTORS, load_vector, vector_store

SLAS = Batch(
    cis=[
        CI(id="sla-gold", ci_class="sla", name="Gold", attributes={"availability_target": 99.9}),
        CI(
            id="sla-branch", ci_class="sla", name="Branch", attributes={"availability_target": 0.99}
        ),
    ],
    relationships=[
        Relationship(source="core-banking", type="covered_by", target="sla-gold"),
        Relationship(source="branch-east", type="covered_by", target="sla-branch"),
    ],
)


@pytest.fixture
def store(tmp_path):
    s = vector_store(tmp_path, load_vector(VECTORS / "03-redundancy-degraded.json"))
    s.apply(SLAS, actor="test")
    yield s
    s.close()


class TestBlastRadiusReport:
    def test_typed_and_frozen(self, store):
        report = blast_radius_report(store, ["cb-db-1"])
        assert isinstance(report, BlastRadiusReport)
        assert report.services == ("core-banking",) and report.counts.total == 4
        assert report.rollup[0].ci_class == "business_service"
        with pytest.raises(ValueError, match="frozen"):
            report.store_version = 0  # type: ignore[misc]
        assert BlastRadiusReport.model_validate(report.to_json()) == report

    def test_shape(self, store):
        out = blast_radius_report(store, ["cb-db-1"]).to_json()
        assert set(out) == {
            "failed",
            "assume_down",
            "affected",
            "services",
            "customers",
            "counts",
            "store_version",
            "stale",
            "slas",
            "rollup",
            "planned",
            "suppliers",
        }
        assert set(out["counts"]) == {
            "down",
            "degraded",
            "at_risk",
            "total",
            "services",
            "customers",
            "stale",
        }
        assert set(out["affected"][0]) == {"id", "class", "state", "path", "last_seen", "stale"}
        assert out["services"] == ["core-banking"] and out["customers"] == ["branch-east"]
        assert [(r["id"], r["class"]) for r in out["rollup"]] == [
            ("core-banking", "business_service"),
            ("branch-east", "customer"),
        ]
        assert out["slas"] == [
            {
                "id": "sla-branch",
                "name": "Branch",
                "availability_target": 0.99,
                "covers": ["branch-east"],
            },
            {
                "id": "sla-gold",
                "name": "Gold",
                "availability_target": pytest.approx(0.999),
                "covers": ["core-banking"],
            },
        ]
        assert out["stale"] == [] and out["store_version"] == store.version()

    @pytest.mark.parametrize(
        ("kwargs", "total"),
        [
            ({}, 4),
            ({"depth": 1}, 1),
            ({"assume_down": ["cb-db-2"]}, 4),
            ({"limit": 2}, 4),
        ],
    )
    def test_options(self, store, kwargs, total):
        out = blast_radius_report(store, ["cb-db-1"], **kwargs).to_json()
        assert out["counts"]["total"] == total
        assert len(out["affected"]) == min(total, kwargs.get("limit", total))

    def test_unknown_type(self, store):
        with pytest.raises(UnknownRelTypeError, match="'hosts_on'"):
            blast_radius_report(store, ["cb-db-1"], types=["hosts_on"])

    def test_unknown_ci(self, store):
        with pytest.raises(NotFoundError, match="CI 'x' not found"):
            blast_radius_report(store, ["x"])


class TestDependsOnReport:
    def test_shape(self, store):
        out = depends_on_report(store, "cb-app", depth=1).to_json()
        assert out["dependencies"] == [
            {"id": "cb-db-cluster", "class": "cluster", "path": ["cb-app", "cb-db-cluster"]}
        ]
        assert out["total"] == 1 and out["ci"] == "cb-app"


class TestSpofReport:
    def test_shape(self, store):
        out = spof_report(store, "core-banking").to_json()
        assert [s["id"] for s in out["single_points_of_failure"]] == ["cb-app", "cb-db-cluster"]
        assert out["single_points_of_failure"][0]["path"] == ["core-banking", "cb-app"]


class TestAvailabilityReport:
    @pytest.mark.parametrize(("service", "meets"), [("core-banking", False), ("branch-east", True)])
    def test_against_slas(self, store, service, meets):
        out = availability_report(store, service).to_json()
        # application 0.999 in series with 1-of-2 databases at 0.9995 each
        assert out["availability"] == pytest.approx(0.999 * (1 - 0.0005**2))
        assert out["meets_slas"] is meets
        assert all(s["meets"] is meets for s in out["slas"])

    def test_no_sla(self, store):
        assert availability_report(store, "cb-app").meets_slas is None

    def test_every_service_by_category(self, store):
        # the vector's only service; customers, applications and SLAs are not services
        assert [r.service for r in availability_reports(store)] == ["core-banking"]
