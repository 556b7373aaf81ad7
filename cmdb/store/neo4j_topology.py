"""Reading the topology snapshot out of Neo4j at the server's speed rather than the driver's.

Assumptions: the graph model of :mod:`cmdb.store.cypher` (``(:CI)`` nodes with ``id``,
``class``, ``status``, ``criticality``, ``min_required``, ``availability`` and ``last_seen``;
relationships typed by the registry name in upper case, with a ``status``); the caller's
one read transaction, and optionally a second session of the same driver for the
relationships; every write that changes the graph moves the meta node's graph version in the
same transaction (:class:`cmdb.store.cypher.Writer` does); the driver's Rust extension
(``neo4j-rust-ext``, a dependency) decodes the results.

Each page of :data:`PAGE` CIs, taken in id order, comes back as one record of ``collect()``
lists, one per column, of integers and floats only: classes, criticalities and relationship
types become codes on the server (maps passed as parameters), and the ends of a relationship
are Neo4j's internal node numbers (``id()``: stable within a transaction, deprecated in favour
of ``elementId()``, which is a string, but still the only integer a node has), turned into
snapshot positions with one table look-up (:func:`positions`); only the CI ids travel as
strings, because the snapshot holds them. Decoded in pure Python, those values cost a few
microseconds each (a million CIs and four million relationships: tens of seconds), which is
why the reader before had the server join them into decimal text; the Rust extension decodes
them some 15 times faster, and then building the text on the server was the larger cost.

Given a ``session`` factory, the relationship pages are read on a second thread, in a
session of their own, each as soon as the CI page it belongs to has been read; once every CI
is read, the first session takes the relationship pages still unread from the end (each page
is taken once: :class:`_Pages`). The server runs each query on one core and the driver
releases the GIL while it waits on the socket.

The queries select, and so order, as the plain reader's did, except that whether a
relationship's ends are live CIs is decided in numpy (an end that is not one of the CIs read
has no position), which saves the server reading every target's label and status. The result
is the same snapshot, relationship order included: :func:`read_topology_plain` is that reader,
kept as the reference the tests compare against (and the benchmark's "before"). Neo4j reads
at *read committed*, so one transaction alone does not give one state, and two sessions do
not either: the graph version is checked before the first page and after the last one of
both, and the read is repeated if a write moved it.

:func:`refresh_topology` brings a snapshot up to date instead (:mod:`cmdb.topology_delta`): the
CIs and relationships history names after the snapshot's ``seq`` (read through the store's
``history``, so entries of any layout count), the CIs whose last-seen moved without history
(the writer marks every CI it puts with the store version it makes, :data:`~cmdb.store.cypher.
TOUCHED`, an indexed property: the CIs marked after the snapshot's store version), and their
state now. The snapshot's ``mark`` is ``"seq:store version"``; a mark without the version (a
snapshot of an older reader) makes the refresh read the last-seen of every live CI instead (a
column read in id order, the order of the snapshot's nodes). The graph version read before the
history and again after the rows says that they are one state. The snapshot lives in one
process's memory, so being the store's past is checked by its id, history ``seq`` and graph
version only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cmdb.enums import Criticality
from cmdb.errors import StoreError
from cmdb.registry import Registry
from cmdb.store.cypher import META, TOUCHED, rel_type
from cmdb.topology import Topology
from cmdb.topology_delta import Delta

__all__ = [
    "PAGE",
    "positions",
    "read_topology",
    "read_topology_plain",
    "refresh_topology",
]

PAGE = 50_000
"""CIs per page: each page is one query for the CIs and one for their relationships."""
GRAPH_VERSION = "coalesce(m.graph_version, m.version)"
"""The graph's own version: it moves only with writes that change what a snapshot holds."""
_NOT_IN_SERVICE = ["planned", "build"]

