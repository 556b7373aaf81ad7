"""Reconciliation: the one writer of discovered data.

Assumptions: a scanner (``discovery/``) hands over a :class:`~cmdb.scan.ScanResult` and never
writes; :func:`reconcile` plans it (:func:`plan`, which only reads) and applies the plan's
batch as it is, in one :meth:`~cmdb.store.protocol.GraphStore.apply`, so a dry run shows
exactly what the real run does. Every real run is logged as a
:class:`~cmdb.model.DiscoveryRun` record (``RUN-000042``), written before the data with status
``running``, then finished inside the data's own batch (``applied``), or marked ``failed``
with the reason when the batch is refused. History entries the run causes carry actor
``discovery:<source>`` and the run id as ``change_id``. Nothing is deleted: what a source stops
seeing is marked stale (see :mod:`cmdb.reconcile_plan`), and only :func:`purge`, an explicit
step, retires it.

Settings (environment, read when a function runs, never at import):
``CMDB_DISCOVERY_PRECEDENCE`` (sources, highest first; default
``manual,kubernetes,backstage,compose,inventory``), ``CMDB_DISCOVERY_STALE_RUNS`` (complete
runs that must miss an assertion before it is stale; default 2; 0 turns counting off) and
``CMDB_DISCOVERY_STALE_AGE`` (``30d``, ``12h``: also stale once unseen that long; default off).

>>> parse_duration("30d"), parse_duration("90m")
(datetime.timedelta(days=30), datetime.timedelta(seconds=5400))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cmdb.enums import Lifecycle, RecordKind
from cmdb.errors import CMDBError, ConfigError, ConflictError, NotFoundError, ValidationError
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, DiscoveryRun, Expected, Relationship, utcnow
from cmdb.reconcile_links import Staleness, plan_relationships, plan_stale
from cmdb.reconcile_match import identify
from cmdb.reconcile_plan import CIChange, CIPlanner, Precedence, ReconcilePlan, RelChange
from cmdb.scan import ScanResult
from cmdb.store.protocol import GraphStore

__all__ = [
    "DiscoverySettings",
    "PurgeReport",
    "ReconcileReport",
    "list_runs",
    "parse_duration",
    "plan",
    "purge",
    "reconcile",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX_LISTED = 100  # errors and warnings kept in a run record


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` as a timedelta."""
    m = _DURATION.match(text)
    if not m:
        raise ValidationError(f"expected a duration like 30d, 12h or 90m, got {text!r}")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


class DiscoverySettings(BaseSettings):
    """``CMDB_DISCOVERY_*``: see the module docstring."""

    model_config = SettingsConfigDict(env_prefix="CMDB_DISCOVERY_", extra="ignore")

    precedence: str | None = None
    stale_runs: int = Field(default=2, ge=0)
    stale_age: str | None = None

    @classmethod
    def load(cls) -> DiscoverySettings:
        try:
            return cls()
        except PydanticError as exc:
            err = exc.errors()[0]
            name = "CMDB_DISCOVERY_" + "_".join(str(p) for p in err["loc"]).upper()
            raise ConfigError(f"setting {name}: {err['msg']}") from None

    def options(self) -> dict[str, Any]:
        """The keyword options of :func:`plan` these settings give."""
        return {
            "precedence": Precedence.parse(self.precedence) if self.precedence else Precedence(),
            "stale_after_runs": self.stale_runs or None,
            "stale_after": parse_duration(self.stale_age) if self.stale_age else None,
        }


