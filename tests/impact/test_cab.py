"""The answers a change advisory board and an incident manager get from the demo (issue 19):
each test here failed on the code before it (see /work/coord/cab-report.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.demo import build_demo
from cmdb.enums import ImpactState
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.topology import Topology
from cmdb.workflows.incidents import open_incident
from cmdb.workflows.risk import assess_change, assess_proposed
from impact.blast import blast_radius
from impact.report import blast_radius_report

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def _demo(path):
    store = open_store(Settings(db=path), create=True)
    store.apply(build_demo(now=NOW), actor="demo")
    return store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, read only."""
    store = _demo(tmp_path_factory.mktemp("cab") / "demo.db")
    yield store
    store.close()


@pytest.fixture
def fresh(tmp_path):
    """The demo, for tests that write."""
    store = _demo(tmp_path / "demo.db")
    yield store
    store.close()


def _states(rows) -> dict[str, str]:
    return {r.id: r.state.value for r in rows}


class TestFullImpact:
    """1. Services already at risk stay in the impact, next to what is made worse."""

    def test_core_switch_change_shows_core_banking_and_the_redundancy_left(self, demo):
        result = assess_change(demo, "CHG-000101", now=NOW)
        assert "svc-core-banking" in result.services
        assert result.impact is not None
        assert _states(result.impact.services)["svc-core-banking"] == "at_risk"
        # not made worse: INC-000001 already has RAC instance 1 out
        assert "svc-core-banking" not in {r.id for r in result.impact.made_worse}
        already = {a.record: {s.id for s in a.services} for a in result.impact.already_affected}
        assert "svc-core-banking" in already["INC-000001"]
        left = {x.id for x in result.impact.single_points}
        assert {"sw-core-02", "pm-core-db-02"} <= left
        assert "sw-core-01" not in left  # the changed CI is out, not a single point

    def test_losing_a_second_layer_of_redundancy_is_not_low(self, demo):
        result = assess_proposed(
            demo,
            ci_ids=["fw-dmz-01"],
            change_type="normal",
            window_start=datetime(2026, 1, 10, 1, tzinfo=UTC),
            window_end=datetime(2026, 1, 10, 3, tzinfo=UTC),
            now=NOW,
        )
        assert "svc-online-banking" in result.services
        assert result.level != "low" and result.cab_required
        assert "fw-dmz-02" in {x.id for x in result.impact.single_points}
        assert "fw-dmz-02" in result.headline  # the last firewall, named first


class TestIncidentPriorityIsOrderFree:
    """2. An incident's impact does not depend on what was opened before it."""

    def test_db_core_is_p1_after_another_p1(self, fresh):
        first = open_incident(
            fresh, ci_ids=["db-core"], urgency="high", title="CBSDB down", actor="t", now=NOW
        )
        assert first.priority == 1
        other = open_incident(
            fresh, ci_ids=["pm-core-db-02"], urgency="high", title="RAC node 2", actor="t", now=NOW
        )
        assert other.priority == 1
        again = open_incident(
            fresh, ci_ids=["db-core"], urgency="high", title="CBSDB again", actor="t", now=NOW
        )
        assert again.priority == 1 and again.impact.level == "high"
        assert {h.id for h in again.impact.services} >= {"svc-core-banking"}
        named = {a.record for a in again.impact.already_affected}
        assert {first.incident.id, other.incident.id} <= named
        assert any(first.incident.id in r for r in again.impact.reasons)


class TestBranches:
    """3. A branch's end-user devices are what its customer consumes."""

    @pytest.mark.parametrize("ci", ["rt-br05", "sw-br05-acc-01"])
    def test_a_branch_offline_is_not_low(self, fresh, ci):
        opened = open_incident(
            fresh, ci_ids=[ci], urgency="high", title="branch 5 offline", actor="t", now=NOW
        )
        customers = {h.id: h.state for h in opened.impact.customers}
        assert customers["cust-br05"] == "down"
        assert opened.impact.level == "medium" and opened.priority == 2
        assert {h.id: h.state for h in opened.impact.services}["svc-desktop"] == "degraded"

    def test_one_desktop_degrades_the_branch_the_switch_takes_it_down(self, demo):
        topo = demo.topology()
        one = blast_radius(topo, ["pc-br05-001"])
        assert one.state("grp-br05-desktops") is ImpactState.DEGRADED
        assert one.state("cust-br05") is ImpactState.AT_RISK
        switch = blast_radius(topo, ["sw-br05-acc-01"])
        assert switch.state("grp-br05-desktops") is ImpactState.DOWN
        assert switch.state("cust-br05") is ImpactState.DOWN
        assert switch.state("svc-desktop") is ImpactState.DEGRADED


