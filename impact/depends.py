"""Dependencies: everything a CI needs, transitively.

Assumptions: a CI needs its hard dependencies (the CIs whose failure impacts it directly, by the
registry's propagation directions) and, when it is a redundancy group, its members; "needs" is
transitive. ``types`` restricts the hard relationship types followed; membership is always
followed, as in :func:`impact.blast.blast_radius`. ``depth`` stops the walk after that many
steps. Each dependency carries one shortest path from the CI to it (the CI first). A redundant
member is listed like any other dependency: use :mod:`impact.spof` to ask which ones matter alone.

>>> from cmdb.topology import Topology
>>> t = Topology.build(
...     version=1, class_names=("application", "cluster", "database"),
...     rel_type_names=("depends_on", "member_of"), propagation=("to_source", "membership"),
...     ids=["app", "db-cluster", "db-1", "db-2"], class_code=[0, 1, 2, 2],
...     is_group=[False, True, False, False], min_required=[0, 1, 0, 0],
...     src=[0, 2, 3], dst=[1, 1, 1], rtype=[0, 1, 1])
>>> [d.path for d in depends_on(t, "app")]
[('app', 'db-cluster'), ('app', 'db-cluster', 'db-1'), ('app', 'db-cluster', 'db-2')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cmdb.topology import Topology
from impact.propagation import check_depth, check_types, prepare, unique_in

__all__ = ["Dependencies", "Dependency", "depends_on"]


@dataclass(frozen=True)
class Dependency:
    """One CI that the queried CI needs, with a shortest path to it (the queried CI first)."""

    id: str
    ci_class: str
    path: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.path) - 1


@dataclass(frozen=True, eq=False)
class Dependencies:
    """The result of :func:`depends_on`, nearest first."""

    topology: Topology = field(repr=False)
    ci: str
    nodes: np.ndarray = field(repr=False)  # dependency node numbers, breadth-first
    parents: np.ndarray = field(repr=False)  # the node each was reached from, aligned
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.nodes.size)

    def __iter__(self) -> Iterator[Dependency]:
        return self.items()

    def _parent(self) -> dict[int, int]:
        if "parent" not in self._cache:
            self._cache["parent"] = dict(
                zip(self.nodes.tolist(), self.parents.tolist(), strict=True)
            )
        return self._cache["parent"]

    def __contains__(self, ci_id: object) -> bool:
        return ci_id in self.topology and self.topology.index(str(ci_id)) in self._parent()

    def ids(self) -> tuple[str, ...]:
        ids = self.topology.ids
        return tuple(ids[i] for i in self.nodes.tolist())

    def _path_of(self, i: int) -> tuple[str, ...]:
        parent, out = self._parent(), [i]
        while i in parent:
            i = parent[i]
            out.append(i)
        return tuple(self.topology.ids[j] for j in reversed(out))

    def path(self, ci_id: str) -> tuple[str, ...]:
        """The path from the queried CI to ``ci_id`` (empty when it is not a dependency)."""
        if ci_id == self.ci or ci_id not in self:
            return ()
        return self._path_of(self.topology.index(ci_id))

    def items(self, limit: int | None = None) -> Iterator[Dependency]:
        topo = self.topology
        for i in self.nodes[:limit].tolist():
            yield Dependency(topo.ids[i], topo.class_of(i), self._path_of(i))

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``limit`` caps the list, ``total`` stays complete."""
        return {
            "ci": self.ci,
            "dependencies": [
                {"id": d.id, "class": d.ci_class, "path": list(d.path)} for d in self.items(limit)
            ],
            "total": len(self),
        }


def depends_on(
    topo: Topology, ci: str, *, depth: int | None = None, types: Iterable[str] | None = None
) -> Dependencies:
    """What ``ci`` needs: its hard dependencies and the members of groups it needs,
    transitively, within ``depth`` steps, following hard relationships of ``types`` only.

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI and
    :class:`~cmdb.errors.UnknownRelTypeError` for an unknown type.

    >>> from cmdb.topology import Topology
    >>> t = Topology.build(version=1, class_names=("application",), rel_type_names=("depends_on",),
    ...     propagation=("to_source",), ids=["a", "b", "c"], class_code=[0, 0, 0],
    ...     is_group=[False] * 3, min_required=[0] * 3, src=[0, 1], dst=[1, 2], rtype=[0, 0])
    >>> depends_on(t, "a").ids(), depends_on(t, "a", depth=1).ids()
    (('b', 'c'), ('b',))
    """
    check_depth(depth)
    p = prepare(topo, check_types(topo, types))
    root = topo.index(ci)
    sc = p.borrow()  # its ``cnt`` (all 0) serves as "parent + 1", reset before return
    parent, mark = sc.cnt, sc.mark
    parent[root] = root + 1
    frontier = np.asarray([root], dtype=np.int32)
    found, level = [], 0
    while frontier.size and (depth is None or level < depth):
        level += 1
        o1, v1 = p.dependencies.gather(frontier)
        o2, v2 = p.members.gather(frontier)
        own, nb = np.concatenate([o1, o2]), np.concatenate([v1, v2])
        fresh = parent[nb] == 0
        own, nb = own[fresh], nb[fresh]
        parent[nb] = own + 1
        frontier = unique_in(nb, mark)
        found.append(frontier)
    nodes = np.concatenate(found).astype(np.int32, copy=False) if found else frontier[:0]
    parents = parent[nodes] - 1
    parent[nodes] = 0
    parent[root] = 0
    p.give_back(sc)
    return Dependencies(topo, ci, nodes, parents)