def plan(
    store: GraphStore,
    scan: ScanResult,
    *,
    precedence: Precedence | None = None,
    now: datetime | None = None,
    stale_after_runs: int | None = 2,
    stale_after: timedelta | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReconcilePlan:
    """What reconciling ``scan`` into ``store`` would do; reads only.

    ``progress(n)`` is called as sightings are identified and merged (2 per sighting in all).
    Raises :class:`~cmdb.errors.ValidationError` located at the sighting's origin
    (``"deploy/app.yaml#3"``) when the scan describes something the registry refuses.

    >>> from cmdb.registry import load_registry
    >>> from cmdb.scan import SeenCI
    >>> from cmdb.settings import Settings
    >>> from cmdb.store import open_store
    >>> import tempfile, os
    >>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "c.db")), create=True)
    >>> scan = ScanResult(source="inventory", scope=["file:hosts.csv"], complete=True,
    ...                   cis=[SeenCI(key="inventory:srv-1", ci_class="physical_server",
    ...                               name="srv-1", identifiers={"serial_number": "SN1"})])
    >>> [c.ci_id for c in plan(store, scan).creates]
    ['inventory:srv-1']
    """
    now = now or utcnow()
    planner = CIPlanner(store, scan, precedence or Precedence(), now, progress)
    ident = identify(store, store.registry, scan, progress=progress)
    planner.sightings(ident.by_key)
    rels = plan_relationships(planner, ident)
    stale_cis: list[CIChange] = []
    stale_rels: list[RelChange] = []
    if scan.complete and scan.scope:
        staleness = Staleness(store, scan, now, runs=stale_after_runs, age=stale_after)
        stale_cis, stale_rels = plan_stale(planner, rels, ident, staleness)
    return ReconcilePlan(
        source=scan.source,
        scope=tuple(scan.scope),
        complete=scan.complete,
        now=now,
        creates=tuple(planner.creates),
        updates=tuple(planner.updates),
        stale=tuple(stale_cis),
        unchanged=planner.unchanged,
        relationships=tuple(rels.changes + stale_rels),
        relationships_unchanged=rels.unchanged,
        ambiguous=tuple(planner.ambiguous),
        unresolved=tuple(planner.unresolved),
        skipped=tuple(planner.skipped + rels.skipped),
        warnings=tuple(planner.warnings),
        batch=Batch(
            cis=planner.batch_cis,
            relationships=rels.batch,
            expected=planner.expected + rels.expected,
        ),
    )


class ReconcileReport(BaseModel):
    """What a run did (``dry_run``: would do). ``run`` is the run record (None in a dry run)."""

    model_config = ConfigDict(frozen=True)

    dry_run: bool
    plan: ReconcilePlan
    run: DiscoveryRun | None = None
    result: BatchResult | None = None

    def to_json(self, *, limit: int | None = None) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "run_id": self.run.id if self.run else None,
            "status": self.run.status if self.run else "planned",
            "plan": self.plan.to_json(limit=limit),
            "result": self.result.model_dump(mode="json") if self.result else None,
        }


def _listed(items: list[str] | tuple[str, ...]) -> list[str]:
    extra = len(items) - _MAX_LISTED
    return list(items[:_MAX_LISTED]) + ([f"... and {extra} more"] if extra > 0 else [])


