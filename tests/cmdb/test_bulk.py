"""``parse_document`` gives what ``json.loads`` gives, for any JSON Python's encoder writes;
``construct`` makes what ``model_construct`` makes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from cmdb.bulk import construct, parse_document
from cmdb.enums import HistoryAction
from cmdb.model import CI, HistoryEntry

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # lone surrogates included: jiter refuses them, json.loads reads them
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(_values, st.booleans())
def test_same_as_json_loads(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(parse_document(text), json.loads(text))


def test_lone_surrogate_falls_back():
    assert parse_document('{"b": "\\ud800"}') == {"b": "\ud800"}


_ENTRY = dict(  # the fields of a history entry, by name
    seq=3,
    at=datetime(2026, 1, 1, tzinfo=UTC),
    actor="a",
    change_id=None,
    batch_id=2,
    entity="ci",
    entity_id="srv-1",
    action=HistoryAction.UPDATE,
    before={"id": "srv-1"},
    after={"id": "srv-1", "name": "x"},
)


class TestConstruct:
    def test_every_field_given_is_model_construct(self):
        fast = construct(HistoryEntry, dict(_ENTRY))
        slow = HistoryEntry.model_construct(**_ENTRY)
        assert fast == slow and type(fast) is HistoryEntry
        assert fast.model_fields_set == slow.model_fields_set
        assert fast.model_dump_json() == slow.model_dump_json()
        assert fast.model_copy(update={"seq": 4}).seq == 4

    def test_fewer_fields_take_the_defaults(self):
        given = {k: v for k, v in _ENTRY.items() if k not in ("change_id", "before")}
        made = construct(HistoryEntry, given)
        assert made.change_id is None and made.before is None
        assert made.model_fields_set == set(given)

    def test_models_with_aliases_go_through_model_construct(self):
        ci = construct(CI, {"id": "a", "class": "desktop", "name": "A"})
        assert ci.ci_class == "desktop" and ci == CI.model_construct(
            id="a", **{"class": "desktop"}, name="A"
        )
