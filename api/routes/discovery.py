"""Discovery: the runs of the scanners, and declared versus observed relationships.

Scans themselves run from the CLI (``cmdb discover SCANNER``), next to the files they read;
here a reader lists their runs (as ``cmdb discover runs``) and compares what declared sources
say with what observed sources saw running (as ``cmdb discover diff``, :mod:`cmdb.drift`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import StringConstraints

from api.deps import StoreDep
from api.policy import router as _router
from api.wire import Name
from cmdb.drift import DriftReport, declared_vs_observed
from cmdb.model import DiscoveryRun
from cmdb.reconcile import list_runs

router = _router(tags=["discovery"])

Source = Annotated[Name, StringConstraints(pattern=r"[^,\s]")]
"""A source name, or several comma-separated: at least one name in it."""

Sources = Annotated[
    list[Source],
    Query(
        min_length=1,
        description="Discovery sources (as in `last_seen`): repeat the parameter or separate "
        "names by commas.",
    ),
]


@router.get(
    "/discovery/runs",
    response_model=list[DiscoveryRun],
    summary="Discovery runs, newest first",
)
def list_discovery_runs(
    store: StoreDep,
    source: Annotated[Name | None, Query(description="Only this source's runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="The N newest.")] = 20,
) -> list[DiscoveryRun]:
    return list_runs(store, source=source, limit=limit)


@router.get(
    "/discovery/diff",
    response_model=DriftReport,
    summary="Relationships that run undeclared, and declared ones not observed running",
)
def discovery_diff(
    store: StoreDep,
    declared: Sources,
    observed: Sources,
    window: Annotated[
        str | None,
        Query(
            description="Count only what was observed this recently: 30d, 12h, 90m, 2w, 45s.",
            pattern=r"^\s*[0-9]+(\.[0-9]+)?\s*[smhdw]\s*$",
            max_length=40,
        ),
    ] = None,
) -> DriftReport:
    """The sections of the report: ``undeclared`` (observed, declared by
    none of the declared sources), ``unobserved`` (declared, not observed over the window
    although an observed source saw both ends), ``confirmed``, and ``not_covered`` (declared,
    no observed source can judge it; ``reason`` says why)."""
    return declared_vs_observed(
        store,
        declared=declared,
        observed=observed,
        window=window,
    )