def reconcile(
    store: GraphStore,
    scan: ScanResult,
    *,
    dry_run: bool = False,
    precedence: Precedence | None = None,
    now: datetime | None = None,
    stale_after_runs: int | None = 2,
    stale_after: timedelta | None = None,
    launched_by: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReconcileReport:
    """Plan ``scan`` and, unless ``dry_run``, apply the plan as one batch and log the run.

    A batch refused because something changed between plan and write
    (:class:`~cmdb.errors.ConflictError`) is planned and tried once more; any refusal marks
    the run ``failed`` and re-raises.
    """
    now = now or utcnow()

    def replan(progress: Callable[[int], None] | None = None) -> ReconcilePlan:
        return plan(
            store,
            scan,
            precedence=precedence,
            now=now,
            stale_after_runs=stale_after_runs,
            stale_after=stale_after,
            progress=progress,
        )

    the_plan = replan(progress)
    if dry_run:
        return ReconcileReport(dry_run=True, plan=the_plan)
    actor = f"discovery:{scan.source}"
    run = DiscoveryRun(
        title=f"{scan.source} discovery",
        source=scan.source,
        scope=list(scan.scope),
        complete=scan.complete,
        started_at=scan.started_at,
        errors=_listed(scan.errors),
        warnings=_listed(scan.warnings),
        launched_by=launched_by,
    )
    run = run.model_copy(update={"id": store.apply(Batch(records=[run]), actor=actor).allocated[0]})
    for attempt in (1, 2):
        done = run.model_copy(
            update={
                "status": "applied",
                "finished_at": scan.finished_at or utcnow(),
                "counts": the_plan.counts,
                "warnings": _listed([*scan.warnings, *the_plan.warnings]),
            }
        )
        batch = the_plan.batch.model_copy(
            update={
                "records": [done],
                "expected": [
                    *the_plan.batch.expected,
                    Expected(entity="record", id=run.id, version=1),
                ],
            }
        )
        try:
            result = store.apply(batch, actor=actor, change_id=run.id)
        except ConflictError:
            if attempt == 2:
                _fail(store, run, actor, "the store changed during the run twice; run it again")
                raise
            the_plan = replan()
            continue
        except CMDBError as exc:
            _fail(store, run, actor, str(exc))
            raise
        return ReconcileReport(dry_run=False, plan=the_plan, run=done, result=result)
    raise AssertionError("unreachable")


def _fail(store: GraphStore, run: DiscoveryRun, actor: str, reason: str) -> None:
    failed = run.model_copy(
        update={
            "status": "failed",
            "finished_at": utcnow(),
            "errors": _listed([*run.errors, reason]),
        }
    )
    store.apply(Batch(records=[failed]), actor=actor, change_id=run.id)


def list_runs(
    store: GraphStore, *, source: str | None = None, limit: int | None = None
) -> list[DiscoveryRun]:
    """Discovery runs, newest first, optionally of one ``source``."""
    runs = [
        r
        for r in store.find_records(RecordFilter(kinds=(RecordKind.DISCOVERY_RUN,)))
        if isinstance(r, DiscoveryRun) and (source is None or r.source == source)
    ]
    runs.sort(key=lambda r: (r.started_at, r.id or ""), reverse=True)
    return runs[:limit] if limit else runs


class PurgeReport(BaseModel):
    """CIs and relationships retired (``dry_run``: to retire) because ``source`` has marked
    them stale for at least ``stale_for``; ``kept`` are stale ones another source still sees."""

    model_config = ConfigDict(frozen=True)

    source: str
    stale_for: timedelta
    dry_run: bool
    cis: tuple[str, ...] = ()
    relationships: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    result: BatchResult | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"result", "stale_for"})
        data["stale_for_seconds"] = self.stale_for.total_seconds()
        data["result"] = self.result.model_dump(mode="json") if self.result else None
        return data


def _still_seen(entity: CI | Relationship, source: str) -> list[str]:
    return sorted(s for s in entity.last_seen if s != source and s not in entity.stale_since)


def purge(
    store: GraphStore,
    *,
    source: str,
    stale_for: timedelta,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: str,
) -> PurgeReport:
    """Retire what ``source`` marked stale at least ``stale_for`` ago, unless another source
    still sees it (those are ``kept``). One batch; retiring a CI retires its relationships.
    Retired CIs record ``status`` as set by ``source``, so a later sighting may revive them."""
    cutoff = (now or utcnow()) - stale_for
    cis: list[CI] = []
    rels: list[Relationship] = []
    kept: list[str] = []
    for ci in store.find_cis(CIFilter()):
        since = ci.stale_since.get(source)
        if since is None or since > cutoff:
            continue
        if _still_seen(ci, source):
            kept.append(f"{ci.id} (seen by {', '.join(_still_seen(ci, source))})")
            continue
        cis.append(
            ci.model_copy(
                update={
                    "status": Lifecycle.RETIRED,
                    "provenance": {**ci.provenance, "status": source},
                }
            )
        )
    gone = {c.id for c in cis}
    for rel in store.find_relationships(RelFilter()):
        since = rel.stale_since.get(source)
        if since is None or since > cutoff or {rel.source, rel.target} & gone:
            continue
        if _still_seen(rel, source):
            kept.append(f"{rel.id} (seen by {', '.join(_still_seen(rel, source))})")
            continue
        rels.append(rel.model_copy(update={"status": "retired"}))
    report = PurgeReport(
        source=source,
        stale_for=stale_for,
        dry_run=dry_run,
        cis=tuple(c.id for c in cis),
        relationships=tuple(r.id for r in rels),
        kept=tuple(kept),
    )
    if dry_run or not (cis or rels):
        return report
    expected = [Expected(entity="ci", id=c.id, version=c.version) for c in cis]
    expected += [Expected(entity="relationship", id=r.id, version=r.version) for r in rels]
    try:
        result = store.apply(Batch(cis=cis, relationships=rels, expected=expected), actor=actor)
    except NotFoundError:  # pragma: no cover - a CI vanished between read and write
        raise ConflictError("the store changed during the purge; run it again") from None
    return report.model_copy(update={"result": result})
