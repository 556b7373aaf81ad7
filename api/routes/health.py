"""Liveness: the one route that needs no key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import StoreDep
from api.problems import responses

router = APIRouter(tags=["health"], responses=responses(500, 503))


class Health(BaseModel):
    status: str
    store_version: int


@router.get("/health", response_model=Health, summary="Is the API up and its store reachable?")
def health(store: StoreDep) -> Health:
    return Health(status="ok", store_version=store.version())
