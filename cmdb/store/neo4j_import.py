"""First load of a large estate into Neo4j through ``neo4j-admin database import full``.

Assumptions: the target database does not exist yet or may be replaced (``overwrite``), and its
server is stopped (neo4j-admin refuses a database in use, and so does this module). The input
is an iterable of :class:`~cmdb.model.Batch` holding new entities only (CIs, relationships,
records; no retirements or expectations), e.g. the generator's batches or one file read by
:func:`cmdb.transfer.read_file`. CI ids are unique across the batches; relationship keys and
record ids are checked within a batch and, for records, across batches (a relationship key is
checked across batches by the ``key`` uniqueness constraints that the first open creates).

The result is the graph that :meth:`Neo4jStore.apply <cmdb.store.neo4j.Neo4jStore.apply>` of
the whole input as *one* batch would leave, in the model of :mod:`cmdb.store.cypher` (except
the order of the history's sequence numbers, which follows the input: each batch's CIs,
relationships, then records): ``(:CI)`` nodes with their properties and ``doc``,
relationships typed by :func:`~cmdb.store.cypher.rel_type`, ``(:Identifier)`` look-up nodes,
``(:Record)`` nodes, the history baseline (action ``create``, batch 1, the document as
``after``) and the ``(:CMDBMeta)`` node (version 1, graph version 1, a new store id). Record ids
left empty are allocated as the store does (``INC-000042``: the highest number of that kind,
plus one).

The history of CIs and relationships is written as ``apply(batch, bulk=True)`` writes it
(:mod:`cmdb.store.neo4j_bulk`): one ``(:HistoryBatch)`` summary and ``(:HistoryChunk)`` nodes
of up to :data:`~cmdb.store.neo4j_bulk.CHUNK_ITEMS` compressed documents, which every history
reader expands into the same entries; records keep one ``(:History)`` node each. With
``chunked=False`` every entity gets its own ``(:History)`` node instead (twice the nodes, about
half of the CSV bytes).

Every item is validated with the registry (:func:`cmdb.validation.validate_batch`, as ``apply``
does) while the CSV files are written, so bad input raises one
:class:`~cmdb.errors.ValidationError` naming the item before neo4j-admin runs. The files are
streamed, one row per entity (memory holds one batch plus the class and status of every CI id,
for relationship checks). Constraints and indexes are not imported: the first
:class:`~cmdb.store.neo4j.Neo4jStore` opened on the started server creates them
(:func:`cmdb.store.cypher.schema_statements`) and waits for the indexes to come online
(:func:`create_schema` does that on purpose).

CSV: one header file and one data file per label, every text value quoted (``""`` inside,
RFC 4180, so an empty string is ``""`` and a missing value an empty field), numbers bare,
times ISO 8601. Line breaks cannot occur in a value: one-line fields refuse control
characters, and documents are JSON (``\\n`` escaped).

>>> from cmdb.model import CI, Batch, Relationship
>>> from cmdb.registry import load_registry
>>> import tempfile
>>> b = Batch(cis=[CI(id="app-1", ci_class="application", name='App "1"'),
...               CI(id="db-1", ci_class="database", name="DB", attributes={"engine": "mysql"})],
...           relationships=[Relationship(source="app-1", type="uses", target="db-1")])
>>> files = write_csv([b], tempfile.mkdtemp(), registry=load_registry(), actor="t")
>>> files.cis, files.relationships, files.history, files.chunks
(2, 1, 3, 2)
>>> files.path("ci").read_text().splitlines()[0][:25]
'"app-1","{""id"":""app-1"'
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import TypeAdapter

from cmdb.enums import Lifecycle
from cmdb.errors import ConfigError, StoreError, ValidationError
from cmdb.model import CI, RECORD_PREFIX, Batch, Relationship, utcnow
from cmdb.registry import Registry
from cmdb.store.cypher import rel_type
from cmdb.store.neo4j_bulk import CHUNK_ITEMS, csv_cells
from cmdb.store.records import history_doc, is_open, record_time
from cmdb.validation import check_text, validate_batch

__all__ = [
    "CsvFiles",
    "ImportReport",
    "admin_command",
    "bulk_import",
    "create_schema",
    "dev_server",
    "dev_server_uri",
    "import_args",
    "open_dev_server",
    "run_import",
    "write_csv",
]

_TIME = TypeAdapter(datetime)
ROOT = Path(__file__).resolve().parents[2]
DEV_SERVER = ROOT / "scripts" / "neo4j-dev-server"
"""The repository's dev server script (``admin`` runs neo4j-admin on its instance)."""

