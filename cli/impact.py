"""Impact analysis: blast radius, depends-on, single points of failure, availability, root cause."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import output
from cli.options import AsOfOpt, FormatOpt
from cli.output import Format, GraphFormat
from cli.problem import register_root_cause
from cli.state import get_state
from cli.tables import emit_suppliers
from cmdb.asof import as_of
from impact import report
from impact.suppliers import supplier_report

app = typer.Typer(no_args_is_help=True)

CIs = Annotated[list[str], typer.Argument(metavar="CI...", help="The CIs that fail.")]
DepthOpt = Annotated[int | None, typer.Option(min=0, help="Follow at most N hops.")]
TypesOpt = Annotated[
    str | None,
    typer.Option(
        "--types", help="Only these relationship types propagate, e.g. depends_on,runs_on."
    ),
]
PictureOpt = Annotated[GraphFormat, typer.Option("--format", "-f", help="Output format.")]
LimitOpt = Annotated[
    int | None, typer.Option(min=1, help="List at most N CIs (default: 25 in tables, all in JSON).")
]


def _types(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _path(path: list[str]) -> str:
    return " → ".join(path)


def _targets(c: dict[str, Any]) -> str:
    """Agreement targets, short: ``99.95% · 15 min · 2 h`` (availability, response, fix)."""
    parts = []
    if c.get("availability_target") is not None:
        parts.append(f"{c['availability_target'] * 100:g}%")
    if c.get("response_minutes") is not None:
        parts.append(f"{c['response_minutes']:g} min")
    if c.get("resolution_hours") is not None:
        parts.append(f"{c['resolution_hours']:g} h")
    return " · ".join(parts)


def _table_limit(fmt: GraphFormat, limit: int | None) -> int | None:
    return limit if limit is not None or fmt is not GraphFormat.TABLE else 25


@app.command("blast-radius")
def blast_radius(
    ctx: typer.Context,
    cis: CIs,
    depth: DepthOpt = None,
    types: TypesOpt = None,
    assume_down: Annotated[
        list[str] | None,
        typer.Option("--assume-down", help="CIs already out (repeat); they count toward k-of-n."),
    ] = None,
    open_incidents: Annotated[
        bool,
        typer.Option("--open-incidents", help="Also assume down every CI with an open incident."),
    ] = False,
    limit: LimitOpt = None,
    fmt: PictureOpt = GraphFormat.TABLE,
    at: AsOfOpt = None,
) -> None:
    """What goes down, degrades or is at risk if CI... fail; rolled up to services,
    customers and SLAs."""
    state = get_state(ctx)
    store = as_of(state.store, at)
    kwargs: dict[str, Any] = dict(
        assume_down=assume_down or (),
        depth=depth,
        types=_types(types),
        assume_open_incidents=open_incidents,
    )
    if fmt in (GraphFormat.DOT, GraphFormat.MERMAID):
        output.emit_text(
            report.blast_radius_picture(store, cis, fmt=fmt.value, limit=limit, **kwargs)
        )
        return
    data = report.blast_radius_report(
        store,
        cis,
        stale_days=state.settings.stale_days,
        limit=_table_limit(fmt, limit),
        **kwargs,
    ).to_json()
    if fmt is GraphFormat.JSON:
        output.emit_json(data)
        return
    counts = data["counts"]
    output.emit_line(
        f"failing {', '.join(data['failed'])}"
        + (f" (already out: {', '.join(data['assume_down'])})" if data["assume_down"] else "")
        + f": {counts['down']} down, {counts['degraded']} degraded, "
        f"{counts['at_risk']} at risk; {len(data['services'])} services, "
        f"{len(data['customers'])} customers affected"
    )
    if data["rollup"]:
        rolled = len(data["services"]) + len(data["customers"])
        output.emit_table(
            data["rollup"],
            ["id", "class", "state"],
            title="Services and customers",
            caption=f"{len(data['rollup'])} of {rolled} shown"
            if len(data["rollup"]) < rolled
            else None,
        )
    if data["slas"]:
        output.emit_table(
            data["slas"], ["id", "availability_target", "covers"], title="SLAs affected"
        )
    rows = [
        {
            **a,
            "via": a["path"][1] if len(a["path"]) > 1 else "",
            "hops": len(a["path"]) - 1,
            "stale": "stale" if a["stale"] else "",
        }
        for a in data["affected"]
    ]
    total = counts["down"] + counts["degraded"] + counts["at_risk"]
    output.emit_table(
        rows,
        ["id", "class", "state", "via", "hops", "stale"],
        title="Affected CIs (worst first; --format json for full paths)",
        caption=f"{len(rows)} of {total} shown" if len(rows) < total else None,
    )
    emit_suppliers(data["suppliers"])
    if data["planned"]:
        output.info(f"not in service yet, also reached: {', '.join(data['planned'])}")


@app.command("depends-on")
def depends_on(
    ctx: typer.Context,
    ci: Annotated[str, typer.Argument(metavar="CI")],
    depth: DepthOpt = None,
    types: TypesOpt = None,
    limit: LimitOpt = None,
    fmt: PictureOpt = GraphFormat.TABLE,
    at: AsOfOpt = None,
) -> None:
    """Everything CI needs, transitively (the reverse of blast-radius)."""
    store = as_of(get_state(ctx).store, at)
    if fmt in (GraphFormat.DOT, GraphFormat.MERMAID):
        output.emit_text(
            report.depends_on_picture(
                store, ci, fmt=fmt.value, depth=depth, types=_types(types), limit=limit
            )
        )
        return
    data = report.depends_on_report(
        store, ci, depth=depth, types=_types(types), limit=_table_limit(fmt, limit)
    ).to_json()
    if fmt is GraphFormat.JSON:
        output.emit_json(data)
        return
    rows = [
        {**d, "via": d["path"][-2] if len(d["path"]) > 1 else "", "hops": len(d["path"]) - 1}
        for d in data["dependencies"]
    ]
    output.emit_table(
        rows,
        ["id", "class", "via", "hops"],
        title=f"{ci} depends on (nearest first; --format json for full paths)",
        caption=f"{len(rows)} of {data['total']} shown",
    )
    emit_suppliers(data["suppliers"], title=f"Suppliers of {ci} and what it depends on")


@app.command("suppliers")
def suppliers(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    fmt: FormatOpt = Format.TABLE,
    at: AsOfOpt = None,
) -> None:
    """The suppliers SERVICE depends on, through which CIs, and each underpinning contract's
    targets next to the service's SLA targets (a weaker contract is flagged)."""
    data = supplier_report(as_of(get_state(ctx).store, at), service).to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    slas = "; ".join(f"{s['id']} ({_targets(s)})" for s in data["slas"]) or "none"
    output.emit_line(f"{service}: SLA {slas}; depends on {len(data['suppliers'])} suppliers")
    emit_suppliers(data["suppliers"], title=f"Suppliers {service} depends on")
    rows = [
        {
            "contract_id": c["contract"],
            "verdict": {True: "WEAKER", False: "ok", None: "n/a"}[c["weaker"]],
            "contract": _targets(c["targets"]),
            "sla": _targets(c["sla_targets"]) if c["sla_targets"] else "",
            "gaps": "; ".join(c["gaps"]),
        }
        for c in data["contracts"]
    ]
    if rows:
        output.emit_table(
            rows,
            ["contract_id", "verdict", "contract", "sla", "gaps"],
            title="Underpinning contracts next to the SLA (availability · response · fix)",
            caption=f"{data['weaker']} weaker than the SLA they underpin",
        )
    else:
        output.info(f"no underpinning contract covers {service} or what it depends on")


