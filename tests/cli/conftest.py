from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app


class Cmdb:
    """Runs `cmdb --db <tmp> ...` in-process and keeps the result."""

    def __init__(self, db):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0):
        result = self.runner.invoke(app, ["--db", str(self.db), *args])
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
        assert "Traceback" not in result.output + result.stderr
        return result


@pytest.fixture
def cmdb(tmp_path):
    """A `cmdb` on an empty store (made with `cmdb init`: only data-creating commands make one)."""
    runner = Cmdb(tmp_path / "cli.db")
    runner("init")
    return runner