_NODES = (
    "MATCH (c:CI) WHERE c.id > $after AND c.status <> 'retired' "
    "WITH c ORDER BY c.id LIMIT $page "
    "RETURN collect(c.id), collect(id(c)), "
    "collect(coalesce($classes[c.class], -1) * 16 + coalesce($ranks[c.criticality], 0) * 2 "
    "+ CASE WHEN c.status IN $off THEN 0 ELSE 1 END), "
    "collect(toInteger(coalesce(c.min_required, 0))), collect(coalesce(c.last_seen, $none)), "
    "collect(coalesce(c.availability, $none))"
)
"""A page of CIs, a list per column (``collect()`` leaves nulls out, hence the defaults); the
class code, the criticality rank (1-4; 0 unknown) and whether in service are packed into one
integer (``class * 16 + rank * 2 + in service``; class -1 unknown): every list the server
builds costs it about as much as the driver decoding it."""
_NODE_COLUMNS = (
    ("internal id", np.int64),
    ("class", np.int64),
    ("min_required", np.int32),
    ("last_seen", np.float64),
    ("availability", np.float64),
)
_TYPE_BITS = 10
"""The relationship type code packed under the target in :data:`_EDGES`."""
_EDGES = (
    "MATCH (s:CI)-[r]->(t) WHERE s.id > $after AND s.id <= $last AND r.status = 'active' "
    "RETURN collect(id(s)), collect(id(t) * $shift + coalesce($types[type(r)], $shift - 1))"
)
"""A page's relationships as (source, target × 2^:data:`_TYPE_BITS` + type code) of internal
node numbers; the highest code: not a registered type. Whether both ends are live CIs is left
to :func:`positions`, which knows them all: reading the ends' labels and status here cost the
server a third to a half of this query."""


def _column(values: list[Any], dtype: Any, name: str, rows: int) -> np.ndarray:
    """One column of a page as an array of ``rows``; a value that is not a number names the
    column."""
    if len(values) != rows:
        raise StoreError(
            f"topology read: {len(values)} values of {name} for {rows} CIs (one not a number?)"
        )
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise StoreError(f"topology read: a CI's {name} is not a number") from None


