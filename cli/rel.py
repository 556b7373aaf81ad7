"""Relationships: add, list, remove."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError as PydanticError

from cli import output
from cli.options import AsOfOpt, ChangeOpt, FormatOpt, SetOpt
from cli.output import Format
from cli.state import get_state
from cmdb import ops
from cmdb.asof import as_of
from cmdb.filters import RelFilter
from cmdb.model import Relationship
from cmdb.validation import pydantic_error
from cmdb.values import parse_attributes, split_assignments
from cmdb.views import list_relationships

TABLE_LIMIT = 500
"""Relationships a table lists when no ``--limit`` is given."""

app = typer.Typer(no_args_is_help=True)

Source = Annotated[str, typer.Argument(metavar="SOURCE")]
Type = Annotated[str, typer.Argument(metavar="TYPE")]
Target = Annotated[str, typer.Argument(metavar="TARGET")]


@app.command("add")
def add(
    ctx: typer.Context,
    source: Source,
    rel_type: Type,
    target: Target,
    set_: SetOpt = None,
    change: ChangeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add SOURCE -[TYPE]-> TARGET, e.g. `cmdb rel add cb-app depends_on cb-db`."""
    state = get_state(ctx)
    attributes = parse_attributes(None, None, split_assignments(set_))
    try:
        rel = Relationship(source=source, type=rel_type, target=target, attributes=attributes)
    except PydanticError as exc:
        raise pydantic_error(exc) from None
    created = ops.add_relationship(state.store, rel, actor=state.actor, change_id=change)
    if fmt is Format.JSON:
        output.emit_json(created.to_json())
    else:
        output.info(f"added {source} -[{rel_type}]-> {target}")


@app.command("list")
def list_(
    ctx: typer.Context,
    ci: Annotated[str | None, typer.Option(help="Either end.")] = None,
    source: str | None = None,
    target: str | None = None,
    rel_type: Annotated[list[str] | None, typer.Option("--type", "-t")] = None,
    include_retired: bool = False,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"At most this many (a table shows {TABLE_LIMIT} unless told; JSON all)."
        ),
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    at: AsOfOpt = None,
) -> None:
    """List relationships."""
    # a table of a hub's 20k relationships helps nobody: the first TABLE_LIMIT, and a hint
    capped = limit is None and fmt is not Format.JSON
    flt = RelFilter(
        ci=ci,
        source=source,
        target=target,
        types=tuple(rel_type or ()),
        include_retired=include_retired,
        limit=TABLE_LIMIT + 1 if capped else limit,
    )
    store = as_of(get_state(ctx).store, at)
    rels = [r.to_json() for r in list_relationships(store, flt, type_field="--type")]
    if fmt is Format.JSON:
        output.emit_json(rels)
        return
    caption = f"{len(rels)} relationships"
    if capped and len(rels) > TABLE_LIMIT:
        rels = rels[:TABLE_LIMIT]
        caption = (
            f"the first {TABLE_LIMIT} relationships; more exist (--limit N, or --format json "
            "for all; cmdb ci show counts them by type)"
        )
    output.emit_table(rels, ["source", "type", "target", "status", "attributes"], caption=caption)


@app.command("remove")
def remove(
    ctx: typer.Context, source: Source, rel_type: Type, target: Target, change: ChangeOpt = None
) -> None:
    """Retire SOURCE -[TYPE]-> TARGET (kept in history)."""
    state = get_state(ctx)
    ops.remove_relationship(
        state.store, source, rel_type, target, actor=state.actor, change_id=change
    )
    output.info(f"removed {source} -[{rel_type}]-> {target}")
