"""Blast radius: what a failure takes down, degrades or puts at risk.

Assumptions (the semantics of ``shared/vectors/impact/README.md``):

- Impact travels along *hard* edges (the registry's ``to_source`` / ``to_target`` types,
  normalised by :meth:`~cmdb.topology.Topology.impact_edges`) and along *membership* edges
  (member -> redundancy group).
- **down**: a CI in ``failed`` or ``assume_down``; a CI with a hard dependency down (groups
  included); a group with fewer than k of its n members not down.
  **degraded**: a group, not down, with a member down; a CI, not down, with a *soft* dependency
  down (a relationship type of propagation ``soft``: a desktop that ``accesses`` a failed
  application works, its user cannot). **at_risk**: neither, with a hard or soft dependency
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
  CIs, where a down or degraded CI steps only to a down CI (a hard or soft dependency, or a
  member) and an
  at-risk CI to a degraded or at-risk one. Paths are computed on first use.
- ``services()`` are the listed CIs whose class is of the registry category ``service``, and
  ``customers()`` those of category ``customer``, as the snapshot carries them (so a
  user-defined service class rolls up too). Both are **sorted by id**: the same answer reads the
  same on every backend, whatever the snapshot's node numbering. ``rollup()`` lists them
  (services first) in listing order instead: worst state first, nearest first.
- Freshness: ``last_seen`` is epoch seconds (None: never seen by discovery); a CI is ``stale``
  when it was seen more than ``stale_after`` seconds before ``now``. Never-seen CIs (typically
  entered by hand) are not stale.

The engine (:mod:`impact.spread`) works level by level over the prepared snapshot's CSR arrays
(:mod:`impact.propagation`) with numpy, no per-CI Python on the hot path. Per-CI objects and
paths are built only when asked for.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cmdb.enums import ImpactState
from cmdb.topology import Topology
from cmdb.topology_ids import Ids
from impact.propagation import (
    AT_RISK,
    DEGRADED,
    DOWN,
    ROOT,
    SCAN_SHARE,
    STATES,
    Prepared,
    check_depth,
    check_types,
    indices,
    prepare,
    unique_in,
)
from impact.spread import solve

__all__ = ["Affected", "BlastRadius", "RolledUp", "blast_radius"]

# Up to this many values one np.bincount counts states cheapest; it widens every value to 64
# bits, so longer arrays are counted by comparison instead.
BINCOUNT_MAX = 4096

_SERVICE, _CUSTOMER = 1, 2  # values of Prepared.kind
_EMPTY = np.empty(0, dtype=np.int32)


def _ids(ids: Ids, nodes: np.ndarray) -> tuple[str, ...]:
    """``tuple(ids[i] for i in nodes)``, the offsets of all of them read in one numpy call."""
    return tuple(ids.take(nodes))


def _tally(values: np.ndarray, wanted: tuple[int, ...]) -> list[int]:
    """How many of ``values`` (small non-negative ints) equal each of ``wanted``."""
    if values.size <= BINCOUNT_MAX:
        counts = np.bincount(values, minlength=max(wanted) + 1).tolist()
        return [counts[v] for v in wanted]
    return [int(np.count_nonzero(values == v)) for v in wanted]


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


@dataclass(frozen=True)
class RolledUp:
    """A listed service or customer, with its class and state."""

    id: str
    ci_class: str
    state: ImpactState


@dataclass(frozen=True, eq=False)
class BlastRadius:
    """The result of :func:`blast_radius`. Per-CI objects are built on demand."""

    topology: Topology = field(repr=False)
    failed: tuple[str, ...]
    assume_down: tuple[str, ...]
    nodes: np.ndarray = field(repr=False)  # listed node numbers, worst state first
    codes: np.ndarray = field(repr=False)  # their state codes (3 down, 2 degraded, 1 at risk)
    prepared: Prepared = field(repr=False)
    stale_after: float | None = None
    now: float | None = None
    _cache: dict = field(default_factory=dict, repr=False)
    planned: tuple[str, ...] = ()  # CIs the failure reaches that are not in service yet

    def __len__(self) -> int:
        return int(self.nodes.size)

    def _parents(self) -> tuple[np.ndarray, np.ndarray]:
        """Breadth-first explanation tree: (parent + 1, hops) per node; roots are the failed."""
        if "parents" in self._cache:
            return self._cache["parents"]
        n, p = self.topology.n, self.prepared
        code = np.zeros(n, dtype=np.int8)
        code[self.nodes] = self.codes
        roots = indices(self.topology, self.failed)
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
                o1, v1 = p.dependents.gather(rows)
                o2, v2 = p.groups.gather(rows)
                o3, v3 = p.soft.gather(rows) if p.soft is not None else (_EMPTY, _EMPTY)
                own, nb = np.concatenate([o1, o2, o3]), np.concatenate([v1, v2, v3])
                cv = code[nb]
                ok = (cv >= weakest) if weakest > 0 else (cv == AT_RISK)
                ok &= parent[nb] == 0
                own, nb = own[ok], nb[ok]
                parent[nb] = own + 1
                found.append(nb)
            nb = np.concatenate(found) if len(found) > 1 else (found[0] if found else _EMPTY)
            if nb.size * SCAN_SHARE > n:
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
            return STATES[int(self.codes[pos])]
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
            yield Affected(topo.ids[i], topo.class_of(i), STATES[c], self._path_of(i), seen, stale)

    def _kinds(self) -> np.ndarray:
        """Per listed CI: 1 service, 2 customer, 0 other. Cached, so that one take serves
        :meth:`services`, :meth:`customers` and :meth:`counts`."""
        kinds = self._cache.get("kinds")
        if kinds is None:
            kinds = self._cache["kinds"] = np.take(self.prepared.kind, self.nodes)
        return kinds

    def _sorted_ids_of(self, kind: int) -> tuple[str, ...]:
        return tuple(sorted(_ids(self.topology.ids, self.nodes[self._kinds() == kind])))

    def service_or_customer_mask(self) -> np.ndarray:
        """A mask over :attr:`nodes`: the listed services and customers."""
        return self._kinds() != 0

    def rollup(self, limit: int | None = None) -> tuple[RolledUp, ...]:
        """The listed services, then customers, each with its class and state, in listing
        order (worst first, nearest first) within each; at most ``limit`` of each."""
        topo, out = self.topology, []
        for kind in (_SERVICE, _CUSTOMER):
            sel = self._kinds() == kind
            for i, c in zip(
                self.nodes[sel][:limit].tolist(), self.codes[sel][:limit].tolist(), strict=True
            ):
                out.append(RolledUp(topo.ids[i], topo.class_of(i), STATES[c]))
        return tuple(out)

    def services(self) -> tuple[str, ...]:
        """Ids of the listed CIs of category ``service``, sorted."""
        return self._sorted_ids_of(_SERVICE)

    def customers(self) -> tuple[str, ...]:
        """Ids of the listed CIs of category ``customer``, sorted."""
        return self._sorted_ids_of(_CUSTOMER)

    def counts(self) -> dict[str, int]:
        """Listed CIs per state, their ``total``, and how many are services and customers."""
        at_risk, degraded, down = _tally(self.codes, (AT_RISK, DEGRADED, DOWN))
        services, customers = _tally(self._kinds(), (_SERVICE, _CUSTOMER))
        return {
            "down": down,
            "degraded": degraded,
            "at_risk": at_risk,
            "total": int(self.codes.size),
            "services": services,
            "customers": customers,
        }

    def _stale_mask(self) -> np.ndarray:
        if self.stale_after is None:
            return np.zeros(self.nodes.size, dtype=bool)
        now = time.time() if self.now is None else self.now
        with np.errstate(invalid="ignore"):
            return (now - self.topology.last_seen[self.nodes]) > self.stale_after

    def stale(self, limit: int | None = None) -> tuple[str, ...]:
        """Ids of listed CIs whose discovery data is stale (needs ``stale_after``), at most
        ``limit`` of them, in listing order."""
        return tuple(self.topology.ids[i] for i in self.nodes[self._stale_mask()][:limit].tolist())

    def stale_count(self) -> int:
        return int(np.count_nonzero(self._stale_mask()))

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``limit`` caps the ``affected`` list (counts stay complete).
        :func:`impact.report.blast_radius_report` gives the typed, store-level answer."""
        return {
            "failed": list(self.failed),
            "assume_down": list(self.assume_down),
            "affected": [
                {
                    "id": a.id,
                    "class": a.ci_class,
                    "state": a.state.value,
                    "path": list(a.path),
                    "last_seen": a.last_seen,
                    "stale": a.stale,
                }
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

    CIs not in service (lifecycle ``planned`` or ``build``: ``Topology.in_service`` False) are
    never affected: they are left out of the listing, the counts and the rollup, and those the
    failure reaches are named apart in :attr:`BlastRadius.planned` (what a change would also
    touch).

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
    p = prepare(topo, check_types(topo, types))
    f_idx, a_idx = indices(topo, failed), indices(topo, assume_down)
    nodes, codes = solve(p, f_idx, a_idx)
    reached: tuple[str, ...] = ()
    if p.not_in_service and nodes.size:
        out = ~np.take(topo.in_service, nodes)
        if out.any():
            reached = tuple(sorted(_ids(topo.ids, nodes[out])))
            nodes, codes = nodes[~out], codes[~out]
    result = BlastRadius(
        topo,
        tuple(topo.ids[i] for i in f_idx.tolist()),
        tuple(topo.ids[i] for i in a_idx.tolist()),
        nodes,
        codes,
        p,
        stale_after,
        now,
        planned=reached,
    )
    if depth is not None and nodes.size:
        _, hops = result._parents()
        keep = hops[nodes] <= depth
        result = BlastRadius(
            topo,
            result.failed,
            result.assume_down,
            nodes[keep],
            codes[keep],
            p,
            stale_after,
            now,
            {"parents": result._cache["parents"]},
            reached,
        )
    return result
