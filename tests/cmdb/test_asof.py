"""Point-in-time views rebuilt from history: the right graph and blast radius after a sequence
of creates, changes and retirements, on both backends (the ``store`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.asof import AsOfStore, as_of, state_as_of
from cmdb.errors import NotFoundError, StoreError
from cmdb.filters import CIFilter, HistoryFilter, RelFilter
from cmdb.model import CI, Batch, Relationship
from impact.blast import blast_radius
from impact.depends import depends_on


def _ci(id_, cls, **kw):
    if cls == "database":
        kw.setdefault("attributes", {"engine": "oracle"})
    return CI(id=id_, ci_class=cls, name=kw.pop("name", id_), **kw)


def _rel(s, t, type_="depends_on"):
    return Relationship(source=s, type=type_, target=t)


def _last_at(store):
    return store.history(HistoryFilter())[-1].at


@pytest.fixture
def timeline(store):
    """t0 nothing; t1 svc <- app -> db -> srv; t2 app re-owned, db runs on a 1-of-2 pool of
    srv and srv2; t3 srv2 retired (the pool has one member left)."""
    store.apply(Batch(cis=[_ci("seed", "location")]), actor="t")
    t0 = _last_at(store)
    store.apply(
        Batch(
            cis=[
                _ci("svc", "business_service"),
                _ci("app", "application", owner="alice"),
                _ci("db", "database"),
                _ci("srv", "physical_server"),
            ],
            relationships=[
                _rel("app", "svc", "provides"),
                _rel("app", "db"),
                _rel("db", "srv", "runs_on"),
            ],
        ),
        actor="t",
    )
    t1 = _last_at(store)
    store.apply(
        Batch(
            cis=[
                _ci("app", "application", owner="bob"),
                _ci("srv2", "physical_server"),
                _ci("pool", "cluster", min_required=1),
            ],
            relationships=[
                _rel("srv", "pool", "member_of"),
                _rel("srv2", "pool", "member_of"),
                _rel("db", "pool", "runs_on"),
            ],
            retire_relationships=[("db", "runs_on", "srv")],
        ),
        actor="t",
    )
    t2 = _last_at(store)
    store.apply(Batch(retire_cis=["srv2"]), actor="t")
    t3 = _last_at(store)
    return store, (t0, t1, t2, t3)


def _graph(s):
    cis = sorted(c.id for c in s.find_cis(CIFilter()))
    rels = sorted(r.key for r in s.find_relationships(RelFilter()))
    return cis, rels


def _states(s, failed):
    br = blast_radius(s.topology(), [failed])
    return {a.id: str(a.state) for a in br.affected()}


class TestAsOfGraph:
    def test_graph_at_each_time(self, timeline):
        store, (t0, t1, t2, t3) = timeline
        assert _graph(AsOfStore(store, t0)) == (["seed"], [])
        assert _graph(AsOfStore(store, t1)) == (
            ["app", "db", "seed", "srv", "svc"],
            [("app", "depends_on", "db"), ("app", "provides", "svc"), ("db", "runs_on", "srv")],
        )
        assert _graph(AsOfStore(store, t2)) == (
            ["app", "db", "pool", "seed", "srv", "srv2", "svc"],
            [
                ("app", "depends_on", "db"),
                ("app", "provides", "svc"),
                ("db", "runs_on", "pool"),
                ("srv", "member_of", "pool"),
                ("srv2", "member_of", "pool"),
            ],
        )
        cis, rels = _graph(AsOfStore(store, t3))
        assert "srv2" not in cis and ("srv2", "member_of", "pool") not in rels

    def test_now_equals_the_live_store(self, timeline):
        store, (_, _, t2, t3) = timeline
        past = AsOfStore(store, t3 + timedelta(seconds=1))
        assert _graph(past) == _graph(store)
        for ci_id in ("db", "pool", "srv", "ghost"):
            assert past.relationship_counts(ci_id) == store.relationship_counts(ci_id)
        assert AsOfStore(store, t2).relationship_counts("pool") == [
            ("member_of", "in", 2),
            ("runs_on", "in", 1),
        ]
        live, rebuilt = store.topology(), past.topology()
        assert sorted(live.ids) == sorted(rebuilt.ids)
        assert live.m == rebuilt.m

    def test_attributes_and_retired_cis(self, timeline):
        store, (_, t1, t2, t3) = timeline
        assert AsOfStore(store, t1).get_ci("app").owner == "alice"
        assert AsOfStore(store, t2).get_ci("app").owner == "bob"
        assert AsOfStore(store, t3).get_ci("srv2").status.value == "retired"
        with pytest.raises(NotFoundError, match="srv2"):
            AsOfStore(store, t1).get_ci("srv2")
        retired = AsOfStore(store, t3).find_cis(CIFilter(include_retired=True, ids=("srv2",)))
        assert [c.id for c in retired] == ["srv2"]

    def test_rel_list_of_one_ci_with_retired(self, timeline):
        store, (_, _, t2, _) = timeline
        got = AsOfStore(store, t2).find_relationships(RelFilter(ci="db", include_retired=True))
        assert [(*r.key, r.status) for r in got] == [
            ("app", "depends_on", "db", "active"),
            ("db", "runs_on", "pool", "active"),
            ("db", "runs_on", "srv", "retired"),
        ]

    def test_rel_pages_follow_the_cursor(self, timeline):
        store, (_, _, t2, _) = timeline
        past = AsOfStore(store, t2)
        every = [r.key for r in past.find_relationships(RelFilter(include_retired=True))]
        paged, after = [], None
        while True:
            page = past.find_relationships(RelFilter(include_retired=True, after=after, limit=2))
            if not page:
                break
            paged += [r.key for r in page]
            after = page[-1].key
        assert paged == every and len(every) > 2

    def test_history_stops_at_the_time(self, timeline):
        store, (_, t1, _, _) = timeline
        assert {e.at for e in AsOfStore(store, t1).history(HistoryFilter())} <= {
            e.at for e in store.history(HistoryFilter(until=t1))
        }

    def test_is_read_only(self, timeline):
        store, (_, t1, _, _) = timeline
        with pytest.raises(StoreError, match="read-only"):
            AsOfStore(store, t1).apply(Batch(), actor="t")

    def test_as_of_none_is_the_store(self, store):
        assert as_of(store, None) is store


class TestAsOfBlastRadius:
    def test_blast_radius_through_time(self, timeline):
        store, (_, t1, t2, t3) = timeline
        # t1: srv hosts db directly, so everything above it goes down
        assert _states(AsOfStore(store, t1), "srv") == {
            "db": "down",
            "app": "down",
            "svc": "down",
        }
        # t2: srv is one of two members of a 1-of-2 pool: nothing goes down
        t2_states = _states(AsOfStore(store, t2), "srv")
        assert "down" not in t2_states.values() and t2_states.get("pool") in (
            "degraded",
            "at_risk",
        )
        # t3: srv2 retired, srv is the pool's last member: down again, through the pool
        assert _states(AsOfStore(store, t3), "srv") == {
            "pool": "down",
            "db": "down",
            "app": "down",
            "svc": "down",
        }

    def test_depends_on_through_time(self, timeline):
        store, (_, t1, t2, _) = timeline
        need1 = set(depends_on(AsOfStore(store, t1).topology(), "app").ids())
        assert need1 == {"db", "srv"}
        need2 = set(depends_on(AsOfStore(store, t2).topology(), "app").ids())
        assert need2 == {"db", "pool", "srv", "srv2"}

    def test_unknown_ci_at_that_time(self, timeline):
        store, (t0, *_) = timeline
        with pytest.raises(NotFoundError):
            blast_radius(AsOfStore(store, t0).topology(), ["srv"])


def test_state_as_of_reads_in_bulk(timeline, monkeypatch):
    store, (*_, t3) = timeline
    calls = []
    real = store.history_as_of
    monkeypatch.setattr(store, "history_as_of", lambda e, at: calls.append(e) or real(e, at))
    state_as_of(store, t3)
    assert calls == ["ci", "relationship"]
