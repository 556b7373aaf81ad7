"""Impact reports for a store: what the CLI and the API return, one call each.

Assumptions: the store is read only through the :class:`~cmdb.store.GraphStore` protocol
(``topology()``, ``find_cis``, ``find_records``). SLAs are the CIs of registry category
``agreement`` that a CI is ``covered_by``; their ``availability_target`` is a fraction (0.999)
or, when above 1, a percentage (99.9), and is reported as a fraction. Every report is a typed,
frozen model of :mod:`impact.results`; its ``to_json()`` is the JSON the CLI prints.

>>> import os, tempfile
>>> from cmdb.model import CI, Batch, Relationship
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "r.db")), create=True)
>>> _ = store.apply(Batch(cis=[
...     CI(id="svc", ci_class="business_service", name="Payments"),
...     CI(id="app", ci_class="application", name="Payments app"),
...     CI(id="sla-1", ci_class="sla", name="Gold", attributes={"availability_target": 0.9995})],
...     relationships=[Relationship(source="svc", type="uses", target="app"),
...                    Relationship(source="svc", type="covered_by", target="sla-1")]),
...     actor="doc")
>>> r = blast_radius_report(store, ["app"])
>>> r.services, [(s.id, s.availability_target) for s in r.slas]
(('svc',), [('sla-1', 0.9995)])
>>> availability_report(store, "svc").meets_slas
False
>>> store.close()
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cmdb.enums import RecordKind
from cmdb.filters import CIFilter, RecordFilter
from cmdb.store import GraphStore
from cmdb.topology import Topology
from impact.availability import designed_availability
from impact.blast import BlastRadius, blast_radius
from impact.depends import depends_on
from impact.propagation import AGREEMENT, SERVICE
from impact.render import to_dot, to_mermaid
from impact.results import (
    AffectedCI,
    AvailabilityPart,
    AvailabilityReport,
    BlastCounts,
    BlastRadiusReport,
    DependencyItem,
    DependsOnReport,
    RolledUpCI,
    SinglePointItem,
    SLARef,
    SLAVerdict,
    SpofReport,
    WeakComponent,
)
from impact.spof import single_points_of_failure
from impact.suppliers import suppliers_of_nodes

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
# registry categories of devices: a single point among them is one an engineer can remove
PHYSICAL = ("compute", "storage", "network", "enduser", "facility")
_RENDER = {"dot": to_dot, "mermaid": to_mermaid}


def _target(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 100.0 if value > 1 else float(value)


def slas_covering(store: GraphStore, ci_ids: Iterable[str]) -> tuple[SLARef, ...]:
    """The SLAs that cover any of ``ci_ids``, by id: name, availability target, what they
    cover."""
    topo = store.topology()
    return _slas_of_nodes(store, topo, np.asarray([topo.index(ci) for ci in ci_ids], np.int64))


def _slas_of_nodes(store: GraphStore, topo: Topology, nodes: np.ndarray) -> tuple[SLARef, ...]:
    """:func:`slas_covering` for node numbers. The ``covered_by`` edges come from the snapshot,
    so only the few SLA CIs themselves are read from the store."""
    wanted = np.zeros(topo.n, dtype=bool)
    wanted[nodes] = True
    sel = (
        np.isin(topo.rtype, topo.type_codes(["covered_by"]))
        & wanted[topo.src]
        & topo.category_mask(AGREEMENT)[topo.dst]
    )
    covers: dict[str, list[str]] = {}
    for src, dst in zip(topo.src[sel].tolist(), topo.dst[sel].tolist(), strict=True):
        covers.setdefault(topo.ids[dst], []).append(topo.ids[src])
    if not covers:
        return ()
    return tuple(
        SLARef(
            id=sla.id,
            name=sla.name,
            availability_target=_target(sla.attributes.get("availability_target")),
            covers=tuple(sorted(covers[sla.id])),
        )
        for sla in sorted(store.find_cis(CIFilter(ids=tuple(sorted(covers)))), key=lambda c: c.id)
    )


def open_incident_cis(store: GraphStore) -> list[str]:
    """CIs named by open incidents, sorted: what ``--open-incidents`` assumes down."""
    records = store.find_records(RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=True))
    return sorted({ci for rec in records for ci in rec.ci_ids})


def _blast(
    store: GraphStore,
    cis: Iterable[str],
    *,
    assume_down: Iterable[str],
    assume_open_incidents: bool,
    depth: int | None,
    types: Iterable[str] | None,
    stale_days: float = 30.0,
) -> BlastRadius:
    cis = list(cis)
    assumed = set(assume_down)
    if assume_open_incidents:
        assumed |= set(open_incident_cis(store)) - set(cis)
    return blast_radius(
        store.topology(),
        cis,
        assume_down=sorted(assumed),
        depth=depth,
        types=types,
        stale_after=stale_days * SECONDS_PER_DAY,
        now=time.time(),
    )


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
) -> BlastRadiusReport:
    """The blast radius of ``cis`` (see :func:`impact.blast.blast_radius` and
    :class:`~impact.results.BlastRadiusReport` for the order of each list), with the SLAs
    covering the listed services and customers, and the CIs not seen by discovery for
    ``stale_days``. ``assume_open_incidents`` adds the CIs of open incidents to
    ``assume_down`` (except the failing CIs themselves)."""
    topo = store.topology()
    br = _blast(
        store,
        cis,
        assume_down=assume_down,
        assume_open_incidents=assume_open_incidents,
        depth=depth,
        types=types,
        stale_days=stale_days,
    )
    return BlastRadiusReport(
        failed=br.failed,
        assume_down=br.assume_down,
        affected=tuple(
            AffectedCI(
                id=a.id,
                ci_class=a.ci_class,
                state=a.state,
                path=a.path,
                last_seen=None if a.last_seen is None else datetime.fromtimestamp(a.last_seen, UTC),
                stale=a.stale,
            )
            for a in br.affected(limit)
        ),
        services=br.services(),
        customers=br.customers(),
        counts=BlastCounts(**br.counts(), stale=br.stale_count()),
        rollup=tuple(
            RolledUpCI(id=r.id, ci_class=r.ci_class, state=r.state) for r in br.rollup(limit)
        ),
        store_version=topo.version,
        stale=br.stale(limit),
        slas=_slas_of_nodes(store, topo, br.nodes[br.service_or_customer_mask()]),
        planned=br.planned,
        suppliers=suppliers_of_nodes(
            store, topo, br.nodes, failing=np.asarray([topo.index(c) for c in br.failed])
        ),
    )


def depends_on_report(
    store: GraphStore,
    ci: str,
    *,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    limit: int | None = None,
) -> DependsOnReport:
    """What ``ci`` needs (:func:`impact.depends.depends_on`), nearest first, at most ``limit``
    of them; ``total`` counts them all."""
    topo = store.topology()
    deps = depends_on(topo, ci, depth=depth, types=types)
    return DependsOnReport(
        ci=ci,
        total=len(deps),
        store_version=topo.version,
        dependencies=tuple(
            DependencyItem(id=d.id, ci_class=d.ci_class, path=d.path) for d in deps.items(limit)
        ),
        suppliers=suppliers_of_nodes(
            store,
            topo,
            np.concatenate([[topo.index(ci)], deps.nodes]),
            failing=np.zeros(0, np.int64),
        ),
    )


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
    br = _blast(
        store,
        cis,
        assume_down=assume_down,
        assume_open_incidents=assume_open_incidents,
        depth=depth,
        types=types,
    )
    return _RENDER[fmt](br, limit=limit)


def depends_on_picture(
    store: GraphStore,
    ci: str,
    *,
    fmt: str,
    depth: int | None = None,
    types: Iterable[str] | None = None,
    limit: int | None = None,
) -> str:
    """The depends-on subgraph as Graphviz DOT (``fmt="dot"``) or Mermaid text."""
    return _RENDER[fmt](depends_on(store.topology(), ci, depth=depth, types=types), limit=limit)


def spof_report(store: GraphStore, service: str) -> SpofReport:
    """The single points of failure of ``service``, each with its path from the service."""
    topo = store.topology()
    found = single_points_of_failure(topo, service)
    physical = topo.category_mask(*PHYSICAL)

    def kind(ci: str) -> str:
        i = topo.index(ci)
        return "group" if topo.is_group[i] else "physical" if physical[i] else "logical"

    items = tuple(
        SinglePointItem(id=s.id, ci_class=s.ci_class, path=s.path, kind=kind(s.id)) for s in found
    )
    return SpofReport(
        service=service,
        store_version=topo.version,
        single_points_of_failure=items,
        physical=sum(1 for s in items if s.kind == "physical"),
    )


def availability_report(store: GraphStore, service: str) -> AvailabilityReport:
    """The designed availability of ``service`` against the SLAs covering it."""
    topo = store.topology()
    defaults = {
        name: spec.availability
        for name, spec in store.registry.classes.items()
        if spec.availability is not None
    }
    result = designed_availability(topo, service, class_availability=defaults)
    slas = tuple(
        SLAVerdict(
            **sla.model_dump(),
            meets=None
            if sla.availability_target is None
            else result.availability >= sla.availability_target,
        )
        for sla in slas_covering(store, [service])
    )
    verdicts = [s.meets for s in slas if s.meets is not None]
    return AvailabilityReport(
        service=result.service,
        availability=result.availability,
        annual_downtime_minutes=round(result.annual_downtime_minutes, 3),
        components=result.components,
        single_points=result.single_points - 1,  # the service itself is not one
        cycles_broken=result.cycles_broken,
        weakest=tuple(WeakComponent(id=ci, availability=a) for ci, a in result.weakest),
        store_version=topo.version,
        slas=slas,
        meets_slas=all(verdicts) if verdicts else None,
        parts=tuple(
            AvailabilityPart(
                id=x.id,
                ci_class=x.ci_class,
                availability=x.availability,
                source=x.source,
                in_series=x.in_series,
                cost_minutes=round(x.cost_minutes, 3),
            )
            for x in result.parts
        ),
        costliest=result.parts[0].id if result.parts else None,
    )


def availability_reports(
    store: GraphStore, services: Iterable[str] | None = None
) -> tuple[AvailabilityReport, ...]:
    """:func:`availability_report` for each of ``services``, or, when None, for every live CI
    of category ``service``, by id."""
    if services is None:
        topo = store.topology()
        services = sorted(topo.ids[i] for i in np.flatnonzero(topo.category_mask(SERVICE)))
    return tuple(availability_report(store, s) for s in services)
