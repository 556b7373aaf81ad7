"""The reconciler on every backend: identification, precedence, idempotence, staleness, runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb import ops
from cmdb.diff import diff_documents
from cmdb.errors import ConflictError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RelFilter
from cmdb.model import CI, Batch, Identifiers, utcnow
from cmdb.reconcile import list_runs, plan, purge, reconcile
from cmdb.reconcile_plan import Precedence
from cmdb.scan import ScanResult, SeenCI, SeenRelationship


def seen(key, cls="virtual_machine", **kw):
    return SeenCI(key=key, ci_class=cls, name=kw.pop("name", key.split(":")[-1]), **kw)


def scan(cis, rels=(), *, source="inventory", scope=("file:a",), complete=True):
    return ScanResult(
        source=source,
        scope=list(scope),
        complete=complete,
        cis=list(cis),
        relationships=[SeenRelationship(source=s, type=t, target=d) for s, t, d in rels],
    )


WEB = seen("inventory:web", identifiers={"serial_number": "SN-1"}, attributes={"os": "linux"})
DB = seen("inventory:db", identifiers={"serial_number": "SN-2"})
ESX = seen("inventory:esx", "physical_server", identifiers={"fqdn": "esx.example"})
ESTATE = scan(
    [WEB, DB, ESX],
    [
        ("inventory:web", "depends_on", "inventory:db"),
        ("inventory:web", "hosted_on", "inventory:esx"),
        ("inventory:db", "hosted_on", "inventory:esx"),
    ],
)


def state(store):
    cis = {c.id: c.to_json() for c in store.find_cis(CIFilter(include_retired=True))}
    rels = {r.id: r.to_json() for r in store.find_relationships(RelFilter(include_retired=True))}
    return cis, rels


def data_history(store):
    return [h for h in store.history(HistoryFilter()) if h.entity in ("ci", "relationship")]


class TestReconcile:
    def test_first_run_creates_with_sources_and_run(self, store):
        report = reconcile(store, ESTATE)
        assert report.plan.counts["created"] == 3
        assert report.plan.counts["relationships_created"] == 3
        web = store.get_ci("inventory:web")
        assert set(web.last_seen) == {"inventory"}
        assert web.provenance["attributes.os"] == "inventory"
        assert web.identifiers.keys["seen_in:inventory"] == "file:a"
        rel = store.find_relationships(RelFilter(source="inventory:web"))[0]
        assert set(rel.last_seen) == {"inventory"}
        run = store.get_record(report.run.id)
        assert (run.kind, run.status, run.complete, run.scope) == (
            "discovery_run",
            "applied",
            True,
            ["file:a"],
        )
        assert run.counts["created"] == 3 and run.finished_at is not None
        entries = data_history(store)
        assert len(entries) == 6
        assert {(h.actor, h.change_id) for h in entries} == {("discovery:inventory", run.id)}

    def test_dry_run_writes_nothing_and_equals_the_real_run(self, store):
        now = utcnow()
        reconcile(store, ESTATE, now=now - timedelta(hours=1))
        ops.update_ci(store, "inventory:db", fields={"owner": "dba"}, actor="alice")
        changed = scan(
            [
                WEB.model_copy(update={"attributes": {"os": "bsd"}}),
                DB.model_copy(update={"owner": "team-x"}),
                seen("inventory:new", identifiers={"serial_number": "SN-3"}),
            ],
            [("inventory:new", "depends_on", "inventory:db")],
        )
        before, version, history = state(store), store.version(), store.history(HistoryFilter())
        dry = reconcile(store, changed, dry_run=True, now=now, stale_after_runs=1)
        assert (state(store), store.version()) == (before, version)
        assert store.history(HistoryFilter()) == history and dry.run is None
        real = reconcile(store, changed, now=now, stale_after_runs=1)
        assert real.plan == dry.plan
        entries = [h for h in data_history(store) if h.change_id == real.run.id]
        assert {(h.entity_id, h.action.value) for h in entries} == (
            {(c.ci_id, "create") for c in dry.plan.creates}
            | {(c.ci_id, "update") for c in dry.plan.updates}
            | {(c.ci_id, "update") for c in dry.plan.stale}
            | {
                (r.rel_id, "create" if r.action == "create" else "update")
                for r in dry.plan.relationships
            }
        )
        for c in dry.plan.updates + dry.plan.stale:
            h = next(h for h in entries if h.entity_id == c.ci_id)
            ignore = {"created_at", "updated_at", "version", "last_seen", "provenance"}
            assert diff_documents(h.before, h.after, ignore=ignore) == list(c.changes)
        assert dry.plan.stale[0].ci_id == "inventory:esx"
        # the owner set by hand outranks the inventory
        assert store.get_ci("inventory:db").owner == "dba"

    def test_second_identical_run_is_a_noop(self, store):
        reconcile(store, ESTATE)
        versions = {c.id: c.version for c in store.find_cis(CIFilter())}
        rel_versions = {r.id: r.version for r in store.find_relationships(RelFilter())}
        count = len(data_history(store))
        first_seen = store.get_ci("inventory:web").last_seen["inventory"]
        report = reconcile(store, ESTATE)
        assert report.plan.counts["unchanged"] == 3
        assert report.plan.counts["relationships_unchanged"] == 3
        assert not (report.plan.creates or report.plan.updates or report.plan.stale)
        assert len(data_history(store)) == count
        assert {c.id: c.version for c in store.find_cis(CIFilter())} == versions
        assert {r.id: r.version for r in store.find_relationships(RelFilter())} == rel_versions
        assert store.get_ci("inventory:web").last_seen["inventory"] > first_seen
        assert [r.status for r in list_runs(store)] == ["applied", "applied"]

    def test_partial_run_marks_nothing_stale(self, store):
        reconcile(store, ESTATE)
        before = state(store)
        partial = scan([WEB], complete=False)
        report = reconcile(store, partial, stale_after_runs=1, stale_after=timedelta(0))
        assert report.plan.stale == () and report.plan.counts["relationships_stale"] == 0
        cis, rels = state(store)
        assert all(not c["stale_since"] for c in cis.values())
        assert all(not r["stale_since"] for r in rels.values())
        assert set(cis) == set(before[0]) and all(c["status"] == "live" for c in cis.values())
        assert list_runs(store)[0].complete is False

    def test_complete_run_marks_only_own_assertions_in_scope(self, store):
        reconcile(store, scan([WEB], scope=["file:a"]))
        reconcile(store, scan([DB], scope=["file:b"]))
        reconcile(store, scan([ESX], source="kubernetes", scope=["file:a"]))
        ops.create_ci(store, CI(id="by-hand", ci_class="application", name="H"), actor="alice")
        report = reconcile(store, scan([], scope=["file:a"]), stale_after_runs=1)
        assert [c.ci_id for c in report.plan.stale] == ["inventory:web"]
        assert set(store.get_ci("inventory:web").stale_since) == {"inventory"}
        for other in ("inventory:db", "inventory:esx", "by-hand"):
            assert store.get_ci(other).stale_since == {}

    def test_stale_after_runs_counts_complete_runs_and_sighting_clears_it(self, store):
        reconcile(store, ESTATE)
        without_db = scan([WEB, ESX], [("inventory:web", "hosted_on", "inventory:esx")])
        first = reconcile(store, without_db, stale_after_runs=2)
        assert first.plan.stale == ()
        reconcile(store, scan([WEB], complete=False), stale_after_runs=2)  # does not count
        second = reconcile(store, without_db, stale_after_runs=2)
        assert [c.ci_id for c in second.plan.stale] == ["inventory:db"]
        assert {r.rel_id for r in second.plan.relationships if r.action == "stale"} == {
            "inventory:web|depends_on|inventory:db",
            "inventory:db|hosted_on|inventory:esx",
        }
        back = reconcile(store, ESTATE, stale_after_runs=2)
        assert [c.ci_id for c in back.plan.updates] == ["inventory:db"]
        assert store.get_ci("inventory:db").stale_since == {}

    def test_stale_after_age(self, store):
        reconcile(store, ESTATE, now=utcnow() - timedelta(days=10))
        report = reconcile(
            store, scan([WEB, ESX]), stale_after_runs=None, stale_after=timedelta(days=7)
        )
        assert [c.ci_id for c in report.plan.stale] == ["inventory:db"]


class TestIdentification:
    def test_two_sources_one_ci(self, store):
        reconcile(
            store,
            scan(
                [
                    seen(
                        "inventory:srv",
                        "physical_server",
                        identifiers={"serial_number": "SN-7", "fqdn": "srv.example"},
                        attributes={"os": "linux"},
                    )
                ]
            ),
        )
        k8s = seen(
            "k8s:Node/srv",
            "physical_server",
            name="srv-node",
            identifiers={"fqdn": "SRV.example"},
            attributes={"os": "ubuntu"},
        )
        report = reconcile(store, scan([k8s], source="kubernetes", scope=["cluster:c"]))
        assert [c.ci_id for c in report.plan.updates] == ["inventory:srv"]
        (ci,) = store.find_cis(CIFilter())
        assert set(ci.last_seen) == {"inventory", "kubernetes"}
        assert ci.provenance["attributes.os"] == "kubernetes"
        assert ci.provenance["identifiers.serial_number"] == "inventory"
        assert ci.attributes["os"] == "ubuntu"
        again = reconcile(
            store,
            scan(
                [
                    seen(
                        "inventory:srv",
                        "physical_server",
                        identifiers={"serial_number": "SN-7"},
                        attributes={"os": "linux", "rack": "r1"},
                    )
                ]
            ),
        )
        ci = store.get_ci("inventory:srv")
        assert ci.attributes == {"os": "ubuntu", "rack": "r1"}  # lower source: only new fields
        assert [f.path for f in again.plan.updates[0].changes] == ["attributes.rack"]

    def test_ambiguous_match_is_reported_not_merged(self, store):
        store.apply(
            Batch(
                cis=[
                    CI(
                        id="x1",
                        ci_class="virtual_machine",
                        name="X1",
                        identifiers=Identifiers(fqdn="dup.example"),
                    ),
                    CI(
                        id="x2",
                        ci_class="virtual_machine",
                        name="X2",
                        identifiers=Identifiers(fqdn="dup.example"),
                    ),
                ]
            ),
            actor="t",
        )
        before = state(store)
        report = reconcile(
            store,
            scan(
                [seen("inventory:dup", identifiers={"fqdn": "dup.example"}), DB],
                [("inventory:dup", "depends_on", "inventory:db")],
            ),
        )
        (amb,) = report.plan.ambiguous
        assert (amb.what, amb.candidates) == ("inventory:dup", ("x1", "x2"))
        assert report.plan.skipped[0].what.startswith("inventory:dup -[depends_on]->")
        cis, _ = state(store)
        assert cis["x1"] == before[0]["x1"] and cis["x2"] == before[0]["x2"]
        assert "inventory:dup" not in cis and "inventory:db" in cis

    def test_two_sightings_of_one_ci_in_a_scan_are_ambiguous(self, store):
        report = plan(
            store,
            scan(
                [
                    seen("inventory:a", identifiers={"serial_number": "S"}),
                    seen("inventory:b", identifiers={"serial_number": "s"}),
                ]
            ),
        )
        assert {a.what for a in report.ambiguous} == {"inventory:a", "inventory:b"}
        assert report.creates == ()

    def test_conflicting_stronger_identifier_is_another_ci(self, store):
        store.apply(
            Batch(
                cis=[
                    CI(
                        id="old",
                        ci_class="virtual_machine",
                        name="Old",
                        identifiers=Identifiers(serial_number="AAA", fqdn="host.example"),
                    )
                ]
            ),
            actor="t",
        )
        report = plan(
            store,
            scan(
                [
                    seen(
                        "inventory:new",
                        identifiers={"serial_number": "BBB", "fqdn": "host.example"},
                    )
                ]
            ),
        )
        assert [c.ci_id for c in report.creates] == ["inventory:new"]

    def test_name_within_parent_and_derived_id_collision(self, store):
        store.apply(
            Batch(
                cis=[
                    CI(
                        id="compose:shop/db",
                        ci_class="application",
                        name="other",
                        identifiers=Identifiers(serial_number="Z"),
                    )
                ]
            ),
            actor="t",
        )
        project = seen("compose:shop", "application", name="shop")
        db = seen(
            "compose:shop/db",
            "application",
            name="db",
            parent="compose:shop",
            identifiers={"serial_number": "Q"},
        )
        first = reconcile(store, scan([project, db], source="compose"))
        new_id = next(c.ci_id for c in first.plan.creates if c.key == "compose:shop/db")
        assert new_id.startswith("compose:shop/db-") and new_id != "compose:shop/db"
        assert store.get_ci(new_id).identifiers.keys["parent+name"] == (
            "application|compose:shop|db"
        )
        db2 = db.model_copy(update={"identifiers": Identifiers()})
        second = plan(store, scan([project, db2], source="compose"))  # found by parent+name
        assert second.creates == () and [c.ci_id for c in second.updates] == [new_id]
        assert [f.path for f in second.updates[0].changes] == ["identifiers.serial_number"]

    def test_manual_edit_outranks_discovery(self, store):
        reconcile(store, ESTATE)
        ops.update_ci(
            store, "inventory:web", set_attributes={"os": "windows"}, unset=None, actor="alice"
        )
        assert store.get_ci("inventory:web").provenance["attributes.os"] == "manual"
        report = reconcile(store, ESTATE)
        assert store.get_ci("inventory:web").attributes["os"] == "windows"
        assert report.plan.updates == ()
        lowest_manual = Precedence.parse("inventory,manual")
        reconcile(store, ESTATE, precedence=lowest_manual)
        assert store.get_ci("inventory:web").attributes["os"] == "linux"

    def test_source_removes_a_field_it_owns(self, store):
        reconcile(store, ESTATE)
        reconcile(store, scan([WEB.model_copy(update={"attributes": {}}), DB, ESX]))
        assert "os" not in store.get_ci("inventory:web").attributes

    def test_unresolved_reference_becomes_a_visible_ci(self, store):
        ref = seen("inventory:ref/cache", "application", name="cache", unresolved=True)
        report = reconcile(
            store, scan([WEB, ref], [("inventory:web", "depends_on", "inventory:ref/cache")])
        )
        assert report.plan.unresolved == ("inventory:ref/cache",)
        assert store.get_ci("inventory:ref/cache").attributes == {"unresolved": True}
        described = seen("inventory:ref/cache", "application", name="cache")
        reconcile(store, scan([WEB, described]))
        assert store.get_ci("inventory:ref/cache").attributes == {}

    def test_bad_sighting_fails_at_its_origin_and_writes_nothing(self, store):
        bad = seen("inventory:x", "database", origin="hosts.csv:7")  # engine is required
        with pytest.raises(ValidationError, match=r"^hosts.csv:7: .*attributes.engine"):
            reconcile(store, scan([WEB, bad]))
        assert store.find_cis(CIFilter()) == [] and list_runs(store) == []


class _Racing:
    """The store, with someone else editing a CI just before each of the first ``times``
    data batches (after the plan read it)."""

    def __init__(self, store, times):
        self._store, self.times, self.n = store, times, 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def apply(self, batch, **kw):
        if batch.cis and self.times:
            self.times -= 1
            self.n += 1
            ops.update_ci(
                self._store, "inventory:web", set_attributes={"os": f"os-{self.n}"}, actor="alice"
            )
        return self._store.apply(batch, **kw)


class TestConcurrency:
    def test_a_change_after_the_plan_is_never_overwritten_the_run_replans(self, store):
        reconcile(store, ESTATE)
        changed = scan([WEB.model_copy(update={"attributes": {"os": "bsd"}}), DB, ESX])
        report = reconcile(_Racing(store, 1), changed)
        assert report.run.status == "applied"
        assert store.get_ci("inventory:web").attributes["os"] == "os-1"  # by hand: kept

    def test_refused_twice_the_run_is_failed(self, store):
        reconcile(store, ESTATE)
        with pytest.raises(ConflictError):
            reconcile(_Racing(store, 2), scan([WEB, DB]))
        run = list_runs(store)[0]
        assert run.status == "failed" and "changed during the run" in run.errors[-1]
        assert store.get_ci("inventory:esx").stale_since == {}


class TestPurge:
    def test_retires_only_long_stale_and_not_seen_elsewhere(self, store):
        reconcile(store, ESTATE, now=utcnow() - timedelta(days=40))
        reconcile(
            store,
            scan([ESX.model_copy(update={"key": "k8s:esx"})], source="kubernetes", scope=["c"]),
        )
        reconcile(
            store, scan([], scope=["file:a"]), stale_after_runs=1, now=utcnow() - timedelta(days=31)
        )
        dry = purge(
            store, source="inventory", stale_for=timedelta(days=30), dry_run=True, actor="alice"
        )
        assert set(dry.cis) == {"inventory:web", "inventory:db"}
        assert [k.split(" ")[0] for k in dry.kept] == ["inventory:esx"]
        assert all(c.status.value == "live" for c in store.find_cis(CIFilter()))
        done = purge(store, source="inventory", stale_for=timedelta(days=30), actor="alice")
        assert done.cis == dry.cis
        assert store.get_ci("inventory:web").status.value == "retired"
        assert store.get_ci("inventory:esx").status.value == "live"
        assert store.find_relationships(RelFilter()) == []
        assert (
            purge(store, source="inventory", stale_for=timedelta(days=30), actor="alice").cis == ()
        )
        # seen again: purged by discovery, so discovery may revive it
        reconcile(store, scan([WEB]))
        assert store.get_ci("inventory:web").status.value == "live"
