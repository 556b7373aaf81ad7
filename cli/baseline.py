"""Baselines: name the configuration at a moment, list them, compare two (or one with now)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb.baselines import create_baseline, diff_baselines, list_baselines

app = typer.Typer(no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    title: Annotated[str, typer.Option(help="What the baseline is for.")] = "",
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Record baseline NAME: the CIs and relationships as they are now."""
    state = get_state(ctx)
    b = create_baseline(state.store, name, actor=state.actor, title=title)
    if fmt is Format.JSON:
        output.emit_json(b.to_json())
    else:
        output.info(
            f"baseline {b.name} ({b.id}) at {b.taken_at:%Y-%m-%d %H:%M:%S}: "
            f"{b.counts.get('cis', 0)} CIs, {b.counts.get('relationships', 0)} relationships"
        )


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """Every baseline, oldest first."""
    rows = [b.to_json() for b in list_baselines(get_state(ctx).store)]
    if fmt is Format.JSON:
        output.emit_json(rows)
        return
    for row in rows:
        row["cis"] = row["counts"].get("cis")
        row["relationships"] = row["counts"].get("relationships")
    output.emit_table(
        rows,
        ["id", "name", "taken_at", "cis", "relationships", "title"],
        caption=f"{len(rows)} baselines",
    )


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(metavar="A")],
    b: Annotated[str, typer.Argument(metavar="B|now")] = "now",
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """What was added, retired and changed (which fields) from baseline A to B or now."""
    result = diff_baselines(get_state(ctx).store, a, b)
    if fmt is Format.JSON:
        output.emit_json(result.to_json())
        return
    counts = result.counts()
    output.emit_line(
        f"{result.a} ({result.a_at:%Y-%m-%d %H:%M}) → {result.b} ({result.b_at:%Y-%m-%d %H:%M}): "
        + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no differences")
    )
    rows = [
        {
            "id": item.id,
            "kind": item.kind,
            "change": item.change,
            "class": item.ci_class,
            "fields": "\n".join(str(f) for f in item.fields),
        }
        for item in result.items
    ]
    if rows:
        output.emit_table(rows, ["id", "kind", "change", "class", "fields"])