HEADERS: dict[str, tuple[str, str]] = {
    # file name: (the label, or "" for the relationship file; the header line)
    "ci": (
        "CI",
        "id:ID(CI),doc,version:long,class,name,status,criticality,owner,support_group,"
        "min_required:long,availability:double,last_seen:double",
    ),
    "identifier": ("Identifier", "kind,value,ci"),
    "record": (
        "Record",
        "id,kind,is_open:boolean,at:datetime,doc,version:long,ci_ids:string[]",
    ),
    "history": (
        "History",
        "seq:long,entity,entity_id,action,after,at:datetime,actor,change_id,batch_id:long",
    ),
    "history_chunk": (
        "HistoryChunk",
        "entity,first_seq:long,last_seq:long,count:long,seqs:long[],ids,payload,at:datetime,"
        "actor,change_id,batch_id:long",
    ),
    "history_batch": (
        "HistoryBatch",
        "batch_id:long,at:datetime,actor,change_id,first_seq:long,last_seq:long,cis:long,"
        "relationships:long,chunks:long",
    ),
    "meta": (
        "CMDBMeta",
        "name,version:long,batch:long,seq:long,schema:long,store_id,graph_version:long",
    ),
    "relationship": ("", ":START_ID(CI),:END_ID(CI),:TYPE,key,status,doc,version:long"),
}
"""The CSV header of each file: the properties :mod:`cmdb.store.cypher` writes, typed."""
PARTS = ("ci", "identifier", "relationship", "history_chunk", "history")
"""The files that worker processes write parts of (``--workers``): CIs and relationships."""


def _q(value: str | None) -> str:
    """A text cell: quoted, quotes doubled; None is an empty (missing) cell.

    >>> _q('say "hi", x'), _q(""), _q(None)
    ('"say ""hi"", x"', '""', '')
    """
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


_UNSTAMPED = '"created_at":null,"updated_at":null'
_VERSION_0, _VERSION_1 = ',"version":0}', ',"version":1}'


def _n(value: float | None) -> str:
    """A number cell (``repr`` keeps a float exact); None is empty."""
    return "" if value is None else repr(value)


@dataclass
class CsvFiles:
    """The files written for one import, and what they hold."""

    directory: Path
    cis: int = 0
    relationships: int = 0
    records: int = 0
    identifiers: int = 0
    history: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def path(self, name: str, *, header: bool = False) -> Path:
        return self.directory / (f"{name}.header.csv" if header else f"{name}.csv")

    def part(self, name: str, tag: str) -> Path:
        """A data file that a worker process wrote (see :data:`PARTS`)."""
        return self.directory / f"{name}-part-{tag}.csv"

    def data(self, name: str) -> list[Path]:
        """The data files of ``name``: the main one, then the workers' parts in order."""
        return [self.path(name), *sorted(self.directory.glob(f"{name}-part-*.csv"))]

    @property
    def entities(self) -> int:
        """CIs, relationships and records: the records of the import (history and look-up
        nodes come with them)."""
        return self.cis + self.relationships + self.records


