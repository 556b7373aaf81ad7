"""History: every change to a CI and its relationships, as readable diffs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt, parse_time
from cli.output import Format
from cli.state import get_state
from cmdb.history import ci_history

__all__ = ["register"]


def history(
    ctx: typer.Context,
    ci_id: Annotated[str, typer.Argument(metavar="CI")],
    since: Annotated[datetime | None, typer.Option(parser=parse_time, metavar="TIME")] = None,
    until: Annotated[datetime | None, typer.Option(parser=parse_time, metavar="TIME")] = None,
    newest_first: Annotated[
        bool, typer.Option("--newest-first", help="The latest changes first.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Every change to CI and its relationships: when, what, who (or which discovery run),
    and under which change record; oldest first unless --newest-first."""
    lines = ci_history(
        get_state(ctx).store, ci_id, since=since, until=until, newest_first=newest_first
    )
    if fmt is Format.JSON:
        output.emit_json([line.to_json() for line in lines])
        return
    rows = [
        {
            "at": line.at.strftime("%Y-%m-%d %H:%M:%S"),
            "entity_id": _what(line.entity, line.entity_id, ci_id),
            "action": line.action.value,
            "changes": line.summary(),
            "by": line.actor if line.source is None else f"{line.source} ({line.run_id})",
            "change": line.change_record,
        }
        for line in lines
    ]
    output.emit_table(
        rows,
        ["at", "entity_id", "action", "changes", "by", "change"],
        title=f"History of {ci_id}",
        caption=f"{len(rows)} changes",
    )


def _what(entity: str, entity_id: str, ci_id: str) -> str:
    """The CI itself, or a relationship seen from it: ``→ runs_on srv-1``."""
    if entity != "relationship":
        return entity_id
    source, rel_type, target = entity_id.split("|")
    return f"→ {rel_type} {target}" if source == ci_id else f"← {rel_type} {source}"


def register(app: typer.Typer) -> None:
    app.command("history")(history)
