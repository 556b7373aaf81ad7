"""ITSM records: incidents (list, read, open with a computed priority, resolve), problems
(list, read, open with a suspected root cause) and changes (list with the risk of those still
to be done, read, record, assess a recorded change or, at ``POST /impact/change-risk``, a
proposed one).

Record ids never contain ``/``. A read answers with an ``ETag`` (the record's version);
resolving an incident needs ``If-Match``. Opening or recording answers 201 with the workflow's
result (:mod:`cmdb.workflows`) and a ``Location``. Reading ``/incidents/{id}`` with the id of
another kind of record is a 404; a write naming one is a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import IfMatchDep, SettingsDep, StoreDep, precondition, set_etag
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES, responses
from api.wire import Cursor, IsoTime, Name, Page, link_next
from cmdb.enums import ChangeType, Urgency
from cmdb.filters import RecordFilter
from cmdb.model import Change, CIId, Incident, Problem
from cmdb.record_views import get_record_as, list_records
from cmdb.workflows import changes, incidents, problems, risk
from cmdb.workflows.change_list import ListedChange
from cmdb.workflows.change_list import list_changes as list_changes_view
from cmdb.workflows.incidents import IncidentAssessment
from cmdb.workflows.problems import OpenedProblem
from impact.change_risk import ChangeAssessment

router = _router(tags=["records"])

OpenOnly = Annotated[bool, Query(description="Only records still open (or still to be done).")]
OfCI = Annotated[Name | None, Query(description="Only records naming this CI (404 if unknown).")]
Since = Annotated[
    IsoTime | None,
    Query(description="Only records from this time on (ISO 8601; UTC without a zone)."),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
CIIds = Annotated[list[CIId], Field(min_length=1, max_length=1000, description="The CIs.")]
Title = Annotated[str, Field(min_length=1, max_length=300)]
RESOLVE_RESPONSES = {**WRITE_RESPONSES, **responses(412, 428)}


class IncidentOpen(BaseModel):
    """A new incident; its priority comes from ``urgency`` and the impact of its CIs."""

    model_config = ConfigDict(extra="forbid")

    ci_ids: CIIds
    urgency: Urgency
    title: Title


class ProblemOpen(BaseModel):
    """A new problem grouping incidents; ``root`` defaults to the best root-cause candidate."""

    model_config = ConfigDict(extra="forbid")

    incident_ids: Annotated[list[CIId], Field(min_length=1, max_length=1000)]
    root: CIId | None = None
    title: Annotated[str | None, Field(min_length=1, max_length=300)] = None


class ChangeProposal(BaseModel):
    """A change as proposed: its CIs, type and window (times with a zone)."""

    model_config = ConfigDict(extra="forbid")

    ci_ids: CIIds
    type: ChangeType = ChangeType.NORMAL
    window_start: AwareDatetime
    window_end: AwareDatetime


class ChangeCreate(ChangeProposal):
    """A requested change to record."""

    title: Title


def _page(request: Request, response: Response, found: list, limit: int) -> tuple[list, str | None]:
    items = found[:limit]
    next_cursor = items[-1].id if len(found) > limit else None
    link_next(request, response, next_cursor)
    return items, next_cursor


def _filter(open_only: bool, ci: str | None, since: datetime | None) -> RecordFilter:
    return RecordFilter(open_only=open_only, ci=ci, since=since)


# incidents


@router.get("/incidents", response_model=Page[Incident], summary="List incidents, by id")
def list_incidents(
    request: Request,
    response: Response,
    store: StoreDep,
    open_only: OpenOnly = False,
    ci: OfCI = None,
    since: Since = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[Incident]:
    found = list_records(
        store, Incident, _filter(open_only, ci, since), limit=limit + 1, after=cursor
    )
    items, next_cursor = _page(request, response, found, limit)
    return Page[Incident](items=items, next_cursor=next_cursor)


@router.get(
    "/incidents/{incident_id}", response_model=Incident, summary="One incident, version as ETag"
)
def get_incident(incident_id: str, response: Response, store: StoreDep) -> Incident:
    incident = get_record_as(store, Incident, incident_id)
    set_etag(response, incident.version)
    return incident


@router.post(
    "/incidents",
    response_model=IncidentAssessment,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Open an incident with its computed priority, impact and SLA due times",
)
def open_incident(
    body: IncidentOpen, response: Response, store: StoreDep, caller: Authorized
) -> IncidentAssessment:
    opened = incidents.open_incident(
        store, ci_ids=body.ci_ids, urgency=body.urgency.value, title=body.title, actor=caller.actor
    )
    set_etag(response, opened.incident.version)
    response.headers["Location"] = f"/api/v1/incidents/{opened.incident.id}"
    return opened


@router.post(
    "/incidents/{incident_id}/resolve",
    response_model=Incident,
    responses=RESOLVE_RESPONSES,
    summary="Resolve an open incident (If-Match required; 409 if it is not open)",
)
def resolve_incident(
    incident_id: str, response: Response, store: StoreDep, caller: Authorized, if_match: IfMatchDep
) -> Incident:
    with precondition(if_match) as version:
        done = incidents.resolve_incident(
            store, incident_id, actor=caller.actor, expected_version=version
        )
    set_etag(response, done.version)
    return done


# problems


@router.get("/problems", response_model=Page[Problem], summary="List problems, by id")
def list_problems(
    request: Request,
    response: Response,
    store: StoreDep,
    open_only: OpenOnly = False,
    ci: OfCI = None,
    since: Since = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[Problem]:
    found = list_records(
        store, Problem, _filter(open_only, ci, since), limit=limit + 1, after=cursor
    )
    items, next_cursor = _page(request, response, found, limit)
    return Page[Problem](items=items, next_cursor=next_cursor)


@router.get(
    "/problems/{problem_id}", response_model=Problem, summary="One problem, version as ETag"
)
def get_problem(problem_id: str, response: Response, store: StoreDep) -> Problem:
    problem = get_record_as(store, Problem, problem_id)
    set_etag(response, problem.version)
    return problem


@router.post(
    "/problems",
    response_model=OpenedProblem,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Open a problem grouping incidents, with its root-cause ranking",
)
def open_problem(
    body: ProblemOpen, response: Response, store: StoreDep, caller: Authorized
) -> OpenedProblem:
    opened = problems.open_problem(
        store,
        incident_ids=body.incident_ids,
        root=body.root,
        title=body.title,
        actor=caller.actor,
    )
    set_etag(response, opened.problem.version)
    response.headers["Location"] = f"/api/v1/problems/{opened.problem.id}"
    return opened


# changes


@router.get(
    "/changes",
    response_model=Page[ListedChange],
    summary="List changes, by id, with the risk and CAB decision of those still to be done",
)
def list_changes(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    open_only: OpenOnly = False,
    ci: OfCI = None,
    since: Since = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ListedChange]:
    found = list_changes_view(
        store,
        _filter(open_only, ci, since),
        weights=settings.risk_weights,
        limit=limit + 1,
        after=cursor,
    )
    items, next_cursor = _page(request, response, found, limit)
    return Page[ListedChange](items=items, next_cursor=next_cursor)


@router.get("/changes/{change_id}", response_model=Change, summary="One change, version as ETag")
def get_change(change_id: str, response: Response, store: StoreDep) -> Change:
    change = get_record_as(store, Change, change_id)
    set_etag(response, change.version)
    return change


@router.post(
    "/changes",
    response_model=Change,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Record a requested change (its CIs must be live)",
)
def record_change(
    body: ChangeCreate, response: Response, store: StoreDep, caller: Authorized
) -> Change:
    change = changes.record_change(
        store,
        ci_ids=body.ci_ids,
        change_type=body.type.value,
        window_start=body.window_start,
        window_end=body.window_end,
        title=body.title,
        actor=caller.actor,
    )
    set_etag(response, change.version)
    response.headers["Location"] = f"/api/v1/changes/{change.id}"
    return change


@router.get(
    "/changes/{change_id}/risk",
    response_model=ChangeAssessment,
    summary="The risk of a recorded change: score, factors, collisions and the CAB decision",
)
def assess_change(change_id: str, store: StoreDep, settings: SettingsDep) -> ChangeAssessment:
    return risk.assess_change(store, change_id, weights=settings.risk_weights)


@router.post(
    "/impact/change-risk",
    response_model=ChangeAssessment,
    summary="The risk of a proposed change, without recording it",
)
def assess_proposed_change(
    body: ChangeProposal, store: StoreDep, settings: SettingsDep
) -> ChangeAssessment:
    return risk.assess_proposed(
        store,
        weights=settings.risk_weights,
        ci_ids=body.ci_ids,
        change_type=body.type.value,
        window_start=body.window_start,
        window_end=body.window_end,
    )
