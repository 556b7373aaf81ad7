"""How the items of an import file meet what is stored: merged field by field, and planned.

Assumptions: a parsed file is a list of *partial* documents, each holding only the fields the
file gives (:class:`Item`). Unless the import replaces whole entities, a field the file gives is
set and a field it leaves out keeps its stored value; inside ``attributes`` and ``identifiers``
the same rule holds per key, and a ``None`` there removes the key (an empty CSV cell, a JSON
``null``). The merged batch carries the version of every entity it read
(:class:`~cmdb.model.Expected`), so an import never writes over a change it did not see.
Records are whole documents.

>>> merge_document({"id": "a", "owner": "x", "attributes": {"engine": "oracle 12", "os": "AIX"}},
...                {"id": "a", "attributes": {"engine": "oracle 19", "os": None}})
{'id': 'a', 'owner': 'x', 'attributes': {'engine': 'oracle 19'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError

from cmdb.diff import FieldChange, diff_documents
from cmdb.enums import HistoryAction, Lifecycle
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.model import CI, AnyRecord, Batch, Expected, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error

__all__ = [
    "ImportPlan",
    "Item",
    "ItemChange",
    "Parsed",
    "build_batch",
    "merge_document",
    "plan_batch",
    "stored_for",
]

STORE_OWNED: set[str] = {"created_at", "updated_at", "version"}
_NESTED = ("attributes", "identifiers")
_MANY_SOURCES = 100  # above this many distinct sources, read every relationship at once


@dataclass
class Item:
    """One CI or relationship of a file: the fields it gives, and where it is (for errors)."""

    doc: dict[str, Any]
    where: str


@dataclass
class Parsed:
    """A parsed file. ``lines`` maps a batch position (``"cis[3]"``) to its CSV line."""

    cis: list[Item] = field(default_factory=list)
    relationships: list[Item] = field(default_factory=list)
    records: list[AnyRecord] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


def merge_document(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with the fields of ``given`` set (``attributes`` and ``identifiers`` per
    key; a ``None`` there removes the key)."""
    out = dict(stored)
    if "ci_class" in given and "class" in out:  # the field's name instead of its alias
        out.pop("class")
    for key, value in given.items():
        if key in _NESTED and isinstance(value, Mapping):
            sub = dict(out.get(key) or {})
            for name, item in value.items():
                if item is None:
                    sub.pop(name, None)
                else:
                    sub[name] = item
            out[key] = sub
        else:
            out[key] = value
    return out


