"""Several OS processes writing to one store: no lost records, no lost updates.

Each test runs on both backends: the SQLite file is shared by path; the Neo4j processes reach the
same server. Processes are spawned (not forked), so each opens its own store as a real second
user would.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from cmdb.filters import RecordFilter
from cmdb.model import CI, Batch
from cmdb.settings import Settings
from tests.cmdb.store import concurrency_workers as workers

PROCESSES = 8


def _settings(store) -> Settings:
    if store.uri.startswith("sqlite"):
        return Settings(db=store.path)
    from tests.neo4j_support import neo4j_settings_or_skip

    return neo4j_settings_or_skip()


def _pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))


class TestConcurrentWriters:
    def test_eight_processes_open_two_hundred_distinct_incidents(self, store):
        store.apply(
            Batch(
                cis=[CI(id="db", ci_class="database", name="DB", attributes={"engine": "oracle"})]
            ),
            actor="t",
        )
        settings = _settings(store)
        with _pool(PROCESSES) as pool:
            futures = [pool.submit(workers.open_records, settings, w, 25) for w in range(PROCESSES)]
            ids = [i for f in futures for i in f.result()]
        assert len(ids) == 200 and len(set(ids)) == 200
        stored = store.find_records(RecordFilter())
        assert len(stored) == 200
        assert {r.title for r in stored} == {
            f"w{w}-{i}" for w in range(PROCESSES) for i in range(25)
        }
        assert all(r.version == 1 for r in stored)  # none was overwritten

    def test_no_update_is_lost_between_four_editors(self, store):
        store.apply(
            Batch(
                cis=[CI(id="counter", ci_class="application", name="Counter", attributes={"n": 0})]
            ),
            actor="t",
        )
        settings = _settings(store)
        with _pool(4) as pool:
            futures = [pool.submit(workers.increment, settings, w, 15) for w in range(4)]
            for f in futures:
                f.result()
        final = store.get_ci("counter")
        assert final.attributes["n"] == 60
        assert final.version == 61
