"""The store contract: every backend passes this suite unchanged (see tests/conftest.py)."""

from __future__ import annotations

import pytest

from cmdb.enums import HistoryAction, Lifecycle
from cmdb.errors import NotFoundError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, Change, Incident, Relationship


def ci(id_, cls="application", **kw):
    if cls == "database":
        kw.setdefault("attributes", {"engine": "oracle"})
    return CI(id=id_, ci_class=cls, name=kw.pop("name", id_.upper()), **kw)


def rel(s, t, type_="depends_on"):
    return Relationship(source=s, type=type_, target=t)


def small_graph() -> Batch:
    return Batch(
        cis=[
            ci("app", owner="alice", identifiers={"hostnames": ["App-Host"]}),
            ci("db", "database", owner="bob", identifiers={"ips": ["10.0.0.5"]}),
            ci("srv", "physical_server", identifiers={"serial_number": "SN-1"}),
            ci("pool", "cluster", min_required=1),
        ],
        relationships=[
            rel("app", "db"),
            rel("db", "srv", "runs_on"),
            rel("srv", "pool", "member_of"),
        ],
    )


def snapshot(store):
    cis = [c.to_json() for c in store.find_cis(CIFilter(include_retired=True))]
    rels = [r.to_json() for r in store.find_relationships(RelFilter(include_retired=True))]
    return cis, rels, store.version(), len(store.history(HistoryFilter()))


class TestApply:
    def test_creates_with_store_owned_fields(self, store):
        result = store.apply(small_graph(), actor="tester")
        assert (result.created, result.updated, result.unchanged) == (7, 0, 0)
        got = store.get_ci("db")
        assert got.version == 1 and got.created_at is not None
        assert got.created_at == got.updated_at
        assert store.version() == result.store_version >= 1

    def test_equal_upsert_is_a_noop(self, store):
        store.apply(small_graph(), actor="tester")
        before = snapshot(store)
        result = store.apply(small_graph(), actor="tester")
        assert result.unchanged == 7 and result.created == result.updated == 0
        assert snapshot(store) == before

    def test_update_bumps_version_and_keeps_created(self, store):
        store.apply(small_graph(), actor="tester")
        created = store.get_ci("app").created_at
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="tester", change_id="CHG-1")
        got = store.get_ci("app")
        assert (got.owner, got.version, got.created_at) == ("carol", 2, created)

    @pytest.mark.parametrize(
        ("bad", "match"),
        [
            (
                Batch(cis=[ci("x1"), CI(id="x2", ci_class="spaceship", name="X")]),
                r"cis\[1\] 'x2': field 'class': unknown CI class 'spaceship'",
            ),
            (
                Batch(cis=[ci("x1"), CI(id="x2", ci_class="database", name="X")]),
                r"cis\[1\] 'x2': field 'attributes.engine': required",
            ),
            (
                Batch(cis=[ci("x1"), ci("x2", "database", attributes={"engine": "excel"})]),
                r"'excel' is not one of",
            ),
            (Batch(cis=[ci("x1"), ci("x1")]), r"cis\[1\] 'x1': field 'id': duplicate"),
            (
                Batch(cis=[ci("x1")], relationships=[rel("x1", "nowhere")]),
                r"relationships\[0\] 'x1\|depends_on\|nowhere': field 'target': CI 'nowhere' "
                r"does not exist",
            ),
            (
                Batch(
                    cis=[ci("x1"), ci("loc", "location")],
                    relationships=[rel("loc", "x1", "runs_on")],
                ),
                r"location -\[runs_on\]-> application is not allowed",
            ),
            (
                Batch(cis=[ci("x1"), ci("x2")], relationships=[rel("x1", "x2", "teleports_to")]),
                r"unknown relationship type 'teleports_to'",
            ),
            (Batch(cis=[ci("x1", min_required=2)]), r"only redundancy groups take min_required"),
            (Batch(cis=[ci("x1")], retire_cis=["ghost"]), r"retire_cis\[0\]: field 'id'"),
            (
                Batch(cis=[ci("x1")], retire_relationships=[("app", "depends_on", "srv")]),
                r"retire_relationships\[0\]: relationship app -\[depends_on\]-> srv does not exist",
            ),
            (
                Batch(cis=[ci("x1")], records=[Incident(id="INC-9", ci_ids=["ghost"])]),
                r"records\[0\] 'INC-9': field 'ci_ids': CI 'ghost' does not exist",
            ),
        ],
    )
    def test_a_bad_item_leaves_the_store_unchanged(self, store, bad, match):
        store.apply(small_graph(), actor="tester")
        before = snapshot(store)
        with pytest.raises(ValidationError, match=match):
            store.apply(bad, actor="tester")
        assert snapshot(store) == before
        with pytest.raises(NotFoundError):
            store.get_ci("x1")

    def test_relationship_may_point_at_a_ci_of_the_same_batch(self, store):
        store.apply(Batch(cis=[ci("a"), ci("b")], relationships=[rel("a", "b")]), actor="t")
        assert [r.key for r in store.find_relationships(RelFilter())] == [("a", "depends_on", "b")]


