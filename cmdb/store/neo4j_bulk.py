"""Bulk history on Neo4j: one summary per batch instead of one ``History`` node per created item.

``Neo4jStore.apply(batch, bulk=True)`` writes the CIs and relationships that the batch *creates*
without a History node each. Their history is kept instead in:

- one ``(:HistoryBatch {batch_id, at, actor, change_id, first_seq, last_seq, cis,
  relationships, chunks})`` summary node per batch (which batch, which source, how many), and
- ``(:HistoryChunk)`` nodes of up to :data:`CHUNK_ITEMS` created items of one entity kind, each
  with the batch's ``batch_id``, ``at``, ``actor`` and ``change_id``, its ``entity``
  (``"ci"`` or ``"relationship"``), the items' ``seqs`` (ascending), their ids as one text
  ``ids`` (``"\\nid1\\nid2\\n"``, so ``CONTAINS`` finds an id or a relationship end on the
  server) and ``payload``: the items' stored documents at creation (their history ``after``),
  one compact JSON document a line, zlib-compressed.

Every item keeps its own sequence number, allocated exactly as a normal batch allocates it, so
the history readers (:meth:`Neo4jStore.history`, :meth:`Neo4jStore.history_as_of`) expand the
chunks back into the per-item ``create`` entries a normal load would have written: same
``seq``, ``at``, ``actor``, ``change_id``, ``batch_id`` and ``after``. Items of a bulk batch
that already exist (updates, no-ops, retirements) and records are written the normal way, with
their own History nodes: bulk mode only changes how creations are recorded.

``cmdb neo4j bulk-import`` (:mod:`cmdb.store.neo4j_import`) writes the same nodes through
CSV, where a value cannot hold a line break or bytes: there the ids are separated by a space
(:data:`CSV_SEP`, ``" id1 id2 "``) and the payload is the same zlib stream in base64 text
(:func:`csv_cells`). Readers take the separator from the first character of ``ids`` and accept
either payload.

Assumptions: ids never contain ``|``, a space or a line break (:data:`cmdb.model.ID_PATTERN`),
and a compact JSON document has no raw line break; the server's ``CONTAINS`` test is only a
pre-filter, every entry is checked again here exactly.

>>> rows = chunk_rows("ci", [(5, "a", '{"id": "a"}'), (6, "b", '{"id": "b"}')])
>>> rows[0]["ids"], rows[0]["seqs"], rows[0]["first_seq"], rows[0]["last_seq"]
('\\na\\nb\\n', [5, 6], 5, 6)
>>> [item[:2] for item in _items(rows[0])]
[(5, 'a'), (6, 'b')]
>>> ids, payload = csv_cells([(7, "c", '{"id": "c"}')])
>>> ids, [item[:2] for item in _items({"seqs": [7], "ids": ids, "payload": payload})]
(' c ', [(7, 'c')])
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cmdb.enums import HistoryAction
from cmdb.filters import HistoryFilter
from cmdb.model import HistoryEntry

__all__ = [
    "CHUNK_ITEMS",
    "CSV_SEP",
    "WRITE_CHUNKS",
    "as_of_items",
    "chunk_rows",
    "csv_cells",
    "merge_as_of",
    "with_bulk_history",
]

CHUNK_ITEMS = 2_000
"""Created items per chunk node: a reader of one entity's history inflates one chunk."""

WRITE_CHUNKS = (
    "UNWIND $rows AS row CREATE (c:HistoryChunk) SET c = row, c.at = $at, c.actor = $actor, "
    "c.change_id = $change_id, c.batch_id = $batch_id"
)
_ENTITIES = ("ci", "relationship")
CSV_SEP = " "
"""The id separator of chunks written through CSV (which cannot hold a line break)."""
_SEPS = ("\n", CSV_SEP)


