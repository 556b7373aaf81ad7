"""The small estate of tests/impact, in a fresh store of each backend."""

from __future__ import annotations

import pytest

from tests.impact.conftest import estate_batch


@pytest.fixture
def estate(store):
    """``store`` (SQLite always, Neo4j when a server is configured) holding the estate."""
    store.apply(estate_batch(), actor="test")
    return store
