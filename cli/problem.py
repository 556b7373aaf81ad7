"""Problems: open one for a set of incidents, with a suspected root cause; list them.

Also provides ``register_root_cause(impact_app)``, which adds ``cmdb impact root-cause``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cli.tables import emit_suppliers
from cmdb.alerts import load_alerts
from cmdb.enums import RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.workflows.problems import open_problem
from impact.root_cause import RootCauseReport, root_cause_report

__all__ = ["app", "register_root_cause"]

app = typer.Typer(no_args_is_help=True)

IncidentsOpt = Annotated[
    str | None,
    typer.Option("--incidents", help="Comma-separated incident ids, e.g. INC-000001,INC-000002."),
]


def _ids(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _emit_report(report: RootCauseReport, fmt: Format) -> None:
    data = report.to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    rows = [
        {
            **c,
            "confidence": f"{c['confidence']:.0%}",
            "explained": f"{len(c['explained'])}/{len(data['symptoms'])}",
            "silent": c["silent_count"],
            "equivalents": c["equivalents"][:5] + (["..."] if len(c["equivalents"]) > 5 else []),
        }
        for c in data["candidates"]
    ]
    output.emit_table(
        rows,
        ["id", "class", "confidence", "explained", "silent", "equivalents"],
        title="Likely root causes",
        caption=f"{len(data['symptoms'])} symptoms",
    )
    output.emit_text("\n".join(f"- {c['id']}: {c['why']}" for c in data["candidates"]))
    if data.get("cause_set"):
        cs = data["cause_set"]
        output.emit_kv(
            {
                "causes": cs["causes"],
                "confidence": f"{cs['confidence']:.0%}",
                "unexplained": cs["unexplained"],
                "why": cs["why"],
            },
            title="No single cause explains the symptoms well: independent causes",
        )
    emit_suppliers(data["suppliers"])


def root_cause(
    ctx: typer.Context,
    ci: Annotated[
        list[str] | None,
        typer.Option("--ci", help="Symptom CIs: repeat, or comma-separated (a,b,c)."),
    ] = None,
    incidents: IncidentsOpt = None,
    alerts: Annotated[
        Path | None,
        typer.Option("--alerts", help="Alerts file (JSON or CSV: id, time, state, severity)."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many candidates.")] = 10,
    window_hours: Annotated[
        float,
        typer.Option(min=0, help="Recent changes and incidents within this many hours count."),
    ] = 72,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Rank the CIs whose failure best explains the symptoms (CIs, incidents, alerts)."""
    ci_ids = [x for text in ci or () for x in _ids(text)]
    timed = load_alerts(alerts) if alerts is not None else ()
    if not ci_ids and not _ids(incidents) and not timed:
        raise ValidationError("give symptom CIs (--ci), --incidents or --alerts")
    report = root_cause_report(
        get_state(ctx).store,
        ci_ids=ci_ids,
        incident_ids=_ids(incidents),
        alerts=timed,
        window_hours=window_hours,
        top=top,
    )
    _emit_report(report, fmt)


def register_root_cause(impact_app: typer.Typer) -> None:
    """Add the ``root-cause`` command to the ``cmdb impact`` Typer app."""
    impact_app.command("root-cause")(root_cause)


@app.command("open")
def open_(
    ctx: typer.Context,
    incidents: IncidentsOpt = None,
    root: Annotated[
        str | None,
        typer.Option("--root", help="Suspected root CI (default: the best root-cause candidate)."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Default: names the incidents.")] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Open a problem grouping incidents, with a suspected root cause."""
    state = get_state(ctx)
    opened = open_problem(
        state.store, incident_ids=_ids(incidents), root=root, title=title, actor=state.actor
    )
    if fmt is Format.JSON:
        output.emit_json(opened.to_json())
        return
    problem = opened.problem
    output.emit_kv(
        {
            "id": problem.id,
            "title": problem.title,
            "incidents": problem.incident_ids,
            "suspected root": problem.suspected_root,
        },
        title="Problem opened",
    )
    _emit_report(opened.root_cause, fmt)


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only open or known errors.")] = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List problems."""
    rows = [
        r.to_json()
        for r in get_state(ctx).store.find_records(
            RecordFilter(kinds=(RecordKind.PROBLEM,), open_only=open_only)
        )
    ]
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        output.emit_table(
            rows,
            ["id", "status", "title", "incident_ids", "suspected_root"],
            caption=f"{len(rows)} problems",
        )
