"""Releases: group changes, list and show them, and assess one as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import output
from cli.change import WeightsOpt, parse_time
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cli.tables import emit_suppliers
from cmdb.enums import RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Release
from cmdb.workflows.releases import assess_release, create_release

app = typer.Typer(no_args_is_help=True)

COLUMNS = ["id", "type", "status", "window_start", "window_end", "change_ids", "title"]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", envvar="CMDB_RELEASE_POLICY", help="Release policy YAML (default: packaged)."
    ),
]


def _ids(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated lists alike: ``--change A,B --change C``."""
    return [v.strip() for text in values or () for v in text.split(",") if v.strip()]


@app.command("create")
def create(
    ctx: typer.Context,
    change: Annotated[
        list[str] | None, typer.Option("--change", help="A change; repeat, or a comma list.")
    ] = None,
    title: Annotated[str, typer.Option(help="What the release delivers, in one line.")] = "",
    emergency: Annotated[bool, typer.Option("--emergency", help="An emergency release.")] = False,
    start: Annotated[
        str | None, typer.Option("--start", help="Window start (default: its changes').")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Window end (default: its changes').")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Record a release of changes deployed together."""
    state = get_state(ctx)
    ids = _ids(change)
    if not ids:
        raise ValidationError("give the release's changes with --change", field="--change")
    release = create_release(
        state.store,
        change_ids=ids,
        title=title,
        release_type="emergency" if emergency else "normal",
        window_start=parse_time(start, "--start") if start else None,
        window_end=parse_time(end, "--end") if end else None,
        actor=state.actor,
    )
    if fmt is Format.JSON:
        output.emit_json(release.to_json())
    else:
        output.info(f"recorded {release.id}; assess it with: cmdb release assess {release.id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only planned or approved.")] = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List releases."""
    store = get_state(ctx).store
    found = store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=open_only))
    rows = [r.to_json() for r in found]
    if fmt is Format.JSON:
        output.emit_json(rows)
    else:
        output.emit_table(rows, COLUMNS, caption=f"{len(rows)} releases")


@app.command("show")
def show(
    ctx: typer.Context,
    release_id: Annotated[str, typer.Argument(metavar="RELEASE_ID")],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """One release and its changes."""
    store = get_state(ctx).store
    rec = store.get_record(release_id)
    if not isinstance(rec, Release):
        raise ValidationError(f"record '{release_id}' is a {rec.kind}, not a release")
    data = rec.to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    output.emit_kv(
        {k: data[k] for k in ("id", "title", "type", "status", "window_start", "window_end")}
        | {"CIs": data["ci_ids"]},
        title="Release",
    )
    changes = [store.get_record(c).to_json() for c in rec.change_ids]
    output.emit_table(changes, ["id", "type", "status", "title"], title="Changes")


@app.command("assess")
def assess(
    ctx: typer.Context,
    release_id: Annotated[str, typer.Argument(metavar="RELEASE_ID")],
    weights: WeightsOpt = None,
    policy: PolicyOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Assess a release as a whole: combined blast radius, risk with each change's share,
    collisions, the release policy and the CAB decision."""
    result = assess_release(get_state(ctx).store, release_id, weights=weights, policy=policy)
    data = result.to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    _emit(data)


def _emit(data: dict[str, Any]) -> None:
    output.emit_text(data["headline"])
    decision = {
        "refused": "REFUSED",
        "approval": f"needs the {data['approver']}",
        "no_approval": "no approval needed",
    }[data["decision"]]
    impact = data["impact"] or {}
    rows = {
        "release": f"{data['release_id']}: {data['title']}",
        "type": data["release_type"].upper() if data["emergency"] else data["release_type"],
        "changes": data["change_ids"],
        "window": f"{data['window_start']} .. {data['window_end']}",
        "risk": f"{data['score']} / 100: {data['level'].upper()}",
        "level raised": data["level_reasons"] or None,
        "decision": decision,
        "because": "\n".join(data["decision_reasons"]) or None,
        "affected (all changes together)": data["counts"],
        "services": ", ".join(f"{s['id']} ({s['state']})" for s in impact["service_states"])
        or None,
        "down only together": (
            f"{len(data['together'])} CIs, among them "
            + ", ".join(data["together_groups"][:6] + data["together_services"][:6])
        )
        if data["together"]
        else None,
        "emergency": "\n".join(data["emergency_notes"]) or None,
    }
    output.emit_kv({k: v for k, v in rows.items() if v is not None}, title="Release risk")
    output.emit_table(
        [
            {**s, "share": f"{s['share']:.0%}", "services_down": s["services_down"] or ""}
            for s in data["shares"]
        ],
        ["change_id", "change_type", "score", "level", "affected", "down", "share"],
        title="Each change alone, in the release's window",
        caption="share: the part of what the release takes down that the change takes down "
        "alone (of what it affects, when the release takes nothing down)",
    )
    output.emit_table(
        data["factors"],
        ["name", "weight", "value", "points", "detail"],
        title="Factors (the release as a whole)",
        caption=f"weights: {data['weights']}",
    )
    output.emit_table(
        [{**p, "result": "ok" if p["passed"] else p["effect"].upper()} for p in data["policy"]],
        ["rule", "result", "detail"],
        title="Release policy",
        caption=f"policy: {data['policy_source']}",
    )
    collisions = [{**c, "kind": "change"} for c in data["collisions"]]
    collisions += [{**c, "kind": "release"} for c in data["release_collisions"]]
    if collisions:
        output.emit_table(
            collisions,
            ["kind", "change_id", "overlap_start", "overlap_end", "shared", "down_together"],
            title="Overlapping changes and releases with intersecting impact",
        )
    emit_suppliers(data["suppliers"])
