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
expanded from those flags over the rows that have neighbours only. The thresholds below decide
only the cost and the order within a level (small levels keep first-seen order, large ones come
out ascending), never which CIs are listed or their states.

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

import numpy as np

from impact.propagation import (
    AT_RISK,
    DEGRADED,
    DOWN,
    OK,
    SCAN_SHARE,
    Prepared,
    Scratch,
    neighbours,
    runs,
    unique_in,
)

__all__ = ["solve"]

# A level whose expansion holds more than 1/FLAG_SHARE of the nodes (repeats included) is
# settled through a flag array: scattering flags and one scan beat gather, compare, compress.
FLAG_SHARE = 16
# A level of more than 1/MAXIMUM_SHARE of the nodes is written into the state array with one
# sequential np.maximum instead of a scatter.
MAXIMUM_SHARE = 16
# A flagged frontier smaller than 1/EXPAND_SHARE of the rows with neighbours is expanded row by
# row; a larger one by picking those rows out of the flags, one sequential pass.
EXPAND_SHARE = 4

_NEW = 9  # transient mark while settling a level
_ONE = np.int32(1)
_EMPTY = np.empty(0, dtype=np.int32)


def settle(cand: np.ndarray, state: np.ndarray, code: int, mark: np.ndarray) -> np.ndarray:
    """Give the candidates ``code`` in ``state``; return them without repeats. Large sets go
    through the state array and one scan (sorted result), small ones through ``mark``."""
    if cand.size * SCAN_SHARE > state.size:
        state[cand] = _NEW
        fresh = np.flatnonzero(state == _NEW).astype(np.int32)
    else:
        fresh = unique_in(cand, mark)
    state[fresh] = code
    return fresh


def _expand(p: Prepared, name: str, frontier: np.ndarray, fmask: np.ndarray) -> np.ndarray:
    """``neighbours(p.<name>, frontier)``, cheaper for a large frontier.

    ``fmask`` flags exactly the nodes of ``frontier``, which is ascending (it came from a
    scan). Working per frontier row costs a lot when most rows have no neighbours (most CIs
    have no dependents), so for a large frontier we instead pick, among the rows that have
    neighbours, the flagged ones (one sequential gather) and expand only those; when every
    such row has exactly one neighbour (membership), the picked positions are the neighbours
    themselves. Rows come out ascending either way, so the result is the very sequence
    :func:`~impact.propagation.neighbours` gives (the order matters: small levels keep
    first-seen order)."""
    csr = getattr(p, name)
    r = p.rows_with_neighbours(name)
    if frontier.size * EXPAND_SHARE <= r.rows.size:
        return neighbours(csr, frontier)
    sel = np.take(fmask, r.rows)
    return csr.indices[sel] if r.unit else runs(csr.indices, r.starts[sel], r.counts[sel])


def _unflag(fmask: np.ndarray, frontier: np.ndarray) -> None:
    """Clear ``fmask`` (which flags exactly ``frontier``): a memset when that is cheaper."""
    if frontier.size * SCAN_SHARE > fmask.size:
        fmask.fill(False)
    else:
        fmask[frontier] = False


def _scan(flags: np.ndarray, state: np.ndarray, open_: np.ndarray, code: int) -> np.ndarray:
    """Settle a large level: keep the ``flags`` that are ``open_``, give them ``code``, and
    return them ascending. ``flags`` is left flagging exactly the returned level, so the next
    level can expand it with :func:`_expand`."""
    np.logical_and(flags, open_, out=flags)
    level = np.flatnonzero(flags).astype(np.int32)
    if level.size * MAXIMUM_SHARE > state.size:
        # a sequential pass beats a scatter; ``code`` is above the state of every open node
        np.maximum(state, flags.view(np.int8) * np.int8(code), out=state)
    else:
        state[level] = code
    return level


