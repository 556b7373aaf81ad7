"""Incidents: open one with a priority computed from its blast radius; resolve one.

Assumptions: the priority is :func:`impact.priority.priority` of the urgency and the impact
that :func:`impact.priority.incident_impact` measures: the full impact of the incident's CIs,
whatever else is open (the other open incidents only make states worse where they combine with
it, and are named when they already affect the same services; retired CIs skipped; planned CIs
never affected). Opening applies one batch holding the new incident with
``id=None``: its id (``INC-000123``) is allocated by the store inside that batch. Resolving
applies one batch that expects the version the incident was read at, so of two concurrent
resolvers one wins and the other gets :class:`~cmdb.errors.ConflictError`.

>>> import os, tempfile
>>> from cmdb.model import CI, Batch
>>> from cmdb.settings import Settings
>>> from cmdb.store import open_store
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "i.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="pc-1", ci_class="desktop", name="PC")]), actor="doc")
>>> opened = open_incident(store, ci_ids=["pc-1"], urgency="low", title="PC", actor="doc")
>>> opened.incident.id, opened.priority
('INC-000001', 5)
>>> resolve_incident(store, "INC-000001", actor="doc").status.value
'resolved'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import model_serializer

from cmdb.enums import IncidentStatus, RecordKind, Urgency
from cmdb.errors import ConflictError, ValidationError
from cmdb.filters import RecordFilter
from cmdb.model import Batch, Expected, Incident, utcnow
from cmdb.store.protocol import GraphStore
from impact.priority import ImpactAssessment, incident_impact, priority
from impact.report import slas_covering
from impact.results import Result

__all__ = [
    "IncidentAssessment",
    "IncidentPriority",
    "assess_incident",
    "open_incident",
    "resolve_incident",
]


class IncidentPriority(Result):
    """What :func:`assess_incident` computes for an incident on ``ci_ids`` opened at
    ``opened_at``, without recording it: its ``priority`` (1..5), the ``impact`` assessment
    (``level``, ``points``, ``service_states``, ``customer_states``, ``reasons``...), and the
    tightest SLA covering what it takes down or degrades with the due times it would set."""

    ci_ids: tuple[str, ...]
    urgency: str
    priority: int
    impact: ImpactAssessment
    opened_at: datetime
    sla_id: str | None = None
    response_due: datetime | None = None
    resolution_due: datetime | None = None


class IncidentAssessment(Result):
    """What :func:`open_incident` recorded (the incident as stored) and why it got its
    priority. JSON: the incident's ``id``, ``title`` and ``ci_ids``, its ``priority``, the
    ``impact`` level, ``urgency``, ``impact_points``, the affected ``services`` and
    ``customers`` (ids) with their ``service_states`` and ``customer_states`` (state,
    criticality, points), the ``reasons``, the SLA and due times stored with the incident, what
    it ``made_worse`` and which open incidents ``already_affected`` the same services."""

    incident: Incident
    priority: int
    urgency: str
    impact: ImpactAssessment

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, Any]:
        return {
            "id": self.incident.id,
            "title": self.incident.title,
            "ci_ids": list(self.incident.ci_ids),
            "priority": self.priority,
            "impact": self.impact.level,
            "urgency": self.urgency,
            "impact_points": self.impact.points,
            "services": sorted(h.id for h in self.impact.services),
            "customers": sorted(h.id for h in self.impact.customers),
            "service_states": [h.to_json() for h in self.impact.services],
            "customer_states": [h.to_json() for h in self.impact.customers],
            "reasons": list(self.impact.reasons),
            "sla_id": self.incident.sla_id,
            "response_due": _iso(self.incident.response_due),
            "resolution_due": _iso(self.incident.resolution_due),
            "made_worse": list(self.impact.made_worse),
            "already_affected": [a.to_json() for a in self.impact.already_affected],
        }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def _minutes(value: Any, scale: float) -> timedelta | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return timedelta(minutes=float(value) * scale)


def _tightest_sla(
    store: GraphStore, impact: ImpactAssessment
) -> tuple[str, timedelta | None, timedelta | None] | None:
    """The SLA (category ``agreement``) covering a service or customer the incident takes
    down or degrades with the shortest resolution target (then response target), as (id,
    response, resolution); None when no SLA applies. ``response_minutes`` and
    ``resolution_hours`` are the SLA CI's attributes."""
    hit = [h.id for h in (*impact.services, *impact.customers) if h.state in ("down", "degraded")]
    if not hit:
        return None
    best = None
    for ref in slas_covering(store, hit):
        attrs = store.get_ci(ref.id).attributes
        response = _minutes(attrs.get("response_minutes"), 1)
        resolution = _minutes(attrs.get("resolution_hours"), 60)
        if response is None and resolution is None:
            continue
        key = (resolution or timedelta.max, response or timedelta.max, ref.id)
        if best is None or key < best[0]:
            best = (key, (ref.id, response, resolution))
    return best[1] if best else None


