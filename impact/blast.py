"""Blast radius: what a failure takes down, degrades or puts at risk.

Assumptions (the semantics of ``shared/vectors/impact/README.md``):

- Impact travels along *hard* edges (the registry's ``to_source`` / ``to_target`` types,
  normalised by :meth:`~cmdb.topology.Topology.impact_edges`) and along *membership* edges
  (member -> redundancy group).
- **down**: a CI in ``failed`` or ``assume_down``; a CI with a hard dependency down (groups
  included); a group with fewer than k of its n members not down.
  **degraded**: a group, not down, with a member down. **at_risk**: neither, with a hard dependency
  (or, for a group, a member) degraded or at risk. States are the least fixpoint, so cycles
  terminate and are not failures by themselves.
- The result lists exactly the CIs whose state is worse with ``failed`` and ``assume_down`` out
  than with ``assume_down`` alone (a group with fewer members than k is down in both, so it is
  never listed); CIs in ``failed`` or ``assume_down`` are never listed.
- ``types`` restricts the hard edges to those relationship types (empty: every type, as in the
  store protocol). Membership always propagates: it defines what a group *is*, not a kind of
  dependency; naming a membership type (or a ``none`` type) in ``types`` changes nothing.
- ``depth`` does not change any state: it keeps the listed CIs whose explanation path has at most
  ``depth`` steps, so raising it only ever adds CIs.
- The explanation path of a CI is a shortest path from it to a CI in ``failed`` among the listed
  CIs, where a down or degraded CI steps only to a down CI (a hard dependency or a member) and an
  at-risk CI to a degraded or at-risk one. Paths are computed on first use.
- ``services()`` are the listed CIs of class ``business_service`` or ``technical_service`` (the
  registry's ``service`` category); ``customers()`` those of class ``customer``.
- Freshness: ``last_seen`` is epoch seconds (None: never seen by discovery); a CI is ``stale``
  when it was seen more than ``stale_after`` seconds before ``now``. Never-seen CIs (typically
  entered by hand) are not stale.

The engine works level by level over the snapshot's CSR arrays with numpy (no per-CI Python on
the hot path): down first, with per-group counters of down members, then degraded groups and
what is at risk above them. Its n-sized work arrays are pooled per snapshot and cleaned after
each query, so a query costs what its answer costs; a level touching a large share of the graph
switches to a flag array and one scan, and the level after it is expanded from those flags
over the rows that have neighbours only. Per-CI objects and paths are built only when asked for.

>>> from cmdb.topology import Topology
>>> t = Topology.build(
...     version=1, class_names=("application", "cluster", "database"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["app", "db-cluster", "db-1", "db-2"], class_code=[0, 1, 2, 2],
...     is_group=[False, True, False, False], min_required=[0, 1, 0, 0],
...     src=[0, 2, 3], dst=[1, 1, 1], rtype=[0, 1, 1])
>>> br = blast_radius(t, ["db-1"])
>>> [(a.id, a.state.value) for a in br.affected()]
[('db-cluster', 'degraded'), ('app', 'at_risk')]
>>> br.path("app")
('app', 'db-cluster', 'db-1')
>>> blast_radius(t, ["db-1"], assume_down=["db-2"]).state("app").value
'down'
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from cmdb.enums import ImpactState
from cmdb.errors import UnknownRelTypeError, ValidationError
from cmdb.topology import CSR, Topology

__all__ = ["Affected", "BlastRadius", "blast_radius"]

SERVICE_CLASSES = ("business_service", "technical_service")
CUSTOMER_CLASSES = ("customer",)

OK, AT_RISK, DEGRADED, DOWN, ROOT = 0, 1, 2, 3, 4
_NEW = 9  # transient mark while settling a level
_ONE = np.int32(1)
_STATES = {DOWN: ImpactState.DOWN, DEGRADED: ImpactState.DEGRADED, AT_RISK: ImpactState.AT_RISK}
_EMPTY = np.empty(0, dtype=np.int32)


# -- shared graph plumbing (also used by depends, spof, render) ------------------------------
@dataclass(frozen=True, eq=False)
class _Prep:
    """Per-(snapshot, types) arrays, cached: hard adjacency both ways, groups, thresholds."""

    dependents: CSR
    dependencies: CSR
    groups: CSR
    members: CSR
    slack: np.ndarray  # a group is down once more than ``slack`` members are down
    has_groups: bool
    short_groups: np.ndarray  # groups with fewer members than k: down whatever happens
    service_mask: np.ndarray
    customer_mask: np.ndarray
    kind: np.ndarray  # int8: 1 service, 2 customer, 0 other (one gather classifies a result)
    pool: list[_Scratch] = field(default_factory=list, repr=False)
    active: dict[str, _Rows] = field(default_factory=dict, repr=False)

    def rows_with_neighbours(self, name: str) -> _Rows:
        """:class:`_Rows` of CSR ``name`` (``"dependents"`` or ``"groups"``), built on first
        use: only large frontiers need it."""
        found = self.active.get(name)
        if found is None:
            found = self.active[name] = _Rows.of(getattr(self, name))
        return found


@dataclass(frozen=True, eq=False)
class _Rows:
    """The rows of a CSR that have neighbours (ascending), with where their neighbours start
    and how many they have, in 32 bits when that fits; ``unit`` when each has exactly one
    (then ``rows[j]`` owns ``indices[j]``)."""

    rows: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    unit: bool

    @classmethod
    def of(cls, csr: CSR) -> _Rows:
        counts = np.diff(csr.indptr)
        rows = np.flatnonzero(counts).astype(np.int32)
        dt = np.int32 if csr.indices.size < 2**31 else np.int64
        return cls(rows, csr.indptr[rows].astype(dt), counts[rows].astype(dt),
                   rows.size == csr.indices.size)


@dataclass(eq=False)
class _Scratch:
    """n-sized work arrays, reused across queries (allocating them costs more than a small
    query). Between queries ``state`` is all OK, ``cnt`` all 0 and ``flags`` all False;
    ``mark`` holds anything."""

    state: np.ndarray
    cnt: np.ndarray
    mark: np.ndarray
    flags: np.ndarray | None = None

    @classmethod
    def make(cls, n: int) -> _Scratch:
        return cls(np.zeros(n, np.int8), np.zeros(n, np.int32), np.zeros(n, np.int32))

    def flag_array(self) -> np.ndarray:
        """An n-sized boolean array (all False between uses), made on first need."""
        if self.flags is None:
            self.flags = np.zeros(self.state.size, dtype=np.bool_)
        return self.flags


_CACHE: weakref.WeakKeyDictionary[Topology, dict[Any, _Prep]] = weakref.WeakKeyDictionary()


def check_types(topo: Topology, types: Iterable[str] | None) -> frozenset[str] | None:
    """``types`` as a frozenset, None (every type) when None or empty, as in the store
    protocol; :class:`UnknownRelTypeError` for a name the snapshot lacks."""
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    names = frozenset(types)
    if not names:
        return None
    for name in sorted(names):
        if name not in topo.rel_type_names:
            known = ", ".join(topo.rel_type_names)
            raise UnknownRelTypeError(
                f"unknown relationship type '{name}' (known: {known})", field="types"
            )
    return names


def check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValidationError(f"must be a whole number >= 0, got {depth!r}", field="depth")


def prep(topo: Topology, types: frozenset[str] | None = None) -> _Prep:
    per_topo = _CACHE.setdefault(topo, {})
    found = per_topo.get(types)
    if found is not None:
        return found
    if types is None:
        dependents, dependencies = topo.dependents, topo.dependencies
    else:
        frm, to = topo.impact_edges(types)
        dependents, dependencies = CSR.from_edges(topo.n, frm, to), CSR.from_edges(topo.n, to, frm)
    members = topo.members
    slack = (members.degree() - topo.k_required()).astype(np.int32)
    short = np.flatnonzero(topo.is_group & (slack < 0)).astype(np.int32)
    services, customers = topo.class_mask(*SERVICE_CLASSES), topo.class_mask(*CUSTOMER_CLASSES)
    kind = services.astype(np.int8)
    kind[customers] = 2
    made = per_topo[types] = _Prep(
        dependents, dependencies, topo.groups, members, slack,
        bool(topo.groups.indices.size), short, services, customers, kind,
    )
    return made


def gather(csr: CSR, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of every row in ``rows``: (the row each came from, the neighbour)."""
    return neighbours(csr, rows, owners=True)


