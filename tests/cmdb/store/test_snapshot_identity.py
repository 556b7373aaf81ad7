"""The snapshot cache belongs to one store: a file replaced by another one (a backup restore)
never answers from the snapshot of the file it replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from impact.blast import blast_radius


def estate(prefix: str) -> Batch:
    """``<prefix>-app`` depends on ``<prefix>-db``: the same shape and size, other ids."""
    return Batch(
        cis=[
            CI(id=f"{prefix}-app", ci_class="application", name="App"),
            CI(id=f"{prefix}-db", ci_class="database", name="DB", attributes={"engine": "oracle"}),
        ],
        relationships=[
            Relationship(source=f"{prefix}-app", type="depends_on", target=f"{prefix}-db")
        ],
    )


def build(path: Path, prefix: str, registry) -> tuple[str, int]:
    with open_store(Settings(db=path), registry=registry, create=True) as s:
        s.apply(estate(prefix), actor="t")
        return s.store_id, s.version()


def restore(backup: Path, target: Path) -> None:
    """What an operator does: stop, drop the live WAL files, copy the backup over the file."""
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, target)


class TestRestoredFile:
    def test_blast_radius_answers_from_the_restored_graph(self, tmp_path, registry):
        live, backup = tmp_path / "cmdb.db", tmp_path / "backup" / "other.db"
        backup.parent.mkdir()
        id_live, v_live = build(live, "live", registry)
        id_backup, v_backup = build(backup, "bak", registry)
        assert v_live == v_backup and id_live != id_backup
        with open_store(Settings(db=live), registry=registry) as s:
            assert s.topology().ids == ["live-app", "live-db"]  # cached next to the file
        restore(backup, live)
        with open_store(Settings(db=live), registry=registry) as s:
            assert s.store_id == id_backup
            topo = s.topology()
            assert topo.ids == ["bak-app", "bak-db"] and topo.store_id == id_backup
            assert [a.id for a in blast_radius(topo, ["bak-db"]).affected()] == ["bak-app"]

    def test_same_identity_same_version_other_history_is_not_reused(self, tmp_path, registry):
        """A copy that then diverged (same id, same version, other last write) is another
        state of the store too."""
        live, copy = tmp_path / "cmdb.db", tmp_path / "copy.db"
        build(live, "one", registry)
        shutil.copyfile(live, copy)
        with open_store(Settings(db=live), registry=registry) as s:
            s.apply(Batch(cis=[CI(id="extra-live", ci_class="application", name="L")]), actor="t")
            assert "extra-live" in s.topology()
        with open_store(Settings(db=copy), registry=registry) as s:
            s.apply(Batch(cis=[CI(id="extra-copy", ci_class="application", name="C")]), actor="t")
        restore(copy, live)
        with open_store(Settings(db=live), registry=registry) as s:
            topo = s.topology()
            assert "extra-copy" in topo and "extra-live" not in topo


class TestStoreId:
    def test_kept_across_opens(self, tmp_path, registry):
        db = tmp_path / "a.db"
        with open_store(Settings(db=db), registry=registry, create=True) as s:
            first = s.store_id
        with open_store(Settings(db=db), registry=registry) as s:
            assert s.store_id == first
        assert len(first) == 32 and int(first, 16) >= 0

    def test_every_store_has_its_own(self, tmp_path, registry):
        ids = set()
        for name in ("a.db", "b.db"):
            with open_store(Settings(db=tmp_path / name), registry=registry, create=True) as s:
                ids.add(s.store_id)
        assert len(ids) == 2

    def test_the_snapshot_knows_whose_it_is(self, store):
        store.apply(estate("x"), actor="t")
        assert store.topology().store_id == store.store_id != ""

    @pytest.mark.parametrize("ro", [False, True])
    def test_a_store_from_before_store_ids_gets_one(self, tmp_path, registry, ro):
        db = tmp_path / "old.db"
        build(db, "old", registry)
        import sqlite3

        raw = sqlite3.connect(db)
        raw.execute("DELETE FROM meta WHERE key = 'store_id'")
        raw.commit()
        raw.close()
        with open_store(Settings(db=db, read_only=ro), registry=registry) as s:
            assert s.topology().ids == ["old-app", "old-db"]
            if ro:  # nothing may be written: it has no identity, and its snapshot stays in memory
                assert s.store_id == ""
            else:
                assert len(s.store_id) == 32
