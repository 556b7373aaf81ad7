"""Bulk mode: ``apply(batch, bulk=True)`` keeps the history of what a batch creates in one
summary and compressed chunks on Neo4j, and every history read answers exactly as after a
normal load. The same batches are loaded normally and in bulk (with the clock frozen, so both
loads have the same times), and the answers to a few hundred history filters, the as-of reads
and the point-in-time CI views are compared. The contract part (both backends) is in
``TestBulkContract``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

import cmdb.store.cypher as cypher
import cmdb.store.neo4j_bulk as neo4j_bulk
import cmdb.store.sqlite_writer as sqlite_writer
from cmdb.asof import state_as_of
from cmdb.enums import HistoryAction
from cmdb.filters import CIFilter, HistoryFilter
from cmdb.model import Batch, Incident
from tests.cmdb.store.test_contract import ci, rel, small_graph

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _batches() -> list[tuple[Batch, bool, str, str | None]]:
    """(batch, bulk?, actor, change id): creations, fall-backs to updates, retirements,
    records and an unchanged upsert, mixed between bulk and normal batches."""
    wide = Batch(
        cis=[ci(f"n{i:02d}", "physical_server") for i in range(7)],
        relationships=[rel(f"n{i:02d}", "srv", "depends_on") for i in range(7)],
    )
    return [
        (small_graph(), True, "loader", None),
        (
            Batch(
                cis=[ci("app", owner="carol"), ci("web"), ci("db", "database", owner="bob")],
                relationships=[rel("web", "app"), rel("app", "srv", "runs_on")],
                records=[Incident(title="web slow", ci_ids=["web"], opened_at=T0)],
            ),
            True,
            "loader",
            "CHG-000001",
        ),
        (Batch(cis=[ci("web", owner="dave")], retire_cis=["pool"]), False, "alice", None),
        (wide, True, "bob", "CHG-000002"),
        (
            Batch(cis=[ci("n03", "physical_server", name="N3")], relationships=[rel("n03", "db")]),
            True,
            "loader",
            None,
        ),
    ]


def _load(store, monkeypatch, *, bulk: bool) -> list[datetime]:
    """Apply :func:`_batches` (bulk where they say so, if ``bulk``) with batch ``i`` at
    ``T0 + i`` minutes; the batches' times."""
    times = [T0 + timedelta(minutes=i) for i in range(len(_batches()))]
    clock = iter(times)
    monkeypatch.setattr(cypher, "utcnow", lambda: next(clock))
    monkeypatch.setattr(sqlite_writer, "utcnow", lambda: next(clock))
    for batch, in_bulk, actor, change in _batches():
        store.apply(batch, actor=actor, change_id=change, bulk=bulk and in_bulk)
    return times


def _filters(times: list[datetime]) -> list[HistoryFilter]:
    """A grid of single conditions, then random combinations with both cursors."""
    ids = ["app", "db", "srv", "pool", "web", "n00", "n03", "n06", "nope"]
    keys = ["app|depends_on|db", "n03|depends_on|srv", "web|depends_on|app", "x|y|z"]
    simple: list[dict] = [{}, {"newest_first": True}]
    simple += [{"entity_id": i} for i in ids + keys] + [{"ci": i} for i in ids]
    simple += [{"entity": e} for e in ("ci", "relationship", "incident")]
    simple += [{"actions": (a,)} for a in HistoryAction]
    simple += [{"actor": a} for a in ("loader", "alice", "bob")]
    simple += [{"change_id": c} for c in ("CHG-000001", "CHG-000002")]
    simple += [{"since": t} for t in times] + [{"until": t} for t in times]
    simple += [{"after_seq": s, "limit": n} for s in (0, 3, 9, 20) for n in (1, 2, 5)]
    simple += [{"before_seq": s, "newest_first": True, "limit": 3} for s in (1, 4, 10, 30)]
    rng = random.Random(16)
    combos = []
    for _ in range(250):
        f: dict = {}
        if rng.random() < 0.4:
            f["ci"] = rng.choice(ids)
        if rng.random() < 0.3:
            f["entity"] = rng.choice(["ci", "relationship"])
        if rng.random() < 0.2:
            f["entity_id"] = rng.choice(ids + keys)
        if rng.random() < 0.3:
            f["actions"] = tuple(rng.sample(list(HistoryAction), rng.randint(1, 2)))
        if rng.random() < 0.3:
            f["since"] = rng.choice(times)
        if rng.random() < 0.3:
            f["until"] = rng.choice(times)
        if rng.random() < 0.3:
            f["actor"] = rng.choice(["loader", "alice", "bob"])
        f["newest_first"] = rng.random() < 0.5
        if rng.random() < 0.5:
            f["limit"] = rng.randint(1, 6)
        if rng.random() < 0.4:
            cursor = rng.randint(0, 40)
            f["before_seq" if f["newest_first"] else "after_seq"] = cursor
        combos.append(f)
    return [HistoryFilter(**f) for f in simple + combos]


