"""The CI ids of a topology snapshot, with no Python object per CI.

Assumptions: ids are ``str`` (any Unicode; the store's own are short ASCII), stored UTF-8 in
one byte blob with ``n + 1`` int64 offsets, so id ``i`` is ``blob[offsets[i]:offsets[i + 1]]``.
A million generated ids cost 17 MB (29 MB with the hash table) instead of ~70 MB of ``str``
objects and list slots, and loading a snapshot decodes
nothing: a string is made only when an id is read. Look-up by id goes through a hash table kept
as two arrays (the ids' 64-bit FNV-1a hashes, sorted, and the permutation that sorts them),
which a snapshot saves beside the blob; a sequence built in memory scans the blob for its first
few look-ups (a regular expression over the blob's buffer, milliseconds at a million CIs) and
builds the table (vectorised, ~0.1 s at a million) only when more follow. Ids are unique:
building from duplicates raises.

:class:`Ids` behaves as a read-only list: ``len``, indexing by int, slice or int array,
iteration, ``in``, ``index`` (ValueError when missing), ``+`` with a list, equality with a list.
:meth:`Ids.drop` and :meth:`Ids.insert` make new ids from slices of the blob (a snapshot's
renumbering: no string per CI), carrying the hash table over when it is asked for.

>>> ids = Ids.from_list(["app", "db-1", "ünïcode"])
>>> len(ids), ids[1], ids[-1], ids[0:2], ids[np.array([2, 0])]
(3, 'db-1', 'ünïcode', ['app', 'db-1'], ['ünïcode', 'app'])
>>> ids.index("db-1"), "nope" in ids, ids == ["app", "db-1", "ünïcode"]
(1, False, True)
>>> (ids + ["x"]).tolist()
['app', 'db-1', 'ünïcode', 'x']
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

__all__ = ["Ids"]

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
_SCANS_BEFORE_TABLE = 8
_CHECK_EACH = 4096  # up to this many ids appended are looked up one by one, not re-hashed
_CHUNK = 1 << 16  # ids decoded at a time when iterating
_GATHER_MIN = 64  # from this many ids on, one gather and one decode beat a decode per id


def _hash_one(key: bytes) -> int:
    """FNV-1a of ``key``, seeded with its length (as :func:`hashes` computes it per id).

    >>> _hash_one(b"a") == int(hashes(np.frombuffer(b"a", np.uint8), np.array([0, 1]))[0])
    True
    """
    h = _FNV_OFFSET ^ len(key)
    for b in key:
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def hashes(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The 64-bit hash of every id of ``blob`` / ``offsets`` (uint64), one numpy pass per byte
    position: the rows still longer than the position take part."""
    start = offsets[:-1]
    length = np.diff(offsets)
    h = np.full(start.size, _FNV_OFFSET, np.uint64) ^ length.astype(np.uint64)
    prime = np.uint64(_FNV_PRIME)
    rows: np.ndarray | None = None  # None: every row
    for j in range(int(length.max()) if length.size else 0):
        if rows is None and j >= int(length.min()):
            rows = np.flatnonzero(length > j)
        elif rows is not None:
            rows = rows[length[rows] > j]
        if rows is None:
            h ^= blob[start + j]
            h *= prime
        else:
            h[rows] = (h[rows] ^ blob[start[rows] + j]) * prime
    return h