@app.command("spof")
def spof(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """The CIs whose failure alone takes SERVICE down, redundancy considered."""
    data = report.spof_report(get_state(ctx).store, service).to_json()
    if fmt is Format.JSON:
        output.emit_json(data)
        return
    rows = [{**s, "path": _path(s["path"])} for s in data["single_points_of_failure"]]
    physical = [r for r in rows if r["kind"] == "physical"]
    logical = [r for r in rows if r["kind"] != "physical"]
    output.emit_table(
        physical,
        ["id", "class", "path"],
        title=f"Physical single points of failure of {service}",
        caption=f"{len(physical)} devices: one failure takes {service} down",
    )
    if logical:
        output.emit_table(
            logical,
            ["id", "class", "kind", "path"],
            title="Logical CIs on their paths",
            caption="groups are single only as a whole (their members are redundant); "
            "software, data and services fail with what they run on",
        )


@app.command("availability")
def availability(
    ctx: typer.Context,
    service: Annotated[
        str | None, typer.Argument(metavar="[SERVICE]", help="Default: every service.")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Designed availability from component availabilities, against the SLA target."""
    data = [
        r.to_json()
        for r in report.availability_reports(get_state(ctx).store, [service] if service else None)
    ]
    if fmt is Format.JSON:
        output.emit_json(data if service is None else data[0])
        return
    rows = [
        {
            "service_id": d["service"],
            "availability": f"{d['availability']:.6f}",
            "downtime_per_year": f"{d['annual_downtime_minutes']:.0f} min",
            "sla_target": ", ".join(f"{s['availability_target']}" for s in d["slas"]),
            "meets_sla": {True: "yes", False: "NO", None: ""}[d["meets_slas"]],
            "single_points": d["single_points"],
            "costliest_id": d["costliest"] or "",
        }
        for d in data
    ]
    output.emit_table(
        rows,
        [
            "service_id",
            "availability",
            "downtime_per_year",
            "sla_target",
            "meets_sla",
            "single_points",
            "costliest_id",
        ],
        title="Designed availability",
        caption="single points: as `cmdb impact spof` lists them; costliest: the component "
        "whose downtime costs the service most",
    )
    if service is not None:
        parts = [
            {
                **x,
                "availability": f"{x['availability']:.6f}",
                "cost": f"{x['cost_minutes']:.1f} min/yr",
                "counted": "in series" if x["in_series"] else "under redundancy",
            }
            for x in data[0]["parts"]
        ]
        output.emit_table(
            parts,
            ["id", "class", "availability", "source", "counted", "cost"],
            title=f"Components of {service} below 1.0 (costliest first)",
            caption="source: ci = the CI's own availability, class = the class default; "
            "cost: expected downtime per year the component adds",
        )


register_root_cause(app)
