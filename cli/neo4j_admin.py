"""Neo4j administration: `cmdb neo4j bulk-import`, the first load of a large estate.

The work is :mod:`cmdb.store.neo4j_import`'s; this module parses the options, calls it and
renders what it did. The input is a file (read like `cmdb import` reads it) or a generated
estate (`--generate N`, as `cmdb generate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import output
from cli.options import ChangeOpt, FormatOpt
from cli.output import Format
from cli.state import get_state

if TYPE_CHECKING:
    from cmdb.errors import ValidationError
    from cmdb.model import Batch
    from cmdb.registry import Registry

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    help="Neo4j administration: the first load of a large estate through neo4j-admin.",
)


def _file_batches(
    path: Path, fmt: str | None, registry: Registry, places: dict[str, str]
) -> Iterator[Batch]:
    from cmdb.transfer import read_file

    yield read_file(path, format=fmt, registry=registry, places=places)


def _in_file(err: ValidationError, file: Path | None, places: dict[str, str]) -> ValidationError:
    """``err`` at its item's line of ``file`` (``in.jsonl:7``), else prefixed with ``file``
    (``in.json: cis[3] 'x'``) unless reading the file already named it."""
    from cmdb.transfer import locate

    located = locate(err, places)
    if located is not None or file is None or (err.location or "").startswith(str(file)):
        return located or err
    return err.at(str(file))


@app.command("bulk-import")
def bulk_import(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[FILE]",
            help="JSON, JSON Lines, CSV or GraphML file (as `cmdb import` reads it).",
        ),
    ] = None,
    in_format: Annotated[
        str | None, typer.Option("--in-format", help="FILE's format (default: its extension).")
    ] = None,
    generate: Annotated[
        int | None,
        typer.Option("--generate", min=500, metavar="N", help="Load a generated estate of N CIs."),
    ] = None,
    seed: Annotated[int, typer.Option(help="With --generate: the random seed.")] = 0,
    neo4j_admin: Annotated[
        str | None,
        typer.Option(
            "--neo4j-admin",
            metavar="PATH",
            help="The neo4j-admin command (default: on the PATH, else $NEO4J_HOME/bin).",
        ),
    ] = None,
    dev_server: Annotated[
        bool,
        typer.Option(
            "--dev-server",
            help="Import into scripts/neo4j-dev-server's instance (CMDB_NEO4J_DEV_DIR), then "
            "start it and create the constraints and indexes.",
        ),
    ] = False,
    database: Annotated[str, typer.Option(help="The Neo4j database to create.")] = "neo4j",
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an existing database: everything in it is lost."),
    ] = False,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Where to write the CSV files (default: the system's temp dir)."),
    ] = None,
    keep_files: Annotated[
        bool, typer.Option("--keep-files", help="Keep the CSV files and neo4j-admin's log.")
    ] = False,
    max_memory: Annotated[
        str | None,
        typer.Option(help="neo4j-admin's --max-off-heap-memory (e.g. 2G, 50%; default 90%)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Processes that validate and write the CSV (forked; the source is read "
            "meanwhile). 1: this process alone.",
        ),
    ] = 1,
    history_nodes: Annotated[
        bool,
        typer.Option(
            "--history-nodes",
            help="One History node per CI and relationship instead of compressed chunks "
            "(twice the nodes).",
        ),
    ] = False,
    change: ChangeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """First load of a large estate into a new Neo4j database through neo4j-admin.

    Validates every item as `cmdb import` does, writes the CSV files that `neo4j-admin
    database import full` reads (CIs, relationships, records, the create history of every
    entity, the store's meta node), and runs it against the stopped server. The first open of
    the started store creates the constraints and indexes.
    """
    from cmdb.store import neo4j_import as bulk

    if (file is None) == (generate is None):
        raise typer.BadParameter("give a FILE or --generate N (one of them)")
    if neo4j_admin and dev_server:
        raise typer.BadParameter("give --neo4j-admin or --dev-server, not both")
    if file is not None:  # a missing file is said before a missing neo4j-admin
        from cmdb.transfer import check_input

        check_input(file, in_format, option="--in-format")
    state = get_state(ctx)
    registry = state.registry
    places: dict[str, str] = {}  # an item's line in FILE, for its error
    if file is not None:
        batches: Iterator[Batch] = _file_batches(file, in_format, registry, places)
    else:
        from cmdb.generator import generate as gen

        assert generate is not None
        batches = gen(generate, seed=seed)
    from cmdb.errors import ValidationError

    try:
        with output.progress("validating, writing CSV, running neo4j-admin", total=None):
            report = bulk.bulk_import(
                batches,
                registry=registry,
                admin=bulk.admin_command(neo4j_admin, dev=dev_server),
                actor=state.actor,
                change_id=change,
                database=database,
                overwrite=overwrite,
                work_dir=work_dir,
                keep_files=keep_files,
                max_memory=max_memory,
                workers=workers,
                chunked=not history_nodes,
            )
    except ValidationError as err:  # at the item's line of FILE, not its place in the batch
        raise _in_file(err, file, places) from None
    files = report.files
    summary: dict[str, object] = {
        "database": database,
        "cis": files.cis,
        "relationships": files.relationships,
        "records": files.records,
        "history": files.history,
        "csv_seconds": round(files.seconds, 2),
        "admin_seconds": round(report.admin_seconds, 2),
        "records_per_second": round(report.rate),
        "files": str(report.kept) if report.kept else None,
    }
    if dev_server:
        uri, store_id, seconds = bulk.open_dev_server(registry)
        summary.update(store=uri, store_id=store_id, schema_seconds=round(seconds, 2))
    if fmt is Format.JSON:
        output.emit_json(summary)
        return
    output.info(
        f"imported {files.cis:,} CIs, {files.relationships:,} relationships, "
        f"{files.records:,} records and {files.history:,} history entries into database "
        f"'{database}' in {report.seconds:.1f} s ({report.rate:,.0f} records/s: CSV "
        f"{files.seconds:.1f} s, neo4j-admin {report.admin_seconds:.1f} s)"
    )
    if report.kept:
        output.info(f"CSV files and neo4j-admin's log kept in {report.kept}")
    if dev_server:
        output.info(
            f"started {summary['store']}; constraints and indexes created in "
            f"{summary['schema_seconds']} s"
        )
    else:
        output.info(
            "next: start Neo4j; the first open (e.g. `cmdb --store bolt://HOST:7687 init`) "
            "creates the constraints and indexes"
        )
