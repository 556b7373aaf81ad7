"""Baselines: created as records, rebuilt from history, compared (both backends)."""

from __future__ import annotations

import pytest

from cmdb.baselines import create_baseline, diff_baselines, find_baseline, list_baselines
from cmdb.errors import ConflictError, NotFoundError
from cmdb.model import Batch
from tests.cmdb.store.test_contract import ci, rel, small_graph


def _summary(d):
    return sorted((i.kind, i.id, i.change, tuple(str(f) for f in i.fields)) for i in d.items)


class TestBaselines:
    def test_create_list_find(self, store):
        store.apply(small_graph(), actor="t")
        b = create_baseline(store, "q4", actor="auditor")
        assert b.id == "BL-000001" and b.counts == {"cis": 4, "relationships": 3}
        assert [x.name for x in list_baselines(store)] == ["q4"]
        assert find_baseline(store, "BL-000001").name == "q4"
        with pytest.raises(NotFoundError):
            find_baseline(store, "nope")

    @pytest.mark.parametrize("name", ["q4", "now"])
    def test_names_are_unique(self, store, name):
        create_baseline(store, "q4", actor="auditor")
        with pytest.raises(ConflictError, match="exists"):
            create_baseline(store, name, actor="auditor")

    def test_diff_added_retired_changed(self, store):
        store.apply(small_graph(), actor="t")
        create_baseline(store, "before", actor="auditor")
        store.apply(
            Batch(
                cis=[
                    ci("app", owner="carol", identifiers={"hostnames": ["App-Host"]}),
                    ci("web", "application"),
                ],
                relationships=[rel("web", "db")],
                retire_relationships=[("srv", "member_of", "pool")],
            ),
            actor="t",
        )
        store.apply(Batch(retire_cis=["pool"]), actor="t")
        create_baseline(store, "after", actor="auditor")
        expected = [
            ("ci", "app", "changed", ("owner: 'alice' -> 'carol'",)),
            ("ci", "pool", "retired", ()),
            ("ci", "web", "added", ()),
            ("relationship", "srv|member_of|pool", "retired", ()),
            ("relationship", "web|depends_on|db", "added", ()),
        ]
        assert _summary(diff_baselines(store, "before", "after")) == expected
        assert _summary(diff_baselines(store, "before")) == expected  # against now
        assert diff_baselines(store, "after", "now").items == ()
        back = diff_baselines(store, "after", "before")
        assert {(i.id, i.change) for i in back.items} >= {("web", "retired"), ("pool", "added")}

    def test_discovery_noise_is_no_difference(self, store):
        from cmdb.model import utcnow

        store.apply(small_graph(), actor="t")
        create_baseline(store, "b", actor="auditor")
        store.apply(
            Batch(
                cis=[
                    ci(
                        "app",
                        owner="alice",
                        identifiers={"hostnames": ["App-Host"]},
                        last_seen={"agent": utcnow()},
                    )
                ]
            ),
            actor="t",
        )
        assert diff_baselines(store, "b").items == ()

    def test_counts(self, store):
        store.apply(small_graph(), actor="t")
        create_baseline(store, "b", actor="auditor")
        store.apply(Batch(retire_cis=["app"]), actor="t")
        d = diff_baselines(store, "b")
        assert d.counts() == {"cis retired": 1, "relationships retired": 1}