def _answers(store, times: list[datetime]) -> dict:
    out: dict = {"all": [e.model_dump() for e in store.history(HistoryFilter())]}
    for i, flt in enumerate(_filters(times)):
        out[f"history {i} {flt!r}"] = [e.model_dump() for e in store.history(flt)]
    for t in [*times, times[0] - timedelta(seconds=1), times[-1] + timedelta(hours=1)]:
        for entity in ("ci", "relationship", "incident"):
            got = store.history_as_of(entity, t)
            out[f"as_of {entity} {t}"] = [e.model_dump() for e in got]
        state = state_as_of(store, t)
        out[f"state {t}"] = (sorted(state.ci_docs.items()), sorted(state.rel_docs.items()))
    out["live cis"] = [c.model_dump() for c in store.find_cis(CIFilter(include_retired=True))]
    return out


@pytest.mark.neo4j
class TestBulkHistoryIsTheSame:
    @pytest.fixture
    def neo(self, registry):
        from tests.conftest import _neo4j_store

        s = _neo4j_store(registry)
        yield s
        s.close()

    @pytest.mark.parametrize("chunk_items", [2, neo4j_bulk.CHUNK_ITEMS])
    def test_every_history_read_answers_as_after_a_normal_load(self, neo, monkeypatch, chunk_items):
        from tests.neo4j_support import wipe

        monkeypatch.setattr(neo4j_bulk, "CHUNK_ITEMS", chunk_items)
        times = _load(neo, monkeypatch, bulk=False)
        normal = _answers(neo, times)
        assert neo._read("MATCH (c:HistoryChunk) RETURN count(c)")[0][0] == 0
        wipe(neo)
        assert _load(neo, monkeypatch, bulk=True) == times
        bulk = _answers(neo, times)
        chunks, history = neo._read(
            "MATCH (c:HistoryChunk) WITH count(c) AS c MATCH (h:History) RETURN c, count(h)"
        )[0]
        # CIs and relationships created by four bulk batches (the last creates no CI)
        assert chunks > 7 if chunk_items == 2 else chunks == 7
        # only the fall-backs (updates, retirements, records) have History nodes of their own
        assert history < len(normal["all"])
        assert normal.keys() == bulk.keys()
        for key in normal:
            assert bulk[key] == normal[key], key
        assert len(normal["all"]) > 30

    def test_summary_node_per_bulk_batch(self, neo):
        result = neo.apply(small_graph(), actor="loader", change_id="CHG-7", bulk=True)
        (summary,) = neo._read(
            "MATCH (b:HistoryBatch) RETURN b {.batch_id, .actor, .change_id, .first_seq, "
            ".last_seq, .cis, .relationships, .chunks}"
        )[0]
        assert summary == {
            "batch_id": result.batch_id,
            "actor": "loader",
            "change_id": "CHG-7",
            "first_seq": 1,
            "last_seq": 7,
            "cis": 4,
            "relationships": 3,
            "chunks": 2,
        }
        assert neo._read("MATCH (h:History) RETURN count(h)")[0][0] == 0

    def test_the_snapshot_follows_a_bulk_batch(self, neo):
        def edges(topo):
            return sorted(
                (topo.ids[a], topo.rel_type_names[t], topo.ids[b])
                for a, b, t in zip(topo.src, topo.dst, topo.rtype, strict=True)
            )

        neo.apply(small_graph(), actor="t")
        neo.topology()  # cached: the next read may bring it up to date from history
        neo.apply(
            Batch(cis=[ci("web")], relationships=[rel("web", "app"), rel("web", "db")]),
            actor="t",
            bulk=True,
        )
        followed = neo.topology()
        neo._topology = None
        rebuilt = neo.topology()
        assert followed.ids == rebuilt.ids and "web" in followed.ids
        assert edges(followed) == edges(rebuilt)
        assert ("web", "depends_on", "db") in edges(followed)

    def test_a_failed_bulk_batch_leaves_nothing(self, neo):
        neo.apply(small_graph(), actor="t", bulk=True)
        bad = Batch(cis=[ci("new")], relationships=[rel("new", "missing")])
        with pytest.raises(Exception, match="missing"):
            neo.apply(bad, actor="t", bulk=True)
        assert neo._read("MATCH (c:HistoryChunk) RETURN count(c)")[0][0] == 2
        assert [e.entity_id for e in neo.history(HistoryFilter(ci="new"))] == []


