"""API keys for the REST API (`cmdb serve`): create, list, revoke.

A key's token is printed once, by `create`, on stdout (so `KEY=$(cmdb apikey create ...)`
works) with a warning on stderr; only its SHA-256 is stored, so a lost token cannot be shown
again: revoke the key and create another. `list` shows everything but the secret.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer

from cli import output
from cli.options import FormatOpt
from cli.output import Format
from cli.state import get_state
from cmdb import apikeys
from cmdb.enums import Role
from cmdb.errors import ValidationError
from cmdb.model import ApiKey

__all__ = ["app", "parse_expiry"]

app = typer.Typer(no_args_is_help=True)

COLUMNS = ["id", "name", "role", "created_at", "expires_at", "revoked_at"]


def parse_expiry(text: str) -> datetime:
    """When a key given ``--expires TEXT`` stops working. A date is the whole of that day
    (UTC): the key expires at the midnight that ends it. A time without an offset is UTC.

    >>> parse_expiry("2027-01-31").isoformat()
    '2027-02-01T00:00:00+00:00'
    >>> parse_expiry("2027-01-31T18:00+01:00").isoformat()
    '2027-01-31T18:00:00+01:00'
    """
    if isinstance(text, datetime):  # typer hands defaults through unparsed
        return text
    text = text.strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
        at = datetime.fromisoformat(text) if day is None else None
    except ValueError:
        raise typer.BadParameter(
            f"not an ISO date or time: {text!r} (e.g. 2027-01-31 or 2027-01-31T18:00Z)"
        ) from None
    if day is not None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    assert at is not None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _row(key: ApiKey, *, short: bool = False) -> dict[str, Any]:
    """A key as shown: named fields only, so that nothing secret can slip in. ``short``
    times (for tables) are to the second, in UTC."""

    def when(at: datetime | None) -> str | None:
        if at is None:
            return None
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if short else at.isoformat()

    return {
        "id": key.id,
        "name": key.name,
        "role": key.role.value,
        "created_at": when(key.created_at),
        "expires_at": when(key.expires_at),
        "revoked_at": when(key.revoked_at),
    }


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[Role, typer.Option(help="What the key may do.", show_default=False)],
    name: Annotated[
        str | None,
        typer.Option(help="Who uses it (the actor of its writes in history; default: the role)."),
    ] = None,
    expires: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_expiry,
            metavar="DATE",
            help="Expiry: an ISO date (the key works to the end of that day, UTC) or time.",
        ),
    ] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Create a key; its token is printed once, e.g. `cmdb apikey create --role reader`."""
    state = get_state(ctx)
    try:
        new = apikeys.create_key(
            state.store, role=role, name=name or role.value, expires_at=expires, actor=state.actor
        )
    except ValidationError as exc:
        if exc.field != "expires_at":
            raise
        raise ValidationError(exc.detail, field="--expires") from None
    if fmt is Format.JSON:
        output.emit_json({**_row(new.key), "token": new.token})
    else:
        output.emit_line(new.token)
        until = f", expires {new.key.expires_at.isoformat()}" if new.key.expires_at else ""
        output.info(f"created {new.key.id} ({new.key.role.value}{until})")
    output.warn("store this key now: it is shown only once and cannot be recovered")


@app.command("list")
def list_(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List keys (never their secrets)."""
    keys = apikeys.list_keys(get_state(ctx).store, include_revoked=include_revoked)
    if fmt is Format.JSON:
        output.emit_json([_row(k) for k in keys])
    else:
        rows = [_row(k, short=True) for k in keys]
        output.emit_table(rows, COLUMNS, caption=f"{len(rows)} API keys (times in UTC)")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[
        str, typer.Argument(metavar="KEY", help="The key's id (KEY-000001), or its token.")
    ],
) -> None:
    """Revoke a key: it stops working at once (kept in history)."""
    state = get_state(ctx)
    parts = apikeys.token_parts(key_id.strip())
    key_id = parts[0] if parts else key_id  # a leaked token names its key: never echo it
    key = apikeys.revoke_key(state.store, key_id, actor=state.actor)
    output.info(f"revoked {key.id} ({key.name}, {key.role.value})")