def _gather_split(blob: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The strings ``blob[starts[i]:ends[i]]``: their bytes gathered with a newline after
    each (numpy), decoded once and split (no id may hold a newline).

    >>> _gather_split(np.frombuffer(b"abcde", np.uint8), np.array([3, 0, 2]), np.array([5, 2, 2]))
    ['de', 'ab', '']
    """
    lens = ends - starts
    stop = np.cumsum(lens + 1)  # one past each id's newline in the output
    total = int(stop[-1])
    at = np.repeat(starts - (stop - lens - 1), lens + 1)
    at += np.arange(total, dtype=np.int64)
    np.minimum(at, max(blob.size - 1, 0), out=at)  # the newline slots: overwritten below
    out = blob[at] if blob.size else np.zeros(total, np.uint8)
    out[stop - 1] = 10
    return out[:-1].tobytes().decode().split("\n")


_Table = tuple[np.ndarray, np.ndarray]
_Pending = Callable[[], _Table]


def _table_without(h: np.ndarray, order: np.ndarray, gone: np.ndarray, n: int) -> _Table:
    """Look-up table ``h`` / ``order`` of ``n`` ids less the positions ``gone`` (ascending).

    >>> h, order = _table_without(np.array([5, 7, 9]), np.array([2, 0, 1]), np.array([0]), 3)
    >>> h.tolist(), order.tolist()
    ([5, 9], [1, 0])
    """
    dead = np.zeros(n, bool)
    dead[gone] = True
    keep = ~dead[order]
    kept = order[keep]
    return h[keep], (kept - np.searchsorted(gone, kept)).astype(order.dtype)


def _table_with(h: np.ndarray, order: np.ndarray, where: np.ndarray, add: np.ndarray) -> _Table:
    """Look-up table ``h`` / ``order`` with ids of hashes ``add`` put before positions
    ``where`` (ascending, as :meth:`Ids.insert` puts them; equal hashes in any order).

    >>> h, order = _table_with(np.array([5, 9]), np.array([1, 0]), np.array([1]), np.array([7]))
    >>> h.tolist(), order.tolist()
    ([5, 7, 9], [2, 1, 0])
    """
    by_hash = np.argsort(add, kind="stable")
    slot = np.searchsorted(h, add[by_hash])
    moved = order + np.searchsorted(where, order, side="right")
    nodes = (where + np.arange(where.size))[by_hash]
    dtype = np.int32 if order.size + where.size < 2**31 else np.int64
    return np.insert(h, slot, add[by_hash]), np.insert(moved, slot, nodes).astype(dtype)


class Ids(Sequence[str]):
    """A read-only list of unique ids over a UTF-8 blob and offsets; see the module."""

    __slots__ = (
        "_blob",
        "_buf",
        "_hash",
        "_n",
        "_newline",
        "_off",
        "_order",
        "_pending",
        "_scans",
    )

    def __init__(
        self,
        blob: np.ndarray,
        offsets: np.ndarray,
        *,
        hashes_sorted: np.ndarray | None = None,
        order: np.ndarray | None = None,
    ) -> None:
        """Wrap arrays as they are (a snapshot's memory-mapped ones). ``hashes_sorted`` and
        ``order`` are the look-up table (:meth:`table`); None: built when needed. Not checked
        for duplicates: use :meth:`from_list` for ids from elsewhere."""
        if offsets.ndim != 1 or offsets.size < 1 or blob.ndim != 1:
            raise ValueError("ids: offsets must be n + 1 positions into a flat blob")
        if int(offsets[0]) != 0 or int(offsets[-1]) != blob.size:
            raise ValueError("ids: the offsets do not span the blob")
        self._blob = blob
        self._buf = blob.data.cast("B") if blob.size else memoryview(b"")
        self._off = offsets
        self._n = offsets.size - 1
        if (hashes_sorted is None) != (order is None):
            raise ValueError("ids: the hash table needs both its hashes and its order")
        if hashes_sorted is not None and (
            hashes_sorted.shape != (self._n,) or getattr(order, "shape", None) != (self._n,)
        ):
            raise ValueError("ids: the hash table does not match the ids")
        self._hash = hashes_sorted
        self._order = order
        self._scans = 0
        self._newline: bool | None = None
        self._pending: _Pending | None = None  # the table, carried when asked for

    @classmethod
    def from_list(cls, ids: Iterable[str]) -> Ids:
        """Ids from strings; ValueError naming the first duplicate."""
        if isinstance(ids, Ids):
            return ids
        items = ids if isinstance(ids, list) else list(ids)
        encoded = [s.encode() for s in items]
        blob = np.frombuffer(b"".join(encoded), np.uint8)
        offsets = np.zeros(len(encoded) + 1, np.int64)
        if encoded:
            np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
        if len(set(items)) != len(items):
            seen: set[str] = set()
            dup = next(s for s in items if s in seen or seen.add(s))  # type: ignore[func-returns-value]
            raise ValueError(f"ids: {dup!r} appears more than once")
        return cls(blob, offsets)

    @classmethod
    def from_blob(cls, blob: np.ndarray, offsets: np.ndarray) -> Ids:
        """Ids from a UTF-8 blob and offsets built elsewhere (the generator's); checks that
        they are unique and build the table (ValueError naming the first duplicate)."""
        out = cls(np.ascontiguousarray(blob, np.uint8), np.asarray(offsets, np.int64))
        out._check_unique()
        return out

    def _check_unique(self) -> None:
        h, order = self.table()
        same = np.flatnonzero(h[1:] == h[:-1])  # runs of equal hashes: tiny, mostly none
        for k in same.tolist():
            names = self.take(order[k : int(np.searchsorted(h, h[k], side="right"))])
            if len(set(names)) < len(names):
                dup = next(s for s in names if names.count(s) > 1)
                raise ValueError(f"ids: {dup!r} appears more than once")

    # -- the arrays -------------------------------------------------------------------------
    @property
    def blob(self) -> np.ndarray:
        return self._blob

    @property
    def offsets(self) -> np.ndarray:
        return self._off

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """(the ids' hashes, ascending; the permutation of node numbers that sorts them),
        built on first use unless given (or carried over from the ids these were cut from)."""
        if (self._hash is None or self._order is None) and self._pending is not None:
            self._hash, self._order = self._pending()
            self._pending = None
        if self._hash is None or self._order is None:
            h = hashes(self._blob, self._off)
            dtype = np.int32 if self._n < 2**31 else np.int64
            order = np.argsort(h, kind="stable").astype(dtype, copy=False)
            self._hash, self._order = h[order], order
        return self._hash, self._order

    @property
    def nbytes(self) -> int:
        extra = 0 if self._hash is None or self._order is None else self._hash.nbytes
        return (
            self._blob.nbytes
            + self._off.nbytes
            + extra
            + (0 if self._order is None else self._order.nbytes)
        )

    # -- list behaviour ---------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def _one(self, i: int) -> str:
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("ids index out of range")
        s, e = self._off[i : i + 2].tolist()
        return str(self._buf[s:e], "utf-8")

    @overload
    def __getitem__(self, i: int | np.integer) -> str: ...

    @overload
    def __getitem__(self, i: slice | np.ndarray) -> list[str]: ...

    def __getitem__(self, i: Any) -> Any:
        """An int (numpy ints too) gives the id; a slice or an int array gives a list."""
        if isinstance(i, slice):
            return self.take(np.arange(*i.indices(self._n), dtype=np.int64))
        if isinstance(i, np.ndarray) and i.ndim == 1:
            return self.take(i)
        return self._one(operator.index(i))

    def take(self, nodes: np.ndarray | Sequence[int]) -> list[str]:
        """The ids of ``nodes`` (node numbers, negative ones from the end), as a list."""
        idx = np.asarray(nodes, np.int64)
        if idx.size == 0:
            return []
        idx = np.where(idx < 0, idx + self._n, idx)
        if int(idx.min()) < 0 or int(idx.max()) >= self._n:
            raise IndexError("ids index out of range")
        starts, ends = self._off[idx], self._off[idx + 1]
        if idx.size >= _GATHER_MIN and not self._has_newline():
            return _gather_split(self._blob, starts, ends)
        buf = self._buf
        return [str(buf[s:e], "utf-8") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]

    def _has_newline(self) -> bool:
        """Whether some id holds a newline (then :func:`_gather_split` cannot cut at them)."""
        if self._newline is None:
            self._newline = re.search(b"\n", self._buf) is not None
        return self._newline

    def __iter__(self) -> Iterator[str]:
        for lo in range(0, self._n, _CHUNK):
            yield from self.take(np.arange(lo, min(lo + _CHUNK, self._n), dtype=np.int64))

    def tolist(self) -> list[str]:
        return list(self)

    def drop(self, removed: np.ndarray | Sequence[int]) -> Ids:
        """These ids without the positions ``removed`` (ascending, distinct), built from blob
        slices: no string per CI; the look-up table, when built, is carried over.

        >>> Ids.from_list(["a", "bb", "c", "dd"]).drop([0, 2]).tolist()
        ['bb', 'dd']
        """
        gone = np.asarray(removed, np.int64)
        if gone.size == 0:
            return self
        if int(gone.min()) < 0 or int(gone.max()) >= self._n or np.any(np.diff(gone) <= 0):
            raise IndexError("ids: positions to drop must be ascending, distinct, in range")
        cuts = np.stack([self._off[gone], self._off[gone + 1]], axis=1).ravel().tolist()
        bounds = [0, *cuts, int(self._off[-1])]
        pieces = [self._blob[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]
        lens = np.delete(np.diff(self._off), gone)
        offsets = np.zeros(lens.size + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        out = Ids(np.concatenate(pieces), offsets)
        n = self._n  # the closure holds no reference to these ids
        out._pending = self._carry(lambda h, order: _table_without(h, order, gone, n))
        return out

    def insert(self, at: np.ndarray | Sequence[int], values: Sequence[str]) -> Ids:
        """These ids with ``values[i]`` put before position ``at[i]`` (ascending; ``len(self)``
        appends), built from blob slices, the look-up table, when built, carried over with the
        values' hashes added; ValueError on a duplicate.

        >>> Ids.from_list(["b", "d"]).insert([0, 1, 2], ["a", "c", "e"]).tolist()
        ['a', 'b', 'c', 'd', 'e']
        """
        where = np.asarray(at, np.int64)
        if where.size != len(values):
            raise ValueError("ids: one position per value to insert")
        if where.size == 0:
            return self
        if int(where.min()) < 0 or int(where.max()) > self._n or np.any(np.diff(where) < 0):
            raise IndexError("ids: insert positions must be ascending and in range")
        new = Ids.from_list(values)
        cut = self._off[where].tolist()
        pieces, prev = [], 0
        for k, c in enumerate(cut):
            pieces += [self._blob[prev:c], new._blob[new._off[k] : new._off[k + 1]]]
            prev = c
        pieces.append(self._blob[prev:])
        lens = np.insert(np.diff(self._off), where, np.diff(new._off))
        offsets = np.zeros(lens.size + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        out = Ids(np.concatenate(pieces), offsets)
        out._pending = self._carry(
            lambda h, order: _table_with(h, order, where, hashes(new._blob, new._off))
        )
        if len(new) > _CHECK_EACH:
            out._check_unique()
        else:
            self._reject_shared(values)
        return out

    def _carry(self, edit: Callable[[np.ndarray, np.ndarray], _Table]) -> _Pending | None:
        """This look-up table passed through ``edit`` when asked for (None: it is not built,
        nor carried): holds the table's arrays, never these ids' blob."""
        h, order, pending = self._hash, self._order, self._pending
        if h is not None and order is not None:
            return lambda: edit(h, order)
        if pending is not None:
            return lambda: edit(*pending())
        return None

    def _reject_shared(self, values: Iterable[str]) -> None:
        """ValueError naming the first of ``values`` that is one of these ids."""
        for v in values:
            if v in self:
                raise ValueError(f"ids: {v!r} appears more than once")

    def __add__(self, other: Iterable[str]) -> Ids:
        """These ids then ``other``'s (a new :class:`Ids`; ValueError on a duplicate)."""
        tail = Ids.from_list(other)
        if len(tail) == 0:
            return self
        blob = np.concatenate([self._blob, tail._blob])
        offsets = np.concatenate([self._off, tail._off[1:] + self._off[-1]])
        out = Ids(blob, offsets)
        if len(tail) > _CHECK_EACH:
            out._check_unique()
        else:  # each part is unique on its own
            self._reject_shared(tail)
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ids):
            return (
                self._n == other._n
                and np.array_equal(self._off, other._off)
                and np.array_equal(self._blob, other._blob)
            )
        if isinstance(other, list | tuple):
            return len(other) == self._n and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(s) for s in self.take(np.arange(min(self._n, 3))))
        return f"Ids([{head}{', ...' if self._n > 3 else ''}], n={self._n})"

    # -- look-up ----------------------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.find(key) >= 0

    def index(self, key: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of ``key``; ValueError if it is not here (as ``list.index``)."""
        i = self.find(key) if isinstance(key, str) else -1
        if i < 0 or i < start or (stop is not None and i >= stop):
            raise ValueError(f"{key!r} is not in ids")
        return i

    def find(self, key: str) -> int:
        """The position of ``key``, or -1."""
        raw = key.encode()
        if self._hash is None and self._scans < _SCANS_BEFORE_TABLE:
            self._scans += 1
            return self._scan(raw)
        h, order = self.table()
        want = np.uint64(_hash_one(raw))
        at = int(np.searchsorted(h, want))
        while at < self._n and h[at] == want:
            i = int(order[at])
            s, e = self._off[i : i + 2].tolist()
            if self._buf[s:e] == raw:
                return i
            at += 1
        return -1

    def _scan(self, raw: bytes) -> int:
        """Find ``raw`` by scanning the blob, checking that a hit is a whole id."""
        off = self._off
        if not raw:
            empty = np.flatnonzero(off[1:] == off[:-1])
            return int(empty[0]) if empty.size else -1
        pattern = re.compile(re.escape(raw))  # searches the blob's buffer in place, no copy
        hit = pattern.search(self._buf)
        while hit is not None:
            at = hit.start()
            # the last id starting at or before ``at`` (empty ids before it share its start)
            i = int(np.searchsorted(off, at, side="right")) - 1
            if int(off[i]) == at and int(off[i + 1]) == at + len(raw):
                return i
            hit = pattern.search(self._buf, at + 1)
        return -1