class TestBulkContract:
    """Both backends take ``bulk=True`` and answer as if it were not given."""

    def test_creations_then_fall_back_to_updates(self, store):
        first = store.apply(small_graph(), actor="t", bulk=True)
        assert (first.created, first.updated, first.unchanged) == (7, 0, 0)
        second = store.apply(
            Batch(cis=[ci("app", owner="carol"), small_graph().cis[2]]),  # srv: unchanged
            actor="t",
            bulk=True,
        )
        assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
        got = [(e.entity_id, e.action, e.seq) for e in store.history(HistoryFilter(ci="app"))]
        assert got == [
            ("app", HistoryAction.CREATE, 1),
            ("app|depends_on|db", HistoryAction.CREATE, 5),
            ("app", HistoryAction.UPDATE, 8),
        ]
        update = store.history(HistoryFilter(entity_id="app", actions=(HistoryAction.UPDATE,)))
        assert update[0].before["owner"] == "alice" and update[0].after["owner"] == "carol"
        assert store.get_ci("app").owner == "carol"

    def test_relationship_to_a_ci_created_in_the_same_batch(self, store):
        store.apply(Batch(cis=[ci("a"), ci("b")], relationships=[rel("a", "b")]), actor="t")
        store.apply(
            Batch(cis=[ci("c")], relationships=[rel("a", "b"), rel("c", "a"), rel("b", "c")]),
            actor="t",
            bulk=True,
        )
        got = [
            (r.source, r.target, r.version) for r in store.find_relationships_from(["a", "b", "c"])
        ]
        assert got == [("a", "b", 1), ("b", "c", 1), ("c", "a", 1)]
        newest = store.history(HistoryFilter(newest_first=True, limit=2))
        assert [e.entity_id for e in newest] == ["b|depends_on|c", "c|depends_on|a"]


@pytest.mark.neo4j
class TestCreatedProperties:
    """CIs created through the column path get exactly the properties an update writes
    (:func:`cmdb.store.cypher._ci_props`): types, missing values and numbers bit for bit."""

    @pytest.fixture
    def neo(self, registry):
        from tests.conftest import _neo4j_store

        s = _neo4j_store(registry)
        yield s
        s.close()

    @pytest.mark.parametrize("bulk", [False, True])
    def test_properties_as_an_update_writes_them(self, neo, bulk):
        seen = datetime(2026, 11, 30, 12, 0, 0, 123457, tzinfo=UTC)
        cis = [
            ci("plain"),
            ci("owned", owner="", support_group="team-a", name="Ünïcode \u2028 name"),
            ci("avail", "physical_server", attributes={"availability": 0.1 + 0.2}),
            ci("seen", "physical_server", last_seen={"nmap": seen}),
            ci("grp", "cluster", min_required=2, attributes={"availability": 1}),
        ]
        neo.apply(Batch(cis=cis), actor="t", bulk=bulk)
        rows = neo._read("MATCH (c:CI) RETURN c ORDER BY c.id")
        for (node,) in rows:
            stored = neo.get_ci(node["id"])
            want = cypher._ci_props(stored)
            got = dict(node)
            assert json_doc(got.pop("doc")) == json_doc(want.pop("doc"))
            assert got == {k: v for k, v in want.items() if v is not None}
            for k, v in got.items():
                assert type(v) is type(want[k]), k


def json_doc(text: str) -> dict:
    import json

    return json.loads(text)
