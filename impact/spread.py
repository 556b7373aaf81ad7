"""The blast-radius engine: the least fixpoint of failure states, level by level, with numpy.

Assumptions (the semantics of ``shared/vectors/impact/README.md``, stated in
:mod:`impact.blast`): down spreads first, along hard dependencies and to groups left with
fewer than k members up (per-group counters of down members); then groups with a member down but
still up are degraded, and so are the soft dependents of a down CI (relationship types of
propagation ``soft``); whatever needs a degraded or at-risk CI (hard or soft) is at risk. What
the failure changes is the difference with the states that ``assume_down`` (and groups too
small to ever be up) give alone.

Cost: no per-CI Python on the hot path. The n-sized work arrays come from the prepared
snapshot's pool and go back clean, so a query costs what its answer costs. A level touching a
large share of the graph switches to a flag array and one scan, and the level after it is
expanded from those flags over the rows that have neighbours only. At ten million CIs what
costs is memory traffic, so a large level never becomes one big array on the way: its
neighbours are scattered into the flags piece by piece (a mask over a piece's edges when many
of its rows are picked, runs of positions when few), and the scan goes piece by piece while
each is in cache and writes the level straight into the listing, one array from the first
large level on. A fresh array of tens of MB costs its page faults, and numpy copies every
32-bit index array it is given to 64 bits, so pieces keep those copies small and recycled.
The thresholds below decide only the cost and the order within a level
(small levels keep first-seen order, large ones come out ascending), never which CIs are
listed or their states.

>>> from cmdb.topology import Topology
>>> from impact.propagation import indices, prepare
>>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a", "b", "c"], class_code=[0, 0, 0],
...     is_group=[False] * 3, min_required=[0] * 3, src=[0, 1], dst=[1, 2], rtype=[0, 0])
>>> nodes, codes = solve(prepare(t), indices(t, ["c"]), indices(t, []))
>>> nodes.tolist(), codes.tolist()
([1, 0], [3, 3])
"""

from __future__ import annotations

import weakref

import numpy as np

from cmdb.topology import CSR
from impact.propagation import (
    AT_RISK,
    DEGRADED,
    DOWN,
    OK,
    SCAN_SHARE,
    Prepared,
    Rows,
    Scratch,
    neighbours,
    unique_in,
)

__all__ = ["solve"]

# A level whose expansion holds more than 1/FLAG_SHARE of the nodes (repeats included) is
# settled through a flag array: scattering flags and one scan beat gather, compare, compress.
FLAG_SHARE = 16
# A flagged frontier smaller than 1/EXPAND_SHARE of the rows with neighbours is expanded row by
# row; a larger one by picking those rows out of the flags, one sequential pass.
EXPAND_SHARE = 4
# Picked rows holding more than 1/EDGE_SHARE of a packed CSR's edges are expanded by masking
# every edge (np.repeat of the row flags, one compress: about 2 ns an edge) rather than by
# runs of positions (about 7 ns a neighbour).
EDGE_SHARE = 4

# Large arrays are scanned and scattered in pieces of CHUNK entries, so that numpy's
# temporaries (64-bit copies of indices, scan results) are small and recycled by the
# allocator: a fresh array of tens of MB costs its page faults, about 0.3 ms a MB here.
CHUNK = 2**18
# Scans go over the n-sized arrays in pieces of SCAN_CHUNK nodes, each piece worked on by
# every step while it is in cache.
SCAN_CHUNK = 2**16
# From this many rows on, an unflagged level's neighbours are left to be flagged or gathered
# (:class:`_Runs`); fewer are gathered at once.
RUNS_MIN = 1024
# The neighbours of a large flagged level are scattered into the flags in pieces of about
# EDGE_CHUNK edges of the CSR, never gathered into one array (which is only made when the next
# level turns out small).
EDGE_CHUNK = 2**17

_NEW = 9  # transient mark while settling a level
_ONE = np.int32(1)
_EMPTY = np.empty(0, dtype=np.int32)


def _bools(sc: Scratch) -> np.ndarray:
    """An n-sized boolean view of ``sc.mark`` (which holds anything between uses)."""
    return sc.mark.view(np.bool_)[: sc.state.size]


