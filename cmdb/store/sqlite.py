"""The embedded default store: one SQLite file in WAL mode, standard library only.

Assumptions: one writer at a time (``BEGIN IMMEDIATE``), any number of readers. Each CI row keeps
its full JSON document plus the columns that filters need; relationships refer to CIs by integer
row number so that a topology snapshot reads integers, not strings. History is an append-only
table guarded by triggers. Every store has an identity (``meta.store_id``, a uuid created with
the file). The topology snapshot is cached next to the database file (``<db>.snapshots/``, see
:mod:`cmdb.store.snapshots`), keyed by store id, version, registry fingerprint and last write, so
a cold process answers without rebuilding the graph from rows and a restored file never reuses
another file's snapshot. A file that this process cannot write is opened read-only (see
:mod:`cmdb.store.sqlite_connect`); its snapshots go to the user cache directory. sqlite3 errors
become :mod:`cmdb.errors` types in one place, :mod:`cmdb.store.sqlite_errors`.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmdb.bulk import construct, no_gc, parse_document
from cmdb.enums import Criticality, HistoryAction, Lifecycle
from cmdb.errors import NotFoundError, StoreError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, HistoryEntry, Relationship
from cmdb.registry import Registry
from cmdb.settings import default_cache_dir
from cmdb.store.protocol import AnyRecord, Subgraph
from cmdb.store.records import record_from_json
from cmdb.store.snapshots import SnapshotCache, SnapshotKey
from cmdb.store.sqlite_connect import connect, is_read_only
from cmdb.store.sqlite_delta import CURSOR_SQL, read_delta
from cmdb.store.sqlite_errors import closed_error, map_sqlite_errors, read_only_error
from cmdb.store.sqlite_writer import Writer, iso, upgrade_identifier_index
from cmdb.store.stored import parse
from cmdb.validation import validate_batch

if TYPE_CHECKING:  # numpy loads only when a snapshot is built or read
    from cmdb.topology import Topology

__all__ = ["SQLiteStore"]

# lifecycle states of CIs that are not in service yet: in the snapshot, never affected
_NOT_IN_SERVICE = ("planned", "build")

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
CREATE TABLE IF NOT EXISTS ci_identifier (value TEXT NOT NULL, kind TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (value, kind, n)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ci_identifier_n ON ci_identifier (n);
CREATE TABLE IF NOT EXISTS rel (
    src INTEGER NOT NULL, type TEXT NOT NULL, dst INTEGER NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (src, type, dst)) WITHOUT ROWID;
-- a CI's incoming relationships with their status: counted, and paged by the other end's id,
-- without reading their rows (it replaced rel_dst (dst, type), dropped by the migration)
CREATE INDEX IF NOT EXISTS rel_in ON rel (dst, type, status);
-- a CI row's id without reading the row (its document): a hub's page sorts by the other ends' ids
CREATE INDEX IF NOT EXISTS ci_n_id ON ci (n, id);
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
-- covers the as-of read (the last entry of each entity up to a time) without touching rows
CREATE INDEX IF NOT EXISTS history_asof ON history (entity, entity_id, at, seq);
CREATE TABLE IF NOT EXISTS ci_touch (n INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ci_touch_batch ON ci_touch (batch_id);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
INSERT OR IGNORE INTO meta VALUES ('schema', '1'), ('version', '0');
"""


def _utc(at: datetime) -> str:
    """A filter's time as stored: a naive time means UTC, as on every backend."""
    return iso(at if at.tzinfo is not None else at.replace(tzinfo=UTC))


_HISTORY_SELECT = (
    "SELECT seq, at, actor, change_id, batch_id, entity, entity_id, action, before, after "
    "FROM history"
)
_HISTORY_KEYS = ("seq", "at", "actor", "change_id", "batch_id", "entity", "entity_id", "action")


_ACTIONS = {a.value: a for a in HistoryAction}


