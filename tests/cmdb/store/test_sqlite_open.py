"""Opening the embedded store: never create one by mistake; read one that cannot be written."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cmdb.errors import StoreError, StoreNotFoundError, StoreUnavailableError
from cmdb.filters import CIFilter
from cmdb.model import CI, Batch
from cmdb.settings import Settings
from cmdb.store import open_store
from impact.blast import blast_radius
from tests.cmdb.store.test_contract import small_graph

ROOT = Path(__file__).resolve().parents[3]


def make(path: Path, registry) -> str:
    with open_store(Settings(db=path), registry=registry, create=True) as s:
        s.apply(small_graph(), actor="t")
        return s.store_id


def files(directory: Path) -> list[str]:
    """The names in ``directory`` but SQLite's own -wal and -shm files."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(("-wal", "-shm")))


class TestCreate:
    def test_a_missing_file_is_not_created(self, tmp_path, registry):
        path = tmp_path / "typo" / "cmbd.db"
        with pytest.raises(StoreNotFoundError) as info:
            open_store(Settings(db=path), registry=registry)
        assert str(info.value) == (
            f"no store at {path}: create one with `cmdb init` (or check --db / CMDB_DB)"
        )
        assert isinstance(info.value, StoreUnavailableError)
        assert not path.parent.exists()

    def test_a_missing_file_in_an_existing_directory_is_not_created(self, tmp_path, registry):
        with pytest.raises(StoreNotFoundError):
            open_store(Settings(db=tmp_path / "cmbd.db"), registry=registry)
        assert list(tmp_path.iterdir()) == []

    def test_create_makes_the_file_and_its_directories(self, tmp_path, registry):
        path = tmp_path / "a" / "b" / "cmdb.db"
        with open_store(Settings(db=path), registry=registry, create=True) as s:
            assert s.version() == 0
        with open_store(Settings(db=path), registry=registry) as s:  # now it exists
            assert s.version() == 0

    def test_unopenable_file(self, tmp_path, registry):
        (tmp_path / "dir.db").mkdir()
        with pytest.raises(StoreUnavailableError, match="cannot open the store"):
            open_store(Settings(db=tmp_path / "dir.db"), registry=registry)

    def test_not_a_database(self, tmp_path, registry):
        (tmp_path / "notes.db").write_text("hello, this is not SQLite " * 100)
        with pytest.raises(StoreUnavailableError, match=r"cannot open the store at .*notes\.db"):
            open_store(Settings(db=tmp_path / "notes.db"), registry=registry)


class TestBusy:
    def test_a_held_write_lock_is_store_unavailable(self, sqlite_store):
        sqlite_store._conn.execute("PRAGMA busy_timeout=50")
        holder = sqlite3.connect(sqlite_store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match=r"^the store at .* is busy"):
                sqlite_store.apply(small_graph(), actor="t")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        sqlite_store.apply(small_graph(), actor="t")
        assert sqlite_store.get_ci("app").version == 1


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


class TestReadOnly:
    def test_reads_work_and_nothing_is_written_beside_the_file(
        self, tmp_path, registry, cache_home
    ):
        db = tmp_path / "data" / "cmdb.db"
        store_id = make(db, registry)
        before = files(db.parent)
        data = db.read_bytes()
        with open_store(Settings(db=db, read_only=True), registry=registry) as s:
            assert s.read_only and s.store_id == store_id
            assert [c.id for c in s.find_cis(CIFilter(classes=["database"]))] == ["db"]
            topo = s.topology()
            assert [a.id for a in blast_radius(topo, ["db"]).affected()] == ["app"]
            with pytest.raises(StoreError, match=rf"^the store at {db} is read-only$"):
                s.apply(Batch(cis=[CI(id="x", ci_class="application", name="X")]), actor="t")
            with pytest.raises(StoreError, match="is read-only"):
                s.apply(Batch(), actor="t")
        assert db.read_bytes() == data
        assert files(db.parent) == before == ["cmdb.db"]  # no snapshot beside it
        cached = list((cache_home / "graph-cmdb" / "snapshots" / store_id).iterdir())
        assert len(cached) == 1 and (cached[0] / "manifest.json").exists()
        with open_store(Settings(db=db, read_only=True), registry=registry) as s:
            assert s.topology().ids == topo.ids  # the next process reads the user cache

    def test_an_unwritable_file_is_opened_read_only(
        self, tmp_path, registry, cache_home, monkeypatch
    ):
        db = tmp_path / "cmdb.db"
        make(db, registry)
        real = os.access
        monkeypatch.setattr(
            "cmdb.store.sqlite_connect.os.access",
            lambda p, mode: False if mode == os.W_OK else real(p, mode),
        )
        with open_store(Settings(db=db), registry=registry) as s:
            assert s.read_only
            assert s.get_ci("db").ci_class == "database"
            with pytest.raises(StoreError, match="is read-only"):
                s.apply(small_graph(), actor="t")

    def test_no_cache_anywhere_still_answers(self, tmp_path, registry, monkeypatch):
        db = tmp_path / "cmdb.db"
        make(db, registry)
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache cannot be created
        with open_store(Settings(db=db, read_only=True), registry=registry) as s:
            assert sorted(s.topology().ids) == ["app", "db", "pool", "srv"]


