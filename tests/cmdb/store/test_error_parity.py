"""The same fault gives the same error on every backend, and the history filters mean the same
thing everywhere. Runs on both backends through the ``store`` fixture."""

from __future__ import annotations

import inspect
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from neo4j import exceptions as nx

from cmdb.errors import ConflictError, StoreError, StoreUnavailableError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import Batch, Incident
from cmdb.store.neo4j_errors import map_driver_errors
from cmdb.store.protocol import GraphStore
from cmdb.store.sqlite_errors import map_sqlite_errors
from tests.cmdb.store.test_contract import ci, rel, small_graph

CALLS = {
    "apply": lambda s: s.apply(Batch(cis=[ci("new")]), actor="t"),
    "get_ci": lambda s: s.get_ci("app"),
    "find_cis": lambda s: s.find_cis(CIFilter()),
    "find_relationships": lambda s: s.find_relationships(RelFilter()),
    "find_relationships_from": lambda s: s.find_relationships_from(["app"]),
    "find_by_identifiers": lambda s: s.find_by_identifiers([("hostnames", "app-host")]),
    "neighbourhood": lambda s: s.neighbourhood("app", depth=2, types=["depends_on"]),
    "relationship_counts": lambda s: s.relationship_counts("app"),
    "get_record": lambda s: s.get_record("INC-1"),
    "find_records": lambda s: s.find_records(RecordFilter()),
    "history": lambda s: s.history(HistoryFilter()),
    "history_as_of": lambda s: s.history_as_of("ci", datetime.now(UTC)),
    "version": lambda s: s.version(),
    "topology": lambda s: s.topology(),
}


def test_every_protocol_method_is_covered():
    methods = {
        name
        for name, _ in inspect.getmembers(GraphStore, inspect.isfunction)
        if not name.startswith("_")
    }
    assert methods - {"close"} == set(CALLS)


class TestClosedStore:
    @pytest.mark.parametrize("method", sorted(CALLS))
    def test_every_method_says_the_store_is_closed(self, store, method):
        store.apply(small_graph(), actor="t")
        store.close()
        with pytest.raises(StoreError, match=r"^the store at \S+ is closed$") as info:
            CALLS[method](store)
        assert type(info.value) is StoreError

    def test_close_is_idempotent(self, store):
        store.close()
        store.close()


def _sqlite_busy(tmp_path) -> sqlite3.Error:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (a)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return exc
    finally:
        other.close()
        holder.close()
    raise AssertionError("no busy error")


def _sqlite_constraint(tmp_path) -> sqlite3.Error:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE ci (id TEXT PRIMARY KEY)")
    db.execute("INSERT INTO ci VALUES ('a')")
    try:
        db.execute("INSERT INTO ci VALUES ('a')")
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("no constraint error")


def _sqlite_read_only(tmp_path) -> sqlite3.Error:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (a)").connection.close()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.execute("INSERT INTO t VALUES (1)")
    except sqlite3.Error as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("no read-only error")


class TestSameFaultSameError:
    """Real sqlite3 faults and the driver's errors for the same faults."""

    @pytest.mark.parametrize(
        ("sqlite_fault", "neo4j_fault", "expected", "match"),
        [
            (
                _sqlite_constraint,
                nx.ConstraintError("Node(1) already exists"),
                ConflictError,
                "refused a write",
            ),
            (
                _sqlite_busy,
                nx.TransientError("LockClient can't wait"),
                StoreUnavailableError,
                "is busy",
            ),
            (
                _sqlite_read_only,
                nx.Forbidden("Writing in read access mode not allowed"),
                StoreError,
                None,
            ),
        ],
        ids=["constraint", "busy", "read-only"],
    )
    def test_maps_to_the_same_type(self, tmp_path, sqlite_fault, neo4j_fault, expected, match):
        fault = sqlite_fault(tmp_path)
        with pytest.raises(expected, match=match) as lite, map_sqlite_errors("/x/cmdb.db"):
            raise fault
        with pytest.raises(expected, match=match) as neo, map_driver_errors("bolt://db", "u"):
            raise neo4j_fault
        assert type(lite.value) is type(neo.value) is expected
        for err in (lite.value, neo.value):
            assert "\n" not in str(err) and err.__suppress_context__

    def test_sqlite_read_only_names_the_file(self, tmp_path):
        fault = _sqlite_read_only(tmp_path)
        with (
            pytest.raises(StoreError, match=r"^the store at /x/cmdb\.db is read-only$"),
            map_sqlite_errors("/x/cmdb.db"),
        ):
            raise fault


