"""The store contract for paging relationships with the ``RelFilter.after`` cursor: every backend
returns each matching relationship exactly once, in (source, type, target) order, whatever the
page size and filter, and a write between pages neither skips nor repeats a row."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship

IDS = ["a", "a-1", "a.2", "b", "hub", "z"]
PAIRS = [(s, t) for s in IDS for t in IDS if s != t]


def estate() -> Batch:
    """Sources with several types and targets each, so pages cut inside one source and one
    (source, type) run; ids chosen so that '-' and '.' sort between letters."""
    cis = [CI(id=i, ci_class="application", name=i.upper()) for i in IDS]
    rels = [
        Relationship(source=s, type=t, target=d)
        for n, (s, d) in enumerate(PAIRS)
        for t in ("depends_on", "uses")[: 1 + n % 2]
    ]
    return Batch(cis=cis, relationships=rels)


def pages(store, flt: RelFilter, size: int) -> list[tuple[str, str, str]]:
    got: list[tuple[str, str, str]] = []
    after = None
    while True:
        page = store.find_relationships(flt.model_copy(update={"limit": size, "after": after}))
        got += [r.key for r in page]
        if len(page) < size:
            return got
        after = page[-1].key


@pytest.fixture
def loaded(store):
    store.apply(estate(), actor="t")
    store.apply(
        Batch(retire_relationships=[("a", "depends_on", "b"), ("hub", "uses", "b")]), actor="t"
    )
    return store


class TestRelationshipCursor:
    @pytest.mark.parametrize("size", [1, 2, 7, 1000])
    def test_pages_hold_every_row_once_in_key_order(self, loaded, size):
        everything = [r.key for r in loaded.find_relationships(RelFilter(include_retired=True))]
        assert len(everything) == len(set(everything)) > 40
        assert everything == sorted(everything)
        assert pages(loaded, RelFilter(include_retired=True), size) == everything

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        size=st.integers(1, 9),
        end=st.sampled_from([{}, {"source": "hub"}, {"target": "a"}, {"ci": "a-1"}]),
        types=st.sampled_from([(), ("uses",), ("depends_on", "uses")]),
        retired=st.booleans(),
    )
    def test_any_filter_pages_like_the_whole_answer(self, loaded, size, end, types, retired):
        flt = RelFilter(types=types, include_retired=retired, **end)
        assert pages(loaded, flt, size) == [r.key for r in loaded.find_relationships(flt)]

    def test_cursor_is_a_key_not_a_position(self, loaded):
        first = loaded.find_relationships(RelFilter(limit=3))
        # a write before the cursor (a new first row) neither repeats nor skips a row
        loaded.apply(
            Batch(
                cis=[CI(id="0", ci_class="application", name="Zero")],
                relationships=[Relationship(source="0", type="uses", target="a")],
            ),
            actor="t",
        )
        rest = loaded.find_relationships(RelFilter(after=first[-1].key))
        whole = [r.key for r in loaded.find_relationships(RelFilter())]
        assert [r.key for r in first] + [r.key for r in rest] == whole[1:]

    def test_cursor_past_the_end_and_unknown_keys(self, loaded):
        assert loaded.find_relationships(RelFilter(after=("zz", "a", "a"))) == []
        # the cursor need not name a stored relationship: it is a position in key order
        cut = ("hub", "t", "~")
        got = [r.key for r in loaded.find_relationships(RelFilter(after=cut))]
        whole = [r.key for r in loaded.find_relationships(RelFilter())]
        assert got == [k for k in whole if k > cut] and got[0][0] == "hub"
