"""Commands load their modules only when used: ``cmdb --help`` imports no store, no pydantic
model and no numpy, and the help it lists for each command is that command's own."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from cli.main import COMMANDS, load_command

HEAVY = ("cmdb.store", "cmdb.model", "cmdb.settings", "numpy", "networkx", "neo4j", "pydantic")


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_help_is_the_commands_own(name):
    command = load_command(name)
    assert command.name == name
    assert COMMANDS[name][1] == _first_paragraph(command.help)


@pytest.mark.parametrize("module", sorted({m for m, _ in COMMANDS.values()}))
def test_every_command_a_module_registers_is_listed(module):
    import typer

    mod = importlib.import_module(module)
    listed = {name for name, (m, _) in COMMANDS.items() if m == module}
    if not hasattr(mod, "register"):  # a group of its own, listed once
        assert isinstance(mod.app, typer.Typer) and len(listed) == 1
        return
    holder = typer.Typer()
    mod.register(holder)
    assert set(typer.main.get_group(holder).commands) == listed


def test_help_imports_no_store_model_or_numpy():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0 and 'release' in r.output, r.output\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in out if any(m == h or m.startswith(h + ".") for h in HEAVY)] == []


def test_a_mistyped_command_still_gets_a_suggestion(tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    r = CliRunner().invoke(app, ["--db", str(tmp_path / "x.db"), "relese", "list"])
    assert r.exit_code == 2
    assert "release" in r.output


def test_reading_a_ci_imports_no_numpy_networkx_or_neo4j(tmp_path):
    db = tmp_path / "c.db"
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        f"db = {str(db)!r}\n"
        "assert CliRunner().invoke(app, ['--db', db, 'init']).exit_code == 0\n"
        "r = CliRunner().invoke(app, ['--db', db, 'ci', 'add', 'vm-1', '--class',\n"
        "    'virtual_machine', '--name', 'VM'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['--db', db, 'ci', 'show', 'vm-1'])\n"
        "assert r.exit_code == 0 and 'VM' in r.output, r.output\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in out if m.split(".")[0] in {"numpy", "networkx", "neo4j"}] == []
