"""Render a blast radius or a dependency result as Graphviz DOT or Mermaid text.

Assumptions: the picture holds the CIs involved (for a blast radius: the failed CIs, the
assumed-down CIs and the listed CIs; for dependencies: the queried CI and its dependencies) and
every propagating relationship among them, drawn in its stored direction and labelled with its
type. Nodes are styled by state. ``limit`` keeps the first listed CIs (worst, nearest first) so
that a huge result stays drawable. Ids are quoted (DOT) or replaced by generated node names with
escaped labels (Mermaid), so any id is safe.

>>> from cmdb.topology import Topology
>>> from impact.blast import blast_radius
>>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a", "b"], class_code=[0, 0],
...     is_group=[False] * 2, min_required=[0] * 2, src=[0], dst=[1], rtype=[0])
>>> print(to_mermaid(blast_radius(t, ["b"])))
flowchart BT
  n0["a<br/>application"]:::down
  n1["b<br/>application"]:::failed
  n0 -->|depends_on| n1
  classDef failed fill:#b71c1c,color:#fff,stroke:#000,stroke-width:2px
  classDef assumed fill:#9e9e9e,color:#fff,stroke:#000
  classDef down fill:#ef5350,color:#000,stroke:#b71c1c
  classDef degraded fill:#ffa726,color:#000,stroke:#e65100
  classDef at_risk fill:#fff176,color:#000,stroke:#f9a825
  classDef root fill:#1976d2,color:#fff,stroke:#000,stroke-width:2px
  classDef dependency fill:#e3f2fd,color:#000,stroke:#1976d2
"""

from __future__ import annotations

import numpy as np

from cmdb.enums import Propagation
from cmdb.topology import Topology
from impact.blast import BlastRadius
from impact.depends import Dependencies
from impact.propagation import STATES, indices

__all__ = ["to_dot", "to_mermaid"]

STYLES = {
    "failed": ("#b71c1c", "#fff", "#000"),
    "assumed": ("#9e9e9e", "#fff", "#000"),
    "down": ("#ef5350", "#000", "#b71c1c"),
    "degraded": ("#ffa726", "#000", "#e65100"),
    "at_risk": ("#fff176", "#000", "#f9a825"),
    "root": ("#1976d2", "#fff", "#000"),
    "dependency": ("#e3f2fd", "#000", "#1976d2"),
}
_BOLD = {"failed", "root"}


def _involved(result: BlastRadius | Dependencies, limit: int | None) -> list[tuple[int, str]]:
    """(node, style) pairs, in drawing order."""
    if isinstance(result, BlastRadius):
        topo = result.topology
        out = [
            (i, STATES[c].value)
            for i, c in zip(
                result.nodes[:limit].tolist(), result.codes[:limit].tolist(), strict=True
            )
        ]
        out += [(i, "failed") for i in indices(topo, result.failed).tolist()]
        out += [(i, "assumed") for i in indices(topo, result.assume_down).tolist()]
        return out
    if isinstance(result, Dependencies):
        topo = result.topology
        root = topo.index(result.ci)
        return [(root, "root")] + [(i, "dependency") for i in result.nodes[:limit].tolist()]
    raise TypeError(
        f"cannot render {type(result).__name__}: expected a BlastRadius or Dependencies"
    )


def _edges(topo: Topology, nodes: list[int]) -> list[tuple[int, int, str]]:
    """Propagating relationships (source, target, type) with both ends among ``nodes``."""
    inside = np.zeros(topo.n, dtype=np.bool_)
    inside[np.asarray(nodes, dtype=np.int64)] = True
    moves = np.asarray([p is not Propagation.NONE for p in topo.propagation] + [False])
    keep = inside[topo.src] & inside[topo.dst] & moves[topo.rtype]
    return [
        (s, d, topo.rel_type_names[t])
        for s, d, t in zip(
            topo.src[keep].tolist(), topo.dst[keep].tolist(), topo.rtype[keep].tolist(), strict=True
        )
    ]


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(result: BlastRadius | Dependencies, *, limit: int | None = None) -> str:
    """Graphviz DOT text for ``result`` (first ``limit`` listed CIs only, when given)."""
    nodes = _involved(result, limit)
    topo = result.topology
    lines = [
        "digraph impact {",
        "  rankdir=BT;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    for i, style in nodes:
        fill, font, stroke = STYLES[style]
        width = ", penwidth=2" if style in _BOLD else ""
        label = _dot_quote(f"{topo.ids[i]}\n{topo.class_of(i)}")
        lines.append(
            f'  {_dot_quote(topo.ids[i])} [label={label}, fillcolor="{fill}", '
            f'fontcolor="{font}", color="{stroke}"{width}];'
        )
    for s, d, t in _edges(topo, [i for i, _ in nodes]):
        lines.append(
            f"  {_dot_quote(topo.ids[s])} -> {_dot_quote(topo.ids[d])} [label={_dot_quote(t)}];"
        )
    lines.append("}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    """Mermaid label text: anything but plain characters as an entity code (#35; style)."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._:@/-")
    return "".join(ch if ch in safe else f"#{ord(ch)};" for ch in text)


def to_mermaid(result: BlastRadius | Dependencies, *, limit: int | None = None) -> str:
    """Mermaid flowchart text for ``result`` (first ``limit`` listed CIs only, when given)."""
    nodes = _involved(result, limit)
    topo = result.topology
    name = {i: f"n{k}" for k, (i, _) in enumerate(nodes)}
    lines = ["flowchart BT"]
    for i, style in nodes:
        label = f"{_mermaid_text(topo.ids[i])}<br/>{_mermaid_text(topo.class_of(i))}"
        lines.append(f'  {name[i]}["{label}"]:::{style}')
    for s, d, t in _edges(topo, [i for i, _ in nodes]):
        lines.append(f"  {name[s]} -->|{_mermaid_text(t)}| {name[d]}")
    for style, (fill, font, stroke) in STYLES.items():
        extra = ",stroke-width:2px" if style in _BOLD else ""
        lines.append(f"  classDef {style} fill:{fill},color:{font},stroke:{stroke}{extra}")
    return "\n".join(lines)
