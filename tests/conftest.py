"""Shared fixtures. ``store`` runs a test once per backend: the embedded SQLite store always,
and Neo4j against a real server (skipped with a reason locally when none is running; required
when CI=true)."""

from __future__ import annotations

import pytest

from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store


@pytest.fixture(scope="session")
def registry():
    return load_registry()


def _neo4j_store(registry):
    from tests.neo4j_support import neo4j_settings_or_skip, wipe

    store = open_store(neo4j_settings_or_skip(), registry=registry)
    wipe(store)
    return store


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path, registry):
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        s = open_store(Settings(db=tmp_path / "cmdb.db"), registry=registry, create=True)
    else:
        s = _neo4j_store(registry)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path, registry):
    s = open_store(Settings(db=tmp_path / "cmdb.db"), registry=registry, create=True)
    yield s
    s.close()
