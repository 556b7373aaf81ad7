"""The Neo4j store: the :class:`~cmdb.store.protocol.GraphStore` protocol on a Neo4j 5 server.

Assumptions: the official driver; every write is one managed write transaction per batch
(``session.execute_write``, retried on transient errors) holding the same validation and the same
history as the SQLite store (see :mod:`cmdb.store.cypher` for the graph model); reads run in
managed read transactions so that ``neo4j://`` routing sends them to readers. Driver errors are
translated in one place (:mod:`cmdb.store.neo4j_errors`). The store's identity
(``store_id``) is a property of the ``CMDBMeta`` node, created with it. The topology snapshot is
read by :mod:`cmdb.store.neo4j_topology` (pages of 50k CIs as lists of numbers, the
relationships in a second session at the same time) and cached in memory, keyed by the store
id and version.
:meth:`Neo4jStore.server_side_blast_radius` answers plain reachability inside the database,
for graphs too big to hold in memory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from neo4j import GraphDatabase

from cmdb.bulk import no_gc
from cmdb.enums import HistoryAction, Lifecycle, Propagation
from cmdb.errors import ConfigError, NotFoundError, StoreError
from cmdb.filters import CIFilter, HistoryFilter, RecordFilter, RelFilter
from cmdb.model import CI, Batch, BatchResult, HistoryEntry, Relationship
from cmdb.registry import Registry
from cmdb.store.cypher import META, Writer, rel_type, schema_statements
from cmdb.store.neo4j_bulk import as_of_items, merge_as_of, with_bulk_history
from cmdb.store.neo4j_errors import map_driver_errors
from cmdb.store.neo4j_topology import read_topology, refresh_topology
from cmdb.store.protocol import AnyRecord, Subgraph
from cmdb.store.records import record_from_json
from cmdb.store.stored import parse
from cmdb.topology import Topology
from cmdb.validation import validate_batch

__all__ = ["Neo4jStore"]

PAGE = 50_000
_GRAPH = "coalesce(m.graph_version, m.version)"
"""The graph's own version: it moves only with writes that change what a snapshot holds."""
_HISTORY_KEYS = ("seq", "at", "actor", "change_id", "batch_id", "entity", "entity_id", "action")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _history_entry(h: Any, *, before: bool = True) -> HistoryEntry:
    """A History node as an entry, built without re-validating what this store wrote."""
    fields = {k: h.get(k) for k in _HISTORY_KEYS}
    fields["at"] = fields["at"].to_native().astimezone(UTC)
    fields["action"] = HistoryAction(fields["action"])
    doc = h.get("before") if before else None
    return HistoryEntry.model_construct(
        **fields,
        before=json.loads(doc) if doc else None,
        after=json.loads(h["after"]) if h.get("after") else None,
    )


def _where(conds: list[str]) -> str:
    return " WHERE " + " AND ".join(conds) if conds else ""


AS_OF_QUERY = (
    "MATCH (h:History) WHERE h.entity = $entity AND h.at <= $at "
    "WITH h.entity_id AS id, max(h.seq) AS last "
    "MATCH (h:History {seq: last}) RETURN h {.seq, .at, .actor, .change_id, "
    ".batch_id, .entity, .entity_id, .action, .after}"
)
"""Each entity's last History node at or before ``$at``. Unordered on purpose: an ORDER BY
makes the server hold every document at once (163 MB of a transaction's memory for 80k
relationships, over the dev server's 716.8 MiB limit at 400k); the caller sorts."""


