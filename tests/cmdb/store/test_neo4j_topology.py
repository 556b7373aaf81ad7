"""The fast Neo4j snapshot reader against the plain one it replaces, on one generated graph.

Both readers run in the same read transaction, so they see the same data; the snapshot must be
identical, array by array (dtypes and relationship order included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdb.errors import StoreError
from cmdb.generator import generate
from cmdb.model import CI, Batch, Relationship
from cmdb.store.neo4j_topology import (
    _NODES,
    _Pages,
    positions,
    read_topology,
    read_topology_plain,
)
from cmdb.topology import Topology

ARRAYS = (
    "class_code",
    "is_group",
    "min_required",
    "criticality",
    "last_seen",
    "availability",
    "in_service",
    "src",
    "dst",
    "rtype",
)


def assert_same(new: Topology, old: Topology) -> None:
    assert (new.store_id, new.version, new.ids) == (old.store_id, old.version, old.ids)
    assert (new.class_names, new.class_categories) == (old.class_names, old.class_categories)
    assert (new.rel_type_names, new.propagation) == (old.rel_type_names, old.propagation)
    for name in ARRAYS:
        a, b = getattr(new, name), getattr(old, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def both(store, *, sessions: int = 1, **options) -> tuple[Topology, Topology]:
    """The reader's snapshot (relationships read in a second session if ``sessions`` is 2)
    and the plain reader's, read in one transaction."""
    more = {"session": store._session} if sessions == 2 else {}

    def work(tx):
        return (
            read_topology(tx, store.registry, **options, **more),
            read_topology_plain(tx, store.registry, **options),
        )

    with store._session() as s:
        return s.execute_read(work)


def cypher(store, query: str, **params) -> None:
    with store._session() as s:
        s.execute_write(lambda tx: tx.run(query, params).consume())


@pytest.fixture
def neo4j_store(registry):
    from cmdb.store import open_store
    from tests.neo4j_support import neo4j_settings_or_skip, wipe

    store = open_store(neo4j_settings_or_skip(), registry=registry)
    wipe(store)
    yield store
    store.close()


@pytest.fixture
def estate(neo4j_store):
    """A generated estate with every case the snapshot reads: retired CIs and relationships,
    planned and building CIs, availability overrides, last-seen times, a relationship of a
    type the registry does not know, active relationships to a retired CI and to a node that
    is not a CI."""
    store = neo4j_store
    for batch in generate(600, seed=5, batch_size=5_000):
        store.apply(batch, actor="test")
    t = store.topology()
    ids = t.ids
    store.apply(
        Batch(
            cis=[
                CI(id="new-planned", ci_class="application", name="p", status="planned"),
                CI(id="new-build", ci_class="application", name="b", status="build"),
                CI(
                    id="new-avail",
                    ci_class="application",
                    name="a",
                    criticality="critical",
                    attributes={"availability": 0.995},
                ),
            ],
            relationships=[Relationship(source="new-planned", type="depends_on", target=ids[0])],
            retire_cis=ids[10:13],
        ),
        actor="test",
    )
    src, typ, dst = (t.ids[int(t.src[5])], t.rel_type_names[int(t.rtype[5])], t.ids[int(t.dst[5])])
    store.apply(Batch(retire_relationships=[(src, typ, dst)]), actor="test")
    # written around the store, as another tool might: the snapshot must leave these out
    cypher(
        store,
        "MATCH (a:CI {id: $a}), (b:CI {id: $b}) "
        "CREATE (a)-[:NOT_REGISTERED {status: 'active'}]->(b) "
        "CREATE (a)-[:DEPENDS_ON {status: 'active', key: 'x'}]->(:Stray {id: 'stray'}) "
        "WITH a MATCH (r:CI {id: $retired}) "
        "CREATE (a)-[:DEPENDS_ON {status: 'active', key: 'y'}]->(r)",
        a=ids[20],
        b=ids[21],
        retired=ids[10],
    )
    store.retired_in_test = ids[10:13]  # type: ignore[attr-defined]
    return store


