"""The ``GraphStore`` protocol: the one seam between the core and its backends.

Assumptions: a store is bound to one :class:`~cmdb.registry.Registry`; it validates every write
against it, applies a :class:`~cmdb.model.Batch` atomically, appends one history entry per
created, updated or retired entity, and never deletes (removal is retirement). Reads never
return retired entities unless the filter asks for them. Every backend passes the contract suite
in ``tests/cmdb/store/test_contract.py`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, Change, HistoryEntry, Incident, Problem, Relationship
from cmdb.registry import Registry
from cmdb.topology import Topology

__all__ = ["GraphStore", "Subgraph"]

AnyRecord = Incident | Problem | Change


class Subgraph(BaseModel):
    """CIs and the relationships among them, as returned by neighbourhood reads."""

    model_config = ConfigDict(frozen=True)

    cis: list[CI] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)


@runtime_checkable
class GraphStore(Protocol):
    """What every backend provides. Errors are :mod:`cmdb.errors` types, never driver errors."""

    registry: Registry
    uri: str

    def apply(self, batch: Batch, *, actor: str, change_id: str | None = None) -> BatchResult:
        """Validate and apply ``batch`` in one transaction: all of it or none of it.

        Upserting a CI equal to the stored one is a no-op (no history, no version bump).
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

    def neighbourhood(
        self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()
    ) -> Subgraph:
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
        """History entries matching ``flt``, oldest first."""
        ...

    def version(self) -> int:
        """A number that grows with every batch that changed something; caches key on it."""
        ...

    def topology(self) -> Topology:
        """A compact, read-only snapshot of all non-retired CIs and active relationships,
        for analysis. Backends may cache it keyed by :meth:`version`."""
        ...

    def close(self) -> None:
        """Release connections and files. Idempotent."""
        ...