def _timeline(store) -> list:
    """Three batches by two actors, one under a change, a few milliseconds apart."""
    store.apply(Batch(cis=[ci("a"), ci("b")]), actor="alice")
    time.sleep(0.01)
    store.apply(
        Batch(cis=[ci("a", owner="ops")], relationships=[rel("a", "b")]),
        actor="bob",
        change_id="CHG-9",
    )
    time.sleep(0.01)
    store.apply(Batch(retire_cis=["b"]), actor="alice")
    return store.history(HistoryFilter())


def _keys(entries) -> list[tuple]:
    return [(e.entity, e.entity_id, e.action.value, e.actor) for e in entries]


class TestHistoryFilters:
    def test_all_oldest_first(self, store):
        entries = _timeline(store)
        assert [e.seq for e in entries] == sorted(e.seq for e in entries)
        keys = _keys(entries)
        assert keys[:4] == [
            ("ci", "a", "create", "alice"),
            ("ci", "b", "create", "alice"),
            ("ci", "a", "update", "bob"),
            ("relationship", "a|depends_on|b", "create", "bob"),
        ]
        assert sorted(keys[4:]) == [
            ("ci", "b", "retire", "alice"),
            ("relationship", "a|depends_on|b", "retire", "alice"),
        ]

    @pytest.mark.parametrize(
        ("flt", "expected"),
        [
            (
                HistoryFilter(entity="relationship"),
                [("a|depends_on|b", "create"), ("a|depends_on|b", "retire")],
            ),
            (HistoryFilter(entity_id="a"), [("a", "create"), ("a", "update")]),
            (HistoryFilter(actor="bob"), [("a", "update"), ("a|depends_on|b", "create")]),
            (HistoryFilter(change_id="CHG-9"), [("a", "update"), ("a|depends_on|b", "create")]),
            (
                HistoryFilter(entity="ci", actor="alice", limit=2),
                [("a", "create"), ("b", "create")],
            ),
            (HistoryFilter(limit=1), [("a", "create")]),
            (HistoryFilter(entity_id="nothing"), []),
        ],
    )
    def test_field_filters(self, store, flt, expected):
        _timeline(store)
        assert [(e.entity_id, e.action.value) for e in store.history(flt)] == expected

    def test_since_and_until_are_inclusive(self, store):
        entries = _timeline(store)
        second = next(e for e in entries if e.actor == "bob")
        batch2 = [e.seq for e in entries if e.batch_id == second.batch_id]
        since = store.history(HistoryFilter(since=second.at))
        until = store.history(HistoryFilter(until=second.at))
        both = store.history(HistoryFilter(since=second.at, until=second.at))
        assert [e.seq for e in both] == batch2
        assert [e.seq for e in since] == [e.seq for e in entries if e.at >= second.at]
        assert [e.seq for e in until] == [e.seq for e in entries if e.at <= second.at]
        later = second.at + timedelta(days=1)
        assert store.history(HistoryFilter(since=later)) == []
        assert store.history(HistoryFilter(since=later, limit=5)) == []

    def test_naive_times_are_utc_everywhere(self, store, monkeypatch):
        """A naive datetime means UTC on every backend, whatever the local time zone."""
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        try:
            entries = _timeline(store)
            store.apply(
                Batch(
                    records=[
                        Incident(id="INC-1", title="x", ci_ids=["a"], opened_at=datetime.now(UTC))
                    ]
                ),
                actor="t",
            )
            first = entries[0].at.astimezone(UTC).replace(tzinfo=None)
            assert len(store.history(HistoryFilter(since=first))) == len(entries) + 1
            assert [
                r.id for r in store.find_records(RecordFilter(since=first - timedelta(seconds=1)))
            ] == ["INC-1"]
            in_an_hour = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
            assert store.history(HistoryFilter(since=in_an_hour)) == []
            assert store.find_records(RecordFilter(since=in_an_hour)) == []
        finally:
            monkeypatch.undo()
            time.tzset()