def neighbours(csr: CSR, rows: np.ndarray, *, owners: bool = False):
    """The neighbours of every row in ``rows``, concatenated; with ``owners``, also the row
    each came from (as :meth:`CSR.gather`). Positions are computed in 32 bits when they fit."""
    if rows.size == 1:
        r = int(rows[0])
        nb = csr.indices[csr.indptr[r] : csr.indptr[r + 1]]
        return (np.full(nb.size, r, dtype=np.int32), nb) if owners else nb
    starts = csr.indptr[rows]
    counts = csr.indptr[rows + 1] - starts
    nb = _runs(csr.indices, starts, counts)
    if owners:
        return (np.repeat(rows.astype(np.int32, copy=False), counts), nb) if nb.size else (nb, nb)
    return nb


def _runs(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values[starts[i] : starts[i] + counts[i]]`` for every i, concatenated."""
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    if total == 0:
        return _EMPTY
    dt = np.int32 if values.size < 2**31 else np.int64
    at = np.repeat((starts - (ends - counts)).astype(dt, copy=False), counts)
    at += np.arange(total, dtype=dt)
    return values[at]


def unique_in(values: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """``values`` without repeats (first-seen order kept), using ``mark`` (n-sized scratch)."""
    if values.size < 2:
        return values
    pos = np.arange(1, values.size + 1, dtype=np.int32)
    mark[values] = pos
    return values[mark[values] == pos]


def settle(cand: np.ndarray, state: np.ndarray, code: int, mark: np.ndarray) -> np.ndarray:
    """Give the candidates ``code`` in ``state``; return them without repeats. Large sets go
    through the state array and one scan (sorted result), small ones through ``mark``."""
    if cand.size * 64 > state.size:
        state[cand] = _NEW
        fresh = np.flatnonzero(state == _NEW).astype(np.int32)
    else:
        fresh = unique_in(cand, mark)
    state[fresh] = code
    return fresh


def _ids(ids: list[str], nodes: np.ndarray) -> tuple[str, ...]:
    """``tuple(ids[i] for i in nodes)``, looked up in one C-level call (tens of thousands of
    ids cost milliseconds through a generator)."""
    if nodes.size < 2:
        return (ids[int(nodes[0])],) if nodes.size else ()
    return itemgetter(*nodes.tolist())(ids)


def _tally(values: np.ndarray, wanted: tuple[int, ...]) -> list[int]:
    """How many of ``values`` (small non-negative ints) equal each of ``wanted``. ``bincount``
    is a single call but widens every element to 64 bits, so long arrays are compared."""
    if values.size <= 4096:
        counts = np.bincount(values, minlength=max(wanted) + 1).tolist()
        return [counts[v] for v in wanted]
    return [int(np.count_nonzero(values == v)) for v in wanted]


def indices(topo: Topology, ids: Iterable[str]) -> np.ndarray:
    """Node numbers of ``ids`` in order, repeats dropped; NotFoundError for an unknown id."""
    if isinstance(ids, str):
        ids = [ids]
    return np.asarray([topo.index(ci) for ci in dict.fromkeys(ids)], dtype=np.int32)


# -- the engine -------------------------------------------------------------------------------
def _expand(p: _Prep, name: str, frontier: np.ndarray, fmask: np.ndarray) -> np.ndarray:
    """``neighbours(p.<name>, frontier)``, cheaper for a large frontier.

    ``fmask`` flags exactly the nodes of ``frontier``, which is ascending (it came from a
    scan). Working per frontier row costs a lot when most rows have no neighbours (most CIs
    have no dependents), so for a large frontier we instead pick, among the rows that have
    neighbours, the flagged ones (one sequential gather) and expand only those; when every
    such row has exactly one neighbour (membership), the picked positions are the neighbours
    themselves. Rows come out ascending either way, so the result is the very sequence
    :func:`neighbours` gives (the order matters: small levels keep first-seen order)."""
    csr = getattr(p, name)
    r = p.rows_with_neighbours(name)
    if frontier.size * 4 <= r.rows.size:
        return neighbours(csr, frontier)
    sel = np.take(fmask, r.rows)
    return csr.indices[sel] if r.unit else _runs(csr.indices, r.starts[sel], r.counts[sel])


def _unflag(fmask: np.ndarray, frontier: np.ndarray) -> None:
    """Clear ``fmask`` (which flags exactly ``frontier``): a memset when that is cheaper."""
    if frontier.size * 64 > fmask.size:
        fmask.fill(False)
    else:
        fmask[frontier] = False


def _scan(flags: np.ndarray, state: np.ndarray, open_: np.ndarray, code: int) -> np.ndarray:
    """Settle a large level: keep the ``flags`` that are ``open_``, give them ``code``, and
    return them ascending. ``flags`` is left flagging exactly the returned level, so the next
    level can expand it with :func:`_expand`."""
    np.logical_and(flags, open_, out=flags)
    level = np.flatnonzero(flags).astype(np.int32)
    if level.size * 16 > state.size:
        # a sequential pass beats a scatter; ``code`` is above the state of every open node
        np.maximum(state, flags.view(np.int8) * np.int8(code), out=state)
    else:
        state[level] = code
    return level


def _spread_down(p: _Prep, seeds, sc: _Scratch, touched: list) -> list[np.ndarray]:
    """Mark the down closure of ``seeds``; return the newly down nodes, level by level.

    A level whose edges are many (a sizeable share of the graph) is settled by flagging its
    targets in a boolean array and scanning it once: one random write per edge, instead of a
    gather, a compare and a compress. The flags then stand for the new level, which lets the
    next expansion skip the rows without neighbours (:func:`_expand`)."""
    state, cnt, mark = sc.state, sc.cnt, sc.mark
    frontier = settle(seeds[state[seeds] != DOWN], state, DOWN, mark)
    levels = []
    fmask = None  # when set, flags exactly ``frontier``
    while frontier.size:
        levels.append(frontier)
        if fmask is None:
            nb = neighbours(p.dependents, frontier)
            gs = neighbours(p.groups, frontier) if p.has_groups else _EMPTY
        else:
            nb = _expand(p, "dependents", frontier, fmask)
            gs = _expand(p, "groups", frontier, fmask) if p.has_groups else _EMPTY
            _unflag(fmask, frontier)
            fmask = None
        if gs.size:
            touched.append(gs)
            np.add.at(cnt, gs, _ONE)
            gs = gs[cnt[gs] > p.slack[gs]]
        if nb.size * 16 > state.size:
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


def _spread_risk(p: _Prep, sc: _Scratch, state, touched: list
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mark degraded groups and the at-risk CIs above them; return (degraded, the at-risk
    levels). Large levels are settled through a flag array, as in :func:`_spread_down`."""
    if not touched:
        return _EMPTY, []
    mark = sc.mark
    gs = np.concatenate(touched) if len(touched) > 1 else touched[0]
    degraded = settle(gs[state[gs] != DOWN], state, DEGRADED, mark)
    risky, frontier, fmask = [], degraded, None
    while frontier.size:
        if fmask is None:
            nb = neighbours(p.dependents, frontier)
            gs = neighbours(p.groups, frontier)
        else:
            nb = _expand(p, "dependents", frontier, fmask)
            gs = _expand(p, "groups", frontier, fmask)
            _unflag(fmask, frontier)
            fmask = None
        if nb.size + gs.size > state.size // 16:
            fmask = sc.flag_array()
            fmask[nb] = True
            fmask[gs] = True
            frontier = _scan(fmask, state, state == OK, AT_RISK)
        else:
            nb = np.concatenate([nb, gs]) if gs.size else nb
            frontier = settle(nb[state[nb] == OK], state, AT_RISK, mark)
        risky.append(frontier)
    return degraded, risky


def _solve(p: _Prep, n: int, failed: np.ndarray, assume: np.ndarray):
    """Listed node numbers and their state codes, worst first, in breadth-first order."""
    try:
        sc = p.pool.pop()  # atomic: concurrent queries never share scratch arrays
    except IndexError:
        sc = _Scratch.make(n)
    state = sc.state
    touched: list[np.ndarray] = []
    base, base_levels = None, []
    seeds = np.concatenate([p.short_groups, assume]) if p.short_groups.size else assume
    if seeds.size:
        base_levels = _spread_down(p, seeds, sc, touched)
        base = state.copy()
        _spread_risk(p, sc, base, list(touched))
    levels = _spread_down(p, failed, sc, touched)
    degraded, risky = _spread_risk(p, sc, state, touched)
    # levels[0] holds the failed CIs themselves, which are never listed
    parts = [*levels[1:], degraded, *risky]
    idx = (np.concatenate(parts) if len(parts) > 1 else parts[0]).astype(np.int32, copy=False)
    if idx.size * 64 > n:
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
    if len(p.pool) < 4:
        p.pool.append(sc)
    if base is not None and idx.size:
        keep = codes > base[idx]
        idx, codes = idx[keep], codes[keep]
    return idx, codes


@dataclass(frozen=True)
class Affected:
    """One listed CI: its state, one shortest explanation path (this CI first, a failed CI
    last), when discovery last saw it (epoch seconds, None: never) and whether that is stale."""

    id: str
    ci_class: str
    state: ImpactState
    path: tuple[str, ...]
    last_seen: float | None = None
    stale: bool = False


@dataclass(frozen=True, eq=False)
class BlastRadius:
    """The result of :func:`blast_radius`. Per-CI objects are built on demand."""

    topology: Topology = field(repr=False)
    failed: tuple[str, ...]
    assume_down: tuple[str, ...]
    nodes: np.ndarray = field(repr=False)  # listed node numbers, worst state first
    codes: np.ndarray = field(repr=False)  # their state codes (3 down, 2 degraded, 1 at risk)
    stale_after: float | None = None
    now: float | None = None
    _prep: _Prep | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.nodes.size)

    def _failed_idx(self) -> np.ndarray:
        return indices(self.topology, self.failed)

    def _parents(self) -> tuple[np.ndarray, np.ndarray]:
        """Breadth-first explanation tree: (parent + 1, hops) per node; roots are the failed."""
        if "parents" in self._cache:
            return self._cache["parents"]
        n, p = self.topology.n, self._prep
        code = np.zeros(n, dtype=np.int8)
        code[self.nodes] = self.codes
        roots = self._failed_idx()
        code[roots] = ROOT
        parent = np.zeros(n, dtype=np.int32)
        hops = np.zeros(n, dtype=np.int32)
        mark = np.zeros(n, dtype=np.int32)
        parent[roots] = roots + 1
        frontier, level = roots, 0
        while frontier.size:
            level += 1
            # a down (or failed) CI explains any listed neighbour; any other only an at-risk one
            strong = code[frontier] >= DOWN
            found = []
            for rows, weakest in ((frontier[strong], AT_RISK), (frontier[~strong], -AT_RISK)):
                if not rows.size:
                    continue
                o1, v1 = gather(p.dependents, rows)
                o2, v2 = gather(p.groups, rows)
                own, nb = np.concatenate([o1, o2]), np.concatenate([v1, v2])
                cv = code[nb]
                ok = (cv >= weakest) if weakest > 0 else (cv == AT_RISK)
                ok &= parent[nb] == 0
                own, nb = own[ok], nb[ok]
                parent[nb] = own + 1
                found.append(nb)
            nb = np.concatenate(found) if len(found) > 1 else (found[0] if found else _EMPTY)
            if nb.size * 64 > n:
                hops[nb] = level
                frontier = np.flatnonzero(hops == level).astype(np.int32)
            else:
                frontier = unique_in(nb, mark)
                hops[frontier] = level
        self._cache["parents"] = parent, hops
        return parent, hops

    def _position(self, ci_id: str) -> int | None:
        if "order" not in self._cache:
            order = np.argsort(self.nodes, kind="stable")
            self._cache["order"] = order, self.nodes[order]
        order, sorted_nodes = self._cache["order"]
        i = self.topology.index(ci_id)
        at = int(np.searchsorted(sorted_nodes, i))
        if at < sorted_nodes.size and sorted_nodes[at] == i:
            return int(order[at])
        return None

    def state(self, ci_id: str) -> ImpactState:
        """The state of ``ci_id`` in this result: ``down`` for the failed and assumed-down CIs,
        ``ok`` for a CI not listed. NotFoundError for an id not in the snapshot."""
        pos = self._position(ci_id)
        if pos is not None:
            return _STATES[int(self.codes[pos])]
        if ci_id in self.failed or ci_id in self.assume_down:
            return ImpactState.DOWN
        return ImpactState.OK

    def path(self, ci_id: str) -> tuple[str, ...]:
        """The explanation path of a listed CI (empty for a CI not listed)."""
        if self._position(ci_id) is None:
            return ()
        return self._path_of(self.topology.index(ci_id))

    def _path_of(self, i: int) -> tuple[str, ...]:
        parent, _ = self._parents()
        ids, out = self.topology.ids, [i]
        while parent[i] - 1 != i:
            i = int(parent[i]) - 1
            out.append(i)
        return tuple(ids[j] for j in out)

    def _freshness(self, i: int) -> tuple[float | None, bool]:
        seen = float(self.topology.last_seen[i])
        if np.isnan(seen):
            return None, False
        if self.stale_after is None:
            return seen, False
        now = time.time() if self.now is None else self.now
        return seen, now - seen > self.stale_after

    def affected(self, limit: int | None = None) -> Iterator[Affected]:
        """The listed CIs, worst state first, nearest first within a state."""
        topo = self.topology
        for i, c in zip(self.nodes[:limit].tolist(), self.codes[:limit].tolist(), strict=True):
            seen, stale = self._freshness(i)
            yield Affected(topo.ids[i], topo.class_of(i), _STATES[c], self._path_of(i), seen, stale)

    def _kinds(self) -> np.ndarray:
        """Per listed CI: 1 service, 2 customer, 0 other. Cached, so that one gather serves
        :meth:`services`, :meth:`customers` and :meth:`counts`."""
        kinds = self._cache.get("kinds")
        if kinds is None:
            kinds = self._cache["kinds"] = np.take(self._prep.kind, self.nodes)
        return kinds

    def _ids_of(self, kind: int) -> tuple[str, ...]:
        return _ids(self.topology.ids, self.nodes[self._kinds() == kind])

    def service_or_customer_mask(self) -> np.ndarray:
        """A mask over :attr:`nodes`: the listed services and customers."""
        return self._kinds() != 0

    def rollup(self, limit: int | None = None) -> list[dict[str, str]]:
        """The listed services, then customers, each with its class and state (listing order
        within each); at most ``limit`` of each."""
        topo, out = self.topology, []
        for mask in (self._prep.service_mask, self._prep.customer_mask):
            sel = mask[self.nodes]
            for i, c in zip(self.nodes[sel][:limit].tolist(), self.codes[sel][:limit].tolist(),
                            strict=True):
                out.append({"id": topo.ids[i], "class": topo.class_of(i),
                            "state": _STATES[c].value})
        return out

    def services(self) -> tuple[str, ...]:
        """Ids of listed business and technical services, in listing order."""
        return self._ids_of(1)

    def customers(self) -> tuple[str, ...]:
        """Ids of listed customers, in listing order."""
        return self._ids_of(2)

    def counts(self) -> dict[str, int]:
        """Listed CIs per state, their ``total``, and how many are services and customers."""
        at_risk, degraded, down = _tally(self.codes, (AT_RISK, DEGRADED, DOWN))
        services, customers = _tally(self._kinds(), (1, 2))
        return {"down": down, "degraded": degraded, "at_risk": at_risk,
                "total": int(self.codes.size), "services": services, "customers": customers}

    def _stale_mask(self) -> np.ndarray:
        if self.stale_after is None:
            return np.zeros(self.nodes.size, dtype=bool)
        now = time.time() if self.now is None else self.now
        with np.errstate(invalid="ignore"):
            return (now - self.topology.last_seen[self.nodes]) > self.stale_after

    def stale(self, limit: int | None = None) -> tuple[str, ...]:
        """Ids of listed CIs whose discovery data is stale (needs ``stale_after``), at most
        ``limit`` of them."""
        return tuple(self.topology.ids[i] for i in self.nodes[self._stale_mask()][:limit].tolist())

    def stale_count(self) -> int:
        return int(np.count_nonzero(self._stale_mask()))

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``limit`` caps the ``affected`` list (counts stay complete)."""
        return {
            "failed": list(self.failed),
            "assume_down": list(self.assume_down),
            "affected": [
                {"id": a.id, "class": a.ci_class, "state": a.state.value, "path": list(a.path),
                 "last_seen": a.last_seen, "stale": a.stale}
                for a in self.affected(limit)
            ],
            "services": list(self.services()),
            "customers": list(self.customers()),
            "counts": self.counts(),
        }


def blast_radius(
    topo: Topology,
    failed: Iterable[str],
    *,
    assume_down: Iterable[str] = (),
    depth: int | None = None,
    types: Iterable[str] | None = None,
    stale_after: float | None = None,
    now: float | None = None,
) -> BlastRadius:
    """The CIs that the failure of ``failed`` makes worse, given ``assume_down`` already out.

    ``depth`` keeps the CIs within that many steps of a failed CI (along their explanation
    path); ``types`` restricts the hard relationship types that carry impact (membership always
    does); ``stale_after`` (seconds, measured back from ``now``, default the current time) sets
    the ``stale`` flag of each listed CI. Raises :class:`~cmdb.errors.NotFoundError` for an
    unknown CI and :class:`~cmdb.errors.UnknownRelTypeError` for an unknown type.

    >>> from cmdb.topology import Topology
    >>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
    ...     propagation=("to_source",), ids=["a", "b", "c"], class_code=[0, 0, 0],
    ...     is_group=[False] * 3, min_required=[0] * 3, src=[0, 1], dst=[1, 2], rtype=[0, 0])
    >>> len(blast_radius(t, ["c"])), len(blast_radius(t, ["c"], depth=1))
    (2, 1)
    """
    check_depth(depth)
    p = prep(topo, check_types(topo, types))
    f_idx, a_idx = indices(topo, failed), indices(topo, assume_down)
    nodes, codes = _solve(p, topo.n, f_idx, a_idx)
    result = BlastRadius(
        topo, tuple(topo.ids[i] for i in f_idx.tolist()),
        tuple(topo.ids[i] for i in a_idx.tolist()), nodes, codes,
        stale_after, now, p,
    )
    if depth is not None and nodes.size:
        _, hops = result._parents()
        keep = hops[nodes] <= depth
        result = BlastRadius(
            topo, result.failed, result.assume_down, nodes[keep], codes[keep],
            stale_after, now, p, {"parents": result._cache["parents"]},
        )
    return result
