"""Wire models shared by several route modules: pages of a list, and the link to the next.

Route-specific request bodies live in their route module; responses are the domain's own
frozen models (``cmdb.model``, ``impact.results``), serialised by alias (``class``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

__all__ = [
    "AsOf",
    "ChangeId",
    "Cursor",
    "IsoTime",
    "Name",
    "Names",
    "Page",
    "Text",
    "link_next",
]


def _iso_time(value: object) -> object:
    """An ISO 8601 text as a time, never a number (pydantic would read ``0.5`` as seconds since
    1970); one without an offset is UTC, as on the command line."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 time, e.g. 2026-11-20T02:13:00Z")
    if not isinstance(value, str):
        return value
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r} (e.g. 2026-11-20T02:13Z)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]
"""A time in a query: ISO 8601 only (no epoch number); without an offset it is UTC."""

AsOf = Annotated[
    IsoTime | None,
    Query(
        description="Answer from the CMDB as it was at this time (ISO 8601; UTC without a zone)."
    ),
]
"""The ``at`` parameter of the reads that answer as of a past time."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A name or id in a query (a CI id, a class, a relationship type, a source, a cursor...):
never empty, as an empty one names nothing; the schema says so, so it is a 422 at validation."""

Names = list[Name]
"""A repeated query parameter of names (``class=a&class=b``): each one non-empty."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
"""Free text in a query (a substring, an actor, an identifier): never empty."""

Cursor = Annotated[Name | None, Query(description="`next_cursor` of the page before.")]
"""The ``cursor`` of a list: ``next_cursor`` of the page before."""

ChangeId = Annotated[
    Name | None, Query(description="The change that authorises this write (for history).")
]
"""The ``change_id`` of a write, written to history."""

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list. ``next_cursor`` is None on the last page; pass it back as
    ``cursor`` for the next one (also sent as a ``Link: <…>; rel="next"`` header)."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Set the ``Link`` header to the next page's URL when there is one."""
    if cursor is not None:
        url = request.url.include_query_params(cursor=cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
