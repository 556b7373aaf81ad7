"""History by CI and time range with cursor pagination, and the bulk as-of read: the store
contract for audits (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.enums import HistoryAction
from cmdb.filters import HistoryFilter
from cmdb.history import iter_history
from cmdb.model import Batch, Incident
from tests.cmdb.store.test_contract import ci, rel, small_graph


def _at(store, seq):
    return store.history(HistoryFilter(after_seq=seq - 1, limit=1))[0].at


class TestHistoryCursor:
    def test_pages_cover_everything_once_in_order(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="t")
        everything = store.history(HistoryFilter())
        pages, cursor = [], 0
        while True:
            page = store.history(HistoryFilter(after_seq=cursor, limit=3))
            if not page:
                break
            pages.append(page)
            cursor = page[-1].seq
        assert [len(p) for p in pages] == [3, 3, 2]
        assert [e.seq for p in pages for e in p] == [e.seq for e in everything]

    def test_iter_history_pages_with_the_cursor(self, store):
        store.apply(small_graph(), actor="t")
        got = list(iter_history(store, HistoryFilter(entity="ci"), page=2))
        assert [e.entity_id for e in got] == ["app", "db", "srv", "pool"]

    def test_cursor_combines_with_filters(self, store):
        store.apply(small_graph(), actor="t")
        first = store.history(HistoryFilter(entity="relationship", limit=1))
        rest = store.history(HistoryFilter(entity="relationship", after_seq=first[0].seq))
        assert [e.entity_id for e in first + rest] == [
            "app|depends_on|db",
            "db|runs_on|srv",
            "srv|member_of|pool",
        ]

    def test_time_range_is_inclusive(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="t")
        last = store.history(HistoryFilter())[-1]
        got = store.history(HistoryFilter(since=last.at, until=last.at))
        assert [e.seq for e in got] == [last.seq]
        assert store.history(HistoryFilter(until=last.at - timedelta(days=1))) == []


def _other_writer(store):
    """A second store on the same data, as another user would open it."""
    from cmdb.settings import Settings
    from cmdb.store import open_store

    if store.uri.startswith("sqlite"):
        return open_store(Settings(db=store.path), registry=store.registry)
    from tests.neo4j_support import neo4j_settings_or_skip

    return open_store(neo4j_settings_or_skip(), registry=store.registry)


def _pages(store, flt, *, between=lambda: None):
    """Every page of ``flt`` by its order's cursor, calling ``between`` after each page."""
    key = "before_seq" if flt.newest_first else "after_seq"
    pages = []
    while True:
        page = store.history(flt)
        if not page:
            return pages
        pages.append(page)
        between()
        flt = flt.model_copy(update={key: page[-1].seq})


class TestHistoryNewestFirst:
    def test_pages_cover_everything_once_newest_first(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="t")
        everything = store.history(HistoryFilter())
        pages = _pages(store, HistoryFilter(newest_first=True, limit=3))
        assert [len(p) for p in pages] == [3, 3, 2]
        assert [e.seq for p in pages for e in p] == [e.seq for e in reversed(everything)]
        assert store.history(HistoryFilter(newest_first=True)) == everything[::-1]

    @pytest.mark.parametrize("newest_first", [False, True])
    def test_no_entry_skipped_or_repeated_while_another_writer_appends(self, store, newest_first):
        store.apply(small_graph(), actor="t")
        before = [e.seq for e in store.history(HistoryFilter())]
        other = _other_writer(store)
        written = iter(range(3))

        def append():  # two entries (a CI, its relationship) after each of the first 3 pages
            i = next(written, None)
            if i is not None:
                new = Batch(cis=[ci(f"new-{i}")], relationships=[rel(f"new-{i}", "db")])
                other.apply(new, actor="o")

        try:
            flt = HistoryFilter(newest_first=newest_first, limit=2)
            got = [e.seq for p in _pages(store, flt, between=append) for e in p]
        finally:
            other.close()
        after = [e.seq for e in store.history(HistoryFilter())]
        assert len(after) > len(before) and len(got) == len(set(got))
        if newest_first:  # what was there at the first page, newest first, nothing newer
            assert got == before[::-1]
        else:  # what was there, then what was appended while paging, oldest first
            assert got == after[: len(got)] and got[: len(before)] == before

    def test_bounds_combine_with_filters_and_each_other(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("db", "database", owner="carol")]), actor="t")
        seqs = [e.seq for e in store.history(HistoryFilter(ci="db"))]
        assert len(seqs) == 4
        newest = store.history(HistoryFilter(ci="db", newest_first=True, limit=1))
        assert [e.seq for e in newest] == [seqs[-1]] and newest[0].action is HistoryAction.UPDATE
        middle = HistoryFilter(ci="db", newest_first=True, after_seq=seqs[0], before_seq=seqs[-1])
        assert [e.seq for e in store.history(middle)] == [seqs[2], seqs[1]]
        ascending = middle.model_copy(update={"newest_first": False})
        assert [e.seq for e in store.history(ascending)] == [seqs[1], seqs[2]]
        assert store.history(middle.model_copy(update={"before_seq": seqs[0]})) == []
        creates = HistoryFilter(newest_first=True, actions=(HistoryAction.CREATE,), entity="ci")
        assert [e.entity_id for e in store.history(creates)] == ["pool", "srv", "db", "app"]

    def test_iter_history_pages_newest_first(self, store):
        store.apply(small_graph(), actor="t")
        got = list(iter_history(store, HistoryFilter(entity="ci", newest_first=True), page=3))
        assert [e.entity_id for e in got] == ["pool", "srv", "db", "app"]


