"""A CI's relationship counts and first page in the SQLite store, read through the indexes
``rel_in`` (dst, type, status) and ``ci_n_id`` (n, id): the counts are a plain count of the
CI's active relationships, a file from before the indexes gets them when opened writable (and
loses ``rel_dst``), and a file opened read-only without them answers the same."""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings

from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.sqlite import SQLiteStore
from tests.cmdb.store.test_sqlite_ci_page import graphs

OLD_SCHEMA = "DROP INDEX rel_in; DROP INDEX ci_n_id; CREATE INDEX rel_dst ON rel (dst, type);"


def _build(path: Path, graph) -> None:
    ids, keys, retired = graph
    with open_store(Settings(db=path), create=True) as store:
        cis = [CI(id=i, ci_class="application", name=i) for i in ids]
        rels = [Relationship(source=s, type=t, target=d) for s, t, d in keys]
        store.apply(Batch(cis=cis, relationships=rels), actor="t")
        if retired:
            store.apply(Batch(retire_relationships=retired), actor="t")


def _filters(ci: str) -> list[RelFilter]:
    """The filters of one CI's pages: either end, from it, to it; several limits and types,
    with and without retired relationships."""
    return [
        RelFilter(**{end: ci}, limit=limit, types=types, include_retired=retired)
        for end in ("ci", "source", "target")
        for limit in (None, 1, 3)
        for types in ((), ("uses",))
        for retired in (False, True)
    ]


def _expected(keys: set[tuple[str, str, str]], flt: RelFilter) -> list[tuple[str, str, str]]:
    """The page by sorting every matching relationship (the reference)."""
    ends = {"ci": (0, 2), "source": (0,), "target": (2,)}
    end = next(e for e in ends if getattr(flt, e) is not None)
    ci = getattr(flt, end)
    found = sorted(
        k for k in keys if ci in [k[i] for i in ends[end]] and (not flt.types or k[1] in flt.types)
    )
    return found[: flt.limit]


def _answers(store: SQLiteStore, ids: list[str]) -> dict:
    """Every CI's counts and pages."""
    return {
        ci: (
            store.relationship_counts(ci),
            [[r.key for r in store.find_relationships(f)] for f in _filters(ci)],
        )
        for ci in ids
    }


def _indexes(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        db.close()


@settings(max_examples=30, deadline=None)
@given(graph=graphs())
def test_counts_and_pages_against_a_plain_count_and_sort(graph):
    ids, keys, retired = graph
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.db"
        _build(path, graph)
        with open_store(Settings(db=path)) as store:
            for ci in ids:
                counted: Counter[tuple[str, str]] = Counter()
                for rel in store.find_relationships(RelFilter(ci=ci)):
                    counted[(rel.type, "out" if rel.source == ci else "in")] += 1
                expected = sorted((t, d, n) for (t, d), n in counted.items())
                assert store.relationship_counts(ci) == expected
                live = set(keys) - set(retired)
                assert sum(n for _, _, n in expected) == sum(ci in (s, d) for s, _, d in live)
                for flt in _filters(ci):
                    want = _expected(set(keys) if flt.include_retired else live, flt)
                    assert [r.key for r in store.find_relationships(flt)] == want


@settings(max_examples=15, deadline=None)
@given(graph=graphs())
def test_an_old_file_answers_the_same_read_only_and_after_its_migration(graph):
    ids = graph[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.db"
        _build(path, graph)
        with open_store(Settings(db=path)) as store:
            current = _answers(store, ids)
        db = sqlite3.connect(path)
        db.executescript(OLD_SCHEMA)
        db.close()
        with open_store(Settings(db=path, read_only=True)) as store:
            assert store.read_only and _answers(store, ids) == current
        assert {"rel_dst"} <= _indexes(path) and not {"rel_in", "ci_n_id"} & _indexes(path)
        with open_store(Settings(db=path)) as store:
            assert _answers(store, ids) == current
        assert {"rel_in", "ci_n_id"} <= _indexes(path) and "rel_dst" not in _indexes(path)


class TestPlans:
    def _plan(self, store: SQLiteStore, hub: str) -> str:
        sql, args = store._ci_page_sql(RelFilter(ci=hub, limit=50))
        rows = store._conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
        return "\n".join(r[-1] for r in rows)

    def test_a_hubs_page_reads_indexes_not_rows(self, tmp_path):
        path = tmp_path / "p.db"
        _build(path, (["a", "b", "c"], [("a", "uses", "b"), ("c", "uses", "b")], []))
        with open_store(Settings(db=path)) as store:
            plan = self._plan(store, "b")
            counts_plan = "\n".join(
                r[-1]
                for r in store._conn.execute(
                    "EXPLAIN QUERY PLAN SELECT type, count(*) FROM rel WHERE dst = 1 "
                    "AND status = 'active' GROUP BY type"
                )
            )
        assert "COVERING INDEX rel_in" in plan and "COVERING INDEX ci_n_id" in plan
        assert "COVERING INDEX rel_in" in counts_plan