class TestSoftPropagation:
    """4. A desktop is not down when an application it accesses fails."""

    def test_teller_pcs_are_degraded_not_down(self, demo):
        br = blast_radius(demo.topology(), ["sw-dc-acc-05"])
        desktops = [a for a in br.affected() if a.ci_class == "desktop"]
        assert desktops and all(a.state is ImpactState.DEGRADED for a in desktops)
        assert br.state("svc-core-banking") is ImpactState.DOWN
        assert br.state("cust-br01") is ImpactState.DOWN  # the branch's service is down
        path = br.path("pc-br01-001")
        assert path[:2] == ("pc-br01-001", "app-teller")

    def _topo(self) -> Topology:
        # pc accesses app (soft); app depends_on db; user-of-pc depends_on pc (hard)
        return Topology.build(
            version=1,
            class_names=("desktop", "application", "database", "customer"),
            class_categories=("enduser", "software", "data", "customer"),
            rel_type_names=("depends_on", "accesses"),
            propagation=("to_source", "soft"),
            ids=["pc", "app", "db", "cust"],
            class_code=[0, 1, 2, 3],
            is_group=[False] * 4,
            min_required=[0] * 4,
            src=[0, 1, 3],
            dst=[1, 2, 0],
            rtype=[1, 0, 0],
        )

    @pytest.mark.parametrize(
        ("failed", "types", "expected"),
        [
            (["db"], None, {"app": "down", "pc": "degraded", "cust": "at_risk"}),
            (["app"], None, {"pc": "degraded", "cust": "at_risk"}),
            (["pc"], None, {"cust": "down"}),
            (["db"], ["depends_on"], {"app": "down"}),
        ],
    )
    def test_soft_edges(self, failed, types, expected):
        br = blast_radius(self._topo(), failed, types=types)
        assert {a.id: a.state.value for a in br.affected()} == expected

    def test_assumed_down_counts_for_soft_edges(self):
        br = blast_radius(self._topo(), ["db"], assume_down=["app"])
        assert len(br) == 0  # pc is degraded by app already: the db makes nothing worse

    def test_registry_declares_each_built_in_type(self, demo):
        reg = demo.registry
        assert reg.rel_type("depends_on").propagation.value == "to_source"
        assert reg.rel_type("accesses").propagation.value == "soft"
        assert reg.rel_type("delivered_through").propagation.value == "soft"


class TestPlanned:
    """5. Planned CIs are never affected; they are listed apart."""

    def test_planned_branch_is_not_a_customer_down(self, demo):
        report = blast_radius_report(demo, ["sw-dc-acc-05"])
        assert "cust-br09" not in report.customers
        assert "cust-br09" in report.planned
        assert all(a.id != "cust-br09" for a in report.affected)

    def test_change_assessment_lists_planned_apart(self, demo):
        result = assess_change(demo, "CHG-000101", now=NOW)
        assert "cust-br09" not in result.customers
        assert "cust-br09" in result.impact.planned
        for c in result.collisions:
            assert "cust-br09" not in c.customers


class TestChangedCIsCount:
    """6. The CIs a change works on are out for its window."""

    def test_patching_fourteen_pcs_affects_them(self, demo):
        result = assess_change(demo, "CHG-000103", now=NOW)
        assert result.counts.down >= 14 and result.counts.total >= 14
        assert "cust-br01" in result.customers  # all its desktops at once: the branch is down
        assert _states(result.impact.customers)["cust-br01"] == "down"


class TestCalibratedRisk:
    """7. A certain outage of a critical service is critical, and says so first."""

    def test_rolling_patch_on_the_last_rac_instance(self, demo):
        result = assess_change(demo, "CHG-000104", now=NOW)
        assert result.level == "critical"
        assert result.headline.startswith("INC-000001 already has")
        assert "this change takes" in result.headline and "svc-core-banking" in result.headline
        detail = result.factor("redundancy").detail
        assert "cl-core-rac goes to 0 of 2 up (needs 1): down" in detail

    def test_colliding_pair_reads_as_one(self, demo):
        result = assess_change(demo, "CHG-000101", now=NOW)
        assert result.level == "critical"
        (collision,) = result.collisions
        assert collision.change_id == "CHG-000102"
        assert "svc-core-banking" in collision.services
        assert "cust-br01" in collision.customers and "sla-core-banking" in collision.slas
        assert "with CHG-000102 in the same window" in result.headline


class TestPictures:
    """Output: DOT renders without colour warnings; large pictures collapse; Mermaid stays
    within its default 500 edges."""

    def test_dot_colours_are_six_digit(self, demo):
        import re

        from impact.render import to_dot

        dot = to_dot(blast_radius(demo.topology(), ["sw-dc-acc-05"]))
        colours = re.findall(r'color="(#[0-9a-f]+)"', dot)
        assert colours and all(len(c) == 7 for c in colours)

    def test_large_results_collapse(self, demo):
        from impact.render import COLLAPSE_AT, MERMAID_MAX_EDGES, to_dot, to_mermaid

        br = blast_radius(demo.topology(), ["sw-core-01", "sw-core-02"])
        assert len(br) > 300
        mermaid = to_mermaid(br)
        boxes = [line for line in mermaid.splitlines() if ":::" in line]
        arrows = [line for line in mermaid.splitlines() if "-->" in line]
        assert len(arrows) <= MERMAID_MAX_EDGES and "collapsed by class and state" in mermaid
        assert len(boxes) < COLLAPSE_AT  # services and customers by name, the rest by class
        assert any("desktop" in b and " x " in b for b in boxes)
        assert '"svc-core-banking"' in to_dot(br)


