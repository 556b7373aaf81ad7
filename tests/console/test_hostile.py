"""Hostile text in the CMDB stays text in the console: a CI whose name, attribute and
identifier are HTML and script is shown literally on its page, in search results, in the graph
and in the SVG export, and nothing runs (no dialog, no script error, no CSP violation)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from cmdb.enums import Role

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>&amp; \"q\" 'a'"
CI_ID = "x-hostile-01"


@pytest.fixture(scope="module")
def hostile_ci(console) -> str:
    headers = {"Authorization": f"Bearer {console.keys[Role.ADMIN]}"}
    r = httpx.post(
        f"{console.url}/api/v1/cis",
        headers=headers,
        json={
            "id": CI_ID,
            "class": "virtual_machine",
            "name": HOSTILE,
            "attributes": {"os": HOSTILE},
            "identifiers": {"hostnames": ["evil.example"]},
        },
    )
    assert r.status_code == 201, r.text
    return CI_ID


def _no_dialog(page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_a_ci_page_shows_hostile_text_literally(open_console, hostile_ci):
    page = open_console(Role.READER)
    dialogs = _no_dialog(page)
    page.goto(f"{page.url.split('#')[0]}#/ci/{hostile_ci}")
    page.wait_for_selector("[data-testid=ci-page]")
    assert HOSTILE in page.locator("[data-testid=ci-page]").inner_text()
    assert page.locator("[data-testid=ci-page] img").count() == 0
    assert dialogs == []


def test_search_results_show_hostile_text_literally(open_console, hostile_ci):
    page = open_console(Role.READER)
    dialogs = _no_dialog(page)
    page.fill("#search", "x-hostile")
    result = page.locator("[data-testid=search-result]").first
    result.wait_for()
    assert "<img" in result.inner_text()
    assert page.locator("header img, [data-testid=search-result] img").count() == 0
    assert dialogs == []


def test_the_graph_and_its_svg_keep_hostile_text(open_console, hostile_ci, tmp_path: Path):
    page = open_console(Role.READER)
    dialogs = _no_dialog(page)
    page.goto(f"{page.url.split('#')[0]}#/impact?ci={hostile_ci}")
    page.wait_for_function(
        "() => window.cmdbGraph && window.cmdbGraph.container().dataset.ready === '1'"
    )
    with page.expect_download() as got:
        page.click("[data-testid=export-svg]")
    svg = tmp_path / "graph.svg"
    got.value.save_as(svg)
    texts = "".join(t.text or "" for t in ET.parse(svg).iter() if t.tag.endswith("text"))
    assert "<img" in texts  # escaped in the file, text again when parsed
    assert not any(el.tag.endswith(("script", "img")) for el in ET.parse(svg).iter())
    assert dialogs == []
