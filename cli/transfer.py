"""Import and export: `cmdb import FILE` and `cmdb export`, as JSON, CSV or GraphML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import ChangeOpt
from cli.state import get_state
from cmdb.errors import CMDBError
from cmdb.model import BatchResult
from cmdb.transfer import FileFormat, ImportPlan, check_file, export_text, import_file

__all__ = ["register"]

InFormatOpt = Annotated[
    FileFormat | None,
    typer.Option("--format", help="File format (default: from the file extension)."),
]
OutFormatOpt = Annotated[
    FileFormat | None,
    typer.Option("--format", help="File format (default: from the --output extension, else json)."),
]


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="JSON, CSV or GraphML file.")],
    fmt: InFormatOpt = None,
    change: ChangeOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate against the store and show the changes; write nothing."
        ),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace whole CIs and relationships: fields the file leaves out "
            "take their defaults (default: set only the fields the file gives).",
        ),
    ] = False,
    show: Annotated[
        int, typer.Option("--show", min=0, help="With --dry-run: how many field changes to list.")
    ] = 20,
) -> None:
    """Import a file as one batch: all of it or nothing.

    The file sets the fields (columns, JSON keys) it gives and keeps the others, unless
    --replace.
    """
    state = get_state(ctx)
    fmt_name = fmt.value if fmt else None
    if not dry_run:
        result = import_file(
            state.open(create=True),
            file,
            actor=state.actor,
            change_id=change,
            format=fmt_name,
            replace=replace,
        )
        output.emit_line(f"imported {file}: {_counts(result)}")
        return
    plan = check_file(state.store, file, format=fmt_name, replace=replace)
    output.emit_line(f"would import {file}: {_counts(plan)} (dry run, nothing written)")
    for line in plan.diff_lines(show):
        output.emit_line(f"  {line}")


def _counts(result: BatchResult | ImportPlan) -> str:
    return (
        f"{result.created} created, {result.updated} updated, {result.retired} retired, "
        f"{result.unchanged} unchanged"
    )


def export(
    ctx: typer.Context,
    fmt: OutFormatOpt = None,
    what: Annotated[
        str | None, typer.Option("--what", help="For CSV: cis (default) or relationships.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout).")
    ] = None,
    include_retired: Annotated[
        bool, typer.Option("--include-retired", help="Also retired CIs and relationships.")
    ] = False,
) -> None:
    """Export the graph (and, in JSON, the ITSM records)."""
    if fmt is None:
        suffix = out.suffix.lstrip(".").lower() if out else ""
        fmt = FileFormat(suffix) if suffix in FileFormat._value2member_map_ else FileFormat.JSON
    if what is not None and fmt is not FileFormat.CSV:
        raise typer.BadParameter("only CSV exports take --what", param_hint="--what")
    if what not in (None, "cis", "relationships"):
        raise typer.BadParameter("use cis or relationships", param_hint="--what")
    text = export_text(
        get_state(ctx).store, format=fmt.value, what=what or "cis", include_retired=include_retired
    )
    if out is None:
        output.emit_text(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CMDBError(f"{out}: cannot write ({exc.strerror or exc})") from None
    output.info(f"exported to {out}")


def register(app: typer.Typer) -> None:
    """Add the top-level `import` and `export` commands to ``app``."""
    app.command("import")(import_)
    app.command("export")(export)
