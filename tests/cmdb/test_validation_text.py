"""``check_text`` (one regular-expression search) against the definition it replaces: a
character of Unicode category Cc, except tab and line breaks in multi-line text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdb.errors import ValidationError
from cmdb.validation import check_text


def _reference(value: str, multiline: bool) -> int | None:
    """The position of the first refused character, or None."""
    for pos, ch in enumerate(value):
        if unicodedata.category(ch) == "Cc" and not (multiline and ch in "\t\n\r"):
            return pos
    return None


class TestCheckText:
    @given(st.text(st.characters(max_codepoint=0x2FF)), st.booleans())
    def test_refuses_exactly_what_the_category_rule_refuses(self, value, multiline):
        pos = _reference(value, multiline)
        if pos is None:
            check_text(value, field="name", multiline=multiline)
            return
        with pytest.raises(ValidationError) as err:
            check_text(value, field="name", multiline=multiline)
        assert f"U+{ord(value[pos]):04X} at position {pos})" in str(err.value)

    @pytest.mark.parametrize("ch", ["\x00", "\x1b", "\x7f", "\x85", "\x9f"])
    def test_control_characters_are_named(self, ch):
        with pytest.raises(ValidationError, match=f"U\\+{ord(ch):04X} at position 2"):
            check_text(f"ab{ch}", field="name", multiline=True)

    @pytest.mark.parametrize("ch", ["\t", "\n", "\r"])
    def test_line_breaks_only_in_multiline_text(self, ch):
        check_text(f"a{ch}b", field="description", multiline=True)
        with pytest.raises(ValidationError, match="field 'name'"):
            check_text(f"a{ch}b", field="name")
