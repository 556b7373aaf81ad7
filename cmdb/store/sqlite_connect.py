"""Opening the SQLite store's file: never create one by mistake, and read a read-only one.

Assumptions: the store file is in WAL mode. A file is opened read-write only when it and its
directory are writable (``os.access``) and the caller did not ask for read-only; otherwise it is
opened with ``mode=ro``. SQLite reads a WAL database read-only only if its ``-shm`` file exists or
can be created; in a read-only directory without one it falls back to ``immutable=1``, which is
correct only while no ``-wal`` file holds commits (then every commit is in the main file, and
nobody can write to the directory). A missing file is :class:`~cmdb.errors.StoreNotFoundError`
unless ``create`` is set: a mistyped path never becomes an empty store, parent directories
included.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from cmdb.errors import StoreNotFoundError, StoreUnavailableError
from cmdb.store.sqlite_errors import map_sqlite_errors

__all__ = ["connect", "is_read_only"]

BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another's write lock before "busy"


def is_read_only(path: Path) -> bool:
    """True when ``path`` exists and it or its directory cannot be written by this process."""
    return path.exists() and not (
        os.access(path, os.W_OK) and os.access(path.parent.absolute(), os.W_OK)
    )


def _uri(path: Path, query: str) -> str:
    return f"file:{quote(str(path.absolute()))}?{query}"


def _open(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def connect(path: Path, *, create: bool, read_only: bool) -> sqlite3.Connection:
    """A connection to the store file at ``path`` (read-only when ``read_only``)."""
    if not path.exists():
        if not create:
            raise StoreNotFoundError(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot open the store at {path} ({exc})") from None
    return _read_only(path) if read_only else _read_write(path, create)


def _read_write(path: Path, create: bool) -> sqlite3.Connection:
    with map_sqlite_errors(path):
        db = _open(_uri(path, "mode=rwc" if create else "mode=rw"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    return db


def _read_only(path: Path) -> sqlite3.Connection:
    probe = "SELECT count(*) FROM sqlite_master"  # the first read opens the WAL index
    db: sqlite3.Connection | None = None
    try:
        db = _open(_uri(path, "mode=ro"))
        db.execute(probe).fetchone()
        return db
    except sqlite3.OperationalError as exc:
        if db is not None:
            db.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreUnavailableError(
                f"cannot open the read-only store at {path}: its -wal file holds commits that "
                f"need a -shm file next to it ({exc})"
            ) from None
    with map_sqlite_errors(path):
        db = _open(_uri(path, "immutable=1"))
        db.execute(probe).fetchone()
    return db
