"""Audit rules of completeness and correctness: one function per rule, each a generator of
``(ci, relationship, why)`` over an :class:`impact.audit.AuditData`.

Assumptions: CIs are the live (non-retired) CIs; relationships are the snapshot's active
edges (``src``, ``dst``, ``rtype`` arrays), so no relationship document is read. A CI the
registry no longer knows is reported by ``required_attributes``, an edge between classes that
the registry does not pair by ``relationship_rule``. Parameters (which classes need which
relationships, the stale age, the identifier kinds) come from the config, never from code.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from cmdb.errors import CMDBError

if TYPE_CHECKING:
    from impact.audit import AuditData, Hit

__all__ = ["RULES"]

_DAY = 86_400.0


def _rel_id(topo, e: int) -> str:
    return f"{topo.ids[topo.src[e]]}|{topo.rel_type_names[topo.rtype[e]]}|{topo.ids[topo.dst[e]]}"


def required_attributes(data: AuditData) -> Iterator[Hit]:
    for ci in data.cis:
        try:
            data.registry.validate_attributes(ci.ci_class, ci.attributes)
        except CMDBError as exc:
            yield ci.id, None, str(exc)


def recommended_attributes(data: AuditData) -> Iterator[Hit]:
    for ci in data.cis:
        if ci.ci_class not in data.registry.classes:
            continue
        missing = data.registry.missing_recommended(ci.ci_class, ci.attributes)
        if missing:
            yield ci.id, None, f"lacks recommended {', '.join(missing)}"


def required_relationships(data: AuditData) -> Iterator[Hit]:
    topo = data.topology
    cats = topo.class_categories
    for spec in data.config.required_relationships:
        wanted = set(spec.classes)
        codes = np.asarray(
            [i for i, c in enumerate(topo.class_names) if c in wanted or cats[i] in wanted],
            dtype=np.int16,
        )
        needs = np.isin(topo.class_code, codes)
        if not needs.any():
            continue
        ok_types = np.isin(topo.rtype, topo.type_codes(spec.types))
        own, other = (topo.src, topo.dst) if spec.direction == "out" else (topo.dst, topo.src)
        if spec.to:
            to = set(spec.to)
            to_codes = [i for i, c in enumerate(topo.class_names) if c in to or cats[i] in to]
            ok_types &= np.isin(topo.class_code[other], np.asarray(to_codes, dtype=np.int16))
        has = np.zeros(topo.n, dtype=bool)
        has[own[ok_types]] = True
        for i in np.flatnonzero(needs & ~has).tolist():
            rel = "|".join(spec.types)
            yield topo.ids[i], None, f"has no {rel} relationship to {spec.label}"


def orphan(data: AuditData) -> Iterator[Hit]:
    topo = data.topology
    degree = np.bincount(topo.src, minlength=topo.n) + np.bincount(topo.dst, minlength=topo.n)
    for i in np.flatnonzero(degree == 0).tolist():
        yield topo.ids[i], None, "has no relationship at all"


def duplicate_identifier(data: AuditData) -> Iterator[Hit]:
    kinds = set(data.config.duplicates.identifier_kinds)
    holders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ci in data.cis:
        for kind, value in ci.identifiers.index_rows():
            if kind in kinds:
                holders[(kind, value)].append(ci.id)
    shared: dict[str, list[str]] = defaultdict(list)
    for (kind, value), ids in sorted(holders.items()):
        if len(ids) > 1:
            for ci_id in ids:
                others = ", ".join(i for i in ids if i != ci_id)
                shared[ci_id].append(f"{kind} '{value}' with {others}")
    for ci_id in sorted(shared):
        yield ci_id, None, "shares " + "; ".join(shared[ci_id])


def _name_key(name: str, suffixes: frozenset[str]) -> str:
    words = re.findall(r"[a-z0-9]+", name.lower())
    while words and words[-1] in suffixes:
        words.pop()
    return "".join(words)


def duplicate_name(data: AuditData) -> Iterator[Hit]:
    suffixes = frozenset(data.config.duplicates.name_suffixes)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ci in data.cis:
        key = _name_key(ci.name, suffixes)
        if key:
            groups[(ci.ci_class, key)].append(ci.id)
    for (_, _), ids in sorted(groups.items()):
        if len(ids) > 1:
            for ci_id in ids:
                names = ", ".join(f"{i} ({data.by_id[i].name!r})" for i in ids if i != ci_id)
                yield ci_id, None, f"name {data.by_id[ci_id].name!r} is near-identical to {names}"


def stale(data: AuditData) -> Iterator[Hit]:
    spec = data.config.stale
    now, limit = data.now.timestamp(), spec.days * _DAY
    why = f" days ago (by any source; limit {spec.days:g} days)"
    for ci in data.cis:
        if spec.marked and ci.stale_since:
            sources = ", ".join(sorted(ci.stale_since))
            yield ci.id, None, f"marked stale by {sources}"
            continue
        seen = ci.last_seen_epoch()
        if seen is not None and now - seen > limit:
            yield ci.id, None, f"last seen {int((now - seen) // _DAY)}{why}"


def relationship_rule(data: AuditData) -> Iterator[Hit]:
    topo, reg = data.topology, data.registry
    if topo.m == 0:
        return
    # one integer per (source class, type, target class): a 1-d unique, much faster than
    # np.unique(axis=1) on the stacked triples
    classes, types = len(topo.class_names), len(topo.rel_type_names)
    codes = (topo.class_code[topo.src].astype(np.int64) * types + topo.rtype) * classes
    codes += topo.class_code[topo.dst]
    unique, inverse = np.unique(codes, return_inverse=True)
    bad: dict[int, str] = {}
    for k, code in enumerate(unique.tolist()):
        (s, t), d = divmod(code // classes, types), code % classes
        src, rel, dst = topo.class_names[s], topo.rel_type_names[t], topo.class_names[d]
        try:
            reg.check_relationship(src, rel, dst)
        except CMDBError as exc:
            bad[k] = str(exc)
    if not bad:
        return
    for e in np.flatnonzero(np.isin(inverse, list(bad))).tolist():
        yield topo.ids[topo.src[e]], _rel_id(topo, e), bad[int(inverse[e])]


def _cyclic_core(n: int, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
    """The nodes left after peeling every node without an in- or out-edge, repeatedly: what
    any cycle lives in (usually a handful, so the exact search that follows is cheap)."""
    alive = np.ones(n, dtype=bool)
    while True:
        keep = alive[frm] & alive[to]
        f, t = frm[keep], to[keep]
        has_in = np.zeros(n, dtype=bool)
        has_out = np.zeros(n, dtype=bool)
        has_in[t] = True
        has_out[f] = True
        now = alive & has_in & has_out
        if (now == alive).all():
            return np.flatnonzero(alive)
        alive = now


def dependency_cycle(data: AuditData) -> Iterator[Hit]:
    topo = data.topology
    frm, to = topo.impact_edges()
    member, group = topo.membership_edges()
    frm, to = np.concatenate([frm, member]), np.concatenate([to, group])
    core = _cyclic_core(topo.n, frm, to)
    if core.size == 0:
        return
    inside = np.zeros(topo.n, dtype=bool)
    inside[core] = True
    keep = inside[frm] & inside[to]
    g = nx.DiGraph()
    g.add_edges_from(zip(frm[keep].tolist(), to[keep].tolist(), strict=True))
    for comp in nx.strongly_connected_components(g):
        if len(comp) < 2 or any(topo.is_group[i] for i in comp):
            continue
        names = sorted(topo.ids[i] for i in comp)
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        for ci_id in names:
            yield ci_id, None, f"on a dependency cycle of {len(names)} CIs ({shown})"


RULES: dict[str, Callable[[AuditData], Iterator[Hit]]] = {
    "required_attributes": required_attributes,
    "recommended_attributes": recommended_attributes,
    "required_relationships": required_relationships,
    "orphan": orphan,
    "duplicate_identifier": duplicate_identifier,
    "duplicate_name": duplicate_name,
    "stale": stale,
    "relationship_rule": relationship_rule,
    "dependency_cycle": dependency_cycle,
}