def _model(model: type[CI] | type[Relationship], doc: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(doc)
    except PydanticError as exc:
        raise pydantic_error(exc, location=where) from None


def _rel_key(doc: Mapping[str, Any]) -> tuple[str, str, str] | None:
    key = tuple(doc.get(k) for k in ("source", "type", "target"))
    return key if all(isinstance(p, str) for p in key) else None  # type: ignore[return-value]


def stored_for(
    store: GraphStore, parsed: Parsed
) -> tuple[dict[str, CI], dict[tuple[str, str, str], Relationship]]:
    """The stored CIs and relationships (retired included) that the file's items name."""
    ids = tuple(sorted({d for i in parsed.cis if isinstance(d := i.doc.get("id"), str)}))
    cis = {c.id: c for c in store.find_cis(CIFilter(ids=ids, include_retired=True))} if ids else {}
    keys = {k for i in parsed.relationships if (k := _rel_key(i.doc))}
    sources = sorted({k[0] for k in keys})
    if len(sources) > _MANY_SOURCES:
        found = store.find_relationships(RelFilter(include_retired=True))
    else:
        found = [
            r
            for s in sources
            for r in store.find_relationships(RelFilter(source=s, include_retired=True))
        ]
    return cis, {r.key: r for r in found if r.key in keys}


def build_batch(
    parsed: Parsed,
    *,
    stored_cis: Mapping[str, CI] | None = None,
    stored_rels: Mapping[tuple[str, str, str], Relationship] | None = None,
    replace: bool = True,
) -> Batch:
    """The batch that importing ``parsed`` applies.

    With ``replace`` (or no stored entities), each item is a whole document: fields it leaves
    out take their defaults. Otherwise each item is merged over the stored entity, and the
    batch expects the version it read (0 for an entity that does not exist yet).
    """
    stored_cis = {} if replace else (stored_cis or {})
    stored_rels = {} if replace else (stored_rels or {})
    cis, rels, expected = [], [], []
    for item in parsed.cis:
        old = stored_cis.get(item.doc.get("id"))  # type: ignore[arg-type]
        base = old.model_dump(mode="json", by_alias=True, exclude=STORE_OWNED) if old else {}
        ci = _model(CI, merge_document(base, item.doc), item.where)
        cis.append(ci)
        if not replace:
            expected.append(Expected(entity="ci", id=ci.id, version=old.version if old else 0))
    for item in parsed.relationships:
        old_rel = stored_rels.get(_rel_key(item.doc))  # type: ignore[arg-type]
        base = old_rel.model_dump(mode="json", exclude=STORE_OWNED) if old_rel else {}
        rel = _model(Relationship, merge_document(base, item.doc), item.where)
        rels.append(rel)
        if not replace:
            expected.append(
                Expected(
                    entity="relationship", id=rel.id, version=old_rel.version if old_rel else 0
                )
            )
    unique = list({(e.entity, e.id): e for e in expected}.values())
    return Batch(cis=cis, relationships=rels, records=list(parsed.records), expected=unique)


# -- planning (dry run) ------------------------------------------------------------------------
class ItemChange(BaseModel):
    """What importing would do to one entity; ``fields`` are the differences of an update."""

    model_config = ConfigDict(frozen=True)

    entity: str
    id: str
    action: HistoryAction
    fields: tuple[FieldChange, ...] = ()

    def lines(self) -> list[str]:
        """``srv-01: attributes.engine: 'oracle 12' -> 'oracle 19'``, one per field; one line
        ``srv-02: created`` for a new entity."""
        if self.action is HistoryAction.CREATE:
            return [f"{self.id}: created"]
        return [f"{self.id}: {change}" for change in self.fields]


class ImportPlan(BaseModel):
    """What an import would do: counts like the store's result, and every change."""

    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    changes: tuple[ItemChange, ...] = ()

    def diff_lines(self, limit: int = 20) -> list[str]:
        """The first ``limit`` change lines, then ``... and N more`` when there are more."""
        lines = [line for change in self.changes for line in change.lines()]
        if len(lines) <= limit:
            return lines
        return [*lines[:limit], f"... and {len(lines) - limit} more"]


def plan_batch(
    store: GraphStore,
    batch: Batch,
    *,
    stored_cis: Mapping[str, CI] | None = None,
    stored_rels: Mapping[tuple[str, str, str], Relationship] | None = None,
) -> ImportPlan:
    """Count and describe what applying ``batch`` would do, the way the store's writer decides
    (relationships retired in passing by a retiring CI are not counted)."""
    if stored_cis is None or stored_rels is None:
        ids = tuple(c.id for c in batch.cis)
        stored_cis = (
            {c.id: c for c in store.find_cis(CIFilter(ids=ids, include_retired=True))}
            if ids
            else {}
        )
        keys = {r.key for r in batch.relationships}
        stored_rels = (
            {
                r.key: r
                for r in store.find_relationships(RelFilter(include_retired=True))
                if r.key in keys
            }
            if keys
            else {}
        )
    counts = {"created": 0, "updated": 0, "retired": 0, "unchanged": 0}
    changes: list[ItemChange] = []

    def count(entity: str, ident: str, old: dict | None, new: dict, retiring: bool) -> None:
        if old is None:
            action = HistoryAction.CREATE
        elif old == new:
            counts["unchanged"] += 1
            return
        else:
            action = HistoryAction.RETIRE if retiring else HistoryAction.UPDATE
        counts[{"create": "created", "update": "updated", "retire": "retired"}[action]] += 1
        fields = tuple(diff_documents(old, new)) if old is not None else ()
        changes.append(ItemChange(entity=entity, id=ident, action=action, fields=fields))

    for ci in batch.cis:
        old = stored_cis.get(ci.id)
        count(
            "ci",
            ci.id,
            old.content() if old else None,
            ci.content(),
            ci.status is Lifecycle.RETIRED
            and old is not None
            and old.status is not Lifecycle.RETIRED,
        )
    for rel in batch.relationships:
        old_rel = stored_rels.get(rel.key)
        count(
            "relationship",
            rel.id,
            old_rel.content() if old_rel else None,
            rel.content(),
            rel.status == "retired" and old_rel is not None and old_rel.status != "retired",
        )
    rec_ids = tuple(r.id for r in batch.records if r.id is not None)
    records = {r.id: r for r in store.find_records(RecordFilter(ids=rec_ids))} if rec_ids else {}
    for i, rec in enumerate(batch.records):
        old_rec = records.get(rec.id) if rec.id is not None else None
        count(
            "record",
            rec.id or f"records[{i}] (new {rec.kind})",
            old_rec.model_dump(mode="json", exclude=STORE_OWNED) if old_rec else None,
            rec.model_dump(mode="json", exclude=STORE_OWNED),
            False,
        )
    return ImportPlan(**counts, changes=tuple(changes))
