"""Point-in-time views: the graph as it was at a moment, rebuilt from history.

Assumptions: history is append-only and every entry holds the entity's full ``after`` document
(a retirement's ``after`` is the retired document), so the last entry of an entity at or before a
time *is* its state then. The store hands those entries over in bulk
(:meth:`~cmdb.store.protocol.GraphStore.history_as_of`, one query per entity kind), never one
entity at a time. ``last_seen`` moves without history, so an as-of CI shows the ``last_seen`` of
its last real change. Records (incidents, changes...) are not rebuilt: an as-of view reads them
as they are now.

:func:`as_of` wraps a store in a read-only :class:`AsOfStore` that answers the same read
protocol, so every read view and impact report works unchanged on the past graph.

>>> from datetime import UTC, datetime
>>> state = GraphState(
...     at=datetime(2026, 1, 1, tzinfo=UTC),
...     ci_docs={"a": {"id": "a", "class": "application", "name": "A"},
...              "b": {"id": "b", "class": "application", "name": "B", "status": "retired"}},
...     rel_docs={},
... )
>>> [c.id for c in state.live_cis()], state.ci("b").status.value
(['a'], 'retired')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cmdb.bulk import no_gc
from cmdb.enums import Criticality, Lifecycle
from cmdb.errors import NotFoundError, StoreError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, HistoryEntry, Relationship, RelKey
from cmdb.registry import Registry
from cmdb.store.protocol import AnyRecord, GraphStore, Subgraph

if TYPE_CHECKING:  # numpy loads only when a snapshot of the past is built
    from cmdb.topology import Topology

NAN = float("nan")

__all__ = ["AsOfStore", "GraphState", "as_of", "state_as_of", "topology_of"]


@dataclass(frozen=True, eq=False)
class GraphState:
    """Every CI and relationship that existed at ``at`` (retired ones too), as the documents
    history holds, by id and key; models are built only for what a caller asks for."""

    at: datetime
    ci_docs: dict[str, dict[str, Any]]
    rel_docs: dict[RelKey, dict[str, Any]]

    @cached_property
    def cis(self) -> dict[str, CI]:
        """Every CI as a model (built on first use)."""
        return {k: CI.model_validate(d) for k, d in sorted(self.ci_docs.items())}

    @cached_property
    def relationships(self) -> dict[RelKey, Relationship]:
        """Every relationship as a model (built on first use)."""
        return {k: Relationship.model_validate(d) for k, d in sorted(self.rel_docs.items())}

    def ci(self, ci_id: str) -> CI | None:
        doc = self.ci_docs.get(ci_id)
        return None if doc is None else CI.model_validate(doc)

    @cached_property
    def live_ids(self) -> frozenset[str]:
        return frozenset(k for k, d in self.ci_docs.items() if d.get("status") != "retired")

    def live_cis(self) -> list[CI]:
        """The CIs not retired at ``at``, ordered by id."""
        return [CI.model_validate(self.ci_docs[k]) for k in sorted(self.live_ids)]

    def active_keys(self) -> list[RelKey]:
        """The keys of the active relationships between live CIs at ``at``, sorted."""
        live = self.live_ids
        return sorted(
            k
            for k, d in self.rel_docs.items()
            if d.get("status") == "active" and k[0] in live and k[2] in live
        )

    def active_relationships(self) -> list[Relationship]:
        """The active relationships between live CIs at ``at``, ordered by key."""
        return [Relationship.model_validate(self.rel_docs[k]) for k in self.active_keys()]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def replay(
    at: datetime, ci_entries: Iterable[HistoryEntry], rel_entries: Iterable[HistoryEntry]
) -> GraphState:
    """The state of the graph at ``at`` from the last history entry of each entity."""
    cis = {e.entity_id: e.after for e in ci_entries if e.after is not None}
    rels: dict[RelKey, dict[str, Any]] = {}
    for e in rel_entries:
        if e.after is not None:
            source, rel_type, target = e.entity_id.split("|")
            rels[(source, rel_type, target)] = e.after
    return GraphState(at=_utc(at), ci_docs=cis, rel_docs=rels)


def state_as_of(store: GraphStore, at: datetime) -> GraphState:
    """The graph of ``store`` as it was at ``at``, rebuilt from its history in two bulk reads."""
    at = _utc(at)
    with no_gc():
        cis, rels = store.history_as_of("ci", at), store.history_as_of("relationship", at)
        return replay(at, cis, rels)


def _number(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else NAN


def _last_seen(doc: dict[str, Any]) -> float:
    seen = doc.get("last_seen") or {}
    return max((datetime.fromisoformat(t).timestamp() for t in seen.values()), default=NAN)


def topology_of(
    state: GraphState, registry: Registry, *, version: int = 0, store_id: str = ""
) -> Topology:
    """The topology snapshot of ``state``'s live CIs and active relationships, read from the
    documents (no model is built)."""
    import numpy as np

    from cmdb.topology import Topology

    docs = [
        state.ci_docs[k]
        for k in sorted(state.live_ids)
        if state.ci_docs[k].get("class") in registry.classes
    ]
    index = {d["id"]: i for i, d in enumerate(docs)}
    class_code = {c: i for i, c in enumerate(registry.class_names)}
    type_code = {t: i for i, t in enumerate(registry.rel_type_names)}
    keys = [k for k in state.active_keys() if k[1] in type_code and k[0] in index and k[2] in index]
    crit = {c.value: c.rank for c in Criticality}
    return Topology.build(
        version=version,
        class_names=registry.class_names,
        class_categories=[registry.classes[c].category for c in registry.class_names],
        rel_type_names=registry.rel_type_names,
        propagation=[registry.relationships[t].propagation for t in registry.rel_type_names],
        ids=[d["id"] for d in docs],
        class_code=[class_code[d["class"]] for d in docs],
        is_group=[registry.is_group(d["class"]) for d in docs],
        min_required=[d.get("min_required") or 0 for d in docs],
        criticality=[crit[d.get("criticality") or "medium"] for d in docs],
        last_seen=[_last_seen(d) for d in docs],
        availability=[_number((d.get("attributes") or {}).get("availability")) for d in docs],
        src=np.fromiter((index[k[0]] for k in keys), np.int32, len(keys)),
        dst=np.fromiter((index[k[2]] for k in keys), np.int32, len(keys)),
        rtype=np.fromiter((type_code[k[1]] for k in keys), np.int16, len(keys)),
        store_id=store_id,
    )


def _ci_matches(c: CI, flt: CIFilter) -> bool:
    if flt.ids and c.id not in flt.ids:
        return False
    if flt.classes and c.ci_class not in flt.classes:
        return False
    if flt.status and c.status not in flt.status:
        return False
    hide_retired = not flt.include_retired and Lifecycle.RETIRED not in flt.status
    if hide_retired and c.status is Lifecycle.RETIRED:
        return False
    if flt.criticality and c.criticality not in flt.criticality:
        return False
    if flt.owner is not None and c.owner != flt.owner:
        return False
    if flt.support_group is not None and c.support_group != flt.support_group:
        return False
    if flt.identifier is not None:
        wanted = flt.identifier.strip().lower()
        if all(value != wanted for _, value in c.identifiers.index_rows()):
            return False
    if flt.text:
        text = flt.text.lower()
        if text not in c.id.lower() and text not in c.name.lower():
            return False
    return True


class AsOfStore:
    """A read-only :class:`~cmdb.store.protocol.GraphStore` showing ``store`` as it was at
    ``at``: CIs, relationships, neighbourhoods and the topology come from history; records
    are read as they are now; history stops at ``at``; every write raises
    :class:`~cmdb.errors.StoreError`."""

    def __init__(self, store: GraphStore, at: datetime):
        self.inner, self.at = store, _utc(at)
        self.registry = store.registry
        self.uri = store.uri
        self.store_id = store.store_id
        self.state = state_as_of(store, self.at)
        self._topology: Topology | None = None

    def apply(
        self, batch: Batch, *, actor: str, change_id: str | None = None, bulk: bool = False
    ) -> BatchResult:
        raise StoreError(f"the store at {self.uri} as of {self.at.isoformat()} is read-only")

    def get_ci(self, ci_id: str) -> CI:
        ci = self.state.ci(ci_id)
        if ci is None:
            raise NotFoundError("CI", ci_id)
        return ci

    def find_cis(self, flt: CIFilter) -> list[CI]:
        if flt.ids:
            cands = [c for i in sorted(set(flt.ids)) if (c := self.state.ci(i)) is not None]
        else:
            cands = list(self.state.cis.values())
        found = [
            c for c in cands if _ci_matches(c, flt) and (flt.after is None or c.id > flt.after)
        ]
        end = None if flt.limit is None else flt.offset + flt.limit
        return found[flt.offset : end]

    def find_relationships(self, flt: RelFilter) -> list[Relationship]:
        out = []
        for key, doc in sorted(self.state.rel_docs.items()):
            source, rel_type, target = key
            if flt.after is not None and key <= tuple(flt.after):  # the paging cursor
                continue
            if flt.source is not None and source != flt.source:
                continue
            if flt.target is not None and target != flt.target:
                continue
            if flt.ci is not None and flt.ci not in (source, target):
                continue
            if flt.types and rel_type not in flt.types:
                continue
            if not flt.include_retired and doc.get("status") != "active":
                continue
            out.append(Relationship.model_validate(doc))
            if flt.limit is not None and len(out) >= flt.limit:
                break
        return out

    def relationship_counts(self, ci_id: str) -> list[tuple[str, str, int]]:
        counts: dict[tuple[str, str], int] = {}
        for (source, rel_type, target), doc in self.state.rel_docs.items():
            if doc.get("status") != "active":
                continue
            for end, direction in ((source, "out"), (target, "in")):
                if end == ci_id:
                    counts[rel_type, direction] = counts.get((rel_type, direction), 0) + 1
        return sorted((t, d, n) for (t, d), n in counts.items())

    def neighbourhood(self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()) -> Subgraph:
        for t in types:
            self.registry.rel_type(t)
        self.get_ci(ci_id)
        keys = [
            k
            for k, d in self.state.rel_docs.items()
            if d.get("status") == "active" and (not types or k[1] in types)
        ]
        seen, frontier = {ci_id}, {ci_id}
        for _ in range(max(depth, 0)):
            found = {e for k in keys if k[0] in frontier or k[2] in frontier for e in (k[0], k[2])}
            frontier = {x for x in found if x in self.state.ci_docs} - seen
            if not frontier:
                break
            seen |= frontier
        cis = self.find_cis(CIFilter(ids=tuple(seen)))
        live = {c.id for c in cis}
        return Subgraph(
            cis=cis,
            relationships=[
                Relationship.model_validate(self.state.rel_docs[k])
                for k in sorted(keys)
                if k[0] in live and k[2] in live
            ],
        )

    def get_record(self, record_id: str) -> AnyRecord:
        return self.inner.get_record(record_id)

    def find_records(self, flt: RecordFilter) -> list[AnyRecord]:
        return self.inner.find_records(flt)

    def history(self, flt: HistoryFilter) -> list[HistoryEntry]:
        until = self.at if flt.until is None else min(_utc(flt.until), self.at)
        return self.inner.history(flt.model_copy(update={"until": until}))

    def version(self) -> int:
        return self.inner.version()

    def topology(self) -> Topology:
        if self._topology is None:
            self._topology = topology_of(
                self.state, self.registry, version=self.version(), store_id=self.store_id
            )
        return self._topology

    def close(self) -> None:
        self.inner.close()

    def find_by_identifiers(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        for kind, value in pairs:
            wanted = (kind, value.strip().lower())
            ids = sorted(
                c.id for c in self.state.cis.values() if wanted in c.identifiers.index_rows()
            )
            if ids:
                out[(kind, value)] = ids
        return out

    def find_relationships_from(self, sources: Sequence[str]) -> list[Relationship]:
        wanted = set(sources)
        return [
            Relationship.model_validate(d)
            for k, d in sorted(self.state.rel_docs.items())
            if k[0] in wanted
        ]

    def history_as_of(self, entity: str, at: datetime) -> list[HistoryEntry]:
        return self.inner.history_as_of(entity, min(_utc(at), self.at))


def as_of(store: GraphStore, at: datetime | None) -> GraphStore:
    """``store`` itself when ``at`` is None, else the read-only view of it at ``at``."""
    return store if at is None else AsOfStore(store, at)
