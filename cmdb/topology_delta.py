"""Bringing a topology snapshot up to date with what changed since, without rebuilding it.

Assumptions: ``base`` is a whole snapshot of a state the store went through (the store checks
that before calling), and the :class:`Delta` holds the state *now* of every CI and relationship
that history (and, for last-seen, the store's own log of touches) names after the snapshot's
``seq``: a CI is live (not retired, with its snapshot fields) or not, a relationship active or
not. A relationship is in a snapshot when it is active and both its ends are live; retiring a CI
retires its relationships on both backends (in the same batch, with history), so a CI that comes
back from retirement comes back without edges unless history names them too.

Nodes keep the order a rebuild gives them: SQLite row numbers when the snapshot carries them
(``Topology.rown``), else CI ids (Neo4j reads in id order). Edge order is not kept: the edge
arrays, and the rows of each CSR, hold the same multisets as a rebuild's, which is what every
analysis reads (the order within one row can only change which of two equally short paths
explains a CI, never which CIs are affected nor their states; see docs/architecture.md).

The result is a NEW :class:`~cmdb.topology.Topology`; the base, and the files it was loaded
from, stay as they were for whoever holds them. Two ways:

- *in place*, when nodes are only appended (new CIs after the others, none retired: the common
  write). Each array that changes is a private copy of the base's: the base's file mapped again
  copy-on-write when the base was loaded from one (files are saved with room at their ends,
  :func:`~cmdb.topology.room`), so only the pages written are copied and the rest stays shared
  page cache; else (a base in memory, a file removed meanwhile, no room left) a copy with room.
  Fields are written where they are, new CIs, ids and edges go into the room, a removed edge's
  slot takes the last edge. A CSR row that shrinks is rewritten where it is, one that grows
  moves to the end of ``indices`` (a *patched* :class:`~cmdb.topology.CSR`, packed again once
  a quarter of it is unused, and when published); rows of new CIs are appended, which keeps a
  CSR packed. The derived arrays the base carries (rows with neighbours, group slack, edges per
  type) are patched too. An array nothing changed is the base's own.
- *renumbered*, when a CI is retired or a new one sorts before others (Neo4j's id order): every
  array is copied (the ids cut and joined as slices of their blob, no string per CI); the CSRs
  are packed, removed entries dropped (one occurrence per removed edge: two relationship types
  can join the same pair), indices renumbered with one table look-up, new entries inserted at
  the end of their rows.

A CSR the base had not built yet stays lazy. Every edge of a CI whose class turned into, or out
of, a redundancy group is removed and re-added, so membership edges follow ``is_group``.

>>> from cmdb.topology import Topology
>>> base = Topology.build(version=1, class_names=("application", "database"),
...     rel_type_names=("depends_on",), propagation=("to_source",), ids=["app", "db"],
...     class_code=[0, 1], is_group=[False, False], min_required=[0, 0],
...     src=[0], dst=[1], rtype=[0])
>>> base.dependents.row(1).tolist()
[0]
>>> delta = Delta.of(keys=["db2"], ids=["db2"], live=[True], class_code=[1],
...     edges=[("app", 0, "db2", True), ("app", 0, "db", False)])
>>> new = apply_delta(base, delta, version=2)
>>> new.ids.tolist(), new.dependents.row(new.index("db2")).tolist(), new.dependents.row(1).tolist()
(['app', 'db', 'db2'], [0], [])
>>> base.dependents.row(1).tolist()  # the base is unchanged
[0]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from cmdb.enums import Propagation
from cmdb.topology import CSR, Topology, room
from cmdb.topology_ids import Ids

__all__ = [
    "DELTA_MIN",
    "DELTA_SHARE",
    "Delta",
    "DeltaError",
    "apply_delta",
    "compact_at",
    "delta_limit",
]

DELTA_MIN = 1000
"""Entities changed that a delta always takes on (below this, a rebuild never pays)."""
DELTA_SHARE = 0.01
"""Past this share of a snapshot's nodes and edges changed, rebuild: patching reads and copies
every array anyway, and per-entity work (reading rows, placing them) grows with the delta."""
COMPACT_SHARE = 0.25
"""A store publishes a snapshot brought up to date from the one on disk once its delta holds
this share of the limit, so the next processes start from it (a full rebuild is never needed
for that)."""


def delta_limit(topo: Topology) -> int:
    """How many changed entities a delta on ``topo`` may hold.

    >>> from cmdb.topology import Topology
    >>> delta_limit(Topology.build(version=0, class_names=(), rel_type_names=(),
    ...     propagation=(), ids=[], class_code=[], is_group=[], min_required=[],
    ...     src=[], dst=[], rtype=[]))
    1000
    """
    return max(DELTA_MIN, int(DELTA_SHARE * (topo.n + topo.m)))


def compact_at(limit: int) -> int:
    """The delta size from which a snapshot brought up to date is worth publishing."""
    return max(1, int(COMPACT_SHARE * limit))


_FIELDS = {
    "class_code": (np.int16, 0),
    "is_group": (np.bool_, False),
    "min_required": (np.int32, 0),
    "criticality": (np.int8, 2),
    "last_seen": (np.float64, np.nan),
    "availability": (np.float64, np.nan),
    "in_service": (np.bool_, True),
}


class DeltaError(ValueError):
    """The delta does not fit the base (an edge to remove is not there): rebuild instead."""


@dataclass(frozen=True)
class Delta:
    """The state now of what changed. ``keys`` place the CIs (row numbers for a snapshot with
    ``rown``, else their ids); ``fields`` holds one array per node field, parallel to ``keys``
    (meaningful where ``live``). Edges are ``(source key, type code, target key, active)``.
    ``last_seen`` replaces the whole column when given (a store that cannot tell which CIs'
    last-seen moved reads them all, in the new snapshot's order)."""

    keys: np.ndarray | list[str]
    ids: list[str]
    live: np.ndarray
    fields: dict[str, np.ndarray]
    edge_src: np.ndarray | list[str]
    edge_dst: np.ndarray | list[str]
    edge_type: np.ndarray
    edge_active: np.ndarray
    last_seen: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        *,
        keys: Sequence,
        ids: Sequence[str],
        live: Sequence[bool],
        edges: Sequence[tuple] = (),
        last_seen_all: np.ndarray | None = None,
        **fields: Sequence,
    ) -> Delta:
        """A delta from plain sequences; a field not given takes the snapshot default."""
        k = len(ids)
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown node fields: {sorted(unknown)}")
        cols: dict[str, np.ndarray] = {
            name: np.asarray(fields[name], dt) if name in fields else np.full(k, default, dt)
            for name, (dt, default) in _FIELDS.items()
        }

        def keyed(values: Sequence) -> np.ndarray | list[str]:
            if len(values) and not isinstance(values[0], str):
                return np.asarray(values, np.int64)
            return list(values)

        return cls(
            keys=keyed(keys),
            ids=list(ids),
            live=np.asarray(live, bool),
            fields=cols,
            edge_src=keyed([e[0] for e in edges]),
            edge_dst=keyed([e[2] for e in edges]),
            edge_type=np.asarray([e[1] for e in edges], np.int16),
            edge_active=np.asarray([e[3] for e in edges], bool),
            last_seen=last_seen_all,
        )

    @property
    def size(self) -> int:
        return len(self.ids) + int(self.edge_type.size)


