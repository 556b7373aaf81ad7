"""Planning a reconciliation, continued: the scan's relationships, and stale marks.

Assumptions: runs after :class:`~cmdb.reconcile_plan.CIPlanner` has planned the CIs, whose
outcome (``planner.cis``: every CI this run sees, as the run leaves it) gives each
relationship's ends. A relationship whose end is ambiguous or skipped is skipped too; one the
registry's rule table forbids fails the run, located at its origin. Relationships are read in
bulk (:meth:`~cmdb.store.protocol.GraphStore.find_relationships_from`).

Stale marks follow :mod:`cmdb.reconcile_plan`'s rules. The CIs a complete run covers are found
through the identifier index: the reconciler records in ``identifiers.keys["seen_in:<source>"]``
the scope element each source saw a CI in. A relationship's scope is its source CI's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError as PydanticError

from cmdb.diff import diff_documents
from cmdb.enums import Lifecycle, RecordKind
from cmdb.errors import ValidationError
from cmdb.filters import CIFilter, RecordFilter
from cmdb.model import CI, DiscoveryRun, Expected, Relationship, RelKey
from cmdb.reconcile_match import Identification, seen_in
from cmdb.reconcile_plan import MANUAL, CIChange, CIPlanner, RelChange, Skipped, scope_value
from cmdb.scan import ScanResult
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error

__all__ = ["RelPlan", "Staleness", "plan_relationships", "plan_stale"]


@dataclass
class RelPlan:
    batch: list[Relationship] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    changes: list[RelChange] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    seen: set[RelKey] = field(default_factory=set)
    stored: dict[RelKey, Relationship] = field(default_factory=dict)
    read_from: set[str] = field(default_factory=set)


def _owner(planner: CIPlanner, rel: Relationship) -> str:
    """Whose a stored relationship's attributes are: its highest-ranked source, else manual."""
    return min(rel.last_seen, key=planner.prec.rank, default=MANUAL)


def _merge(planner: CIPlanner, old: Relationship, incoming: Relationship) -> Relationship | None:
    src, may = planner.source, planner.prec.may_set(planner.source, _owner(planner, old))
    update: dict = {
        "last_seen": {**old.last_seen, src: planner.now},
        "stale_since": {k: v for k, v in old.stale_since.items() if k != src},
    }
    if may:
        update["attributes"] = {**old.attributes, **incoming.attributes}
    elif src in incoming.attributes:
        # a source always owns the attribute named after it (otel's call counts and latency
        # on an edge that a higher-ranked source declares)
        update["attributes"] = {**old.attributes, src: incoming.attributes[src]}
    if old.status == "retired":
        if not may:
            return None
        update["status"] = "active"
    return old.model_copy(update=update)


def plan_relationships(planner: CIPlanner, ident: Identification) -> RelPlan:
    """Plan the scan's relationships between the CIs the planner identified."""
    scan, out = planner.scan, RelPlan()
    ends = {key: got.ci_id for key, got in ident.by_key.items()}
    sources = {ends[r.source] for r in scan.relationships} & ident.stored.keys()
    out.read_from = {s for s in sources if s is not None}
    if out.read_from:
        out.stored = {
            r.key: r for r in planner.store.find_relationships_from(sorted(out.read_from))
        }
    for r in scan.relationships:
        s, t = ends[r.source], ends[r.target]
        what = f"{r.source} -[{r.type}]-> {r.target}"
        if s not in planner.cis or t not in planner.cis:
            out.skipped.append(
                Skipped(what=what, reason="an end was not identified", origin=r.origin)
            )
            continue
        assert s is not None and t is not None
        if s == t:
            out.skipped.append(
                Skipped(what=what, reason=f"both ends are CI '{s}'", origin=r.origin)
            )
            continue
        if (s, r.type, t) in out.seen:
            continue
        out.seen.add((s, r.type, t))
        where = r.origin or what
        try:
            planner.store.registry.check_relationship(
                planner.cis[s].ci_class, r.type, planner.cis[t].ci_class
            )
            incoming = Relationship(
                source=s,
                type=r.type,
                target=t,
                attributes=r.attributes,
                last_seen={planner.source: planner.now},
            )
        except ValidationError as err:
            raise err.at(where) from None
        except PydanticError as exc:
            raise pydantic_error(exc, location=where) from None
        old = out.stored.get(incoming.key)
        if old is None:
            out.batch.append(incoming)
            out.expected.append(Expected(entity="relationship", id=incoming.id, version=0))
            out.changes.append(RelChange(rel_id=incoming.id, action="create"))
            continue
        new = _merge(planner, old, incoming)
        if new is None:
            out.skipped.append(
                Skipped(
                    what=what,
                    reason=f"relationship '{old.id}' was retired "
                    "by a higher-ranked source; not revived",
                    origin=r.origin,
                )
            )
            continue
        before, after = old.content(), new.content()
        changes = diff_documents(before, after) if before != after else []
        if changes:
            out.changes.append(RelChange(rel_id=new.id, action="update", changes=tuple(changes)))
        else:
            out.unchanged += 1
        out.batch.append(new)
        out.expected.append(Expected(entity="relationship", id=new.id, version=old.version))
    return out


