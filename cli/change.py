"""Changes: assess their risk (stored or ad hoc), list and add them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cli.tables import emit_suppliers
from cmdb.enums import ChangeType, RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Change
from cmdb.workflows.changes import record_change
from cmdb.workflows.risk import assess_change, assess_proposed
from impact.change_risk import ChangeAssessment
from impact.collisions import PENDING

app = typer.Typer(no_args_is_help=True)

COLUMNS = ["id", "type", "status", "risk", "cab", "window_start", "window_end", "title", "ci_ids"]
CiOpt = Annotated[list[str] | None, typer.Option("--ci", help="A changed CI; repeat.")]
TypeOpt = Annotated[ChangeType, typer.Option("--type", help="standard, normal or emergency.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="ISO time (UTC if no offset).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="ISO time (UTC if no offset).")]
WeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights", envvar="CMDB_RISK_WEIGHTS", help="Risk weights YAML (default: packaged)."
    ),
]


def parse_time(text: str | None, option: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    if not text:
        raise ValidationError("is required for an ad hoc change", field=option)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"not an ISO time: {text!r} (e.g. 2026-01-10T22:00)", field=option
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command("assess")
def assess(
    ctx: typer.Context,
    change_id: Annotated[str | None, typer.Argument(metavar="[CHANGE_ID]")] = None,
    ci: CiOpt = None,
    change_type: TypeOpt = ChangeType.NORMAL,
    start: StartOpt = None,
    end: EndOpt = None,
    weights: WeightsOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Assess the risk of a recorded change, or of an ad hoc one (--ci, --start, --end)."""
    store = get_state(ctx).store
    if change_id and ci:
        raise ValidationError("give a CHANGE_ID or --ci, not both")
    if change_id:
        result = assess_change(store, change_id, weights=weights)
    elif ci:
        result = assess_proposed(
            store,
            ci_ids=ci,
            change_type=change_type.value,
            window_start=parse_time(start, "--start"),
            window_end=parse_time(end, "--end"),
            weights=weights,
        )
    else:
        raise ValidationError("give a CHANGE_ID, or --ci with --start and --end")
    _emit(result, fmt)


def _states(rows: list[dict]) -> str | None:
    return ", ".join(f"{r['id']} ({r['state']})" for r in rows) or None


def _emit(result: ChangeAssessment, fmt: Format) -> None:
    data = result.to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    impact = data["impact"] or {}
    already = [
        f"{a['record']} ({', '.join(a['ci_ids'])}): "
        + ", ".join(f"{x['id']} {x['state']}" for x in a["service_states"] or a["customer_states"])
        for a in impact.get("already_affected", [])
    ]
    output.emit_text(data["headline"])
    output.emit_kv(
        {
            "change": data["change_id"] or "(ad hoc)",
            "CIs": data["ci_ids"],
            "type": data["change_type"],
            "window": f"{data['window_start']} .. {data['window_end']}",
            "risk": f"{data['score']} / 100: {data['level'].upper()}",
            "level raised": data["level_reasons"] or None,
            "CAB approval": ("required: " + "; ".join(data["cab_reasons"]))
            if data["cab_required"]
            else "not required",
            "affected (full impact)": data["counts"],
            "services": _states(impact.get("service_states", [])),
            "made worse": _states(impact.get("made_worse", [])),
            "already affected by": "\n".join(already) or None,
            "redundancy left (single points while it runs)": "\n".join(
                f"{x['id']} for {', '.join(x['services'])}" for x in impact.get("single_points", [])
            )
            or None,
            "groups losing members": "\n".join(
                f"{g['id']}: {g['up']} of {g['members']} up, needs {g['needs']}"
                for g in impact.get("groups", [])
            )
            or None,
            "single point of failure for": data["spof_for"] or None,
            "not in service, also touched": impact.get("planned") or None,
        },
        title="Change risk",
    )
    output.emit_table(
        data["factors"],
        ["name", "weight", "value", "points", "detail"],
        title="Factors",
        caption=f"weights: {data['weights']}",
    )
    if data["collisions"]:
        output.emit_table(
            data["collisions"],
            ["change_id", "title", "overlap_start", "overlap_end", "shared", "groups", "services"],
            title="Collisions",
        )
    emit_suppliers(data["suppliers"])


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only requested or approved.")] = False,
    weights: WeightsOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List changes, with the risk level and CAB decision of those still to be done."""
    store = get_state(ctx).store
    changes = store.find_records(RecordFilter(kinds=(RecordKind.CHANGE,), open_only=open_only))
    rows = []
    for rec in changes:
        row = rec.to_json()
        if isinstance(rec, Change) and rec.id and rec.status in PENDING:  # still to be done
            risk = assess_change(store, rec.id, weights=weights)
            row["risk"] = {"score": risk.score, "level": risk.level}
            row["cab"] = "required" if risk.cab_required else "not required"
            row["cab_reasons"] = list(risk.cab_reasons)
        rows.append(row)
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        for row in rows:
            row["risk"] = row["risk"]["level"] if "risk" in row else ""
            row["cab"] = {"required": "yes", "not required": "no"}.get(row.get("cab", ""), "")
        output.emit_table(
            rows,
            COLUMNS,
            caption=f"{len(rows)} changes; risk and CAB assessed now for those still to be done",
        )


@app.command("add")
def add(
    ctx: typer.Context,
    ci: Annotated[list[str], typer.Option("--ci", help="A changed CI; repeat.")],
    title: Annotated[str, typer.Option(help="What the change does, in one line.")],
    start: Annotated[str, typer.Option("--start", help="ISO time (UTC if no offset).")],
    end: Annotated[str, typer.Option("--end", help="ISO time (UTC if no offset).")],
    change_type: TypeOpt = ChangeType.NORMAL,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Record a requested change."""
    state = get_state(ctx)
    change = record_change(
        state.store,
        ci_ids=ci,
        change_type=change_type.value,
        window_start=parse_time(start, "--start"),
        window_end=parse_time(end, "--end"),
        title=title,
        actor=state.actor,
    )
    if fmt is Format.JSON:
        output.emit_json(change.to_json())
    else:
        output.info(f"recorded {change.id}; assess it with: cmdb change assess {change.id}")
