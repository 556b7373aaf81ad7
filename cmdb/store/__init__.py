"""Store backends behind one factory.

``open_store(settings)`` is the only way shells get a store: they never import a backend class.
Only commands that create data pass ``create=True``; for every other one a missing SQLite file is
:class:`~cmdb.errors.StoreNotFoundError`, so a mistyped path never becomes an empty store.

>>> import tempfile, os
>>> from cmdb.settings import Settings
>>> path = os.path.join(tempfile.mkdtemp(), "t.db")
>>> open_store(Settings(db=path))
Traceback (most recent call last):
...
cmdb.errors.StoreNotFoundError: no store at ...t.db: create one with `cmdb init` (or check ...)
>>> with open_store(Settings(db=path), create=True) as s:
...     s.version(), len(s.store_id)
(0, 32)
"""

from __future__ import annotations

from urllib.parse import urlparse

from cmdb.errors import ConfigError
from cmdb.registry import Registry, load_registry
from cmdb.settings import Settings
from cmdb.store.protocol import GraphStore, Subgraph

__all__ = ["GraphStore", "Subgraph", "open_store"]

NEO4J_SCHEMES = {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}


def open_store(
    settings: Settings, *, registry: Registry | None = None, create: bool = False
) -> GraphStore:
    """Open the store that ``settings.store_uri`` names, bound to ``registry`` (or the one
    ``settings.registry`` names, or the built-in one).

    An embedded store is created (with its directory) only when ``create`` is true; otherwise
    a missing file raises :class:`~cmdb.errors.StoreNotFoundError`. ``settings.read_only``
    opens it read-only. A Neo4j server's database always exists: ``create`` is ignored."""
    registry = registry or load_registry(settings.registry)
    uri = settings.store_uri
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        from cmdb.store.sqlite import SQLiteStore

        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        return SQLiteStore(
            uri.removeprefix("sqlite:///"), registry, create=create, read_only=settings.read_only
        )
    if scheme in NEO4J_SCHEMES:
        from cmdb.store.neo4j import Neo4jStore

        if settings.neo4j_password is None:
            raise ConfigError(
                f"store {uri} needs a password: set CMDB_NEO4J_PASSWORD (and CMDB_NEO4J_USER)"
            )
        return Neo4jStore(
            uri,
            registry,
            user=settings.neo4j_user,
            password=settings.neo4j_password.get_secret_value(),
            database=settings.neo4j_database,
        )
    raise ConfigError(
        f"unknown store URI '{uri}': use sqlite:///PATH, or neo4j://, bolt:// (+s, +ssc) HOST:PORT"
    )