@pytest.mark.neo4j
class TestReadTopology:
    @pytest.mark.parametrize("sessions", [1, 2])
    def test_identical_to_the_plain_reader(self, estate, sessions):
        new, old = both(estate, sessions=sessions)
        assert_same(new, old)
        assert old.n == 600 and old.m > 1000
        assert not old.in_service.all() and np.isfinite(old.availability).any()
        assert np.isfinite(old.last_seen).any() and np.isnan(old.last_seen).any()
        assert old.is_group.any() and (old.min_required > 0).any()
        assert {"new-planned", "new-build", "new-avail"} <= set(old.ids)
        assert not set(estate.retired_in_test) & set(old.ids)
        assert "stray" not in old.ids

    @pytest.mark.parametrize("page", [1, 7, 64, 65, 250])
    @pytest.mark.parametrize("sessions", [1, 2])
    def test_identical_across_page_sizes(self, estate, page, sessions):
        new, old = both(estate, page=page, sessions=sessions)
        assert_same(new, old)
        assert_same(new, both(estate)[1])

    def test_store_topology_uses_it(self, estate):
        estate._topology = None  # a rebuild (a snapshot brought up to date keeps no edge order)
        assert_same(estate.topology(), both(estate)[1])

    @pytest.mark.parametrize("sessions", [1, 2])
    def test_empty_store(self, neo4j_store, sessions):
        new, old = both(neo4j_store, sessions=sessions)
        assert_same(new, old)
        assert (new.n, new.m) == (0, 0)

    def test_min_required_that_is_not_a_number_raises(self, estate):
        cypher(estate, "MATCH (c:CI {id: 'new-avail'}) SET c.min_required = 'two'")
        with pytest.raises(StoreError, match=r"599 values of min_required for 600 CIs \(one not"):
            both(estate)

    def test_last_seen_that_is_not_a_number_raises(self, estate):
        cypher(estate, "MATCH (c:CI {id: 'new-avail'}) SET c.last_seen = 'yesterday'")
        with pytest.raises(StoreError, match=r"topology read: a CI's last_seen is not a number"):
            estate.topology()

    @pytest.mark.parametrize("sessions", [1, 2])
    def test_unknown_class_raises(self, estate, sessions):
        cypher(estate, "MATCH (c:CI {id: 'new-avail'}) SET c.class = 'nonesuch'")
        with pytest.raises(StoreError, match="CI 'new-avail' has a class or criticality"):
            both(estate, sessions=sessions)

    def test_unknown_criticality_raises(self, estate):
        cypher(estate, "MATCH (c:CI {id: 'new-build'}) SET c.criticality = 'meh'")
        with pytest.raises(StoreError, match="CI 'new-build' has a class or criticality"):
            estate.topology()


class _Racing:
    """A transaction whose CI-page queries each let another writer commit first."""

    def __init__(self, tx, write):
        self.tx, self.write = tx, write

    def run(self, query, *args, **kwargs):
        if query == _NODES:
            self.write()
        return self.tx.run(query, *args, **kwargs)


@pytest.mark.neo4j
class TestConsistency:
    def add(self, store, name: str) -> None:
        store.apply(Batch(cis=[CI(id=name, ci_class="application", name=name)]), actor="t")

    @pytest.mark.parametrize("sessions", [1, 2])
    def test_a_write_during_the_read_starts_it_again(self, neo4j_store, sessions):
        store = neo4j_store
        more = {"session": store._session} if sessions == 2 else {}
        self.add(store, "a")
        pending = ["b"]

        def write():
            if pending:
                self.add(store, pending.pop())

        with store._session() as s:
            topo = s.execute_read(
                lambda tx: read_topology(_Racing(tx, write), store.registry, **more)
            )
        assert topo.ids == ["a", "b"]
        assert topo.version == store.topology().version

    def test_a_graph_that_keeps_changing_raises(self, neo4j_store):
        store = neo4j_store
        names = iter(f"ci-{i}" for i in range(100))

        def write():
            self.add(store, next(names))

        with (
            store._session() as s,
            pytest.raises(StoreError, match=r"graph changed while its snapshot was read \(2 times"),
        ):
            s.execute_read(lambda tx: read_topology(_Racing(tx, write), store.registry, attempts=2))


class TestPositions:
    @pytest.mark.parametrize(
        ("nodes", "ends", "want"),
        [
            ([7, 3, 5], [3, 4, 7, 9, -1, 5], [1, -1, 0, -1, -1, 2]),
            ([2**40, 3, 2**41], [3, 2**41, 5, 2**40, 2**42], [1, 2, -1, 0, -1]),  # sparse
            ([], [1, 2], [-1, -1]),
            ([4], [], []),
        ],
    )
    def test_positions(self, nodes, ends, want):
        got = positions(np.asarray(nodes, np.int64), np.asarray(ends, np.int64))
        assert got.dtype == np.int32 and got.tolist() == want

    @given(
        st.lists(st.integers(-(2**40), 2**40), unique=True, max_size=60),
        st.lists(st.integers(-(2**40), 2**40), max_size=60),
        st.booleans(),
    )
    def test_against_a_dict(self, nodes, ends, dense):
        if dense:  # small numbers: the look-up table; else mostly the binary search
            nodes, ends = sorted({abs(x) % 500 for x in nodes}), [x % 600 for x in ends]
            nodes = list(np.random.default_rng(len(nodes)).permutation(nodes))
        where = {x: i for i, x in enumerate(nodes)}
        got = positions(np.asarray(nodes, np.int64), np.asarray(ends, np.int64))
        assert got.tolist() == [where.get(x, -1) for x in ends]


