"""The ``cmdb`` command: global options, sub-command registration and error mapping.

One Typer file per noun (``ci``, ``rel``, ``impact``...). Every user error is a
:class:`cmdb.errors.CMDBError`; it is printed as one line on stderr and exits non-zero:
1 for bad input or a failed check, 3 when the store cannot be reached (or does not exist).
Usage errors (an unknown option, a bad or missing option value) are one line too, and exit 2.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.25 carries its own copy of click
    import typer._click as click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef, unused-ignore]
    from click import ClickException  # type: ignore[no-redef, assignment, unused-ignore]

from cli import output
from cli.state import State
from cmdb.errors import CMDBError, StoreUnavailableError

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
    sub-command, and loads the commands of :data:`COMMANDS` when they are used."""

    _listing = False

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        if self.name == "cmdb":
            for name, (_, short) in COMMANDS.items():
                self.commands.setdefault(name, _Placeholder(name=name, help=short))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, _Placeholder) and not self._listing:
            command = self.commands[cmd_name] = load_command(cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True  # list the placeholders' help without importing their modules
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
    from cmdb.settings import load_settings  # pydantic-settings: not for `--help`

    ctx.obj = State(load_settings(db=db, store=store, registry=registry, actor=actor))


COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, the one-line help listed by `cmdb --help`), in the order listed. A module
    # with ``register(app)`` adds its own commands to the root; any other is a group of its
    # own (its ``app``). Modules load only when their command runs (or shows its own help),
    # so `cmdb --help` and every command import only what they use.
    # tests/cli/test_lazy_commands.py checks each line against the module's own help.
    "init": ("cli.admin", "Create the store (if needed) and show where it is."),
    "demo": ("cli.admin", "Load the demo CMDB: an IT outsourcer's banking estate (about 400 CIs)."),
    "generate": (
        "cli.admin",
        "Generate a realistic layered enterprise topology of N CIs into the store.",
    ),
    "import": (
        "cli.transfer",
        "Import a file as one batch: all of it or nothing (or, with --chunked N, in batches).",
    ),
    "export": (
        "cli.transfer",
        "Export the graph (and, in JSON and JSON Lines, the ITSM records), streamed.",
    ),
    "history": (
        "cli.history",
        "Every change to CI and its relationships: when, what, who (or which discovery run), "
        "and under which change record; oldest first unless --newest-first.",
    ),
    "serve": (
        "cli.serve",
        "Serve the web console (/) and the REST API (/api/v1, OpenAPI at /docs).",
    ),
    "registry": ("cli.admin", "The class and relationship registry."),
    "ci": ("cli.ci", "Configuration items: add, show, list, update, retire."),
    "rel": ("cli.rel", "Relationships: add, list, remove."),
    "impact": (
        "cli.impact",
        "Impact analysis: blast radius, depends-on, single points of failure, availability, "
        "root cause.",
    ),
    "incident": (
        "cli.incident",
        "Incidents: open (with a priority from the blast radius), list, show, resolve.",
    ),
    "change": ("cli.change", "Changes: assess their risk (stored or ad hoc), list and add them."),
    "problem": (
        "cli.problem",
        "Problems: open one for a set of incidents, with a suspected root cause; list them.",
    ),
    "discover": (
        "cli.discover",
        "Discovery: scan sources and reconcile them into the store; list runs; purge; diff.",
    ),
    "audit": (
        "cli.audit",
        "Audit: findings and scores of the CMDB's completeness, correctness and compliance.",
    ),
    "baseline": (
        "cli.baseline",
        "Baselines: name the configuration at a moment, list them, compare two (or one with now).",
    ),
    "apikey": ("cli.apikey", "API keys for the REST API (`cmdb serve`): create, list, revoke."),
    "release": (
        "cli.release",
        "Releases: group changes, list and show them, and assess one as a whole.",
    ),
    "neo4j": (
        "cli.neo4j_admin",
        "Neo4j administration: the first load of a large estate through neo4j-admin.",
    ),
}


def load_command(name: str) -> click.Command:
    """The real command ``name`` of :data:`COMMANDS`, importing its module."""
    module = importlib.import_module(COMMANDS[name][0])
    holder = typer.Typer(add_completion=False)
    if hasattr(module, "register"):
        module.register(holder)
    else:
        holder.add_typer(module.app, name=name, help=COMMANDS[name][1])
    group = typer.main.get_group(holder)
    command = group.commands[name]
    return command


class _Placeholder(TyperCommand):
    """A command of :data:`COMMANDS` not loaded yet: its name and help, for listings."""


def main() -> None:
    app()
