"""The topology snapshot: the whole graph as compact arrays, for analysis.

Assumptions: a snapshot holds the non-retired CIs and active relationships of one store version.
Nodes are numbered 0..n-1; classes and relationship types are coded by their index in the
snapshot's ``class_names`` / ``rel_type_names``. Impact propagation is normalised once, from the
registry's declared directions, into *impact edges* ``frm -> to`` meaning "a failure of ``frm``
impacts ``to``", and *membership edges* ``member -> group``. Adjacency is kept as CSR arrays
(numpy), which is what makes a million-CI blast radius take milliseconds; networkx is only for
reference implementations and export. Each class also carries its registry category
(``class_categories``), so analysis can ask for "every service" without naming classes.

A snapshot saves to a *new* directory of ``.npy`` files plus a ``manifest.json`` written last,
published by one rename and never changed afterwards; loading checks every array against the
manifest (names, shapes, dtypes) and the key the caller expects (store id, version, tag), so a
reader gets one whole snapshot or None. The arrays are memory-mapped, so a cold process reads only
the pages a query touches. Node, edge, CSR and derived arrays are saved with room at the end of
their files (the manifest's ``capacity``; a hole, no disk), so that a snapshot brought up to date
from this one maps them copy-on-write and appends in place (:mod:`cmdb.topology_delta`).

>>> t = Topology.build(
...     version=1, class_names=("application", "cluster", "database"),
...     rel_type_names=("depends_on", "member_of"),
...     propagation=("to_source", "membership"),
...     ids=["app", "db-cluster", "db-1"], class_code=[0, 1, 2],
...     is_group=[False, True, False], min_required=[0, 1, 0],
...     src=[0, 2], dst=[1, 1], rtype=[0, 1])
>>> t.dependents.row(t.index("db-cluster")).tolist()
[0]
>>> t.members.row(1).tolist()
[2]
>>> t.class_categories, t.category_mask("").tolist()
(('', '', ''), [True, True, True])
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cmdb.enums import Propagation
from cmdb.errors import NotFoundError
from cmdb.topology_ids import Ids

__all__ = ["CSR", "Topology"]

_FORMAT = 5  # 5: ids as a blob, offsets and a hash table (cmdb.topology_ids)
MANIFEST = "manifest.json"
_NODE_ARRAYS = {
    "class_code": np.int16,
    "is_group": np.bool_,
    "min_required": np.int32,
    "criticality": np.int8,
    "last_seen": np.float64,
    "availability": np.float64,
    "in_service": np.bool_,
}
_EDGE_ARRAYS = {"src": np.int32, "dst": np.int32, "rtype": np.int16}
_ARRAYS = (*_NODE_ARRAYS, *_EDGE_ARRAYS)
_CSRS = ("dependents", "dependencies", "groups", "members")
_ROOMY = (
    *_ARRAYS,
    "rown",
    "ids",
    "ids.offsets",
    *(f"{c}.{p}" for c in _CSRS for p in ("indptr", "indices")),
)
"""Arrays saved with room at the end (see :func:`room`): a snapshot brought up to date from
this one maps them copy-on-write and appends in place (:mod:`cmdb.topology_delta`)."""


def room(size: int) -> int:
    """The capacity an array of ``size`` entries is saved with. The room past ``size`` is a
    hole in the file (no disk, no page cache until written).

    >>> room(0), room(1_000_000)
    (4096, 1129096)
    """
    return size + size // 8 + 4096


def _save_roomy(path: Path, array: np.ndarray, capacity: int) -> None:
    """``np.save`` of ``array`` as an array of ``capacity`` entries, the rest zeros (a hole)."""
    header = {
        "descr": np.lib.format.dtype_to_descr(array.dtype),
        "fortran_order": False,
        "shape": (capacity,),
    }
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        array.tofile(f)
        f.truncate(f.tell() + (capacity - array.size) * array.itemsize)


@dataclass(frozen=True, eq=False)
class CSR:
    """Compressed sparse rows: the neighbours of ``i`` are ``indices[starts[i]:ends[i]]``.

    A *packed* CSR (built, or loaded) has its rows in order with nothing between them:
    ``starts`` and ``ends`` are views of one array of n + 1 bounds, :attr:`indptr`. A
    *patched* one (:mod:`cmdb.topology_delta`) moved each row that grew to the end of
    ``indices``, so rows lie in any order with unused entries between them; it has no
    ``indptr`` until :meth:`packed`. ``nnz`` counts the entries in rows.

    >>> c = CSR.packed_from(np.array([0, 2, 2, 3]), np.array([1, 2, 0], np.int32))
    >>> c.row(0).tolist(), c.degree().tolist(), c.nnz
    ([1, 2], [2, 0, 1], 3)
    >>> p = CSR(np.array([3, 2, 2]), np.array([5, 2, 3]), np.array([1, 2, 0, 1, 2], np.int32), 3)
    >>> p.row(0).tolist(), p.packed().indptr.tolist(), p.packed().indices.tolist()
    ([1, 2], [0, 2, 2, 3], [1, 2, 0])
    """

    starts: np.ndarray
    ends: np.ndarray
    indices: np.ndarray
    nnz: int
    bounds: np.ndarray | None = None  # packed: the n + 1 bounds

    @classmethod
    def packed_from(cls, indptr: np.ndarray, indices: np.ndarray) -> CSR:
        """The packed CSR of ``indptr`` (n + 1 bounds, from 0 to ``indices.size``)."""
        return cls(indptr[:-1], indptr[1:], indices, int(indices.size), indptr)

    @classmethod
    def from_edges(cls, n: int, frm: np.ndarray, to: np.ndarray) -> CSR:
        order = np.argsort(frm, kind="stable")
        counts = np.bincount(frm, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls.packed_from(indptr, to[order].astype(np.int32, copy=False))

    @property
    def n(self) -> int:
        return int(self.starts.size)

    @property
    def indptr(self) -> np.ndarray:
        """The n + 1 row bounds of a packed CSR; ValueError for a patched one."""
        if self.bounds is None:
            raise ValueError("a patched CSR has no indptr: use packed()")
        return self.bounds

    def packed(self) -> CSR:
        """This CSR with its rows in order and nothing between them (itself if packed)."""
        if self.bounds is not None:
            return self
        counts = self.ends - self.starts
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return CSR.packed_from(indptr, _runs(self.indices, self.starts, counts))

    def row(self, i: int) -> np.ndarray:
        return self.indices[self.starts[i] : self.ends[i]]

    def degree(self) -> np.ndarray:
        return self.ends - self.starts

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of every row in ``rows``: (the row each came from, the neighbour)."""
        starts = self.starts[rows]
        counts = self.ends[rows] - starts
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int32)
            return empty, empty
        return np.repeat(rows, counts), _runs(self.indices, starts, counts)


