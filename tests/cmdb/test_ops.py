"""Single-entity operations: create never overwrites, updates refuse a stale version
(cmdb.ops), on every backend."""

from __future__ import annotations

import multiprocessing

import pytest

from cmdb import ops
from cmdb.errors import ConflictError
from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store


def app(ci_id="app-1", name="App"):
    return CI(id=ci_id, ci_class="application", name=name)


class Racing:
    """A store where another writer applies ``batch`` just before each of our writes:
    what happens when two processes interleave between a check and a write."""

    def __init__(self, store, batch):
        self.inner, self.batch = store, batch

    def apply(self, batch, **kw):
        if self.batch is not None:
            self.inner.apply(self.batch, actor="someone-else")
            self.batch = None
        return self.inner.apply(batch, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class TestCreateCi:
    def test_creates(self, store):
        created = ops.create_ci(store, app(), actor="t")
        assert (created.name, created.version) == ("App", 1)

    def test_existing_id_is_a_conflict(self, store):
        ops.create_ci(store, app(), actor="t")
        with pytest.raises(ConflictError, match="CI 'app-1' already exists"):
            ops.create_ci(store, app(name="Other"), actor="t")
        assert store.get_ci("app-1").name == "App"

    def test_concurrent_create_never_overwrites(self, store):
        """Another writer creates the id between the check and the write: ours must fail."""
        racing = Racing(store, Batch(cis=[app(name="Theirs")]))
        with pytest.raises(ConflictError, match="already exists"):
            ops.create_ci(racing, app(name="Ours"), actor="t")
        assert store.get_ci("app-1").name == "Theirs"


def _create(db, name, results):
    store = open_store(Settings(db=db))
    try:
        ops.create_ci(store, app(name=name), actor=name)
        results.put("created")
    except ConflictError:
        results.put("conflict")
    finally:
        store.close()


class TestCreateCiProcesses:
    def test_one_of_several_processes_creates(self, tmp_path, registry):
        db = tmp_path / "race.db"
        open_store(Settings(db=db), registry=registry, create=True).close()
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        procs = [ctx.Process(target=_create, args=(db, f"p{i}", results)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = sorted(results.get(timeout=5) for _ in procs)
        assert outcomes == ["conflict"] * 3 + ["created"]
        with open_store(Settings(db=db), registry=registry) as store:
            assert store.get_ci("app-1").version == 1


class TestUpdateCi:
    def test_patches_only_given_fields(self, store):
        store.apply(
            Batch(cis=[app().model_copy(update={"owner": "alice", "attributes": {"a": 1}})]),
            actor="t",
        )
        updated = ops.update_ci(
            store, "app-1", fields={"name": "New"}, set_attributes={"b": 2}, actor="t"
        )
        assert (updated.name, updated.owner, updated.attributes) == (
            "New",
            "alice",
            {"a": 1, "b": 2},
        )

    def test_expected_version(self, store):
        ops.create_ci(store, app(), actor="t")
        ops.update_ci(store, "app-1", fields={"owner": "a"}, expected_version=1, actor="t")
        with pytest.raises(ConflictError, match="version 2 is stored, you expected 1"):
            ops.update_ci(store, "app-1", fields={"owner": "b"}, expected_version=1, actor="t")
        assert store.get_ci("app-1").owner == "a"

    def test_concurrent_update_is_not_lost(self, store):
        """Another writer changes the CI between our read and our write: ours must fail."""
        ops.create_ci(store, app(), actor="t")
        theirs = store.get_ci("app-1").model_copy(update={"owner": "them"})
        racing = Racing(store, Batch(cis=[theirs]))
        with pytest.raises(ConflictError, match="changed by someone else"):
            ops.update_ci(racing, "app-1", set_attributes={"x": 1}, actor="t")
        assert store.get_ci("app-1").owner == "them"


class TestAddRelationship:
    def test_twice_is_a_conflict(self, store):
        store.apply(Batch(cis=[app(), app("app-2")]), actor="t")
        rel = Relationship(source="app-1", type="depends_on", target="app-2")
        ops.add_relationship(store, rel, actor="t")
        with pytest.raises(ConflictError, match="already exists"):
            ops.add_relationship(store, rel, actor="t")

    def test_concurrent_add_is_a_conflict(self, store):
        store.apply(Batch(cis=[app(), app("app-2")]), actor="t")
        rel = Relationship(source="app-1", type="depends_on", target="app-2")
        theirs = rel.model_copy(update={"attributes": {"by": "them"}})
        with pytest.raises(ConflictError, match="already exists"):
            ops.add_relationship(Racing(store, Batch(relationships=[theirs])), rel, actor="t")
        assert store.find_relationships(RelFilter())[0].attributes == {"by": "them"}

    def test_removed_relationship_comes_back(self, store):
        store.apply(Batch(cis=[app(), app("app-2")]), actor="t")
        rel = Relationship(source="app-1", type="depends_on", target="app-2")
        ops.add_relationship(store, rel, actor="t")
        ops.remove_relationship(store, "app-1", "depends_on", "app-2", actor="t")
        again = ops.add_relationship(store, rel, actor="t")
        assert (again.status, again.version) == ("active", 3)
