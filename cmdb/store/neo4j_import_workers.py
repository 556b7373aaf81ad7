"""Several processes for the CSV stage of ``cmdb neo4j bulk-import`` (``--workers N``).

Assumptions: the platform can ``fork`` (Linux; the workers inherit the batch and the writer's
state instead of receiving them pickled), and the parent's CSV files are flushed before each
fork, so a worker never writes a byte of them. Validation and serialisation are per item, so a
batch's CIs and relationships are cut into ``N`` slices; each worker validates its slice
(:func:`cmdb.validation.validate_batch`, against every CI of the input so far and of this
batch) and appends its rows to the part files of its slot (:meth:`CsvFiles.part
<cmdb.store.neo4j_import.CsvFiles.part>`; one batch at a time, so a slot's rows stay in
order), numbering the history entries from where its
slice starts, so the sequence numbers are those of one process. What needs the whole batch
stays in the parent: the checks against the input so far (:meth:`_Writer.admit`), duplicates
across slices, the records (ids are allocated in order). While the workers run, the parent
reads the next batch from the source (the generator or a file): the stages overlap.

The error raised is the one a single process raises: every candidate (a worker's first, a
duplicate the parent found, then the records') is placed by (CIs before relationships, item
index) and the first one wins; a worker's location is renumbered to the whole batch's
(``cis[3]`` in a slice starting at 500 is ``cis[503]``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from cmdb import errors
from cmdb.errors import StoreError, ValidationError
from cmdb.model import Batch
from cmdb.validation import validate_batch

if TYPE_CHECKING:
    from cmdb.store.neo4j_import import _Writer

__all__ = ["write_parallel"]

_WHERE = re.compile(r"^(cis|relationships)\[(\d+)\]")
_RANK = {"cis": 0, "relationships": 1}
Place = tuple[int, int]  # (0 for CIs, 1 for relationships; index in the batch)


def _slices(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``range(n)``, sizes differing by at most one.

    >>> _slices(5, 2), _slices(1, 3)
    ([(0, 3), (3, 5)], [(0, 1), (1, 1), (1, 1)])
    """
    size, extra = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + size + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def _renumbered(err: ValidationError, starts: dict[str, int]) -> tuple[Place, ValidationError]:
    """A worker's error, its place in the whole batch and its location renumbered to it.

    >>> place, err = _renumbered(ValidationError("x", location="cis[3] 'a'"), {"cis": 500})
    >>> place, err.location
    ((0, 503), "cis[503] 'a'")
    """
    found = _WHERE.match(err.location or "")
    if found is None:  # validate_batch locates every item; keep the error as it is
        return (0, 0), err
    kind, index = found[1], int(found[2]) + starts[found[1]]
    where = f"{kind}[{index}]" + (err.location or "")[found.end() :]
    moved = type(err).__new__(type(err))
    ValidationError.__init__(moved, err.detail, field=err.field, location=where)
    return (_RANK[kind], index), moved


def _duplicates(batch: Batch) -> list[tuple[Place, ValidationError]]:
    """The first repeated CI id and relationship of ``batch`` (each slice only sees its own),
    as :func:`~cmdb.validation.validate_batch` words them."""
    out: list[tuple[Place, ValidationError]] = []
    seen: set[Any] = set()
    for i, ci in enumerate(batch.cis):
        if ci.id in seen:
            err = ValidationError(
                "duplicate CI id in the batch", field="id", location=f"cis[{i}] '{ci.id}'"
            )
            out.append(((0, i), err))
            break
        seen.add(ci.id)
    seen = set()
    for i, rel in enumerate(batch.relationships):
        if rel.key in seen:
            err = ValidationError(
                "duplicate relationship in the batch", location=f"relationships[{i}] '{rel.id}'"
            )
            out.append(((1, i), err))
            break
        seen.add(rel.key)
    return out


def _work(
    writer: _Writer,
    batch: Batch,
    tag: str,
    cis: tuple[int, int],
    rels: tuple[int, int],
    seq: int,
    conn: Connection,
) -> None:
    """In a forked worker: validate and write ``batch``'s slices; send what happened."""
    try:
        part = Batch.model_construct(
            cis=batch.cis[cis[0] : cis[1]], relationships=batch.relationships[rels[0] : rels[1]]
        )
        try:
            validate_batch(part, writer.registry, writer.lookup)
        except ValidationError as err:
            place, moved = _renumbered(err, {"cis": cis[0], "relationships": rels[0]})
            conn.send(("invalid", place, type(moved).__name__, moved.detail, moved.field,
                       moved.location))  # fmt: skip
            return
        writer.open_part(tag)
        writer.files.history = seq + cis[0]
        writer.cis(part.cis)
        writer.files.history = seq + len(batch.cis) + rels[0]
        writer.relationships(part.relationships)
        writer.close()
        files = writer.files
        conn.send(("ok", files.identifiers, files.chunks, writer.summary))
    except BaseException:
        conn.send(("crash", traceback.format_exc(limit=3)))
    finally:
        conn.close()


