"""The README's promise: every error is one line on stderr and an exit code (1: user error,
2: usage error, 3: no store / store unreachable), and a mistyped --db creates nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app


def one_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (["ci", "list", "--format", "nonsense"], "'--format'"),
            (["ci", "list", "--limit", "0"], "'--limit'"),
            (["impact", "blast-radius", "x", "--depth", "-1"], "'--depth'"),
            (["ci", "add", "x"], "Missing option '--class'"),
            (["ci", "list", "--bogus"], "No such option: --bogus"),
            (["nosuch"], "No such command 'nosuch'"),
            (["ci", "nosuch"], "No such command 'nosuch'"),
            (["import"], "Missing argument 'FILE'"),
            (["export", "--what", "relationships"], "only CSV exports take --what"),
            (["generate", "--cis", "10"], "'--cis'"),
            (["--db"], "'--db' requires an argument"),
        ],
    )
    def test_one_line_and_exit_2(self, cmdb, args, text):
        line = one_line(cmdb(*args, code=2))
        assert text in line and "╭" not in line
        assert line.endswith("--help`)")

    def test_help_is_not_an_error(self, cmdb):
        assert "Usage" in cmdb("ci", "--help").stdout
        result = cmdb("ci", code=None)
        assert "list" in result.stdout + result.stderr and "error:" not in result.stderr


class TestMissingStore:
    """A mistyped --db must not create an empty store: only init, demo, import and generate
    create one."""

    @pytest.mark.parametrize(
        "args",
        [
            ["ci", "list"],
            ["ci", "show", "x"],
            ["rel", "list"],
            ["export"],
            ["ci", "add", "x", "--class", "application", "--name", "X"],
            ["impact", "blast-radius", "x"],
            ["incident", "list"],
        ],
    )
    def test_read_and_single_writes_need_a_store(self, tmp_path, args):
        db = tmp_path / "x" / "nope" / "cmdb.db"
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        assert result.exit_code == 3, result.output
        assert f"no store at {db}" in one_line(result)
        assert not (tmp_path / "x").exists()

    def test_dry_run_import_writes_nothing(self, tmp_path):
        db = tmp_path / "x" / "cmdb.db"
        path = tmp_path / "cis.csv"
        path.write_text("id,class,name\na-1,application,A\n")
        result = CliRunner().invoke(app, ["--db", str(db), "import", str(path), "--dry-run"])
        assert result.exit_code == 3 and "no store at" in one_line(result)
        assert not (tmp_path / "x").exists()

    @pytest.mark.parametrize("args", [["init"], ["import", "{csv}"]])
    def test_creating_commands_create(self, tmp_path, args):
        db = tmp_path / "new" / "cmdb.db"
        path = tmp_path / "cis.csv"
        path.write_text("id,class,name\na-1,application,A\n")
        args = [a.replace("{csv}", str(path)) for a in args]
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
        assert db.exists()
        listed = CliRunner().invoke(app, ["--db", str(db), "ci", "list", "-f", "json"])
        assert listed.exit_code == 0 and isinstance(json.loads(listed.stdout), list)

    def test_registry_needs_no_store(self, tmp_path):
        result = CliRunner().invoke(
            app, ["--db", str(tmp_path / "none.db"), "registry", "classes", "-f", "json"]
        )
        assert result.exit_code == 0 and not (tmp_path / "none.db").exists()
