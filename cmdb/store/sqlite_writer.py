"""The write path of the SQLite store: one :class:`Writer` applies one validated batch.

Assumptions: the caller holds an open ``BEGIN IMMEDIATE`` transaction and has validated the
batch; any exception here makes the caller roll back, so a batch applies completely or not at
all. The batch's expected versions are checked first, and new records get their ids here,
inside the transaction, so two writers can never take the same id. Every created, updated or
retired entity appends exactly one history row with the full before/after documents; an upsert
equal to the stored state writes no history.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from cmdb.enums import HistoryAction, Lifecycle
from cmdb.errors import ValidationError
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
from cmdb.store.merge import merge_ci, merge_relationship
from cmdb.store.records import history_doc, is_open, record_from_json, record_time
from cmdb.store.stored import parse
from cmdb.validation import check_expected

__all__ = ["Writer", "iso", "upgrade_identifier_index"]


def iso(at: datetime) -> str:
    """The one timestamp format stored in text columns, so that they compare as strings."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def upgrade_identifier_index(db: sqlite3.Connection) -> None:
    """Fill ``ci_identifier`` (kind, value, CI) from the CI documents of a store written before
    identifiers carried their kind (schema 1's ``ci_ident``), then drop the old table. Runs in
    its own transaction; a no-op on a current store."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ci_ident'").fetchone() is None:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        rows = [
            (kind, value, n)
            for n, doc in db.execute("SELECT n, doc FROM ci")
            for kind, value in parse(CI, doc).identifiers.index_rows()
        ]
        db.executemany(
            "INSERT OR IGNORE INTO ci_identifier (kind, value, n) VALUES (?, ?, ?)", rows
        )
        db.execute("DROP TABLE ci_ident")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class Writer:
    """Applies one batch inside the caller's transaction."""

    def __init__(self, db: sqlite3.Connection, actor: str, change_id: str | None):
        self.db = db
        self.now = utcnow()
        self.at = iso(self.now)
        self.actor = actor
        self.change_id = change_id
        self.batch_id = db.execute(
            "INSERT INTO batch (at, actor, change_id) VALUES (?, ?, ?)", (self.at, actor, change_id)
        ).lastrowid
        self.history: list[tuple] = []
        self.result = BatchResult(batch_id=self.batch_id)
        self.touched = False
        self.graph_changed = False  # did this batch change what a topology snapshot holds?
        self.seen: list[int] = []  # CIs whose last-seen moved without a history entry
        self.next_numbers: dict[str, int] = {}

    def _log(
        self,
        entity: str,
        entity_id: str,
        action: HistoryAction,
        before: dict[str, Any] | str | None,
        after: dict[str, Any] | str | None,
    ) -> None:
        """Queue one history row; documents may come already serialised."""
        if entity == "relationship" or (entity == "ci" and action is not HistoryAction.UPDATE):
            self.graph_changed = True

        def doc(d):
            return d if d is None or isinstance(d, str) else json.dumps(d)

        self.history.append(
            (
                self.at,
                self.actor,
                self.change_id,
                self.batch_id,
                entity,
                entity_id,
                action.value,
                doc(before),
                doc(after),
            )
        )
        self.result.tally(action)

    def write(self, batch: Batch) -> BatchResult:
        check_expected(batch.expected, self._versions)
        self._cis(batch.cis)
        self._rels(batch.relationships)
        for i, key in enumerate(batch.retire_relationships):
            self._retire_rel(key, f"retire_relationships[{i}]")
        for ci_id in batch.retire_cis:
            self._retire_ci(ci_id)
        self._records(batch.records)
        self.db.executemany(
            "INSERT INTO history (at, actor, change_id, batch_id, entity, entity_id, action, "
            "before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.history,
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO ci_touch (n, batch_id) VALUES (?, ?)",
            [(n, self.batch_id) for n in self.seen],
        )
        if self.history or self.touched:
            self.db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"
            )
        if self.graph_changed:  # the snapshot cache keys on these, not on the version
            self.db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'graph_version'"
            )
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('graph_write', ?)",
                (f"{self.batch_id}@{self.at}",),
            )
        self.result.store_version = int(
            self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        )
        return self.result

    def _versions(self, expected: list[Expected]) -> dict[tuple[str, str], int]:
        """The stored versions of the expected entities that exist."""
        out: dict[tuple[str, str], int] = {}
        for entity, sql in (
            ("ci", "SELECT id, version FROM ci WHERE id IN (SELECT value FROM json_each(?))"),
            (
                "record",
                "SELECT id, version FROM record WHERE id IN (SELECT value FROM json_each(?))",
            ),
            (
                "relationship",
                "SELECT s.id || '|' || r.type || '|' || t.id, r.version "
                "FROM json_each(?) k JOIN ci s ON s.id = k.value ->> 0 "
                "JOIN ci t ON t.id = k.value ->> 2 JOIN rel r ON r.src = s.n "
                "AND r.type = k.value ->> 1 AND r.dst = t.n",
            ),
        ):
            ids: list = [e.id for e in expected if e.entity == entity]
            if entity == "relationship":
                ids = [i.split("|") for i in ids]
            if ids:
                out.update(((entity, i), v) for i, v in self.db.execute(sql, (json.dumps(ids),)))
        return out

    # -- CIs --------------------------------------------------------------------------------
    def _existing(self, ids: list[str]) -> dict[str, tuple[int, str]]:
        rows = self.db.execute(
            "SELECT id, n, doc FROM ci WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        return {i: (n, doc) for i, n, doc in rows}

    def _row(self, ci: CI) -> tuple:
        return (
            ci.ci_class,
            ci.name,
            ci.status.value,
            ci.criticality.value,
            ci.owner,
            ci.support_group,
            ci.min_required,
            ci.own_availability(),
            ci.last_seen_epoch(),
            json.dumps(ci.to_json()),
            ci.version,
        )

    def _new_doc(self, model: CI | Relationship) -> str:
        data = model.to_json()
        data.update(created_at=self.at, updated_at=self.at, version=1)
        return json.dumps(data)

    def _cis(self, cis: list[CI]) -> None:
        existing = self._existing([c.id for c in cis])
        fresh = [ci for ci in cis if ci.id not in existing]
        rows, docs = [], {}
        for ci in fresh:
            docs[ci.id] = doc = self._new_doc(ci)
            rows.append((*self._row(ci)[:-2], doc, 1, ci.id))
            self._log("ci", ci.id, HistoryAction.CREATE, None, doc)
        self.db.executemany(
            "INSERT INTO ci (class, name, status, criticality, owner, support_group, "
            "min_required, availability, last_seen, doc, version, id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        if fresh:
            numbers = self._numbers({ci.id for ci in fresh})
            self.db.executemany(
                "INSERT INTO ci_identifier (kind, value, n) VALUES (?, ?, ?)",
                [
                    (kind, value, numbers[ci.id])
                    for ci in fresh
                    for kind, value in ci.identifiers.index_rows()
                ],
            )
        for ci in cis:
            found = existing.get(ci.id)
            if found is None:
                continue
            n, doc = found
            old = parse(CI, doc)
            merged = merge_ci(old, ci, self.now)
            moved = merged.entity.topology_fields() != old.topology_fields()
            self.graph_changed |= moved
            if merged.action is None:
                if merged.touched:
                    self._update(n, merged.entity)
                    self.touched = True
                    if moved:  # logged for snapshot deltas, which read history otherwise
                        self.seen.append(n)
                self.result.unchanged += 1
                continue
            new = merged.entity
            self._update(n, new)
            self._index(n, new)
            self._log("ci", new.id, merged.action, old.to_json(), new.to_json())
            if merged.action is HistoryAction.RETIRE:
                self._retire_rels_of(n)

    def _update(self, n: int, ci: CI) -> None:
        self.db.execute(
            "UPDATE ci SET class=?, name=?, status=?, criticality=?, owner=?, support_group=?, "
            "min_required=?, availability=?, last_seen=?, doc=?, version=? WHERE n=?",
            (*self._row(ci), n),
        )

    def _index(self, n: int, ci: CI) -> None:
        self.db.execute("DELETE FROM ci_identifier WHERE n = ?", (n,))
        self.db.executemany(
            "INSERT INTO ci_identifier (kind, value, n) VALUES (?, ?, ?)",
            [(kind, value, n) for kind, value in ci.identifiers.index_rows()],
        )

    def _retire_ci(self, ci_id: str) -> None:
        n, doc = self._existing([ci_id])[ci_id]
        old = parse(CI, doc)
        if old.status is Lifecycle.RETIRED:
            return
        new = old.model_copy(
            update={"status": Lifecycle.RETIRED, "updated_at": self.now, "version": old.version + 1}
        )
        self._update(n, new)
        self._log("ci", ci_id, HistoryAction.RETIRE, old.to_json(), new.to_json())
        self._retire_rels_of(n)

    # -- relationships ----------------------------------------------------------------------
    def _numbers(self, ids: set[str]) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT id, n FROM ci WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(ids)),),
        )
        return dict(rows.fetchall())

    def _rels(self, rels: list[Relationship]) -> None:
        if not rels:
            return
        num = self._numbers({r.source for r in rels} | {r.target for r in rels})
        keys = [(num[r.source], r.type, num[r.target]) for r in rels]
        stored = {
            (src, t, dst): doc
            for src, t, dst, doc in self.db.execute(
                "SELECT r.src, r.type, r.dst, r.doc FROM json_each(?) k JOIN rel r "
                "ON r.src = k.value ->> 0 AND r.type = k.value ->> 1 AND r.dst = k.value ->> 2",
                (json.dumps(keys),),
            )
        }
        rows = []
        for rel, key in zip(rels, keys, strict=True):
            if key not in stored:
                doc = self._new_doc(rel)
                rows.append((*key, rel.status, doc, 1))
                self._log("relationship", rel.id, HistoryAction.CREATE, None, doc)
        self.db.executemany(
            "INSERT INTO rel (src, type, dst, status, doc, version) VALUES (?,?,?,?,?,?)", rows
        )
        for rel, key in zip(rels, keys, strict=True):
            if key not in stored:
                continue
            old = parse(Relationship, stored[key])
            merged = merge_relationship(old, rel, self.now)
            if merged.action is None:
                if merged.touched:
                    self._put_rel(key, merged.entity)
                    self.touched = True
                self.result.unchanged += 1
                continue
            self._put_rel(key, merged.entity)
            self._log("relationship", rel.id, merged.action, old.to_json(), merged.entity.to_json())

    def _put_rel(self, key: tuple[int, str, int], rel: Relationship) -> None:
        self.db.execute(
            "UPDATE rel SET status=?, doc=?, version=? WHERE src=? AND type=? AND dst=?",
            (rel.status, json.dumps(rel.to_json()), rel.version, *key),
        )

    def _retire_rel(self, key: RelKey, where: str) -> None:
        source, rtype, target = key
        row = self.db.execute(
            "SELECT r.src, r.dst, r.doc FROM rel r JOIN ci s ON s.n = r.src "
            "JOIN ci t ON t.n = r.dst WHERE s.id = ? AND r.type = ? AND t.id = ?",
            (source, rtype, target),
        ).fetchone()
        if row is None:
            raise ValidationError(
                f"relationship {source} -[{rtype}]-> {target} does not exist", location=where
            )
        self._retire_rel_row(row)

    def _retire_rel_row(self, row: tuple[int, int, str]) -> None:
        src, dst, doc = row
        old = parse(Relationship, doc)
        if old.status == "retired":
            return
        new = old.model_copy(
            update={"status": "retired", "updated_at": self.now, "version": old.version + 1}
        )
        self._put_rel((src, old.type, dst), new)
        self._log("relationship", old.id, HistoryAction.RETIRE, old.to_json(), new.to_json())

    def _retire_rels_of(self, n: int) -> None:
        rows = self.db.execute(
            "SELECT src, dst, doc FROM rel WHERE status = 'active' AND (src = ?1 OR dst = ?1)",
            (n,),
        ).fetchall()
        for row in rows:
            self._retire_rel_row(row)

    # -- records ----------------------------------------------------------------------------
    def _next_id(self, kind: str, batch_ids: set[str]) -> str:
        """The next free id for a new record of ``kind``: one above the highest number that a
        stored record, or a record of this batch, carries after the kind's prefix (any case)."""
        prefix = RECORD_PREFIX[kind] + "-"
        last = self.next_numbers.get(kind)
        if last is None:
            stored = self.db.execute(
                "SELECT max(CAST(substr(id, ?) AS INTEGER)) FROM record WHERE id LIKE ?",
                (len(prefix) + 1, prefix + "%"),
            ).fetchone()[0]
            here = [
                int(i[len(prefix) :])
                for i in batch_ids
                if i.upper().startswith(prefix) and i[len(prefix) :].isdigit()
            ]
            last = max([stored or 0, *here])
        self.next_numbers[kind] = last + 1
        return f"{prefix}{last + 1:06d}"

    def _records(self, records: list) -> None:
        batch_ids = {r.id for r in records if r.id is not None}
        for rec in records:
            if rec.id is None:
                rec = rec.model_copy(update={"id": self._next_id(rec.kind, batch_ids)})
                self.result.allocated.append(rec.id)
            row = self.db.execute(
                "SELECT doc, version FROM record WHERE id = ?", (rec.id,)
            ).fetchone()
            if row is not None:
                old = json.loads(row[0])
                if old.get("kind") != rec.kind:
                    raise ValidationError(
                        f"record '{rec.id}' is a {old.get('kind')}, not a {rec.kind}", field="id"
                    )
                cmp = {
                    k: v
                    for k, v in rec.to_json().items()
                    if k not in ("created_at", "updated_at", "version")
                }
                if cmp == {
                    k: v for k, v in old.items() if k not in ("created_at", "updated_at", "version")
                }:
                    self.result.unchanged += 1
                    continue
                created = record_from_json(row[0]).created_at
                new = rec.model_copy(
                    update={"created_at": created, "updated_at": self.now, "version": row[1] + 1}
                )
            else:
                new = rec.model_copy(
                    update={"created_at": self.now, "updated_at": self.now, "version": 1}
                )
            at = record_time(new)
            self.db.execute(
                "INSERT OR REPLACE INTO record (id, kind, is_open, at, doc, version) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    new.id,
                    new.kind,
                    int(is_open(new)),
                    iso(at),
                    json.dumps(new.to_json()),
                    new.version,
                ),
            )
            self.db.execute("DELETE FROM record_ci WHERE record_id = ?", (new.id,))
            self.db.executemany(
                "INSERT INTO record_ci (ci_id, record_id) VALUES (?, ?)",
                [(c, new.id) for c in set(new.ci_ids)],
            )
            action = HistoryAction.CREATE if row is None else HistoryAction.UPDATE
            before = history_doc(new.kind, json.loads(row[0]) if row else None)
            self._log(new.kind, new.id, action, before, history_doc(new.kind, new.to_json()))
