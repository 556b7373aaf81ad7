"""``parse_document`` gives what ``json.loads`` gives, for any JSON Python's encoder writes."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from cmdb.bulk import parse_document

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
