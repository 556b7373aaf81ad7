"""Impact analysis: blast radius (JSON, or a DOT or Mermaid picture), depends-on, the impact
graph the console draws, single points of failure, designed availability, root cause, and the
priority an incident would get.

Every route reads only. A list of CIs or relationship types is given by repeating the
parameter (``ci=a&ci=b``) or as one comma-separated value (``ci=a,b``). An unknown CI is a
404, an unknown relationship type a 422 naming ``types``. ``at`` answers from the CMDB as it
was then (records as they are now).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import SettingsDep, StoreDep
from api.policy import router as _router
from api.wire import IsoTime
from cmdb.alerts import Alert
from cmdb.asof import as_of
from cmdb.enums import Urgency
from cmdb.model import ID_PATTERN, CIId
from cmdb.workflows.incidents import IncidentPriority, assess_incident
from impact import graph_view, report
from impact.results import AvailabilityReport, BlastRadiusReport, DependsOnReport, SpofReport
from impact.root_cause import RootCauseReport, root_cause_report

router = _router(tags=["impact"])

MEDIA_TYPES = {"dot": "text/vnd.graphviz", "mermaid": "text/plain"}
PICTURES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or with `format=dot` a Graphviz DOT picture "
        "(`text/vnd.graphviz`), with `format=mermaid` a Mermaid picture (`text/plain`).",
        "content": {media: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()},
    }
}

_ID = r"[A-Za-z0-9][A-Za-z0-9._:@/\-]*"
IDS = rf"^\s*{_ID}(\s*,\s*{_ID})*\s*$"
"""One CI id, or several comma-separated (ids never contain commas)."""

IdList = list[Annotated[str, StringConstraints(pattern=IDS)]]
_NAME = r"[A-Za-z0-9_]+"
NameList = list[Annotated[str, StringConstraints(pattern=rf"^\s*{_NAME}(\s*,\s*{_NAME})*\s*$")]]
OneId = Annotated[str, Query(pattern=ID_PATTERN, description="The CI.")]

CIs = Annotated[
    IdList,
    Query(min_length=1, description="The CIs that fail: repeat, or comma-separated (a,b)."),
]
Depth = Annotated[int | None, Query(ge=0, description="Follow at most this many hops.")]
Types = Annotated[
    NameList | None,
    Query(description="Only these relationship types propagate: repeat, or comma-separated."),
]
Limit = Annotated[int | None, Query(ge=1, description="List at most this many CIs (default all).")]
AsOf = Annotated[
    IsoTime | None,
    Query(
        description="Answer from the CMDB as it was at this time (ISO 8601; UTC without a zone)."
    ),
]
Format = Annotated[
    Literal["json", "dot", "mermaid"],
    Query(alias="format", description="json (default), dot or mermaid."),
]


class RootCauseQuery(BaseModel):
    """Symptoms to explain: CIs, incidents (their CIs, timed by when they opened) and timed
    alerts (``id``, ``time``, ``state``: down or degraded, ``severity``); at least one."""

    model_config = ConfigDict(extra="forbid")

    ci_ids: Annotated[list[CIId], Field(max_length=10000)] = []
    incident_ids: Annotated[list[CIId], Field(max_length=1000)] = []
    alerts: Annotated[list[Alert], Field(max_length=10000)] = []
    top: Annotated[int, Field(ge=1, le=100, description="How many candidates.")] = 10
    window_hours: Annotated[
        float, Field(ge=0, le=24 * 366, description="Recent changes and incidents count.")
    ] = 72


def _split(values: Iterable[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``: repeated and comma-separated values."""
    return [x.strip() for value in values or () for x in value.split(",") if x.strip()]


def _picture(text: str, fmt: str) -> Response:
    return Response(text, media_type=MEDIA_TYPES[fmt])


@router.get(
    "/impact/blast-radius",
    response_model=BlastRadiusReport,
    responses=PICTURES,
    summary="What goes down, degrades or is at risk if these CIs fail, up to services, "
    "customers and SLAs",
)
def blast_radius(
    store: StoreDep,
    settings: SettingsDep,
    ci: CIs,
    assume_down: Annotated[
        IdList | None,
        Query(description="CIs already out (repeat or comma-separated); they count in k-of-n."),
    ] = None,
    open_incidents: Annotated[
        bool, Query(description="Also assume down every CI of an open incident.")
    ] = False,
    depth: Depth = None,
    types: Types = None,
    limit: Limit = None,
    at: AsOf = None,
    fmt: Format = "json",
) -> BlastRadiusReport | Response:
    options: dict[str, Any] = dict(
        assume_down=_split(assume_down),
        assume_open_incidents=open_incidents,
        depth=depth,
        types=_split(types) or None,
        limit=limit,
    )
    if fmt != "json":
        return _picture(
            report.blast_radius_picture(as_of(store, at), _split(ci), fmt=fmt, **options), fmt
        )
    return report.blast_radius_report(
        as_of(store, at), _split(ci), stale_days=settings.stale_days, **options
    )


