"""The web console's speed in headless Chromium: first paint on the demo CMDB, and the layout
time of a ~500-node and a ~10,000-node blast radius on a generated estate, each beside a
baseline measured in the same run.

Run (from the repository root; needs Playwright and Debian's ``chromium``)::

    .venv/bin/python -m bench.bench_console --cis 20000 --seed 1 --repeat 3

What is measured, each ``--repeat`` times (the median is printed, in ms):

- **first paint**: ``performance.getEntriesByType('paint')`` (first-contentful-paint) of ``/``
  on the demo, logged out (the log-in form) and logged in (the search view; the key is already
  in ``sessionStorage``). Baseline: the same browser's first paint of a static license file,
  served by the same server.
- **layout**: the estate comes from ``cmdb generate --cis N --seed S``; the bench picks the CIs
  whose blast radius (failed CI included) is closest to 500 and to 10,000 nodes. For each, in
  the logged-in console page: the JSON fetch of ``GET /api/v1/impact/graph`` alone (baseline),
  then graph.js's ``renderGraph`` on that payload with each layout: ``auto`` (what the page
  does: collapse above 350 nodes, ELK up to 100 drawn nodes, the layered preset above),
  ``elk`` and ``preset`` on every node drawn (no collapse, 500 only) and ``grid`` (cytoscape's
  built-in grid layout: the baseline of a layout that knows nothing of layers; it sizes cells
  by labels, so it is not free). ``layout`` is from the layout's start to its ``layoutstop``;
  ``wall`` adds building the model, collapsing and adding the elements.

Assumptions: two shared CPU cores, so the figures are indicative; nothing is asserted. Prints
a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmdb import apikeys
from cmdb.demo import build_demo
from cmdb.enums import Role
from cmdb.model import utcnow
from cmdb.settings import Settings
from cmdb.store import open_store
from impact.blast import blast_radius
from tests.served import served

__all__ = ["main", "pick_cis"]

CHROMIUM = os.environ.get("CMDB_CHROMIUM", "/usr/bin/chromium")
CANDIDATE_CLASSES = {
    "database", "database_instance", "middleware", "pod", "application", "physical_server",
    "storage", "hypervisor_cluster", "hypervisor", "switch", "router", "load_balancer", "cluster",
}  # fmt: skip

RENDER = """async ([payload, options]) => {
  const { renderGraph } = await import('/console/graph.js');
  const box = document.createElement('div');
  document.querySelector('#view').replaceChildren(box);
  const t0 = performance.now();
  const view = renderGraph(box, payload, options);
  const stats = await view.ready;
  const s = box.querySelector('[data-testid=graph-summary]').dataset;
  return { ...stats, wall: performance.now() - t0, visible: +s.visible, total: +s.total };
}"""

FETCH = """async ([ci, key]) => {
  const t0 = performance.now();
  const r = await fetch('/api/v1/impact/graph?ci=' + encodeURIComponent(ci),
    { headers: { Authorization: 'Bearer ' + key } });
  const payload = await r.json();
  window.__payload = payload;
  return { ms: performance.now() - t0, nodes: payload.nodes.length };
}"""

PAINT = """() => {
  const p = performance.getEntriesByName('first-contentful-paint')[0]
    || performance.getEntriesByType('paint')[0];
  return p ? p.startTime : null;
}"""


def _store(db: Path, build: Callable[[Path], None]) -> str:
    build(db)
    store = open_store(Settings(db=db))
    try:
        return apikeys.create_key(store, role=Role.ADMIN, name="bench", actor="bench").token
    finally:
        store.close()


def _demo(db: Path) -> None:
    store = open_store(Settings(db=db), create=True)
    try:
        store.apply(build_demo(now=utcnow()), actor="demo")
    finally:
        store.close()


def _generated(cis: int, seed: int) -> Callable[[Path], None]:
    def build(db: Path) -> None:
        cmdb = Path(sys.executable).with_name("cmdb")
        command = [str(cmdb), "--db", str(db), "generate", "--cis", str(cis), "--seed", str(seed)]
        subprocess.run(command, check=True, capture_output=True)

    return build


def pick_cis(db: Path, targets: tuple[int, ...]) -> dict[int, tuple[str, int]]:
    """For each target size, the CI whose blast radius (itself included) is closest to it."""
    store = open_store(Settings(db=db))
    try:
        topo = store.topology()
    finally:
        store.close()
    best: dict[int, tuple[int, str, int]] = {}
    for i, code in enumerate(topo.class_code.tolist()):
        if topo.class_names[code] not in CANDIDATE_CLASSES:
            continue
        size = len(blast_radius(topo, [topo.ids[i]]).nodes) + 1
        for t in targets:
            if t not in best or abs(size - t) < best[t][0]:
                best[t] = (abs(size - t), topo.ids[i], size)
    return {t: (ci, size) for t, (_, ci, size) in best.items()}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _login(page: Any, url: str, key: str) -> None:
    page.goto(url + "/")
    page.fill("#login-key", key)
    page.click("#login-submit")
    page.wait_for_selector("[data-testid=whoami]")


def first_paint(browser: Any, url: str, key: str, repeat: int) -> list[tuple[str, float]]:
    """Median first-contentful-paint (ms) of a static file (baseline) and of the console."""
    pages = [
        ("a static file, /console/style.css (baseline)", url + "/console/style.css", False),
        ("console, logged out (log-in form)", url + "/", False),
        ("console, logged in (search view)", url + "/#/search", True),
    ]
    out: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    for _ in range(repeat):
        for name, target, logged_in in pages:
            context = browser.new_context()
            page = context.new_page()
            if logged_in:
                page.add_init_script(f"sessionStorage.setItem('cmdb.apiKey', {key!r})")
            page.goto(target, wait_until="load")
            if logged_in:
                page.wait_for_selector("[data-testid=whoami]")
            page.wait_for_function("() => performance.getEntriesByType('paint').length > 0")
            out[name].append(page.evaluate(PAINT))
            context.close()
    return [(name, _median(v)) for name, v in out.items()]


def layouts(
    browser: Any, url: str, key: str, ci: str, repeat: int, full: bool
) -> list[tuple[str, dict[str, Any]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, url, key)
    rows: list[tuple[str, dict[str, Any]]] = []
    fetches = [page.evaluate(FETCH, [ci, key]) for _ in range(repeat)]
    nodes = fetches[0]["nodes"]
    rows.append(("JSON fetch alone (baseline)", {"ms": _median([f["ms"] for f in fetches])}))
    variants: list[tuple[str, dict[str, Any]]] = [
        ("grid layout, all drawn (baseline)", {"layout": "grid", "autoCollapse": 10**9}),
        ("auto (collapse > 350, ELK ≤ 100 drawn, else preset)", {}),
    ]
    if full:
        variants += [
            ("layered preset, all drawn", {"layout": "preset", "autoCollapse": 10**9}),
            ("ELK layered, all drawn", {"layout": "elk", "autoCollapse": 10**9}),
        ]
    else:
        variants.insert(0, ("grid layout, collapsed (baseline)", {"layout": "grid"}))
        variants.pop(1)
    for name, options in variants:
        runs = [
            page.evaluate(
                "async (o) => { const f = " + RENDER + "; return f([window.__payload, o]); }",
                options,
            )
            for _ in range(repeat)
        ]
        rows.append(
            (
                name,
                {
                    "ms": _median([r["layoutMs"] for r in runs]),
                    "wall": _median([r["wall"] for r in runs]),
                    "drawn": runs[0]["drawn"],
                    "engine": runs[0]["layout"],
                    "nodes": nodes,
                },
            )
        )
    context.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cis", type=int, default=20000, help="generated estate size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--targets", type=int, nargs=2, default=(500, 10000))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo_key = _store(root / "demo.db", _demo)
        gen_key = _store(root / "gen.db", _generated(args.cis, args.seed))
        picked = pick_cis(root / "gen.db", tuple(args.targets))
        with (
            served(root / "demo.db", root / "demo.log") as demo_url,
            served(root / "gen.db", root / "gen.log") as gen_url,
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            paints = first_paint(browser, demo_url, demo_key, args.repeat)
            results = []
            for target in args.targets:
                ci, size = picked[target]
                results.append(
                    (
                        target,
                        ci,
                        size,
                        layouts(browser, gen_url, gen_key, ci, args.repeat, target <= 1000),
                    )
                )
            browser.close()
    print(
        f"Chromium headless, median of {args.repeat}; demo CMDB; generated estate "
        f"`cmdb generate --cis {args.cis} --seed {args.seed}`.\n"
    )
    print("| first paint of / (demo) | ms |\n|---|---:|")
    for name, ms in paints:
        print(f"| {name} | {ms:.0f} |")
    print("\n| blast radius | nodes | drawn | layout | layout ms | wall ms |")
    print("|---|---:|---:|---|---:|---:|")
    for _target, ci, _size, rows in results:
        for name, r in rows:
            if "engine" in r:
                print(
                    f"| `{ci}`: {name} | {r['nodes']:,} | {r['drawn']:,} | {r['engine']} "
                    f"| {r['ms']:.0f} | {r['wall']:.0f} |"
                )
            else:
                print(f"| `{ci}`: {name} | | | | {r['ms']:.0f} | |")


if __name__ == "__main__":
    main()
