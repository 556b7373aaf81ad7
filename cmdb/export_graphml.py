"""The streamed GraphML writer: networkx's text (``generate_graphml`` of a ``MultiDiGraph``, as
the export wrote it), without ever holding the document or the graph.

Assumptions: networkx's writer is reproduced rule by rule, and a test holds it to networkx's own
output: ``<key>`` ids ``d0, d1...`` in order of first use, one per (name, type, scope), listed
newest first; ``attr.type`` from the Python type of the value (``long`` for int, ``double`` for
float); ElementTree's escaping with non-ASCII written as character references (its us-ascii
output); empty elements as ``<x />``; a multigraph's edges grouped by source in node order, then
by target in order of first appearance, each ``id`` counting the edges between the same two
CIs; and the document's lines split with ``str.splitlines``, so a ``\\r`` (or ``\\v``, ``\\f``,
``\\x1c``-``\\x1e``) in a value became a line break, as it does here. Only one source's edges
are held at a time. The nodes and edges are written from export documents
(:mod:`cmdb.export_docs`), not models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from cmdb.export_docs import Doc, iter_ci_docs, iter_relationship_docs
from cmdb.export_stream import Opts, ci_flat, doc_flat
from cmdb.model import CI, Relationship
from cmdb.store.protocol import GraphStore

__all__ = ["graphml_parts"]

_GRAPHML_HEAD = (
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e]")
_XML_TYPE = {bool: "boolean", int: "long", float: "double", str: "string"}
"""The ``attr.type`` networkx's writer gives a Python type."""


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _graphml_attrs(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        (f"attr.{k}" if _scalar(v) else f"attrjson.{k}"): (v if _scalar(v) else json.dumps(v))
        for k, v in attributes.items()
    }


def _node_data(ci: CI) -> dict[str, Any]:
    return {**ci_flat(ci), **_graphml_attrs(ci.attributes)}


def _edge_data(rel: Relationship) -> dict[str, Any]:
    extra = {"status": rel.status} if rel.status != "active" else {}
    return {"type": rel.type, **extra, **_graphml_attrs(rel.attributes)}


def _node_doc_data(doc: Doc) -> dict[str, Any]:
    """:func:`_node_data` of a CI's export document (the model forms are the tests' reference)."""
    return {**doc_flat(doc), **_graphml_attrs(doc["attributes"])}


def _edge_doc_data(doc: Doc) -> dict[str, Any]:
    extra = {"status": doc["status"]} if doc["status"] != "active" else {}
    return {"type": doc["type"], **extra, **_graphml_attrs(doc["attributes"])}


def _xml(text: str, attribute: bool = False) -> str:
    """``text`` escaped as ElementTree escapes it, non-ASCII as character references (its
    default us-ascii output)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
        text = text.replace("\t", "&#09;")
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode()


class _Keys:
    """GraphML ``<key>`` ids as networkx gives them: ``d0``, ``d1``... in order of first use,
    one per (name, type, scope)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str, str], str] = {}

    def see(self, data: dict[str, Any], scope: str) -> None:
        for name, value in data.items():
            key = (name, _XML_TYPE[type(value)], scope)
            if key not in self.ids:
                self.ids[key] = f"d{len(self.ids)}"

    def lines(self) -> str:
        """The ``<key>`` elements, newest first (networkx inserts each at the top)."""
        return "".join(
            f'  <key id="{ident}" for="{scope}" attr.name="{_xml(name, True)}" '
            f'attr.type="{xml_type}" />\n'
            for (name, xml_type, scope), ident in reversed(self.ids.items())
        )


def _element(head: str, data: dict[str, Any], scope: str, keys: _Keys, indent: str) -> str:
    if not data:
        return f"{indent}<{head} />\n"
    parts = [f"{indent}<{head}>\n"]
    for name, value in data.items():
        ident = keys.ids[(name, _XML_TYPE[type(value)], scope)]
        text = _xml(str(value))
        body = f'<data key="{ident}">{text}</data>' if text else f'<data key="{ident}" />'
        parts.append(f"{indent}  {body}\n")
    parts.append(f"{indent}</{head.split(' ', 1)[0]}>\n")
    chunk = "".join(parts)
    # generate_graphml splits the document with str.splitlines: \r, \v, \f, \x1c-\x1e in a
    # value became line breaks, and so they do here
    return "\n".join(chunk.splitlines()) + "\n" if _LINE_BREAKS.search(chunk) else chunk


def graphml_parts(store: GraphStore, opts: Opts, count: list[int]) -> Iterator[str]:
    """The GraphML text in parts: a first pass over the store for the ``<key>`` elements (they
    come first), a second for the nodes and edges; ``count[0]`` counts the items written."""
    keys, n = _Keys(), 0
    for ci in iter_ci_docs(store, **opts):
        keys.see(_node_doc_data(ci), "node")
        n += 1
    for rel in iter_relationship_docs(store, **opts):
        keys.see(_edge_doc_data(rel), "edge")
        n += 1
    yield _GRAPHML_HEAD + keys.lines()
    if not n:
        yield '  <graph edgedefault="directed" />\n</graphml>\n'
        return
    yield '  <graph edgedefault="directed">\n'
    for ci in iter_ci_docs(store, **opts):
        head = f'node id="{_xml(ci["id"], True)}"'
        yield _element(head, _node_doc_data(ci), "node", keys, "    ")
        count[0] += 1
    for group in _by_source(iter_relationship_docs(store, **opts)):
        yield from _edges(group, keys)
        count[0] += len(group)
    yield "  </graph>\n</graphml>\n"


def _by_source(rels: Iterator[Doc]) -> Iterator[list[Doc]]:
    group: list[Doc] = []
    for rel in rels:
        if group and rel["source"] != group[0]["source"]:
            yield group
            group = []
        group.append(rel)
    if group:
        yield group


def _edges(group: list[Doc], keys: _Keys) -> list[str]:
    """One source's edges as networkx orders a multigraph's: by target, in the order each
    target first appears, each edge's id counting the edges between the same two CIs."""
    by_target: dict[str, list[Doc]] = {}
    for rel in group:
        by_target.setdefault(rel["target"], []).append(rel)
    out = []
    for target, rels in by_target.items():
        ends = f'source="{_xml(rels[0]["source"], True)}" target="{_xml(target, True)}"'
        for i, rel in enumerate(rels):
            data = _edge_doc_data(rel)
            out.append(_element(f'edge {ends} id="{i}"', data, "edge", keys, "    "))
    return out
