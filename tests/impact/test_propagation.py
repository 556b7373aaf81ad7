"""The prepared snapshot: services, customers and SLAs come from registry categories carried in
the snapshot, so a user-defined service class rolls up like a built-in one."""

from __future__ import annotations

import pytest

from cmdb.model import CI, Batch, Relationship
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store
from impact import blast_radius
from impact.priority import incident_impact
from impact.propagation import AGREEMENT, CUSTOMER, SERVICE, indices, neighbours, prepare
from impact.report import availability_reports, blast_radius_report
from tests.impact.reference import build

EXTRA = """\
categories:
  channel: {label: "Sales channels"}
classes:
  retail_channel: {category: service, label: Retail channel}
  franchisee: {category: customer, label: Franchisee}
  ola: {category: agreement, label: Operational level agreement}
  kiosk_fleet: {category: channel, label: Kiosks (not a service)}
"""


@pytest.fixture
def custom(tmp_path):
    """A store whose registry adds a service, a customer and an agreement class of its own."""
    path = tmp_path / "extra.yaml"
    path.write_text(EXTRA)
    store = open_store(
        Settings(db=tmp_path / "custom.db"), registry=load_registry(path), create=True
    )
    store.apply(
        Batch(
            cis=[
                CI(id="app", ci_class="application", name="Till app"),
                CI(id="channel", ci_class="retail_channel", name="Shops", criticality="critical"),
                CI(id="fr-1", ci_class="franchisee", name="Franchisee 1"),
                CI(id="kiosks", ci_class="kiosk_fleet", name="Kiosks"),
                CI(
                    id="ola-1",
                    ci_class="ola",
                    name="Till OLA",
                    attributes={"availability_target": 0.99},
                ),
            ],
            relationships=[
                Relationship(source="app", type="provides", target="channel"),
                Relationship(source="fr-1", type="consumes", target="channel"),
                Relationship(source="kiosks", type="depends_on", target="app"),
                Relationship(source="channel", type="covered_by", target="ola-1"),
            ],
        ),
        actor="test",
    )
    yield store
    store.close()


class TestCategories:
    def test_builtin_registry(self):
        reg = load_registry()
        assert {reg.classes[c].category for c in ("business_service", "technical_service")} == {
            SERVICE
        }
        assert reg.classes["customer"].category == CUSTOMER
        assert reg.classes["sla"].category == AGREEMENT
        assert {c for c, spec in reg.classes.items() if spec.category == "party"} >= {
            "support_group",
            "supplier",
        }

    def test_snapshot_carries_them(self, custom):
        topo = custom.topology()
        p = prepare(topo)
        assert [topo.ids[i] for i in p.service_mask.nonzero()[0]] == ["channel"]
        assert [topo.ids[i] for i in p.customer_mask.nonzero()[0]] == ["fr-1"]

    def test_user_defined_service_rolls_up(self, custom):
        br = blast_radius(custom.topology(), ["app"])
        assert (br.services(), br.customers()) == (("channel",), ("fr-1",))
        assert br.counts()["services"] == 1 and br.counts()["customers"] == 1
        assert [(r.id, r.ci_class) for r in br.rollup()] == [
            ("channel", "retail_channel"),
            ("fr-1", "franchisee"),
        ]

    def test_report_finds_its_agreement(self, custom):
        report = blast_radius_report(custom, ["app"])
        assert [(s.id, s.covers) for s in report.slas] == [("ola-1", ("channel",))]
        assert [r.service for r in availability_reports(custom)] == ["channel"]

    def test_incident_priority_counts_it(self, custom):
        impact = incident_impact(custom.topology(), ["app"])
        assert [(h.id, h.criticality) for h in impact.services] == [("channel", "critical")]
        assert impact.level == "high"

    def test_snapshot_without_categories_has_no_services(self):
        topo = build(
            {"svc": ("business_service", 0), "app": ("application", 0)},
            [("app", "provides", "svc")],
        )
        bare = type(topo).build(
            version=1,
            class_names=topo.class_names,
            rel_type_names=topo.rel_type_names,
            propagation=[p.value for p in topo.propagation],
            ids=topo.ids,
            class_code=topo.class_code,
            is_group=topo.is_group,
            min_required=topo.min_required,
            src=topo.src,
            dst=topo.dst,
            rtype=topo.rtype,
        )
        assert blast_radius(topo, ["app"]).services() == ("svc",)
        assert blast_radius(bare, ["app"]).services() == ()


class TestNeighbours:
    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            (["c"], ["b"]),
            (["c", "b"], ["b", "a"]),
            (["a"], []),
            ([], []),
        ],
    )
    def test_concatenated_in_row_order(self, rows, expected):
        topo = build(
            {"a": ("application", 0), "b": ("application", 0), "c": ("database", 0)},
            [("a", "depends_on", "b"), ("b", "depends_on", "c")],
        )
        got = neighbours(prepare(topo).dependents, indices(topo, rows))
        assert [topo.ids[i] for i in got.tolist()] == expected
