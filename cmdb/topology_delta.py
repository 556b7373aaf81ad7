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

The result is a NEW :class:`~cmdb.topology.Topology` (the base stays valid for whoever holds
it). The four CSRs are patched, not rebuilt: removed entries are dropped (one occurrence per
removed edge: two relationship types can join the same pair), indices renumbered with one table
look-up, new entries inserted at the end of their rows; a CSR the base had not built yet stays
lazy. Every edge of a CI whose class turned into, or out of, a redundancy group is removed and
re-added, so membership edges follow ``is_group``.

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
>>> new.ids, new.dependents.row(new.index("db2")).tolist(), new.dependents.row(1).tolist()
(['app', 'db', 'db2'], [0], [])
>>> base.dependents.row(1).tolist()  # the base is unchanged
[0]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cmdb.enums import Propagation
from cmdb.topology import CSR, Topology

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


def _merge_ids(kept: list[str], at: np.ndarray, new: list[str]) -> list[str]:
    """``kept`` with ``new[i]`` inserted before ``kept[at[i]]`` (``at`` ascending)."""
    if not new:
        return list(kept)
    out: list[str] = []
    prev = 0
    for i, name in zip(at.tolist(), new, strict=True):
        out += kept[prev:i]
        out.append(name)
        prev = i
    out += kept[prev:]
    return out


def _drop(ids: list[str], removed: np.ndarray) -> list[str]:
    """``ids`` without the positions in ``removed`` (ascending)."""
    out: list[str] = []
    prev = 0
    for i in removed.tolist():
        out += ids[prev:i]
        prev = i + 1
    out += ids[prev:]
    return out


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


def _patch_csr(
    csr: CSR,
    old_to_new: np.ndarray | None,
    n_new: int,
    rm: tuple[np.ndarray, np.ndarray],
    add: tuple[np.ndarray, np.ndarray],
) -> CSR:
    """``csr`` less one entry per pair of ``rm`` (old numbers), renumbered by ``old_to_new``
    (None: unchanged, nodes only appended), plus the pairs of ``add`` (new numbers)."""
    indptr, indices = csr.indptr, csr.indices
    n_old = indptr.size - 1
    counts = np.diff(indptr)
    rm_rows, rm_cols = rm
    kept = indices
    if rm_rows.size:
        rows = _unique(rm_rows)[0]
        starts = indptr[rows]
        cnt = indptr[rows + 1] - starts
        owner = np.repeat(rows, cnt)
        at = np.repeat(starts, cnt) + (
            np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        )
        ekey = owner.astype(np.int64) * n_old + indices[at]
        rkey, need_of = _unique(rm_rows.astype(np.int64) * n_old + rm_cols)
        order = np.argsort(ekey, kind="stable")
        sk = ekey[order]
        rank = np.empty(sk.size, np.int64)
        rank[order] = np.arange(sk.size) - np.searchsorted(sk, sk, side="left")
        slot = np.minimum(np.searchsorted(rkey, ekey), rkey.size - 1)
        need = np.where(rkey[slot] == ekey, need_of[slot], 0)
        gone = rank < need
        if int(gone.sum()) != rm_rows.size:
            raise DeltaError("an edge the delta removes is not in the snapshot")
        keep = np.ones(indices.size, dtype=bool)
        keep[at[gone]] = False
        kept = indices[keep]
        counts = counts - np.bincount(owner[gone], minlength=n_old)
    if old_to_new is None:
        new_counts = np.zeros(n_new, np.int64)
        new_counts[:n_old] = counts
    else:
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
    return CSR(new_indptr, kept.astype(np.int32, copy=False))


def apply_delta(
    base: Topology,
    delta: Delta,
    *,
    version: int,
    seq: int = 0,
    mark: str = "",
    store_id: str | None = None,
) -> Topology:
    """A new snapshot: ``base`` with ``delta`` applied (see the module's assumptions), at
    graph ``version``, history ``seq`` and ``mark``. :class:`DeltaError` when the delta does
    not fit the base."""
    n0 = base.n
    pos = _locate(base, delta.keys)
    live = delta.live
    removed = _unique(pos[(pos >= 0) & ~live])[0]
    upd = np.flatnonzero((pos >= 0) & live)
    new_sel = np.flatnonzero((pos < 0) & live)
    keep = np.ones(n0, dtype=bool)
    keep[removed] = False
    n_kept = n0 - removed.size

    # where the new CIs go, in the order a rebuild gives
    if base.rown is not None:
        new_keys = np.asarray(delta.keys, np.int64)[new_sel]
        order = np.argsort(new_keys, kind="stable")
        kept_rown = base.rown[keep] if removed.size else base.rown
        ins_at = np.searchsorted(kept_rown, new_keys[order])
    else:
        names = [delta.keys[i] for i in new_sel.tolist()]
        order = np.asarray(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
        kept_ids = _drop(base.ids, removed) if removed.size else base.ids
        ins_at = np.asarray(
            [bisect_left(kept_ids, names[i]) for i in order.tolist()], dtype=np.int64
        )
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

    # node arrays
    cols: dict[str, np.ndarray] = {}
    for name in _FIELDS:
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
        kept_rown = base.rown[keep] if removed.size else base.rown
        rown = _insert(kept_rown, ins_at, np.asarray(delta.keys, np.int64)[ins])
    new_ids = [delta.ids[i] for i in ins.tolist()]
    if appended:  # the common case: new CIs after the others
        ids = base.ids + new_ids
    else:
        kept_ids = _drop(base.ids, removed) if removed.size else base.ids
        ids = _merge_ids(kept_ids, ins_at, new_ids)

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
    if gone.size:
        ks, kd, kt = src[~rm], dst[~rm], rtype[~rm]
    else:
        ks, kd, kt = src, dst, rtype
    if old_to_new is not None:
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
    for name, csr in base._csr.items():
        topo._csr[name] = _patch_csr(
            csr,
            old_to_new,
            n_new,
            _pairs(name, rs_old, rd_old, rt_old, base.is_group, kinds),
            _pairs(name, add_s, add_d, add_t, cols["is_group"], kinds),
        )
    return topo
