"""Configuration baselines: name a moment, list them, and compare two (or one with now).

Assumptions: a baseline is a :class:`~cmdb.model.Baseline` record (``BL-000001``) holding a
name and a time, written in one batch; its content is the graph at that time, rebuilt from the
append-only history (:func:`cmdb.asof.state_as_of`), so taking one costs a record and nothing
else, and it can never drift from what the store recorded. A comparison lists the CIs and
relationships added, retired and changed; a change names its fields
(:func:`cmdb.diff.diff_documents`, without the store's own fields and discovery noise).
Baseline names are unique; ``now`` names the store's present state.

>>> DiffItem(id="srv-1", kind="ci", change="changed").change
'changed'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cmdb.asof import GraphState, state_as_of
from cmdb.diff import FieldChange, diff_documents
from cmdb.enums import RecordKind
from cmdb.errors import ConflictError, NotFoundError
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.model import Baseline, Batch, utcnow
from cmdb.store.protocol import GraphStore

__all__ = [
    "BaselineDiff",
    "DiffItem",
    "create_baseline",
    "diff_baselines",
    "find_baseline",
    "list_baselines",
]

NOW = "now"
IGNORED = frozenset(
    {"version", "created_at", "updated_at", "last_seen", "provenance", "stale_since"}
)
"""Fields a baseline comparison leaves out: the store's own, and discovery bookkeeping."""


class DiffItem(BaseModel):
    """One CI or relationship that differs between two baselines."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["ci", "relationship"]
    change: Literal["added", "retired", "changed"]
    ci_class: str | None = None
    fields: tuple[FieldChange, ...] = ()


class BaselineDiff(BaseModel):
    """What changed from baseline ``a`` to ``b`` (either may be ``now``)."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    a_at: datetime
    b_at: datetime
    items: tuple[DiffItem, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            key = f"{item.kind}s {item.change}"
            out[key] = out.get(key, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "counts": self.counts()}


def list_baselines(store: GraphStore) -> list[Baseline]:
    """Every baseline, oldest first."""
    found = store.find_records(RecordFilter(kinds=(RecordKind.BASELINE,)))
    return sorted((r for r in found if isinstance(r, Baseline)), key=lambda b: b.taken_at)


def find_baseline(store: GraphStore, ref: str) -> Baseline:
    """The baseline named (or with the id) ``ref``; :class:`NotFoundError` if none."""
    for b in list_baselines(store):
        if ref in (b.name, b.id):
            return b
    raise NotFoundError("baseline", ref)


def create_baseline(
    store: GraphStore, name: str, *, actor: str, title: str = "", at: datetime | None = None
) -> Baseline:
    """Record the baseline ``name`` of the store now (or at the past time ``at``), with its
    counts; :class:`ConflictError` if the name is taken (or is ``now``)."""
    if name == NOW or any(b.name == name for b in list_baselines(store)):
        raise ConflictError(f"baseline '{name}' exists (names are unique; 'now' is reserved)")
    taken = at or utcnow()
    if at is None:
        counts = {
            "cis": len(store.find_cis(CIFilter())),
            "relationships": len(store.find_relationships(RelFilter())),
        }
    else:
        state = state_as_of(store, taken)
        counts = {"cis": len(state.live_ids), "relationships": len(state.active_keys())}
    record = Baseline(
        name=name, title=title or name, taken_at=taken, store_version=store.version(), counts=counts
    )
    result = store.apply(Batch(records=[record]), actor=actor)
    return find_baseline(store, result.allocated[0])


def _state(store: GraphStore, ref: str) -> tuple[str, datetime, GraphState]:
    if ref == NOW:
        at = utcnow()
        return NOW, at, state_as_of(store, at)
    b = find_baseline(store, ref)
    return b.name, b.taken_at, state_as_of(store, b.taken_at)


def _compare(
    kind: Literal["ci", "relationship"],
    old: dict[str, dict[str, Any]],
    new: dict[str, dict[str, Any]],
    classes: dict[str, str],
) -> list[DiffItem]:
    items = []
    for key in sorted(set(old) | set(new)):
        cls = classes.get(key)
        if key not in old:
            items.append(DiffItem(id=key, kind=kind, change="added", ci_class=cls))
        elif key not in new:
            items.append(DiffItem(id=key, kind=kind, change="retired", ci_class=cls))
        else:
            fields = tuple(diff_documents(old[key], new[key], ignore=IGNORED))
            if fields:
                items.append(
                    DiffItem(id=key, kind=kind, change="changed", ci_class=cls, fields=fields)
                )
    return items


def _live(state: GraphState) -> tuple[dict[str, dict], dict[str, dict], dict[str, str]]:
    """The live CIs' and active relationships' documents (as history holds them), and the
    classes of the CIs."""
    cis = {k: state.ci_docs[k] for k in state.live_ids}
    rels = {"|".join(k): state.rel_docs[k] for k in state.active_keys()}
    classes = {k: str(d.get("class")) for k, d in cis.items()}
    return cis, rels, classes


def diff_baselines(store: GraphStore, a: str, b: str = NOW) -> BaselineDiff:
    """The CIs and relationships added, retired and changed (with their fields) from
    baseline ``a`` to baseline ``b`` (names or ids; ``now`` is the present)."""
    name_a, at_a, state_a = _state(store, a)
    name_b, at_b, state_b = _state(store, b)
    cis_a, rels_a, cls_a = _live(state_a)
    cis_b, rels_b, cls_b = _live(state_b)
    classes = {**cls_a, **cls_b}
    items = _compare("ci", cis_a, cis_b, classes) + _compare("relationship", rels_a, rels_b, {})
    return BaselineDiff(a=name_a, b=name_b, a_at=at_a, b_at=at_b, items=tuple(items))
