"""The arrays every impact question walks: a snapshot prepared for propagation.

Assumptions:

- A failure travels along *hard* edges (the registry's ``to_source`` / ``to_target`` types,
  normalised by :meth:`~cmdb.topology.Topology.impact_edges`), optionally restricted to some
  relationship types, and along *membership* edges (member -> redundancy group), always.
- :func:`prepare` turns a snapshot (and a type restriction) into :class:`Prepared`: the hard
  adjacency both ways, groups and members, each group's slack (how many members may be down
  before it is), and which nodes are services and customers; and the *soft* adjacency (types of
  propagation ``soft``: a failure there degrades the dependent instead of taking it down), None
  when the snapshot has no soft edge. It is cached per snapshot and type
  set, so only the first query on a snapshot pays for it.
- Which nodes are services, customers and agreements comes from the registry categories the
  snapshot carries (:meth:`~cmdb.topology.Topology.category_mask`), never from class names, so a
  user-defined class of category ``service`` rolls up like a built-in one.
- Pairs (row, neighbour) come from :meth:`CSR.gather <cmdb.topology.CSR.gather>`, the one
  gather; :func:`neighbours` is the engine's hot path, which needs the neighbours only.

>>> from cmdb.topology import Topology
>>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
...     propagation=("to_source",), ids=["a", "b", "c"], class_code=[0, 0, 0],
...     is_group=[False] * 3, min_required=[0] * 3, src=[0, 1], dst=[1, 2], rtype=[0, 0])
>>> p = prepare(t)
>>> neighbours(p.dependents, indices(t, ["c", "b"])).tolist()
[1, 0]
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cmdb.enums import ImpactState
from cmdb.errors import UnknownRelTypeError, ValidationError
from cmdb.topology import CSR, Topology

__all__ = [
    "AGREEMENT",
    "AT_RISK",
    "CUSTOMER",
    "DEGRADED",
    "DOWN",
    "OK",
    "ROOT",
    "SCAN_SHARE",
    "SERVICE",
    "STATES",
    "Prepared",
    "Rows",
    "Scratch",
    "check_depth",
    "check_types",
    "indices",
    "neighbours",
    "prepare",
    "runs",
    "unique_in",
]

# registry categories with a meaning for impact (cmdb/registry.yaml)
SERVICE = "service"  # rolled up as services; what SPOF and availability are asked about
CUSTOMER = "customer"  # rolled up as customers
AGREEMENT = "agreement"  # SLAs: what a service or customer is ``covered_by``

# state codes, ordered from best to worst; ROOT marks the failed CIs while explaining paths
OK, AT_RISK, DEGRADED, DOWN, ROOT = 0, 1, 2, 3, 4
STATES = {DOWN: ImpactState.DOWN, DEGRADED: ImpactState.DEGRADED, AT_RISK: ImpactState.AT_RISK}

# Tuning thresholds: which CIs are listed and their states never depend on them; the cost does,
# and so may the order within one level and which of several shortest paths is shown.
# A set holding more than 1/SCAN_SHARE of the nodes is handled with a flag array and one
# sequential scan or memset: past that share a scan costs less than scattered writes.
SCAN_SHARE = 64
# Scratch sets kept per prepared snapshot: enough for a few concurrent queries; more would pin
# n-sized arrays that only a burst ever used.
POOL_SIZE = 4

_EMPTY = np.empty(0, dtype=np.int32)
_INT32_MAX = 2**31


@dataclass(frozen=True, eq=False)
class Rows:
    """The rows of a CSR that have neighbours (ascending, 64-bit: an index), with where their
    neighbours start and how many they have, in 32 bits when that fits; ``unit`` when each
    has exactly one and ``rows[j]`` owns ``indices[j]`` (always so in a packed CSR; a patched
    one may have moved a row)."""

    rows: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    unit: bool

    @classmethod
    def of(cls, csr: CSR, rows: np.ndarray | None = None) -> Rows:
        """``rows``: those with neighbours when known (a snapshot saves them), else found."""
        if rows is None:
            rows = np.flatnonzero(csr.degree())
        # 64-bit once: numpy widens a 32-bit index array on every take of a large frontier
        rows = rows.astype(np.intp, copy=False)
        dt = np.int32 if csr.indices.size < _INT32_MAX else np.int64
        starts = csr.starts[rows].astype(dt)
        counts = (csr.ends[rows] - csr.starts[rows]).astype(dt)
        unit = rows.size == csr.nnz == csr.indices.size and (
            csr.bounds is not None or bool(np.array_equal(starts, np.arange(rows.size)))
        )
        return cls(rows, starts, counts, unit)


@dataclass(eq=False)
class Scratch:
    """n-sized work arrays, reused across queries (allocating them costs more than a small
    query). Between queries ``state`` is all OK, ``cnt`` all 0 and ``flags`` all False;
    ``mark`` holds anything."""

    state: np.ndarray
    cnt: np.ndarray
    mark: np.ndarray
    flags: np.ndarray | None = None

    @classmethod
    def make(cls, n: int) -> Scratch:
        return cls(np.zeros(n, np.int8), np.zeros(n, np.int32), np.zeros(n, np.int32))

    def flag_array(self) -> np.ndarray:
        """An n-sized boolean array (all False between uses), made on first need."""
        if self.flags is None:
            self.flags = np.zeros(self.state.size, dtype=np.bool_)
        return self.flags


@dataclass(frozen=True, eq=False)
class Prepared:
    """A snapshot prepared for propagation (see the module's assumptions)."""

    n: int
    dependents: CSR  # who a failure of the row hits directly
    dependencies: CSR  # what the row needs directly
    groups: CSR  # the groups the row is a member of
    members: CSR  # the members of the row (a group)
    slack: np.ndarray  # a group is down once more than ``slack`` members are down
    has_groups: bool
    short_groups: np.ndarray  # groups with fewer members than k: down whatever happens
    service_mask: np.ndarray
    customer_mask: np.ndarray
    kind: np.ndarray  # int8: 1 service, 2 customer, 0 other (one take classifies a result)
    soft: CSR | None = None  # who a failure of the row degrades directly (soft edges)
    not_in_service: bool = False  # whether any CI is planned or being built (never affected)
    pool: list[Scratch] = field(default_factory=list, repr=False)
    active: dict[str, Rows] = field(default_factory=dict, repr=False)
    saved_rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # the snapshot's

    def rows_with_neighbours(self, name: str) -> Rows:
        """:class:`Rows` of CSR ``name`` (``"dependents"`` or ``"groups"``), built on first
        use: only large frontiers need it."""
        found = self.active.get(name)
        if found is None:
            found = Rows.of(getattr(self, name), self.saved_rows.get(name))
            self.active[name] = found
        return found

    def borrow(self) -> Scratch:
        """Clean scratch arrays for one query; hand them back with :meth:`give_back`."""
        try:
            return self.pool.pop()  # atomic: concurrent queries never share scratch arrays
        except IndexError:
            return Scratch.make(self.n)

    def give_back(self, sc: Scratch) -> None:
        """Return scratch arrays, clean again (see :class:`Scratch`), to the pool."""
        if len(self.pool) < POOL_SIZE:
            self.pool.append(sc)


_CACHE: weakref.WeakKeyDictionary[Topology, dict[Any, Prepared]] = weakref.WeakKeyDictionary()


def check_types(topo: Topology, types: Iterable[str] | None) -> frozenset[str] | None:
    """``types`` as a frozenset, None (every type) when None or empty, as in the store
    protocol; :class:`UnknownRelTypeError` for a name the snapshot lacks."""
    if types is None:
        return None
    names = frozenset([types] if isinstance(types, str) else types)
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
    """:class:`ValidationError` unless ``depth`` is None or a whole number >= 0."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValidationError(f"must be a whole number >= 0, got {depth!r}", field="depth")


def prepare(topo: Topology, types: frozenset[str] | None = None) -> Prepared:
    """The :class:`Prepared` arrays of ``topo`` with hard edges of ``types`` only (None: every
    type; check names with :func:`check_types` first). Cached per snapshot and type set."""
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
    slack = topo.group_slack()
    short = np.flatnonzero(topo.is_group & (slack < 0)).astype(np.int32)
    services, customers = topo.category_mask(SERVICE), topo.category_mask(CUSTOMER)
    kind = services.astype(np.int8)
    kind[customers] = 2
    made = per_topo[types] = Prepared(
        topo.n,
        dependents,
        dependencies,
        topo.groups,
        members,
        slack,
        topo.groups.nnz > 0,
        short,
        services,
        customers,
        kind,
        _soft_csr(topo, types),
        not bool(topo.in_service.all()),
    )
    for name in ("dependents", "groups") if types is None else ("groups",):
        rows = topo.derived(f"{name}.rows")  # saved with the snapshot: no scan of every row
        if rows is not None:
            made.saved_rows[name] = rows
    return made


def _soft_csr(topo: Topology, types: frozenset[str] | None) -> CSR | None:
    """Row ``i``: the nodes a failure of ``i`` degrades (soft edges); None when there are
    none, so the engine pays nothing for them."""
    frm, to = topo.soft_edges(types)
    return CSR.from_edges(topo.n, frm, to) if frm.size else None


def neighbours(csr: CSR, rows: np.ndarray) -> np.ndarray:
    """The neighbours of every row in ``rows``, concatenated in row order (repeats kept).
    Positions are computed in 32 bits when they fit; a single row is a slice."""
    if rows.size == 1:
        r = int(rows[0])
        return csr.indices[csr.starts[r] : csr.ends[r]]
    starts = csr.starts[rows]
    return runs(csr.indices, starts, csr.ends[rows] - starts)


def runs(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values[starts[i] : starts[i] + counts[i]]`` for every i, concatenated."""
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    if total == 0:
        return _EMPTY
    dt = np.int32 if values.size < _INT32_MAX else np.int64
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


def indices(topo: Topology, ids: Iterable[str]) -> np.ndarray:
    """Node numbers of ``ids`` in order, repeats dropped; NotFoundError for an unknown id."""
    if isinstance(ids, str):
        ids = [ids]
    return np.asarray([topo.index(ci) for ci in dict.fromkeys(ids)], dtype=np.int32)
