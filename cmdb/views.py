"""Read views that the CLI and the API both show: one function per question, frozen results.

Assumptions: a view only reads the store (through the ``GraphStore`` protocol) and checks what
the user asked for against the registry first, so a misspelt class or relationship type is an
error naming the field, never an empty answer.

>>> from cmdb.store import open_store
>>> from cmdb.settings import Settings
>>> from cmdb.model import Batch, CI
>>> import tempfile, os
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "v.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="app-1", ci_class="application", name="App")]), actor="t")
>>> view = ci_view(store, "app-1")
>>> view.ci.name, view.relationships, view.open_records
('App', (), ())
>>> [c.id for c in list_cis(store, CIFilter(classes=("application",)))]
['app-1']
>>> store.close()
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.model import CI, Change, Incident, Problem, Relationship
from cmdb.registry import Registry
from cmdb.store.protocol import GraphStore

__all__ = [
    "CIView",
    "RelCount",
    "check_ci_filter",
    "check_rel_filter",
    "ci_view",
    "list_cis",
    "list_relationships",
]


class RelCount(BaseModel):
    """How many active relationships of one type a CI has in one direction (``out``: the CI is
    the source)."""

    model_config = ConfigDict(frozen=True)

    type: str
    direction: str
    count: int


class CIView(BaseModel):
    """One CI with what surrounds it: its active relationships (either end) counted by type and
    direction, the first of them (all, or up to a limit: a hub has thousands), its open ITSM
    records, and the recommended attributes it lacks (for completeness)."""

    model_config = ConfigDict(frozen=True)

    ci: CI
    relationships: tuple[Relationship, ...] = ()
    relationship_counts: tuple[RelCount, ...] = ()
    open_records: tuple[Incident | Problem | Change, ...] = ()
    missing_recommended: tuple[str, ...] = ()

    @property
    def relationships_total(self) -> int:
        return sum(c.count for c in self.relationship_counts)

    def to_json(self) -> dict[str, Any]:
        """The CI's own fields, plus ``relationships``, ``open_records`` and
        ``missing_recommended``."""
        return {
            **self.ci.to_json(),
            "relationships": [r.to_json() for r in self.relationships],
            "relationship_counts": [c.model_dump() for c in self.relationship_counts],
            "relationships_total": self.relationships_total,
            "open_records": [r.to_json() for r in self.open_records],
            "missing_recommended": list(self.missing_recommended),
        }


def ci_view(store: GraphStore, ci_id: str, *, limit: int | None = None) -> CIView:
    """The CI ``ci_id`` (retired or not) with its relationship counts, its first ``limit``
    relationships (all when None) and its open records;
    :class:`~cmdb.errors.NotFoundError` if there is no such CI."""
    ci = store.get_ci(ci_id)
    counts = [
        RelCount(type=t, direction=d, count=n) for t, d, n in store.relationship_counts(ci_id)
    ]
    rels = store.find_relationships(RelFilter(ci=ci_id, limit=limit)) if limit != 0 else []
    records = store.find_records(RecordFilter(ci=ci_id, open_only=True))
    missing: list[str] = []
    if ci.ci_class in store.registry.classes:
        missing = store.registry.missing_recommended(ci.ci_class, ci.attributes)
    return CIView(
        ci=ci,
        relationships=tuple(rels),
        relationship_counts=tuple(counts),
        open_records=tuple(records),
        missing_recommended=tuple(missing),
    )


def check_ci_filter(registry: Registry, flt: CIFilter, *, field: str = "classes") -> None:
    """:class:`~cmdb.errors.UnknownClassError` (naming ``field``) for a class the registry
    does not define."""
    for name in flt.classes:
        registry.class_(name, field=field)


def check_rel_filter(registry: Registry, flt: RelFilter, *, field: str = "types") -> None:
    """:class:`~cmdb.errors.UnknownRelTypeError` (naming ``field``) for a relationship type the
    registry does not define."""
    for name in flt.types:
        registry.rel_type(name, field=field)


def list_cis(store: GraphStore, flt: CIFilter, *, class_field: str = "classes") -> list[CI]:
    """CIs matching ``flt`` (ordered by id), after checking its classes against the registry.
    ``class_field`` is how the caller's user names the classes option (``--class``)."""
    check_ci_filter(store.registry, flt, field=class_field)
    return store.find_cis(flt)


def list_relationships(
    store: GraphStore, flt: RelFilter, *, type_field: str = "types"
) -> list[Relationship]:
    """Relationships matching ``flt``, after checking its types against the registry."""
    check_rel_filter(store.registry, flt, field=type_field)
    return store.find_relationships(flt)
