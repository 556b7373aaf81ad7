"""Fixtures for the API tests: a demo store with one key per role, and a client on it.

The demo store is built once per session, with its topology snapshot published beside it, and
copied for each test (the file and its snapshot directory), so every test starts from the same
CMDB and may write to it. The copy keeps the store id and version, so the copied snapshot is
the copy's own (:mod:`cmdb.store.snapshots`); a write makes the next read rebuild it.

``client`` is one app and one ``TestClient`` for the whole session whose store is swapped for
each test: building an app, loading the registry and the first request cost about 0.3 s, which
every test paid when each had its own app. The app holds nothing else per store: the OpenAPI
is cached per registry and audit rules, not per file. A test that needs other settings (a body
limit, CORS, audit rules, a registry file) builds its own app with ``create_app``; so does
``client`` when ``api_env``'s settings differ from the shared app's by more than the file.
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
from cmdb.registry import Registry, load_registry
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


def _snapshots(db: Path) -> Path:
    """The snapshot cache beside a store file (:class:`cmdb.store.sqlite.SQLiteStore`)."""
    return db.with_name(f"{db.name}.snapshots")


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
        store.topology()  # published beside the file, and copied with it
    finally:
        store.close()  # the last connection checkpoints the WAL into the file
    assert not Path(f"{path}-wal").exists(), "the template must be one file"
    return path, keys


@pytest.fixture
def api_env(_demo_template, tmp_path) -> ApiEnv:
    """A fresh copy of the demo store, with one key per role."""
    template, keys = _demo_template
    path = tmp_path / "cmdb.db"
    shutil.copyfile(template, path)
    if _snapshots(template).is_dir():
        shutil.copytree(_snapshots(template), _snapshots(path))
    return ApiEnv(settings=Settings(db=path), keys=keys)


@dataclass(frozen=True)
class _SharedApp:
    """The session's app, the settings it was built with, its registry and its client."""

    client: TestClient
    settings: Settings
    registry: Registry

    def serves(self, settings: Settings) -> bool:
        """Whether ``create_app(settings)`` would be this app on another file."""
        return settings.model_copy(update={"db": self.settings.db}) == self.settings


@pytest.fixture(scope="session")
def _shared_app(tmp_path_factory):
    from api.app import create_app

    settings = Settings(db=tmp_path_factory.mktemp("api-app") / "unused.db")
    with TestClient(create_app(settings)) as c:
        yield _SharedApp(c, settings, load_registry(settings.registry))


@pytest.fixture
def client(api_env, _shared_app):
    """A TestClient on ``create_app(api_env.settings)``; no key is sent by default.

    The shared app, pointed at this test's store (opened on first use, closed after the
    test), when the settings allow; else an app of its own."""
    from api.app import create_app
    from api.deps import ApiState

    if not _shared_app.serves(api_env.settings):
        with TestClient(create_app(api_env.settings)) as own:
            yield own
        return
    c = _shared_app.client
    app = c.app
    idle = app.state.cmdb
    headers = c.headers.copy()
    state = ApiState(api_env.settings, _registry=_shared_app.registry)
    app.state.cmdb = state
    try:
        yield c
    finally:
        if app.state.cmdb is not state:  # a test swapped it
            app.state.cmdb.close()
        state.close()
        app.state.cmdb = idle
        c.headers = headers
        c.cookies.clear()
