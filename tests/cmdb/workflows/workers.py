"""Worker functions for the multi-process workflow tests (importable by spawned processes)."""

from __future__ import annotations

from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.workflows.incidents import open_incident


def open_incidents(settings: Settings, worker: int, count: int) -> list[str]:
    """Open ``count`` incidents through the workflow, as `cmdb incident open` does; their ids."""
    ids = []
    with open_store(settings) as store:
        for i in range(count):
            opened = open_incident(
                store, ci_ids=["pc-1"], urgency="low", title=f"w{worker}-{i}", actor=f"w{worker}"
            )
            ids.append(opened.incident.id)
    return ids
