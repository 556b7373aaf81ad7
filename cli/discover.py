"""Discovery: scan sources and reconcile them into the store; list runs; purge; diff.

`cmdb discover SCANNER [PATH...] [--dry-run]` runs one scanner (inventory, kubernetes, compose,
backstage, nmap, otel; host reads no files and needs no PATH) and the reconciler; `cmdb discover
runs` lists the runs; `cmdb discover purge` retires what a source has marked stale for long
enough; `cmdb discover diff --declared kubernetes --observed otel` compares what is declared
with what runs (:mod:`cmdb.drift`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb.drift import SECTIONS, DriftEdge, declared_vs_observed
from cmdb.reconcile import DiscoverySettings, list_runs, parse_duration, purge, reconcile
from discovery import SCANNERS, run_scanner

app = typer.Typer(no_args_is_help=True)

PROGRESS_AT = 500
"""Scans of at least this many CIs show a progress bar (on stderr) while they reconcile."""

Paths = Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files or directories.")]
OptionalPaths = Annotated[
    list[Path] | None,
    typer.Argument(metavar="PATH", help="Files or directories (this scanner needs none)."),
]
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
MinCallsOpt = Annotated[
    int | None,
    typer.Option("--min-calls", min=1, help="otel: ignore dependencies seen fewer times."),
]
ShowOpt = Annotated[int, typer.Option("--show", min=0, help="How many changes to list.")]


def _discover(
    ctx: typer.Context,
    scanner: str,
    paths: list[Path],
    dry_run: bool,
    options: Mapping[str, object],
    show: int,
    fmt: Format,
) -> None:
    state = get_state(ctx)
    scan = run_scanner(scanner, paths, **options)
    store = state.store if dry_run else state.open(create=True)
    settings = DiscoverySettings.load().options()
    if len(scan.cis) >= PROGRESS_AT:
        with output.progress(
            f"reconciling {len(scan.cis):,} CIs ({scanner})", total=2 * len(scan.cis)
        ) as advance:
            report = reconcile(
                store, scan, dry_run=dry_run, launched_by=state.actor, progress=advance, **settings
            )
    else:
        report = reconcile(store, scan, dry_run=dry_run, launched_by=state.actor, **settings)
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
        min_calls: MinCallsOpt = None,
        show: ShowOpt = 20,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        options = {"env_file": env_file, "mapping": mapping, "min_calls": min_calls}
        _discover(ctx, name, paths or [], dry_run, options, show, fmt)

    command.__name__ = name
    if _needs_no_paths(SCANNERS[name]):  # `cmdb discover host`: PATH... is optional
        sig = inspect.signature(command, eval_str=True)
        params = [
            p.replace(annotation=OptionalPaths, default=None) if p.name == "paths" else p
            for p in sig.parameters.values()
        ]
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return command


def _needs_no_paths(scanner: Callable[..., object]) -> bool:
    """Whether ``scanner``'s ``paths`` has a default (it reads no files, or may read none)."""
    param = inspect.signature(scanner).parameters.get("paths")
    return param is not None and param.default is not inspect.Parameter.empty


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


_TITLES = {
    "undeclared": "runs but is not declared",
    "unobserved": "declared but not observed",
    "confirmed": "declared and observed",
    "not_covered": "declared, not covered by the observed sources",
}


_COLUMNS = {
    "undeclared": ["observed_by", "last_observed_at"],
    "unobserved": ["declared_by", "last_observed_at"],
    "confirmed": ["declared_by", "observed_by", "last_observed_at"],
    "not_covered": ["declared_by", "reason"],
}


def _diff_row(edge: DriftEdge) -> dict[str, object]:
    last = edge.last_observed
    return {
        "relationship": f"{edge.source} -[{edge.type}]-> {edge.target}",
        "declared_by": edge.declared_by,
        "observed_by": edge.observed_by,
        "last_observed_at": f"{last:%Y-%m-%d %H:%M}" if last else "never",
        "reason": edge.reason,
    }


@app.command("diff")
def diff(
    ctx: typer.Context,
    declared: Annotated[
        list[str],
        typer.Option(
            "--declared",
            metavar="SOURCE[,SOURCE...]",
            help="Sources that declare relationships (kubernetes, compose...); repeat or comma.",
        ),
    ],
    observed: Annotated[
        list[str],
        typer.Option(
            "--observed",
            metavar="SOURCE[,SOURCE...]",
            help="Sources that observe them running (otel, host...); repeat or comma.",
        ),
    ],
    window: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION", help="Count only what was observed this recently, e.g. 7d, 12h."
        ),
    ] = None,
    fail_on_undeclared: Annotated[
        bool,
        typer.Option("--fail-on-undeclared", help="Exit 1 when something runs undeclared."),
    ] = False,
    show: Annotated[
        int, typer.Option("--show", min=0, help="How many relationships to list per section.")
    ] = 50,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Relationships that run but are not declared, and declared ones not observed running
    (over --window); those no observed source can judge are listed as not covered."""
    report = declared_vs_observed(
        get_state(ctx).store,
        declared=declared,
        observed=observed,
        window=window,
    )
    if fmt is Format.JSON:
        output.emit_json(report.to_json())
    else:
        for name in SECTIONS:
            edges = getattr(report, name)
            if not edges:
                continue
            more = len(edges) - show
            output.emit_table(
                [_diff_row(e) for e in edges[:show]],
                ["relationship", *_COLUMNS[name]],
                title=f"{_TITLES[name]} ({len(edges)})",
                caption=f"... and {more} more (--show, or --format json)" if more > 0 else None,
            )
        output.emit_line(report.summary())
    if fail_on_undeclared and report.undeclared:
        raise typer.Exit(1)