class _Writer:
    """Streams validated batches into the CSV files of :data:`HEADERS`."""

    def __init__(
        self,
        directory: Path,
        registry: Registry,
        actor: str,
        change_id: str | None,
        *,
        chunked: bool = True,
    ):
        self.files = CsvFiles(directory)
        self.chunked = chunked
        self.pending: list[tuple[int, str, str]] = []  # created items for the next chunk
        self.registry = registry
        self.now = utcnow()
        self.at = _TIME.dump_python(self.now, mode="json")  # as in the documents
        self.stamp = {"created_at": self.now, "updated_at": self.now, "version": 1}
        self.stamped = f'"created_at":"{self.at}","updated_at":"{self.at}"'
        self.who = f"{_q(actor)},{_q(change_id)}"
        self.tail = f",{_q(self.at)},{self.who},1\n"  # history: at .. batch
        self.summary = {"ci": 0, "relationship": 0}
        self.known: dict[str, tuple[str, Lifecycle]] = {}
        self.pairs: dict[tuple[str, Lifecycle], tuple[str, Lifecycle]] = {}
        self.record_ids: set[str] = set()
        self.last_record: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.out: dict[str, IO[str]] = {}
        for name, (_, header) in HEADERS.items():
            self.files.path(name, header=True).write_text(header + "\n", encoding="utf-8")
            self.out[name] = self.files.path(name).open("w", encoding="utf-8", newline="")

    def close(self) -> None:
        for f in self.out.values():
            f.close()

    def lookup(self, ids: Iterable[str]) -> dict[str, tuple[str, Lifecycle]]:
        known = self.known
        return {i: known[i] for i in ids if i in known}

    def history(self, entity: str, entity_id: str, doc: str, cell: str) -> None:
        """The history entry of one created entity (``doc`` as text and as a quoted cell; ids
        never hold a quote): a History row, or an item of the next chunk."""
        self.files.history += 1
        if self.chunked and entity in self.summary:
            self.pending.append((self.files.history, entity_id, doc))
            if len(self.pending) == CHUNK_ITEMS:
                self.chunk(entity)
            return
        self.out["history"].write(
            f'{self.files.history},"{entity}","{entity_id}",create,{cell}{self.tail}'
        )

    def chunk(self, entity: str) -> None:
        """Write the pending items (consecutive seqs, one entity) as one HistoryChunk row."""
        items, self.pending = self.pending, []
        if not items:
            return
        ids, payload = csv_cells(items)
        seqs = ";".join(str(seq) for seq, _, _ in items)
        self.out["history_chunk"].write(
            f'"{entity}",{items[0][0]},{items[-1][0]},{len(items)},{seqs},"{ids}","{payload}"'
            f"{self.tail}"
        )
        self.summary[entity] += len(items)
        self.files.chunks += 1

    def open_part(self, tag: str) -> None:
        """In a worker process: append to the part files ``tag`` of the names in
        :data:`PARTS` (the parent's files were flushed before the fork and are left alone)
        and count afresh."""
        skip = "history" if self.chunked else "history_chunk"
        self.out = {
            name: self.files.part(name, tag).open("a", encoding="utf-8", newline="")
            for name in PARTS
            if name != skip
        }
        self.files.identifiers = self.files.chunks = 0
        self.summary = {"ci": 0, "relationship": 0}

    def flush(self) -> None:
        for f in self.out.values():
            f.flush()

    def admit(self, batch: Batch, index: int) -> None:
        """The checks of a batch against the input so far, before its validation."""
        for name in ("retire_cis", "retire_relationships", "expected"):
            if getattr(batch, name):
                raise ValidationError(
                    "a first load holds new entities only; apply it with `cmdb import`",
                    field=name,
                    location=f"batch {index}",
                )
        for i, ci in enumerate(batch.cis):
            if ci.id in self.known:
                raise ValidationError(
                    "duplicate CI id in the input", field="id", location=f"cis[{i}] '{ci.id}'"
                )

    def batch(self, batch: Batch, index: int) -> None:
        self.admit(batch, index)
        validate_batch(batch, self.registry, self.lookup)
        self._records_ids(batch)
        self.cis(batch.cis)
        self.relationships(batch.relationships)
        self.records(batch)

    def _doc(self, model: CI | Relationship) -> str:
        """The stored document as JSON text (the document that :meth:`Writer.new_doc
        <cmdb.store.cypher.Writer.new_doc>` makes), serialised by pydantic: 5x faster than
        ``json.dumps`` of ``to_json()``. A new item's dump has ``"created_at":null,
        "updated_at":null`` (after every user field but the maps of dates) and ends with
        ``"version":0}``; those are replaced in the text, else the model is copied."""
        text = model.model_dump_json(by_alias=True)
        at = text.rfind(_UNSTAMPED)
        if at < 0 or not text.endswith(_VERSION_0) or model.version or model.created_at:
            text = model.model_copy(update=self.stamp).model_dump_json(by_alias=True)
        else:
            text = text[:at] + self.stamped + text[at + len(_UNSTAMPED) : -len(_VERSION_0)]
            text += _VERSION_1
        return text

    def cis(self, cis: list[CI]) -> None:
        out, ident, pairs = self.out["ci"], self.out["identifier"], self.pairs
        for ci in cis:
            doc = self._doc(ci)
            cell = '"' + doc.replace('"', '""') + '"'
            out.write(
                f'"{ci.id}",{cell},1,"{ci.ci_class}",{_q(ci.name)},"{ci.status.value}",'
                f'"{ci.criticality.value}",{_q(ci.owner)},{_q(ci.support_group)},'
                f"{_n(ci.min_required)},{_n(ci.own_availability())},{_n(ci.last_seen_epoch())}\n"
            )
            for kind, value in ci.identifiers.index_rows():
                ident.write(f'{_q(kind)},{_q(value)},"{ci.id}"\n')
                self.files.identifiers += 1
            pair = (ci.ci_class, ci.status)
            self.known[ci.id] = pairs.setdefault(pair, pair)  # one tuple per class and status
            self.history("ci", ci.id, doc, cell)
        self.chunk("ci")
        self.files.cis += len(cis)

    def relationships(self, rels: list[Relationship]) -> None:
        out, types = self.out["relationship"], self.types
        for rel in rels:
            cy = types.get(rel.type)
            if cy is None:
                cy = types[rel.type] = rel_type(self.registry, rel.type)
            key, doc = rel.id, self._doc(rel)
            cell = '"' + doc.replace('"', '""') + '"'
            out.write(f'"{rel.source}","{rel.target}",{cy},"{key}",{_q(rel.status)},{cell},1\n')
            self.history("relationship", key, doc, cell)
        self.chunk("relationship")
        self.files.relationships += len(rels)

    def _records_ids(self, batch: Batch) -> None:
        """Refuse a record id seen in an earlier batch; note the highest number per kind."""
        for i, rec in enumerate(batch.records):
            if rec.id is None:
                continue
            if rec.id in self.record_ids:
                raise ValidationError(
                    "duplicate record id in the input", field="id", location=f"records[{i}]"
                )
            self.record_ids.add(rec.id)
            prefix = RECORD_PREFIX[rec.kind] + "-"
            number = rec.id[len(prefix) :]
            if rec.id.upper().startswith(prefix) and number.isdigit():
                self.last_record[rec.kind] = max(self.last_record.get(rec.kind, 0), int(number))

    def records(self, batch: Batch) -> None:
        out = self.out["record"]
        for rec in batch.records:
            if rec.id is None:
                number = self.last_record[rec.kind] = self.last_record.get(rec.kind, 0) + 1
                rec = rec.model_copy(update={"id": f"{RECORD_PREFIX[rec.kind]}-{number:06d}"})
            new = rec.model_copy(
                update={"created_at": self.now, "updated_at": self.now, "version": 1}
            )
            assert new.id is not None
            data = new.to_json()
            doc = json.dumps(data)
            at = _TIME.dump_python(record_time(new), mode="json")
            ci_ids = ";".join(sorted(set(new.ci_ids)))
            flag = "true" if is_open(new) else "false"
            out.write(f"{_q(new.id)},{_q(new.kind)},{flag},{_q(at)},{_q(doc)},1,{_q(ci_ids)}\n")
            after = json.dumps(history_doc(new.kind, data))
            self.history(new.kind, new.id, after, _q(after))
        self.files.records += len(batch.records)

    def meta(self) -> None:
        if self.files.chunks:
            cis, rels = self.summary["ci"], self.summary["relationship"]
            self.out["history_batch"].write(
                f"1,{_q(self.at)},{self.who},1,"
                f"{self.files.history},{cis},{rels},{self.files.chunks}\n"
            )
        wrote = 1 if self.files.history else 0
        self.out["meta"].write(
            f'"cmdb",{wrote},{wrote},{self.files.history},1,{_q(uuid.uuid4().hex)},{wrote}\n'
        )


