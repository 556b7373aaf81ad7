"""to_dot and to_mermaid: syntax sanity, escaping and styling."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from impact import blast_radius, depends_on, to_dot, to_mermaid
from tests.impact.reference import build

WEIRD = 'we"ird\\id|x'
TOPO = build(
    {
        "svc": ("business_service", 0),
        "pool": ("cluster", 1),
        WEIRD: ("database", 0),
        "m2": ("database", 0),
        "sw": ("switch", 0),
    },
    [
        ("svc", "depends_on", "pool"),
        (WEIRD, "member_of", "pool"),
        ("m2", "member_of", "pool"),
        (WEIRD, "depends_on", "sw"),
    ],
)

QUOTED = r'"(?:[^"\\]|\\.)*"'
DOT_NODE = re.compile(
    rf'^  {QUOTED} \[label={QUOTED}, fillcolor="#\w+", fontcolor="#\w+", '
    rf'color="#\w+"(, penwidth=2)?\];$'
)
DOT_EDGE = re.compile(rf"^  {QUOTED} -> {QUOTED} \[label={QUOTED}\];$")
MM_NODE = re.compile(r'^  n\d+\["[^"<>|]*<br/>[^"<>|]*"\]:::\w+$')
MM_EDGE = re.compile(r"^  n\d+ -->\|[^|\"]*\| n\d+$")
MM_CLASS = re.compile(r"^  classDef \w+ [\w:#,\-]+$")

RESULTS = {
    "blast": lambda: blast_radius(TOPO, ["sw"]),
    "blast-assume": lambda: blast_radius(TOPO, ["m2"], assume_down=[WEIRD]),
    "depends": lambda: depends_on(TOPO, "svc"),
}


def unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@pytest.mark.parametrize("make", RESULTS.values(), ids=RESULTS.keys())
class TestToDot:
    def test_every_line_parses(self, make):
        lines = to_dot(make()).splitlines()
        assert lines[0] == "digraph impact {" and lines[-1] == "}"
        for line in lines[3:-1]:
            assert DOT_NODE.match(line) or DOT_EDGE.match(line), line

    @pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz (dot) is not installed")
    def test_graphviz_renders_it_without_a_warning(self, make):
        done = subprocess.run(
            ["dot", "-Tsvg"], input=to_dot(make()), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stderr == "" and "<svg" in done.stdout

    def test_weird_id_round_trips(self, make):
        text = to_dot(make())
        names = {unquote(q) for q in re.findall(rf"^  ({QUOTED})", text, re.M)}
        assert WEIRD in names


class TestToDotContent:
    def test_nodes_and_edges(self):
        text = to_dot(blast_radius(TOPO, ["sw"]))
        assert text.count(" -> ") == 3  # m2 is not involved
        assert '"sw" [label="sw\\nswitch", fillcolor="#b71c1c"' in text

    def test_limit(self):
        text = to_dot(blast_radius(TOPO, ["sw"]), limit=1)
        assert text.count("[label=") - text.count(" -> ") == 2  # one listed CI + the failed one

    def test_rejects_other_objects(self):
        with pytest.raises(TypeError, match="cannot render dict"):
            to_dot({})


@pytest.mark.parametrize("make", RESULTS.values(), ids=RESULTS.keys())
class TestToMermaid:
    def test_every_line_parses(self, make):
        lines = to_mermaid(make()).splitlines()
        assert lines[0] == "flowchart BT"
        for line in lines[1:]:
            assert MM_NODE.match(line) or MM_EDGE.match(line) or MM_CLASS.match(line), line

    def test_edges_join_declared_nodes(self, make):
        text = to_mermaid(make())
        declared = set(re.findall(r"^  (n\d+)\[", text, re.M))
        used = set(re.findall(r"(n\d+) -->", text)) | set(re.findall(r"\| (n\d+)$", text, re.M))
        assert used <= declared

    def test_weird_id_is_escaped(self, make):
        assert "we#34;ird#92;id#124;x" in to_mermaid(make())
