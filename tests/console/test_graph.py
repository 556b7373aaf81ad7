"""The impact graph in a real browser: the demo's blast radii drawn with the API's nodes and
states, the Oracle RAC cluster as a k-of-n compound node, the explanation path highlighted on
select, collapse and expand with a summary of what is hidden, 10,000 nodes without a hang, SVG
and PNG export, and the screenshot the README shows (docs/console-blast-radius.png).

Assumptions: the ``console`` fixture serves the demo CMDB; ``sw-dc-acc-05`` (the access switch
of minicomputer rack C) takes down one RAC node's server, and ``dbi-core-rac-1`` is one of the
two instances of ``cl-core-rac`` (1 of 2 needed). One logged-in page is shared by the module
(logging in per test costs more than the tests); each test navigates to its own
``#/impact?...`` (a counter makes every hash new) and waits for the graph's ``data-ready``.
Timings are measured by bench/bench_console.py, not asserted here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import count, pairwise
from typing import Any

import httpx
import pytest

from cmdb.enums import Role
from tests.console.conftest import PageErrors

SVG_NS = "{http://www.w3.org/2000/svg}"
VIEWPORT = {"width": 1440, "height": 1000}
READY = "() => window.cmdbGraph && window.cmdbGraph.container().dataset.ready === '1'"
_serial = count()


class Graph:
    """One logged-in page on the impact view, with helpers that read the drawing."""

    def __init__(self, page: Any, console: Any) -> None:
        self.page = page
        self.console = console
        self.shown: str | None = None

    def api(self, **params: Any) -> dict[str, Any]:
        key = self.console.keys[Role.ADMIN]
        r = httpx.get(
            f"{self.console.url}/api/v1/impact/graph",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def show(self, query: str, *, fresh: bool = False) -> None:
        """Open ``#/impact?query``; the drawing on screen is reused when it shows the same
        query untouched (no click since), unless ``fresh``."""
        if self.shown == query and not fresh:
            return
        self.page.evaluate("window.cmdbGraph = null")
        self.page.goto(f"{self.console.url}/#/impact?{query}&_={next(_serial)}")
        self.wait()
        self.shown = query

    def wait(self) -> None:
        self.page.wait_for_function(READY, timeout=30000)

    def click(self, testid: str) -> None:
        self.shown = None
        self.page.click(f"[data-testid={testid}]")
        self.wait()

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {
            n["id"]: n
            for n in self.page.evaluate(
                """() => cmdbGraph.nodes().map((n) => ({
                     id: n.id(), state: n.data('state'), label: n.data('label'),
                     parent: n.isChild() ? n.parent().id() : null, aggregate: n.data('aggregate'),
                     count: n.data('count'), children: n.children().map((c) => c.id()),
                     classes: n.classes() }))"""
            )
        }

    def summary(self) -> dict[str, Any]:
        box = self.page.locator("[data-testid=graph-summary]")
        data = {k: int(box.get_attribute(f"data-{k}") or 0) for k in ("total", "visible", "hidden")}
        data["text"] = box.inner_text()
        return data

    def tap(self, node_id: str) -> None:
        """Click the node where it is drawn on the canvas."""
        self.shown = None
        x, y = self.page.evaluate(
            """(id) => { const n = cmdbGraph.getElementById(id); cmdbGraph.center(n);
                 const p = n.renderedPosition(); return [p.x, p.y]; }""",
            node_id,
        )
        box = self.page.locator("[data-testid=impact-graph]").bounding_box()
        self.page.mouse.click(box["x"] + x, box["y"] + y)


@pytest.fixture(scope="module")
def graph(console, browser) -> Iterator[Graph]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, device_scale_factor=1)
    page = context.new_page()
    errors = PageErrors()
    errors.watch(page)
    page.goto(console.url + "/")
    page.fill("#login-key", console.keys[Role.ADMIN])
    page.click("#login-submit")
    page.wait_for_selector("[data-testid=whoami]")
    yield Graph(page, console)
    context.close()
    assert not errors, "\n".join(errors)


class TestBlastRadius:
    def test_services_customers_and_slas_are_listed(self, graph):
        graph.show("ci=sw-dc-acc-05")
        affected = graph.page.locator("[data-testid=impact-affected]").inner_text()
        assert re.search(r"Services \(4\)", affected)
        assert re.search(r"Customers \(15\)", affected)
        assert re.search(r"SLAs \(\d+\)", affected)

    @pytest.mark.parametrize("ci", ["sw-dc-acc-05", "dbi-core-rac-1"])
    def test_the_drawing_has_the_api_nodes_states_and_rac_group(self, graph, ci):
        answer = graph.api(ci=ci)
        graph.show(f"ci={ci}")
        drawn = graph.nodes()
        assert len(drawn) == len(answer["nodes"])
        assert {n["id"]: n["state"] or "none" for n in answer["nodes"]} == {
            i: n["state"] for i, n in drawn.items()
        }
        summary = graph.summary()
        total = len(answer["nodes"])
        assert (summary["total"], summary["visible"], summary["hidden"]) == (total, total, 0)
        counts = graph.page.locator("[data-testid=impact-counts] li[data-count=down]")
        assert int(counts.get_attribute("data-value")) == answer["counts"]["down"]
        legend = graph.page.locator("[data-testid=graph-legend]").inner_text()
        for word in ("down (octagon)", "degraded (diamond)", "at risk (triangle)"):
            assert word in legend
        # the Oracle RAC cluster: a compound node holding its drawn members, labelled k of n
        group = next(n for n in answer["nodes"] if n["id"] == "cl-core-rac")["group"]
        members = {n["id"] for n in answer["nodes"] if n["parent"] == "cl-core-rac"}
        rac = drawn["cl-core-rac"]
        assert "dbi-core-rac-1" in members
        assert set(rac["children"]) == members
        assert f"{group['k']} of {group['n']}" in rac["label"]
        if group["out"]:
            assert f"({group['out']} down)" in rac["label"]

    def test_depends_on_draws_the_dependencies_below_the_root_with_elk(self, graph):
        answer = graph.api(ci="svc-core-banking", mode="depends")
        graph.show("ci=svc-core-banking&mode=depends")
        drawn = graph.nodes()
        assert len(drawn) == len(answer["nodes"])
        assert drawn["svc-core-banking"]["state"] == "root"
        assert {n["state"] for i, n in drawn.items() if i != "svc-core-banking"} == {"none"}
        assert graph.page.locator("[data-testid=impact-graph]").get_attribute("data-layout") == (
            "elk"
        )
        # layered: a top-level node of a lower layer (customers = 0) is drawn above every one
        # of a higher layer (group members sit in their group's box)
        bands = graph.page.evaluate(
            """() => cmdbGraph.nodes().orphans().map((n) => [n.data('layer'), n.position('y')])"""
        )
        for layer, y in bands:
            assert all(y < other for lower, other in bands if lower > layer)

    def test_an_unknown_ci_shows_the_api_error(self, graph):
        graph.shown = None
        graph.page.goto(f"{graph.console.url}/#/impact?ci=no-such-ci&_={next(_serial)}")
        error = graph.page.locator("[data-testid=error]")
        error.wait_for()
        assert "404" in error.inner_text()


class TestSelect:
    def test_selecting_a_node_highlights_its_explanation_path(self, graph):
        answer = graph.api(ci="sw-dc-acc-05")
        path = next(n for n in answer["nodes"] if n["id"] == "svc-core-banking")["path"]
        graph.show("ci=sw-dc-acc-05")
        graph.tap("svc-core-banking")
        details = graph.page.locator("[data-testid=graph-details]")
        details.locator("[data-testid=graph-path]").wait_for()
        lit = graph.page.evaluate("() => cmdbGraph.nodes('.on-path').map((n) => n.id())")
        assert set(lit) == set(path)
        edges = graph.page.evaluate(
            "() => cmdbGraph.edges('.on-path').map((e) => [e.source().id(), e.target().id()])"
        )
        steps = set(pairwise(path))
        assert edges and all(tuple(e) in steps for e in edges)
        # every step is lit but the member -> group one, drawn as the member inside its group
        assert len(edges) >= len(steps) - 1
        link = details.locator("a[data-testid=graph-ci-link]").first
        assert link.get_attribute("href") == "#/ci/svc-core-banking"


class TestCollapse:
    def test_collapse_by_class_then_expand_all_restores_the_count(self, graph):
        total = len(graph.api(ci="sw-dc-acc-05")["nodes"])
        graph.show("ci=sw-dc-acc-05")
        graph.click("graph-collapse-classes")
        summary = graph.summary()
        drawn = graph.nodes()
        aggregates = [n for n in drawn.values() if n["aggregate"]]
        assert summary["hidden"] > 0
        assert summary["visible"] + summary["hidden"] == summary["total"] == total
        assert sum(n["count"] for n in aggregates) == summary["hidden"]
        assert len(drawn) == summary["visible"] + len(aggregates) < total
        assert "hidden" in summary["text"] and "desktop ×" in summary["text"]
        desktops = next(n for n in aggregates if n["label"].startswith("desktop ×"))
        assert desktops["state"] == "degraded"
        # finding a hidden CI selects the aggregate that holds it
        graph.page.fill("[data-testid=graph-find]", "pc-br01-001")
        graph.page.press("[data-testid=graph-find]", "Enter")
        selected = graph.page.evaluate("() => cmdbGraph.$(':selected').map((n) => n.id())")
        assert selected == [desktops["id"]]
        details = graph.page.locator("[data-testid=graph-details]").inner_text()
        assert "pc-br01-001" in details
        graph.click("graph-expand-all")
        assert len(graph.nodes()) == total
        assert graph.summary()["hidden"] == 0

    def test_one_layer_collapses_and_its_aggregate_expands(self, graph):
        graph.show("ci=sw-dc-acc-05")
        total = graph.summary()["total"]
        graph.page.click("[data-testid=graph-layer-toggle] >> text=End-user devices")
        graph.wait()
        layer = next(n for n in graph.nodes().values() if n["aggregate"])
        assert layer["label"].startswith("End-user devices ×")
        graph.tap(layer["id"])
        graph.page.click("[data-testid=graph-expand]")
        graph.wait()
        assert len(graph.nodes()) == total

    def test_ten_thousand_nodes_collapse_and_the_page_answers(self, graph):
        graph.shown = None  # drawn over whatever view is open
        stats = graph.page.evaluate(
            """async () => {
                 const { renderGraph } = await import('/console/graph.js');
                 const nodes = [{ id: 'root', name: 'root', class: 'switch', layer: 9,
                   state: 'failed', path: [], parent: null, group: null, rollup: null }];
                 const edges = [];
                 const classes = ['desktop', 'virtual_machine', 'application', 'database'];
                 for (let i = 0; i < 10000; i += 1) {
                   const cls = classes[i % 4];
                   nodes.push({ id: `n${i}`, name: `n${i}`, class: cls, layer: 8 - (i % 4) * 2,
                     state: i % 3 ? 'down' : 'degraded', path: ['root', `n${i}`], parent: null,
                     group: null, rollup: null });
                   edges.push({ from: 'root', to: `n${i}`, type: 'runs_on', membership: false });
                 }
                 const box = document.createElement('div');
                 document.querySelector('.view').append(box);
                 const view = renderGraph(box, { mode: 'blast', nodes, edges, layers: [],
                   omitted: 5 });
                 const ready = await view.ready;
                 const s = box.querySelector('[data-testid=graph-summary]');
                 return { drawn: cmdbGraph.nodes().length, total: +s.dataset.total,
                   hidden: +s.dataset.hidden, text: s.textContent, ms: ready.layoutMs,
                   expand: await view.expandAll() };
               }"""
        )
        assert stats["total"] == 10001
        assert stats["drawn"] <= 350
        assert stats["hidden"] == 10000
        assert "left out by the server" in stats["text"]
        assert stats["expand"] is None  # refused: more than the page draws at once


class TestExport:
    def test_svg_has_one_shape_per_drawn_node(self, graph, tmp_path):
        graph.show("ci=sw-dc-acc-05")
        graph.click("graph-collapse-classes")
        with graph.page.expect_download() as got:
            graph.page.click("[data-testid=export-svg]")
        path = tmp_path / "graph.svg"
        got.value.save_as(path)
        root = ET.parse(path).getroot()
        assert root.tag == f"{SVG_NS}svg"
        shapes = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "node"]
        drawn = graph.nodes()
        assert len(shapes) == len(drawn)
        assert {g.get("data-id") for g in shapes} == set(drawn)
        states = {g.get("data-id"): g.get("data-state") for g in shapes}
        assert states["sw-dc-acc-05"] == "failed"
        assert len([e for e in root.iter(f"{SVG_NS}line")]) == graph.page.evaluate(
            "cmdbGraph.edges().length"
        )

    def test_png_is_a_png(self, graph, tmp_path):
        graph.show("ci=dbi-core-rac-1")
        with graph.page.expect_download() as got:
            graph.page.click("[data-testid=export-png]")
        path = tmp_path / "graph.png"
        got.value.save_as(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_screenshot_of_the_demo_blast_radius(graph, docs_dir):
    """docs/console-blast-radius.png: the README's picture, laid out by ELK, with one
    explanation path lit."""
    graph.show("ci=sw-dc-acc-05")
    graph.shown = None
    graph.page.select_option("[data-testid=graph-layout]", "elk")  # the layered ELK drawing
    graph.wait()
    assert graph.page.locator("[data-testid=impact-graph]").get_attribute("data-layout") == "elk"
    graph.tap("svc-core-banking")
    graph.page.evaluate("() => { cmdbGraph.fit(undefined, 20); }")
    view = graph.page.locator(".view").bounding_box()
    top = graph.page.locator(".view h1").bounding_box()
    legend = graph.page.locator("[data-testid=graph-legend]").bounding_box()
    assert view and top and legend
    height = legend["y"] + legend["height"] - top["y"] + 16
    clip = {"x": view["x"] - 12, "y": top["y"] - 10, "width": view["width"] + 24, "height": height}
    graph.page.screenshot(
        path=str(docs_dir / "console-blast-radius.png"), clip=clip, full_page=True
    )
    assert (docs_dir / "console-blast-radius.png").stat().st_size > 10_000
    assert graph.summary()["total"] > 100
