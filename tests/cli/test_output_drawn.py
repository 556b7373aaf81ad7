"""Tables drawn without Rich where that is plain (no colour, one-line cells, as narrow as the
console) are the very text Rich prints; everything else is still Rich's."""

from __future__ import annotations

import contextlib
import io
import os
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from cli import output

LATIN = st.characters(min_codepoint=0x20, max_codepoint=0x17F)
SPECIAL = st.sampled_from(["中", "文", "の", "😀", "é", "\u0301", "[red]", "\n", "\t", "\x1b", " "])
CHARS = st.one_of(LATIN, LATIN, LATIN, LATIN, LATIN, SPECIAL)  # mostly drawn here, some by Rich
TEXT = st.lists(CHARS, max_size=14).map("".join)
COLUMNS = ["id", "name", "status", "owner_id", "attributes", "created_at", "x"]
PLAIN_ENV = {"COLUMNS": "80", "TERM": "dumb"}


def _printed(draw: bool, width: int, call) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORCE_COLOR", "TTY_"))}
    env |= {**PLAIN_ENV, "COLUMNS": str(width)}
    out = io.StringIO()
    with mock.patch.dict(os.environ, env, clear=True), contextlib.redirect_stdout(out):
        if draw:
            call()
        else:
            with mock.patch.object(output, "_drawn", return_value=None):
                call()
    return out.getvalue()


ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=14)


@st.composite
def tables(draw, text=TEXT):
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True))
    rows = draw(st.lists(st.fixed_dictionaries({c: text for c in columns}), max_size=6))
    title = draw(st.none() | text)
    caption = draw(st.none() | text)
    return rows, columns, title, caption


@settings(max_examples=300, deadline=None)
@given(
    table=st.one_of(tables(), tables(ASCII)),  # the second is mostly drawn here
    width=st.sampled_from([30, 80, 200]),
)
def test_a_table_is_what_rich_prints(table, width):
    rows, columns, title, caption = table

    def call():
        output.emit_table(rows, columns, title=title, caption=caption)

    assert _printed(True, width, call) == _printed(False, width, call)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(TEXT, st.one_of(TEXT, st.lists(TEXT, max_size=3)), max_size=6),
    title=st.none() | TEXT,
    width=st.sampled_from([30, 80]),
)
def test_an_object_is_what_rich_prints(data, title, width):
    def call():
        output.emit_kv(data, title=title)

    assert _printed(True, width, call) == _printed(False, width, call)


def test_the_plain_case_is_drawn_here_and_a_coloured_one_by_rich():
    from rich.console import Console

    rows = [["db-core", "live"]]
    plain = Console(file=io.StringIO(), color_system=None, width=80)
    coloured = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor")
    assert output._drawn(plain, rows, [0, 0], header=["id", "status"], title="t", caption=None)
    assert (
        output._drawn(coloured, rows, [0, 0], header=["id", "status"], title="t", caption=None)
        is None
    )
    narrow = Console(file=io.StringIO(), color_system=None, width=10)
    assert output._drawn(narrow, rows, [0, 0], header=None, title=None, caption=None) is None