class _Listing:
    """The listed levels, in order: kept apart while they are small, written one after the
    other into one n-sized array from the first large one on, which a scan then writes its
    level into directly (no 64-bit result per level, no concatenation at the end)."""

    def __init__(self, n: int) -> None:
        self.n, self.used = n, 0
        self.parts: list[np.ndarray] = []
        self.buf: np.ndarray | None = None

    def add(self, level: np.ndarray) -> np.ndarray:
        """Append ``level`` (a level a scan wrote in place is counted by :meth:`took`)."""
        if self.buf is None:
            self.parts.append(level)
        else:
            self.buf[self.used : self.used + level.size] = level
            self.used += level.size
        return level

    def room(self) -> np.ndarray:
        """The free end of the array, made on first need (with the levels so far in it)."""
        if self.buf is None:
            self.buf = np.empty(self.n, np.int32)
            parts, self.parts = self.parts, []
            for part in parts:
                self.add(part)
        return self.buf[self.used :]

    def took(self, level: np.ndarray) -> np.ndarray:
        """Count ``level``, just written at the free end by a scan; return it."""
        self.used += level.size
        return level

    def listing(self) -> np.ndarray:
        """Every level in order (32-bit), a view of the array once it exists."""
        if self.buf is not None:
            return self.buf[: self.used]
        if len(self.parts) == 1:
            return self.parts[0].astype(np.int32, copy=False)
        return np.concatenate(self.parts, dtype=np.int32) if self.parts else _EMPTY


class _Setter:
    """Sets ``flags`` at the positions of index arrays, through one 64-bit buffer reused
    (numpy would make a new 64-bit copy of each 32-bit index array, then index slower)."""

    def __init__(self, flags: np.ndarray) -> None:
        self.flags, self.buf = flags, np.empty(0, np.intp)

    def __call__(self, at: np.ndarray) -> None:
        if at.dtype == np.intp:
            self.flags[at] = True
            return
        if self.buf.size < at.size:
            self.buf = np.empty(max(at.size, CHUNK), np.intp)
        wide = self.buf[: at.size]
        np.copyto(wide, at)
        self.flags[wide] = True


