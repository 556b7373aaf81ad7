"""Snapshots under concurrent OS processes: a reader sees one whole snapshot or none.

Two writer processes add CIs and relationships in small batches (and take a snapshot after each,
as ``incident open`` does) while two reader processes load ``store.topology()`` in a loop, check
that it is one consistent state of the store, and run a blast radius on it. Every process
publishes snapshots into the same cache, so loads race with publications and clean-ups.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from pathlib import Path

import numpy as np

from cmdb.model import CI, Batch, Relationship
from cmdb.registry import load_registry
from cmdb.settings import Settings
from cmdb.store import open_store

SECONDS = 4.0
BASE = 400  # applications in the first batch, each depending on one of BASE // 10 databases
DBS = BASE // 10


def _base() -> Batch:
    dbs = [
        CI(id=f"db-{i:04d}", ci_class="database", name="DB", attributes={"engine": "oracle"})
        for i in range(DBS)
    ]
    apps = [CI(id=f"app-{i:04d}", ci_class="application", name="App") for i in range(BASE)]
    rels = [
        Relationship(source=f"app-{i:04d}", type="depends_on", target=f"db-{i % DBS:04d}")
        for i in range(BASE)
    ]
    return Batch(cis=dbs + apps, relationships=rels)


def _check(topo) -> None:
    """One whole, consistent state: equal lengths, edges in range, CSR shapes, and what the
    writers did so far as a prefix per writer, each new CI with its one relationship."""
    n, m = topo.n, topo.m
    assert len(topo.ids) == len(set(topo.ids)) == n
    for name in (
        "class_code",
        "is_group",
        "min_required",
        "criticality",
        "last_seen",
        "availability",
    ):
        assert getattr(topo, name).shape == (n,), name
    assert topo.src.shape == topo.dst.shape == topo.rtype.shape == (m,)
    if m:
        assert int(topo.src.min()) >= 0 and int(topo.src.max()) < n
        assert int(topo.dst.min()) >= 0 and int(topo.dst.max()) < n
    for name in ("dependents", "dependencies", "groups", "members"):
        csr = getattr(topo, name).packed()  # a snapshot brought up to date may have moved rows
        assert csr.indptr.shape == (n + 1,) and int(csr.indptr[-1]) == csr.indices.size, name
        assert not csr.indices.size or int(csr.indices.max()) < n, name
    added: dict[str, list[int]] = {}
    for ci in topo.ids:
        if ci.startswith("w"):
            writer, i = ci.split("-")
            added.setdefault(writer, []).append(int(i))
    for nums in added.values():
        assert sorted(nums) == list(range(len(nums))), "a writer's CIs are not a prefix"
    assert n == DBS + BASE + sum(map(len, added.values()))
    assert m == BASE + sum(map(len, added.values()))
    assert np.array_equal(np.sort(topo.src), np.arange(DBS, n)), "each app has one edge"


def _writer(db: str, name: str, deadline: float, out) -> None:
    from cmdb.errors import StoreUnavailableError

    errors, done = [], 0
    try:
        with open_store(Settings(db=db), registry=load_registry()) as store:
            while time.time() < deadline:
                ci_id = f"{name}-{done}"
                batch = Batch(
                    cis=[CI(id=ci_id, ci_class="application", name="New")],
                    relationships=[
                        Relationship(source=ci_id, type="depends_on", target=f"db-{done % DBS:04d}")
                    ],
                )
                try:
                    store.apply(batch, actor=name)
                except StoreUnavailableError:  # busy: try the same CI again
                    continue
                done += 1
                store.topology()
    except Exception:
        errors.append(traceback.format_exc())
    out.put((name, done, errors))


def _reader(db: str, name: str, deadline: float, out) -> None:
    from impact.blast import blast_radius

    errors, done = [], 0
    with open_store(Settings(db=db), registry=load_registry()) as store:
        while time.time() < deadline and len(errors) < 5:
            try:
                store._topology = None  # never the in-process copy: always the shared cache
                topo = store.topology()
                _check(topo)
                br = blast_radius(topo, ["db-0000"])
                assert len(br) == len(topo.dependents.row(topo.index("db-0000")))
                done += 1
            except Exception:
                errors.append(traceback.format_exc())
    out.put((name, done, errors))


def test_readers_see_whole_snapshots_while_writers_publish(tmp_path: Path, registry):
    db = tmp_path / "cmdb.db"
    with open_store(Settings(db=db), registry=registry, create=True) as store:
        store.apply(_base(), actor="setup")
        store.topology()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    deadline = time.time() + 3.0 + SECONDS  # the first seconds go to starting the interpreters
    procs = [ctx.Process(target=_writer, args=(str(db), f"w{i}", deadline, out)) for i in (1, 2)]
    procs += [ctx.Process(target=_reader, args=(str(db), f"r{i}", deadline, out)) for i in (1, 2)]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        name, done, errors = out.get(timeout=60)
        results[name] = (done, errors)
    for p in procs:
        p.join(timeout=30)
    errors = [e for _, errs in results.values() for e in errs]
    assert not errors, f"{len(errors)} errors; first:\n{errors[0]}"
    assert all(done > 0 for done, _ in results.values()), results
    with open_store(Settings(db=db), registry=registry) as store:
        _check(store.topology())
