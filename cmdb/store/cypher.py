"""The Cypher side of the Neo4j store: schema statements, name mapping and the batch writer.

Assumptions: the graph holds ``(:CI)`` nodes joined by relationships whose Cypher type is the
registry name in upper case (``depends_on`` -> ``DEPENDS_ON``); ``(:Identifier {value, ci})``
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
from typing import Any

from cmdb.enums import HistoryAction, Lifecycle
from cmdb.errors import UnknownRelTypeError, ValidationError
from cmdb.model import CI, Batch, BatchResult, Relationship, RelKey, merge_last_seen, utcnow
from cmdb.registry import NAME_RE, Registry
from cmdb.store.records import is_open, record_from_json, record_time

__all__ = ["CHUNK", "Writer", "rel_type", "schema_statements"]

CHUNK = 10_000
META = "MATCH (m:CMDBMeta {name: 'cmdb'})"


def rel_type(registry: Registry, name: str) -> str:
    """The Cypher relationship type of registry type ``name``; raises if it is not registered."""
    registry.rel_type(name)
    if not NAME_RE.match(name):  # registry names are checked on load; this guards the splice
        raise UnknownRelTypeError(f"relationship type '{name}' is not a valid name", field="type")
    return name.upper()


def schema_statements(registry: Registry) -> list[str]:
    """Idempotent schema set-up: constraints and indexes, one statement each."""
    stmts = [
        "CREATE CONSTRAINT cmdb_ci_id IF NOT EXISTS FOR (c:CI) REQUIRE c.id IS UNIQUE",
        "CREATE INDEX cmdb_ci_class IF NOT EXISTS FOR (c:CI) ON (c.class)",
        "CREATE INDEX cmdb_ci_owner IF NOT EXISTS FOR (c:CI) ON (c.owner)",
        "CREATE INDEX cmdb_ci_group IF NOT EXISTS FOR (c:CI) ON (c.support_group)",
        "CREATE INDEX cmdb_ident_value IF NOT EXISTS FOR (i:Identifier) ON (i.value)",
        "CREATE INDEX cmdb_ident_ci IF NOT EXISTS FOR (i:Identifier) ON (i.ci)",
        "CREATE CONSTRAINT cmdb_record_id IF NOT EXISTS FOR (r:Record) REQUIRE r.id IS UNIQUE",
        "CREATE CONSTRAINT cmdb_history_seq IF NOT EXISTS FOR (h:History) REQUIRE h.seq IS UNIQUE",
        "CREATE INDEX cmdb_history_entity IF NOT EXISTS FOR (h:History) ON (h.entity_id)",
        "CREATE INDEX cmdb_history_change IF NOT EXISTS FOR (h:History) ON (h.change_id)",
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
        "id": ci.id, "class": ci.ci_class, "name": ci.name, "status": ci.status.value,
        "criticality": ci.criticality.value, "owner": ci.owner,
        "support_group": ci.support_group, "min_required": ci.min_required,
        "availability": ci.own_availability(), "last_seen": ci.last_seen_epoch(),
        "doc": json.dumps(ci.to_json()), "version": ci.version,
    }


def _rel_props(rel: Relationship) -> dict[str, Any]:
    return {"key": rel.id, "status": rel.status, "doc": json.dumps(rel.to_json()),
            "version": rel.version}


class Writer:
    """Applies one validated batch inside the caller's write transaction ``tx``, mirroring the
    SQLite writer: same order (CIs, relationships, retired relationships, retired CIs,
    records), same history entries, same no-op rules. Constructing it locks the meta node, so
    concurrent writers queue behind each other."""

    def __init__(self, tx: Any, registry: Registry, actor: str, change_id: str | None):
        self.tx, self.registry = tx, registry
        self.now = utcnow()
        self.actor, self.change_id = actor, change_id
        row = tx.run(f"{META} SET m.batch = m.batch + 1 RETURN m.batch AS b, m.seq AS s").single()
        self.batch_id, self.seq = int(row["b"]), int(row["s"])
        self.history: list[dict[str, Any]] = []
        self.result = BatchResult(batch_id=self.batch_id)
        self.touched = False
        self.retired_keys: set[str] = set()

    # -- plumbing ---------------------------------------------------------------------------
    def run(self, query: str, rows: list[dict[str, Any]], **params: Any) -> None:
        for i in range(0, len(rows), CHUNK):
            self.tx.run(query, rows=rows[i : i + CHUNK], **params).consume()

    def fetch(self, query: str, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(keys), CHUNK):
            out.update((k, d) for k, d in self.tx.run(query, keys=keys[i : i + CHUNK]).values())
        return out

    def log(self, entity: str, entity_id: str, action: HistoryAction,
            before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        self.seq += 1
        self.history.append({
            "seq": self.seq, "entity": entity, "entity_id": entity_id,
            "action": action.value, "before": json.dumps(before) if before is not None else None,
            "after": json.dumps(after) if after is not None else None,
        })
        self.result.tally(action)

    def write(self, batch: Batch) -> BatchResult:
        self._cis(batch.cis)
        self._rels(batch.relationships)
        self._retire_rels(batch.retire_relationships)
        self._retire_cis(batch.retire_cis)
        self._records(batch.records)
        self.run("UNWIND $rows AS row CREATE (h:History) SET h = row, h.at = $at, "
                 "h.actor = $actor, h.change_id = $change_id, h.batch_id = $batch_id",
                 self.history, at=self.now, actor=self.actor, change_id=self.change_id,
                 batch_id=self.batch_id)
        bump = 1 if self.history or self.touched else 0
        row = self.tx.run(f"{META} SET m.seq = $seq, m.version = m.version + $bump "
                          "RETURN m.version AS v", seq=self.seq, bump=bump).single()
        self.result.store_version = int(row["v"])
        return self.result

    # -- CIs --------------------------------------------------------------------------------
    def _ci_docs(self, ids: list[str]) -> dict[str, str]:
        return self.fetch("UNWIND $keys AS k MATCH (c:CI {id: k}) RETURN c.id, c.doc", ids)

    def _put_cis(self, cis: list[CI], reindex: list[CI]) -> None:
        self.run("UNWIND $rows AS row MERGE (c:CI {id: row.id}) SET c = row",
                 [_ci_props(c) for c in cis])
        self.run("UNWIND $rows AS row MATCH (i:Identifier {ci: row.id}) DELETE i",
                 [{"id": c.id} for c in reindex])
        idents = [{"value": v, "ci": c.id} for c in reindex
                  for v in sorted({v.strip().lower() for v in c.identifiers.values()})]
        self.run("UNWIND $rows AS row CREATE (i:Identifier) SET i = row", idents)

    def _cis(self, cis: list[CI]) -> None:
        existing = self._ci_docs([c.id for c in cis])
        put, reindex, retiring = [], [], []
        for ci in cis:
            doc = existing.get(ci.id)
            if doc is None:
                new = ci.model_copy(update={"created_at": self.now, "updated_at": self.now,
                                            "version": 1})
                put.append(new)
                reindex.append(new)
                self.log("ci", new.id, HistoryAction.CREATE, None, new.to_json())
                continue
            old = CI.model_validate_json(doc)
            seen = merge_last_seen(old.last_seen, ci.last_seen)
            prov = {**old.provenance, **ci.provenance}
            if ci.content() == old.content():
                if seen != old.last_seen or prov != old.provenance:
                    put.append(old.model_copy(update={"last_seen": seen, "provenance": prov}))
                    self.touched = True
                self.result.unchanged += 1
                continue
            new = ci.model_copy(update={"created_at": old.created_at, "updated_at": self.now,
                                        "version": old.version + 1, "last_seen": seen,
                                        "provenance": prov})
            put.append(new)
            reindex.append(new)
            is_retiring = new.status is Lifecycle.RETIRED and old.status is not Lifecycle.RETIRED
            action = HistoryAction.RETIRE if is_retiring else HistoryAction.UPDATE
            self.log("ci", new.id, action, old.to_json(), new.to_json())
            if is_retiring:
                retiring.append(new.id)
        self._put_cis(put, reindex)
        self._retire_rels_of(retiring)

    def _retire_cis(self, ids: list[str]) -> None:
        existing = self._ci_docs(list(dict.fromkeys(ids)))
        put, done = [], []
        for ci_id in dict.fromkeys(ids):
            old = CI.model_validate_json(existing[ci_id])
            if old.status is Lifecycle.RETIRED:
                continue
            new = old.model_copy(update={"status": Lifecycle.RETIRED, "updated_at": self.now,
                                         "version": old.version + 1})
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
            q = f"UNWIND $keys AS k MATCH ()-[r:`{rel_type(self.registry, t)}` {{key: k}}]->() "
            out.update(self.fetch(q + "RETURN r.key, r.doc", ks))
        return out

    def _put_rels(self, rels: list[Relationship], *, create: bool = False) -> None:
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rels:
            by_type[r.type].append({"source": r.source, "target": r.target,
                                    "key": r.id, "props": _rel_props(r)})
        for t, rows in by_type.items():
            cy = rel_type(self.registry, t)
            if create:
                q = ("UNWIND $rows AS row MATCH (a:CI {id: row.source}) "
                     "MATCH (b:CI {id: row.target}) "
                     f"CREATE (a)-[r:`{cy}`]->(b) SET r = row.props")
            else:
                q = (f"UNWIND $rows AS row MATCH ()-[r:`{cy}` {{key: row.key}}]->() "
                     "SET r = row.props")
            self.run(q, sorted(rows, key=lambda row: row["source"]))

    def _rels(self, rels: list[Relationship]) -> None:
        existing = self._rel_docs([r.key for r in rels])
        created, updated = [], []
        for rel in rels:
            doc = existing.get(rel.id)
            if doc is None:
                new = rel.model_copy(update={"created_at": self.now, "updated_at": self.now,
                                             "version": 1})
                created.append(new)
                self.log("relationship", rel.id, HistoryAction.CREATE, None, new.to_json())
                continue
            old = Relationship.model_validate_json(doc)
            seen = merge_last_seen(old.last_seen, rel.last_seen)
            if rel.content() == old.content():
                if seen != old.last_seen:
                    updated.append(old.model_copy(update={"last_seen": seen}))
                    self.touched = True
                self.result.unchanged += 1
                continue
            new = rel.model_copy(update={"created_at": old.created_at, "updated_at": self.now,
                                         "version": old.version + 1, "last_seen": seen})
            updated.append(new)
            action = (HistoryAction.RETIRE if new.status == "retired" != old.status
                      else HistoryAction.UPDATE)
            self.log("relationship", rel.id, action, old.to_json(), new.to_json())
        self._put_rels(created, create=True)
        self._put_rels(updated)

    def _retire_docs(self, docs: list[str]) -> list[Relationship]:
        out = []
        for doc in docs:
            old = Relationship.model_validate_json(doc)
            if old.status == "retired" or old.id in self.retired_keys:
                continue
            self.retired_keys.add(old.id)
            new = old.model_copy(update={"status": "retired", "updated_at": self.now,
                                         "version": old.version + 1})
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
        q = ("UNWIND $keys AS k MATCH (c:CI {id: k})-[r]-(o:CI) WHERE r.status = 'active' "
             "WITH k, r, startNode(r).id AS s, endNode(r).id AS t "
             "ORDER BY s, toLower(type(r)), t RETURN k, collect(r.doc)")
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
    def _records(self, records: list) -> None:
        stored = self.fetch("UNWIND $keys AS k MATCH (r:Record {id: k}) RETURN r.id, r.doc",
                            list(dict.fromkeys(r.id for r in records)))
        rows = []
        skip = ("created_at", "updated_at", "version")
        for rec in records:
            doc = stored.get(rec.id)
            if doc is not None:
                old = json.loads(doc)
                if old.get("kind") != rec.kind:
                    raise ValidationError(
                        f"record '{rec.id}' is a {old.get('kind')}, not a {rec.kind}", field="id"
                    )
                if {k: v for k, v in rec.to_json().items() if k not in skip} == {
                        k: v for k, v in old.items() if k not in skip}:
                    self.result.unchanged += 1
                    continue
                new = rec.model_copy(update={"created_at": record_from_json(doc).created_at,
                                             "updated_at": self.now,
                                             "version": old.get("version", 0) + 1})
            else:
                new = rec.model_copy(update={"created_at": self.now, "updated_at": self.now,
                                             "version": 1})
            stored[new.id] = json.dumps(new.to_json())
            rows.append({"id": new.id, "kind": new.kind, "is_open": is_open(new),
                         "at": record_time(new), "doc": stored[new.id], "version": new.version,
                         "ci_ids": sorted(set(new.ci_ids))})
            action = HistoryAction.CREATE if doc is None else HistoryAction.UPDATE
            self.log(new.kind, new.id, action, json.loads(doc) if doc else None, new.to_json())
        self.run("UNWIND $rows AS row MERGE (r:Record {id: row.id}) SET r = row", rows)