def _next(
    p: Prepared, frontier: np.ndarray, fmask: np.ndarray | None, *, groups: bool, soft: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(dependents, groups) of ``frontier``, the soft dependents added to the first when
    ``soft``; clears ``fmask`` (flagging ``frontier``) if set."""
    soft = soft and p.soft is not None
    if fmask is None:
        nb = neighbours(p.dependents, frontier)
        gs = neighbours(p.groups, frontier) if groups else _EMPTY
        sn = neighbours(p.soft, frontier) if soft else _EMPTY  # type: ignore[arg-type]
    else:
        nb = _expand(p, "dependents", frontier, fmask)
        gs = _expand(p, "groups", frontier, fmask) if groups else _EMPTY
        sn = _expand(p, "soft", frontier, fmask) if soft else _EMPTY
        _unflag(fmask, frontier)
    if sn.size:
        nb = np.concatenate([nb, sn]) if nb.size else sn
    return nb, gs


def _spread_down(p: Prepared, seeds: np.ndarray, sc: Scratch, touched: list) -> list[np.ndarray]:
    """Mark down everything ``seeds`` take down; return the levels (seeds first), each without
    repeats. Groups a level reaches are appended to ``touched`` and counted in ``sc.cnt``.

    A level that reaches a large share of the graph is settled through a flag array: a scatter
    of True per edge, then one scan that keeps the open flags, instead of a gather, a compare
    and a compress. The flags then stand for the new level, which lets the next expansion skip
    the rows without neighbours (:func:`_expand`)."""
    state, cnt, mark = sc.state, sc.cnt, sc.mark
    frontier = settle(seeds[state[seeds] != DOWN], state, DOWN, mark)
    levels = []
    fmask = None  # when set, flags exactly ``frontier``
    while frontier.size:
        levels.append(frontier)
        nb, gs = _next(p, frontier, fmask, groups=p.has_groups)
        fmask = None
        if gs.size:
            touched.append(gs)
            np.add.at(cnt, gs, _ONE)
            gs = gs[cnt[gs] > p.slack[gs]]
        if nb.size * FLAG_SHARE > state.size:
            fmask = sc.flag_array()
            fmask[nb] = True
            fmask[gs] = True
            frontier = _scan(fmask, state, state != DOWN, DOWN)
            continue
        if nb.size:
            nb = nb[state[nb] != DOWN]
        if gs.size:
            gs = gs[state[gs] != DOWN]
            nb = np.concatenate([nb, gs]) if nb.size else gs
        frontier = settle(nb, state, DOWN, mark)
    return levels


def _spread_risk(
    p: Prepared, sc: Scratch, state: np.ndarray, touched: list, down: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mark degraded groups (a member down) and soft dependents of the ``down`` levels, then
    the at-risk CIs above them; return (degraded, the at-risk levels). Large levels are settled
    through a flag array, as in :func:`_spread_down`."""
    mark = sc.mark
    cands = list(touched)
    if p.soft is not None and down:
        cands.append(neighbours(p.soft, np.concatenate(down) if len(down) > 1 else down[0]))
    if not cands:
        return _EMPTY, []
    gs = np.concatenate(cands) if len(cands) > 1 else cands[0]
    degraded = settle(gs[state[gs] != DOWN], state, DEGRADED, mark)
    risky, frontier, fmask = [], degraded, None
    while frontier.size:
        nb, gs = _next(p, frontier, fmask, groups=True, soft=True)
        fmask = None
        if (nb.size + gs.size) * FLAG_SHARE > state.size:
            fmask = sc.flag_array()
            fmask[nb] = True
            fmask[gs] = True
            frontier = _scan(fmask, state, state == OK, AT_RISK)
        else:
            nb = np.concatenate([nb, gs]) if gs.size else nb
            frontier = settle(nb[state[nb] == OK], state, AT_RISK, mark)
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
        base_levels = _spread_down(p, seeds, sc, touched)
        base = state.copy()
        _spread_risk(p, sc, base, list(touched), base_levels)
    levels = _spread_down(p, failed, sc, touched)
    degraded, risky = _spread_risk(p, sc, state, touched, [*base_levels, *levels])
    # levels[0] holds the failed CIs themselves, which are never listed
    parts = [*levels[1:], degraded, *risky]
    idx = (np.concatenate(parts) if len(parts) > 1 else parts[0]).astype(np.int32, copy=False)
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