_PROBE = """
import json, sys
from cmdb.errors import StoreError
from cmdb.filters import CIFilter
from cmdb.model import Batch
from cmdb.settings import Settings
from cmdb.store import open_store
out = {}
with open_store(Settings(db=sys.argv[1])) as s:
    out["read_only"] = s.read_only
    out["ids"] = [c.id for c in s.find_cis(CIFilter())]
    out["topology"] = list(s.topology().ids)
    try:
        s.apply(Batch(retire_cis=["app"]), actor="t")
    except StoreError as exc:
        out["write"] = str(exc)
print(json.dumps(out))
"""


def _as_unprivileged(db: Path, cache: Path) -> dict:
    """Run the probe as a user who cannot write ``db`` or its directory (nobody, when the
    tests run as root; the tests' own user otherwise, with the directory made read-only)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", _PROBE, str(db)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop the write permission")
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        can = subprocess.run(
            [*cmd[:4], sys.executable, "-c", "import cmdb.store"],
            env=env,
            cwd="/",
            capture_output=True,
            timeout=60,
        )
        if can.returncode != 0:  # e.g. a checkout under a private (0700) temporary directory
            pytest.skip(f"user nobody cannot run this checkout's Python at {ROOT}")
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def shared_dir():
    """A directory that an unprivileged user can read but not write."""
    base = Path(tempfile.mkdtemp(prefix="cmdb-ro-"))
    (base / "data").mkdir()
    (base / "cache").mkdir()
    os.chmod(base, 0o755)
    os.chmod(base / "cache", 0o777)
    yield base
    os.chmod(base / "data", 0o755)
    shutil.rmtree(base, ignore_errors=True)


class TestReallyReadOnly:
    """File permissions, not a flag: the WAL file set as a clean shutdown leaves it (no -wal,
    no -shm) and as a live writer leaves it (commits still in the -wal file)."""

    def test_a_cleanly_closed_store_in_a_read_only_directory(self, shared_dir, registry):
        db = shared_dir / "data" / "cmdb.db"
        make(db, registry)
        assert not Path(f"{db}-wal").exists()
        os.chmod(db, 0o444)
        os.chmod(db.parent, 0o555)
        got = _as_unprivileged(db, shared_dir / "cache")
        assert got["read_only"] and got["ids"] == ["app", "db", "pool", "srv"]
        assert sorted(got["topology"]) == got["ids"]
        assert got["write"] == f"the store at {db} is read-only"

    def test_commits_still_in_the_wal_are_seen(self, shared_dir, registry):
        db = shared_dir / "data" / "cmdb.db"
        make(db, registry)
        with open_store(Settings(db=db), registry=registry) as writer:
            writer._conn.execute("PRAGMA wal_autocheckpoint=0")
            writer.apply(Batch(cis=[CI(id="late", ci_class="application", name="L")]), actor="t")
            assert Path(f"{db}-wal").stat().st_size > 0
            for p in db.parent.iterdir():
                if p.is_file():
                    os.chmod(p, 0o644)
            got = _as_unprivileged(db, shared_dir / "cache")
        assert got["read_only"] and "late" in got["ids"] and "late" in got["topology"]
