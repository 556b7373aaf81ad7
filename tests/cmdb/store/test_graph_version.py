"""Writes that do not change what a snapshot holds (records, a CI's owner or name) leave the
snapshot valid: no rebuild, in this process or another. Both backends."""

from __future__ import annotations

import pytest

from cmdb.model import CI, Batch, Incident
from tests.cmdb.store.test_contract import ci, rel, small_graph
from tests.cmdb.store.test_incremental_snapshot import count_rebuilds as _rebuilds


class TestGraphVersion:
    def test_record_writes_reuse_the_snapshot(self, store, monkeypatch):
        store.apply(small_graph(), actor="t")
        first = store.topology()
        calls = _rebuilds(store, monkeypatch)
        store.apply(Batch(records=[Incident(title="db slow", ci_ids=["db"])]), actor="t")
        assert store.topology() is first and calls == []

    def test_non_topology_fields_reuse_the_snapshot(self, store, monkeypatch):
        store.apply(small_graph(), actor="t")
        first = store.topology()
        calls = _rebuilds(store, monkeypatch)
        store.apply(
            Batch(cis=[ci("app", name="Renamed", owner="carol", attributes={"notes": "x"})]),
            actor="t",
        )
        assert store.topology() is first and calls == []

    @pytest.mark.parametrize(
        "batch",
        [
            Batch(cis=[ci("new")]),
            Batch(cis=[ci("app", criticality="critical")]),
            Batch(cis=[ci("app", status="maintenance")]),
            Batch(cis=[ci("app", attributes={"availability": 0.99})]),
            Batch(retire_cis=["app"]),
            Batch(relationships=[rel("app", "srv", "runs_on")]),
            Batch(retire_relationships=[("app", "depends_on", "db")]),
        ],
        ids=["create", "criticality", "status", "availability", "retire", "rel", "rel-retire"],
    )
    def test_graph_writes_rebuild(self, store, batch):
        store.apply(small_graph(), actor="t")
        first = store.topology()
        store.apply(batch, actor="t")
        again = store.topology()
        assert again is not first and again.version == first.version + 1

    def test_a_new_process_reuses_the_cache_after_record_writes(self, sqlite_store, tmp_path):
        from cmdb.settings import Settings
        from cmdb.store import open_store

        sqlite_store.apply(small_graph(), actor="t")
        sqlite_store.topology()
        sqlite_store.apply(Batch(records=[Incident(title="x", ci_ids=["db"])]), actor="t")
        published = sorted(p.name for p in sqlite_store._cache.root.iterdir())
        with open_store(Settings(db=sqlite_store.path)) as other:
            other.topology()
            assert sorted(p.name for p in other._cache.root.iterdir()) == published
        assert isinstance(sqlite_store.get_ci("app"), CI)