def _incident(store: GraphStore, incident_id: str) -> Incident:
    rec = store.get_record(incident_id)
    if not isinstance(rec, Incident):
        raise ValidationError(f"record '{incident_id}' is a {rec.kind}, not an incident")
    return rec


def _urgency(urgency: str) -> str:
    try:
        return Urgency(urgency).value
    except ValueError:
        raise ValidationError(
            f"must be high, medium or low, got {urgency!r}", field="urgency"
        ) from None


def assess_incident(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    urgency: str,
    now: datetime | None = None,
) -> IncidentPriority:
    """The priority, impact and SLA due times an incident on ``ci_ids`` would get if opened
    at ``now``, with the other open incidents as they are; writes nothing.

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI and
    :class:`~cmdb.errors.ValidationError` for a bad urgency or no CI.
    """
    ci_ids = list(dict.fromkeys(ci_ids))
    urgency = _urgency(urgency)
    topo = store.topology()
    records = store.find_records(RecordFilter(kinds=(RecordKind.INCIDENT,), open_only=True))
    outages = {r.id: tuple(r.ci_ids) for r in records if r.id is not None}
    impact = incident_impact(topo, ci_ids, outages=outages)
    opened_at = now or utcnow()
    sla = _tightest_sla(store, impact)
    return IncidentPriority(
        ci_ids=tuple(ci_ids),
        urgency=urgency,
        priority=priority(impact.level, urgency),
        impact=impact,
        opened_at=opened_at,
        sla_id=sla[0] if sla else None,
        response_due=opened_at + sla[1] if sla and sla[1] is not None else None,
        resolution_due=opened_at + sla[2] if sla and sla[2] is not None else None,
    )


def open_incident(
    store: GraphStore,
    *,
    ci_ids: Iterable[str],
    urgency: str,
    title: str,
    actor: str,
    now: datetime | None = None,
) -> IncidentAssessment:
    """Record a new open incident on ``ci_ids`` with its computed priority
    (:func:`assess_incident`), and say why.

    Raises :class:`~cmdb.errors.NotFoundError` for an unknown CI and
    :class:`~cmdb.errors.ValidationError` for a bad urgency, an empty title or no CI.
    """
    urgency = _urgency(urgency)
    if not title.strip():
        raise ValidationError("must not be empty", field="title")
    found = assess_incident(store, ci_ids=ci_ids, urgency=urgency, now=now)
    incident = Incident(
        id=None,
        title=title.strip(),
        ci_ids=list(found.ci_ids),
        urgency=Urgency(urgency),
        priority=found.priority,
        opened_at=found.opened_at,
        impact=found.impact.level,
        sla_id=found.sla_id,
        response_due=found.response_due,
        resolution_due=found.resolution_due,
    )
    done = store.apply(Batch(records=[incident]), actor=actor)
    stored = _incident(store, done.allocated[0])
    return IncidentAssessment(
        incident=stored, priority=found.priority, urgency=urgency, impact=found.impact
    )


def resolve_incident(
    store: GraphStore,
    incident_id: str,
    *,
    actor: str,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Mark an open incident resolved and return it as stored.

    ``expected_version`` is the version the caller read (an ETag): when the incident has moved
    on, :class:`~cmdb.errors.StaleVersionError`; without it, the version read here guards the
    write. :class:`~cmdb.errors.ConflictError` if it is not open, or if it changed (another
    resolver won) between reading it and writing; :class:`~cmdb.errors.NotFoundError` if there is no
    such record; :class:`~cmdb.errors.ValidationError` if it is not an incident.
    """
    rec = _incident(store, incident_id)
    if not rec.is_open:
        raise ConflictError(f"incident '{incident_id}' is already {rec.status.value}")
    done = rec.model_copy(
        update={"status": IncidentStatus.RESOLVED, "resolved_at": now or utcnow()}
    )
    store.apply(
        Batch(
            records=[done],
            expected=[
                Expected(
                    entity="record",
                    id=rec.id,
                    version=rec.version if expected_version is None else expected_version,
                )
            ],
        ),
        actor=actor,
    )
    return _incident(store, incident_id)