def _locate(topo: Topology, keys: np.ndarray | list[str]) -> np.ndarray:
    """The node number of each key in ``topo``, -1 where it has none."""
    out = np.full(len(keys), -1, dtype=np.int64)
    n = topo.n
    if n == 0 or len(keys) == 0:
        return out
    if topo.rown is not None:
        k = np.asarray(keys, np.int64)
        at = np.minimum(np.searchsorted(topo.rown, k), n - 1)
        hit = topo.rown[at] == k
        out[hit] = at[hit]
        return out
    ids = topo.ids
    for j, key in enumerate(keys):
        i = bisect_left(ids, key)
        if i < n and ids[i] == key:
            out[j] = i
    return out


def _unique(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``a``, ascending, and how often each occurs (``np.unique``
    imports ``numpy.ma``, a third of a second in a cold process).

    >>> [x.tolist() for x in _unique(np.array([3, 1, 3]))]
    [[1, 3], [1, 2]]
    """
    s = np.sort(a)
    if s.size == 0:
        return s, np.empty(0, np.int64)
    first = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return s[first], np.diff(np.append(first, s.size))


def _insert(arr: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.insert(arr, at, values)`` for ascending ``at``: a few inserts are copied slice by
    slice, at memory speed (``np.insert`` scatters through a mask, about three times slower).

    >>> _insert(np.array([1, 2, 3]), np.array([0, 2, 3]), np.array([9, 8, 7])).tolist()
    [9, 1, 2, 8, 3, 7]
    """
    if at.size > _FEW:
        return np.insert(arr, at, values)
    out = np.empty(arr.size + at.size, dtype=arr.dtype)
    prev = 0
    for i, (j, v) in enumerate(zip(at.tolist(), values.tolist(), strict=True)):
        out[prev + i : j + i] = arr[prev:j]
        out[j + i] = v
        prev = j
    out[prev + at.size :] = arr[prev:]
    return out


_FEW = 64
"""Inserts copied slice by slice; more go through ``np.insert``."""


def _key(k: object) -> int | str:
    return k if isinstance(k, str) else int(k)  # type: ignore[call-overload]


def _renumbered_ids(ids: Ids, removed: np.ndarray, at: np.ndarray, new: list[str]) -> Ids:
    """``ids`` without the positions ``removed`` (ascending), then with ``new[i]`` put before
    kept position ``at[i]`` (ascending): blob slices, no string per CI.

    >>> _renumbered_ids(Ids.from_list(["a", "c", "d"]), np.array([2]), np.array([1]), ["b"])
    Ids(['a', 'b', 'c'], n=3)
    """
    return ids.drop(removed).insert(at, new)


def _pairs(
    name: str, s: np.ndarray, d: np.ndarray, t: np.ndarray, is_group: np.ndarray, kinds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) entries that edges ``s -[t]-> d`` put into the CSR ``name``, as
    :class:`~cmdb.topology.Topology` builds them. ``kinds``: 1 to_source, 2 to_target,
    3 membership, per type code."""
    k = kinds[t] if t.size else np.empty(0, np.int8)
    if name in ("dependents", "dependencies"):
        to_src, to_tgt = k == 1, k == 2
        frm = np.concatenate([d[to_src], s[to_tgt]])
        to = np.concatenate([s[to_src], d[to_tgt]])
        return (frm, to) if name == "dependents" else (to, frm)
    mem = k == 3
    member, group = s[mem], d[mem]
    ok = is_group[group] if group.size else np.empty(0, bool)
    member, group = member[ok], group[ok]
    return (member, group) if name == "groups" else (group, member)


def _removed(
    owner: np.ndarray, vals: np.ndarray, rm_rows: np.ndarray, rm_cols: np.ndarray, radix: int
) -> np.ndarray:
    """Which of the entries ``(owner, vals)`` go: one per pair of ``rm`` (two relationship
    types can join the same pair, so a pair may be there more than once). DeltaError if a
    pair is not there.

    >>> _removed(np.array([0, 0, 1]), np.array([2, 2, 0]), np.array([0]), np.array([2]), 3)
    array([ True, False, False])
    """
    ekey = owner.astype(np.int64) * radix + vals
    rkey, need_of = _unique(rm_rows.astype(np.int64) * radix + rm_cols)
    order = np.argsort(ekey, kind="stable")
    sk = ekey[order]
    rank = np.empty(sk.size, np.int64)
    rank[order] = np.arange(sk.size) - np.searchsorted(sk, sk, side="left")
    slot = np.minimum(np.searchsorted(rkey, ekey), rkey.size - 1)
    need = np.where(rkey[slot] == ekey, need_of[slot], 0) if rkey.size else 0
    gone = rank < need
    if int(gone.sum()) != rm_rows.size:
        raise DeltaError("an edge the delta removes is not in the snapshot")
    return gone


def _entries(csr: CSR, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of ``rows`` (ascending): (their row, their value, their position)."""
    starts = csr.starts[rows]
    cnt = csr.ends[rows] - starts
    ends = np.cumsum(cnt)
    at = np.repeat(starts - (ends - cnt), cnt) + np.arange(int(cnt.sum()), dtype=np.int64)
    return np.repeat(rows, cnt), csr.indices[at], at


def _patch_csr(
    csr: CSR,
    old_to_new: np.ndarray,
    n_new: int,
    rm: tuple[np.ndarray, np.ndarray],
    add: tuple[np.ndarray, np.ndarray],
) -> CSR:
    """``csr`` less one entry per pair of ``rm`` (old numbers), renumbered by ``old_to_new``,
    plus the pairs of ``add`` (new numbers): a new packed CSR, every array copied."""
    csr = csr.packed()
    indptr, indices = csr.indptr, csr.indices
    n_old = indptr.size - 1
    counts = np.diff(indptr)
    rm_rows, rm_cols = rm
    kept = indices
    if rm_rows.size:
        owner, vals, at = _entries(csr, _unique(rm_rows)[0])
        gone = _removed(owner, vals, rm_rows, rm_cols, max(n_old, 1))
        keep = np.ones(indices.size, dtype=bool)
        keep[at[gone]] = False
        kept = indices[keep]
        counts = counts - np.bincount(owner[gone], minlength=n_old)
    live = old_to_new >= 0
    if counts[~live].any():
        raise DeltaError("a removed CI still has edges")
    new_counts = np.zeros(n_new, np.int64)
    new_counts[old_to_new[live]] = counts[live]
    kept = old_to_new[kept].astype(np.int32)
    add_rows, add_cols = add
    if add_rows.size:
        order = np.argsort(add_rows, kind="stable")
        add_rows, add_cols = add_rows[order], add_cols[order]
        ends = np.cumsum(new_counts)
        kept = _insert(kept, ends[add_rows], add_cols.astype(np.int32))
        new_counts += np.bincount(add_rows, minlength=n_new)
    new_indptr = np.zeros(n_new + 1, np.int64)
    np.cumsum(new_counts, out=new_indptr[1:])
    return CSR.packed_from(new_indptr, kept.astype(np.int32, copy=False))


# -- in place: the base's arrays shared, only what changed written -----------------------------
def _private(
    base: Topology, file: str, now: np.ndarray, size: int, *, offset: int = 0
) -> np.ndarray:
    """A writable array of at least ``size`` entries whose first ``now.size`` are ``now`` and
    which nobody else sees: the base's file (``now`` was loaded from it, from ``offset``) mapped
    copy-on-write when it has the room, so that only the pages written are copied; else a copy
    of ``now`` with room (:func:`~cmdb.topology.room`). A file removed meanwhile (a newer
    snapshot was published) is no error: the copy is made from ``now``."""
    if base._files is not None:
        try:
            a = np.load(base._files / f"{file}.npy", mmap_mode="c").view(np.ndarray)[offset:]
        except (OSError, ValueError):
            a = None
        if (
            a is not None
            and a.ndim == 1
            and a.dtype == now.dtype
            and a.size >= size >= now.size
            and (not now.size or a[[0, now.size - 1]].tobytes() == now[[0, -1]].tobytes())
        ):
            return a
    out = np.empty(room(max(size, now.size)), now.dtype)
    out[: now.size] = now
    return out


def _append_ids(base: Topology, new: list[str]) -> Ids:
    """The base's ids then ``new``: the blob and offsets written in place like the other
    columns (``base.ids + new`` would copy both). DeltaError if one of ``new`` is there."""
    ids = base.ids
    if not new:
        return ids
    tail = Ids.from_list(new)
    if any(t in ids for t in new):
        raise DeltaError("a new CI is in the snapshot already")
    n0, nb, k, kb = len(ids), ids.blob.size, len(tail), tail.blob.size
    blob = _private(base, "ids", ids.blob, nb + kb)
    blob[nb : nb + kb] = tail.blob
    offsets = _private(base, "ids.offsets", ids.offsets, n0 + 1 + k)
    offsets[n0 + 1 : n0 + 1 + k] = tail.offsets[1:] + nb
    return Ids(blob[: nb + kb], offsets[: n0 + 1 + k])


def _column(
    base: Topology, name: str, n_new: int, at: np.ndarray, values: np.ndarray, tail: np.ndarray
) -> np.ndarray:
    """Node column ``name`` of ``base`` with ``values`` at ``at`` and ``tail`` appended; the
    base's own array when nothing changes."""
    old = getattr(base, name)
    if not tail.size:
        same = old[at] == values
        if old.dtype.kind == "f":
            same |= np.isnan(old[at]) & np.isnan(values)
        if bool(same.all()):
            return old
    col = _private(base, name, old, n_new)
    col[old.size : n_new] = tail
    col[at] = values
    return col[:n_new]


def _edges_in_place(
    base: Topology, gone: np.ndarray, adds: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, ...]:
    """``src``, ``dst``, ``rtype`` without the edges at ``gone`` (ascending; each hole filled
    by an edge from the end) and with ``adds`` appended: edge order is not kept."""
    m0, k = base.m, adds[0].size
    if not gone.size and not k:
        return base.src, base.dst, base.rtype
    low = m0 - gone.size
    holes = gone[gone < low]
    in_tail = np.zeros(m0 - low, dtype=bool)
    in_tail[gone[gone >= low] - low] = True
    movers = low + np.flatnonzero(~in_tail)
    out = []
    for name, add in zip(("src", "dst", "rtype"), adds, strict=True):
        old = getattr(base, name)
        w = _private(base, name, old, low + k)
        w[holes] = w[movers]
        w[low : low + k] = add
        out.append(w[: low + k])
    return tuple(out)


def _patch_rows(
    base: Topology,
    name: str,
    n_new: int,
    rm: tuple[np.ndarray, np.ndarray],
    add: tuple[np.ndarray, np.ndarray],
) -> CSR:
    """CSR ``name`` of ``base`` less one entry per pair of ``rm`` and plus the pairs of
    ``add``, nodes only appended: a row that shrinks is rewritten where it is, one that grows
    moves to the end of ``indices`` (a patched CSR), new rows start empty. Every other row, and
    every page of the base's files that holds none of these, is shared with the base."""
    csr = base._csr[name]
    rm_rows, rm_cols = rm
    add_rows, add_cols = add
    n0 = csr.n
    if not rm_rows.size and not add_rows.size and n_new == n0:
        return csr
    rows = _unique(np.concatenate([rm_rows, add_rows]).astype(np.int64))[0]
    old = rows[rows < n0]
    owner, vals, _ = _entries(csr, old)
    if rm_rows.size:
        keep = ~_removed(owner, vals, rm_rows, rm_cols, max(n_new, 1))
        owner, vals = owner[keep], vals[keep]
    owner = np.concatenate([owner, add_rows.astype(np.int64)])
    vals = np.concatenate([vals, add_cols.astype(np.int32)])
    order = np.argsort(owner, kind="stable")  # a row's kept entries, then its new ones
    owner, vals = owner[order], vals[order]
    if not old.size and csr.bounds is not None:  # only new rows: it stays packed
        return _append_rows(base, name, n_new, owner, vals)
    first = np.searchsorted(owner, rows, side="left")
    new_cnt = np.searchsorted(owner, rows, side="right") - first
    start = np.zeros(rows.size, np.int64)
    start[: old.size] = csr.starts[old]
    old_cnt = np.zeros(rows.size, np.int64)
    old_cnt[: old.size] = csr.ends[old] - csr.starts[old]
    grow = new_cnt > old_cnt
    top = csr.indices.size
    grown = new_cnt[grow]
    start[grow] = top + np.cumsum(grown) - grown
    used = top + int(grown.sum())
    r_of = np.searchsorted(rows, owner)
    dest = start[r_of] + (np.arange(owner.size) - first[r_of])
    starts = _private(base, f"{name}.indptr", csr.starts, n_new)
    ends = _private(base, f"{name}.indptr", csr.ends, n_new, offset=1)
    indices = _private(base, f"{name}.indices", csr.indices, used)
    starts[n0:n_new] = 0
    ends[n0:n_new] = 0
    starts[rows] = start
    ends[rows] = start + new_cnt
    indices[dest] = vals
    nnz = csr.nnz - rm_rows.size + add_rows.size
    out = CSR(starts[:n_new], ends[:n_new], indices[:used], nnz)
    return out.packed() if used - nnz > _SLACK_SHARE * nnz + _SLACK_MIN else out


def _append_rows(base: Topology, name: str, n_new: int, owner: np.ndarray, vals: np.ndarray) -> CSR:
    """Packed CSR ``name`` of ``base`` with rows for the new nodes, whose entries are
    ``vals`` (``owner``: their rows, ascending, all new): one bounds array, as loaded."""
    csr = base._csr[name]
    n0, nnz = csr.n, csr.nnz
    indptr = _private(base, f"{name}.indptr", csr.indptr, n_new + 1)
    counts = np.bincount(owner - n0, minlength=n_new - n0)
    indptr[n0 + 1 : n_new + 1] = nnz + np.cumsum(counts)
    indices = _private(base, f"{name}.indices", csr.indices, nnz + vals.size)
    indices[nnz : nnz + vals.size] = vals
    return CSR.packed_from(indptr[: n_new + 1], indices[: nnz + vals.size])


_SLACK_SHARE = 0.25
_SLACK_MIN = 4096
"""A patched CSR with more unused entries than ``_SLACK_MIN`` and this share of its entries
(rows moved away, or shrunk) is packed again."""


def apply_delta(
    base: Topology,
    delta: Delta,
    *,
    version: int,
    seq: int = 0,
    mark: str = "",
    store_id: str | None = None,
    share_files: bool = True,
) -> Topology:
    """A new snapshot: ``base`` with ``delta`` applied (see the module's assumptions), at
    graph ``version``, history ``seq`` and ``mark``. :class:`DeltaError` when the delta does
    not fit the base. ``share_files=False``: a base loaded from files is patched as one in
    memory (each array that changes copied whole, none of its files mapped again), the way
    snapshots were brought up to date before they shared pages; benchmarks compare the two."""
    if not share_files and base._files is not None:
        base = replace(base, _csr=dict(base._csr), _derived=dict(base._derived))
    n0 = base.n
    pos = _locate(base, delta.keys)
    live = delta.live
    removed = _unique(pos[(pos >= 0) & ~live])[0]
    upd = np.flatnonzero((pos >= 0) & live)
    new_sel = np.flatnonzero((pos < 0) & live)
    keep: np.ndarray | slice = slice(None)
    if removed.size:
        keep = np.ones(n0, dtype=bool)
        keep[removed] = False
    n_kept = n0 - removed.size

    # where the new CIs go, in the order a rebuild gives
    if base.rown is not None:
        new_keys = np.asarray(delta.keys, np.int64)[new_sel]
        order = np.argsort(new_keys, kind="stable")
        kept_rown = base.rown[keep] if removed.size else base.rown
        ins_at = np.searchsorted(kept_rown, new_keys[order])
    else:  # a new id is in no base position: where it goes among all, less the removed before
        names = [delta.keys[i] for i in new_sel.tolist()]
        order = np.asarray(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
        at_base = np.asarray(
            [bisect_left(base.ids, names[i]) for i in order.tolist()], dtype=np.int64
        )
        ins_at = at_base - np.searchsorted(removed, at_base)
    ins = new_sel[order]
    n_new = n_kept + ins.size
    appended = removed.size == 0 and bool(np.all(ins_at == n_kept))
    old_to_new: np.ndarray | None = None
    if not appended:
        old_to_new = np.full(n0, -1, dtype=np.int64)
        j = np.arange(n_kept, dtype=np.int64)
        old_to_new[keep] = j + np.searchsorted(ins_at, j, side="right")
    new_pos = ins_at + np.arange(ins.size, dtype=np.int64)

    def remap(p: np.ndarray) -> np.ndarray:
        return p if old_to_new is None else old_to_new[p]

    # node arrays: in place when nodes are only appended (the base's pages shared), else copied
    cols: dict[str, np.ndarray] = {}
    for name in _FIELDS:
        if name == "last_seen" and delta.last_seen is not None:
            continue
        if appended:
            at, values = pos[upd], delta.fields[name][upd]
            cols[name] = _column(base, name, n_new, at, values, delta.fields[name][ins])
            continue
        old = getattr(base, name)
        kept_col = old[keep] if removed.size else old
        col = _insert(kept_col, ins_at, delta.fields[name][ins]) if ins.size else kept_col.copy()
        col[remap(pos[upd])] = delta.fields[name][upd]
        cols[name] = col
    if delta.last_seen is not None:
        if delta.last_seen.shape != (n_new,):
            raise DeltaError("the last-seen column does not match the new snapshot")
        cols["last_seen"] = np.asarray(delta.last_seen, np.float64)
    rown = None
    if base.rown is not None:
        new_rown = np.asarray(delta.keys, np.int64)[ins]
        if appended and not ins.size:
            rown = base.rown
        elif appended:
            rown = _private(base, "rown", base.rown, n_new)
            rown[n0:n_new] = new_rown
            rown = rown[:n_new]
        else:
            kept_rown = base.rown[keep] if removed.size else base.rown
            rown = _insert(kept_rown, ins_at, new_rown)
    new_ids = [delta.ids[i] for i in ins.tolist()]
    ids: Ids
    if appended:  # the common case: new CIs after the others
        ids = _append_ids(base, new_ids)
    else:
        ids = _renumbered_ids(base.ids, removed, ins_at, new_ids)

    # which node is where now, for the edges' ends
    group_changed = pos[upd][base.is_group[pos[upd]] != delta.fields["is_group"][upd]]
    final_of_new: dict[int | str, int] = {
        _key(delta.keys[i]): p for i, p in zip(ins.tolist(), new_pos.tolist(), strict=True)
    }

    def final(keys: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each key's node number in the base and in the new snapshot (-1: none)."""
        p = _locate(base, keys)
        out = np.full(len(keys), -1, dtype=np.int64)
        inb = p >= 0
        out[inb] = remap(p[inb])
        for j in np.flatnonzero(~inb).tolist():
            out[j] = final_of_new.get(_key(keys[j]), -1)
        return p, out

    # edges: which base edges go, which edges come
    src, dst, rtype = base.src, base.dst, base.rtype
    m0 = src.size
    rm = np.zeros(m0, dtype=bool)
    touched_nodes = np.concatenate([removed, group_changed]).astype(np.int64)
    readd = np.zeros(m0, dtype=bool)
    if touched_nodes.size and m0:
        mark_nodes = np.zeros(n0, dtype=bool)
        mark_nodes[touched_nodes] = True
        inc = mark_nodes[src] | mark_nodes[dst]
        rm |= inc
        readd = inc.copy()
    e_src_old, e_src_new = final(delta.edge_src)
    e_dst_old, e_dst_new = final(delta.edge_dst)
    et = delta.edge_type.astype(np.int64)
    both_old = (e_src_old >= 0) & (e_dst_old >= 0)
    if both_old.any() and m0:
        ntypes = max(len(base.rel_type_names), int(et.max()) + 1)
        sources = np.zeros(n0, dtype=bool)
        sources[e_src_old[both_old]] = True
        cand = np.flatnonzero(sources[src])  # only the edges out of a named source
        ekey = (src[cand].astype(np.int64) * n0 + dst[cand]) * ntypes + rtype[cand]
        dkey = (e_src_old[both_old] * n0 + e_dst_old[both_old]) * ntypes + et[both_old]
        dkey = _unique(dkey)[0]
        slot = np.minimum(np.searchsorted(dkey, ekey), dkey.size - 1)
        hit = cand[dkey[slot] == ekey]
        rm[hit] = True
        readd[hit] = False  # a named edge comes back only by its own state
    present = delta.edge_active & (e_src_new >= 0) & (e_dst_new >= 0)
    re = np.flatnonzero(readd)
    if re.size:
        rs, rd = remap(src[re].astype(np.int64)), remap(dst[re].astype(np.int64))
        ok = (rs >= 0) & (rd >= 0)
        re, rs, rd = re[ok], rs[ok], rd[ok]
    else:
        rs = rd = np.empty(0, np.int64)
    add_s = np.concatenate([e_src_new[present], rs]).astype(np.int32)
    add_d = np.concatenate([e_dst_new[present], rd]).astype(np.int32)
    add_t = np.concatenate([delta.edge_type[present], rtype[re]]).astype(np.int16)
    gone = np.flatnonzero(rm)
    if old_to_new is None:
        new_src, new_dst, new_type = _edges_in_place(base, gone, (add_s, add_d, add_t))
    else:
        if gone.size:
            ks, kd, kt = src[~rm], dst[~rm], rtype[~rm]
        else:
            ks, kd, kt = src, dst, rtype
        ks, kd = old_to_new[ks].astype(np.int32), old_to_new[kd].astype(np.int32)
        new_src = np.concatenate([ks, add_s]).astype(np.int32, copy=False)
        new_dst = np.concatenate([kd, add_d]).astype(np.int32, copy=False)
        new_type = np.concatenate([kt, add_t]).astype(np.int16, copy=False)
        if new_src.size and (int(new_src.min()) < 0 or int(new_dst.min()) < 0):
            raise DeltaError("an edge of the snapshot lost an end")

    topo = Topology(
        version=version,
        class_names=base.class_names,
        rel_type_names=base.rel_type_names,
        propagation=base.propagation,
        ids=ids,
        src=new_src,
        dst=new_dst,
        rtype=new_type,
        class_categories=base.class_categories,
        store_id=base.store_id if store_id is None else store_id,
        seq=seq,
        mark=mark,
        rown=rown,
        class_code=cols["class_code"],
        is_group=cols["is_group"],
        min_required=cols["min_required"],
        criticality=cols["criticality"],
        last_seen=cols["last_seen"],
        availability=cols["availability"],
        in_service=cols["in_service"],
    )
    kinds = np.zeros(max(len(base.propagation), 1), np.int8)
    for code, prop in enumerate(base.propagation):
        kinds[code] = {Propagation.TO_SOURCE: 1, Propagation.TO_TARGET: 2}.get(prop, 0)
        if prop is Propagation.MEMBERSHIP:
            kinds[code] = 3
    rs_old, rd_old, rt_old = src[gone], dst[gone], rtype[gone]
    pairs: dict[str, tuple[np.ndarray, ...]] = {}
    for name, csr in base._csr.items():
        rm_pairs = _pairs(name, rs_old, rd_old, rt_old, base.is_group, kinds)
        add_pairs = _pairs(name, add_s, add_d, add_t, cols["is_group"], kinds)
        pairs[name] = (rm_pairs[0], add_pairs[0])
        if old_to_new is None:
            topo._csr[name] = _patch_rows(base, name, n_new, rm_pairs, add_pairs)
        else:
            topo._csr[name] = _patch_csr(csr, old_to_new, n_new, rm_pairs, add_pairs)
    if base._type_counts is not None:
        k = len(base.rel_type_names)
        tc = base._type_counts - np.bincount(rt_old, minlength=k)[:k]
        topo._type_counts = tc + np.bincount(add_t, minlength=k)[:k]
    if old_to_new is None:  # else derived arrays are made again when asked for
        _carry_derived(base, topo, pos[upd], pairs)
    return topo


def _carry_derived(
    base: Topology, topo: Topology, updated: np.ndarray, rows: dict[str, tuple[np.ndarray, ...]]
) -> None:
    """The base's derived arrays (:meth:`~cmdb.topology.Topology.derived`), brought up to
    date in ``topo`` (nodes only appended): the rows of a CSR that have neighbours, where
    ``rows[name]`` (the rows an entry left or joined) changed; each group's slack, where its
    members or its k changed (``updated`` nodes, and new ones)."""
    for name in ("dependents", "groups"):
        old = base._derived.get(f"{name}.rows")
        if old is None or name not in topo._csr:
            continue
        cand = _unique(np.concatenate(rows[name]).astype(np.int64))[0]
        csr = topo._csr[name]
        now = csr.ends[cand] > csr.starts[cand]
        at = np.searchsorted(old, cand)
        was = np.zeros(cand.size, bool)
        inside = at < old.size
        was[inside] = old[at[inside]] == cand[inside]
        left, joined = cand[was & ~now], cand[now & ~was]
        if not left.size and not joined.size:
            topo._derived[f"{name}.rows"] = old
        elif not left.size and (not old.size or int(joined[0]) > int(old[-1])):
            w = _private(base, f"derived.{name}.rows", old, old.size + joined.size)
            w[old.size : old.size + joined.size] = joined
            topo._derived[f"{name}.rows"] = w[: old.size + joined.size]
        else:
            kept = old
            if left.size:
                keep = np.ones(old.size, bool)
                keep[np.searchsorted(old, left)] = False
                kept = old[keep]
            new = _insert(kept, np.searchsorted(kept, joined), joined.astype(old.dtype))
            topo._derived[f"{name}.rows"] = new.astype(old.dtype, copy=False)
    slack = base._derived.get("slack")
    if slack is not None and "members" in topo._csr:
        mem = topo._csr["members"]
        nodes = _unique(
            np.concatenate([updated, np.arange(base.n, topo.n), *rows["members"]]).astype(np.int64)
        )[0]
        k = np.where(topo.is_group[nodes], np.maximum(topo.min_required[nodes], 1), 0)
        values = (mem.ends[nodes] - mem.starts[nodes] - k).astype(np.int32)
        if topo.n == base.n and bool((slack[nodes] == values).all()):
            topo._derived["slack"] = slack
        else:
            w = _private(base, "derived.slack", slack, topo.n)
            w[nodes] = values
            topo._derived["slack"] = w[: topo.n]
