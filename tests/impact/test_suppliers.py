"""Suppliers in impact answers, and ``supplier_report`` (contracts next to SLAs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.demo import build_demo
from cmdb.errors import NotFoundError
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.workflows.risk import assess_proposed
from impact.report import blast_radius_report, depends_on_report
from impact.root_cause import root_cause_report
from impact.suppliers import TargetsRef, compare_targets, supplier_report, suppliers_of


def supplied_estate() -> Batch:
    """svc (SLA 99.95 %, 15 min, 2 h) -> app -> db -> srv; srv is covered by a weak hardware
    contract, db by a strong support contract without a supplier, app by nothing."""
    cis = [
        CI(id="svc", ci_class="business_service", name="Payments"),
        CI(
            id="sla",
            ci_class="sla",
            name="Gold",
            attributes={
                "availability_target": 99.95,
                "response_minutes": 15,
                "resolution_hours": 2,
            },
        ),
        CI(id="app", ci_class="application", name="App"),
        CI(id="db", ci_class="database", name="DB", attributes={"engine": "oracle"}),
        CI(id="srv", ci_class="physical_server", name="Server"),
        CI(id="other", ci_class="physical_server", name="Unrelated"),
        CI(id="hw", ci_class="supplier", name="HW Co", attributes={"contact": "hw@x"}),
        CI(id="sw", ci_class="supplier", name="SW Co"),
        CI(
            id="uc-hw",
            ci_class="underpinning_contract",
            name="NBD",
            attributes={"response_minutes": 240, "resolution_hours": 24},
        ),
        CI(
            id="uc-db",
            ci_class="underpinning_contract",
            name="Premium",
            attributes={"availability_target": 0.9999, "response_minutes": 15},
        ),
        CI(id="uc-x", ci_class="underpinning_contract", name="Empty"),
    ]
    rels = [
        ("app", "provides", "svc"),
        ("svc", "covered_by", "sla"),
        ("app", "depends_on", "db"),
        ("db", "runs_on", "srv"),
        ("srv", "supplied_by", "hw"),
        ("other", "supplied_by", "hw"),
        ("db", "supplied_by", "sw"),
        ("app", "supplied_by", "sw"),
        ("srv", "covered_by", "uc-hw"),
        ("uc-hw", "supplied_by", "hw"),
        ("db", "covered_by", "uc-db"),
        ("app", "covered_by", "uc-x"),
    ]
    return Batch(
        cis=cis, relationships=[Relationship(source=s, type=t, target=d) for s, t, d in rels]
    )


@pytest.fixture
def supplied(store):
    store.apply(supplied_estate(), actor="test")
    return store


class TestCompareTargets:
    @pytest.mark.parametrize(
        ("uc", "weaker", "gaps"),
        [
            ({"availability_target": 0.999}, True, ("availability 99.9% < 99.95%",)),
            ({"availability_target": 0.9999}, False, ()),
            ({"response_minutes": 30}, True, ("response 30 min > 15 min",)),
            ({"response_minutes": 15, "resolution_hours": 2}, False, ()),
            ({"resolution_hours": 4}, True, ("resolution 4 h > 2 h",)),
            ({}, None, ()),
        ],
    )
    def test_each_target(self, uc, weaker, gaps):
        sla = TargetsRef(
            id="s", name="s", availability_target=0.9995, response_minutes=15, resolution_hours=2
        )
        assert compare_targets(TargetsRef(id="u", name="u", **uc), sla) == (weaker, gaps)


class TestSuppliersOf:
    def test_failing_first_with_contracts(self, supplied):
        topo = supplied.topology()
        found = suppliers_of(supplied, topo, ["app", "db"], failing=["srv"])
        assert [s.id for s in found] == ["hw", "sw", None]
        hw = found[0]
        assert (hw.contact, hw.failing, hw.cis, hw.total) == ("hw@x", ("srv",), ("srv",), 1)
        assert [(c.id, c.resolution_hours, c.covers) for c in hw.contracts] == [
            ("uc-hw", 24.0, ("srv",))
        ]
        unsigned = found[2]
        assert unsigned.name == "(no supplier recorded)"
        assert [c.id for c in unsigned.contracts] == ["uc-db", "uc-x"]
        assert found[1].cis == ("app", "db") and found[1].contact is None

    def test_nothing_supplied(self, supplied):
        assert suppliers_of(supplied, supplied.topology(), ["svc"]) == ()
        assert suppliers_of(supplied, supplied.topology(), ["ghost"]) == ()


class TestSupplierReport:
    def test_contracts_next_to_the_sla(self, supplied):
        r = supplier_report(supplied, "svc")
        assert [s.id for s in r.slas] == ["sla"] and r.slas[0].availability_target == 0.9995
        verdicts = {c.contract: (c.weaker, c.gaps) for c in r.contracts}
        assert verdicts == {
            "uc-hw": (True, ("response 240 min > 15 min", "resolution 24 h > 2 h")),
            "uc-db": (False, ()),
            "uc-x": (None, ()),
        }
        assert r.weaker == 1 and r.contracts[0].contract == "uc-hw"
        assert {s.id for s in r.suppliers} == {"hw", "sw", None}
        assert "other" not in {ci for s in r.suppliers for ci in s.cis}

    def test_a_service_without_sla(self, supplied):
        supplied.apply(
            Batch(
                cis=[CI(id="svc2", ci_class="business_service", name="No SLA")],
                relationships=[Relationship(source="svc2", type="depends_on", target="srv")],
            ),
            actor="t",
        )
        r = supplier_report(supplied, "svc2")
        assert r.slas == () and [(c.contract, c.sla, c.weaker) for c in r.contracts] == [
            ("uc-hw", None, None)
        ]

    def test_unknown_service(self, supplied):
        with pytest.raises(NotFoundError, match="ghost"):
            supplier_report(supplied, "ghost")


class TestEveryAnswerNamesSuppliers:
    def test_blast_radius(self, supplied):
        r = blast_radius_report(supplied, ["srv"])
        assert r.suppliers[0].id == "hw" and r.suppliers[0].failing == ("srv",)
        assert "sw" in [s.id for s in r.suppliers]

    def test_depends_on(self, supplied):
        r = depends_on_report(supplied, "app")
        assert {s.id for s in r.suppliers} == {"hw", "sw", None}
        assert all(s.failing == () for s in r.suppliers)

    def test_change_assessment(self, supplied):
        a = assess_proposed(
            supplied,
            ci_ids=["srv"],
            change_type="normal",
            window_start=datetime(2026, 1, 10, 1, tzinfo=UTC),
            window_end=datetime(2026, 1, 10, 2, tzinfo=UTC),
        )
        assert a.suppliers[0].id == "hw" and a.suppliers[0].contracts[0].id == "uc-hw"

    def test_root_cause(self, supplied):
        r = root_cause_report(supplied, ci_ids=["app", "db"])
        assert r.suppliers and {s.id for s in r.suppliers} >= {"sw"}
        suspects = {s.id for s in r.suppliers if s.failing}
        assert suspects  # the suppliers of the suspected CIs come first
        assert r.suppliers[0].failing


class TestDemoContracts:
    def test_one_weaker_one_fine(self, tmp_path):
        store = open_store(Settings(db=tmp_path / "d.db"), create=True)
        try:
            store.apply(build_demo(now=datetime(2026, 1, 5, 9, tzinfo=UTC)), actor="demo")
            r = supplier_report(store, "svc-core-banking")
        finally:
            store.close()
        verdict = {c.contract: c.weaker for c in r.contracts}
        assert verdict["uc-cisco-smartnet"] is True and verdict["uc-telecom-mpls"] is False
        cisco = next(s for s in r.suppliers if s.id == "sup-cisco")
        assert "sw-dc-acc-05" in cisco.cis and cisco.contact == "tac@cisco.example"