def _history_entry(row: Sequence) -> HistoryEntry:
    """A history row as an entry, built without re-validating what this store wrote (the
    documents are JSON it serialised): a bulk read parses hundreds of thousands of them."""
    seq, at, actor, change_id, batch_id, entity, entity_id, action, before, after = row
    return construct(
        HistoryEntry,
        {
            "seq": seq,
            "at": datetime.fromisoformat(at).astimezone(UTC),
            "actor": actor,
            "change_id": change_id,
            "batch_id": batch_id,
            "entity": entity,
            "entity_id": entity_id,
            "action": _ACTIONS[action],
            "before": parse_document(before) if before else None,
            "after": parse_document(after) if after else None,
        },
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SQLiteStore:
    """A :class:`~cmdb.store.protocol.GraphStore` on one SQLite file."""

    def __init__(
        self, path: str | Path, registry: Registry, *, create: bool = False, read_only: bool = False
    ):
        """Open the store file at ``path``; create it (and its directory) only if ``create``,
        else :class:`~cmdb.errors.StoreNotFoundError`. It is opened read-only when
        ``read_only`` or when this process cannot write the file or its directory."""
        self.registry = registry
        self.path = Path(path).expanduser()
        self.uri = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._topology: Topology | None = None
        self._topology_key: SnapshotKey | None = None
        self._legacy_cache_checked = False
        self._page_indexes: bool | None = None
        self.read_only = read_only or is_read_only(self.path)
        self._db = connect(self.path, create=create, read_only=self.read_only)
        try:
            if not self.read_only:
                with map_sqlite_errors(self.path):
                    self._migrate()
            schema = self._scalar("SELECT value FROM meta WHERE key='schema'")
            if schema is None or int(schema) != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: store schema {schema} is not supported")
            self.store_id = str(self._scalar("SELECT value FROM meta WHERE key='store_id'") or "")
        except BaseException:
            self.close()
            raise
        self._cache = self._snapshot_cache()

    def _migrate(self) -> None:
        """Bring a writable file up to date; every step is a no-op on a current store."""
        db = self._conn
        db.executescript(_SCHEMA)
        upgrade_identifier_index(db)
        db.execute("DROP INDEX IF EXISTS rel_dst")  # rel_in (dst, type, status) took its place
        # the store's identity; stores created before it existed get one now
        db.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        # the graph's own version (writes of records only leave the snapshot valid)
        db.execute(
            "INSERT OR IGNORE INTO meta SELECT 'graph_version', value FROM meta "
            "WHERE key = 'version'"
        )

    def _snapshot_cache(self) -> SnapshotCache | None:
        """Next to the file; in the user cache directory (per store id) when the store is
        read-only; none (memory only) for a read-only store that has no id yet."""
        if not self.store_id:
            return None
        if self.read_only:
            return SnapshotCache(default_cache_dir() / "snapshots" / self.store_id)
        return SnapshotCache(self.path.with_name(f"{self.path.name}.snapshots"))

    # -- plumbing ---------------------------------------------------------------------------
    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise closed_error(self.path)
        return self._db

    def _scalar(self, sql: str, params: Sequence = ()) -> Any:
        with map_sqlite_errors(self.path):
            row = self._conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with map_sqlite_errors(self.path):
            return self._conn.execute(sql, params).fetchall()

    def version(self) -> int:
        with self._lock:
            return int(self._scalar("SELECT value FROM meta WHERE key='version'"))

    # -- writes -----------------------------------------------------------------------------
    def _lookup(self, ids: Iterable[str]) -> dict[str, tuple[str, Lifecycle]]:
        rows = self._conn.execute(
            "SELECT id, class, status FROM ci WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {i: (c, Lifecycle(s)) for i, c, s in rows}

    def apply(
        self, batch: Batch, *, actor: str, change_id: str | None = None, bulk: bool = False
    ) -> BatchResult:
        # ``bulk`` is accepted and ignored: one history row per item costs little here
        with self._lock:
            db = self._conn
            if self.read_only:
                raise read_only_error(self.path)
            with map_sqlite_errors(self.path):
                db.execute("BEGIN IMMEDIATE")  # waits BUSY_TIMEOUT_MS, then "busy"
                try:
                    validate_batch(batch, self.registry, self._lookup)
                    result = Writer(db, actor, change_id).write(batch)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            return result

    # -- reads ------------------------------------------------------------------------------
    def get_ci(self, ci_id: str) -> CI:
        with self._lock:
            doc = self._scalar("SELECT doc FROM ci WHERE id=?", (ci_id,))
        if doc is None:
            raise NotFoundError("CI", ci_id)
        return parse(CI, doc)

    def find_cis(self, flt: CIFilter) -> list[CI]:
        return [parse(CI, doc) for doc in self.find_ci_texts(flt)]

    def find_ci_texts(self, flt: CIFilter) -> list[str]:
        """The stored JSON text (``ci.to_json()``) of the CIs :meth:`find_cis` would return,
        in its order, unparsed: what a bulk reader (an export) re-keys without models."""
        where: list[str] = []
        params: list[object] = []
        if flt.ids:
            where.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(flt.ids)))
        for col, values in (
            ("class", flt.classes),
            ("status", flt.status),
            ("criticality", flt.criticality),
        ):
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
            where.append("n IN (SELECT n FROM ci_identifier WHERE value = ?)")
            params.append(flt.identifier.strip().lower())
        if flt.text:
            where.append("(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')")
            params += [_like(flt.text)] * 2
        if flt.after is not None:
            where.append("id > ?")
            params.append(flt.after)
        sql = "SELECT doc FROM ci" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [flt.limit if flt.limit is not None else -1, flt.offset]
        with self._lock:
            rows = self._rows(sql, params)
        return [doc for (doc,) in rows]

    def find_relationships(self, flt: RelFilter) -> list[Relationship]:
        return [parse(Relationship, doc) for doc in self.find_relationship_texts(flt)]

    def find_relationship_texts(self, flt: RelFilter) -> list[str]:
        """The stored JSON text of the relationships :meth:`find_relationships` would return,
        in its order, unparsed (see :meth:`find_ci_texts`)."""
        one_ci = flt.ci is not None and flt.after is None
        one_end = [x for x in (flt.ci, flt.source, flt.target) if x is not None]
        if flt.after is None and len(one_end) == 1 and self._has_page_indexes():
            with self._lock:
                return [doc for (doc,) in self._rows(*self._ci_page_sql(flt))]
        where, params = [], []
        # on the rel columns, through the ci id index: `s.id = ? OR t.id = ?` plans as a scan of
        # the whole rel table (3.6 s for a hub at 1M CIs), this as two indexed look-ups
        node = "(SELECT n FROM ci WHERE id = ?)"
        for col, value in (("r.src", flt.source), ("r.dst", flt.target)):
            if value is not None:
                where.append(f"{col} = {node}")
                params.append(value)
        if flt.ci is not None:
            where.append(f"(r.src = {node} OR r.dst = {node})")
            params += [flt.ci, flt.ci]
        if flt.types:
            where.append("r.type IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(flt.types)))
        if not flt.include_retired:
            where.append("r.status = 'active'")
        if flt.after is not None:  # `s.id >= ?` lets the planner start the id index there
            where.append("s.id >= ? AND (s.id, r.type, t.id) > (?, ?, ?)")
            params += [flt.after[0], *flt.after]
        # with no end given, walk the CIs in id order (CROSS JOIN keeps s outermost), so a page
        # sorts only within one source (7 ms a page at 400k rows, not 0.45 s for a full sort)
        scan = flt.source is None and flt.target is None and flt.ci is None
        head = "ci s CROSS JOIN rel r ON r.src = s.n" if scan else "rel r JOIN ci s ON s.n = r.src"
        sql = f"SELECT r.doc FROM {head} JOIN ci t ON t.n = r.dst"
        order = " ORDER BY s.id, r.type, t.id"
        if one_ci:
            # one CI's, on a store opened read-only before rel_in and ci_n_id: ordered by the
            # ends' ids in the documents (the ids the rows join to), so a hub's page reads its
            # relationships' rows, not the CI row at their other end too
            sql = "SELECT r.doc FROM rel r"
            ends = "json_extract(r.doc, '$.source'), r.type, json_extract(r.doc, '$.target')"
            order = f" ORDER BY {ends}"
        sql += (" WHERE " + " AND ".join(where) if where else "") + order
        if flt.limit is not None:
            sql += f" LIMIT {int(flt.limit)}"
        with self._lock:
            rows = self._rows(sql, params)
        return [doc for (doc,) in rows]

    def _ci_page_sql(self, flt: RelFilter) -> tuple[str, list[object]]:
        """The relationships of one CI (``flt.ci``), or from one (``source``) or to one
        (``target``), no cursor, in (source, type, target) order: first the keys, each
        direction by its own index (outgoing by the primary key, incoming by ``rel_in``) with
        the other end's id from ``ci_n_id``, sorted and cut to the limit; then only the page's
        rows. A hub's page of 50 among 19,808 incoming at 1M CIs reads 19,808 index entries
        twice, not 19,808 relationship rows (50 ms -> 13 ms). Only on a store that has both
        indexes (see :meth:`_has_page_indexes`)."""
        hint = " INDEXED BY ci_n_id"  # the planner would read the CI row by its rowid
        node = "(SELECT n FROM ci WHERE id = ?1)"
        cond = "" if flt.include_retired else " AND r.status = 'active'"
        args: list[object] = [next(x for x in (flt.ci, flt.source, flt.target) if x is not None)]
        if flt.types:
            cond += " AND r.type IN (SELECT value FROM json_each(?2))"
            args.append(json.dumps(list(flt.types)))
        parts = []
        if flt.target is None:  # from the CI
            parts.append(
                f"SELECT r.src, r.type, r.dst, ?1, (SELECT id FROM ci{hint} WHERE n = r.dst) "
                f"FROM rel r WHERE r.src = {node}{cond}"
            )
        if flt.source is None:  # to it (a loop is already among those from it)
            loop = f" AND r.src != {node}" if parts else ""
            parts.append(
                f"SELECT r.src, r.type, r.dst, (SELECT id FROM ci{hint} WHERE n = r.src), ?1 "
                f"FROM rel r WHERE r.dst = {node}{loop}{cond}"
            )
        keys = " UNION ALL ".join(parts)
        if flt.limit is not None:
            keys += f" ORDER BY 4, 2, 5 LIMIT {int(flt.limit)}"
        sql = (
            f"WITH k (src, type, dst, a, b) AS ({keys}) SELECT r.doc FROM k JOIN rel r "
            "ON r.src = k.src AND r.type = k.type AND r.dst = k.dst ORDER BY k.a, k.type, k.b"
        )
        return sql, args

    def _has_page_indexes(self) -> bool:
        """Whether the file has ``rel_in`` and ``ci_n_id``: a store opened read-only may
        predate them (the migration only runs on a writable open). Asked once per store."""
        if self._page_indexes is None:
            sql = "SELECT count(*) FROM sqlite_master WHERE name IN ('rel_in', 'ci_n_id')"
            self._page_indexes = self._scalar(sql) == 2
        return self._page_indexes

    def attribute_names(self, what: str, *, include_retired: bool) -> list[str] | None:
        """The distinct attribute names of the CIs (``what`` = ``cis``: non-retired ones unless
        ``include_retired``) or relationships (active ones unless ``include_retired``), read
        from the stored JSON by SQLite (``json_each``), unsorted: what an export's header
        needs, without parsing every text in Python. None (the caller then reads the
        documents) when a text is not JSON to SQLite (``NaN``) or its ``attributes`` is not
        an object, or a name is not UTF-8 text: those go through the model, as the export's
        rows do."""
        table, live = (
            ("ci", "status != 'retired'") if what == "cis" else ("rel", "status = 'active'")
        )
        sql = f"SELECT DISTINCT j.key FROM {table}, json_each({table}.doc, '$.attributes') j"
        sql += "" if include_retired else f" WHERE {table}.{live}"
        with self._lock:
            try:
                names = [name for (name,) in self._conn.execute(sql)]
            except sqlite3.Error:  # malformed JSON, or a name SQLite cannot give as text
                return None
        # a scalar's json_each row has no key (None), an array's keys are integers
        return names if all(isinstance(n, str) for n in names) else None

    def relationship_counts(self, ci_id: str) -> list[tuple[str, str, int]]:
        sql = (
            "SELECT type, 'out', count(*) FROM rel WHERE src = (SELECT n FROM ci WHERE id = ?1) "
            "AND status = 'active' GROUP BY type UNION ALL "
            "SELECT type, 'in', count(*) FROM rel WHERE dst = (SELECT n FROM ci WHERE id = ?1) "
            "AND status = 'active' GROUP BY type"
        )
        with self._lock:
            rows = self._rows(sql, [ci_id])
        return sorted((t, d, int(n)) for t, d, n in rows)

    def neighbourhood(self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()) -> Subgraph:
        for t in types:
            self.registry.rel_type(t)
        self.get_ci(ci_id)
        seen, frontier = {ci_id}, {ci_id}
        type_sql = " AND r.type IN (SELECT value FROM json_each(?))" if types else ""
        sql = (
            "SELECT s.id, t.id FROM rel r JOIN ci s ON s.n = r.src JOIN ci t ON t.n = r.dst "
            "WHERE r.status = 'active' AND (s.id IN (SELECT value FROM json_each(?1)) "
            "OR t.id IN (SELECT value FROM json_each(?1)))" + type_sql.replace("?", "?2")
        )
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
        sql = (
            "SELECT r.doc FROM rel r JOIN ci s ON s.n = r.src JOIN ci t ON t.n = r.dst "
            "WHERE r.status = 'active' AND s.id IN (SELECT value FROM json_each(?1)) "
            "AND t.id IN (SELECT value FROM json_each(?1)) ORDER BY s.id, r.type, t.id"
        )
        with self._lock:
            rows = self._rows(sql, [json.dumps(sorted(ids))])
        return [parse(Relationship, doc) for (doc,) in rows]

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
            params.append(_utc(flt.since))
        sql = "SELECT doc FROM record" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._rows(sql + " ORDER BY id", params)
        return [record_from_json(doc) for (doc,) in rows]

    def history(self, flt: HistoryFilter) -> list[HistoryEntry]:
        where: list[str] = []
        params: list[object] = []
        for col, value in (
            # "+": never the as-of index for this; walking seq order is what pages want
            ("+entity", flt.entity),
            ("entity_id", flt.entity_id),
            ("actor", flt.actor),
            ("change_id", flt.change_id),
        ):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if flt.since is not None:
            where.append("at >= ?")
            params.append(_utc(flt.since))
        if flt.until is not None:
            where.append("at <= ?")
            params.append(_utc(flt.until))
        if flt.ci is not None:  # ids never hold '|', so a relationship id splits cleanly
            where.append(
                "((entity = 'ci' AND entity_id = ?) OR (entity = 'relationship' AND "
                "(substr(entity_id, 1, length(?) + 1) = ? || '|' "
                "OR substr(entity_id, -length(?) - 1) = '|' || ?)))"
            )
            params += [flt.ci] * 5
        if flt.actions:
            where.append("action IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([str(a) for a in flt.actions]))
        if flt.after_seq:
            where.append("seq > ?")
            params.append(flt.after_seq)
        if flt.before_seq is not None:
            where.append("seq < ?")
            params.append(flt.before_seq)
        sql = _HISTORY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY seq" + (" DESC" if flt.newest_first else "")
        sql += f" LIMIT {int(flt.limit)}" if flt.limit else ""
        with self._lock:
            rows = self._rows(sql, params)
        return [_history_entry(row) for row in rows]

    # -- topology ---------------------------------------------------------------------------
    @cached_property
    def _schema(self) -> tuple:
        """What a snapshot takes from the registry (see :func:`~cmdb.store.snapshots.schema_of`)."""
        reg = self.registry
        return (
            reg.class_names,
            tuple(reg.classes[c].category for c in reg.class_names),
            reg.rel_type_names,
            tuple(reg.relationships[t].propagation.value for t in reg.rel_type_names),
        )

    def _key(self) -> SnapshotKey:
        """The store's identity and the state of its graph now, read in one statement: the
        graph version and its last write move only with batches that change what a snapshot
        holds (an incident, or a CI's owner, leaves the snapshot valid). A store from before
        graph versions falls back to its version and last history entry."""
        with map_sqlite_errors(self.path):
            store_id, version, last = self._conn.execute(
                "SELECT (SELECT value FROM meta WHERE key = 'store_id'), "
                "coalesce((SELECT value FROM meta WHERE key = 'graph_version'), "
                "(SELECT value FROM meta WHERE key = 'version')), "
                "coalesce((SELECT value FROM meta WHERE key = 'graph_write'), "
                "(SELECT seq || '@' || at FROM history ORDER BY seq DESC LIMIT 1))"
            ).fetchone()
        state = hashlib.sha256(str(last).encode()).hexdigest()[:8]
        return SnapshotKey(store_id or "", int(version), self.registry.fingerprint, state)

    def topology(self) -> Topology:
        with self._lock:
            key = self._key()
            if self._topology is not None and self._topology_key == key:
                return self._topology
            key, topo = self._cached(key)
            if topo is None:
                key, topo = self._refreshed()
            if topo is None:
                key, topo = self._build_topology()
                self._publish(key, topo)
            self._topology, self._topology_key = topo, key
            return topo

    def _refreshed(self) -> tuple[SnapshotKey, Topology | None]:
        """The snapshot held in memory, or else the newest one published for this store, brought
        up to date from the history written since (:mod:`cmdb.store.sqlite_delta`); None when
        there is none, it is not an ancestor of this state, or too much changed. One brought
        up to date from disk is published once its delta is large (``compact_at``)."""
        from cmdb.topology_delta import DeltaError, apply_delta, compact_at, delta_limit

        base, from_disk = self._topology, False
        if base is None and self._cache is not None and self.store_id:
            base = self._cache.latest(self.store_id, self.registry.fingerprint, self._schema)
            from_disk = True
        if base is None:
            return self._key(), None
        limit = delta_limit(base)
        with self._lock, map_sqlite_errors(self.path):
            db = self._conn
            db.execute("BEGIN")
            try:
                key = self._key()
                seq, mark = db.execute(CURSOR_SQL).fetchone()
                delta = read_delta(db, self.registry, base, limit)
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")
        if delta is None or key.store_id != base.store_id:
            return key, None
        try:
            topo = apply_delta(
                base, delta, version=key.version, seq=seq, mark=mark, store_id=key.store_id
            )
        except DeltaError:
            return key, None
        if from_disk and delta.size >= compact_at(limit):
            self._publish(key, topo)
        return key, topo

    def _cached(self, key: SnapshotKey) -> tuple[SnapshotKey, Topology | None]:
        """The published snapshot of ``key``; if it went away while being read (a newer state
        was published and the old one removed), that of the store's state now."""
        for _ in range(3):
            if self._cache is None or not key.store_id:
                return key, None
            topo = self._cache.load(key, schema=self._schema)
            if topo is not None:
                return key, topo
            fresh = self._key()
            if fresh == key:
                break
            key = fresh
        return key, None

    def _publish(self, key: SnapshotKey, topo: Topology) -> None:
        if self._cache is None or key.store_id != self.store_id:
            return
        # an unwritable cache directory only costs the next process a rebuild
        with contextlib.suppress(OSError):
            self._cache.publish(topo, key)
        if not self.read_only and not self._legacy_cache_checked:
            self._legacy_cache_checked = True  # caches of format 2 lived beside the file
            for old in glob.glob(f"{glob.escape(str(self.path))}.topology-*"):
                shutil.rmtree(old, ignore_errors=True)

    def _build_topology(self) -> tuple[SnapshotKey, Topology]:
        """Read the live graph, and the key it is the snapshot of, in one read transaction."""
        import numpy as np

        from cmdb.topology import Topology

        reg = self.registry
        class_code = {c: i for i, c in enumerate(reg.class_names)}
        type_code = {t: i for i, t in enumerate(reg.rel_type_names)}
        crit = {c.value: c.rank for c in Criticality}
        with self._lock, map_sqlite_errors(self.path):
            db = self._conn
            db.execute("BEGIN")
            try:
                key = self._key()
                seq, mark = db.execute(CURSOR_SQL).fetchone()
                rows = db.execute(
                    "SELECT n, id, class, criticality, min_required, last_seen, availability, "
                    "status FROM ci WHERE status != 'retired' ORDER BY n"
                ).fetchall()
                edges = db.execute(
                    "SELECT src, type, dst FROM rel WHERE status = 'active'"
                ).fetchall()
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")
        rown = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        src_n = np.fromiter((e[0] for e in edges), np.int64, len(edges))
        dst_n = np.fromiter((e[2] for e in edges), np.int64, len(edges))
        src, dst = np.searchsorted(rown, src_n), np.searchsorted(rown, dst_n)
        return key, Topology.build(
            version=key.version,
            class_names=reg.class_names,
            class_categories=self._schema[1],
            rel_type_names=reg.rel_type_names,
            propagation=[reg.relationships[t].propagation for t in reg.rel_type_names],
            ids=[r[1] for r in rows],
            class_code=[class_code[r[2]] for r in rows],
            is_group=[reg.is_group(r[2]) for r in rows],
            min_required=[r[4] or 0 for r in rows],
            criticality=[crit[r[3]] for r in rows],
            last_seen=[np.nan if r[5] is None else r[5] for r in rows],
            availability=[np.nan if r[6] is None else r[6] for r in rows],
            in_service=[r[7] not in _NOT_IN_SERVICE for r in rows],
            rown=rown,
            seq=seq,
            mark=mark,
            src=src.astype(np.int32),
            dst=dst.astype(np.int32),
            rtype=np.fromiter((type_code[e[1]] for e in edges), np.int16, len(edges)),
            store_id=key.store_id,
        )

    # -- bulk reads for reconciliation ------------------------------------------------------
    def find_by_identifiers(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        given: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for kind, value in pairs:
            given.setdefault((kind, value.strip().lower()), []).append((kind, value))
        if not given:
            return {}
        sql = (
            "SELECT k.value ->> 0, k.value ->> 1, c.id FROM json_each(?) k "
            "JOIN ci_identifier i ON i.value = k.value ->> 1 AND i.kind = k.value ->> 0 "
            "JOIN ci c ON c.n = i.n ORDER BY c.id"
        )
        with self._lock:
            rows = self._rows(sql, (json.dumps([list(p) for p in given]),))
        out: dict[tuple[str, str], list[str]] = {}
        for kind, value, ci_id in rows:
            for pair in given[(kind, value)]:
                ids = out.setdefault(pair, [])
                if not ids or ids[-1] != ci_id:
                    ids.append(ci_id)
        return out

    def find_relationships_from(self, sources: Sequence[str]) -> list[Relationship]:
        sql = (
            "SELECT r.doc FROM json_each(?) k JOIN ci s ON s.id = k.value "
            "JOIN rel r ON r.src = s.n JOIN ci t ON t.n = r.dst ORDER BY s.id, r.type, t.id"
        )
        with self._lock:
            rows = self._rows(sql, (json.dumps(sorted(set(sources))),))
        return [parse(Relationship, doc) for (doc,) in rows]

    # -- point in time ----------------------------------------------------------------------
    def history_as_of(self, entity: str, at: datetime) -> list[HistoryEntry]:
        # one pass over the history table: the last entry of each entity at or before ``at``
        sql = (
            "SELECT seq, at, actor, change_id, batch_id, entity, entity_id, action, NULL, after "
            "FROM history WHERE seq IN (SELECT max(seq) FROM history "
            "WHERE entity = ? AND at <= ? GROUP BY entity_id) ORDER BY entity_id"
        )
        with self._lock:
            rows = self._rows(sql, (entity, _utc(at)))
        with no_gc():
            return [_history_entry(row) for row in rows]
