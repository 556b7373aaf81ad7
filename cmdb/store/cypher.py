"""The Cypher side of the Neo4j store: schema statements, name mapping and the batch writer.

Assumptions: the graph holds ``(:CI)`` nodes joined by relationships whose Cypher type is the
registry name in upper case (``depends_on`` -> ``DEPENDS_ON``); ``(:Identifier {kind, value, ci})``
look-up nodes (not linked) index identifier values; ``(:Record)`` and ``(:History)`` nodes hold
ITSM records and the append-only history; one ``(:CMDBMeta {name: 'cmdb'})`` node holds the
store version and the batch and history counters. Every entity keeps its full JSON document in
``doc`` (the same document the SQLite store keeps) plus the properties that queries filter on.

Only two things are ever spliced into query text, both after checking them against the
registry: relationship type names (:func:`rel_type`) and constraint names derived from them.
Every value travels as a parameter. Writes go through ``UNWIND`` in chunks of :data:`CHUNK`
rows inside the caller's single write transaction, so a batch is atomic; callers should split
very large loads (millions of rows) into several batches to bound the transaction's memory.

>>> from cmdb.registry import load_registry
>>> rel_type(load_registry(), "depends_on")
'DEPENDS_ON'
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from cmdb.enums import HistoryAction, Lifecycle
from cmdb.errors import UnknownRelTypeError, ValidationError
from cmdb.model import (
    CI,
    RECORD_PREFIX,
    Batch,
    BatchResult,
    Expected,
    Relationship,
    RelKey,
    utcnow,
)
from cmdb.registry import NAME_RE, Registry
from cmdb.store.merge import merge_ci, merge_relationship
from cmdb.store.neo4j_bulk import WRITE_CHUNKS, chunk_rows
from cmdb.store.records import history_doc, is_open, record_from_json, record_time
from cmdb.store.stored import parse
from cmdb.validation import check_expected

__all__ = ["CHUNK", "Writer", "rel_type", "schema_statements"]

CHUNK = 10_000
META = "MATCH (m:CMDBMeta {name: 'cmdb'})"
_TIME = TypeAdapter(datetime)

# Entities created in a batch are written together with their History node (unless in bulk
# mode), by one row that carries the document once (it is both the stored ``doc`` and the
# history ``after``); the History fields common to the batch travel as parameters.
_HISTORY = (
    "CREATE (:History {seq: row[0], entity: $entity, entity_id: row[1], action: $action, "
    "after: row[2], at: $at, actor: $actor, change_id: $change_id, batch_id: $batch_id})"
)
# Created entities travel as columns: one text per column, its values joined by line breaks
# and split on the server. The driver's pure-Python packer costs microseconds per value (a CI
# row of twelve values took 100 us to pack, more than the server spent on it); a split costs
# the server next to nothing. No value holds a raw line break: ids and names by validation
# (no control characters), documents because compact JSON escapes them, the rest are registry
# names, enumerations and numbers. A missing optional value travels as NUL (:data:`_NULL`),
# which validated text never holds, and numbers as their shortest round-trip text (``repr``).
_NULL = "\x00"
_CI_COLUMNS = (
    "seq",
    "id",
    "doc",
    "class",
    "name",
    "status",
    "criticality",
    "owner",
    "support_group",
    "min_required",
    "availability",
    "last_seen",
)
_CREATE_CIS_BARE = (
    "WITH ["
    + ", ".join(f"split(${c}, '\\n')" for c in _CI_COLUMNS)
    + "] AS col UNWIND range(0, size(col[1]) - 1) AS i WITH i, [x IN col | "
    "CASE x[i] WHEN $null THEN null ELSE x[i] END] AS row "
    "CREATE (:CI {id: row[1], doc: row[2], version: 1, class: row[3], name: row[4], "
    "status: row[5], criticality: row[6], owner: row[7], support_group: row[8], "
    "min_required: toInteger(row[9]), availability: toFloat(row[10]), "
    "last_seen: toFloat(row[11])}) "
)
_CREATE_CIS = _CREATE_CIS_BARE + _HISTORY.replace("row[0]", "toInteger(row[0])")
_COLUMNS = (
    "WITH split($key, '\\n') AS key, split($doc, '\\n') AS doc, split($status, '\\n') AS status, "
    "split($seq, '\\n') AS seq UNWIND range(0, size(key) - 1) AS i "
)
"""The columns of created relationships (their ends come from the key)."""


def _text(value: object) -> str:
    """A column value: NUL for None, ``repr`` for numbers (exact through ``toFloat``)."""
    if value is None:
        return _NULL
    return value if isinstance(value, str) else repr(value)


def _columns(rows: list[list[Any]], names: tuple[str, ...]) -> dict[str, str]:
    """``rows`` as one text per column (see :data:`_CI_COLUMNS`), with the null marker.

    >>> _columns([[1, "a", None], [2, "b", 0.5]], ("seq", "id", "x"))
    {'seq': '1\\n2', 'id': 'a\\nb', 'x': '\\x00\\n0.5', 'null': '\\x00'}
    """
    out = {name: "\n".join(_text(row[i]) for row in rows) for i, name in enumerate(names)}
    out["null"] = _NULL
    return out


def _column(values: Iterable[str]) -> str:
    return "\n".join(values)


def rel_type(registry: Registry, name: str) -> str:
    """The Cypher relationship type of registry type ``name``; raises if it is not registered."""
    registry.rel_type(name)
    if not NAME_RE.match(name):  # registry names are checked on load; this guards the splice
        raise UnknownRelTypeError(f"relationship type '{name}' is not a valid name", field="type")
    return name.upper()


TOUCHED = "touched"
"""The CI property holding the store version of the last batch that put the existing CI
(changed it, or moved only its last-seen, which writes no history): a snapshot taken at
version v finds every such CI since with one index look-up (``touched > v``)."""


def schema_statements(registry: Registry) -> list[str]:
    """Idempotent schema set-up: constraints and indexes, one statement each."""
    stmts = [
        "CREATE CONSTRAINT cmdb_ci_id IF NOT EXISTS FOR (c:CI) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX cmdb_ci_class IF NOT EXISTS FOR (c:CI) ON (c.class)",
        "CREATE INDEX cmdb_ci_owner IF NOT EXISTS FOR (c:CI) ON (c.owner)",
        "CREATE INDEX cmdb_ci_group IF NOT EXISTS FOR (c:CI) ON (c.support_group)",
        f"CREATE INDEX cmdb_ci_touched IF NOT EXISTS FOR (c:CI) ON (c.{TOUCHED})",
        "CREATE INDEX cmdb_ident_value IF NOT EXISTS FOR (i:Identifier) ON (i.value)",
        "CREATE INDEX cmdb_ident_ci IF NOT EXISTS FOR (i:Identifier) ON (i.ci)",
        "CREATE CONSTRAINT cmdb_record_id IF NOT EXISTS FOR (r:Record) REQUIRE r.id IS UNIQUE",
        "CREATE CONSTRAINT cmdb_history_seq IF NOT EXISTS FOR (h:History) REQUIRE h.seq IS UNIQUE",
        "CREATE INDEX cmdb_history_entity IF NOT EXISTS FOR (h:History) ON (h.entity_id)",
        "CREATE INDEX cmdb_history_change IF NOT EXISTS FOR (h:History) ON (h.change_id)",
        "CREATE INDEX cmdb_history_at IF NOT EXISTS FOR (h:History) ON (h.at)",
        "CREATE CONSTRAINT cmdb_meta IF NOT EXISTS FOR (m:CMDBMeta) REQUIRE m.name IS UNIQUE",
    ]
    for name in registry.rel_type_names:
        stmts.append(
            f"CREATE CONSTRAINT cmdb_rel_{name} IF NOT EXISTS "
            f"FOR ()-[r:`{rel_type(registry, name)}`]-() REQUIRE r.key IS UNIQUE"
        )
    return stmts


def _ci_props(ci: CI) -> dict[str, Any]:
    return {
        "id": ci.id,
        "class": ci.ci_class,
        "name": ci.name,
        "status": ci.status.value,
        "criticality": ci.criticality.value,
        "owner": ci.owner,
        "support_group": ci.support_group,
        "min_required": ci.min_required,
        "availability": ci.own_availability(),
        "last_seen": ci.last_seen_epoch(),
        "doc": json.dumps(ci.to_json()),
        "version": ci.version,
    }


def _rel_props(rel: Relationship) -> dict[str, Any]:
    return {
        "key": rel.id,
        "status": rel.status,
        "doc": json.dumps(rel.to_json()),
        "version": rel.version,
    }


class Writer:
    """Applies one validated batch inside the caller's write transaction ``tx``, mirroring the
    SQLite writer: same order (CIs, relationships, retired relationships, retired CIs,
    records), same history entries, same no-op rules. Constructing it locks the meta node, so
    concurrent writers queue behind each other.

    With ``bulk``, the CIs and relationships the batch creates get no History node each: their
    entries go into the batch's compressed chunks (:mod:`cmdb.store.neo4j_bulk`), which the
    history readers expand into the same entries; everything else is written as usual."""

    def __init__(
        self,
        tx: Any,
        registry: Registry,
        actor: str,
        change_id: str | None,
        *,
        bulk: bool = False,
    ):
        self.tx, self.registry, self.bulk = tx, registry, bulk
        self.created: dict[str, list[tuple[int, str, str]]] = {"ci": [], "relationship": []}
        self.fresh: set[str] = set()  # CIs created by this batch: none of their rels exist
        self.now = utcnow()
        self.at = _TIME.dump_python(self.now, mode="json")  # as in the documents
        self.actor, self.change_id = actor, change_id
        row = tx.run(
            f"{META} SET m.batch = m.batch + 1 RETURN m.batch AS b, m.seq AS s, m.version AS v"
        ).single()
        self.batch_id, self.seq = int(row["b"]), int(row["s"])
        # the store version this batch makes if it puts an existing CI (every put moves it):
        # the mark of CIs whose last-seen may move without history (TOUCHED)
        self.touch = int(row["v"]) + 1
        self.first_seq = self.seq
        self.history: list[dict[str, Any]] = []
        self.result = BatchResult(batch_id=self.batch_id)
        self.touched = False
        self.graph_changed = False  # did this batch change what a topology snapshot holds?
        self.retired_keys: set[str] = set()

    # -- plumbing ---------------------------------------------------------------------------
    def run(self, query: str, rows: list[Any], **params: Any) -> None:
        for i in range(0, len(rows), CHUNK):
            self.tx.run(query, rows=rows[i : i + CHUNK], **params).consume()

    def fetch(self, query: str, keys: list[str]) -> dict[str, str]:
        """Key -> document for ``query``, which returns ``collect(key), collect(doc)``: one
        record per chunk, far cheaper to decode than one record per row."""
        out: dict[str, str] = {}
        for i in range(0, len(keys), CHUNK):
            found, docs = self.tx.run(query, keys=keys[i : i + CHUNK]).single()
            out.update(zip(found, docs, strict=True))
        return out

    def log(
        self,
        entity: str,
        entity_id: str,
        action: HistoryAction,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        if entity == "relationship" or (entity == "ci" and action is not HistoryAction.UPDATE):
            self.graph_changed = True
        self.seq += 1
        self.history.append(
            {
                "seq": self.seq,
                "entity": entity,
                "entity_id": entity_id,
                "action": action.value,
                "before": json.dumps(before) if before is not None else None,
                "after": json.dumps(after) if after is not None else None,
            }
        )
        self.result.tally(action)

    def log_create(self) -> int:
        """Count one creation whose History node the caller writes with the entity (see
        :data:`_HISTORY`); its sequence number."""
        self.graph_changed = True  # only CIs and relationships are created this way
        self.seq += 1
        self.result.tally(HistoryAction.CREATE)
        return self.seq

    def new_doc(self, model: CI | Relationship) -> str:
        """The stored document of ``model`` created by this batch, serialised once."""
        data = model.to_json()
        data.update(created_at=self.at, updated_at=self.at, version=1)
        return json.dumps(data)

    def history_params(self, entity: str) -> dict[str, Any]:
        return {
            "entity": entity,
            "action": HistoryAction.CREATE.value,
            "at": self.now,
            "actor": self.actor,
            "change_id": self.change_id,
            "batch_id": self.batch_id,
        }

    def write(self, batch: Batch) -> BatchResult:
        check_expected(batch.expected, self._versions)
        self._cis(batch.cis)
        self._rels(batch.relationships)
        self._retire_rels(batch.retire_relationships)
        self._retire_cis(batch.retire_cis)
        self._records(batch.records)
        self._bulk_history()
        self.run(
            "UNWIND $rows AS row CREATE (h:History) SET h = row, h.at = $at, "
            "h.actor = $actor, h.change_id = $change_id, h.batch_id = $batch_id",
            self.history,
            at=self.now,
            actor=self.actor,
            change_id=self.change_id,
            batch_id=self.batch_id,
        )
        bump = 1 if self.seq != self.first_seq or self.touched else 0  # any history
        row = self.tx.run(
            f"{META} SET m.seq = $seq, m.graph_version = coalesce(m.graph_version, m.version) "
            "+ $graph, m.version = m.version + $bump RETURN m.version AS v",
            seq=self.seq,
            bump=bump,
            graph=1 if self.graph_changed else 0,
        ).single()
        self.result.store_version = int(row["v"])
        return self.result

    def _bulk_history(self) -> None:
        """The batch's summary node and chunks of created items (bulk mode only)."""
        if not any(self.created.values()):
            return
        params = self.history_params("")
        del params["entity"], params["action"]
        chunks = [
            row for entity, items in self.created.items() for row in chunk_rows(entity, items)
        ]
        self.run(WRITE_CHUNKS, chunks, **params)
        self.tx.run(
            "CREATE (:HistoryBatch {batch_id: $batch_id, at: $at, actor: $actor, "
            "change_id: $change_id, first_seq: $first, last_seq: $last, cis: $cis, "
            "relationships: $rels, chunks: $chunks})",
            first=self.first_seq + 1,
            last=self.seq,
            cis=len(self.created["ci"]),
            rels=len(self.created["relationship"]),
            chunks=len(chunks),
            **params,
        ).consume()

    def _versions(self, expected: list[Expected]) -> dict[tuple[str, str], int]:
        """The stored versions of the expected entities that exist (the meta node is locked,
        so they cannot move before this batch commits)."""
        out: dict[tuple[str, str], int] = {}
        queries = {
            "ci": "UNWIND $keys AS k MATCH (c:CI {id: k}) RETURN collect(c.id), collect(c.version)",
            "record": "UNWIND $keys AS k MATCH (r:Record {id: k}) "
            "RETURN collect(r.id), collect(r.version)",
        }
        for entity, query in queries.items():
            ids = [e.id for e in expected if e.entity == entity]
            if ids:
                found, versions = self.tx.run(query, keys=ids).single()
                out.update(((entity, i), int(v)) for i, v in zip(found, versions, strict=True))
        by_type: dict[str, list[str]] = defaultdict(list)
        for e in expected:
            parts = e.id.split("|")
            if (
                e.entity == "relationship"
                and len(parts) == 3
                and (parts[1] in self.registry.relationships)
            ):
                by_type[parts[1]].append(e.id)
        for t, keys in by_type.items():
            q = (
                f"MATCH ()-[r:`{rel_type(self.registry, t)}`]->() WHERE r.key IN $keys "
                "RETURN collect(r.key), collect(r.version)"
            )
            found, versions = self.tx.run(q, keys=keys).single()
            out.update((("relationship", i), int(v)) for i, v in zip(found, versions, strict=True))
        return out

    # -- CIs --------------------------------------------------------------------------------
    def _ci_docs(self, ids: list[str]) -> dict[str, str]:
        return self.fetch(
            ("UNWIND $keys AS k MATCH (c:CI {id: k}) RETURN collect(c.id), collect(c.doc)"), ids
        )

    def _put_cis(self, cis: list[CI], reindex: list[CI]) -> None:
        self.run(
            f"UNWIND $rows AS row MERGE (c:CI {{id: row.id}}) SET c = row, c.{TOUCHED} = $touch",
            [_ci_props(c) for c in cis],
            touch=self.touch,
        )
        self.run(
            "UNWIND $rows AS row MATCH (i:Identifier {ci: row.id}) DELETE i",
            [{"id": c.id} for c in reindex],
        )
        idents = [
            {"kind": kind, "value": v, "ci": c.id}
            for c in reindex
            for kind, v in c.identifiers.index_rows()
        ]
        self.run("UNWIND $rows AS row CREATE (i:Identifier) SET i = row", idents)

    def _create_row(self, ci: CI) -> list[Any]:
        """The :data:`_CI_COLUMNS` of a CI that does not exist yet; logs its creation."""
        return [
            self.log_create(),
            ci.id,
            self.new_doc(ci),
            ci.ci_class,
            ci.name,
            ci.status.value,
            ci.criticality.value,
            ci.owner,
            ci.support_group,
            ci.min_required,
            ci.own_availability(),
            ci.last_seen_epoch(),
        ]

    def _create_cis(self, cis: list[CI], rows: list[list[Any]]) -> None:
        """CREATE (not MERGE: the writer has looked them up, and validation rules out
        duplicate ids) new CIs with their History nodes and identifiers; a CI that never
        existed has no Identifier nodes to delete."""
        if self.bulk:
            self.created["ci"] += [(row[0], row[1], row[2]) for row in rows]
        query = _CREATE_CIS_BARE if self.bulk else _CREATE_CIS
        params = {} if self.bulk else self.history_params("ci")
        for i in range(0, len(rows), CHUNK):
            columns = _columns(rows[i : i + CHUNK], _CI_COLUMNS)
            self.tx.run(query, **columns, **params).consume()
        idents = [
            {"kind": kind, "value": v, "ci": c.id}
            for c in cis
            for kind, v in c.identifiers.index_rows()
        ]
        self.run("UNWIND $rows AS row CREATE (i:Identifier) SET i = row", idents)

    def _cis(self, cis: list[CI]) -> None:
        existing = self._ci_docs([c.id for c in cis])
        fresh: list[CI] = []
        rows: list[list[Any]] = []
        put, reindex, retiring = [], [], []
        for ci in cis:
            doc = existing.get(ci.id)
            if doc is None:
                fresh.append(ci)
                self.fresh.add(ci.id)
                rows.append(self._create_row(ci))
                continue
            old = parse(CI, doc)
            merged = merge_ci(old, ci, self.now)
            if merged.entity.topology_fields() != old.topology_fields():
                self.graph_changed = True
            if merged.action is None:
                if merged.touched:
                    put.append(merged.entity)
                    self.touched = True
                self.result.unchanged += 1
                continue
            new = merged.entity
            put.append(new)
            reindex.append(new)
            self.log("ci", new.id, merged.action, old.to_json(), new.to_json())
            if merged.action is HistoryAction.RETIRE:
                retiring.append(new.id)
        self._create_cis(fresh, rows)
        self._put_cis(put, reindex)
        self._retire_rels_of(retiring)

    def _retire_cis(self, ids: list[str]) -> None:
        existing = self._ci_docs(list(dict.fromkeys(ids)))
        put, done = [], []
        for ci_id in dict.fromkeys(ids):
            old = parse(CI, existing[ci_id])
            if old.status is Lifecycle.RETIRED:
                continue
            new = old.model_copy(
                update={
                    "status": Lifecycle.RETIRED,
                    "updated_at": self.now,
                    "version": old.version + 1,
                }
            )
            put.append(new)
            done.append(ci_id)
        # history order as in SQLite: each CI, then the relationships it retires
        rels = self._active_rels_of(done)
        retired_rels: list[Relationship] = []
        for new in put:
            old_doc = existing[new.id]
            self.log("ci", new.id, HistoryAction.RETIRE, json.loads(old_doc), new.to_json())
            retired_rels += self._retire_docs(rels.get(new.id, []))
        self._put_cis(put, [])
        self._put_rels(retired_rels)

    # -- relationships ----------------------------------------------------------------------
    def _rel_docs(self, keys: list[RelKey]) -> dict[str, str]:
        by_type: dict[str, list[str]] = defaultdict(list)
        for s, t, d in keys:
            if t in self.registry.relationships:  # an unknown type cannot exist
                by_type[t].append(f"{s}|{t}|{d}")
        out: dict[str, str] = {}
        for t, ks in by_type.items():
            q = f"MATCH ()-[r:`{rel_type(self.registry, t)}`]->() WHERE r.key IN $keys "
            out.update(self.fetch(q + "RETURN collect(r.key), collect(r.doc)", ks))
        return out

    def _put_rels(self, rels: list[Relationship]) -> None:
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rels:
            by_type[r.type].append({"source": r.source, "key": r.id, "props": _rel_props(r)})
        for t, rows in by_type.items():
            cy = rel_type(self.registry, t)
            q = f"UNWIND $rows AS row MATCH ()-[r:`{cy}` {{key: row.key}}]->() SET r = row.props"
            self.run(q, sorted(rows, key=lambda row: row["source"]))

    def _create_rels(self, rows: list[list[Any]]) -> None:
        """CREATE relationships known not to exist, sorted by source, with their History nodes
        unless in bulk mode; ``rows`` are ``[seq, key, doc, type, source, target, status]``.
        They travel as columns (see :data:`_COLUMNS`); the ends come from the key."""
        by_type: dict[str, list[list[Any]]] = defaultdict(list)
        for row in rows:
            by_type[row[3]].append(row)
        params = {} if self.bulk else self.history_params("relationship")
        if self.bulk:
            self.created["relationship"] += [(row[0], row[1], row[2]) for row in rows]
        history = "" if self.bulk else _HISTORY.replace("row[0]", "toInteger(seq[i])")
        for t, typed in by_type.items():
            q = (
                _COLUMNS + "WITH i, doc, status, seq, key[i] AS k, split(key[i], '|') AS ends "
                "MATCH (a:CI {id: ends[0]}) MATCH (b:CI {id: ends[2]}) "
                f"CREATE (a)-[:`{rel_type(self.registry, t)}` {{key: k, status: status[i], "
                "doc: doc[i], version: 1}]->(b) "
                + history.replace("row[1]", "k").replace("row[2]", "doc[i]")
            )
            typed.sort(key=lambda row: row[4])
            for i in range(0, len(typed), CHUNK):
                part = typed[i : i + CHUNK]
                self.tx.run(
                    q,
                    seq=_column(str(row[0]) for row in part),
                    key=_column(row[1] for row in part),
                    doc=_column(row[2] for row in part),
                    status=_column(row[6] for row in part),
                    **params,
                ).consume()

    def _rels(self, rels: list[Relationship]) -> None:
        # a relationship with an end created by this batch cannot exist yet: no look-up
        fresh = self.fresh
        existing = self._rel_docs(
            [r.key for r in rels if r.source not in fresh and r.target not in fresh]
        )
        created: list[list[Any]] = []
        updated = []
        for rel in rels:
            key = rel.id
            doc = existing.get(key)
            if doc is None:
                created.append(
                    [
                        self.log_create(),
                        key,
                        self.new_doc(rel),
                        rel.type,
                        rel.source,
                        rel.target,
                        rel.status,
                    ]
                )
                continue
            old = parse(Relationship, doc)
            merged = merge_relationship(old, rel, self.now)
            if merged.action is None:
                if merged.touched:
                    updated.append(merged.entity)
                    self.touched = True
                self.result.unchanged += 1
                continue
            updated.append(merged.entity)
            self.log("relationship", rel.id, merged.action, old.to_json(), merged.entity.to_json())
        self._create_rels(created)
        self._put_rels(updated)

    def _retire_docs(self, docs: list[str]) -> list[Relationship]:
        out = []
        for doc in docs:
            old = parse(Relationship, doc)
            if old.status == "retired" or old.id in self.retired_keys:
                continue
            self.retired_keys.add(old.id)
            new = old.model_copy(
                update={"status": "retired", "updated_at": self.now, "version": old.version + 1}
            )
            out.append(new)
            self.log("relationship", old.id, HistoryAction.RETIRE, old.to_json(), new.to_json())
        return out

    def _retire_rels(self, keys: list[RelKey]) -> None:
        existing = self._rel_docs(list(keys))
        docs = []
        for i, (source, rtype, target) in enumerate(keys):
            doc = existing.get(f"{source}|{rtype}|{target}")
            if doc is None:
                raise ValidationError(
                    f"relationship {source} -[{rtype}]-> {target} does not exist",
                    location=f"retire_relationships[{i}]",
                )
            docs.append(doc)
        self._put_rels(self._retire_docs(docs))

    def _active_rels_of(self, ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        q = (
            "UNWIND $keys AS k MATCH (c:CI {id: k})-[r]-(o:CI) WHERE r.status = 'active' "
            "WITH k, r, startNode(r).id AS s, endNode(r).id AS t "
            "ORDER BY s, toLower(type(r)), t RETURN k, collect(r.doc)"
        )
        for i in range(0, len(ids), CHUNK):
            for k, docs in self.tx.run(q, keys=ids[i : i + CHUNK]).values():
                out[k] = docs
        return out

    def _retire_rels_of(self, ids: list[str]) -> None:
        rels = self._active_rels_of(ids)
        retired: list[Relationship] = []
        for ci_id in ids:
            retired += self._retire_docs(rels.get(ci_id, []))
        self._put_rels(retired)

    # -- records ----------------------------------------------------------------------------
    def _next_ids(self, records: list) -> dict[str, int]:
        """Per kind with new records: the highest number that a stored record, or a record of
        this batch, carries after the kind's prefix (any case)."""
        out = {}
        for kind in sorted({r.kind for r in records if r.id is None}):
            prefix = RECORD_PREFIX[kind] + "-"
            stored = self.tx.run(
                "MATCH (r:Record) WHERE toUpper(r.id) STARTS WITH $prefix "
                "RETURN max(toInteger(substring(r.id, size($prefix))))",
                prefix=prefix,
            ).single()[0]
            here = [
                int(r.id[len(prefix) :])
                for r in records
                if r.id is not None
                and r.id.upper().startswith(prefix)
                and r.id[len(prefix) :].isdigit()
            ]
            out[kind] = max([stored or 0, *here])
        return out

    def _records(self, records: list) -> None:
        last = self._next_ids(records)
        stored = self.fetch(
            ("UNWIND $keys AS k MATCH (r:Record {id: k}) RETURN collect(r.id), collect(r.doc)"),
            list(dict.fromkeys(r.id for r in records if r.id is not None)),
        )
        rows = []
        skip = ("created_at", "updated_at", "version")
        for rec in records:
            if rec.id is None:
                last[rec.kind] += 1
                rec = rec.model_copy(
                    update={"id": f"{RECORD_PREFIX[rec.kind]}-{last[rec.kind]:06d}"}
                )
                self.result.allocated.append(rec.id)
            doc = stored.get(rec.id)
            if doc is not None:
                old = json.loads(doc)
                if old.get("kind") != rec.kind:
                    raise ValidationError(
                        f"record '{rec.id}' is a {old.get('kind')}, not a {rec.kind}", field="id"
                    )
                if {k: v for k, v in rec.to_json().items() if k not in skip} == {
                    k: v for k, v in old.items() if k not in skip
                }:
                    self.result.unchanged += 1
                    continue
                new = rec.model_copy(
                    update={
                        "created_at": record_from_json(doc).created_at,
                        "updated_at": self.now,
                        "version": old.get("version", 0) + 1,
                    }
                )
            else:
                new = rec.model_copy(
                    update={"created_at": self.now, "updated_at": self.now, "version": 1}
                )
            stored[new.id] = json.dumps(new.to_json())
            rows.append(
                {
                    "id": new.id,
                    "kind": new.kind,
                    "is_open": is_open(new),
                    "at": record_time(new),
                    "doc": stored[new.id],
                    "version": new.version,
                    "ci_ids": sorted(set(new.ci_ids)),
                }
            )
            action = HistoryAction.CREATE if doc is None else HistoryAction.UPDATE
            before = history_doc(new.kind, json.loads(doc) if doc else None)
            self.log(new.kind, new.id, action, before, history_doc(new.kind, new.to_json()))
        self.run("UNWIND $rows AS row MERGE (r:Record {id: row.id}) SET r = row", rows)
