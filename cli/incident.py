"""Incidents: open (with a priority from the blast radius), list, show, resolve."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb.enums import RecordKind, Urgency
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Incident
from cmdb.workflows.incidents import open_incident, resolve_incident

app = typer.Typer(no_args_is_help=True)

COLUMNS = ["id", "priority", "impact", "status", "due", "title", "ci_ids", "opened_at"]
CiOpt = Annotated[list[str], typer.Option("--ci", help="An affected CI; repeat for several.")]


@app.command("open")
def open_(
    ctx: typer.Context,
    ci: CiOpt,
    urgency: Annotated[Urgency, typer.Option(help="How soon the business needs it back.")],
    title: Annotated[str, typer.Option(help="What is wrong, in one line.")],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Open an incident; its priority comes from urgency and the blast radius of its CIs."""
    state = get_state(ctx)
    result = open_incident(
        state.store, ci_ids=ci, urgency=urgency.value, title=title, actor=state.actor
    )
    data = result.to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    output.emit_kv(
        {
            "id": data["id"],
            "priority": f"P{data['priority']}",
            "impact": data["impact"],
            "urgency": data["urgency"],
            "title": data["title"],
            "CIs": data["ci_ids"],
        },
        title="Incident opened",
    )
    if data["service_states"]:
        output.emit_table(
            data["service_states"],
            ["id", "state", "criticality", "points"],
            title="Affected services",
        )
    hurt = [c for c in data["customer_states"] if c["state"] != "at_risk"]
    if data["customer_states"]:
        at_risk = len(data["customer_states"]) - len(hurt)
        output.emit_table(
            hurt,
            ["id", "state", "points"],
            title="Affected customers",
            caption=f"and {at_risk} at risk (--format json lists them)" if at_risk else None,
        )
    output.emit_text("\n".join(f"- {r}" for r in data["reasons"]))


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only open or in progress.")] = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List incidents."""
    store = get_state(ctx).store
    rows = [
        r.to_json()
        for r in store.find_records(RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=open_only))
    ]
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        now = datetime.now(UTC)
        for row in rows:
            row["due"] = _due(row, now)
        output.emit_table(rows, COLUMNS, caption=f"{len(rows)} incidents")


def _due(row: dict, now: datetime) -> str:
    """What is due next for an open incident: its response, then its resolution (overdue or
    in how long), from the SLA targets stored when it was opened."""
    if row["status"] not in ("open", "in_progress"):
        return ""
    for key, what in (("response_due", "response"), ("resolution_due", "resolution")):
        if not row.get(key):
            continue
        at = datetime.fromisoformat(row[key])
        if key == "response_due" and row["status"] != "open":
            continue  # in progress: responded
        left = at - now
        minutes = int(abs(left.total_seconds()) // 60)
        span = f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes}m"
        return f"{what} overdue {span}" if left.total_seconds() < 0 else f"{what} in {span}"
    return ""


def _incident(ctx: typer.Context, incident_id: str) -> Incident:
    rec = get_state(ctx).store.get_record(incident_id)
    if not isinstance(rec, Incident):
        raise ValidationError(f"record '{incident_id}' is a {rec.kind}, not an incident")
    return rec


@app.command("show")
def show(
    ctx: typer.Context,
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Show one incident."""
    data = _incident(ctx, incident_id).to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
    else:
        output.emit_kv(
            {k: v for k, v in data.items() if v not in (None, [], {})}, title=incident_id
        )


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Mark an open incident resolved."""
    state = get_state(ctx)
    done = resolve_incident(state.store, incident_id, actor=state.actor)
    if fmt is Format.JSON:
        output.emit_json(done.to_json())
    else:
        output.info(f"resolved {incident_id}")
