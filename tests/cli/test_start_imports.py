"""What the smallest store command loads (docs/benchmarks.md, "CLI process start"): reading a
CI imports no pydantic-settings (nor its asyncio and dotenv), no YAML parser once the built-in
registry is cached, no progress bar, and builds no validator of the models it does not use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

NOT_LOADED = ("pydantic_settings", "dotenv", "asyncio", "yaml", "rich.progress", "numpy")
UNBUILT = ("Batch", "BatchResult", "HistoryEntry", "Expected")

_PROBE = """
import json, sys
from typer.testing import CliRunner
from cli.main import app
r = CliRunner().invoke(app, ["--db", sys.argv[1], "ci", "show", "vm-1"])
assert r.exit_code == 0 and "VM one" in r.output, r.output
import cmdb.model as m
print(json.dumps({
    "modules": sorted(sys.modules),
    "built": {n: getattr(m, n).__pydantic_complete__ for n in sys.argv[2:]},
}))
"""


@pytest.fixture(scope="module")
def store_and_env(tmp_path_factory):
    from typer.testing import CliRunner

    from cli.main import app

    tmp = tmp_path_factory.mktemp("start")
    db = str(tmp / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    added = runner.invoke(
        app, ["--db", db, "ci", "add", "vm-1", "--class", "virtual_machine", "--name", "VM one"]
    )
    assert added.exit_code == 0, added.output
    return db, {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}


def _probe(db: str, env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, db, *UNBUILT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_reading_a_ci_loads_only_what_it_uses(store_and_env):
    db, env = store_and_env
    _probe(db, env)  # the first process caches the built-in registry
    seen = _probe(db, env)
    assert [n for n in NOT_LOADED if _loaded(seen["modules"], n)] == []
    assert seen["built"] == dict.fromkeys(UNBUILT, False)


def test_the_first_process_parses_the_registry_yaml_and_answers_the_same(store_and_env, tmp_path):
    db, env = store_and_env
    fresh = {**env, "XDG_CACHE_HOME": str(tmp_path / "empty-cache")}
    seen = _probe(db, fresh)
    assert _loaded(seen["modules"], "yaml")
    assert not _loaded(_probe(db, fresh)["modules"], "yaml")
