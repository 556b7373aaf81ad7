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
  classDef failed fill:#b71c1c,color:#ffffff,stroke:#000000,stroke-width:2px
  classDef assumed fill:#9e9e9e,color:#ffffff,stroke:#000000
  classDef down fill:#ef5350,color:#000000,stroke:#b71c1c
  classDef degraded fill:#ffa726,color:#000000,stroke:#e65100
  classDef at_risk fill:#fff176,color:#000000,stroke:#f9a825
  classDef root fill:#1976d2,color:#ffffff,stroke:#000000,stroke-width:2px
  classDef dependency fill:#e3f2fd,color:#000000,stroke:#1976d2
"""

from __future__ import annotations

import numpy as np

from cmdb.enums import Propagation
from cmdb.topology import Topology
from impact.blast import BlastRadius
from impact.depends import Dependencies
from impact.propagation import STATES, indices

__all__ = ["to_dot", "to_mermaid"]

# (fill, font, stroke), six-digit colours: graphviz reads "#000" as no colour at all
STYLES = {
    "failed": ("#b71c1c", "#ffffff", "#000000"),
    "assumed": ("#9e9e9e", "#ffffff", "#000000"),
    "down": ("#ef5350", "#000000", "#b71c1c"),
    "degraded": ("#ffa726", "#000000", "#e65100"),
    "at_risk": ("#fff176", "#000000", "#f9a825"),
    "root": ("#1976d2", "#ffffff", "#000000"),
    "dependency": ("#e3f2fd", "#000000", "#1976d2"),
}
_BOLD = {"failed", "root"}
# Past this many CIs a picture collapses the CIs that are not failed, assumed, queried,
# services or customers into one node per class and state: a person reads a few dozen boxes.
COLLAPSE_AT = 60
# Mermaid refuses a chart of more than 500 edges by default (its maxEdges setting).
MERMAID_MAX_EDGES = 500


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


Entry = tuple[str, str, str]  # key, label, style


def _picture(
    result: BlastRadius | Dependencies, limit: int | None, *, max_edges: int | None = None
) -> tuple[list[Entry], list[tuple[str, str, str]], str]:
    """The boxes (key, label, style) and arrows (key, key, type) to draw, and a note when
    CIs were collapsed by class and state (more than :data:`COLLAPSE_AT` CIs, or more arrows
    than ``max_edges``)."""
    nodes = _involved(result, limit)
    topo = result.topology
    edges = _edges(topo, [i for i, _ in nodes])
    if len(nodes) <= COLLAPSE_AT and (max_edges is None or len(edges) <= max_edges):
        entries = [(topo.ids[i], f"{topo.ids[i]}\n{topo.class_of(i)}", st) for i, st in nodes]
        return entries, [(topo.ids[a], topo.ids[b], t) for a, b, t in edges], ""
    keep = topo.category_mask("service", "customer")
    key: dict[int, str] = {}
    counts: dict[str, int] = {}
    order: list[tuple[str, str, str]] = []
    for i, st in nodes:
        if st in ("failed", "assumed", "root") or keep[i]:
            key[i] = topo.ids[i]
            order.append((key[i], f"{topo.ids[i]}\n{topo.class_of(i)}", st))
            continue
        k = f"{topo.class_of(i)} ({st})"
        key[i] = k
        if k not in counts:
            order.append((k, "", st))
        counts[k] = counts.get(k, 0) + 1
    entries = [
        (k, label or f"{counts[k]} x {k.split(' (')[0]}\n{st}", st) for k, label, st in order
    ]
    arrows = list(dict.fromkeys((key[a], key[b], t) for a, b, t in edges if key[a] != key[b]))
    note = f"{len(nodes)} CIs collapsed by class and state into {len(entries)} boxes"
    if max_edges is not None and len(arrows) > max_edges:
        note += f"; {len(arrows) - max_edges} arrows left out (limit {max_edges})"
        arrows = arrows[:max_edges]
    return entries, arrows, note


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(result: BlastRadius | Dependencies, *, limit: int | None = None) -> str:
    """Graphviz DOT text for ``result`` (first ``limit`` listed CIs only, when given); more
    than :data:`COLLAPSE_AT` CIs are collapsed by class and state."""
    entries, arrows, note = _picture(result, limit)
    lines = [
        "digraph impact {",
        "  rankdir=BT;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    if note:
        lines.append(f"  // {note}")
    for k, label, style in entries:
        fill, font, stroke = STYLES[style]
        width = ", penwidth=2" if style in _BOLD else ""
        lines.append(
            f"  {_dot_quote(k)} [label={_dot_quote(label)}, "
            f'fillcolor="{fill}", fontcolor="{font}", color="{stroke}"{width}];'
        )
    for a, b, t in arrows:
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [label={_dot_quote(t)}];")
    lines.append("}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    """Mermaid label text: anything but plain characters as an entity code (#35; style)."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._:@/-")
    return "".join(ch if ch in safe else f"#{ord(ch)};" for ch in text)


def to_mermaid(result: BlastRadius | Dependencies, *, limit: int | None = None) -> str:
    """Mermaid flowchart text for ``result`` (first ``limit`` listed CIs only, when given);
    more than :data:`COLLAPSE_AT` CIs, or more than :data:`MERMAID_MAX_EDGES` arrows, are
    collapsed by class and state, and never more than that many arrows are drawn."""
    entries, arrows, note = _picture(result, limit, max_edges=MERMAID_MAX_EDGES)
    name = {k: f"n{j}" for j, (k, _, _) in enumerate(entries)}
    lines = ["flowchart BT"]
    if note:
        lines.append(f"  %% {note}")
    for k, label, style in entries:
        text = "<br/>".join(_mermaid_text(part) for part in label.split("\n"))
        lines.append(f'  {name[k]}["{text}"]:::{style}')
    for a, b, t in arrows:
        lines.append(f"  {name[a]} -->|{_mermaid_text(t)}| {name[b]}")
    for style, (fill, font, stroke) in STYLES.items():
        extra = ",stroke-width:2px" if style in _BOLD else ""
        lines.append(f"  classDef {style} fill:{fill},color:{font},stroke:{stroke}{extra}")
    return "\n".join(lines)
