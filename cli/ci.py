"""Configuration items: add, show, list, update, retire.

No ``from __future__ import annotations`` here: Typer reads each command's annotations when the
command is built, and evaluating them from strings cost ``cmdb ci show`` 5 ms of its start.
"""

from typing import Annotated

import typer
from pydantic import ValidationError as PydanticError

from cli import output
from cli.options import AsOfOpt, ChangeOpt, FormatOpt, SetOpt
from cli.output import Format
from cli.state import get_state
from cmdb import ops
from cmdb.asof import as_of
from cmdb.enums import Criticality, Lifecycle
from cmdb.filters import CIFilter
from cmdb.model import CI
from cmdb.validation import pydantic_error
from cmdb.values import parse_attributes, split_assignments
from cmdb.views import ci_view, list_cis

app = typer.Typer(no_args_is_help=True)

COLUMNS = ["id", "class", "name", "status", "criticality", "owner", "support_group"]
Ident = Annotated[list[str] | None, typer.Option(help="Repeat for several.")]


def _identifiers(serial, hostname, fqdn, ip, mac) -> dict:
    ids = {"serial_number": serial, "fqdn": fqdn, "hostnames": hostname, "ips": ip, "macs": mac}
    return {k: v for k, v in ids.items() if v}


@app.command("add")
def add(
    ctx: typer.Context,
    ci_id: Annotated[str, typer.Argument(metavar="ID")],
    ci_class: Annotated[str, typer.Option("--class", "-c", help="CI class (see registry).")],
    name: Annotated[str, typer.Option("--name", "-n")],
    status: Lifecycle = Lifecycle.LIVE,
    criticality: Criticality = Criticality.MEDIUM,
    owner: str | None = None,
    support_group: str | None = None,
    min_required: Annotated[int | None, typer.Option(help="k of n, for groups.")] = None,
    serial: str | None = None,
    hostname: Ident = None,
    fqdn: str | None = None,
    ip: Ident = None,
    mac: Ident = None,
    set_: SetOpt = None,
    change: ChangeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Create a CI."""
    state = get_state(ctx)
    store = state.store
    attributes = parse_attributes(store.registry, ci_class, split_assignments(set_))
    try:
        ci = CI(
            id=ci_id,
            ci_class=ci_class,
            name=name,
            status=status,
            criticality=criticality,
            owner=owner,
            support_group=support_group,
            min_required=min_required,
            identifiers=_identifiers(serial, hostname, fqdn, ip, mac),
            attributes=attributes,
        )
    except PydanticError as exc:
        raise pydantic_error(exc) from None
    created = ops.create_ci(store, ci, actor=state.actor, change_id=change)
    _show_one(created.to_json(), fmt)


@app.command("show")
def show(
    ctx: typer.Context,
    ci_id: Annotated[str, typer.Argument(metavar="ID")],
    fmt: FormatOpt = Format.TABLE,
    at: AsOfOpt = None,
    limit: Annotated[
        int | None,
        typer.Option(min=0, help="Relationships listed (default: 50 in tables, all in JSON)."),
    ] = None,
) -> None:
    """Show a CI with its relationships (counted by type, the first listed) and open records."""
    if limit is None and fmt is not Format.JSON:
        limit = 50
    view = ci_view(as_of(get_state(ctx).store, at), ci_id, limit=limit)
    if fmt is Format.JSON:
        output.emit_json(view.to_json())
        return
    _show_one({**view.ci.to_json(), "missing recommended": list(view.missing_recommended)}, fmt)
    rels = [r.to_json() for r in view.relationships]
    records = [r.to_json() for r in view.open_records]
    total = view.relationships_total
    if len(rels) < total:
        output.emit_table(
            [c.model_dump() for c in view.relationship_counts],
            ["type", "direction", "count"],
            title="Relationships by type",
            caption=f"{total} relationships; out: {ci_id} is the source",
        )
    if rels:
        output.emit_table(
            rels,
            ["source", "type", "target", "attributes"],
            title="Relationships",
            caption=f"{len(rels)} of {total} shown (--limit N)" if len(rels) < total else None,
        )
    if records:
        output.emit_table(records, ["id", "kind", "title", "status"], title="Open records")


def _show_one(ci: dict, fmt: Format) -> None:
    if fmt is Format.JSON:
        output.emit_json(ci)
    else:
        output.emit_kv({k: v for k, v in ci.items() if v not in (None, {}, [])}, title=ci["id"])


@app.command("list")
def list_(
    ctx: typer.Context,
    ci_class: Annotated[list[str] | None, typer.Option("--class", "-c")] = None,
    status: Annotated[list[Lifecycle] | None, typer.Option()] = None,
    criticality: Annotated[list[Criticality] | None, typer.Option()] = None,
    owner: str | None = None,
    support_group: str | None = None,
    identifier: Annotated[str | None, typer.Option(help="IP, hostname, serial...")] = None,
    search: Annotated[str | None, typer.Option(help="Substring of id or name.")] = None,
    include_retired: bool = False,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    fmt: FormatOpt = Format.TABLE,
    at: AsOfOpt = None,
) -> None:
    """List CIs matching the filters."""
    flt = CIFilter(
        classes=tuple(ci_class or ()),
        status=tuple(status or ()),
        criticality=tuple(criticality or ()),
        owner=owner,
        support_group=support_group,
        identifier=identifier,
        text=search,
        include_retired=include_retired,
        limit=limit,
    )
    store = as_of(get_state(ctx).store, at)
    cis = [c.to_json() for c in list_cis(store, flt, class_field="--class")]
    if fmt is Format.JSON:
        output.emit_json(cis)
    else:
        output.emit_table(cis, COLUMNS, caption=f"{len(cis)} CIs")


@app.command("update")
def update(
    ctx: typer.Context,
    ci_id: Annotated[str, typer.Argument(metavar="ID")],
    name: str | None = None,
    status: Lifecycle | None = None,
    criticality: Criticality | None = None,
    owner: str | None = None,
    support_group: str | None = None,
    min_required: int | None = None,
    set_: SetOpt = None,
    unset: Annotated[list[str] | None, typer.Option(help="Remove an attribute.")] = None,
    change: ChangeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Change fields or attributes of a CI."""
    state = get_state(ctx)
    store = state.store
    fields = {
        k: v
        for k, v in dict(
            name=name,
            status=status,
            criticality=criticality,
            owner=owner,
            support_group=support_group,
            min_required=min_required,
        ).items()
        if v is not None
    }
    raw = split_assignments(set_)
    current = store.get_ci(ci_id)
    updated = ops.update_ci(
        store,
        ci_id,
        fields=fields,
        set_attributes=parse_attributes(store.registry, current.ci_class, raw),
        unset=unset,
        expected_version=current.version,
        actor=state.actor,
        change_id=change,
    )
    _show_one(updated.to_json(), fmt)


@app.command("retire")
def retire(
    ctx: typer.Context,
    ci_id: Annotated[str, typer.Argument(metavar="ID")],
    change: ChangeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Retire a CI and its relationships (kept in history)."""
    state = get_state(ctx)
    retired = ops.retire_ci(state.store, ci_id, actor=state.actor, change_id=change)
    if fmt is Format.JSON:
        output.emit_json(retired.to_json())
    else:
        output.info(f"retired {ci_id}")
