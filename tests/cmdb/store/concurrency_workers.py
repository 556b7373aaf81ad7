"""Worker functions for the multi-process store tests (importable by spawned processes)."""

from __future__ import annotations

from cmdb.errors import ConflictError
from cmdb.model import CI, Batch, Expected, Incident
from cmdb.settings import Settings
from cmdb.store import open_store


def open_records(settings: Settings, worker: int, count: int) -> list[str]:
    """Open ``count`` incidents one batch each; the ids the store gave them."""
    ids = []
    with open_store(settings) as store:
        for i in range(count):
            result = store.apply(
                Batch(records=[Incident(title=f"w{worker}-{i}", ci_ids=["db"])]), actor=f"w{worker}"
            )
            ids += result.allocated
    return ids


def increment(settings: Settings, worker: int, count: int) -> int:
    """Read-modify-write a counter attribute ``count`` times with the version read; retry on
    conflict. Returns how many conflicts this worker saw."""
    conflicts = 0
    with open_store(settings) as store:
        done = 0
        while done < count:
            ci = store.get_ci("counter")
            n = ci.attributes.get("n", 0)
            bumped = CI.model_validate(
                {**ci.model_dump(by_alias=True), "attributes": {**ci.attributes, "n": n + 1}}
            )
            try:
                store.apply(
                    Batch(
                        cis=[bumped],
                        expected=[Expected(entity="ci", id="counter", version=ci.version)],
                    ),
                    actor=f"w{worker}",
                )
            except ConflictError:
                conflicts += 1
                continue
            done += 1
    return conflicts
