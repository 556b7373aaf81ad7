"""Wire models shared by several route modules: pages of a list, and the link to the next.

Route-specific request bodies live in their route module; responses are the domain's own
frozen models (``cmdb.model``, ``impact.results``), serialised by alias (``class``).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict

__all__ = ["Page", "link_next"]

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