class TestRetire:
    def test_retiring_a_ci_retires_its_relationships(self, store):
        store.apply(small_graph(), actor="t")
        result = store.apply(Batch(retire_cis=["db"]), actor="t")
        assert result.retired == 3
        assert store.get_ci("db").status is Lifecycle.RETIRED
        assert "db" not in [c.id for c in store.find_cis(CIFilter())]
        assert "db" in [c.id for c in store.find_cis(CIFilter(include_retired=True))]
        assert [r.key for r in store.find_relationships(RelFilter())] == [
            ("srv", "member_of", "pool")
        ]
        retired = store.find_relationships(RelFilter(include_retired=True, ci="db"))
        assert {r.status for r in retired} == {"retired"}

    def test_cannot_link_to_a_retired_ci(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(retire_cis=["srv"]), actor="t")
        with pytest.raises(ValidationError, match="CI 'srv' is retired"):
            store.apply(Batch(relationships=[rel("app", "srv", "runs_on")]), actor="t")

    def test_retire_relationship(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(retire_relationships=[("app", "depends_on", "db")]), actor="t")
        assert ("app", "depends_on", "db") not in [
            r.key for r in store.find_relationships(RelFilter())
        ]
        t = store.topology()
        assert t.index("app") not in t.dependents.row(t.index("db")).tolist()

    def test_retired_ci_leaves_topology(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(retire_cis=["app"]), actor="t")
        assert "app" not in store.topology()


class TestHistory:
    def test_every_write_is_recorded_with_before_and_after(self, store):
        store.apply(small_graph(), actor="loader")
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="ann", change_id="CHG-7")
        store.apply(Batch(retire_cis=["app"]), actor="ann")
        entries = store.history(HistoryFilter(entity_id="app"))
        assert [e.action for e in entries] == [
            HistoryAction.CREATE,
            HistoryAction.UPDATE,
            HistoryAction.RETIRE,
        ]
        create, update, retire = entries
        assert create.before is None and create.after["owner"] == "alice"
        assert (update.before["owner"], update.after["owner"]) == ("alice", "carol")
        assert (update.actor, update.change_id) == ("ann", "CHG-7")
        assert retire.after["status"] == "retired"
        assert create.seq < update.seq < retire.seq
        assert [e.entity_id for e in store.history(HistoryFilter(change_id="CHG-7"))] == ["app"]

    def test_relationship_history(self, store):
        store.apply(small_graph(), actor="t")
        entries = store.history(HistoryFilter(entity="relationship"))
        assert sorted(e.entity_id for e in entries) == [
            "app|depends_on|db",
            "db|runs_on|srv",
            "srv|member_of|pool",
        ]

    def test_failed_batch_writes_no_history(self, store):
        with pytest.raises(ValidationError):
            store.apply(Batch(cis=[ci("ok"), ci("bad", "spaceship")]), actor="t")
        assert store.history(HistoryFilter()) == []
        assert store.version() == 0


