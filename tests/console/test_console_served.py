"""The console as files over HTTP: served at ``/`` with a strict content security policy, its
graph library and licences packaged, and nothing fetched from another origin."""

from __future__ import annotations

import re

import httpx
import pytest

from api.console import SECURITY_HEADERS, STATIC

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|import\s[^;]*["'](?:https?:)?//""")


def _own_files() -> list:
    return [p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts]


def test_the_console_is_served_at_the_root_with_its_security_headers(console):
    r = httpx.get(console.url + "/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert "default-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("name", ["cytoscape.min.js", "elk.bundled.js", "cytoscape-elk.js"])
def test_the_graph_library_is_served_from_the_package(console, name):
    r = httpx.get(f"{console.url}/console/vendor/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 5000


def test_the_licences_of_the_graph_library_ship_with_it():
    licences = {p.name for p in (STATIC / "vendor" / "licenses").iterdir()}
    if not licences:
        pytest.skip("the console's graph library was not built")
    assert licences == {"cytoscape.txt", "elkjs.md", "cytoscape-elk.txt"}


def test_the_consoles_own_files_load_nothing_from_another_origin():
    files = _own_files()
    assert any(p.suffix == ".js" for p in files)
    offending = [
        f"{p.name}: {m.group(0)}"
        for p in files
        if p.suffix in {".html", ".js", ".css"}
        for m in EXTERNAL.finditer(p.read_text())
    ]
    assert offending == []


def test_an_unknown_console_file_is_a_problem_404(console):
    r = httpx.get(console.url + "/console/no-such-file.js")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = httpx.get(console.url + "/console/../../setup.py")
    assert r.status_code == 404


def test_the_api_answers_carry_no_console_headers(console):
    r = httpx.get(console.url + "/api/v1/health")
    assert "content-security-policy" not in r.headers