def write_csv(
    batches: Iterable[Batch],
    directory: str | Path,
    *,
    registry: Registry,
    actor: str,
    change_id: str | None = None,
    source: str | None = None,
    chunked: bool = True,
    workers: int = 1,
) -> CsvFiles:
    """Validate ``batches`` and write them into ``directory`` as neo4j-admin CSV files (a
    header file and a data file per name of :data:`HEADERS`). Raises the first
    :class:`~cmdb.errors.ValidationError`, located at its item (``cis[3] 'srv-9'``), after
    ``source`` (the input file) when given. ``chunked``: the history of CIs and
    relationships in HistoryChunk nodes (else a History node each). ``workers`` > 1 validates
    and writes each batch's CIs and relationships in that many forked processes
    (:mod:`cmdb.store.neo4j_import_workers`), while this one reads the next batch; the files
    and the first error are the same, but for the order of rows across part files."""
    for name, value in (("actor", actor), ("change_id", change_id)):
        if value is not None:
            check_text(value, field=name)
    started = time.perf_counter()
    writer = _Writer(Path(directory), registry, actor, change_id, chunked=chunked)
    try:
        if workers > 1:
            from cmdb.store.neo4j_import_workers import write_parallel

            write_parallel(writer, batches, workers)
        else:
            for index, batch in enumerate(batches):
                writer.batch(batch, index)
        writer.meta()
    except ValidationError as err:
        # an error of reading the file already names it (``in.jsonl:5: ...``)
        if source is None or (err.location or "").startswith(source):
            raise
        raise err.at(source) from None
    finally:
        writer.close()
    writer.files.seconds = time.perf_counter() - started
    return writer.files


