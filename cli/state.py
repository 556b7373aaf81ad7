"""Per-invocation state kept in ``ctx.obj``: settings, and a store opened on first use.

Only the commands that create data (``init``, ``demo``, ``import``, ``generate``) open the store
with ``create=True``; every other command opens an existing store, and a missing SQLite file is
a one-line error (exit 3) instead of a new, empty store at a mistyped path.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the settings, store and registry are imported when first used
    from cmdb.registry import Registry
    from cmdb.settings import Settings
    from cmdb.store import GraphStore

__all__ = ["State", "get_state"]


@dataclass
class State:
    settings: Settings
    _store: GraphStore | None = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)

    @property
    def registry(self) -> Registry:
        """The registry the settings name (loaded once; the store is bound to it)."""
        if self._registry is None:
            from cmdb.registry import load_registry

            self._registry = load_registry(self.settings.registry)
        return self._registry

    def open(self, *, create: bool = False) -> GraphStore:
        """The store, opened on first use; ``create`` makes it when it does not exist."""
        if self._store is None:
            from cmdb.store import open_store

            self._store = open_store(self.settings, registry=self.registry, create=create)
        return self._store

    @property
    def store(self) -> GraphStore:
        """The existing store (:class:`~cmdb.errors.StoreNotFoundError` when there is none)."""
        return self.open()

    @property
    def actor(self) -> str:
        if self.settings.actor:
            return self.settings.actor
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def get_state(ctx: typer.Context) -> State:
    return ctx.find_root().obj
