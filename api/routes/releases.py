"""Releases and suppliers: record a release of changes, list and read releases, assess one as a
whole (combined blast radius, each change's share, collisions, the release policy, the CAB
decision), and the suppliers a service depends on with its contracts next to its SLAs.

The risk weights and the release policy are the packaged defaults, or the files named by
``CMDB_RISK_WEIGHTS`` and ``CMDB_RELEASE_POLICY`` in the server's environment.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import StoreDep, set_etag
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES, responses
from api.wire import Cursor, Name, Page, link_next
from cmdb.enums import RecordKind, ReleaseType
from cmdb.errors import NotFoundError
from cmdb.filters import RecordFilter
from cmdb.model import Release
from cmdb.workflows.releases import assess_release as assess_release_workflow
from cmdb.workflows.releases import create_release as create_release_workflow
from impact.releases import ReleaseAssessment
from impact.suppliers import SupplierReport, supplier_report

router = _router(tags=["releases"])

ReleaseId = Annotated[str, "the release id (REL-000001)"]


class ReleaseCreate(BaseModel):
    """A new release of changes still to be done. Its window is its changes' (earliest start
    to latest end) unless both ends are given."""

    model_config = ConfigDict(extra="forbid")

    change_ids: list[str] = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=300)
    type: ReleaseType = ReleaseType.NORMAL
    window_start: datetime | None = None
    window_end: datetime | None = None


def _release(store, release_id: str) -> Release:
    rec = store.get_record(release_id)
    if not isinstance(rec, Release):
        raise NotFoundError("release", release_id)
    return rec


@router.post(
    "/releases",
    response_model=Release,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Record a release of changes deployed together",
)
def create_release(
    body: ReleaseCreate, response: Response, store: StoreDep, caller: Authorized
) -> Release:
    release = create_release_workflow(
        store,
        change_ids=body.change_ids,
        title=body.title,
        release_type=body.type.value,
        window_start=body.window_start,
        window_end=body.window_end,
        actor=caller.actor,
    )
    set_etag(response, release.version)
    response.headers["Location"] = f"/api/v1/releases/{release.id}"
    return release


@router.get("/releases", response_model=Page[Release], summary="List releases, by id")
def list_releases(
    request: Request,
    response: Response,
    store: StoreDep,
    open_only: Annotated[
        bool, Query(alias="open", description="Only planned or approved releases.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[Release]:
    found = [
        r
        for r in store.find_records(RecordFilter(kinds=(RecordKind.RELEASE,), open_only=open_only))
        if isinstance(r, Release) and (cursor is None or (r.id or "") > cursor)
    ]
    items = found[:limit]
    next_cursor = items[-1].id if len(found) > limit else None
    link_next(request, response, next_cursor)
    return Page[Release](items=items, next_cursor=next_cursor)


@router.get(
    "/releases/{release_id}",
    response_model=Release,
    responses=responses(404),
    summary="One release, with its version as ETag",
)
def get_release(release_id: ReleaseId, response: Response, store: StoreDep) -> Release:
    release = _release(store, release_id)
    set_etag(response, release.version)
    return release


@router.get(
    "/releases/{release_id}/assessment",
    response_model=ReleaseAssessment,
    responses=responses(404),
    summary="Assess a release as a whole: risk, each change's share, collisions, policy, CAB",
)
def assess_release(release_id: ReleaseId, store: StoreDep) -> ReleaseAssessment:
    _release(store, release_id)
    return assess_release_workflow(
        store,
        release_id,
        weights=os.environ.get("CMDB_RISK_WEIGHTS") or None,
        policy=os.environ.get("CMDB_RELEASE_POLICY") or None,
    )


@router.get(
    "/impact/suppliers",
    response_model=SupplierReport,
    responses=responses(404),
    summary="The suppliers a service depends on, and its contracts next to its SLAs",
)
def impact_suppliers(
    store: StoreDep,
    service: Annotated[Name, Query(description="The service's CI id.")],
) -> SupplierReport:
    return supplier_report(store, service)
