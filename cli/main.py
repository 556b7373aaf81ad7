"""The ``cmdb`` command: global options, sub-command registration and error mapping.

One Typer file per noun (``ci``, ``rel``, ``impact``...). Every user error is a
:class:`cmdb.errors.CMDBError`; it is printed as one line on stderr and exits non-zero:
1 for bad input or a failed check, 3 when the store cannot be reached. Usage errors exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from cli import output
from cli.state import State
from cmdb.errors import CMDBError, StoreUnavailableError
from cmdb.settings import load_settings

__all__ = ["app", "main"]

EXIT_USER_ERROR = 1
EXIT_UNAVAILABLE = 3


class _Group(TyperGroup):
    """Turns project errors into one line and an exit code, for every sub-command."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CMDBError as exc:
            output.error(str(exc))
            code = EXIT_UNAVAILABLE if isinstance(exc, StoreUnavailableError) else EXIT_USER_ERROR
            raise typer.Exit(code) from None
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
    db: Annotated[Path | None, typer.Option("--db", envvar="CMDB_DB",
                                            help="Embedded store file (default: user data dir).")
                  ] = None,
    store: Annotated[str | None, typer.Option("--store", envvar="CMDB_STORE",
                                              help="Store URI: sqlite:///PATH or neo4j://HOST.")
                     ] = None,
    registry: Annotated[Path | None, typer.Option("--registry", envvar="CMDB_REGISTRY",
                                                  help="Extra class registry YAML.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", envvar="CMDB_ACTOR",
                                              help="Who is making changes (for history).")
                     ] = None,
) -> None:
    ctx.obj = State(load_settings(db=db, store=store, registry=registry, actor=actor))


def _register() -> None:
    from cli import admin, change, ci, impact, incident, problem, rel, transfer

    admin.register(app)
    transfer.register(app)
    for name, module in (("ci", ci), ("rel", rel), ("impact", impact), ("incident", incident),
                         ("change", change), ("problem", problem)):
        app.add_typer(module.app, name=name, help=module.__doc__.strip().splitlines()[0])


_register()


def main() -> None:
    app()
