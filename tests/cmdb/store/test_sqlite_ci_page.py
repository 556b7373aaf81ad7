"""One CI's relationships in the SQLite store, ordered by the ends' ids read from the stored
documents (not by joining both ends' rows): the same page as sorting every matching
relationship by (source, type, target), whatever the ids, the limit, the types or retirements."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.settings import Settings
from cmdb.store import open_store

# ids whose order is easy to get wrong: case, punctuation before and after digits, prefixes
IDS = ["a", "A", "a-1", "a.1", "a/1", "a1", "a_b", "a@x", "B:1", "b", "Z", "0", "a-10", "a-9"]
TYPES = ["uses", "depends_on"]


@st.composite
def graphs(draw):
    ids = draw(st.lists(st.sampled_from(IDS), min_size=2, max_size=8, unique=True))
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(ids), st.sampled_from(TYPES), st.sampled_from(ids)).filter(
                lambda k: k[0] != k[2]  # no loops: the model refuses them
            ),
            unique=True,
            max_size=20,
        )
    )
    retired = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    return ids, keys, retired


@settings(max_examples=40, deadline=None)
@given(
    graph=graphs(),
    limit=st.sampled_from([None, 1, 3]),
    types=st.sampled_from([(), ("uses",)]),
    include_retired=st.booleans(),
)
def test_a_cis_page_is_the_sorted_matching_relationships(graph, limit, types, include_retired):
    ids, keys, retired = graph
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings(db=Path(tmp) / "p.db"), create=True)
        try:
            cis = [CI(id=i, ci_class="application", name=i) for i in ids]
            rels = [Relationship(source=s, type=t, target=d) for s, t, d in keys]
            store.apply(Batch(cis=cis, relationships=rels), actor="t")
            if retired:
                store.apply(Batch(retire_relationships=retired), actor="t")
            live = set(keys) if include_retired else set(keys) - set(retired)
            for ci in ids:
                flt = RelFilter(ci=ci, limit=limit, types=types, include_retired=include_retired)
                expected = sorted(
                    k for k in live if ci in (k[0], k[2]) and (not types or k[1] in types)
                )[:limit]
                assert [r.key for r in store.find_relationships(flt)] == expected
        finally:
            store.close()
