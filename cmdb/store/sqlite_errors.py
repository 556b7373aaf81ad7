"""Translate sqlite3 errors into :mod:`cmdb.errors`, in one place.

The SQLite twin of :mod:`cmdb.store.neo4j_errors`: every call of the SQLite store into sqlite3
runs inside :func:`map_sqlite_errors`, so no ``sqlite3`` exception reaches a caller, and the same
fault gives the same error type on both backends:

    a constraint the database enforces       ConflictError
    the write lock is held too long (busy)   StoreUnavailableError
    the file cannot be opened                StoreUnavailableError
    the file or its directory is read-only   StoreError "the store at PATH is read-only"
    the store was closed                     StoreError "the store at PATH is closed"
    anything else                            StoreError

Errors of the project itself (a :class:`~cmdb.errors.ValidationError` raised inside a write)
pass through unchanged. Each message is one line that names the file.

>>> import sqlite3
>>> try:
...     with map_sqlite_errors("/data/cmdb.db"):
...         sqlite3.connect(":memory:").execute("SELECT * FROM nowhere")
... except StoreError as err:
...     print(err)
the store at /data/cmdb.db failed: no such table: nowhere
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cmdb.errors import ConflictError, StoreError, StoreUnavailableError

__all__ = ["closed_error", "map_sqlite_errors", "read_only_error"]


def closed_error(path: str | Path) -> StoreError:
    return StoreError(f"the store at {path} is closed")


def read_only_error(path: str | Path) -> StoreError:
    return StoreError(f"the store at {path} is read-only")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


@contextmanager
def map_sqlite_errors(path: str | Path) -> Iterator[None]:
    """Run a block of sqlite3 calls on the store at ``path``, re-raising sqlite3 errors as
    :mod:`cmdb.errors` types."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc, path) from None


def _translate(exc: sqlite3.Error, path: str | Path) -> StoreError | ConflictError:
    text = _first_line(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text.lower():
        return closed_error(path)
    if isinstance(exc, sqlite3.IntegrityError) or code == sqlite3.SQLITE_CONSTRAINT:
        return ConflictError(f"the store at {path} refused a write: {text}")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreUnavailableError(
            f"the store at {path} is busy: another process holds its write lock ({text})"
        )
    if code == sqlite3.SQLITE_READONLY:
        return read_only_error(path)
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM):
        return StoreUnavailableError(f"cannot open the store at {path} ({text})")
    return StoreError(f"the store at {path} failed: {text}")
