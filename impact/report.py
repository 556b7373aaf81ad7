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

import numpy as np

from cmdb.enums import RecordKind
from cmdb.filters import CIFilter, RecordFilter
from cmdb.store import GraphStore
from cmdb.topology import Topology
from impact.availability import designed_availability
from impact.blast import BlastRadius, blast_radius
from impact.depends import depends_on
from impact.render import to_dot, to_mermaid
from impact.spof import single_points_of_failure

__all__ = [
    "availability_report",
    "availability_reports",
    "blast_radius_picture",
    "blast_radius_report",
    "depends_on_picture",
    "depends_on_report",
    "open_incident_cis",
    "slas_covering",
    "spof_report",
]

SECONDS_PER_DAY = 86400.0
_RENDER = {"dot": to_dot, "mermaid": to_mermaid}


def _target(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 100.0 if value > 1 else float(value)


def slas_covering(store: GraphStore, ci_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The SLAs that cover any of ``ci_ids``: id, name, availability target, what they cover."""
    topo = store.topology()
    return _slas_of_nodes(store, topo, np.asarray([topo.index(ci) for ci in ci_ids], np.int64))


def _slas_of_nodes(store: GraphStore, topo: Topology, nodes: np.ndarray) -> list[dict[str, Any]]:
    """:func:`slas_covering` for node numbers. The ``covered_by`` edges come from the snapshot,
    so only the few SLA CIs themselves are read from the store."""
    wanted = np.zeros(topo.n, dtype=bool)
    wanted[nodes] = True
    sel = np.isin(topo.rtype, topo.type_codes(["covered_by"])) & wanted[topo.src]
    covers: dict[str, list[str]] = {}
    for src, dst in zip(topo.src[sel].tolist(), topo.dst[sel].tolist(), strict=True):
        covers.setdefault(topo.ids[dst], []).append(topo.ids[src])
    if not covers:
        return []
    return [
        {"id": sla.id, "name": sla.name,
         "availability_target": _target(sla.attributes.get("availability_target")),
         "covers": sorted(covers[sla.id])}
        for sla in store.find_cis(CIFilter(ids=tuple(sorted(covers))))
    ]


def open_incident_cis(store: GraphStore) -> list[str]:
    """CIs named by open incidents: what ``--open-incidents`` assumes down."""
    records = store.find_records(RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=True))
    return sorted({ci for rec in records for ci in rec.ci_ids})


def _blast(store: GraphStore, cis: Iterable[str], *, assume_down: Iterable[str],
           assume_open_incidents: bool, depth: int | None, types: Iterable[str] | None,
           stale_days: float = 30.0) -> BlastRadius:
    cis = list(cis)
    assumed = set(assume_down)
    if assume_open_incidents:
        assumed |= set(open_incident_cis(store)) - set(cis)
    return blast_radius(store.topology(), cis, assume_down=sorted(assumed), depth=depth,
                        types=types, stale_after=stale_days * SECONDS_PER_DAY, now=time.time())


def blast_radius_report(
    store: GraphStore,
    cis: Iterable[str],
    *,
    assume_down: Iterable[str] = (),
    assume_open_incidents: bool = False,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    stale_days: float = 30.0,
    limit: int | None = None,
) -> dict[str, Any]:
    """:meth:`BlastRadius.to_json <impact.blast.BlastRadius.to_json>` plus ``version`` (the
    snapshot's store version), ``stale`` (listed CIs not seen by discovery for ``stale_days``)
    and ``slas`` covering the listed services and customers. ``assume_open_incidents`` adds
    the CIs of open incidents to ``assume_down`` (except the failing CIs themselves)."""
    topo = store.topology()
    br = _blast(store, cis, assume_down=assume_down, assume_open_incidents=assume_open_incidents,
                depth=depth, types=types, stale_days=stale_days)
    out = br.to_json(limit)
    out["rollup"] = br.rollup(limit)
    out["version"] = topo.version
    out["counts"]["stale"] = br.stale_count()
    out["stale"] = list(br.stale(limit))
    rolled = br.nodes[br.service_or_customer_mask()]
    out["slas"] = _slas_of_nodes(store, topo, rolled)
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


def blast_radius_picture(
    store: GraphStore,
    cis: Iterable[str],
    *,
    fmt: str,
    assume_down: Iterable[str] = (),
    assume_open_incidents: bool = False,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    limit: int | None = None,
) -> str:
    """The blast-radius subgraph as Graphviz DOT (``fmt="dot"``) or Mermaid text."""
    br = _blast(store, cis, assume_down=assume_down, assume_open_incidents=assume_open_incidents,
                depth=depth, types=types)
    return _RENDER[fmt](br, limit=limit)


def depends_on_picture(store: GraphStore, ci: str, *, fmt: str, depth: int | None = None,
                       types: Iterable[str] | None = None, limit: int | None = None) -> str:
    """The depends-on subgraph as Graphviz DOT (``fmt="dot"``) or Mermaid text."""
    return _RENDER[fmt](depends_on(store.topology(), ci, depth=depth, types=types), limit=limit)


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


def availability_reports(store: GraphStore, services: Iterable[str] | None = None
                         ) -> list[dict[str, Any]]:
    """:func:`availability_report` for each of ``services``, or for every live business
    service when None."""
    if services is None:
        services = [c.id for c in store.find_cis(CIFilter(classes=("business_service",)))]
    return [availability_report(store, s) for s in services]
