"""Driver errors become one-line cmdb errors, in one place (cmdb.store.neo4j_errors)."""

from __future__ import annotations

import socket

import pytest
from neo4j import exceptions as nx

from cmdb.errors import (
    ConfigError,
    ConflictError,
    StoreError,
    StoreUnavailableError,
    ValidationError,
)
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.neo4j_errors import map_driver_errors
from tests.neo4j_support import neo4j_settings_or_skip

URI = "bolt://db.example:7687"


class TestMapDriverErrors:
    @pytest.mark.parametrize(
        ("raised", "expected", "match"),
        [
            (
                nx.ServiceUnavailable("Couldn't connect (reason [Errno 111] Connection refused)"),
                StoreUnavailableError,
                r"^cannot reach Neo4j at bolt://db\.example:7687 "
                r"\(connection refused\)$",
            ),
            (nx.SessionExpired("gone"), StoreUnavailableError, r"cannot reach Neo4j .* \(gone\)$"),
            (
                nx.AuthError("The client is unauthorized"),
                StoreUnavailableError,
                r"^Neo4j at bolt://db\.example:7687 rejected the credentials for user 'ann'$",
            ),
            (
                nx.ConstraintError("Node(1) already exists\nwith label CI"),
                ConflictError,
                r"^Neo4j at .* refused a write: Node\(1\) already exists$",
            ),
            (nx.ConfigurationError("bad"), ConfigError, r"bad Neo4j settings"),
            (nx.Neo4jError("weird\nmore"), StoreError, r"^Neo4j at .* failed: .*: weird$"),
            (nx.DriverError("broken"), StoreError, r"Neo4j driver error for .*: broken$"),
        ],
    )
    def test_translates(self, raised, expected, match):
        with pytest.raises(expected, match=match) as info, map_driver_errors(URI, "ann"):
            raise raised
        assert type(info.value) is expected
        assert "\n" not in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__

    def test_project_errors_pass_through(self):
        with pytest.raises(ValidationError, match="bad item"), map_driver_errors(URI, "ann"):
            raise ValidationError("bad item")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.neo4j
class TestAgainstServer:
    def test_wrong_password(self, registry):
        real = neo4j_settings_or_skip()
        # a user that does not exist, so the server's lock-out never hits the real test user
        bad = Settings(store=real.store, neo4j_user="cmdb-no-such-user", neo4j_password="wrong")
        with pytest.raises(StoreUnavailableError) as info:
            open_store(bad, registry=registry)
        assert str(info.value) == (
            f"Neo4j at {real.store} rejected the credentials for user 'cmdb-no-such-user'"
        )

    def test_unreachable_port(self, registry):
        uri = f"bolt://127.0.0.1:{_free_port()}"
        with pytest.raises(StoreUnavailableError) as info:
            open_store(Settings(store=uri, neo4j_password="x"), registry=registry)
        assert str(info.value) == f"cannot reach Neo4j at {uri} (connection refused)"

    def test_right_password_opens(self, registry):
        with open_store(neo4j_settings_or_skip(), registry=registry) as store:
            assert store.version() >= 0
