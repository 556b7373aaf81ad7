"""The only module that writes to the terminal.

Commands build plain data (dicts and lists) and hand it here with the chosen format: ``json``
prints it as JSON on stdout; ``table`` renders it with Rich. Errors go to stderr as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = [
    "Format",
    "GraphFormat",
    "emit_json",
    "emit_kv",
    "emit_line",
    "emit_table",
    "emit_text",
    "error",
    "info",
    "progress",
    "warn",
]


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


def emit_line(text: str) -> None:
    """One line of the answer itself, on stdout (not a diagnostic)."""
    _out().print(text, markup=False, highlight=False)


def emit_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def emit_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *,
               title: str | None = None, caption: str | None = None) -> None:
    """Render ``rows`` as a table of ``columns`` (missing keys print empty)."""
    table = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col.replace("_", " "))
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns), end_section=False)
    _out().print(table)


def emit_kv(data: Mapping[str, Any], *, title: str | None = None) -> None:
    """Render one object as a two-column table."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(key, _cell(value))
    _out().print(table)


def error(message: str) -> None:
    """One line on stderr: ``error: <message>``."""
    _err().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


def warn(message: str) -> None:
    _err().print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)


def info(message: str) -> None:
    _err().print(message, markup=False, highlight=False)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A progress bar on stderr; yields ``advance(n)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=_err(), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.update(task, advance=n)
