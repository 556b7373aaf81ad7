"""Relationships: list (filters, cursor pages, as-of), add, retire.

A relationship is its key ``source -[type]-> target``, so there is no id in the path: a list
and a retirement name the key in query parameters (CI ids may contain ``/``). Lists are ordered
by ``(source, type, target)``; a cursor is the position of the next page in that order, so a
write between two pages may shift a page by the relationships it added or retired.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import StoreDep
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES
from api.wire import AsOf, ChangeId, Name, Names, Page, link_next
from cmdb import ops
from cmdb.asof import as_of
from cmdb.errors import ValidationError
from cmdb.filters import RelFilter
from cmdb.model import Relationship
from cmdb.views import list_relationships as list_relationships_view

router = _router(tags=["relationships"])

_MAX_OFFSET = 10**9
Cursor = Annotated[
    str | None,
    Query(pattern="^[0-9]{1,9}$", description="`next_cursor` of the page before."),
]


class RelationshipCreate(BaseModel):
    """A new relationship ``source -[type]-> target`` between two live CIs; the registry's
    rule table decides which class pairs a type may join."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=63)
    target: str = Field(min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


def _offset(cursor: str | None) -> int:
    """The position a cursor names (it is ``next_cursor`` of the page before)."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 10 or int(cursor) > _MAX_OFFSET:
        raise ValidationError("is not a cursor of this list (use next_cursor)", field="cursor")
    return int(cursor)


def _location(rel: Relationship) -> str:
    query = urlencode({"source": rel.source, "type": rel.type, "target": rel.target})
    return f"/api/v1/relationships?{query}"


@router.get(
    "/relationships",
    response_model=Page[Relationship],
    summary="List relationships matching the filters, by (source, type, target)",
)
def list_relationships(
    request: Request,
    response: Response,
    store: StoreDep,
    source: Name | None = None,
    target: Name | None = None,
    ci: Annotated[Name | None, Query(description="Either end.")] = None,
    rel_type: Annotated[Names | None, Query(alias="type")] = None,
    include_retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
    at: AsOf = None,
) -> Page[Relationship]:
    offset = _offset(cursor)
    flt = RelFilter(
        source=source,
        target=target,
        ci=ci,
        types=tuple(rel_type or ()),
        include_retired=include_retired,
        limit=offset + limit + 1,
    )
    found = list_relationships_view(as_of(store, at), flt, type_field="type")
    items = found[offset : offset + limit]
    next_cursor = str(offset + limit) if len(found) > offset + limit else None
    link_next(request, response, next_cursor)
    return Page[Relationship](items=items, next_cursor=next_cursor)


@router.post(
    "/relationships",
    response_model=Relationship,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Add a relationship (409 if it is already active; a retired one comes back)",
)
def create_relationship(
    body: RelationshipCreate,
    response: Response,
    store: StoreDep,
    caller: Authorized,
    change_id: ChangeId = None,
) -> Relationship:
    rel = Relationship.model_validate(body.model_dump())
    store.registry.rel_type(rel.type, field="type")
    created = ops.add_relationship(store, rel, actor=caller.actor, change_id=change_id)
    response.headers["Location"] = _location(created)
    return created


@router.delete(
    "/relationships",
    response_model=Relationship,
    responses=WRITE_RESPONSES,
    summary="Retire an active relationship (kept in history)",
)
def retire_relationship(
    store: StoreDep,
    caller: Authorized,
    source: Name,
    rel_type: Annotated[Name, Query(alias="type")],
    target: Name,
    change_id: ChangeId = None,
) -> Relationship:
    store.registry.rel_type(rel_type, field="type")
    return ops.remove_relationship(
        store, source, rel_type, target, actor=caller.actor, change_id=change_id
    )