# -- running neo4j-admin -------------------------------------------------------------------
def admin_command(given: str | None = None, *, dev: bool = False) -> list[str]:
    """The neo4j-admin command line: ``given`` (a path, or a command split like a shell
    would), the repository's dev server (``dev``), else ``neo4j-admin`` on the PATH or
    ``$NEO4J_HOME/bin/neo4j-admin``."""
    if dev:
        return [str(DEV_SERVER), "admin"]
    if given:
        return shlex.split(given)
    found = shutil.which("neo4j-admin")
    if found:
        return [found]
    home = os.environ.get("NEO4J_HOME")
    if home and (Path(home) / "bin" / "neo4j-admin").is_file():
        return [str(Path(home) / "bin" / "neo4j-admin")]
    raise ConfigError(
        "neo4j-admin was not found on the PATH nor in $NEO4J_HOME/bin: give --neo4j-admin PATH"
    )


def import_args(
    files: CsvFiles,
    *,
    database: str = "neo4j",
    overwrite: bool = False,
    max_memory: str | None = None,
) -> list[str]:
    """The arguments of ``neo4j-admin database import full`` for ``files`` (whose directory
    may not hold a comma: neo4j-admin splits file lists on commas)."""
    if "," in str(files.directory):
        raise ConfigError(
            f"the CSV directory {files.directory} holds a comma, which neo4j-admin takes for a "
            "file separator: choose another --work-dir"
        )
    args = ["database", "import", "full"]
    for name, (label, _) in HEADERS.items():
        files_arg = ",".join(map(str, [files.path(name, header=True), *files.data(name)]))
        args.append(f"--nodes={label}={files_arg}" if label else f"--relationships={files_arg}")
    args += [
        "--id-type=string",
        "--bad-tolerance=0",
        f"--report-file={files.directory / 'import.report'}",
    ]
    if overwrite:
        args.append("--overwrite-destination=true")
    if max_memory:
        args.append(f"--max-off-heap-memory={max_memory}")
    return [*args, database]


_KNOWN_FAILURES = (
    (
        "Database already exist",
        "database '{db}' already exists there: bulk-import only makes a new database; "
        "--overwrite replaces it (everything in it is lost)",
    ),
    (
        "The database is in use",
        "database '{db}' is in use: stop the Neo4j server first (neo4j-admin imports into a "
        "stopped database only)",
    ),
)


def run_import(
    admin: Sequence[str],
    files: CsvFiles,
    *,
    database: str = "neo4j",
    overwrite: bool = False,
    max_memory: str | None = None,
) -> float:
    """Run ``admin`` ``database import full`` on ``files``; its output goes to
    ``neo4j-admin.log`` beside them. Returns the seconds it took; a failure is a
    :class:`~cmdb.errors.StoreError` that says why in one line."""
    log = files.directory / "neo4j-admin.log"
    cmd = [*admin, *import_args(files, database=database, overwrite=overwrite,
                                max_memory=max_memory)]  # fmt: skip
    started = time.perf_counter()
    try:
        with log.open("wb") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    except OSError as exc:
        raise ConfigError(f"cannot run {admin[0]}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return seconds
    text = log.read_text(encoding="utf-8", errors="replace")
    for marker, message in _KNOWN_FAILURES:
        if marker in text:
            raise StoreError(message.format(db=database))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln[0] not in ".-"]
    last = next((ln for ln in reversed(lines) if "--verbose" not in ln), "no output")
    raise StoreError(
        f"neo4j-admin database import failed (exit {done.returncode}): {last} (see {log})"
    )


