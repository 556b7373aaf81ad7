"""Finding the test Neo4j server, and emptying it between tests.

Locally a missing server skips the Neo4j tests with a reason that says how to start one; with
``CI=true`` it fails them instead, so a CI run can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from cmdb.settings import Settings

__all__ = ["neo4j_settings_or_skip", "wipe"]

ROOT = Path(__file__).resolve().parent.parent
HINT = "start one with scripts/neo4j-dev-server start"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Neo4j is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"{reason}; {HINT}")


def _reachable(uri: str) -> bool:
    parsed = urlparse(uri)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 7687), 2):
            return True
    except OSError:
        return False


def neo4j_settings_or_skip() -> Settings:
    """Settings for the test server: ``CMDB_TEST_NEO4J_URI`` / ``CMDB_TEST_NEO4J_PASSWORD``,
    else the dev server's (``.neo4j/password``, port ``CMDB_NEO4J_DEV_PORT`` or 7687)."""
    uri = os.environ.get("CMDB_TEST_NEO4J_URI")
    password = os.environ.get("CMDB_TEST_NEO4J_PASSWORD")
    if uri is None:
        pw_file = ROOT / ".neo4j" / "password"
        if not pw_file.is_file():
            _unavailable("no Neo4j test server configured (CMDB_TEST_NEO4J_URI is not set)")
        uri = f"bolt://127.0.0.1:{os.environ.get('CMDB_NEO4J_DEV_PORT', '7687')}"
        password = password or pw_file.read_text().strip()
    if not password:
        _unavailable(f"CMDB_TEST_NEO4J_PASSWORD is not set for {uri}")
    if not _reachable(uri):
        _unavailable(f"no Neo4j server answers at {uri}")
    return Settings(
        store=uri,
        neo4j_password=password,
        neo4j_user=os.environ.get("CMDB_TEST_NEO4J_USER", "neo4j"),
    )


def _delete_some(tx, what: str) -> int:
    return tx.run(f"{what} LIMIT 10000 DELETE x RETURN count(*)").single()[0]


def wipe(store) -> None:
    """Delete every node and relationship in batches (constraints and indexes stay), then
    recreate the meta node, so the store is as new. Managed transactions retry deadlocks."""
    with store._session() as s:
        # relationships first: a node of high degree would make DETACH DELETE transactions big
        for what in ("MATCH ()-[x]->() WITH x", "MATCH (x) WITH x"):
            while s.execute_write(_delete_some, what):
                pass
        s.execute_write(
            lambda tx: tx.run(
                "MERGE (m:CMDBMeta {name: 'cmdb'}) ON CREATE SET m.version = 0, "
                "m.batch = 0, m.seq = 0, m.schema = 1, m.store_id = $sid",
                sid=store.store_id,
            ).consume()
        )
    store._topology = None
