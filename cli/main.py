"""The ``cmdb`` command: global options, sub-command registration and error mapping.

One Typer file per noun (``ci``, ``rel``, ``impact``...). Every user error is a
:class:`cmdb.errors.CMDBError`; it is printed as one line on stderr and exits non-zero:
1 for bad input or a failed check, 3 when the store cannot be reached (or does not exist).
Usage errors (an unknown option, a bad or missing option value) are one line too, and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.25 carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[no-redef, assignment, unused-ignore]

from cli import output
from cli.state import State
from cmdb.errors import CMDBError, StoreUnavailableError
from cmdb.settings import load_settings

__all__ = ["app", "main"]

EXIT_USER_ERROR = 1
EXIT_UNAVAILABLE = 3


def _usage_line(exc: ClickException, command: str | None) -> str:
    """A usage error as one line, with where to read the command's help."""
    message = " ".join(exc.format_message().split()).replace("Value error, ", "")
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else command
    return f"{message} (see `{command} --help`)" if command else message


def _usage_error(exc: ClickException, command: str | None = None) -> typer.Exit:
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help itself, already printed
        raise exc
    output.error(_usage_line(exc, command))
    return typer.Exit(exc.exit_code)


class _Group(TyperGroup):
    """Turns project errors and usage errors into one line and an exit code, for every
    sub-command."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as exc:
            raise _usage_error(exc, info_name) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CMDBError as exc:
            output.error(str(exc))
            code = EXIT_UNAVAILABLE if isinstance(exc, StoreUnavailableError) else EXIT_USER_ERROR
            raise typer.Exit(code) from None
        except ClickException as exc:
            raise _usage_error(exc) from None
        finally:
            state = ctx.obj
            if isinstance(state, State) and ctx.parent is None:
                state.close()


app = typer.Typer(
    cls=_Group,
    name="cmdb",
    help="graph-cmdb: a graph-based CMDB with impact analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", envvar="CMDB_DB", help="Embedded store file (default: user data dir)."
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", envvar="CMDB_STORE", help="Store URI: sqlite:///PATH or neo4j://HOST."
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option("--registry", envvar="CMDB_REGISTRY", help="Extra class registry YAML."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", envvar="CMDB_ACTOR", help="Who is making changes (for history)."),
    ] = None,
) -> None:
    ctx.obj = State(load_settings(db=db, store=store, registry=registry, actor=actor))


def _register() -> None:
    from cli import (
        admin,
        apikey,
        audit,
        baseline,
        change,
        ci,
        discover,
        history,
        impact,
        incident,
        problem,
        rel,
        release,
        serve,
        transfer,
    )

    admin.register(app)
    transfer.register(app)
    history.register(app)
    serve.register(app)
    for name, module in (
        ("ci", ci),
        ("rel", rel),
        ("impact", impact),
        ("incident", incident),
        ("change", change),
        ("problem", problem),
        ("discover", discover),
        ("audit", audit),
        ("baseline", baseline),
        ("apikey", apikey),
        ("release", release),
    ):
        app.add_typer(module.app, name=name, help=(module.__doc__ or name).strip().splitlines()[0])


_register()


def main() -> None:
    app()
