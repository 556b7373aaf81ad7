"""Impact reports for a store: what the CLI and the API print, one call each.

Assumptions: the store is read only through the :class:`~cmdb.store.GraphStore` protocol
(``topology()``, ``find_cis``, ``find_relationships``). SLAs are the ``sla`` CIs that a service
or customer is ``covered_by``; their ``availability_target`` is a fraction (0.999) or, when
above 1, a percentage (99.9), and is reported as a fraction. Every report is a JSON-ready dict.

>>> import os, tempfile
>>> from cmdb.model import CI, Batch, Relationship
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "r.db")))
>>> _ = store.apply(Batch(cis=[
...     CI(id="svc", ci_class="business_service", name="Payments"),
...     CI(id="app", ci_class="application", name="Payments app"),
...     CI(id="sla-1", ci_class="sla", name="Gold", attributes={"availability_target": 0.9995})],
...     relationships=[Relationship(source="svc", type="uses", target="app"),
...                    Relationship(source="svc", type="covered_by", target="sla-1")]),
...     actor="doc")
>>> r = blast_radius_report(store, ["app"])
>>> r["services"], [(s["id"], s["availability_target"]) for s in r["slas"]]
(['svc'], [('sla-1', 0.9995)])
>>> availability_report(store, "svc")["meets_slas"]
False
>>> store.close()
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from cmdb.filters import CIFilter, RelFilter
from cmdb.store import GraphStore
from impact.availability import designed_availability
from impact.blast import blast_radius
from impact.depends import depends_on
from impact.spof import single_points_of_failure

__all__ = [
    "availability_report",
    "blast_radius_report",
    "depends_on_report",
    "slas_covering",
    "spof_report",
]

SECONDS_PER_DAY = 86400.0


def _target(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 100.0 if value > 1 else float(value)


def slas_covering(store: GraphStore, ci_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The SLAs that cover any of ``ci_ids``: id, name, availability target, what they cover."""
    wanted = set(ci_ids)
    covers: dict[str, list[str]] = {}
    for rel in store.find_relationships(RelFilter(types=("covered_by",))):
        if rel.source in wanted:
            covers.setdefault(rel.target, []).append(rel.source)
    if not covers:
        return []
    return [
        {"id": sla.id, "name": sla.name,
         "availability_target": _target(sla.attributes.get("availability_target")),
         "covers": sorted(covers[sla.id])}
        for sla in store.find_cis(CIFilter(ids=tuple(sorted(covers))))
    ]


def blast_radius_report(
    store: GraphStore,
    cis: Iterable[str],
    *,
    assume_down: Iterable[str] = (),
    depth: int | None = None,
    types: Iterable[str] | None = None,
    stale_days: float = 30.0,
    limit: int | None = None,
) -> dict[str, Any]:
    """:meth:`BlastRadius.to_json <impact.blast.BlastRadius.to_json>` plus ``version`` (the
    snapshot's store version), ``stale`` (listed CIs not seen by discovery for ``stale_days``)
    and ``slas`` covering the listed services and customers."""
    topo = store.topology()
    br = blast_radius(topo, cis, assume_down=assume_down, depth=depth, types=types,
                      stale_after=stale_days * SECONDS_PER_DAY, now=time.time())
    out = br.to_json(limit)
    out["version"] = topo.version
    out["stale"] = list(br.stale())
    out["slas"] = slas_covering(store, [*br.services(), *br.customers()])
    return out


def depends_on_report(
    store: GraphStore,
    ci: str,
    *,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """:meth:`Dependencies.to_json <impact.depends.Dependencies.to_json>` plus ``version``."""
    topo = store.topology()
    out = depends_on(topo, ci, depth=depth, types=types).to_json(limit)
    out["version"] = topo.version
    return out


def spof_report(store: GraphStore, service: str) -> dict[str, Any]:
    """The single points of failure of ``service``, each with its path from the service."""
    topo = store.topology()
    found = single_points_of_failure(topo, service)
    return {
        "service": service,
        "version": topo.version,
        "single_points_of_failure": [
            {"id": s.id, "class": s.ci_class, "path": list(s.path)} for s in found
        ],
    }


def availability_report(store: GraphStore, service: str) -> dict[str, Any]:
    """The designed availability of ``service`` against the SLAs covering it. ``meets_slas``
    is None when no SLA with a target covers it."""
    topo = store.topology()
    defaults = {name: spec.availability for name, spec in store.registry.classes.items()
                if spec.availability is not None}
    result = designed_availability(topo, service, class_availability=defaults)
    out = result.to_json()
    slas = slas_covering(store, [service])
    for sla in slas:
        target = sla["availability_target"]
        sla["meets"] = None if target is None else result.availability >= target
    verdicts = [s["meets"] for s in slas if s["meets"] is not None]
    out["version"] = topo.version
    out["slas"] = slas
    out["meets_slas"] = all(verdicts) if verdicts else None
    return out
