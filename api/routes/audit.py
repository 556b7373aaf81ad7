"""Audit, history and baselines: the questions an auditor asks of the CMDB.

``GET /audit`` is what ``cmdb audit --format json`` prints (findings, counts by rule, scores);
``GET /audit/report`` the evidence report (HTML, Markdown) or JUnit XML. Both take the options
of ``cmdb audit`` (rules, classes, the look-back of unauthorized changes) and ``at`` to audit
the graph as it was. The audit rules are the server's: ``CMDB_AUDIT_RULES`` names a YAML file
over the packaged defaults, as for the CLI. ``GET /history`` pages through history with the
filters of :class:`~cmdb.filters.HistoryFilter`, oldest first or newest first (``order``), the
cursor of either order being the last ``seq`` read; baselines name the configuration at a moment
and compare two (or one with now).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SettingsDep, StoreDep
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES
from api.wire import IsoTime, Name, Names, Page, Text, link_next
from cmdb.audit_config import AuditConfig, load_audit_config
from cmdb.baselines import BaselineDiff, create_baseline, diff_baselines, find_baseline
from cmdb.baselines import list_baselines as list_baselines_of
from cmdb.enums import HistoryAction, HistoryEntity
from cmdb.filters import HistoryFilter
from cmdb.history import HistoryLine
from cmdb.history_page import history_page
from cmdb.model import Baseline
from impact import audit_query
from impact.audit import AuditResult
from impact.audit_query import AuditScope, checked_audit

router = _router(tags=["audit"])


_NO_CONTROL = r"\x00-\x1f\x7f-\x9f"


def _audit_config(settings: SettingsDep) -> AuditConfig:
    """The server's audit rules: ``CMDB_AUDIT_RULES`` over the defaults (a bad file is a 500:
    the server is misconfigured, not the request)."""
    return load_audit_config(settings.audit_rules)


def _scope(
    rule: Annotated[
        Names | None,
        Query(description="Run only these rules (repeat, or comma-separated)."),
    ] = None,
    skip_rule: Annotated[Names | None, Query(description="Skip these rules.")] = None,
    ci_class: Annotated[
        Names | None, Query(alias="class", description="Audit only CIs of these classes.")
    ] = None,
    since: Annotated[
        IsoTime | None,
        Query(
            description="Look for unauthorized changes since (default: the configured look-back)."
        ),
    ] = None,
    at: Annotated[
        IsoTime | None, Query(description="Audit the CMDB as it was at this time (from history).")
    ] = None,
) -> AuditScope:
    return AuditScope(
        rules=rule or (), skip=skip_rule or (), classes=ci_class or (), since=since, at=at
    )


ConfigDep = Annotated[AuditConfig, Depends(_audit_config)]
ScopeDep = Annotated[AuditScope, Depends(_scope)]

_REPORT_MEDIA = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "junit": "application/xml",
}


@router.get("/audit", response_model=AuditResult, summary="Audit the CMDB: findings and scores")
def audit_report(store: StoreDep, config: ConfigDep, scope: ScopeDep) -> AuditResult:
    return checked_audit(store, config, scope)


@router.get(
    "/audit/report",
    response_class=Response,
    responses={
        200: {
            "description": "The report.",
            "content": {
                m.split(";")[0]: {"schema": {"type": "string"}} for m in _REPORT_MEDIA.values()
            },
        }
    },
    summary="The audit as an evidence report (HTML, Markdown) or JUnit XML",
)
def audit_document(
    store: StoreDep,
    config: ConfigDep,
    scope: ScopeDep,
    format: Annotated[
        Literal["html", "md", "junit"],
        Query(description="`html` (stand-alone: inline CSS and SVG), `md`, or `junit`."),
    ] = "html",
    fail_under: Annotated[
        float | None,
        Query(ge=0, le=100, description="JUnit: a `score` case fails below this score."),
    ] = None,
) -> Response:
    text = audit_query.audit_document(store, config, scope, format=format, fail_under=fail_under)
    return Response(text, media_type=_REPORT_MEDIA[format])


@router.get("/history", response_model=Page[HistoryLine], summary="Page through history")
def list_history(
    request: Request,
    response: Response,
    store: StoreDep,
    entity: Annotated[
        HistoryEntity | None, Query(description="Only entries of this kind of entity.")
    ] = None,
    entity_id: Annotated[
        Text | None, Query(description="A CI id, `source|type|target`, or a record id.")
    ] = None,
    ci: Annotated[
        Name | None, Query(description="The CI's entries and those of its relationships.")
    ] = None,
    actor: Annotated[
        Text | None, Query(description="Who wrote (`api:<key name> (KEY-…)`).")
    ] = None,
    change_id: Annotated[
        Name | None, Query(description="A change record or discovery run (`RUN-...`).")
    ] = None,
    since: Annotated[IsoTime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[IsoTime | None, Query(description="Up to this time (inclusive).")] = None,
    action: Annotated[list[HistoryAction] | None, Query(description="Only these actions.")] = None,
    order: Annotated[
        Literal["asc", "desc"],
        Query(description="`asc`: oldest first (the default); `desc`: newest first."),
    ] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        int | None,
        Query(
            ge=0,
            description="`next_cursor` of the page before (a `seq`), in the same `order`.",
        ),
    ] = None,
) -> Page[HistoryLine]:
    newest_first = order == "desc"
    flt = HistoryFilter(
        entity=entity,
        entity_id=entity_id,
        ci=ci,
        actor=actor,
        change_id=change_id,
        since=since,
        until=until,
        actions=tuple(action or ()),
        limit=limit,
        newest_first=newest_first,
        after_seq=0 if newest_first else cursor or 0,
        before_seq=cursor if newest_first else None,
    )
    page = history_page(store, flt)
    next_cursor = None if page.next_cursor is None else str(page.next_cursor)
    link_next(request, response, next_cursor)
    return Page[HistoryLine](items=list(page.items), next_cursor=next_cursor)


class BaselineCreate(BaseModel):
    """A new baseline: the CIs and relationships as they are now, under a unique name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=f"^[^/{_NO_CONTROL}]+$",
        description="Unique; no `/` and no control characters.",
    )
    title: str = Field(
        default="",
        max_length=300,
        pattern=f"^[^{_NO_CONTROL}]*$",
        description="What it is for (default: the name).",
    )


