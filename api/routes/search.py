"""Search: find CIs by a piece of their id or name, an identifier value, or their class.

One route, for the console's search box (and anyone who knows less than a CI's id). Live CIs
come first; retired CIs are never found. See :func:`cmdb.views.search_cis`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import StoreDep
from api.policy import router as _router
from api.wire import Text
from cmdb.views import SearchResult, search_cis

router = _router(tags=["search"])


@router.get(
    "/search",
    response_model=SearchResult,
    summary="CIs whose id or name contains the text, with an identifier equal to it, or of a "
    "class it names; live CIs first",
)
def search(
    store: StoreDep,
    q: Annotated[
        Text,
        Query(
            pattern=r"\S",
            description="A piece of an id or a name (any case), an identifier value (an IP, "
            "hostname, serial number: exact), or a piece of a class name or label.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many CIs.")] = 20,
) -> SearchResult:
    return search_cis(store, q, limit)