def _error(name: str, detail: str, field_: str | None, location: str | None) -> ValidationError:
    cls = getattr(errors, name, ValidationError)
    if not (isinstance(cls, type) and issubclass(cls, ValidationError)):
        cls = ValidationError
    err = cls.__new__(cls)
    ValidationError.__init__(err, detail, field=field_, location=location)
    return err


@dataclass
class _InFlight:
    """One batch whose slices the workers are writing."""

    batch: Batch
    seq: int  # the last history seq before this batch
    workers: list[tuple[BaseProcess, Connection]] = field(default_factory=list)
    found: list[tuple[Place, ValidationError]] = field(default_factory=list)


class _Pool:
    def __init__(self, writer: _Writer, workers: int):
        self.writer, self.n = writer, workers
        self.ctx = multiprocessing.get_context("fork")
        self.job: _InFlight | None = None

    def submit(self, batch: Batch, index: int) -> None:
        """Finish the batch in flight, then start ``batch`` (number ``index``) on workers."""
        self.finish()
        w = self.writer
        w.admit(batch, index)
        job = _InFlight(batch, w.files.history, found=_duplicates(batch))
        for ci in batch.cis:  # every slice's relationships may end at any of them
            pair = (ci.ci_class, ci.status)
            w.known[ci.id] = w.pairs.setdefault(pair, pair)
        w.flush()
        cis, rels = _slices(len(batch.cis), self.n), _slices(len(batch.relationships), self.n)
        for i in range(self.n):
            if cis[i][0] == cis[i][1] and rels[i][0] == rels[i][1]:
                continue
            recv, send = self.ctx.Pipe(duplex=False)
            proc = self.ctx.Process(
                target=_work,
                args=(w, batch, f"{i:02d}", cis[i], rels[i], job.seq, send),
                daemon=True,
            )
            proc.start()
            send.close()
            job.workers.append((proc, recv))
        self.job = job

    def finish(self) -> None:
        """Wait for the batch in flight; raise its first error, else add up its counts and
        write its records."""
        job = self.job
        if job is None:
            return
        w, found, crashed = self.writer, list(job.found), None
        for proc, conn in job.workers:
            try:
                msg = conn.recv()
            except EOFError:
                msg = ("crash", f"worker exited with code {proc.exitcode}")
            proc.join()
            if msg[0] == "ok":
                w.files.identifiers += msg[1]
                w.files.chunks += msg[2]
                for entity, count in msg[3].items():
                    w.summary[entity] += count
            elif msg[0] == "invalid":
                found.append((msg[1], _error(*msg[2:])))
            else:
                crashed = msg[1]
        self.job = None  # every worker has ended (until here, abort() ends them)
        if found:
            raise min(found, key=lambda f: f[0])[1]
        if crashed is not None:
            raise StoreError(f"a CSV worker failed: {crashed.strip().splitlines()[-1]}")
        batch = job.batch
        if batch.records:
            validate_batch(Batch.model_construct(records=batch.records), w.registry, w.lookup)
            w._records_ids(batch)
        w.files.cis += len(batch.cis)
        w.files.relationships += len(batch.relationships)
        w.files.history = job.seq + len(batch.cis) + len(batch.relationships)
        w.records(batch)

    def abort(self) -> None:
        job, self.job = self.job, None
        for proc, conn in job.workers if job else []:
            proc.terminate()
            proc.join()
            conn.close()


def write_parallel(writer: _Writer, batches: Iterable[Batch], workers: int) -> None:
    """Write ``batches`` through ``writer`` with ``workers`` processes per batch."""
    pool = _Pool(writer, workers)
    source = iter(batches)
    try:
        for index in itertools.count():
            try:
                batch = next(source)
            except StopIteration:
                break
            except BaseException:
                pool.finish()  # an error of the batch in flight comes first, as it would
                raise
            pool.submit(batch, index)
        pool.finish()
    finally:
        pool.abort()
