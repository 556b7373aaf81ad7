"""The ``GraphStore`` protocol: the one seam between the core and its backends.

Assumptions: a store is bound to one :class:`~cmdb.registry.Registry`; it validates every write
against it, applies a :class:`~cmdb.model.Batch` atomically, appends one history entry per
created, updated or retired entity, and never deletes (removal is retirement). Reads never
return retired entities unless the filter asks for them. Every backend passes the contract suite
in ``tests/cmdb/store/test_contract.py`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import (
    CI,
    ApiKey,
    Baseline,
    Batch,
    BatchResult,
    Change,
    DiscoveryRun,
    HistoryEntry,
    Incident,
    Problem,
    Relationship,
    Release,
)
from cmdb.registry import Registry

if TYPE_CHECKING:  # numpy loads only when a snapshot is built or read
    from cmdb.topology import Topology

__all__ = ["GraphStore", "Subgraph"]

AnyRecord = Incident | Problem | Change | DiscoveryRun | Baseline | ApiKey | Release


class Subgraph(BaseModel):
    """CIs and the relationships among them, as returned by neighbourhood reads."""

    model_config = ConfigDict(frozen=True)

    cis: list[CI] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)


@runtime_checkable
class GraphStore(Protocol):
    """What every backend provides. Errors are :mod:`cmdb.errors` types, never driver errors,
    and the same fault raises the same type on every backend: a violated constraint or a
    stale version :class:`~cmdb.errors.ConflictError`, a busy or unreachable store
    :class:`~cmdb.errors.StoreUnavailableError`, a closed or read-only one
    :class:`~cmdb.errors.StoreError`."""

    registry: Registry
    uri: str
    #: The store's identity: a uuid4 hex created with the store and kept in it, so a snapshot
    #: or cache can tell one store from another (a restored file, another server).
    store_id: str

    def apply(
        self, batch: Batch, *, actor: str, change_id: str | None = None, bulk: bool = False
    ) -> BatchResult:
        """Validate and apply ``batch`` in one transaction: all of it or none of it.

        Upserting a CI equal to the stored one is a no-op (no history, no version bump).
        ``bulk`` is a hint for large loads: a backend may store the history of what the batch
        creates in a compact form (Neo4j: one summary per batch), but every history read
        answers exactly as without it; a backend may ignore it (SQLite does).
        Raises :class:`~cmdb.errors.ValidationError` located at the bad item
        (``"cis[3] 'srv-9': field 'attributes.engine': ..."``) and leaves the store unchanged.
        """
        ...

    def get_ci(self, ci_id: str) -> CI:
        """The CI with this id, retired or not; :class:`~cmdb.errors.NotFoundError` if none."""
        ...

    def find_cis(self, flt: CIFilter) -> list[CI]:
        """CIs matching ``flt``, ordered by id."""
        ...

    def find_relationships(self, flt: RelFilter) -> list[Relationship]:
        """Relationships matching ``flt``, ordered by (source, type, target)."""
        ...

    def relationship_counts(self, ci_id: str) -> list[tuple[str, str, int]]:
        """``(type, direction, count)`` of the CI's active relationships, ``direction`` being
        ``"out"`` (the CI is the source) or ``"in"``, sorted: what a hub's page shows before any
        row (an unknown CI has none). Counted by the store, never by reading the rows."""
        ...

    def neighbourhood(self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()) -> Subgraph:
        """The CIs within ``depth`` hops of ``ci_id`` (either direction) and the active
        relationships among them, optionally limited to relationship ``types``."""
        ...

    def get_record(self, record_id: str) -> AnyRecord:
        """The incident, problem or change with this id."""
        ...

    def find_records(self, flt: RecordFilter) -> list[AnyRecord]:
        """ITSM records matching ``flt``, ordered by id."""
        ...

    def history(self, flt: HistoryFilter) -> list[HistoryEntry]:
        """History entries matching ``flt``, oldest first; page with ``limit`` and the cursor
        ``after_seq`` (the last ``seq`` already read). With ``flt.newest_first`` the newest
        come first, paged with the cursor ``before_seq``; both bounds hold in either order."""
        ...

    def version(self) -> int:
        """A number that grows with every batch that changed something; caches key on it."""
        ...

    def topology(self) -> Topology:
        """A compact, read-only snapshot of all non-retired CIs and active relationships,
        for analysis, with ``store_id`` and the registry's class categories. Backends may
        cache it keyed by :attr:`store_id`, :meth:`version` and the registry, and bring a
        cached one up to date from the history written since (:mod:`cmdb.topology_delta`:
        the same content as a rebuild, node order included; edge order may differ); a reader
        always gets one whole snapshot of one state of the store."""
        ...

    def close(self) -> None:
        """Release connections and files. Idempotent. Any other method of a closed store
        raises :class:`~cmdb.errors.StoreError` ("the store at ... is closed")."""
        ...

    def find_by_identifiers(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        """Bulk identifier look-up for reconciliation: for each ``(kind, value)`` pair, the ids
        of the CIs (retired ones too) whose identifiers hold that value under that kind,
        sorted. Values compare stripped and case-insensitively; the result is keyed by the
        pairs as given and leaves out pairs that match nothing."""
        ...

    def find_relationships_from(self, sources: Sequence[str]) -> list[Relationship]:
        """Every relationship (retired ones too) whose source is one of the CI ids
        ``sources``, ordered by (source, type, target): the bulk read reconciliation needs."""
        ...

    def history_as_of(self, entity: str, at: datetime) -> list[HistoryEntry]:
        """For each entity of kind ``entity`` (``"ci"``, ``"relationship"``...) that has
        history at or before ``at``, its last such entry, ordered by entity id: the bulk read
        that point-in-time views replay (its ``after`` is the entity's state at ``at``; its
        ``before`` is left out, None, as nothing needs it and it would double the read)."""
        ...