def _runs(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values[starts[i] : starts[i] + counts[i]]`` for every i, concatenated."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, values.dtype)
    ends = np.cumsum(counts)
    at = np.repeat(starts - (ends - counts), counts) + np.arange(total, dtype=np.int64)
    return values[at]


@dataclass(eq=False)
class Topology:
    """A read-only snapshot of the graph. Build it with :meth:`build`; never mutate it.

    ``version`` is the store's *graph version* it was built at: it moves only with writes that
    change what a snapshot holds (CIs created or retired, their class, status, criticality,
    k, availability or last-seen; relationships), not with incidents, changes or a new owner.
    ``seq`` and ``mark`` say which history it reflects, so that a store can bring it up to date
    from the history written since (:mod:`cmdb.topology_delta`); ``rown`` holds the SQLite
    store's row numbers, the order its nodes are in (None: the nodes are in id order)."""

    version: int
    class_names: tuple[str, ...]
    rel_type_names: tuple[str, ...]
    propagation: tuple[Propagation, ...]
    ids: Ids  # a read-only list of str with no object per CI (cmdb.topology_ids)
    class_code: np.ndarray
    is_group: np.ndarray
    min_required: np.ndarray
    criticality: np.ndarray
    last_seen: np.ndarray
    availability: np.ndarray
    in_service: np.ndarray  # False for lifecycle planned or build: never affected
    src: np.ndarray
    dst: np.ndarray
    rtype: np.ndarray
    class_categories: tuple[str, ...] = ()
    store_id: str = ""
    seq: int = 0  # the store's last history entry this snapshot reflects (0: unknown)
    mark: str = ""  # how the store tells this state apart from a diverged copy's ("": unknown)
    rown: np.ndarray | None = None  # the store's sort key of each node, when not its id
    _csr: dict[str, CSR] = field(default_factory=dict, repr=False)
    _files: Path | None = field(default=None, repr=False, init=False)  # loaded from there
    _type_counts: np.ndarray | None = field(default=None, repr=False)  # see type_counts()
    _derived: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # see derived()

    @classmethod
    def build(
        cls,
        *,
        version: int,
        class_names: Sequence[str],
        rel_type_names: Sequence[str],
        propagation: Sequence[str],
        ids: Sequence[str] | Ids,
        class_code: Iterable[int],
        is_group: Iterable[bool],
        min_required: Iterable[int],
        src: Iterable[int],
        dst: Iterable[int],
        rtype: Iterable[int],
        criticality: Iterable[int] | None = None,
        last_seen: Iterable[float] | None = None,
        availability: Iterable[float] | None = None,
        in_service: Iterable[bool] | None = None,
        class_categories: Sequence[str] | None = None,
        store_id: str = "",
        seq: int = 0,
        mark: str = "",
        rown: np.ndarray | None = None,
    ) -> Topology:
        """Make a snapshot from plain sequences. ``criticality`` is the rank (1 low .. 4
        critical, default 2); ``last_seen`` is epoch seconds (NaN: never seen);
        ``availability`` NaN means "use the class default"; ``in_service`` is False for a CI
        not in service yet (lifecycle planned or build; default True); ``class_categories``
        runs parallel to ``class_names`` (default: no category, ``""``); ``store_id`` names the
        store the snapshot was read from; ``seq``, ``mark`` and ``rown``: see the class.
        ``ids`` is a list of unique strings or an :class:`~cmdb.topology_ids.Ids` (kept as
        it is); ValueError names a duplicate."""
        n = len(ids)
        categories = (
            tuple(class_categories) if class_categories is not None else (("",) * len(class_names))
        )
        if len(categories) != len(class_names):
            raise ValueError("class_categories must run parallel to class_names")

        def arr(values, dtype, default):
            if values is None:
                return np.full(n, default, dtype=dtype)
            a = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype)
            return a.reshape(n) if a.size == n else a

        return cls(
            version=version,
            class_names=tuple(class_names),
            rel_type_names=tuple(rel_type_names),
            propagation=tuple(Propagation(p) for p in propagation),
            ids=Ids.from_list(ids),
            class_code=arr(class_code, np.int16, 0),
            is_group=arr(is_group, np.bool_, False),
            min_required=arr(min_required, np.int32, 0),
            criticality=arr(criticality, np.int8, 2),
            last_seen=arr(last_seen, np.float64, np.nan),
            availability=arr(availability, np.float64, np.nan),
            in_service=arr(in_service, np.bool_, True),
            src=np.asarray(list(src) if not isinstance(src, np.ndarray) else src, np.int32),
            dst=np.asarray(list(dst) if not isinstance(dst, np.ndarray) else dst, np.int32),
            rtype=np.asarray(list(rtype) if not isinstance(rtype, np.ndarray) else rtype, np.int16),
            class_categories=categories,
            store_id=store_id,
            seq=seq,
            mark=mark,
            rown=None if rown is None else np.asarray(rown, np.int64).reshape(n),
        )

    # -- identity ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def m(self) -> int:
        return int(self.src.size)

    def index(self, ci_id: str) -> int:
        """The node number of ``ci_id``; :class:`NotFoundError` if it is not in the snapshot.

        A loaded snapshot looks ids up in its saved hash table; one built in memory scans the
        id blob for its first few look-ups and builds the table when more follow."""
        i = self.ids.find(ci_id) if isinstance(ci_id, str) else -1
        if i < 0:
            raise NotFoundError("CI", ci_id)
        return i

    def __contains__(self, ci_id: object) -> bool:
        return ci_id in self.ids

    def class_of(self, i: int) -> str:
        return self.class_names[int(self.class_code[i])]

    def class_mask(self, *names: str) -> np.ndarray:
        """A boolean mask of the nodes whose class is one of ``names``."""
        codes = [self.class_names.index(c) for c in names if c in self.class_names]
        return np.isin(self.class_code, np.asarray(codes, dtype=np.int16))

    def category_mask(self, *categories: str) -> np.ndarray:
        """A boolean mask of the nodes whose class belongs to one of the registry
        ``categories`` (see ``class_categories``)."""
        table = np.asarray([c in categories for c in self.class_categories], dtype=bool)
        codes = np.flatnonzero(table)
        if codes.size > 3:
            return table[self.class_code]
        mask = np.zeros(self.n, dtype=bool)
        for code in codes.tolist():  # a comparison per class is ~5x cheaper than the gather
            mask |= self.class_code == code
        return mask

    def type_codes(self, names: Iterable[str]) -> np.ndarray:
        return np.asarray(
            [self.rel_type_names.index(t) for t in names if t in self.rel_type_names], np.int16
        )

    # -- impact structure -------------------------------------------------------------------
    def impact_edges(self, types: Iterable[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Hard impact edges ``(frm, to)``: a failure of ``frm`` impacts ``to``. Restricted to
        relationship ``types`` when given."""
        keep_src = np.zeros(len(self.rel_type_names), dtype=bool)
        keep_tgt = np.zeros(len(self.rel_type_names), dtype=bool)
        for code, prop in enumerate(self.propagation):
            keep_src[code] = prop is Propagation.TO_SOURCE
            keep_tgt[code] = prop is Propagation.TO_TARGET
        if types is not None:
            allowed = np.zeros(len(self.rel_type_names), dtype=bool)
            allowed[self.type_codes(types)] = True
            keep_src &= allowed
            keep_tgt &= allowed
        to_src = keep_src[self.rtype]
        to_tgt = keep_tgt[self.rtype]
        frm = np.concatenate([self.dst[to_src], self.src[to_tgt]])
        to = np.concatenate([self.src[to_src], self.dst[to_tgt]])
        return frm, to

    def type_counts(self) -> np.ndarray:
        """How many edges each relationship type has (parallel to ``rel_type_names``); saved
        in the manifest, so that a cold process knows which types are absent without reading
        the edges."""
        if self._type_counts is None:
            self._type_counts = np.bincount(self.rtype, minlength=len(self.rel_type_names))
        return self._type_counts

    def soft_edges(self, types: Iterable[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Soft impact edges ``(frm, to)``: a failure of ``frm`` degrades ``to`` (types of
        propagation ``soft``, read like ``to_source``). Restricted to ``types`` when given."""
        keep = np.asarray([p is Propagation.SOFT for p in self.propagation], dtype=bool)
        if types is not None:
            allowed = np.zeros(len(self.rel_type_names), dtype=bool)
            allowed[self.type_codes(types)] = True
            keep &= allowed
        if not keep.any() or not self.type_counts()[keep].any():
            empty = np.empty(0, dtype=np.int32)
            return empty, empty
        sel = np.flatnonzero(keep[self.rtype])  # by index: no soft edge costs one pass
        return self.dst[sel], self.src[sel]

    def membership_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """``(member, group)`` pairs, for groups only (membership of a non-group is ignored)."""
        codes = [i for i, p in enumerate(self.propagation) if p is Propagation.MEMBERSHIP]
        mask = np.isin(self.rtype, np.asarray(codes, dtype=np.int16))
        member, group = self.src[mask], self.dst[mask]
        ok = self.is_group[group]
        return member[ok], group[ok]

    def _get(self, name: str, build) -> CSR:
        csr = self._csr.get(name)
        if csr is None:
            csr = self._csr[name] = build()
        return csr

    @property
    def dependents(self) -> CSR:
        """Row ``i``: the nodes a failure of ``i`` impacts directly (hard edges)."""
        return self._get("dependents", lambda: CSR.from_edges(self.n, *self.impact_edges()))

    @property
    def dependencies(self) -> CSR:
        """Row ``i``: the nodes whose failure impacts ``i`` directly (hard edges)."""

        def build() -> CSR:
            frm, to = self.impact_edges()
            return CSR.from_edges(self.n, to, frm)

        return self._get("dependencies", build)

    @property
    def groups(self) -> CSR:
        """Row ``i``: the redundancy groups that ``i`` is a member of."""
        return self._get("groups", lambda: CSR.from_edges(self.n, *self.membership_edges()))

    @property
    def members(self) -> CSR:
        """Row ``g``: the members of redundancy group ``g``."""

        def build() -> CSR:
            member, group = self.membership_edges()
            return CSR.from_edges(self.n, group, member)

        return self._get("members", build)

    def k_required(self) -> np.ndarray:
        """k for every node: ``min_required`` for groups (at least 1), 0 elsewhere."""
        k = np.where(self.is_group, np.maximum(self.min_required, 1), 0)
        return k.astype(np.int32)

    # -- derived arrays, saved with the snapshot so that a cold process maps them ------------
    def derived(self, name: str) -> np.ndarray | None:
        """The derived array ``name`` if it is computed or was loaded, else None (free)."""
        return self._derived.get(name)

    def nonempty_rows(self, name: str) -> np.ndarray:
        """The rows of CSR ``name`` that have neighbours, ascending (int32)."""
        got = self._derived.get(f"{name}.rows")
        if got is None:
            rows = np.flatnonzero(getattr(self, name).degree()).astype(np.int32)
            got = self._derived[f"{name}.rows"] = rows
        return got

    def group_slack(self) -> np.ndarray:
        """Per node, its members minus k (int32): a group is down once more than that many of
        its members are; below 0, it has fewer members than k."""
        got = self._derived.get("slack")
        if got is None:
            slack = (self.members.degree() - self.k_required()).astype(np.int32)
            got = self._derived["slack"] = slack
        return got

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, *, tag: str = "") -> None:
        """Publish the snapshot, with its derived adjacency, as the new directory ``path``: one
        ``.npy`` file per array and a ``manifest.json`` (key, names, shapes, dtypes), written
        under a temporary name, manifest last, then renamed into place in one step. ``tag`` is
        an opaque part of the key (a store puts its registry fingerprint there). A published
        directory is never changed: :class:`FileExistsError` if ``path`` exists."""
        for name in _CSRS:
            getattr(self, name)
        self.nonempty_rows("dependents"), self.nonempty_rows("groups"), self.group_slack()
        ids_hash, ids_order = self.ids.table()
        arrays = {"ids": self.ids.blob, "ids.offsets": self.ids.offsets}
        arrays.update({"ids.hash": ids_hash, "ids.order": ids_order})
        arrays.update((f"derived.{name}", a) for name, a in self._derived.items())
        arrays.update((name, getattr(self, name)) for name in _ARRAYS)
        if self.rown is not None:
            arrays["rown"] = self.rown
        for name, csr in self._csr.items():
            packed = csr.packed()
            arrays[f"{name}.indptr"] = packed.indptr
            arrays[f"{name}.indices"] = packed.indices
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists: a published snapshot is never replaced")
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
        try:
            specs = {}
            for name, array in arrays.items():
                array = np.ascontiguousarray(array)
                spec: dict[str, Any] = {"dtype": array.dtype.str, "shape": list(array.shape)}
                specs[name] = spec
                if (name in _ROOMY or name.startswith("derived.")) and array.ndim == 1:
                    spec["capacity"] = room(array.size)
                    _save_roomy(tmp / f"{name}.npy", array, room(array.size))
                else:
                    np.save(tmp / f"{name}.npy", array)
            manifest = {
                "format": _FORMAT,
                "store_id": self.store_id,
                "version": self.version,
                "seq": self.seq,
                "mark": self.mark,
                "tag": tag,
                "n": self.n,
                "m": self.m,
                "class_names": list(self.class_names),
                "class_categories": list(self.class_categories),
                "rel_type_names": list(self.rel_type_names),
                "propagation": [p.value for p in self.propagation],
                "arrays": specs,
                "type_counts": self.type_counts().tolist(),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest))
            os.rename(tmp, path)  # fails if another process published ``path`` meanwhile
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        store_id: str | None = None,
        version: int | None = None,
        tag: str | None = None,
    ) -> Topology | None:
        """Read a snapshot written by :meth:`save`, memory-mapped (pages load on first touch).

        None if it is missing or partial (a file removed under the reader), of another format,
        of another key than the ``store_id``, ``version`` and ``tag`` given, or if any array
        differs from the manifest in shape or dtype. No checksum: published directories are
        immutable, so the checks are the manifest's and cost nothing per CI."""
        path = Path(path)
        try:
            man = json.loads((path / MANIFEST).read_text())
            if man["format"] != _FORMAT:
                return None
            for key, want in (("store_id", store_id), ("version", version), ("tag", tag)):
                if want is not None and man[key] != want:
                    return None
            n, m, specs = int(man["n"]), int(man["m"]), man["arrays"]

            def arr(
                name: str, dtype: type, shape: tuple[int, ...] | None, mmap: bool = True
            ) -> np.ndarray:
                a = np.load(path / f"{name}.npy", mmap_mode="r" if mmap else None)
                a = a.view(np.ndarray)  # a plain view: np.memmap's own indexing is slow
                spec = specs[name]
                if "capacity" in spec:  # saved with room at the end: the used entries
                    if a.shape != (int(spec["capacity"]),) or len(spec["shape"]) != 1:
                        raise ValueError(f"{name}: not as the manifest says")
                    a = a[: int(spec["shape"][0])]
                if (
                    a.dtype != np.dtype(dtype)
                    or a.dtype.str != spec["dtype"]
                    or list(a.shape) != spec["shape"]
                    or (shape and a.shape != shape)
                ):
                    raise ValueError(f"{name}: not as the manifest says")
                return a

            order_dt = np.int32 if n < 2**31 else np.int64
            ids = Ids(
                arr("ids", np.uint8, None),
                arr("ids.offsets", np.int64, (n + 1,)),
                hashes_sorted=arr("ids.hash", np.uint64, (n,)),
                order=arr("ids.order", order_dt, (n,)),
            )
            names, categories = tuple(man["class_names"]), tuple(man["class_categories"])
            types, props = tuple(man["rel_type_names"]), tuple(man["propagation"])
            if len(categories) != len(names) or len(props) != len(types):
                return None
            columns: dict[str, Any] = {
                name: arr(name, dt, (n,)) for name, dt in _NODE_ARRAYS.items()
            }
            columns.update((name, arr(name, dt, (m,))) for name, dt in _EDGE_ARRAYS.items())
            if "rown" in specs:
                columns["rown"] = arr("rown", np.int64, (n,))
            topo = cls(
                version=int(man["version"]),
                class_names=names,
                rel_type_names=types,
                propagation=tuple(Propagation(p) for p in props),
                ids=ids,
                class_categories=categories,
                store_id=str(man["store_id"]),
                seq=int(man["seq"]),
                mark=str(man["mark"]),
                **columns,
            )
            for name in _CSRS:
                if f"{name}.indptr" in specs:
                    indptr = arr(f"{name}.indptr", np.int64, (n + 1,))
                    indices = arr(f"{name}.indices", np.int32, None)
                    if int(indptr[0]) != 0 or int(indptr[-1]) != indices.size:
                        return None
                    topo._csr[name] = CSR.packed_from(indptr, indices)
            for name in specs:
                if name.startswith("derived."):
                    shape = (n,) if name == "derived.slack" else None
                    topo._derived[name.removeprefix("derived.")] = arr(name, np.int32, shape)
            topo._files = path
            counts = man.get("type_counts")
            if isinstance(counts, list) and len(counts) == len(types):
                topo._type_counts = np.asarray(counts, np.int64)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return topo
