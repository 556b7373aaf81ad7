"""The only module that writes to the terminal.

Commands build plain data (dicts and lists) and hand it here with the chosen format: ``json``
prints it as JSON on stdout; ``table`` renders it with Rich. Errors go to stderr as one line.

Every string is printed as plain text, whoever wrote it: Rich markup (``[red]``, ``[/x]``) and
emoji codes are shown as typed, never interpreted, and control characters are shown as escapes
(ESC as ``\\x1b``), so a CI named ``$'evil\\x1b[2J'`` cannot clear the screen. Table cells keep
line breaks and tabs; one-line outputs (errors, titles, captions) show them as ``\\n`` and ``\\t``.
``emit_text`` (exports, pictures) writes its text unchanged to a pipe or file, and escapes
control characters other than line breaks and tabs when stdout is a terminal.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from itertools import chain
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "Format",
    "GraphFormat",
    "emit_chunks",
    "emit_json",
    "emit_kv",
    "emit_line",
    "emit_model",
    "emit_table",
    "emit_text",
    "error",
    "info",
    "plain",
    "progress",
    "warn",
]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control character (C0, DEL, C1, line and paragraph separators,
    bidirectional overrides) shown as an escape; ``multiline`` keeps line breaks and tabs.

    >>> plain("evil\\x1b[2J")
    'evil\\\\x1b[2J'
    >>> plain("a\\nb"), plain("a\\nb", multiline=True)
    ('a\\\\nb', 'a\\nb')
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if multiline and ch in "\n\t":
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            out.append(_visible(ch))
        else:
            out.append(ch)
    return "".join(out)


def _text(value: object, *, multiline: bool = False, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``value`` exactly: no markup, no emoji codes, no escapes."""
    return Text(plain(value, multiline=multiline), style=style)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


class GraphFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    DOT = "dot"
    MERMAID = "mermaid"


def _out() -> Console:
    return Console(soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON (stable key order, UTF-8 kept readable)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def emit_model(model: BaseModel) -> None:
    """Print a model as the JSON of ``model.model_dump(mode="json")``, encoded by pydantic's
    serialiser: the same text as :func:`emit_json` of that dump, about five times faster on
    an answer of a hundred thousand rows (Python's own encoder is pure Python once indented)."""
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")


def emit_line(text: str) -> None:
    """One line of the answer itself, on stdout (not a diagnostic)."""
    _out().print(_text(text), highlight=False)


def emit_text(text: str) -> None:
    """Text that is data (an export, a picture) on stdout: unchanged into a pipe or a file;
    on a terminal, control characters other than line breaks and tabs are escaped."""
    if sys.stdout.isatty():
        text = plain(text, multiline=True)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def emit_chunks(chunks: Iterable[str]) -> None:
    """Text that is data, given in parts (a streamed export), written as each part comes, with
    the rule of :func:`emit_text`; the text is expected to end its own last line."""
    tty = sys.stdout.isatty()
    for chunk in chunks:
        sys.stdout.write(plain(chunk, multiline=True) if tty else chunk)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):  # unset members (None, [], {}) are left out
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items() if v not in (None, [], {}))
    return str(value)


def _title(text: str | None) -> Text | None:
    return None if text is None else _text(text)


_ID_COLUMNS = frozenset({"id", "ci", "via", "source", "target", "covers", "root"})
_TIME_COLUMNS = frozenset({"started", "finished", "when", "time", "since"})
_MIN_OTHER = 6  # the narrowest a folded column is still worth showing
_CELL_EDGES = 3  # a cell's padding and its border
_MAX_HEADER = 12  # headers longer than this may wrap rather than widen their column


def _is_id_column(col: str) -> bool:
    """Columns shown whole or not at all: ids, and times (a cut date is a wrong date)."""
    return (
        col in _ID_COLUMNS
        or col in _TIME_COLUMNS
        or col.endswith(("_id", "_ids", "_at", "_start", "_end", "_time"))
    )