BaselineRef = Annotated[str, Path(description="A baseline id (`BL-000001`) or name.")]


@router.get("/baselines", response_model=list[Baseline], summary="Every baseline, oldest first")
def list_baselines(store: StoreDep) -> list[Baseline]:
    return list_baselines_of(store)


@router.post(
    "/baselines",
    response_model=Baseline,
    status_code=201,
    responses=WRITE_RESPONSES,
    summary="Take a baseline of the CMDB now (409 if the name is taken)",
)
def take_baseline(
    body: BaselineCreate, response: Response, store: StoreDep, caller: Authorized
) -> Baseline:
    baseline = create_baseline(store, body.name, actor=caller.actor, title=body.title)
    response.headers["Location"] = f"/api/v1/baselines/{baseline.id}"
    return baseline


@router.get("/baselines/{baseline}", response_model=Baseline, summary="One baseline")
def get_baseline(baseline: BaselineRef, store: StoreDep) -> Baseline:
    return find_baseline(store, baseline)


@router.get(
    "/baselines/{baseline}/diff",
    response_model=BaselineDiff,
    summary="What was added, retired and changed from a baseline to another (or now)",
)
def diff_baseline(
    baseline: BaselineRef,
    store: StoreDep,
    against: Annotated[
        str, Query(min_length=1, description="Another baseline (id or name), or `now`.")
    ] = "now",
) -> BaselineDiff:
    return diff_baselines(store, baseline, against)