class TestPages:
    """The hand-over of the CI pages' bounds to the relationship readers."""

    def pages(self, n: int, *, close: bool = True) -> _Pages:
        pages = _Pages()
        for i in range(n):
            pages.add(str(i), str(i + 1))
        if close:
            pages.close()
        return pages

    def test_each_page_is_taken_once_from_either_end(self):
        pages = self.pages(4)
        got = [pages.take(), pages.take(from_end=True), pages.take(), pages.take(from_end=True)]
        assert got == [(0, ("0", "1")), (3, ("3", "4")), (1, ("1", "2")), (2, ("2", "3"))]
        assert pages.take() is None and pages.take(from_end=True) is None

    def test_a_page_given_back_is_taken_again(self):
        pages = self.pages(2)
        assert pages.take() == (0, ("0", "1"))
        pages.give_back(0)
        assert pages.take(from_end=True) == (1, ("1", "2"))
        assert pages.take(from_end=True) == (0, ("0", "1"))

    def test_rows_in_page_order_whoever_read_them(self):
        pages = self.pages(3)
        for at in (2, 0, 1):
            pages.put(at, tuple(np.array([at, at], np.int64) for _ in range(3)))
        assert [a.tolist() for a in pages.rows()] == [[0, 0, 1, 1, 2, 2]] * 3

    def test_rows_of_a_page_not_read_raise(self):
        pages = self.pages(2)
        pages.put(1, (np.empty(0, np.int64),) * 3)
        with pytest.raises(StoreError, match="topology read: 1 of 2 pages read"):
            pages.rows()

    def test_waits_for_pages_until_closed(self):
        import threading

        pages = self.pages(0, close=False)
        got: list[int] = []

        def reader():
            while (page := pages.take()) is not None:
                got.append(page[0])

        thread = threading.Thread(target=reader)
        thread.start()
        for i in range(50):
            pages.add(str(i), str(i + 1))
        pages.close()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert got == list(range(50))

    def test_an_abort_ends_the_taking(self):
        pages = self.pages(2, close=False)
        pages.close(abort=True)
        assert pages.take() is None


@pytest.mark.neo4j
class TestTwoSessions:
    def test_an_error_reading_the_cis_stops_the_relationship_reader(self, estate, monkeypatch):
        """The relationship reader waits for pages: without the abort it would wait forever."""
        import cmdb.store.neo4j_topology as nt

        read: list[int] = []

        def edges(tx, params, pages, **options):
            while (page := pages.take()) is not None:
                read.append(page[0])

        def nodes(tx, params, page, pages):
            pages.add("", "x")
            raise StoreError("boom")

        monkeypatch.setattr(nt, "_node_pages", nodes)
        monkeypatch.setattr(nt, "_edge_pages", edges)
        with pytest.raises(StoreError, match="boom"):
            both(estate, sessions=2)
        assert read in ([], [0])  # the page it may have taken before the abort

    def test_an_error_reading_the_relationships_is_raised(self, estate, monkeypatch):
        import cmdb.store.neo4j_topology as nt

        real = nt._edge_pages

        def edges(tx, params, pages, **options):
            if not options:  # the second session's reader
                raise StoreError("edges failed")
            return real(tx, params, pages, **options)

        monkeypatch.setattr(nt, "_edge_pages", edges)
        with pytest.raises(StoreError, match="edges failed"):
            estate._topology = None
            estate.topology()

    def test_a_failed_page_is_read_by_the_other_reader(self, estate, monkeypatch):
        """A query that fails gives its page back, and the CI reader's session reads it."""
        import cmdb.store.neo4j_topology as nt

        real, failed, read = nt._edge_pages, [], []

        def edges(tx, params, pages, **options):
            if not options:  # the second session's reader fails on its first page
                got = pages.take()
                if got is not None:
                    pages.give_back(got[0])
                    failed.append(got[0])
                raise StoreError("a page failed")
            real(tx, params, pages, **options)
            read.append(pages.rows())  # every page: the one given back too

        monkeypatch.setattr(nt, "_edge_pages", edges)
        with pytest.raises(StoreError, match="a page failed"):
            both(estate, sessions=2, page=100)
        assert failed == [0] and len(read) == 1
        (want,) = estate._read(
            "MATCH (c:CI) WHERE c.status <> 'retired' WITH max(c.id) AS last "
            "MATCH (s:CI)-[r]->() WHERE s.id <= last AND r.status = 'active' RETURN count(*)"
        )[0]
        assert read[0][0].size == want
        monkeypatch.undo()
        new, old = both(estate, sessions=2, page=100)
        assert_same(new, old)


