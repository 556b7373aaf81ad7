"""The CI page's view (``cmdb.views.ci_view``): the first relationships in all, or the first of
each type and direction, on both backends and as of a past time."""

from __future__ import annotations

import pytest

from cmdb.asof import as_of
from cmdb.errors import NotFoundError, ValidationError
from cmdb.filters import HistoryFilter, RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.views import ci_view


def _hub() -> Batch:
    """A switch with 12 servers connected to it, 2 devices it connects to, a cluster it is a
    member of: ``connected_to`` in (12), ``connected_to`` out (2), ``member_of`` out (1)."""
    servers = [CI(id=f"srv-{i:02}", ci_class="physical_server", name="S") for i in range(12)]
    others = [CI(id=f"fw-{i}", ci_class="firewall", name="F") for i in range(2)]
    return Batch(
        cis=[
            CI(id="sw", ci_class="switch", name="Switch"),
            CI(id="pool", ci_class="cluster", name="Pool", min_required=1),
            *servers,
            *others,
        ],
        relationships=[
            *(Relationship(source=s.id, type="connected_to", target="sw") for s in servers),
            *(Relationship(source="sw", type="connected_to", target=o.id) for o in others),
            Relationship(source="sw", type="member_of", target="pool"),
        ],
    )


def _groups(view) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for r in view.relationships:
        direction = "out" if r.source == "sw" else "in"
        out.setdefault((r.type, direction), []).append(r.id)
    return out


class TestCIViewPerType:
    def test_the_first_of_each_type_and_direction(self, store):
        store.apply(_hub(), actor="t")
        view = ci_view(store, "sw", per_type=3)
        assert [(c.type, c.direction, c.count) for c in view.relationship_counts] == [
            ("connected_to", "in", 12),
            ("connected_to", "out", 2),
            ("member_of", "out", 1),
        ]
        assert view.relationships_total == 15
        assert _groups(view) == {
            ("connected_to", "in"): [f"srv-{i:02}|connected_to|sw" for i in range(3)],
            ("connected_to", "out"): ["sw|connected_to|fw-0", "sw|connected_to|fw-1"],
            ("member_of", "out"): ["sw|member_of|pool"],
        }
        every = store.find_relationships(RelFilter(ci="sw"))
        assert list(view.relationships) == [r for r in every if r in view.relationships]

    def test_a_limit_lists_the_first_of_all_types_together(self, store):
        store.apply(_hub(), actor="t")
        by_limit = ci_view(store, "sw", limit=3)
        assert set(_groups(by_limit)) == {("connected_to", "in")}
        assert len(ci_view(store, "sw").relationships) == 15

    @pytest.mark.parametrize("k", [1, 2, 12, 100])
    def test_every_size(self, store, k):
        store.apply(_hub(), actor="t")
        groups = _groups(ci_view(store, "sw", per_type=k))
        assert {g: len(ids) for g, ids in groups.items()} == {
            ("connected_to", "in"): min(k, 12),
            ("connected_to", "out"): min(k, 2),
            ("member_of", "out"): 1,
        }

    def test_retired_relationships_are_left_out(self, store):
        store.apply(_hub(), actor="t")
        retire = [("srv-00", "connected_to", "sw"), ("sw", "member_of", "pool")]
        store.apply(Batch(retire_relationships=retire), actor="t")
        view = ci_view(store, "sw", per_type=2)
        assert _groups(view) == {
            ("connected_to", "in"): ["srv-01|connected_to|sw", "srv-02|connected_to|sw"],
            ("connected_to", "out"): ["sw|connected_to|fw-0", "sw|connected_to|fw-1"],
        }

    def test_a_ci_without_relationships(self, store):
        store.apply(Batch(cis=[CI(id="lone", ci_class="application", name="L")]), actor="t")
        assert ci_view(store, "lone", per_type=5).relationships == ()

    def test_as_of_a_past_time(self, store):
        store.apply(_hub(), actor="t")
        then = store.history(HistoryFilter(newest_first=True, limit=1))[0].at
        store.apply(Batch(retire_relationships=[("srv-00", "connected_to", "sw")]), actor="t")
        past = ci_view(as_of(store, then), "sw", per_type=1)
        assert _groups(past)[("connected_to", "in")] == ["srv-00|connected_to|sw"]
        now = ci_view(store, "sw", per_type=1)
        assert _groups(now)[("connected_to", "in")] == ["srv-01|connected_to|sw"]

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"per_type": 0}, "field 'per_type': must be a whole number >= 1"),
            ({"per_type": 5, "limit": 50}, "field 'per_type': give a limit or a number per type"),
        ],
    )
    def test_bad_options(self, sqlite_store, kwargs, match):
        sqlite_store.apply(_hub(), actor="t")
        with pytest.raises(ValidationError, match=match):
            ci_view(sqlite_store, "sw", **kwargs)

    def test_unknown_ci(self, store):
        with pytest.raises(NotFoundError, match="ghost"):
            ci_view(store, "ghost", per_type=5)