def emit_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """Render ``rows`` as a table of ``columns`` (missing keys print empty).

    Ids and times are never cut: their columns (``id``, ``via``, ``*_id``, ``*_at``...) keep
    their longest value on one line, other columns fold (wrap) instead of ending in an
    ellipsis, and when the terminal is too narrow for that, columns are dropped from the right
    (never the first) and the caption says which (``--format json`` has everything)."""
    rows = list(rows)
    cells = [[plain(_cell(row.get(col)), multiline=True) for col in columns] for row in rows]
    console = _out()
    widths = {}
    for j, col in enumerate(columns):
        if _is_id_column(col):
            longest = max((len(line) for r in cells for line in r[j].splitlines()), default=0)
            widths[j] = max(longest, len(col))
    keep = list(range(len(columns)))

    def least(j: int) -> int:  # other columns: room for their header, within reason
        return widths.get(j, max(_MIN_OTHER, min(len(columns[j]), _MAX_HEADER)))

    def need(kept: list[int]) -> int:
        return sum(least(j) + _CELL_EDGES for j in kept) + 1

    dropped = []
    while need(keep) > console.width and len(keep) > 1:
        dropped.append(columns[keep.pop()])
    if dropped:
        note = f"not shown at this width: {', '.join(reversed(dropped))}"
        caption = f"{caption}; {note}" if caption else note
    table = Table(
        title=_title(title), caption=_title(caption), show_lines=False, header_style="bold"
    )
    for j in keep:
        if j in widths:
            table.add_column(_text(columns[j].replace("_", " ")), no_wrap=True, min_width=widths[j])
        else:
            table.add_column(
                _text(columns[j].replace("_", " ")), overflow="fold", min_width=least(j)
            )
    header = [plain(columns[j].replace("_", " ")) for j in keep]
    body = [[r[j] for j in keep] for r in cells]
    least_widths = [least(j) for j in keep]
    text = _drawn(console, body, least_widths, header=header, title=title, caption=caption)
    if text is not None:
        sys.stdout.write(text)
        return
    for r in cells:
        table.add_row(*(Text(r[j]) for j in keep), end_section=False)
    console.print(table)


def emit_kv(data: Mapping[str, Any], *, title: str | None = None) -> None:
    """Render one object as a two-column table."""
    rows = [[plain(key), plain(_cell(value), multiline=True)] for key, value in data.items()]
    console = _out()
    text = _drawn(console, rows, [0, 0], header=None, title=title, caption=None)
    if text is not None:
        sys.stdout.write(text)
        return
    table = Table(title=_title(title), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    console.print(table)


def _drawn(
    console: Console,
    rows: list[list[str]],
    least: list[int],
    *,
    header: list[str] | None,
    title: str | None,
    caption: str | None,
) -> str | None:
    """The text Rich prints for a table of these ``rows`` (already :func:`plain`), columns at
    least ``least`` wide, on ``console``; drawn here, 30× faster (a hub's page of 50 rows:
    0.3 ms, not 11 ms), where that is plain: a console without colour or styles, UTF-8 box
    characters, every cell, the title and the caption on one line (no tabs), the table as
    narrow as the console. None otherwise: Rich draws it (wrapping, folding, styles).
    tests/cli/test_output_drawn.py checks it against Rich's own drawing."""
    if console.color_system is not None or console.legacy_windows or console.is_jupyter:
        return None
    if not console.encoding.lower().startswith("utf"):
        return None
    if not rows:  # Rich sizes an empty table by other rules
        return None
    lines = [*rows, header or []]
    notes = [plain(t) for t in (title, caption) if t is not None]
    if any(not t for t in notes) or not all(map(_narrow, [*notes, *chain(*lines)])):
        return None
    widths = list(least)
    for r in lines:
        for j, c in enumerate(r):
            widths[j] = max(widths[j], len(c))
    total = sum(widths) + 3 * len(widths) + 1
    if total > console.width or any(len(t) > total for t in notes):
        return None

    def row(cells: list[str], bar: str) -> str:
        padded = (c.ljust(w) for c, w in zip(cells, widths, strict=True))
        return bar + "".join(f" {c} {bar}" for c in padded) + "\n"

    def rule(left: str, line: str, cross: str, right: str) -> str:
        return left + cross.join(line * (w + 2) for w in widths) + right + "\n"

    out = [notes[0] + "\n"] if title is not None else []
    if header is not None:
        out += [rule("┏", "━", "┳", "┓"), row(header, "┃"), rule("┡", "━", "╇", "┩")]
    else:
        out.append(rule("┌", "─", "┬", "┐"))
    out += [row(r, "│") for r in rows]
    out.append(rule("└", "─", "┴", "┘"))
    if caption is not None:
        out.append(notes[-1] + "\n")
    return "".join(out)


def _narrow(text: str) -> bool:
    """Printable characters one cell wide each: no line breaks or tabs, no wide characters (CJK,
    emoji), no zero-width ones (combining accents)."""
    return text.isprintable() and (text.isascii() or cell_len(text) == len(text))


def error(message: str) -> None:
    """One line on stderr: ``error: <message>``."""
    _err().print(Text.assemble(("error:", "bold red"), " ", _text(message)), highlight=False)


def warn(message: str) -> None:
    _err().print(Text.assemble(("warning:", "yellow"), " ", _text(message)), highlight=False)


def info(message: str) -> None:
    _err().print(_text(message), highlight=False)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A progress bar on stderr; yields ``advance(n, total=None)`` (a total given on the way
    replaces the first one: a generator knows its item count only once it has planned)."""
    from rich.progress import (  # loaded by the few long commands that show one
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err(),
        transient=False,
    ) as bar:
        task = bar.add_task(plain(description), total=total)

        def advance(n: int, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.update(task, advance=n)

        yield advance