class TestTime:
    """Windows in each service's time zone, service hours and freezes as named factors, and
    incidents with their SLA due times."""

    def test_windows_are_read_in_the_services_time_zone(self, demo):
        result = assess_change(demo, "CHG-000101", now=NOW)
        hours = result.factor("service_hours")
        # 06:00-10:00 Beijing time on a weekday: inside the desktop service's office hours
        assert hours.value > 0 and "svc-desktop" in hours.detail
        assert "Asia/Shanghai" in hours.detail
        assert "Asia/Shanghai" in result.factor("maintenance_window").detail

    def test_a_change_in_a_freeze_is_named_and_needs_the_cab(self, demo):
        result = assess_change(demo, "CHG-000104", now=NOW)
        assert result.factor("freeze").value == 1.0
        assert "quarter-end closing" in result.factor("freeze").detail
        assert any("freeze" in r for r in result.cab_reasons)
        assert assess_change(demo, "CHG-000101", now=NOW).factor("freeze").value == 0.0

    def test_incident_stores_impact_and_sla_due_times(self, fresh):
        from datetime import timedelta

        opened = open_incident(
            fresh, ci_ids=["db-core"], urgency="high", title="CBSDB down", actor="t", now=NOW
        )
        stored = fresh.get_record(opened.incident.id)
        assert stored.impact == "high" and stored.sla_id in ("sla-core-banking", "sla-atm-pos")
        assert stored.response_due == NOW + timedelta(minutes=15)
        assert stored.resolution_due == NOW + timedelta(hours=2)
        quiet = open_incident(
            fresh, ci_ids=["prn-br03-02"], urgency="low", title="printer", actor="t", now=NOW
        )
        assert quiet.incident.resolution_due is None  # no SLA covers what it affects


class TestSpofAndAvailability:
    def test_physical_single_points_apart_from_logical_ones(self, demo):
        from impact.report import spof_report

        report = spof_report(demo, "svc-core-banking")
        kinds = {s.id: s.kind for s in report.single_points_of_failure}
        assert kinds["sw-dc-acc-05"] == "physical" and kinds["stor-san-01"] == "physical"
        assert kinds["cl-core-rac"] == "group" and kinds["db-core"] == "logical"
        assert report.physical == 2

    def test_availability_parts_and_counts_agree(self, demo):
        from impact.report import availability_report, spof_report

        report = availability_report(demo, "svc-core-banking")
        spof = spof_report(demo, "svc-core-banking")
        assert report.single_points == len(spof.single_points_of_failure)
        assert report.costliest == report.parts[0].id
        assert report.parts[0].cost_minutes >= report.parts[-1].cost_minutes
        assert {p.source for p in report.parts} <= {"ci", "class"}
        db = next(p for p in report.parts if p.id == "db-core")
        assert db.in_series and db.availability == 0.9995 and db.source == "class"


class TestRegistryTimezone:
    def test_default_and_override(self, tmp_path):
        from cmdb.errors import RegistryError
        from cmdb.registry import load_registry

        assert load_registry().timezone == "UTC"
        mine = tmp_path / "tz.yaml"
        mine.write_text("timezone: Asia/Shanghai\n")
        assert load_registry(mine).timezone == "Asia/Shanghai"
        mine.write_text("timezone: Mars/Olympus\n")
        with pytest.raises(RegistryError, match="unknown time zone 'Mars/Olympus'"):
            load_registry(mine)


def test_every_built_in_relationship_type_says_why_it_propagates_as_it_does():
    """Item 4: the choice (hard, soft, membership, none) of each built-in type is documented
    by a comment right above it in cmdb/registry.yaml."""
    from pathlib import Path

    import cmdb
    from cmdb.registry import load_registry

    lines = (Path(cmdb.__file__).parent / "registry.yaml").read_text().splitlines()
    start = lines.index("relationships:")
    for name, spec in load_registry().relationships.items():
        at = lines.index(f"  {name}:", start)
        comment = []
        while lines[at - 1 - len(comment)].strip().startswith("#"):
            comment.append(lines[at - 1 - len(comment)].strip())
        assert comment, f"{name} has no comment above it"
        word = {"to_source": "hard", "to_target": "hard"}.get(
            spec.propagation.value, spec.propagation.value
        )
        assert comment[-1].startswith(f"# {word}"), (name, comment[-1])
