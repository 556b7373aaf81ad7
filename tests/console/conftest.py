"""Fixtures for the web console's browser tests: a served demo store and headless Chromium.

``console`` serves a copy of the demo CMDB (one API key per role) with ``cmdb serve`` for the
whole session; ``open_console(role)`` opens a fresh browser context, logs in with that role's
key and returns the page. Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright's
sync API with its executable path (Playwright's own browser downloads are not used). Without
Playwright or Chromium the tests skip with the reason, unless ``CMDB_REQUIRE_BROWSER=1`` (as in
CI), where that is a failure. Every page fails its test on a JavaScript error or a content
security policy violation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.console import STATIC
from cmdb import apikeys
from cmdb.demo import build_demo
from cmdb.enums import Role
from cmdb.model import utcnow
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.served import served

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


def _unavailable(reason: str) -> None:
    if os.environ.get("CMDB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CMDB_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    configured = os.environ.get("CMDB_CHROMIUM")
    if configured:
        return configured
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


@dataclass(frozen=True)
class Console:
    """A served demo store: its base URL, one key per role and the server's log."""

    url: str
    keys: dict[Role, str]
    db: Path
    log: Path


@pytest.fixture(scope="session")
def console(tmp_path_factory) -> Iterator[Console]:
    if not (STATIC / "vendor" / "cytoscape.min.js").is_file():
        _unavailable("the console's graph library was not built (npm missing at install time)")
    root = tmp_path_factory.mktemp("console")
    db = root / "cmdb.db"
    store = open_store(Settings(db=db), create=True)
    try:
        store.apply(build_demo(now=utcnow()), actor="demo")
        keys = {
            role: apikeys.create_key(store, role=role, name=f"web-{role.value}", actor="t").token
            for role in Role
        }
    finally:
        store.close()
    with served(db, root / "server.log") as url:
        yield Console(url=url, keys=keys, db=db, log=root / "server.log")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageErrors(list[str]):
    """JavaScript errors and CSP violations seen by one page."""

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.append(f"page error: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and "Failed to load resource" not in text:
            self.append(f"console error: {text}")
        elif "Content Security Policy" in text:
            self.append(f"CSP: {text}")


@pytest.fixture
def open_console(console: Console, browser: Any) -> Iterator[Callable[..., Any]]:
    """``open_console(role="admin", hash="")``: a logged-in page, at ``#<hash>`` if given.
    The test fails afterwards if any page had a JavaScript error or a CSP violation."""
    contexts: list[Any] = []
    errors = PageErrors()

    def open_(role: Role | str = Role.ADMIN, hash: str = "", *, login: bool = True) -> Any:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        errors.watch(page)
        page.goto(console.url + "/")
        if login:
            page.fill("#login-key", console.keys[Role(role)])
            page.click("#login-submit")
            page.wait_for_selector("[data-testid=whoami]")
        if hash:
            page.goto(f"{console.url}/#{hash.removeprefix('#')}")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="session")
def docs_dir() -> Path:
    """Where tests write pictures the README shows."""
    path = Path(__file__).resolve().parents[2] / "docs"
    path.mkdir(exist_ok=True)
    return path
