"""Discovery: scan declared sources and reconcile them into the store; list runs; purge.

`cmdb discover SCANNER PATH... [--dry-run]` runs one scanner (inventory, kubernetes, compose,
backstage...) and the reconciler; `cmdb discover runs` lists the runs; `cmdb discover purge`
retires what a source has marked stale for long enough.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb.reconcile import DiscoverySettings, list_runs, parse_duration, purge, reconcile
from discovery import SCANNERS, run_scanner

app = typer.Typer(no_args_is_help=True)

PROGRESS_AT = 500
"""Scans of at least this many CIs show a progress bar (on stderr) while they reconcile."""

Paths = Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files or directories.")]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show the plan (creates, updates, stale marks, first diffs); write nothing.",
    ),
]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", help="compose: variables for ${VAR} (default: the environment)."),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping", help="inventory: which column is the name, serial, class... (YAML/JSON)."
    ),
]
ShowOpt = Annotated[int, typer.Option("--show", min=0, help="How many changes to list.")]


def _discover(
    ctx: typer.Context,
    scanner: str,
    paths: list[Path],
    dry_run: bool,
    env_file: Path | None,
    mapping: Path | None,
    show: int,
    fmt: Format,
) -> None:
    state = get_state(ctx)
    scan = run_scanner(scanner, paths, env_file=env_file, mapping=mapping)
    store = state.store if dry_run else state.open(create=True)
    options = DiscoverySettings.load().options()
    if len(scan.cis) >= PROGRESS_AT:
        with output.progress(
            f"reconciling {len(scan.cis):,} CIs ({scanner})", total=2 * len(scan.cis)
        ) as advance:
            report = reconcile(
                store, scan, dry_run=dry_run, launched_by=state.actor, progress=advance, **options
            )
    else:
        report = reconcile(store, scan, dry_run=dry_run, launched_by=state.actor, **options)
    if fmt is Format.JSON:
        output.emit_json(report.to_json(limit=show))
        return
    for warning in [*scan.errors, *scan.warnings, *report.plan.warnings][:show]:
        output.warn(warning)
    head = (
        "would reconcile (dry run, nothing written)"
        if dry_run
        else f"{report.run.id if report.run else ''} applied"
    )
    scope = "complete" if scan.complete else "partial: nothing marked stale"
    output.emit_line(f"{scanner}: {head}: {report.plan.summary()} ({scope})")
    for line in report.plan.lines(show):
        output.emit_line(f"  {line}")


def _scanner_command(name: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        paths: Paths,
        dry_run: DryRunOpt = False,
        env_file: EnvFileOpt = None,
        mapping: MappingOpt = None,
        show: ShowOpt = 20,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        _discover(ctx, name, paths, dry_run, env_file, mapping, show, fmt)

    command.__name__ = name
    return command


for _name, _scan in SCANNERS.items():
    _doc = getattr(inspect.getmodule(_scan), "__doc__", None) or _name
    app.command(_name, help=_doc.strip().splitlines()[0].replace("``", ""))(_scanner_command(_name))


@app.command("runs")
def runs(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's runs.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="The N newest.")] = 20,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Discovery runs, newest first (--format json: scope, start, end, counts, errors)."""
    rows = [r.to_json() for r in list_runs(get_state(ctx).store, source=source, limit=limit)]
    if fmt is Format.JSON:
        output.emit_json(rows)
        return
    for row in rows:
        c = row["counts"]
        row["started"] = row["started_at"][:16].replace("T", " ")
        row["status"] += "" if row["complete"] else " (partial)"
        row["changes"] = (
            f"+{c.get('created', 0)} ~{c.get('updated', 0)} !{c.get('stale', 0)}" if c else ""
        )
        row["errors"] = len(row["errors"])
    output.emit_table(
        rows,
        ["id", "source", "status", "started", "changes", "errors"],
        caption="changes: +created ~updated !marked stale",
    )


@app.command("purge")
def purge_(
    ctx: typer.Context,
    source: Annotated[str, typer.Option(help="The source whose stale marks to act on.")],
    stale_for: Annotated[
        str, typer.Option("--stale-for", help="How long marked stale, e.g. 30d, 12h.")
    ] = "30d",
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Retire what SOURCE has marked stale for at least --stale-for (unless another source
    still sees it). Retiring a CI retires its relationships; history keeps everything."""
    state = get_state(ctx)
    report = purge(
        state.store,
        source=source,
        stale_for=parse_duration(stale_for),
        dry_run=dry_run,
        actor=state.actor,
    )
    if fmt is Format.JSON:
        output.emit_json(report.to_json())
        return
    verb = "would retire" if dry_run else "retired"
    output.emit_line(
        f"{verb} {len(report.cis)} CIs and {len(report.relationships)} "
        f"relationships stale for {source} since {stale_for} or more"
        + (" (dry run, nothing written)" if dry_run else "")
    )
    for item in [*report.cis, *report.relationships]:
        output.emit_line(f"  {item}")
    for item in report.kept:
        output.emit_line(f"  kept {item}")
