"""What only the embedded backend promises beyond the shared contract."""

from __future__ import annotations

import sqlite3

import pytest

from cmdb.errors import StoreUnavailableError
from cmdb.model import CI, Batch
from cmdb.settings import Settings
from cmdb.store import open_store


def test_history_is_append_only(sqlite_store):
    sqlite_store.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
    raw = sqlite3.connect(sqlite_store.path)
    for sql in ("UPDATE history SET actor = 'mallory'", "DELETE FROM history"):
        with pytest.raises(sqlite3.IntegrityError, match="history is append-only"):
            raw.execute(sql)
    raw.close()


def test_snapshot_cache_survives_a_new_process(tmp_path, registry):
    db = tmp_path / "c.db"
    (tmp_path / "c.db.topology-0123456789ab").mkdir()  # a cache of the format before
    with open_store(Settings(db=db), registry=registry, create=True) as s:
        s.apply(Batch(cis=[CI(id="a", ci_class="application", name="A")]), actor="t")
        first = s.topology()
    caches = list((tmp_path / "c.db.snapshots").iterdir())
    assert len(caches) == 1 and (caches[0] / "manifest.json").exists()
    assert caches[0].name.startswith(f"{first.store_id}-{first.version}-")
    assert not list(tmp_path.glob("c.db.topology-*"))
    with open_store(Settings(db=db), registry=registry) as s:
        again = s.topology()
        assert again.ids == first.ids and again.version == first.version
        s.apply(Batch(cis=[CI(id="b", ci_class="application", name="B")]), actor="t")
        assert s.topology().ids == ["a", "b"]
    # a small change is brought in from history: the snapshot on disk stays the base
    # (publishing one that supersedes it removes it: test_incremental_snapshot.py)
    assert [p.name for p in (tmp_path / "c.db.snapshots").iterdir()] == [caches[0].name]


def test_unopenable_file(tmp_path, registry):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreUnavailableError, match="cannot open the store"):
        open_store(Settings(db=tmp_path / "dir.db"), registry=registry)
