"""Import and export: `cmdb import FILE` and `cmdb export`, as JSON, JSON Lines, CSV or GraphML.

An export is streamed: read from the store page by page and written as it is read, to stdout or
to ``--output FILE`` (through a temporary file beside it, renamed when complete, so a failed
export leaves no partial file). Pages are separate reads, so a write made meanwhile could
mix two states of the store in one file (a relationship whose CI was read before it existed):
the export compares the store's version before and after, and a changed store makes
``--output`` read it again (three tries) and stdout end with an error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import ChangeOpt
from cli.state import get_state
from cmdb.errors import ChangedDuringReadError, CMDBError
from cmdb.export_stream import Export
from cmdb.import_chunked import ChunkedResult, Interrupted, import_chunked
from cmdb.model import BatchResult
from cmdb.transfer import FileFormat, ImportPlan, check_file, check_input, import_file

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
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="JSON, JSON Lines, CSV or GraphML file.")
    ],
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
    chunked: Annotated[
        int | None,
        typer.Option(
            "--chunked",
            min=1,
            metavar="N",
            help="Apply batches of N items, each atomic (CIs, then relationships, then "
            "records): bounded memory, but a bad item stops the import with the batches "
            "before it applied (the file is parsed fully first).",
        ),
    ] = None,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="Large loads on Neo4j: keep the history of what the import creates as one "
            "summary per batch (read back as the same entries); other stores ignore it.",
        ),
    ] = False,
) -> None:
    """Import a file as one batch: all of it or nothing (or, with --chunked N, in batches).

    The file sets the fields (columns, JSON keys) it gives and keeps the others, unless
    --replace.
    """
    state = get_state(ctx)
    fmt_name = fmt.value if fmt else None
    if chunked is not None:
        if bulk:
            raise typer.BadParameter("not available with --chunked yet", param_hint="--bulk")
        if dry_run:
            raise typer.BadParameter("a dry run is never chunked", param_hint="--chunked")
    check_input(file, fmt_name)  # a mistyped FILE creates no store
    if chunked is not None:
        try:
            done = import_chunked(
                state.open(create=True),
                file,
                chunk_size=chunked,
                actor=state.actor,
                change_id=change,
                format=fmt_name,
                replace=replace,
            )
        except Interrupted as stop:
            output.error(
                f"{file}: interrupted after {_batches(stop.done)}, which stay applied; "
                "run the same import again to complete it (what landed counts as unchanged)"
            )
            raise typer.Exit(130) from None
        output.emit_line(f"imported {file} in {_batches(done)}: {_counts(done)}")
        return
    if not dry_run:
        result = import_file(
            state.open(create=True),
            file,
            actor=state.actor,
            change_id=change,
            format=fmt_name,
            replace=replace,
            bulk=bulk,
        )
        output.emit_line(f"imported {file}: {_counts(result)}")
        return
    plan = check_file(state.store, file, format=fmt_name, replace=replace)
    output.emit_line(f"would import {file}: {_counts(plan)} (dry run, nothing written)")
    for line in plan.diff_lines(show):
        output.emit_line(f"  {line}")


def _batches(done: ChunkedResult) -> str:
    return (
        f"{done.batches:,} batch{'es' if done.batches != 1 else ''} "
        f"({done.items:,} item{'s' if done.items != 1 else ''})"
    )


def _counts(result: BatchResult | ImportPlan | ChunkedResult) -> str:
    return (
        f"{result.created:,} created, {result.updated:,} updated, {result.retired:,} retired, "
        f"{result.unchanged:,} unchanged"
    )


def export(
    ctx: typer.Context,
    fmt: OutFormatOpt = None,
    what: Annotated[
        str | None, typer.Option("--what", help="For CSV: cis (default) or relationships.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (default, or -: stdout)."),
    ] = None,
    include_retired: Annotated[
        bool, typer.Option("--include-retired", help="Also retired CIs and relationships.")
    ] = False,
) -> None:
    """Export the graph (and, in JSON and JSON Lines, the ITSM records), streamed."""
    if out is not None and str(out) == "-":  # the usual name of stdout
        out = None
    suffix = out.suffix.lstrip(".").lower() if out else ""
    known = FileFormat(suffix) if suffix in FileFormat._value2member_map_ else None
    if fmt is None:
        fmt = known or FileFormat.JSON
    elif known is not None and known is not fmt:  # `cmdb import` would read it as `known`
        raise typer.BadParameter(
            f"{fmt.value} does not match {out}, which `cmdb import` reads as {known.value}",
            param_hint="--format",
        )
    if what is not None and fmt is not FileFormat.CSV:
        raise typer.BadParameter("only CSV exports take --what", param_hint="--what")
    if what not in (None, "cis", "relationships"):
        raise typer.BadParameter("use cis or relationships", param_hint="--what")
    store = get_state(ctx).store
    for _ in range(_TRIES):
        chunks = Export(
            store, format=fmt.value, what=what or "cis", include_retired=include_retired
        )
        if out is None:  # the stream ends in an error if the store moved (Export checks)
            output.emit_chunks(chunks)
            return
        if _write_file(out, chunks):
            output.info(f"exported {chunks.items:,} items to {out}")
            return
    raise CMDBError(
        f"{out}: the store changed during each of {_TRIES} tries to export it (pages read "
        "apart would mix its states): export it when fewer writes run; nothing was written"
    )


_TRIES = 3
"""How many times `export --output` reads the store again when it changed during a read."""


def _write_file(out: Path, chunks: Export) -> bool:
    """Stream ``chunks`` into a temporary file beside ``out``, then rename it to ``out``; if
    the store changed during the read (:class:`ChangedDuringReadError`), drop it, say False."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise CMDBError(f"{out}: cannot write ({exc.strerror or exc})") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain write would create it, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, out)
        return True
    except ChangedDuringReadError:
        return False
    except OSError as exc:
        raise CMDBError(f"{out}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def register(app: typer.Typer) -> None:
    """Add the top-level `import` and `export` commands to ``app``."""
    app.command("import")(import_)
    app.command("export")(export)