class Neo4jStore:
    """A :class:`~cmdb.store.protocol.GraphStore` on a Neo4j server at ``uri``."""

    def __init__(
        self,
        uri: str,
        registry: Registry,
        *,
        user: str = "neo4j",
        password: str,
        database: str | None = None,
    ):
        self.registry, self.uri, self.user, self.database = registry, uri, user, database
        self.store_id = ""
        self._topology: Topology | None = None
        self._driver = None
        try:
            driver = GraphDatabase.driver(
                uri,
                auth=(user, password),
                notifications_min_severity="OFF",
                connection_timeout=10.0,
            )
        except ValueError as exc:
            raise ConfigError(f"bad Neo4j URI '{uri}': {exc}") from None
        with map_driver_errors(uri, user):
            try:
                driver.verify_connectivity()
            except BaseException:
                driver.close()
                raise
        self._driver = driver
        self._setup_schema()

    # -- plumbing ---------------------------------------------------------------------------
    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _session(self):
        if self._driver is None:
            raise StoreError(f"the store at {self.uri} is closed")
        return self._driver.session(database=self.database)

    def _setup_schema(self) -> None:
        """Create what is missing of the schema and the meta node; an existing store only
        reads here. (Running the schema statements on every open took schema locks that
        deadlocked with other processes' writes.)"""
        with map_driver_errors(self.uri, self.user), self._session() as s:
            names = {
                name
                for show in ("SHOW CONSTRAINTS YIELD name", "SHOW INDEXES YIELD name")
                for (name,) in s.run(show + " RETURN name").values()
            }
            missing = [
                stmt for stmt in schema_statements(self.registry) if stmt.split()[2] not in names
            ]
            for stmt in missing:
                s.run(stmt).consume()
            row = s.run(f"{META} RETURN m.store_id").single()
            store_id = row[0] if row is not None else None
            if row is None:
                store_id = s.run(
                    "MERGE (m:CMDBMeta {name: 'cmdb'}) ON CREATE SET m.version = 0, "
                    "m.batch = 0, m.seq = 0, m.schema = 1, m.store_id = $id RETURN m.store_id",
                    id=uuid.uuid4().hex,
                ).single()[0]
            if store_id is None:  # a store from before store ids; a SET that reads the
                # property it sets locks the node first, so the first opener's id wins
                store_id = s.run(
                    f"{META} SET m.store_id = coalesce(m.store_id, $id) RETURN m.store_id",
                    id=uuid.uuid4().hex,
                ).single()[0]
            self.store_id = str(store_id)
            if missing:
                s.run("CALL db.awaitIndexes(300)").consume()

    def _read(self, query: str, **params: Any) -> list[list[Any]]:
        def work(tx):
            return tx.run(query, params).values()

        with map_driver_errors(self.uri, self.user), self._session() as s:
            return s.execute_read(work)

    def version(self) -> int:
        return int(self._read(f"{META} RETURN m.version")[0][0])

    # -- writes -----------------------------------------------------------------------------
    def apply(
        self, batch: Batch, *, actor: str, change_id: str | None = None, bulk: bool = False
    ) -> BatchResult:
        """Apply ``batch`` in one write transaction (see :mod:`cmdb.store.cypher` on size);
        ``bulk`` keeps the history of what it creates in compressed chunks
        (:mod:`cmdb.store.neo4j_bulk`), read back as the same entries."""

        def work(tx) -> BatchResult:
            writer = Writer(tx, self.registry, actor, change_id, bulk=bulk)  # locks meta first

            def lookup(ids: Iterable[str]) -> dict[str, tuple[str, Lifecycle]]:
                # one record of parallel lists: far cheaper to decode than a record per CI
                got, classes, status = tx.run(
                    "UNWIND $ids AS k MATCH (c:CI {id: k}) "
                    "RETURN collect(c.id), collect(c.class), collect(c.status)",
                    ids=list(ids),
                ).single()
                states = {s: Lifecycle(s) for s in set(status)}
                return {i: (c, states[s]) for i, c, s in zip(got, classes, status, strict=True)}

            validate_batch(batch, self.registry, lookup)
            return writer.write(batch)

        with map_driver_errors(self.uri, self.user), self._session() as s:
            return s.execute_write(work)

    # -- reads ------------------------------------------------------------------------------
    def get_ci(self, ci_id: str) -> CI:
        rows = self._read("MATCH (c:CI {id: $id}) RETURN c.doc", id=ci_id)
        if not rows:
            raise NotFoundError("CI", ci_id)
        return parse(CI, rows[0][0])

    def find_cis(self, flt: CIFilter) -> list[CI]:
        conds: list[str] = []
        params: dict[str, Any] = {"offset": flt.offset}
        if flt.ids:
            head = "UNWIND $ids AS k MATCH (c:CI {id: k})"
            params["ids"] = list(dict.fromkeys(flt.ids))
        elif flt.identifier is not None:
            head = (
                "MATCH (i:Identifier {value: $ident}) WITH DISTINCT i.ci AS k MATCH (c:CI {id: k})"
            )
        else:
            head = "MATCH (c:CI)"
        if flt.identifier is not None:
            params["ident"] = flt.identifier.strip().lower()
            if flt.ids:
                conds.append("EXISTS { MATCH (:Identifier {value: $ident, ci: c.id}) }")
        for prop, values in (
            ("class", flt.classes),
            ("status", flt.status),
            ("criticality", flt.criticality),
        ):
            if values:
                conds.append(f"c.{prop} IN ${prop}")
                params[prop] = [str(v) for v in values]
        if not flt.include_retired and Lifecycle.RETIRED not in flt.status:
            conds.append("c.status <> 'retired'")
        for prop, value in (("owner", flt.owner), ("support_group", flt.support_group)):
            if value is not None:
                conds.append(f"c.{prop} = ${prop}")
                params[prop] = value
        if flt.text:
            conds.append("(toLower(c.id) CONTAINS $text OR toLower(c.name) CONTAINS $text)")
            params["text"] = flt.text.lower()
        if flt.after is not None:
            conds.append("c.id > $after")
            params["after"] = flt.after
        query = head + _where(conds) + " RETURN c.doc ORDER BY c.id SKIP $offset"
        if flt.limit is not None:
            query += " LIMIT $limit"
            params["limit"] = flt.limit
        return [parse(CI, d) for (d,) in self._read(query, **params)]

    def _types(self, names: Sequence[str]) -> str | None:
        """``:`A`|`B``` for the registered names among ``names``; None if none is."""
        known = [rel_type(self.registry, t) for t in names if t in self.registry.relationships]
        return ":" + "|".join(f"`{t}`" for t in known) if known else None

    def find_relationships(self, flt: RelFilter) -> list[Relationship]:
        types = self._types(flt.types) if flt.types else ""
        if types is None:
            return []
        conds: list[str] = []
        params: dict[str, Any] = {}
        if flt.ci is not None:
            head = (
                f"MATCH (:CI {{id: $ci}})-[r{types}]-(:CI) WITH DISTINCT r "
                "WITH r, startNode(r) AS s, endNode(r) AS t"
            )
            params["ci"] = flt.ci
        else:
            head = f"MATCH (s:CI)-[r{types}]->(t:CI)"
        for end, value in (("s", flt.source), ("t", flt.target)):
            if value is not None:
                conds.append(f"{end}.id = ${end}")
                params[end] = value
        if not flt.include_retired:
            conds.append("r.status = 'active'")
        if flt.after is not None:  # `s.id >= $after_s` seeks the id index
            conds.append(
                "s.id >= $after_s AND (s.id > $after_s OR toLower(type(r)) > $after_t "
                "OR (toLower(type(r)) = $after_t AND t.id > $after_d))"
            )
            params.update(zip(("after_s", "after_t", "after_d"), flt.after, strict=True))
        query = head + _where(conds) + " RETURN r.doc ORDER BY s.id, toLower(type(r)), t.id"
        if flt.limit is not None:
            query += " LIMIT $limit"
            params["limit"] = flt.limit
        return [parse(Relationship, d) for (d,) in self._read(query, **params)]

    def relationship_counts(self, ci_id: str) -> list[tuple[str, str, int]]:
        query = (
            "MATCH (c:CI {id: $id}) CALL (c) { "
            "MATCH (c)-[r]->(:CI) WHERE r.status = 'active' "
            "RETURN toLower(type(r)) AS t, 'out' AS d, count(*) AS n UNION ALL "
            "MATCH (c)<-[r]-(:CI) WHERE r.status = 'active' "
            "RETURN toLower(type(r)) AS t, 'in' AS d, count(*) AS n } RETURN t, d, n"
        )
        return sorted((t, d, int(n)) for t, d, n in self._read(query, id=ci_id))

    def neighbourhood(self, ci_id: str, *, depth: int = 1, types: Sequence[str] = ()) -> Subgraph:
        for t in types:
            self.registry.rel_type(t)
        self.get_ci(ci_id)
        pattern = self._types(types) or ""
        step = (
            f"UNWIND $frontier AS k MATCH (:CI {{id: k}})-[r{pattern}]-(o:CI) "
            "WHERE r.status = 'active' RETURN collect(DISTINCT o.id)"
        )
        seen, frontier = {ci_id}, {ci_id}
        for _ in range(max(depth, 0)):
            frontier = set(self._read(step, frontier=sorted(frontier))[0][0]) - seen
            if not frontier:
                break
            seen |= frontier
        cis = self.find_cis(CIFilter(ids=tuple(sorted(seen))))
        live = sorted(c.id for c in cis)
        docs = self._read(
            f"UNWIND $ids AS k MATCH (s:CI {{id: k}})-[r{pattern}]->(t:CI) "
            "WHERE t.id IN $ids AND r.status = 'active' "
            "RETURN r.doc ORDER BY s.id, toLower(type(r)), t.id",
            ids=live,
        )
        return Subgraph(cis=cis, relationships=[parse(Relationship, d) for (d,) in docs])

    def get_record(self, record_id: str) -> AnyRecord:
        rows = self._read("MATCH (r:Record {id: $id}) RETURN r.doc", id=record_id)
        if not rows:
            raise NotFoundError("record", record_id)
        return record_from_json(rows[0][0])

    def find_records(self, flt: RecordFilter) -> list[AnyRecord]:
        conds: list[str] = []
        params: dict[str, Any] = {}
        if flt.kinds:
            conds.append("r.kind IN $kinds")
            params["kinds"] = [str(k) for k in flt.kinds]
        if flt.ids:
            conds.append("r.id IN $ids")
            params["ids"] = list(flt.ids)
        if flt.ci is not None:
            conds.append("$ci IN r.ci_ids")
            params["ci"] = flt.ci
        if flt.open_only:
            conds.append("r.is_open")
        if flt.since is not None:
            conds.append("r.at >= $since")
            params["since"] = _aware(flt.since)
        rows = self._read(
            "MATCH (r:Record)" + _where(conds) + " RETURN r.doc ORDER BY r.id", **params
        )
        return [record_from_json(d) for (d,) in rows]

    def history(self, flt: HistoryFilter) -> list[HistoryEntry]:
        conds: list[str] = []
        params: dict[str, Any] = {}
        for prop in ("entity", "entity_id", "actor", "change_id"):
            value = getattr(flt, prop)
            if value is not None:
                conds.append(f"h.{prop} = ${prop}")
                params[prop] = value
        for prop, op in (("since", ">="), ("until", "<=")):
            value = getattr(flt, prop)
            if value is not None:
                conds.append(f"h.at {op} ${prop}")
                params[prop] = _aware(value)
        if flt.ci is not None:  # ids never hold '|', so a relationship id splits cleanly
            conds.append(
                "((h.entity = 'ci' AND h.entity_id = $ci) OR (h.entity = 'relationship' AND "
                "(h.entity_id STARTS WITH $ci + '|' OR h.entity_id ENDS WITH '|' + $ci)))"
            )
            params["ci"] = flt.ci
        if flt.actions:
            conds.append("h.action IN $actions")
            params["actions"] = [str(a) for a in flt.actions]
        if flt.after_seq:
            conds.append("h.seq > $after_seq")
            params["after_seq"] = flt.after_seq
        if flt.before_seq is not None:
            conds.append("h.seq < $before_seq")
            params["before_seq"] = flt.before_seq
        query = "MATCH (h:History)" + _where(conds) + " RETURN h ORDER BY h.seq"
        query += " DESC" if flt.newest_first else ""
        if flt.limit is not None:
            query += " LIMIT $limit"
            params["limit"] = flt.limit

        def work(tx) -> list[HistoryEntry]:
            entries = [_history_entry(h) for (h,) in tx.run(query, params).values()]
            return with_bulk_history(tx, entries, flt)  # and bulk batches' creations

        with map_driver_errors(self.uri, self.user), self._session() as s:
            return s.execute_read(work)

    # -- topology ---------------------------------------------------------------------------
    def topology(self) -> Topology:
        store_id, version = self._read(f"{META} RETURN coalesce(m.store_id, ''), {_GRAPH}")[0]
        topo = self._topology
        if topo is None or (topo.store_id, topo.version) != (store_id, int(version)):
            with map_driver_errors(self.uri, self.user):
                fresh = refresh_topology(self, topo)  # from history since; None: rebuild
                if fresh is None:
                    with self._session() as s:
                        fresh = s.execute_read(self._build_topology)
            topo = self._topology = fresh
        return topo

    def _build_topology(self, tx) -> Topology:
        """Read every live CI and active relationship: the CIs in this read transaction,
        their relationships at the same time in a second session (see
        :mod:`cmdb.store.neo4j_topology`)."""
        return read_topology(tx, self.registry, session=self._session)

    # -- analysis in the database -----------------------------------------------------------
    def server_side_blast_radius(
        self,
        failed: Iterable[str],
        *,
        types: Sequence[str] | None = None,
        through_groups: bool = False,
    ) -> set[str]:
        """The live CIs that a failure of ``failed`` reaches, computed inside the database.

        A CI is in the result if it is one of ``failed`` (and not retired) or is reachable from
        one along active relationships between live CIs whose type carries impact:
        ``to_source`` types walked from target to source, ``to_target`` types from source to
        target, limited to ``types`` when given (unknown names raise
        :class:`~cmdb.errors.UnknownRelTypeError`).

        - ``through_groups=False`` (plain hard-dependency propagation): ``membership`` edges are
          not walked, so a redundancy group goes down only through its own hard dependencies.
          On a graph without redundancy groups this is exactly the engine's down set plus
          ``failed``.
        - ``through_groups=True``: membership edges are walked too, from a member into its
          group (as in :meth:`~cmdb.topology.Topology.membership_edges`), whatever ``types``
          says. The result is every CI whose state the failure can change, i.e. what
          :func:`impact.blast.blast_radius` lists (down, degraded or at risk) plus ``failed``,
          except groups that already have fewer than k members (the engine never lists them).

        Either way it does not count k of n, so it cannot tell down from degraded or at risk,
        has no ``assume_down``, ``depth`` or explanation paths: it is the fallback for graphs
        too big for the in-memory snapshot, one quantified-path query (the planner runs it as a
        pruning breadth-first expand), and only the ids leave the server.
        """
        reg = self.registry
        names = reg.rel_type_names if types is None else [reg.rel_type(t).name for t in types]
        by_prop = {
            p: [rel_type(reg, t) for t in names if reg.relationships[t].propagation is p]
            for p in (Propagation.TO_SOURCE, Propagation.TO_TARGET)
        }
        member = (
            [
                rel_type(reg, t)
                for t in reg.rel_type_names
                if reg.relationships[t].propagation is Propagation.MEMBERSHIP
            ]
            if through_groups
            else []
        )
        params = {
            "ids": sorted(set(failed)),
            "up": by_prop[Propagation.TO_SOURCE],
            "down": by_prop[Propagation.TO_TARGET],
            "member": member,
            "groups": [c for c in reg.class_names if reg.is_group(c)],
        }
        walked = params["up"] + params["down"] + member
        start = "UNWIND $ids AS k MATCH (f:CI {id: k}) WHERE f.status <> 'retired' "
        if not walked:
            return set(self._read(start + "RETURN collect(f.id)", **params)[0][0])
        query = (
            start + "OPTIONAL MATCH (f) ((a)-[r:" + "|".join(f"`{t}`" for t in walked) + "]-"
            "(b:CI) WHERE r.status = 'active' AND b.status <> 'retired' AND ("
            "(type(r) IN $up AND startNode(r) = b) OR (type(r) IN $down AND startNode(r) = a) "
            "OR (type(r) IN $member AND startNode(r) = a AND b.class IN $groups)))+ (x) "
            "WITH collect(DISTINCT f.id) + collect(DISTINCT x.id) AS hit "
            "UNWIND hit AS h RETURN collect(DISTINCT h)"
        )
        return set(self._read(query, **params)[0][0])

    # -- bulk reads for reconciliation ------------------------------------------------------
    def find_by_identifiers(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        given: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for kind, value in pairs:
            given.setdefault((kind, value.strip().lower()), []).append((kind, value))
        keys = [list(p) for p in given]
        out: dict[tuple[str, str], list[str]] = {}
        query = (
            "UNWIND $pairs AS p MATCH (i:Identifier {value: p[1]}) WHERE i.kind = p[0] "
            "WITH p, collect(DISTINCT i.ci) AS ids RETURN collect([p, ids])"
        )
        for i in range(0, len(keys), PAGE):
            for (kind, value), ids in self._read(query, pairs=keys[i : i + PAGE])[0][0]:
                for pair in given[(kind, value)]:
                    out[pair] = sorted(ids)
        return out

    def find_relationships_from(self, sources: Sequence[str]) -> list[Relationship]:
        ids = sorted(set(sources))
        query = (
            "UNWIND $ids AS k MATCH (:CI {id: k})-[r]->(:CI) WHERE r.doc IS NOT NULL "
            "RETURN collect(r.doc)"
        )
        rels = [
            parse(Relationship, d)
            for i in range(0, len(ids), PAGE)
            for d in self._read(query, ids=ids[i : i + PAGE])[0][0]
        ]
        return sorted(rels, key=lambda r: r.key)

    # -- point in time ----------------------------------------------------------------------
    def history_as_of(self, entity: str, at: datetime) -> list[HistoryEntry]:
        def work(tx):
            rows = tx.run(AS_OF_QUERY, entity=entity, at=_aware(at)).values()
            return rows, as_of_items(tx, entity, at)  # and bulk batches' creations

        with map_driver_errors(self.uri, self.user), self._session() as s:
            rows, chunks = s.execute_read(work)
        rows.sort(  # the query is unordered: see AS_OF_QUERY
            key=lambda row: row[0]["entity_id"]
        )
        with no_gc():
            return merge_as_of([_history_entry(h, before=False) for (h,) in rows], chunks)
