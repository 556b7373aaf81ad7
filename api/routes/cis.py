"""Configuration items: list (filters, cursor pages, as-of), read, create, patch, retire, and
the CI page (the CI with its relationship counts, first relationships and open records).

CI ids may contain ``/`` (``k8s/ns/deploy``), so the id is the rest of the path; for that reason
the CI page lives under its own prefix, ``/ci-pages/{id}`` (``/cis/{id}`` takes every path below
``/cis``). A read answers with an ``ETag`` (the CI's version); ``PATCH`` and ``DELETE`` need
``If-Match``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import IfMatchDep, StoreDep, precondition, set_etag
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES, responses
from api.wire import AsOf, ChangeId, Cursor, Name, Names, Page, Text, link_next
from cmdb import ops
from cmdb.asof import as_of
from cmdb.enums import Criticality, Lifecycle
from cmdb.filters import CIFilter
from cmdb.model import CI, Change, Identifiers, Incident, Problem, Relationship
from cmdb.views import RelCount, ci_view
from cmdb.views import list_cis as list_cis_view

router = _router(tags=["cis"])

CIPath = Annotated[str, "the CI id"]
PAGE_PER_TYPE = 5  # relationships a CI page lists of each type and direction by default


class CICreate(BaseModel):
    """A new CI. Attribute values are checked against the class's schema in the registry."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1, max_length=200)
    ci_class: str = Field(alias="class", min_length=1)
    name: str = Field(min_length=1, max_length=300)
    status: Lifecycle = Lifecycle.LIVE
    criticality: Criticality = Criticality.MEDIUM
    owner: str | None = None
    support_group: str | None = None
    description: str | None = None
    min_required: int | None = Field(default=None, ge=1)
    identifiers: Identifiers = Field(default_factory=Identifiers)
    attributes: dict[str, Any] = Field(default_factory=dict)


class CIPatch(BaseModel):
    """A JSON merge patch of a CI: the fields given are set; in ``attributes`` a ``null``
    removes the attribute."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    status: Lifecycle | None = None
    criticality: Criticality | None = None
    owner: str | None = None
    support_group: str | None = None
    description: str | None = None
    min_required: int | None = Field(default=None, ge=1)
    identifiers: Identifiers | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class CIPage(CI):
    """A CI page: the CI's own fields, its active relationships counted by type and direction
    (``out``: the CI is the source) and in all, the first ``per_type`` of each type and
    direction (listed by source, type and target), its open ITSM records and the recommended
    attributes it lacks."""

    relationships: list[Relationship]
    relationship_counts: list[RelCount]
    relationships_total: int
    open_records: list[Annotated[Incident | Problem | Change, Field(discriminator="kind")]]
    missing_recommended: list[str]


@router.get("/cis", response_model=Page[CI], summary="List CIs matching the filters")
def list_cis(
    request: Request,
    response: Response,
    store: StoreDep,
    ci_class: Annotated[Names | None, Query(alias="class")] = None,
    status: Annotated[list[Lifecycle] | None, Query()] = None,
    criticality: Annotated[list[Criticality] | None, Query()] = None,
    owner: Name | None = None,
    support_group: Name | None = None,
    identifier: Annotated[Text | None, Query(description="An IP, hostname, serial...")] = None,
    q: Annotated[Text | None, Query(description="A substring of the id or the name.")] = None,
    include_retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
    at: AsOf = None,
) -> Page[CI]:
    flt = CIFilter(
        classes=tuple(ci_class or ()),
        status=tuple(status or ()),
        criticality=tuple(criticality or ()),
        owner=owner,
        support_group=support_group,
        identifier=identifier,
        text=q,
        include_retired=include_retired,
        limit=limit + 1,
        after=cursor,
    )
    found = list_cis_view(as_of(store, at), flt, class_field="class")
    items = found[:limit]
    next_cursor = items[-1].id if len(found) > limit else None
    link_next(request, response, next_cursor)
    return Page[CI](items=items, next_cursor=next_cursor)


@router.get(
    "/cis/{ci_id:path}",
    response_model=CI,
    summary="One CI, with its version as ETag",
)
def get_ci(ci_id: CIPath, response: Response, store: StoreDep, at: AsOf = None) -> CI:
    ci = as_of(store, at).get_ci(ci_id)
    set_etag(response, ci.version)
    return ci


@router.get(
    "/ci-pages/{ci_id:path}",
    response_model=CIPage,
    summary="One CI with its relationship counts, the first relationships of each type and "
    "direction, its open records and the recommended attributes it lacks (the console's CI page)",
)
def get_ci_page(
    ci_id: CIPath,
    response: Response,
    store: StoreDep,
    at: AsOf = None,
    per_type: Annotated[
        int,
        Query(
            ge=1,
            le=100,
            description="Relationships listed of each type and direction (the counts cover "
            "them all).",
        ),
    ] = PAGE_PER_TYPE,
) -> dict[str, Any]:
    view = ci_view(as_of(store, at), ci_id, per_type=per_type)
    set_etag(response, view.ci.version)
    return view.to_json()


@router.post(
    "/cis",
    response_model=CI,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Create a CI (409 if the id is taken, even by a retired CI)",
)
def create_ci(
    body: CICreate,
    response: Response,
    store: StoreDep,
    caller: Authorized,
    change_id: ChangeId = None,
) -> CI:
    ci = CI.model_validate(body.model_dump(by_alias=True))
    created = ops.create_ci(store, ci, actor=caller.actor, change_id=change_id)
    set_etag(response, created.version)
    response.headers["Location"] = f"/api/v1/cis/{created.id}"
    return created


@router.patch(
    "/cis/{ci_id:path}",
    response_model=CI,
    responses={**WRITE_RESPONSES, **responses(412, 428)},
    summary="Change fields and attributes of a CI (If-Match required)",
)
def patch_ci(
    ci_id: CIPath,
    body: CIPatch,
    response: Response,
    store: StoreDep,
    caller: Authorized,
    if_match: IfMatchDep,
    change_id: ChangeId = None,
) -> CI:
    fields = body.model_dump(exclude_unset=True, exclude={"attributes"})
    if "identifiers" in fields:
        fields["identifiers"] = body.identifiers
    unset = [k for k, v in body.attributes.items() if v is None]
    given = {k: v for k, v in body.attributes.items() if v is not None}
    with precondition(if_match) as version:
        updated = ops.update_ci(
            store,
            ci_id,
            fields=fields,
            set_attributes=given,
            unset=unset,
            expected_version=version,
            actor=caller.actor,
            change_id=change_id,
        )
    set_etag(response, updated.version)
    return updated


@router.delete(
    "/cis/{ci_id:path}",
    response_model=CI,
    responses={**WRITE_RESPONSES, **responses(412, 428)},
    summary="Retire a CI and its relationships (kept in history; If-Match required)",
)
def retire_ci(
    ci_id: CIPath,
    response: Response,
    store: StoreDep,
    caller: Authorized,
    if_match: IfMatchDep,
    change_id: ChangeId = None,
) -> CI:
    with precondition(if_match) as version:
        retired = ops.retire_ci(
            store, ci_id, expected_version=version, actor=caller.actor, change_id=change_id
        )
    set_etag(response, retired.version)
    return retired