@dataclass
class ImportReport:
    """What :func:`bulk_import` did."""

    files: CsvFiles
    admin_seconds: float
    database: str
    kept: Path | None = None

    @property
    def seconds(self) -> float:
        return self.files.seconds + self.admin_seconds

    @property
    def rate(self) -> float:
        """Records (CIs, relationships, ITSM records) per second, end to end."""
        return self.files.entities / self.seconds if self.seconds else 0.0


def bulk_import(
    batches: Iterable[Batch],
    *,
    registry: Registry,
    admin: Sequence[str],
    actor: str,
    change_id: str | None = None,
    database: str = "neo4j",
    overwrite: bool = False,
    work_dir: str | Path | None = None,
    keep_files: bool = False,
    max_memory: str | None = None,
    source: str | None = None,
    workers: int = 1,
    chunked: bool = True,
) -> ImportReport:
    """Validate ``batches``, write them as CSV under ``work_dir`` (a new temporary directory
    in it, or in the system's), and import them with ``admin`` into ``database``. ``source``
    (the input file's name) prefixes the location of a validation error; ``workers`` and
    ``chunked`` are :func:`write_csv`'s.

    The CSV files are removed afterwards unless ``keep_files``; after a failed neo4j-admin
    run only its log is kept (the error names it)."""
    try:
        if work_dir is not None:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="cmdb-neo4j-import-", dir=work_dir))
    except OSError as exc:
        raise ConfigError(f"cannot make a CSV directory: {exc}") from None
    try:
        import_args(CsvFiles(directory))  # a directory neo4j-admin cannot name fails first
        files = write_csv(
            batches,
            directory,
            registry=registry,
            actor=actor,
            change_id=change_id,
            source=source,
            workers=workers,
            chunked=chunked,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        seconds = run_import(
            admin, files, database=database, overwrite=overwrite, max_memory=max_memory
        )
    except BaseException:
        if not keep_files:  # keep the log that the error names
            for path in directory.glob("*.csv"):
                path.unlink(missing_ok=True)
        raise
    if not keep_files:
        shutil.rmtree(directory, ignore_errors=True)
    return ImportReport(
        files=files,
        admin_seconds=seconds,
        database=database,
        kept=directory if keep_files else None,
    )


# -- after the import ----------------------------------------------------------------------
def dev_server(action: str, *, env: dict[str, str] | None = None) -> None:
    """Run ``scripts/neo4j-dev-server ACTION`` (``start``, ``stop``) on the instance that
    ``CMDB_NEO4J_DEV_DIR`` names (the repository's ``.neo4j`` by default)."""
    done = subprocess.run(
        [str(DEV_SERVER), action], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StoreError(f"neo4j-dev-server {action} failed: {tail}")


def dev_server_uri(env: dict[str, str] | None = None) -> tuple[str, str]:
    """The Bolt URI and password of the dev server instance (after its first start)."""
    env = dict(os.environ if env is None else env)
    base = Path(env.get("CMDB_NEO4J_DEV_DIR") or ROOT / ".neo4j")
    try:
        port = (base / "port").read_text().strip()
        password = (base / "password").read_text().strip()
    except OSError as exc:
        raise StoreError(f"no dev server instance at {base}: {exc.strerror or exc}") from None
    return f"bolt://127.0.0.1:{port}", password


def create_schema(
    uri: str, *, password: str, registry: Registry, user: str = "neo4j"
) -> tuple[str, float]:
    """Open the imported store on its started server, which creates the constraints and
    indexes (:func:`~cmdb.store.cypher.schema_statements`) and waits for them to come online.
    Returns the store id and the seconds it took."""
    from cmdb.store.neo4j import Neo4jStore

    started = time.perf_counter()
    with Neo4jStore(uri, registry, user=user, password=password) as store:
        return store.store_id, time.perf_counter() - started


def open_dev_server(registry: Registry) -> tuple[str, str, float]:
    """Start the dev server instance after an import and create its schema: its URI, the
    store id and the seconds the schema took."""
    dev_server("start")
    uri, password = dev_server_uri()
    store_id, seconds = create_schema(uri, password=password, registry=registry)
    return uri, store_id, seconds