class TestQueries:
    @pytest.mark.parametrize(
        ("flt", "expected"),
        [
            (CIFilter(), ["app", "db", "pool", "srv"]),
            (CIFilter(classes=("database", "cluster")), ["db", "pool"]),
            (CIFilter(owner="alice"), ["app"]),
            (CIFilter(identifier="10.0.0.5"), ["db"]),
            (CIFilter(identifier="app-host"), ["app"]),
            (CIFilter(identifier="SN-1"), ["srv"]),
            (CIFilter(text="po"), ["pool"]),
            (CIFilter(text="%"), []),
            (CIFilter(ids=("srv", "app", "ghost")), ["app", "srv"]),
            (CIFilter(limit=2, offset=1), ["db", "pool"]),
            (CIFilter(after="db"), ["pool", "srv"]),
            (CIFilter(after="db", limit=1), ["pool"]),
            (CIFilter(after="srv"), []),
            (CIFilter(after="a", classes=("database",)), ["db"]),
            (CIFilter(status=(Lifecycle.PLANNED,)), []),
        ],
    )
    def test_find_cis(self, store, flt, expected):
        store.apply(small_graph(), actor="t")
        assert [c.id for c in store.find_cis(flt)] == expected

    @pytest.mark.parametrize(
        ("flt", "expected"),
        [
            (RelFilter(source="app"), [("app", "depends_on", "db")]),
            (RelFilter(target="pool"), [("srv", "member_of", "pool")]),
            (RelFilter(ci="db"), [("app", "depends_on", "db"), ("db", "runs_on", "srv")]),
            (
                RelFilter(types=("runs_on", "member_of")),
                [("db", "runs_on", "srv"), ("srv", "member_of", "pool")],
            ),
        ],
    )
    def test_find_relationships(self, store, flt, expected):
        store.apply(small_graph(), actor="t")
        assert [r.key for r in store.find_relationships(flt)] == expected

    @pytest.mark.parametrize(
        ("depth", "types", "expected"),
        [
            (1, (), {"app", "db", "srv"}),
            (2, (), {"app", "db", "srv", "pool"}),
            (0, (), {"db"}),
            (3, ("depends_on",), {"app", "db"}),
        ],
    )
    def test_neighbourhood(self, store, depth, types, expected):
        store.apply(small_graph(), actor="t")
        sub = store.neighbourhood("db", depth=depth, types=types)
        assert {c.id for c in sub.cis} == expected
        assert all(r.source in expected and r.target in expected for r in sub.relationships)

    def test_relationship_counts(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("web")], relationships=[rel("web", "db")]), actor="t")
        store.apply(Batch(retire_relationships=[("web", "depends_on", "db")]), actor="t")
        store.apply(Batch(cis=[ci("api")], relationships=[rel("api", "db")]), actor="t")
        assert store.relationship_counts("db") == [
            ("depends_on", "in", 2),
            ("runs_on", "out", 1),
        ]
        assert store.relationship_counts("pool") == [("member_of", "in", 1)]
        assert store.relationship_counts("ghost") == []

    def test_one_type_at_one_end_by_the_other_ends_id(self, store):
        # the read a CI page makes per (type, direction): the other end's id orders it, not
        # the order of the writes
        ids = ["m", "c", "x", "a"]
        store.apply(
            Batch(
                cis=[ci("hub", "database"), *map(ci, ids)],
                relationships=[rel(i, "hub") for i in ids],
            ),
            actor="t",
        )
        servers = [ci("srv-2", "physical_server"), ci("srv-1", "physical_server")]
        runs_on = [rel("hub", s.id, "runs_on") for s in servers]
        store.apply(Batch(cis=servers, relationships=runs_on), actor="t")
        store.apply(Batch(retire_relationships=[("a", "depends_on", "hub")]), actor="t")
        got = store.find_relationships(RelFilter(target="hub", types=("depends_on",), limit=2))
        assert [r.source for r in got] == ["c", "m"]
        got = store.find_relationships(RelFilter(source="hub", types=("runs_on",), limit=1))
        assert [r.target for r in got] == ["srv-1"]
        assert store.find_relationships(RelFilter(source="hub", types=("depends_on",))) == []

    def test_unknown_ci(self, store):
        with pytest.raises(NotFoundError, match="CI 'ghost' not found"):
            store.get_ci("ghost")
        with pytest.raises(NotFoundError):
            store.neighbourhood("ghost")


class TestRecords:
    def test_records_round_trip_and_filter(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(
            Batch(
                records=[
                    Incident(id="INC-1", ci_ids=["db"], title="slow"),
                    Incident(id="INC-2", ci_ids=["app"], status="resolved"),
                    Change(id="CHG-1", ci_ids=["srv", "db"], type="emergency"),
                ]
            ),
            actor="t",
        )
        assert store.get_record("CHG-1").type == "emergency"
        assert [r.id for r in store.find_records(RecordFilter(ci="db"))] == ["CHG-1", "INC-1"]
        assert [
            r.id for r in store.find_records(RecordFilter(kinds=("incident",), open_only=True))
        ] == ["INC-1"]
        with pytest.raises(NotFoundError):
            store.get_record("INC-404")

    def test_record_update_is_history(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(records=[Incident(id="INC-1", ci_ids=["db"])]), actor="t")
        store.apply(
            Batch(records=[Incident(id="INC-1", ci_ids=["db"], status="resolved")]), actor="t"
        )
        actions = [e.action for e in store.history(HistoryFilter(entity_id="INC-1"))]
        assert actions == [HistoryAction.CREATE, HistoryAction.UPDATE]
        assert store.find_records(RecordFilter(open_only=True)) == []


class TestTopology:
    def test_snapshot_normalises_propagation(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(
            Batch(
                cis=[ci("svc", "business_service")], relationships=[rel("app", "svc", "provides")]
            ),
            actor="t",
        )
        t = store.topology()
        assert sorted(t.ids) == ["app", "db", "pool", "srv", "svc"]
        deps = {t.ids[i] for i in t.dependents.row(t.index("app"))}
        assert deps == {"svc"}  # provides: a failure of the provider hits the service
        assert {t.ids[i] for i in t.dependents.row(t.index("srv"))} == {"db"}
        assert [t.ids[i] for i in t.members.row(t.index("pool"))] == ["srv"]
        assert t.k_required()[t.index("pool")] == 1
        assert t.version == store.version()

    def test_snapshot_follows_writes(self, store):
        store.apply(small_graph(), actor="t")
        first = store.topology()
        store.apply(Batch(cis=[ci("extra")]), actor="t")
        assert "extra" in store.topology() and "extra" not in first
