"""Suppliers in impact answers, and ``supplier_report`` (contracts next to SLAs)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.demo import build_demo
from cmdb.errors import NotFoundError
from cmdb.filters import CIFilter
from cmdb.generator import generate_topology, pick_probes
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.topology import Topology
from cmdb.workflows.risk import assess_proposed
from impact.blast import blast_radius
from impact.propagation import AGREEMENT, CUSTOMER, SERVICE
from impact.report import blast_radius_report, depends_on_report
from impact.results import ContractRef, SupplierRef
from impact.root_cause import root_cause_report
from impact.suppliers import (
    SAMPLE,
    TargetsRef,
    _index,
    _targets,
    compare_targets,
    supplier_report,
    suppliers_of,
    suppliers_of_nodes,
)


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


# -- suppliers_of_nodes against a plain reference -------------------------------------------------


def _reference(store, topo: Topology, nodes, *, failing) -> tuple[SupplierRef, ...]:
    """The first (per-query, whole-snapshot) implementation of ``suppliers_of_nodes``, kept as
    the reference the snapshot-indexed one must match exactly."""
    order = np.concatenate([failing, nodes]).astype(np.int64, copy=False)
    if not order.size:
        return ()
    _, first = np.unique(order, return_index=True)
    order = order[np.sort(first)]
    rank = np.full(topo.n, topo.n, dtype=np.int64)
    rank[order] = np.arange(order.size)
    wanted = rank < topo.n
    is_failing = np.zeros(topo.n, dtype=bool)
    is_failing[np.asarray(failing, dtype=np.int64)] = True

    def edges(rel_type, src_mask):
        sel = np.isin(topo.rtype, topo.type_codes([rel_type])) & src_mask[topo.src]
        return topo.src[sel], topo.dst[sel]

    def grouped(src, dst):
        if not src.size:
            return {}
        o = np.lexsort((rank[src], dst))
        src, dst = src[o], dst[o]
        targets, starts, counts = np.unique(dst, return_index=True, return_counts=True)
        fail_at = np.flatnonzero(is_failing[src])
        out = {}
        for t, start, n in zip(targets.tolist(), starts.tolist(), counts.tolist(), strict=True):
            hit = fail_at[(fail_at >= start) & (fail_at < start + n)]
            sample = tuple(src[start : start + min(n, SAMPLE)].tolist())
            out[t] = (sample, n, tuple(src[hit].tolist()))
        return out

    supplies = grouped(*edges("supplied_by", wanted))
    covers = {}
    if "covered_by" in topo.rel_type_names:
        src, dst = edges("covered_by", wanted & ~topo.category_mask(SERVICE, CUSTOMER))
        keep = topo.category_mask(AGREEMENT)[dst]
        covers = grouped(src[keep], dst[keep])
    signed = dict.fromkeys(covers)
    if covers:
        uc_mask = np.zeros(topo.n, dtype=bool)
        uc_mask[list(covers)] = True
        src, dst = edges("supplied_by", uc_mask)
        for s, d in sorted(zip(src.tolist(), dst.tolist(), strict=True), reverse=True):
            signed[s] = d
    party_ids = {*supplies, *(d for d in signed.values() if d is not None)}
    read = tuple(sorted(topo.ids[i] for i in {*party_ids, *covers}))
    docs = {ci.id: ci for ci in store.find_cis(CIFilter(ids=read))} if read else {}

    def name(i):
        ci = docs.get(topo.ids[i])
        return ci.name if ci is not None else topo.ids[i]

    contracts: dict = {}
    for uc, (sample, _, _) in covers.items():
        doc = docs.get(topo.ids[uc])
        supplier = signed[uc]
        contracts.setdefault(supplier, []).append(
            ContractRef(
                id=topo.ids[uc],
                name=name(uc),
                supplier=None if supplier is None else topo.ids[supplier],
                covers=tuple(topo.ids[i] for i in sample),
                **(_targets(doc) if doc is not None else {}),
            )
        )
    held_failing: dict = {}
    for uc, (_, _, fails) in covers.items():
        held_failing.setdefault(signed[uc], []).extend(fails)
    out = []
    for sup in {*supplies, *contracts}:
        sample, total, fails = supplies.get(sup, ((), 0, ())) if sup is not None else ((), 0, ())
        held = sorted(contracts.get(sup, []), key=lambda c: c.id)
        fail = [*fails, *held_failing.get(sup, [])]
        doc = docs.get(topo.ids[sup]) if sup is not None else None
        contact = doc.attributes.get("contact") if doc is not None else None
        out.append(
            SupplierRef(
                id=None if sup is None else topo.ids[sup],
                name="(no supplier recorded)" if sup is None else name(sup),
                contact=contact if isinstance(contact, str) else None,
                failing=tuple(topo.ids[i] for i in dict.fromkeys(fail)),
                cis=tuple(topo.ids[i] for i in sample),
                total=total,
                contracts=tuple(held),
            )
        )
    return tuple(sorted(out, key=lambda s: (not s.failing, -s.total, s.id or "~")))


class _Docs:
    """A stand-in store that knows the CIs in ``docs`` (id -> name, attributes)."""

    def __init__(self, docs=None):
        self.docs = docs or {}

    def find_cis(self, flt: CIFilter):
        return [
            SimpleNamespace(id=i, name=self.docs[i][0], attributes=self.docs[i][1])
            for i in sorted(flt.ids)
            if i in self.docs
        ]


CLASSES = ("application", "business_service", "customer", "sla", "contract", "supplier")
CATEGORIES = ("", SERVICE, CUSTOMER, AGREEMENT, AGREEMENT, "")
TYPES = ("depends_on", "supplied_by", "covered_by")
ATTRS = st.fixed_dictionaries(
    {},
    optional={
        "contact": st.sampled_from(["desk@x", 7, None]),
        "availability_target": st.sampled_from([0.999, 99.95, "high", True]),
        "response_minutes": st.sampled_from([15, 240.0]),
        "resolution_hours": st.sampled_from([2, 24]),
    },
)


@st.composite
def supplied_topologies(draw):
    """A small snapshot with many ``supplied_by`` and ``covered_by`` edges (repeated edges,
    loops, several suppliers per contract, edges into the wrong class, sometimes no
    ``covered_by`` type at all), a store knowing some of its CIs, and a query on it."""
    n = draw(st.one_of(st.integers(1, 6), st.integers(1, 40)))  # small: many shared ends
    types = draw(st.sampled_from([TYPES, TYPES[::-1], TYPES[:2], ("supplied_by",), ("x",)]))
    node, kind = st.integers(0, n - 1), st.integers(0, len(types) - 1)
    edges = draw(st.lists(st.tuples(node, node, kind), max_size=150))
    few = st.integers(0, min(n, 3) - 1)  # a few CIs with many edges: contracts of several
    edges += draw(st.lists(st.tuples(few, node, kind), max_size=12))  # suppliers, shared ones
    topo = Topology.build(
        version=1,
        class_names=CLASSES,
        class_categories=CATEGORIES,
        rel_type_names=types,
        propagation=["to_source" if t == "depends_on" else "none" for t in types],
        ids=[f"c{i:02d}" for i in range(n)],
        class_code=draw(st.lists(st.integers(0, len(CLASSES) - 1), min_size=n, max_size=n)),
        is_group=[False] * n,
        min_required=[0] * n,
        src=[e[0] for e in edges],
        dst=[e[1] for e in edges],
        rtype=[e[2] for e in edges],
    )
    known = draw(st.dictionaries(node, st.tuples(st.sampled_from(["A", "B"]), ATTRS)))
    store = _Docs({topo.ids[i]: doc for i, doc in known.items()})
    nodes = draw(st.one_of(st.lists(node, unique=True), st.lists(node)))
    failing = draw(st.lists(node, max_size=4))
    failing += (
        draw(st.lists(st.sampled_from(failing + nodes), max_size=2)) if failing + nodes else []
    )
    return store, topo, np.asarray(nodes, np.int64), np.asarray(failing, np.int64)


class TestSuppliersOfNodes:
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(supplied_topologies())
    def test_matches_the_reference(self, case):
        store, topo, nodes, failing = case
        want = _reference(store, topo, nodes, failing=failing)
        assert suppliers_of_nodes(store, topo, nodes, failing=failing) == want
        # again, from the snapshot's cached index
        assert suppliers_of_nodes(store, topo, nodes, failing=failing) == want

    @pytest.mark.parametrize("seed", [0, 3])
    @pytest.mark.parametrize("probe", ["hub", "mid"])
    def test_generated_estate(self, seed, probe):
        topo = generate_topology(3_000, seed=seed)
        failed = topo.index(pick_probes(topo)[probe])
        nodes = blast_radius(topo, [topo.ids[failed]]).nodes
        failing = np.asarray([failed], np.int64)
        want = _reference(_Docs(), topo, nodes, failing=failing)
        assert sum(s.total for s in want) > SAMPLE  # suppliers with more CIs than the sample
        assert suppliers_of_nodes(_Docs(), topo, nodes, failing=failing) == want

    def test_demo_estate(self, tmp_path):
        store = open_store(Settings(db=tmp_path / "d.db"), create=True)
        try:
            store.apply(build_demo(now=datetime(2026, 1, 5, 9, tzinfo=UTC)), actor="demo")
            topo = store.topology()
            with_contracts = 0
            for ci in topo.ids[::7]:
                failing = np.asarray([topo.index(ci)], np.int64)
                nodes = blast_radius(topo, [ci]).nodes
                want = _reference(store, topo, nodes, failing=failing)
                assert suppliers_of_nodes(store, topo, nodes, failing=failing) == want
                with_contracts += any(s.contracts for s in want)
            assert with_contracts  # the demo's contracts are exercised
        finally:
            store.close()

    def test_a_contract_of_two_suppliers(self, supplied):
        supplied.apply(
            Batch(relationships=[Relationship(source="uc-hw", type="supplied_by", target="sw")]),
            actor="t",
        )
        topo = supplied.topology()
        nodes = np.asarray([topo.index(c) for c in ("app", "db", "srv")], np.int64)
        failing = nodes[2:]
        want = _reference(supplied, topo, nodes, failing=failing)
        signer = {c.id: c.supplier for s in want for c in s.contracts}["uc-hw"]
        assert signer == min(["hw", "sw"], key=topo.index)  # the first by node number
        assert suppliers_of_nodes(supplied, topo, nodes, failing=failing) == want

    def test_index_is_built_once_per_snapshot(self, supplied):
        topo = supplied.topology()
        assert _index(topo) is _index(topo)
