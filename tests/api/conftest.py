"""Fixtures for the API tests: a demo store with one key per role, and a client on it.

The demo store is built once per session and copied for each test (a file copy), so every
test starts from the same CMDB and may write to it.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from cmdb import apikeys
from cmdb.demo import build_demo
from cmdb.enums import Role
from cmdb.model import utcnow
from cmdb.settings import Settings
from cmdb.store import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class ApiEnv:
    """A demo store (``settings``) and one key per role (``keys[Role.ADMIN]`` is a token)."""

    settings: Settings
    keys: dict[Role, str]

    def headers(self, role: Role | str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[Role(role)]}", **extra}


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> tuple[Path, dict[Role, str]]:
    path = tmp_path_factory.mktemp("api-demo") / "cmdb.db"
    store = open_store(Settings(db=path), create=True)
    try:
        store.apply(build_demo(now=utcnow()), actor="demo")
        keys = {
            role: apikeys.create_key(store, role=role, name=f"test-{role.value}", actor="t").token
            for role in Role
        }
    finally:
        store.close()
    return path, keys


@pytest.fixture
def api_env(_demo_template, tmp_path) -> ApiEnv:
    """A fresh copy of the demo store, with one key per role."""
    template, keys = _demo_template
    path = tmp_path / "cmdb.db"
    shutil.copyfile(template, path)
    return ApiEnv(settings=Settings(db=path), keys=keys)


@pytest.fixture
def client(api_env):
    """A TestClient on ``create_app(api_env.settings)``; no key is sent by default."""
    from api.app import create_app

    with TestClient(create_app(api_env.settings)) as c:
        yield c