def _covers(run_scope: list[str] | tuple[str, ...], scope: str) -> bool:
    return scope.lower() in {s.lower() for s in run_scope} | {scope_value(run_scope).lower()}


class Staleness:
    """Decides whether a complete run's source has missed an assertion long enough: after
    ``runs`` complete runs of the source (this one included) that covered its scope since it
    was last seen, or ``age`` since then."""

    def __init__(
        self,
        store: GraphStore,
        scan: ScanResult,
        now: datetime,
        *,
        runs: int | None,
        age: timedelta | None,
    ):
        self.scan, self.now, self.runs, self.age = scan, now, runs, age
        self.history: list[DiscoveryRun] = []
        if runs is not None and runs > 1:
            found = store.find_records(RecordFilter(kinds=(RecordKind.DISCOVERY_RUN,)))
            self.history = [
                r
                for r in found
                if isinstance(r, DiscoveryRun)
                and r.source == scan.source
                and r.complete
                and r.status == "applied"
            ]

    def due(self, last: datetime, scope: str | None) -> bool:
        if not scope or not _covers(self.scan.scope, scope):
            return False
        if self.age is not None and self.now - last >= self.age:
            return True
        if self.runs is None:
            return False
        missed = 1 + sum(1 for r in self.history if r.started_at > last and _covers(r.scope, scope))
        return missed >= self.runs


def plan_stale(
    planner: CIPlanner,
    rels: RelPlan,
    ident: Identification,
    staleness: Staleness,
) -> tuple[list[CIChange], list[RelChange]]:
    """Stale marks for what this complete run's source asserted within the run's scope and
    no longer sees; adds them to the planner's and ``rels``' batches."""
    src, store, now = planner.source, planner.store, planner.now
    scopes = [*planner.scan.scope, scope_value(planner.scan.scope)]
    hits = store.find_by_identifiers([(seen_in(src), s) for s in scopes])
    covered = sorted({i for ids in hits.values() for i in ids})
    docs = {i: ident.stored[i] for i in covered if i in ident.stored}
    missing = [i for i in covered if i not in docs]
    if missing:
        docs.update(
            (c.id, c) for c in store.find_cis(CIFilter(ids=tuple(missing), include_retired=True))
        )
    blocked = {c for got in ident.by_key.values() for c in got.candidates if got.ambiguous}
    cis: list[CIChange] = []
    for ci_id in covered:
        ci = docs[ci_id]
        if (
            ci_id in planner.cis
            or ci_id in blocked
            or ci.status is Lifecycle.RETIRED
            or src not in ci.last_seen
            or src in ci.stale_since
            or not staleness.due(ci.last_seen[src], ci.identifiers.keys.get(seen_in(src)))
        ):
            continue
        new = ci.model_copy(update={"stale_since": {**ci.stale_since, src: now}})
        planner.batch_cis.append(new)
        planner.expected.append(Expected(entity="ci", id=ci_id, version=ci.version))
        cis.append(
            CIChange(
                ci_id=ci_id,
                action="stale",
                ci_class=ci.ci_class,
                name=ci.name,
                changes=tuple(diff_documents(ci.content(), new.content())),
            )
        )
    more = sorted(set(covered) - rels.read_from)
    stored = dict(rels.stored)
    if more:
        stored.update((r.key, r) for r in store.find_relationships_from(more))
    out: list[RelChange] = []
    for key in sorted(stored):
        rel = stored[key]
        owner_doc: CI | None = docs.get(rel.source)
        if (
            owner_doc is None
            or rel.status != "active"
            or key in rels.seen
            or src not in rel.last_seen
            or src in rel.stale_since
            or {rel.source, rel.target} & blocked
            or not staleness.due(rel.last_seen[src], owner_doc.identifiers.keys.get(seen_in(src)))
        ):
            continue
        new_rel = rel.model_copy(update={"stale_since": {**rel.stale_since, src: now}})
        rels.batch.append(new_rel)
        rels.expected.append(Expected(entity="relationship", id=rel.id, version=rel.version))
        out.append(
            RelChange(
                rel_id=rel.id,
                action="stale",
                changes=tuple(diff_documents(rel.content(), new_rel.content())),
            )
        )
    return cis, out
