"""Option types shared by the command modules.

Attribute values (``--set NAME=VALUE``) are read by :mod:`cmdb.values`, the one parser that CSV
imports use too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.output import Format

__all__ = ["AsOfOpt", "ChangeOpt", "FormatOpt", "SetOpt", "parse_time"]

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ChangeOpt = Annotated[str | None, typer.Option("--change", help="Change record id, for history.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Attribute NAME=VALUE; repeat. Read as the registry types the attribute."
    ),
]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-20T02:13``, ``2026-11-20``, ``...Z``); one without an
    offset is UTC. A bad one is a usage error (exit 2)."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {text!r} (e.g. 2026-11-20T02:13)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


AsOfOpt = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        parser=parse_time,
        metavar="TIME",
        help="Show the graph as it was at this ISO time (UTC unless given), from history.",
    ),
]
