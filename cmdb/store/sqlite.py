"""The embedded default store: one SQLite file in WAL mode, standard library only.

Assumptions: one writer at a time (``BEGIN IMMEDIATE``), any number of readers. Each CI row keeps
its full JSON document plus the columns that filters need; relationships refer to CIs by integer
row number so that a topology snapshot reads integers, not strings. History is an append-only
table guarded by triggers. The topology snapshot is cached next to the database file
(``<db>.topology-<registry fingerprint>/``) and keyed by the store version, so a cold process
answers without rebuilding the graph from rows.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from cmdb.enums import Criticality, Lifecycle
from cmdb.errors import NotFoundError, StoreError, StoreUnavailableError, ValidationError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, HistoryEntry, Relationship
from cmdb.registry import Registry
from cmdb.store.protocol import AnyRecord, Subgraph
from cmdb.store.records import record_from_json
from cmdb.store.sqlite_writer import Writer, iso
from cmdb.topology import Topology
from cmdb.validation import validate_batch

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ci (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, class TEXT NOT NULL, name TEXT NOT NULL,
    status TEXT NOT NULL, criticality TEXT NOT NULL, owner TEXT, support_group TEXT,
    min_required INTEGER, availability REAL, last_seen REAL, doc TEXT NOT NULL,
    version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ci_class ON ci (class, status);
CREATE INDEX IF NOT EXISTS ci_owner ON ci (owner);
CREATE INDEX IF NOT EXISTS ci_group ON ci (support_group);
CREATE TABLE IF NOT EXISTS ci_ident (value TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (value, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rel (
    src INTEGER NOT NULL, type TEXT NOT NULL, dst INTEGER NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (src, type, dst)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rel_dst ON rel (dst, type);
CREATE TABLE IF NOT EXISTS record (id TEXT PRIMARY KEY, kind TEXT NOT NULL,
    is_open INTEGER NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS record_ci (ci_id TEXT NOT NULL, record_id TEXT NOT NULL,
    PRIMARY KEY (ci_id, record_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
    change_id TEXT);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, change_id TEXT,
    batch_id INTEGER NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL,
    action TEXT NOT NULL, before TEXT, after TEXT);
CREATE INDEX IF NOT EXISTS history_entity ON history (entity_id, seq);
CREATE INDEX IF NOT EXISTS history_change ON history (change_id);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
INSERT OR IGNORE INTO meta VALUES ('schema', '1'), ('version', '0');
"""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SQLiteStore:
    """A :class:`~cmdb.store.protocol.GraphStore` on one SQLite file."""

    def __init__(self, path: str | Path, registry: Registry):
        self.registry = registry
        self.path = Path(path).expanduser()
        self.uri = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._topology: Topology | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            schema = int(self._scalar("SELECT value FROM meta WHERE key='schema'"))
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError(f"cannot open the store at {self.path} ({exc})") from None
        if schema != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {schema} is not supported")

    # -- plumbing ---------------------------------------------------------------------------
    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_db", None) is not None:
                self._db.close()
                self._db = None

    def _scalar(self, sql: str, params: Sequence = ()) -> object:
        row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: query failed ({exc})") from None

    def version(self) -> int:
        with self._lock:
            return int(self._scalar("SELECT value FROM meta WHERE key='version'"))

    # -- writes -----------------------------------------------------------------------------
    def _lookup(self, ids: Iterable[str]) -> dict[str, tuple[str, Lifecycle]]:
        rows = self._db.execute(
            "SELECT id, class, status FROM ci WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {i: (c, Lifecycle(s)) for i, c, s in rows}

    def apply(self, batch: Batch, *, actor: str, change_id: str | None = None) -> BatchResult:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"{self.path}: store is busy ({exc})") from None
            try:
                validate_batch(batch, self.registry, self._lookup)
                result = Writer(self._db, actor, change_id).write(batch)
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise ValidationError(str(exc)) from None
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: write failed ({exc})") from None
                raise
            return result

    # -- reads ------------------------------------------------------------------------------
    def get_ci(self, ci_id: str) -> CI:
        with self._lock:
            doc = self._scalar("SELECT doc FROM ci WHERE id=?", (ci_id,))
        if doc is None:
            raise NotFoundError("CI", ci_id)
        return CI.model_validate_json(doc)

    def find_cis(self, flt: CIFilter) -> list[CI]:
        where, params = [], []
        if flt.ids:
            where.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(flt.ids)))
        for col, values in (("class", flt.classes), ("status", flt.status),
                            ("criticality", flt.criticality)):
            if values:
                where.append(f"{col} IN (SELECT value FROM json_each(?))")
                params.append(json.dumps([str(v) for v in values]))
        if not flt.include_retired and Lifecycle.RETIRED not in flt.status:
            where.append("status != 'retired'")
        for col, value in (("owner", flt.owner), ("support_group", flt.support_group)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if flt.identifier is not None:
            where.append("n IN (SELECT n FROM ci_ident WHERE value = ?)")
            params.append(flt.identifier.strip().lower())
        if flt.text:
            where.append("(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')")
            params += [_like(flt.text)] * 2
        sql = "SELECT doc FROM ci" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [flt.limit if flt.limit is not None else -1, flt.offset]
        with self._lock:
            rows = self._rows(sql, params)
        return [CI.model_validate_json(doc) for (doc,) in rows]

    def find_relationships(self, flt: RelFilter) -> list[Relationship]:
        where, params = [], []
        for col, value in (("s.id", flt.source), ("t.id", flt.target)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if flt.ci is not None:
            where.append("(s.id = ? OR t.id = ?)")
            params += [flt.ci, flt.ci]
        if flt.types:
            where.append("r.type IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(flt.types)))
        if not flt.include_retired:
            where.append("r.status = 'active'")
        sql = "SELECT r.doc FROM rel r JOIN ci s ON s.n = r.src JOIN ci t ON t.n = r.dst"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id, r.type, t.id"
        if flt.limit is not None:
            sql += f" LIMIT {int(flt.limit)}"
        with self._lock:
            rows = self._rows(sql, params)
        return [Relationship.model_validate_json(doc) for (doc,) in rows]

    def neighbourhood(self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()) -> Subgraph:
        for t in types:
            self.registry.rel_type(t)
        self.get_ci(ci_id)
        seen, frontier = {ci_id}, {ci_id}
        type_sql = " AND r.type IN (SELECT value FROM json_each(?))" if types else ""
        sql = ("SELECT s.id, t.id FROM rel r JOIN ci s ON s.n = r.src JOIN ci t ON t.n = r.dst "
               "WHERE r.status = 'active' AND (s.id IN (SELECT value FROM json_each(?1)) "
               "OR t.id IN (SELECT value FROM json_each(?1)))" + type_sql.replace("?", "?2"))
        with self._lock:
            for _ in range(max(depth, 0)):
                params = [json.dumps(sorted(frontier))]
                if types:
                    params.append(json.dumps(list(types)))
                found = {x for pair in self._rows(sql, params) for x in pair}
                frontier = found - seen
                if not frontier:
                    break
                seen |= frontier
        cis = [c for c in self.find_cis(CIFilter(ids=tuple(seen)))]
        live = {c.id for c in cis}
        rels = [r for r in self._rels_among(live) if not types or r.type in types]
        return Subgraph(cis=cis, relationships=rels)

    def _rels_among(self, ids: set[str]) -> list[Relationship]:
        sql = ("SELECT r.doc FROM rel r JOIN ci s ON s.n = r.src JOIN ci t ON t.n = r.dst "
               "WHERE r.status = 'active' AND s.id IN (SELECT value FROM json_each(?1)) "
               "AND t.id IN (SELECT value FROM json_each(?1)) ORDER BY s.id, r.type, t.id")
        with self._lock:
            rows = self._rows(sql, [json.dumps(sorted(ids))])
        return [Relationship.model_validate_json(doc) for (doc,) in rows]

    def get_record(self, record_id: str) -> AnyRecord:
        with self._lock:
            doc = self._scalar("SELECT doc FROM record WHERE id=?", (record_id,))
        if doc is None:
            raise NotFoundError("record", record_id)
        return record_from_json(doc)

    def find_records(self, flt: RecordFilter) -> list[AnyRecord]:
        where, params = [], []
        if flt.kinds:
            where.append("kind IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([str(k) for k in flt.kinds]))
        if flt.ids:
            where.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(flt.ids)))
        if flt.ci is not None:
            where.append("id IN (SELECT record_id FROM record_ci WHERE ci_id = ?)")
            params.append(flt.ci)
        if flt.open_only:
            where.append("is_open = 1")
        if flt.since is not None:
            where.append("at >= ?")
            params.append(iso(flt.since))
        sql = "SELECT doc FROM record" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._rows(sql + " ORDER BY id", params)
        return [record_from_json(doc) for (doc,) in rows]

    def history(self, flt: HistoryFilter) -> list[HistoryEntry]:
        where, params = [], []
        for col, value in (("entity", flt.entity), ("entity_id", flt.entity_id),
                           ("actor", flt.actor), ("change_id", flt.change_id)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if flt.since is not None:
            where.append("at >= ?")
            params.append(iso(flt.since))
        if flt.until is not None:
            where.append("at <= ?")
            params.append(iso(flt.until))
        sql = ("SELECT seq, at, actor, change_id, batch_id, entity, entity_id, action, before, "
               "after FROM history" + (" WHERE " + " AND ".join(where) if where else ""))
        sql += " ORDER BY seq" + (f" LIMIT {int(flt.limit)}" if flt.limit else "")
        with self._lock:
            rows = self._rows(sql, params)
        keys = ("seq", "at", "actor", "change_id", "batch_id", "entity", "entity_id", "action")
        return [
            HistoryEntry(**dict(zip(keys, row[:8], strict=True)),
                         before=json.loads(row[8]) if row[8] else None,
                         after=json.loads(row[9]) if row[9] else None)
            for row in rows
        ]

    # -- topology ---------------------------------------------------------------------------
    @property
    def _cache_path(self) -> Path:
        """The snapshot cache; its name carries the registry's fingerprint, so a changed
        registry (classes, groups, propagation) never reuses a snapshot built under another."""
        return self.path.with_name(f"{self.path.name}.topology-{self.registry.fingerprint}")

    def topology(self) -> Topology:
        version = self.version()
        if self._topology is not None and self._topology.version == version:
            return self._topology
        topo = Topology.load(self._cache_path)
        if topo is None or topo.version != version:
            topo = self._build_topology(version)
            # a read-only directory only costs the next process a rebuild
            with contextlib.suppress(OSError):
                topo.save(self._cache_path)
        self._topology = topo
        return topo

    def _build_topology(self, version: int) -> Topology:
        reg = self.registry
        class_code = {c: i for i, c in enumerate(reg.class_names)}
        type_code = {t: i for i, t in enumerate(reg.rel_type_names)}
        crit = {c.value: c.rank for c in Criticality}
        with self._lock:
            rows = self._rows(
                "SELECT n, id, class, criticality, min_required, last_seen, availability "
                "FROM ci WHERE status != 'retired' ORDER BY n"
            )
            edges = self._rows("SELECT src, type, dst FROM rel WHERE status = 'active'")
        rown = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        src_n = np.fromiter((e[0] for e in edges), np.int64, len(edges))
        dst_n = np.fromiter((e[2] for e in edges), np.int64, len(edges))
        src, dst = np.searchsorted(rown, src_n), np.searchsorted(rown, dst_n)
        return Topology.build(
            version=version,
            class_names=reg.class_names,
            rel_type_names=reg.rel_type_names,
            propagation=[reg.relationships[t].propagation for t in reg.rel_type_names],
            ids=[r[1] for r in rows],
            class_code=[class_code[r[2]] for r in rows],
            is_group=[reg.is_group(r[2]) for r in rows],
            min_required=[r[4] or 0 for r in rows],
            criticality=[crit[r[3]] for r in rows],
            last_seen=[np.nan if r[5] is None else r[5] for r in rows],
            availability=[np.nan if r[6] is None else r[6] for r in rows],
            src=src.astype(np.int32),
            dst=dst.astype(np.int32),
            rtype=np.fromiter((type_code[e[1]] for e in edges), np.int16, len(edges)),
        )

