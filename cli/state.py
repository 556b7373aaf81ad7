"""Per-invocation state kept in ``ctx.obj``: settings, and a store opened on first use."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

import typer

from cmdb.settings import Settings
from cmdb.store import GraphStore, open_store

__all__ = ["State", "get_state"]


@dataclass
class State:
    settings: Settings
    _store: GraphStore | None = field(default=None, repr=False)

    @property
    def store(self) -> GraphStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

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