@router.get(
    "/impact/depends-on",
    response_model=DependsOnReport,
    responses=PICTURES,
    summary="Everything a CI needs, transitively, nearest first",
)
def depends_on(
    store: StoreDep,
    ci: OneId,
    depth: Depth = None,
    types: Types = None,
    limit: Limit = None,
    at: AsOf = None,
    fmt: Format = "json",
) -> DependsOnReport | Response:
    options: dict[str, Any] = dict(depth=depth, types=_split(types) or None, limit=limit)
    if fmt != "json":
        return _picture(report.depends_on_picture(as_of(store, at), ci, fmt=fmt, **options), fmt)
    return report.depends_on_report(as_of(store, at), ci, **options)


@router.get(
    "/impact/graph",
    response_model=graph_view.ImpactGraph,
    summary="A blast radius or depends-on answer as nodes (state, layer, group) and edges "
    "oriented the way impact flows, for drawing",
)
def impact_graph(
    store: StoreDep,
    settings: SettingsDep,
    ci: CIs,
    mode: Annotated[
        Literal["blast", "depends"],
        Query(description="blast (what the CIs' failure affects) or depends (what they need)."),
    ] = "blast",
    assume_down: Annotated[
        IdList | None,
        Query(description="Blast mode: CIs already out (repeat or comma-separated)."),
    ] = None,
    open_incidents: Annotated[
        bool, Query(description="Blast mode: also assume down every CI of an open incident.")
    ] = False,
    depth: Depth = None,
    types: Types = None,
    max_nodes: Annotated[
        int,
        Query(
            ge=1,
            le=100000,
            description="Draw at most this many nodes besides the roots, services and "
            "customers (always kept), nearest first; `omitted` counts the rest.",
        ),
    ] = graph_view.MAX_NODES,
    at: AsOf = None,
) -> graph_view.ImpactGraph:
    return graph_view.impact_graph(
        as_of(store, at),
        _split(ci),
        mode=mode,
        assume_down=_split(assume_down),
        assume_open_incidents=open_incidents,
        depth=depth,
        types=_split(types) or None,
        max_nodes=max_nodes,
        stale_days=settings.stale_days,
    )


@router.get(
    "/impact/spof",
    response_model=SpofReport,
    summary="The CIs whose failure alone takes a service down, redundancy considered",
)
def spof(
    store: StoreDep,
    service: Annotated[str, Query(pattern=ID_PATTERN, description="The service.")],
) -> SpofReport:
    return report.spof_report(store, service)


@router.get(
    "/impact/availability",
    response_model=list[AvailabilityReport],
    summary="Designed availability of services against their SLA targets",
)
def availability(
    store: StoreDep,
    service: Annotated[
        IdList | None,
        Query(description="Services (repeat or comma-separated); default every service."),
    ] = None,
) -> tuple[AvailabilityReport, ...]:
    return report.availability_reports(store, _split(service) or None)


@router.post(
    "/impact/root-cause",
    response_model=RootCauseReport,
    summary="Rank the CIs whose failure best explains the symptoms (writes nothing)",
)
def root_cause(body: RootCauseQuery, store: StoreDep) -> RootCauseReport:
    return root_cause_report(
        store,
        ci_ids=body.ci_ids,
        incident_ids=body.incident_ids,
        alerts=body.alerts,
        window_hours=body.window_hours,
        top=body.top,
    )


@router.get(
    "/impact/priority",
    response_model=IncidentPriority,
    summary="The priority, impact and SLA due times an incident on these CIs would get now "
    "(writes nothing)",
)
def incident_priority(
    store: StoreDep,
    ci: Annotated[IdList, Query(min_length=1, description="The incident's CIs: repeat or a,b.")],
    urgency: Urgency,
) -> IncidentPriority:
    return assess_incident(store, ci_ids=_split(ci), urgency=urgency.value)