def chunk_rows(entity: str, items: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """The HistoryChunk rows of created ``items`` ``(seq, id, document)``, in seq order."""
    rows = []
    for i in range(0, len(items), CHUNK_ITEMS):
        part = items[i : i + CHUNK_ITEMS]
        rows.append(
            {
                "entity": entity,
                "first_seq": part[0][0],
                "last_seq": part[-1][0],
                "count": len(part),
                "seqs": [seq for seq, _, _ in part],
                "ids": "\n" + "\n".join(i for _, i, _ in part) + "\n",
                "payload": zlib.compress("\n".join(d for _, _, d in part).encode(), 1),
            }
        )
    return rows


def csv_cells(items: list[tuple[int, str, str]]) -> tuple[str, str]:
    """The ``ids`` and ``payload`` of one chunk of ``items`` ``(seq, id, document)`` as text
    for CSV: space-separated ids and the base64 of the compressed documents."""
    ids = CSV_SEP + CSV_SEP.join(i for _, i, _ in items) + CSV_SEP
    payload = zlib.compress("\n".join(d for _, _, d in items).encode(), 1)
    return ids, base64.b64encode(payload).decode("ascii")


def _items(chunk: Any) -> Iterator[tuple[int, str, str]]:
    """``(seq, id, document)`` of every item of a chunk, in seq order."""
    text = chunk["ids"]
    ids = text[1:-1].split(text[0])
    raw = chunk["payload"]
    packed = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
    docs = zlib.decompress(packed).decode().split("\n")
    return zip(chunk["seqs"], ids, docs, strict=True)


def _entry(chunk: Any, at: datetime, seq: int, entity_id: str, doc: str) -> HistoryEntry:
    return HistoryEntry.model_construct(
        seq=seq,
        at=at,
        actor=chunk["actor"],
        change_id=chunk.get("change_id"),
        batch_id=chunk["batch_id"],
        entity=chunk["entity"],
        entity_id=entity_id,
        action=HistoryAction.CREATE,
        before=None,
        after=json.loads(doc),
    )


def _at(chunk: Any) -> datetime:
    return chunk["at"].to_native().astimezone(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _contains(params: dict[str, Any], name: str, before: str, text: str, after: str) -> str:
    """``c.ids CONTAINS`` ``before + text + after``, where ``"s"`` stands for either id
    separator (a chunk written by ``apply`` or by the CSV import); the needles go into
    ``params``."""
    tests = []
    for i, sep in enumerate(_SEPS):
        ends = [sep if end == "s" else end for end in (before, after)]
        params[f"{name}{i}"] = ends[0] + text + ends[1]
        tests.append(f"c.ids CONTAINS ${name}{i}")
    return "(" + " OR ".join(tests) + ")"


def _chunk_query(flt: HistoryFilter) -> tuple[str, dict[str, Any]] | None:
    """The chunks that may hold entries matching ``flt`` (None: no chunk can)."""
    if flt.actions and HistoryAction.CREATE not in flt.actions:
        return None
    if flt.entity is not None and flt.entity not in _ENTITIES:
        return None
    conds: list[str] = []
    params: dict[str, Any] = {}
    for prop in ("entity", "actor", "change_id"):
        value = getattr(flt, prop)
        if value is not None:
            conds.append(f"c.{prop} = ${prop}")
            params[prop] = str(value)
    for prop, op in (("since", ">="), ("until", "<=")):
        value = getattr(flt, prop)
        if value is not None:
            conds.append(f"c.at {op} ${prop}")
            params[prop] = _aware(value)
    if flt.entity_id is not None:
        conds.append(_contains(params, "needle", "s", flt.entity_id, "s"))
    if flt.ci is not None:
        own = _contains(params, "own", "s", flt.ci, "s")
        src = _contains(params, "src", "s", flt.ci, "|")
        dst = _contains(params, "dst", "|", flt.ci, "s")
        conds.append(
            f"((c.entity = 'ci' AND {own}) OR (c.entity = 'relationship' AND ({src} OR {dst})))"
        )
    if flt.after_seq:
        conds.append("c.last_seq > $after_seq")
        params["after_seq"] = flt.after_seq
    if flt.before_seq is not None:
        conds.append("c.first_seq < $before_seq")
        params["before_seq"] = flt.before_seq
    where = " WHERE " + " AND ".join(conds) if conds else ""
    order = " DESC" if flt.newest_first else ""
    query = f"MATCH (c:HistoryChunk){where} RETURN elementId(c) ORDER BY c.first_seq{order}"
    return query, params


_FETCH = "UNWIND $ids AS id MATCH (c:HistoryChunk) WHERE elementId(c) = id RETURN c"
_PAGE = 16
"""Chunks fetched per round trip once the matching ones are known (in order, by id), so a
reader with a ``limit`` transfers only the payloads it needs."""


def _chunks(tx: Any, ids: list[str]) -> Iterator[Any]:
    for i in range(0, len(ids), _PAGE):
        page = {r["c"].element_id: r["c"] for r in tx.run(_FETCH, ids=ids[i : i + _PAGE])}
        yield from (page[k] for k in ids[i : i + _PAGE])


def _wanted(flt: HistoryFilter, entity: str, seq: int, entity_id: str) -> bool:
    """The item-level part of ``flt`` (the chunk-level part was checked by the server)."""
    if seq <= flt.after_seq or (flt.before_seq is not None and seq >= flt.before_seq):
        return False
    if flt.entity_id is not None and entity_id != flt.entity_id:
        return False
    if flt.ci is not None:
        if entity == "ci":
            return entity_id == flt.ci
        return entity_id.startswith(f"{flt.ci}|") or entity_id.endswith(f"|{flt.ci}")
    return True


def _bulk_entries(tx: Any, flt: HistoryFilter) -> list[HistoryEntry]:
    """The expanded bulk entries matching ``flt``, in its order, at most ``flt.limit``: chunks
    hold disjoint seq ranges, so reading stops at the chunk that reaches the limit."""
    query = _chunk_query(flt)
    if query is None:
        return []
    out: list[HistoryEntry] = []
    ids = [i for (i,) in tx.run(query[0], query[1]).values()]
    for chunk in _chunks(tx, ids):
        at = _at(chunk)
        items = list(_items(chunk))
        if flt.newest_first:
            items.reverse()
        for seq, entity_id, doc in items:
            if _wanted(flt, chunk["entity"], seq, entity_id):
                out.append(_entry(chunk, at, seq, entity_id, doc))
        if flt.limit is not None and len(out) >= flt.limit:
            break
    return out


def with_bulk_history(
    tx: Any, entries: list[HistoryEntry], flt: HistoryFilter
) -> list[HistoryEntry]:
    """``entries`` (read from History nodes with ``flt``) merged with the bulk entries that
    match ``flt``, in the filter's order and within its limit."""
    bulk = _bulk_entries(tx, flt)
    if not bulk:
        return entries
    merged = sorted(entries + bulk, key=lambda e: e.seq, reverse=flt.newest_first)
    return merged if flt.limit is None else merged[: flt.limit]


def as_of_items(tx: Any, entity: str, at: datetime) -> list[tuple[Any, list[tuple[int, str, str]]]]:
    """Every bulk chunk of ``entity`` written at or before ``at``, with its items."""
    if entity not in _ENTITIES:
        return []
    query = "MATCH (c:HistoryChunk) WHERE c.entity = $entity AND c.at <= $at RETURN c"
    return [(r["c"], list(_items(r["c"]))) for r in tx.run(query, entity=entity, at=_aware(at))]


def merge_as_of(
    entries: list[HistoryEntry], chunks: list[tuple[Any, list[tuple[int, str, str]]]]
) -> list[HistoryEntry]:
    """Each entity's last entry: ``entries`` (the last History node of each) against its bulk
    creation in ``chunks``, ordered by entity id. A document is parsed only when it wins."""
    if not chunks:
        return entries
    last = {e.entity_id: e for e in entries}
    for chunk, items in chunks:
        at = _at(chunk)
        for seq, entity_id, doc in items:
            seen = last.get(entity_id)
            if seen is None or seen.seq < seq:
                last[entity_id] = _entry(chunk, at, seq, entity_id, doc)
    return [last[k] for k in sorted(last)]