def _nonzero(flags: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``np.flatnonzero(flags)``, written into the start of ``out`` (32-bit) piece by piece
    when given: its view is returned.

    >>> _nonzero(np.array([0, 1, 1, 0, 1], bool), np.zeros(5, np.int32)).tolist()
    [1, 2, 4]
    """
    if out is None:
        return np.flatnonzero(flags)
    k = 0
    for lo in range(0, flags.size, SCAN_CHUNK):
        got = np.flatnonzero(flags[lo : lo + SCAN_CHUNK])
        np.add(got, lo, out=out[k : k + got.size])
        k += got.size
    return out[:k]


def settle(
    cand: np.ndarray, state: np.ndarray, code: int, sc: Scratch, out: _Listing | None = None
) -> np.ndarray:
    """Give the candidates ``code`` in ``state``; return them without repeats (appended to
    ``out`` when given). Large sets go through the state array and one scan (ascending
    result), small ones through ``sc.mark``."""
    if cand.size * SCAN_SHARE > state.size:
        state[cand] = _NEW
        seen = np.equal(state, _NEW, out=_bools(sc))
        fresh = _nonzero(seen, None if out is None else out.room())
        if out is not None:
            out.took(fresh)
    else:
        fresh = unique_in(cand, sc.mark)
        if out is not None:
            out.add(fresh)
    state[fresh] = code
    return fresh


def _runs(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values[starts[i] : starts[i] + counts[i]]`` for every i, concatenated; every count is
    at least 1. The positions are one cumulative sum of steps (1 within a run, a jump at its
    start), made 64-bit so that the gather does not widen them again.

    >>> _runs(np.arange(10, 20), np.array([1, 6, 2]), np.array([2, 1, 3])).tolist()
    [11, 12, 16, 12, 13, 14]
    """
    if not counts.size:
        return _EMPTY
    ends = np.cumsum(counts)
    at = np.ones(int(ends[-1]), dtype=np.intp)
    at[0] = starts[0]
    at[ends[:-1]] = starts[1:] - starts[:-1] - counts[:-1] + 1
    np.cumsum(at, out=at)
    return values[at]


_BOUNDS: weakref.WeakKeyDictionary[Rows, tuple[np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _pieces(r: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of pieces of about EDGE_CHUNK edges over the rows of a packed CSR: (row bounds,
    edge bounds), each with the two ends. Made once per :class:`Rows`."""
    found = _BOUNDS.get(r)
    if found is None:
        ends = np.zeros(r.rows.size + 1, np.int64)
        np.cumsum(r.counts, out=ends[1:])
        cuts = np.searchsorted(ends, np.arange(EDGE_CHUNK, int(ends[-1]), EDGE_CHUNK))
        # sorted already: drop repeats without np.unique, whose first call imports numpy.ma
        # (about 25 ms of a first query)
        rb = np.concatenate([[0], cuts, [r.rows.size]]).astype(np.int64)
        rb = rb[np.concatenate([[True], rb[1:] != rb[:-1]])]
        found = _BOUNDS[r] = (rb, ends[rb])
    return found


class _Picked:
    """The neighbours of the picked rows (``sel`` over ``r``) of a packed CSR, not gathered
    yet: a large level scatters them into its flags piece by piece (:meth:`flag`), a small
    one gathers them (:meth:`gather`), in row order either way."""

    def __init__(self, csr: CSR, r: Rows, sel: np.ndarray) -> None:
        self.csr, self.r, self.sel = csr, r, sel
        # how many: estimated as the picked rows times the mean row length (it decides only
        # the cost, and an exact sum costs a pass over the rows)
        self.size = np.count_nonzero(sel) * csr.nnz // max(r.rows.size, 1)

    def gather(self) -> np.ndarray:
        r, sel, values = self.r, self.sel, self.csr.indices
        if self.size * EDGE_SHARE > self.csr.nnz:
            # the rows' edges lie in row order, so the row flags repeated are an edge mask
            return values[np.repeat(sel, r.counts)]
        return _runs(values, r.starts[sel], r.counts[sel])

    def flag(self, flag: _Setter) -> None:
        r, sel, values = self.r, self.sel, self.csr.indices
        rb, eb = _pieces(r)
        for k in range(rb.size - 1):
            lo, hi = rb[k], rb[k + 1]
            s, counts = sel[lo:hi], r.counts[lo:hi]
            picked = np.count_nonzero(s)
            if not picked:
                continue
            if picked * EDGE_SHARE > hi - lo:  # rows picked stand for edges picked
                flag(values[eb[k] : eb[k + 1]][np.repeat(s, counts)])
            else:
                flag(_runs(values, r.starts[lo:hi][s], counts[s]))


class _Runs:
    """The neighbours of listed rows (their ``starts`` and ``counts``, every count at least 1)
    not gathered yet, like :class:`_Picked`: flagged in pieces of about EDGE_CHUNK, or
    gathered."""

    def __init__(self, values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> None:
        self.values, self.starts, self.counts = values, starts, counts
        self.size = int(counts.sum())

    def gather(self) -> np.ndarray:
        return _runs(self.values, self.starts, self.counts)

    def flag(self, flag: _Setter) -> None:
        ends = np.cumsum(self.counts)
        cuts = np.searchsorted(ends, np.arange(EDGE_CHUNK, self.size, EDGE_CHUNK))
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), self.counts.size], strict=True):
            if hi > lo:
                flag(_runs(self.values, self.starts[lo:hi], self.counts[lo:hi]))


_Part = np.ndarray | _Picked | _Runs


def _gather(part: _Part) -> np.ndarray:
    return part if isinstance(part, np.ndarray) else part.gather()


def _listed(csr: CSR, rows: np.ndarray) -> _Part:
    """``neighbours(csr, rows)``, left as :class:`_Runs` for many rows."""
    if rows.size < RUNS_MIN:
        return neighbours(csr, rows)
    starts = csr.starts[rows]
    counts = csr.ends[rows] - starts
    some = counts > 0
    return _Runs(csr.indices, starts[some], counts[some])


def _expand(p: Prepared, name: str, frontier: np.ndarray, fmask: np.ndarray) -> _Part:
    """``neighbours(p.<name>, frontier)``, cheaper for a large frontier.

    ``fmask`` flags exactly the nodes of ``frontier``, which is ascending (it came from a
    scan). Working per frontier row costs a lot when most rows have no neighbours (most CIs
    have no dependents), so for a large frontier we instead pick, among the rows that have
    neighbours, the flagged ones (one sequential gather) and expand only those; when every
    such row has exactly one neighbour (membership), the picked positions are the neighbours
    themselves; in a packed CSR, they are left to be gathered or flagged (:class:`_Picked`).
    Rows come out ascending either way, so the result is the very sequence
    :func:`~impact.propagation.neighbours` gives (the order matters: small levels keep
    first-seen order)."""
    csr = getattr(p, name)
    r = p.rows_with_neighbours(name)
    if frontier.size * EXPAND_SHARE <= r.rows.size:
        return neighbours(csr, frontier)
    sel = np.take(fmask, r.rows)
    if r.unit:
        return csr.indices[sel]
    if csr.bounds is not None:
        return _Picked(csr, r, sel)
    return _runs(csr.indices, r.starts[sel], r.counts[sel])


def _unflag(fmask: np.ndarray, frontier: np.ndarray) -> None:
    """Clear ``fmask`` (which flags exactly ``frontier``): a memset when that is cheaper."""
    if frontier.size * SCAN_SHARE > fmask.size:
        fmask.fill(False)
    else:
        fmask[frontier] = False


def _scan(
    flags: np.ndarray, state: np.ndarray, code: int, sc: Scratch, out: _Listing | None
) -> np.ndarray:
    """Settle a large level: keep the ``flags`` that are open (state below ``code``), give
    them ``code``, and return them ascending (appended to ``out`` when given). ``flags`` is
    left flagging exactly the returned level, so the next level can expand it with
    :func:`_expand`.

    One pass in pieces of SCAN_CHUNK nodes: each piece of the flags and of the state is
    masked, listed and raised (np.maximum: ``code`` is above the state of every open node)
    while it is in cache, instead of five passes over the whole arrays."""
    dst = out.room() if out is not None else np.empty(state.size, np.int32)
    c8, tmp, k = np.int8(code), np.empty(SCAN_CHUNK, np.bool_), 0
    for lo in range(0, state.size, SCAN_CHUNK):
        f, st = flags[lo : lo + SCAN_CHUNK], state[lo : lo + SCAN_CHUNK]
        t = tmp[: f.size]
        np.logical_and(f, np.less(st, c8, out=t), out=f)
        got = np.flatnonzero(f)
        if got.size:
            np.add(got, lo, out=dst[k : k + got.size])
            k += got.size
            np.maximum(st, np.multiply(f.view(np.int8), c8, out=t.view(np.int8)), out=st)
    return out.took(dst[:k]) if out is not None else dst[:k]


def _next(
    p: Prepared, frontier: np.ndarray, fmask: np.ndarray | None, *, groups: bool, soft: bool = False
) -> tuple[list[_Part], np.ndarray]:
    """(dependents, groups) of ``frontier``, the first as a list of parts (the soft dependents
    one of them when ``soft``); clears ``fmask`` (flagging ``frontier``) if set."""
    soft = soft and p.soft is not None
    nb: list[_Part]
    if fmask is None:
        nb = [_listed(p.dependents, frontier)]
        gs = neighbours(p.groups, frontier) if groups else _EMPTY
        if soft:
            nb.append(_listed(p.soft, frontier))  # type: ignore[arg-type]
    else:
        nb = [_expand(p, "dependents", frontier, fmask)]
        gs = _gather(_expand(p, "groups", frontier, fmask)) if groups else _EMPTY
        if soft:
            nb.append(_expand(p, "soft", frontier, fmask))
        _unflag(fmask, frontier)
    return nb, gs


def _one(picked: list[_Part]) -> np.ndarray:
    """The parts, gathered and concatenated (a single part as it is)."""
    parts = [_gather(x) for x in picked if x.size]
    if len(parts) > 1:
        return np.concatenate(parts)
    return parts[0] if parts else _EMPTY


def _flag(sc: Scratch, parts: list[_Part]) -> np.ndarray:
    """The scratch flag array with every node of ``parts`` flagged."""
    fmask = sc.flag_array()
    flag = _Setter(fmask)
    for part in parts:
        if not isinstance(part, np.ndarray):
            part.flag(flag)
            continue
        for lo in range(0, part.size, CHUNK):
            flag(part[lo : lo + CHUNK])
    return fmask


def _spread_down(
    p: Prepared, seeds: np.ndarray, sc: Scratch, touched: list, out: _Listing | None
) -> list[np.ndarray]:
    """Mark down everything ``seeds`` take down; return the levels (seeds first), each without
    repeats, and append them but the first to ``out``. Groups a level reaches are appended to
    ``touched`` and counted in ``sc.cnt``.

    A level that reaches a large share of the graph is settled through a flag array: a scatter
    of True per edge, then one scan that keeps the open flags, instead of a gather, a compare
    and a compress. The flags then stand for the new level, which lets the next expansion skip
    the rows without neighbours (:func:`_expand`)."""
    state, cnt = sc.state, sc.cnt
    frontier = settle(seeds[state[seeds] != DOWN], state, DOWN, sc)
    levels = []
    fmask = None  # when set, flags exactly ``frontier``
    while frontier.size:
        levels.append(frontier)
        nbs, gs = _next(p, frontier, fmask, groups=p.has_groups)
        fmask = None
        if gs.size:
            touched.append(gs)
            np.add.at(cnt, gs, _ONE)
            gs = gs[cnt[gs] > p.slack[gs]]
        if sum(x.size for x in nbs) * FLAG_SHARE > state.size:
            fmask = _flag(sc, [*nbs, gs])
            frontier = _scan(fmask, state, DOWN, sc, out)
            continue
        nb = _one(nbs)
        if nb.size:
            nb = nb[state[nb] != DOWN]
        if gs.size:
            gs = gs[state[gs] != DOWN]
            nb = np.concatenate([nb, gs]) if nb.size else gs
        frontier = settle(nb, state, DOWN, sc, out)
    return levels


def _spread_risk(
    p: Prepared,
    sc: Scratch,
    state: np.ndarray,
    touched: list,
    down: list[np.ndarray],
    out: _Listing | None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mark degraded groups (a member down) and soft dependents of the ``down`` levels, then
    the at-risk CIs above them; return (degraded, the at-risk levels), appended to ``out``.
    Large levels are settled through a flag array, as in :func:`_spread_down`."""
    cands = list(touched)
    if p.soft is not None and down:
        cands.append(neighbours(p.soft, np.concatenate(down) if len(down) > 1 else down[0]))
    if not cands:
        return _EMPTY, []
    gs = np.concatenate(cands) if len(cands) > 1 else cands[0]
    degraded = settle(gs[state[gs] != DOWN], state, DEGRADED, sc, out)
    risky, frontier, fmask = [], degraded, None
    while frontier.size:
        nbs, gs = _next(p, frontier, fmask, groups=True, soft=True)
        fmask = None
        if (sum(x.size for x in nbs) + gs.size) * FLAG_SHARE > state.size:
            fmask = _flag(sc, [*nbs, gs])
            frontier = _scan(fmask, state, AT_RISK, sc, out)
        else:
            nb = _one([*nbs, gs])
            frontier = settle(nb[state[nb] == OK], state, AT_RISK, sc, out)
        risky.append(frontier)
    return degraded, risky


def solve(p: Prepared, failed: np.ndarray, assume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The node numbers that ``failed`` makes worse on top of ``assume`` (both node-number
    arrays without repeats), and their state codes: worst state first, then breadth-first."""
    sc = p.borrow()
    state, n = sc.state, p.n
    touched: list[np.ndarray] = []
    base, base_levels = None, []
    seeds = np.concatenate([p.short_groups, assume]) if p.short_groups.size else assume
    if seeds.size:
        base_levels = _spread_down(p, seeds, sc, touched, None)
        base = state.copy()
        _spread_risk(p, sc, base, list(touched), base_levels, None)
    # levels[0] holds the failed CIs themselves, which are never listed
    out = _Listing(n)
    levels = _spread_down(p, failed, sc, touched, out)
    degraded, risky = _spread_risk(p, sc, state, touched, [*base_levels, *levels], out)
    idx = out.listing()
    if idx.size * SCAN_SHARE > n:
        # each part has a single state: fill the codes by slices instead of gathering them
        # from ``state``, and hand ``state`` back clean with a memset instead of a scatter
        codes = np.full(idx.size, AT_RISK, dtype=np.int8)
        n_down = idx.size - degraded.size - sum(r.size for r in risky)
        codes[:n_down] = DOWN
        codes[n_down : n_down + degraded.size] = DEGRADED
        state.fill(OK)
    else:
        codes = state[idx]
        for part in (*base_levels, *levels[:1], idx):
            state[part] = OK
    for part in touched:
        sc.cnt[part] = 0
    p.give_back(sc)
    if base is not None and idx.size:
        keep = codes > base[idx]
        idx, codes = idx[keep], codes[keep]
    return idx, codes