def _seen_again(store, ci_ids: list[str], source: str = "nmap") -> dict[str, float]:
    """Observe ``ci_ids`` again (only their last-seen moves: no history); their new
    last-seen epochs."""
    from datetime import UTC, datetime, timedelta

    when = datetime(2026, 11, 30, tzinfo=UTC) + timedelta(seconds=len(ci_ids))
    cis = [
        c.model_copy(update={"last_seen": {**c.last_seen, source: when}})
        for c in (store.get_ci(i) for i in ci_ids)
    ]
    result = store.apply(Batch(cis=cis), actor="scanner")
    assert result.unchanged == len(ci_ids)  # no history: the write only touched them
    return {c.id: c.last_seen_epoch() for c in cis}


@pytest.mark.neo4j
class TestRefreshByMarks:
    """A write that moves only last-seen writes no history; the CIs it puts carry the store
    version it made (``touched``), so a refresh finds them with one index look-up instead
    of reading every live CI's last-seen."""

    @pytest.fixture
    def small(self, neo4j_store):
        for batch in generate(600, seed=2, batch_size=5_000):
            neo4j_store.apply(batch, actor="test")
        return neo4j_store

    def _fresh(self, store) -> Topology:
        with store._session() as s:
            return s.execute_read(lambda tx: read_topology(tx, store.registry))

    def test_found_without_reading_every_last_seen(self, small, monkeypatch):
        import cmdb.store.neo4j_topology as nt

        base = self._fresh(small)
        assert base.mark == f"{base.seq}:{small.version()}"
        moved = _seen_again(small, [base.ids[3], base.ids[400]])

        def no_column(*args, **kwargs):
            raise AssertionError("read every live CI's last-seen")

        monkeypatch.setattr(nt, "_seen", no_column)
        got = nt.refresh_topology(small, base)
        assert got is not None
        assert_same(got, self._fresh(small))
        for ci_id, epoch in moved.items():
            assert got.last_seen[got.index(ci_id)] == epoch != base.last_seen[base.index(ci_id)]
        assert got.mark == f"{got.seq}:{small.version()}"

    def test_a_later_refresh_starts_from_its_own_mark(self, small):
        import cmdb.store.neo4j_topology as nt

        base = self._fresh(small)
        _seen_again(small, [base.ids[5]])
        first = nt.refresh_topology(small, base)
        assert first is not None
        _seen_again(small, [base.ids[6]], source="agent")
        second = nt.refresh_topology(small, first)
        assert second is not None
        assert_same(second, self._fresh(small))

    def test_a_mark_without_a_version_reads_the_column(self, small, monkeypatch):
        import cmdb.store.neo4j_topology as nt

        base = self._fresh(small)
        base.mark = str(base.seq)  # a snapshot of the reader before the marks
        _seen_again(small, [base.ids[7]])
        calls = []
        real = nt._seen
        monkeypatch.setattr(nt, "_seen", lambda *a, **k: calls.append(1) or real(*a, **k))
        got = nt.refresh_topology(small, base)
        assert got is not None and calls
        assert_same(got, self._fresh(small))

    def test_every_put_is_marked_with_the_version_it_made(self, small):
        base = self._fresh(small)
        _seen_again(small, [base.ids[8]])
        version = small.version()
        rows = small._read("MATCH (c:CI) WHERE c.touched IS NOT NULL RETURN c.id, c.touched")
        assert rows == [[base.ids[8], version]]
        small.apply(Batch(cis=[small.get_ci(base.ids[9]).model_copy(update={"name": "N"})]),
                    actor="t")  # fmt: skip
        rows = small._read(f"MATCH (c:CI {{id: '{base.ids[9]}'}}) RETURN c.touched")
        assert rows == [[version + 1]]
