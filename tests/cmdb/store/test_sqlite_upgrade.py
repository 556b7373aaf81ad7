"""A store written before identifiers carried their kind (schema 1's ``ci_ident`` table) opens,
and its identifier index is rebuilt with kinds from the CI documents."""

from __future__ import annotations

import sqlite3

from cmdb.filters import CIFilter
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.cmdb.store.test_contract import small_graph


def test_schema_one_identifier_index_is_upgraded(tmp_path, registry):
    path = tmp_path / "old.db"
    with open_store(Settings(db=path), registry=registry, create=True) as store:
        store.apply(small_graph(), actor="t")
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE ci_identifier;"
        "CREATE TABLE ci_ident (value TEXT NOT NULL, n INTEGER NOT NULL,"
        " PRIMARY KEY (value, n)) WITHOUT ROWID;"
        "INSERT INTO ci_ident SELECT 'stale', n FROM ci;"
    )
    db.close()
    with open_store(Settings(db=path), registry=registry) as store:
        assert [c.id for c in store.find_cis(CIFilter(identifier="10.0.0.5"))] == ["db"]
        assert store.find_cis(CIFilter(identifier="stale")) == []
    db = sqlite3.connect(path)
    kinds = dict(db.execute("SELECT value, kind FROM ci_identifier").fetchall())
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert kinds == {"app-host": "hostname", "10.0.0.5": "ip", "sn-1": "serial_number"}
    assert "ci_ident" not in tables