def positions(nodes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The position in ``nodes`` (distinct integers) of each of ``ends``, -1 where absent.

    A look-up table when the numbers are dense enough (Neo4j's internal ids are: a few per
    CI, counting history nodes), else a binary search, 10× slower on a million.

    >>> positions(np.array([7, 3, 5]), np.array([3, 4, 7, 9, -1])).tolist()
    [1, -1, 0, -1, -1]
    >>> positions(np.array([10**12, 3]), np.array([3, 10**12, 5])).tolist()
    [1, 0, -1]
    """
    out = np.full(ends.size, -1, dtype=np.int32)
    if nodes.size == 0 or ends.size == 0:
        return out
    low, high = int(nodes.min()), int(nodes.max())
    inside = (ends >= low) & (ends <= high)
    if high - low < 16 * nodes.size + (1 << 20):
        table = np.full(high - low + 1, -1, dtype=np.int32)
        table[nodes - low] = np.arange(nodes.size, dtype=np.int32)
        out[inside] = table[ends[inside] - low]
        return out
    order = np.argsort(nodes)
    at = np.searchsorted(nodes[order], ends[inside])
    found = nodes[order[np.minimum(at, nodes.size - 1)]] == ends[inside]
    out[np.flatnonzero(inside)[found]] = order[at[found]]
    return out


def _codes(registry: Registry) -> dict[str, Any]:
    if len(registry.rel_type_names) >= (1 << _TYPE_BITS) - 1:
        raise StoreError(f"topology read: more than {(1 << _TYPE_BITS) - 2} relationship types")
    return {
        "classes": {c: i for i, c in enumerate(registry.class_names)},
        "ranks": {c.value: c.rank for c in Criticality},
        "types": {rel_type(registry, t): i for i, t in enumerate(registry.rel_type_names)},
        "off": _NOT_IN_SERVICE,
        "none": float("-inf"),
        "shift": 1 << _TYPE_BITS,
    }


def _key(tx: Any) -> tuple[str, int]:
    store_id, version = tx.run(f"{META} RETURN coalesce(m.store_id, ''), {GRAPH_VERSION}").single()
    return store_id, int(version)


def _seq(tx: Any) -> tuple[int, int]:
    """The last history entry written and the store version, read together before the rows
    (a later entry or mark is read again)."""
    seq, version = tx.run(f"{META} RETURN coalesce(m.seq, 0), coalesce(m.version, 0)").single()
    return int(seq), int(version)


def _mark(seq: int, version: int) -> str:
    return f"{seq}:{version}"


def _since(mark: str) -> int | None:
    """The store version of a snapshot's mark, None for a mark without one.

    >>> _since("12:7"), _since("12")
    (7, None)
    """
    _, sep, version = mark.partition(":")
    return int(version) if sep and version.isdigit() else None


def read_topology(
    tx: Any,
    registry: Registry,
    *,
    page: int = PAGE,
    attempts: int = 3,
    session: Callable[[], Any] | None = None,
) -> Topology:
    """The snapshot of the live graph (CIs not retired, active relationships between them),
    read in the read transaction ``tx``, ``page`` CIs at a time; with ``session`` (a factory
    of sessions of the same driver, e.g. ``Neo4jStore._session``) the relationships are read
    at the same time, in a read transaction of a second session on a second thread (and by
    ``tx`` too once the CIs are read).

    Neo4j isolates transactions at *read committed*: a later query of one transaction sees
    what others committed meanwhile. So the graph version is read before and after, and the
    read starts again (up to ``attempts`` times in all) if a write changed the graph in
    between; :class:`~cmdb.errors.StoreError` if it kept changing, or if a CI has a class or
    criticality that ``registry`` does not know (the plain reader raised ``KeyError``)."""
    params = _codes(registry)
    for _ in range(attempts):
        key = _key(tx)
        seq, version = _seq(tx)
        topo = _read(tx, registry, params, page, key, session)
        if _key(tx) == key:
            topo.seq, topo.mark = seq, _mark(seq, version)
            return topo
    raise StoreError(f"the graph changed while its snapshot was read ({attempts} times); try again")


class _Pages:
    """The CI pages' bounds ``(after, last)`` as the CI reader finds them, each taken once by
    one of the relationship readers (the second session's from the first page on; the CI
    reader's own from the last, once it has read every CI), and the relationships read for each.

    A reader whose query fails gives its page back, so that a retried transaction (or the
    other reader) reads it; pages already read stay read: the graph version checked after the
    last page says whether they are one state."""

    def __init__(self) -> None:
        self._bounds: list[tuple[str, str]] = []
        self._taken: set[int] = set()
        self._read: dict[int, tuple[np.ndarray, ...]] = {}
        self._done = self._abort = False
        self._cond = threading.Condition()

    def add(self, after: str, last: str) -> None:
        with self._cond:
            self._bounds.append((after, last))
            self._cond.notify_all()

    def close(self, *, abort: bool = False) -> None:
        """No more pages; ``abort``: none is to be taken any more either."""
        with self._cond:
            self._done, self._abort = True, abort
            self._cond.notify_all()

    def take(self, *, from_end: bool = False) -> tuple[int, tuple[str, str]] | None:
        """The first page (the last one known, ``from_end``) not taken yet, waiting for one
        while more may come; None when there is none left or the read was aborted.

        >>> pages = _Pages(); pages.add("", "b"); pages.add("b", "d"); pages.close()
        >>> pages.take(), pages.take(from_end=True), pages.take()
        ((0, ('', 'b')), (1, ('b', 'd')), None)
        """
        with self._cond:
            while True:
                if self._abort:
                    return None
                free = [i for i in range(len(self._bounds)) if i not in self._taken]
                if free:
                    at = free[-1] if from_end else free[0]
                    self._taken.add(at)
                    return at, self._bounds[at]
                if self._done:
                    return None
                self._cond.wait()

    def give_back(self, at: int) -> None:
        with self._cond:
            self._taken.discard(at)
            self._cond.notify_all()

    def put(self, at: int, rows: tuple[np.ndarray, ...]) -> None:
        with self._cond:
            self._read[at] = rows

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every page's relationships, in page order (every page must have been read)."""
        with self._cond:
            if len(self._read) != len(self._bounds):
                raise StoreError(
                    f"topology read: {len(self._read)} of {len(self._bounds)} pages read"
                )
            parts = [(np.empty(0, np.int64),) * 3] + [self._read[i] for i in sorted(self._read)]
        src, dst, code = (np.concatenate(column) for column in zip(*parts, strict=True))
        return src, dst, code


def _node_pages(
    tx: Any, params: dict[str, Any], page: int, pages: _Pages
) -> tuple[list[str], list[np.ndarray]]:
    """Every live CI's id and columns (:data:`_NODE_COLUMNS`), in id order."""
    ids: list[str] = []
    parts: list[list[np.ndarray]] = [[] for _ in _NODE_COLUMNS]
    after = ""
    while True:
        names, *columns = tx.run(_NODES, params, after=after, page=page).single()
        if not names:
            break
        ids += names
        for part, values, (name, dtype) in zip(parts, columns, _NODE_COLUMNS, strict=True):
            part.append(_column(values, dtype, name, len(names)))
        pages.add(after, names[-1])
        after = names[-1]
    return ids, [
        np.concatenate(p) if p else np.empty(0, dtype)
        for p, (_, dtype) in zip(parts, _NODE_COLUMNS, strict=True)
    ]


def _edge_pages(tx: Any, params: dict[str, Any], pages: _Pages, *, from_end: bool = False) -> None:
    """Read the relationships of the pages not taken yet, one page at a time (see
    :meth:`_Pages.take`): sources, targets and type codes (-1: not registered) of the active
    relationships from the page's CIs, each decoded while the server reads the next."""
    mask = (1 << _TYPE_BITS) - 1
    while (got := pages.take(from_end=from_end)) is not None:
        at, (after, last) = got
        try:
            src, packed = tx.run(_EDGES, params, after=after, last=last).single()
        except BaseException:
            pages.give_back(at)
            raise
        packed = np.asarray(packed, np.int64)
        code = packed & mask
        code[code == mask] = -1
        pages.put(at, (np.asarray(src, np.int64), packed >> _TYPE_BITS, code))


def _edges_in(session: Callable[[], Any], params: dict[str, Any], pages: _Pages) -> None:
    with session() as s:
        s.execute_read(_edge_pages, params, pages)


def _read(
    tx: Any,
    registry: Registry,
    params: dict[str, Any],
    page: int,
    key: tuple[str, int],
    session: Callable[[], Any] | None,
) -> Topology:
    pages = _Pages()
    if session is None:
        ids, cols = _node_pages(tx, params, page, pages)
        pages.close()
        _edge_pages(tx, params, pages)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="topology-edges") as pool:
            edges = pool.submit(_edges_in, session, params, pages)
            try:
                ids, cols = _node_pages(tx, params, page, pages)
                pages.close()
                _edge_pages(tx, params, pages, from_end=True)  # what is left, from the end
            except BaseException:
                pages.close(abort=True)
                raise
            edges.result()
    edge = pages.rows()
    node, packed, min_required, last_seen, availability = cols
    class_code, crit = (packed >> 4).astype(np.int16), ((packed >> 1) & 7).astype(np.int8)
    unknown = np.flatnonzero((class_code < 0) | (crit == 0))
    if unknown.size:
        raise StoreError(
            f"CI '{ids[int(unknown[0])]}' has a class or criticality the registry does not know"
        )
    last_seen[np.isneginf(last_seen)] = np.nan
    availability[np.isneginf(availability)] = np.nan
    src, dst = positions(node, edge[0]), positions(node, edge[1])
    live = (src >= 0) & (dst >= 0) & (edge[2] >= 0)
    group = np.asarray([registry.is_group(c) for c in registry.class_names], dtype=bool)
    return Topology.build(
        version=key[1],
        store_id=key[0],
        class_names=registry.class_names,
        class_categories=[registry.classes[c].category for c in registry.class_names],
        rel_type_names=registry.rel_type_names,
        propagation=[registry.relationships[t].propagation for t in registry.rel_type_names],
        ids=ids,
        class_code=class_code,
        is_group=group[class_code],
        criticality=crit,
        in_service=(packed & 1).astype(bool),
        min_required=min_required,
        last_seen=last_seen,
        availability=availability,
        src=src[live],
        dst=dst[live],
        rtype=edge[2][live].astype(np.int16),
    )


def read_topology_plain(tx: Any, registry: Registry, *, page: int = PAGE) -> Topology:
    """The same snapshot as :func:`read_topology`, read as plain ``collect()`` lists of
    properties that the driver decodes value by value: the reference (and the slow path)."""
    reg = registry
    store_id, version = tx.run(f"{META} RETURN coalesce(m.store_id, ''), {GRAPH_VERSION}").single()
    class_code = {c: i for i, c in enumerate(reg.class_names)}
    type_code = {rel_type(reg, t): i for i, t in enumerate(reg.rel_type_names)}
    crit = {c.value: c.rank for c in Criticality}
    nodes = (
        "MATCH (c:CI) WHERE c.id > $after AND c.status <> 'retired' "
        "WITH c ORDER BY c.id LIMIT $page "
        "RETURN collect(c.id), collect(c.class), collect(c.criticality), "
        "collect(coalesce(c.min_required, 0)), collect(coalesce(c.last_seen, $none)), "
        "collect(coalesce(c.availability, $none)), collect(c.status)"
    )
    edges = (
        "MATCH (s:CI)-[r]->(t:CI) WHERE s.id > $after AND s.id <= $last "
        "AND r.status = 'active' AND s.status <> 'retired' AND t.status <> 'retired' "
        "RETURN collect(s.id), collect(type(r)), collect(t.id)"
    )
    ids: list[str] = []
    cols: list[list[Any]] = [[], [], [], [], [], []]
    src: list[str] = []
    typ: list[str] = []
    dst: list[str] = []
    after = ""
    while True:
        rows = tx.run(nodes, after=after, page=page, none=float("-inf")).single()
        if not rows[0]:
            break
        ids += rows[0]
        for col, values in zip(cols, rows[1:], strict=True):
            col += values
        s, t, d = tx.run(edges, after=after, last=rows[0][-1]).single()
        src += s
        typ += t
        dst += d
        after = rows[0][-1]
    index = {ci: i for i, ci in enumerate(ids)}
    keep = [i for i, t in enumerate(typ) if t in type_code]

    def floats(values: list[float]) -> np.ndarray:
        a = np.asarray(values, dtype=np.float64)
        a[np.isneginf(a)] = np.nan
        return a

    return Topology.build(
        version=int(version),
        store_id=store_id,
        class_names=reg.class_names,
        class_categories=[reg.classes[c].category for c in reg.class_names],
        rel_type_names=reg.rel_type_names,
        propagation=[reg.relationships[t].propagation for t in reg.rel_type_names],
        ids=ids,
        class_code=[class_code[c] for c in cols[0]],
        is_group=[reg.is_group(c) for c in cols[0]],
        criticality=[crit[c] for c in cols[1]],
        min_required=cols[2],
        last_seen=floats(cols[3]),
        availability=floats(cols[4]),
        in_service=[st not in _NOT_IN_SERVICE for st in cols[5]],
        src=np.fromiter((index[src[i]] for i in keep), np.int32, len(keep)),
        dst=np.fromiter((index[dst[i]] for i in keep), np.int32, len(keep)),
        rtype=np.fromiter((type_code[typ[i]] for i in keep), np.int16, len(keep)),
    )


_SEEN = (
    "MATCH (c:CI) WHERE c.id > $after AND c.status <> 'retired' "
    "WITH c ORDER BY c.id LIMIT $page "
    "RETURN max(c.id), collect(coalesce(c.last_seen, $none))"
)
_CIS = (
    "UNWIND $ids AS i MATCH (c:CI {id: i}) RETURN collect([c.id, c.class, c.criticality, "
    "coalesce(c.min_required, 0), c.last_seen, c.availability, c.status])"
)
_TOUCHED = f"MATCH (c:CI) WHERE c.{TOUCHED} > $since RETURN collect(c.id)"
_RELS = (
    "UNWIND $keys AS k MATCH (s:CI {id: k[0]})-[r]->(t:CI {id: k[2]}) WHERE type(r) = k[1] "
    "RETURN collect([k[0], k[3], k[2], r.status])"
)


def refresh_topology(store: Any, base: Topology | None, *, page: int = PAGE) -> Topology | None:
    """``base`` brought up to date with the Neo4j ``store`` (see the module's docstring); None
    when there is no base, it is not of this store's past, too much changed, or the graph moved
    while the delta was read (the caller rebuilds)."""
    from cmdb.filters import HistoryFilter
    from cmdb.topology_delta import DeltaError, apply_delta, delta_limit

    if base is None or not base.mark:
        return None
    registry, limit = store.registry, delta_limit(base)
    with store._session() as s:
        key = s.execute_read(_key)
    if key[0] != base.store_id or key[1] < base.version:
        return None
    names: dict[str, set[str]] = {}
    for entity in ("ci", "relationship"):
        flt = HistoryFilter(entity=entity, after_seq=base.seq, limit=limit + 1)
        names[entity] = {e.entity_id for e in store.history(flt)}
    since = _since(base.mark)
    if since is not None:  # and the CIs whose last-seen moved without history
        with store._session() as s:
            (touched,) = s.execute_read(lambda tx: tx.run(_TOUCHED, since=since).single())
        names["ci"].update(touched)
    if len(names["ci"]) + len(names["relationship"]) > limit:
        return None
    rel_keys = []
    for name in sorted(names["relationship"]):
        src, rtype, dst = name.split("|")
        if rtype not in registry.relationships:
            return None
        rel_keys.append([src, rel_type(registry, rtype), dst, rtype])
    params = _codes(registry)

    def work(tx: Any) -> tuple[Any, ...] | None:
        seq, version = _seq(tx)
        if seq < base.seq:
            return None
        (cis,) = tx.run(_CIS, ids=sorted(names["ci"])).single()
        (rels,) = tx.run(_RELS, keys=rel_keys).single()
        seen, ends = _seen(tx, params, page) if since is None else (None, [])
        return (cis, rels, seen, ends, seq, version) if _key(tx) == key else None

    with store._session() as s:
        got = s.execute_read(work)
    if got is None:
        return None
    cis, rels, seen, ends, seq, version = got
    codes, crit = params["classes"], params["ranks"]
    if any(c[1] not in codes or c[2] not in crit for c in cis):
        return None
    if any(not isinstance(x, int | float | None) for c in cis for x in c[3:6]):
        return None  # the rebuild names the column that is not a number
    types = {t: i for i, t in enumerate(registry.rel_type_names)}

    def num(x: Any) -> float:
        return np.nan if x is None else float(x)

    delta = Delta.of(
        keys=[c[0] for c in cis],
        ids=[c[0] for c in cis],
        live=[c[6] != "retired" for c in cis],
        class_code=[codes[c[1]] for c in cis],
        is_group=[registry.is_group(c[1]) for c in cis],
        criticality=[crit[c[2]] for c in cis],
        min_required=[int(c[3]) for c in cis],
        last_seen=[num(c[4]) for c in cis],
        availability=[num(c[5]) for c in cis],
        in_service=[c[6] not in _NOT_IN_SERVICE for c in cis],
        edges=[(a, types[t], b, st == "active") for a, t, b, st in rels],
        last_seen_all=seen,
    )
    try:
        topo = apply_delta(
            base, delta, version=key[1], seq=seq, mark=_mark(seq, version), store_id=key[0]
        )
    except DeltaError:
        return None
    if any(at > topo.n or topo.ids[at - 1] != last for at, last in ends):
        return None  # the last-seen column is not in the snapshot's order
    return topo


def _seen(tx: Any, params: dict[str, Any], page: int) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Every live CI's last-seen in id order (NaN: never seen), and where each page ended."""
    out: list[np.ndarray] = [np.empty(0, np.float64)]
    ends: list[tuple[int, str]] = []
    after, total = "", 0
    while True:
        last, seen = tx.run(_SEEN, params, after=after, page=page).single()
        if last is None:
            break
        out.append(_column(seen, np.float64, "last_seen", len(seen)))
        total += len(seen)
        ends.append((total, last))
        after = last
    seen = np.concatenate(out)
    seen[np.isneginf(seen)] = np.nan
    return seen, ends
