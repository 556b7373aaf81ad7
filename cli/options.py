"""Option types and small parsers shared by the command modules."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.output import Format
from cmdb.errors import ValidationError

__all__ = ["ChangeOpt", "FormatOpt", "parse_assignments"]

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ChangeOpt = Annotated[str | None, typer.Option("--change", help="Change record id, for history.")]


def parse_value(text: str) -> Any:
    """A JSON scalar when the text is one (``8``, ``0.999``, ``true``), else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool | list) else text


def parse_assignments(items: list[str] | None, *, option: str = "--set") -> dict[str, Any]:
    """``["os=AIX 7.2", "cpu_count=16"]`` -> ``{"os": "AIX 7.2", "cpu_count": 16}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"expected NAME=VALUE, got {item!r}", field=option)
        out[key.strip()] = parse_value(value)
    return out