class TestHistoryActions:
    def test_only_the_actions_asked_for(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="t")
        store.apply(Batch(retire_cis=["pool"]), actor="t")
        got = store.history(HistoryFilter(actions=(HistoryAction.UPDATE, HistoryAction.RETIRE)))
        assert [(e.entity_id, e.action.value) for e in got] == [
            ("app", "update"),
            ("pool", "retire"),
            ("srv|member_of|pool", "retire"),
        ]


class TestHistoryOfACI:
    def test_ci_and_its_relationships_only(self, store):
        store.apply(small_graph(), actor="t")
        store.apply(Batch(records=[Incident(id="INC-1", title="x", ci_ids=["db"])]), actor="t")
        got = [e.entity_id for e in store.history(HistoryFilter(ci="db"))]
        assert got == ["db", "app|depends_on|db", "db|runs_on|srv"]

    def test_a_prefix_of_another_id_does_not_match(self, store):
        store.apply(
            Batch(cis=[ci("a"), ci("ab"), ci("b")], relationships=[rel("ab", "b")]), actor="t"
        )
        assert [e.entity_id for e in store.history(HistoryFilter(ci="a"))] == ["a"]
        assert [e.entity_id for e in store.history(HistoryFilter(ci="b"))] == [
            "b",
            "ab|depends_on|b",
        ]

    def test_case_matters(self, store):
        store.apply(Batch(cis=[ci("app"), ci("db")], relationships=[rel("app", "db")]), actor="t")
        assert store.history(HistoryFilter(ci="APP")) == []


class TestHistoryAsOf:
    def test_last_entry_per_entity_at_a_time(self, store):
        store.apply(small_graph(), actor="t")
        t1 = store.history(HistoryFilter())[-1].at
        store.apply(Batch(cis=[ci("app", owner="carol")]), actor="t")
        store.apply(Batch(retire_cis=["srv"]), actor="t")
        before = store.history_as_of("ci", t1)
        assert [e.entity_id for e in before] == ["app", "db", "pool", "srv"]
        assert {e.action for e in before} == {HistoryAction.CREATE}
        assert before[0].after["owner"] == "alice"
        now = {
            e.entity_id: e for e in store.history_as_of("ci", store.history(HistoryFilter())[-1].at)
        }
        assert now["app"].after["owner"] == "carol"
        assert now["srv"].after["status"] == "retired"
        rels = {
            e.entity_id: e.after["status"]
            for e in store.history_as_of("relationship", now["srv"].at)
        }
        assert rels == {
            "app|depends_on|db": "active",
            "db|runs_on|srv": "retired",
            "srv|member_of|pool": "retired",
        }

    def test_before_anything_is_empty(self, store):
        store.apply(small_graph(), actor="t")
        first = store.history(HistoryFilter())[0].at
        assert store.history_as_of("ci", first - timedelta(seconds=1)) == []

    @pytest.mark.parametrize("entity", ["incident", "change"])
    def test_other_kinds(self, store, entity):
        assert store.history_as_of(entity, _now()) == []


def _now():
    from cmdb.model import utcnow

    return utcnow()
