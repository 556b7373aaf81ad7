"""Chunked import (``cmdb import --chunked N``): a file applied as consecutive batches of at most
``N`` items, each atomic, in memory bounded by ``N`` for JSON Lines.

Assumptions: what chunking gives up is whole-file atomicity. The file is read through once
before anything is written (JSON Lines line by line: syntax, ``kind``, records validated whole;
other formats are parsed whole, as a plain import parses them) and every CI class and
relationship type is looked up in the registry, so a file that cannot be parsed, or names an
unknown class or type, changes nothing. The other checks (required and typed attributes, a
relationship's ends, what an item merges over) run per batch, when it is applied: a bad item
stops the import there, and the batches before it stay applied. The error names the item's line
(or item) and says how many batches and items landed. Batches go in a fixed order whatever the
order of the file: every CI first, then every relationship, then every record, so a
relationship may name a CI that comes later in the file. Merging over stored entities (a
partial import) is as in :mod:`cmdb.transfer`, per batch: the stored state each batch reads is
the one the batches before it left. Memory is bounded by ``chunk_size`` for JSON Lines (read
again for each of the three sections); other formats are held whole, as they are parsed.

>>> import tempfile, pathlib
>>> from cmdb.store import open_store
>>> from cmdb.settings import Settings
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> store = open_store(Settings(db=tmp / "x.db"), create=True)
>>> path = tmp / "g.jsonl"
>>> _ = path.write_text(
...     '{"kind":"relationship","source":"a","type":"depends_on","target":"b"}\\n'
...     '{"kind":"ci","id":"a","class":"application","name":"A"}\\n'
...     '{"kind":"ci","id":"b","class":"application","name":"B"}\\n')
>>> result = import_chunked(store, path, chunk_size=2, actor="t")
>>> result.batches, result.created
(2, 3)
>>> store.close()
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cmdb.errors import CMDBError, ConflictError, ImportFormatError, ValidationError
from cmdb.filters import CIFilter
from cmdb.import_plan import Item, Parsed, build_batch
from cmdb.model import Batch
from cmdb.registry import Registry
from cmdb.store.protocol import GraphStore
from cmdb.transfer import Entry, FileFormat, _parse, check_input, jsonl_entries, locate, raced

__all__ = ["ChunkedResult", "Interrupted", "import_chunked"]

_SECTIONS = ("cis", "relationships", "records")


class ChunkedResult(BaseModel):
    """What a chunked import applied: its batches and items, and the store's counts summed."""

    model_config = ConfigDict(frozen=True)

    batches: int = 0
    items: int = 0
    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0


def import_chunked(
    store: GraphStore,
    path: str | Path,
    *,
    chunk_size: int,
    actor: str,
    change_id: str | None = None,
    format: str | None = None,
    replace: bool = False,
) -> ChunkedResult:
    """Apply ``path`` as batches of at most ``chunk_size`` items, each atomic: CIs, then
    relationships, then records (see the module docstring). A bad item raises its error with
    what was applied before it appended to the message."""
    if chunk_size < 1:
        raise ValidationError(f"must be at least 1, got {chunk_size}", field="chunk_size")
    path = Path(path)
    sections = _sections(store, path, format)
    done = ChunkedResult()
    try:
        for section in _SECTIONS:
            for chunk in _batched(sections(section), chunk_size):
                done = _apply(
                    store, chunk, done, path=path, replace=replace, actor=actor, change_id=change_id
                )
    except KeyboardInterrupt:
        raise Interrupted(done) from None
    return done


class Interrupted(KeyboardInterrupt):
    """A chunked import stopped by an interrupt (Ctrl-C): ``done`` is what had landed (the
    batch being applied is rolled back, or landed just before the interrupt: at least
    ``done``)."""

    def __init__(self, done: ChunkedResult) -> None:
        super().__init__()
        self.done = done


def _sections(
    store: GraphStore, path: Path, format: str | None
) -> Callable[[str], Iterator[Entry]]:
    """A function giving the entries of one section, in file order. JSON Lines is checked in
    one pass now and read again per section; other formats are parsed whole once."""
    if check_input(path, format) is FileFormat.JSONL:
        for entry in _read_jsonl(path):
            _precheck(entry, store.registry)

        def from_file(section: str) -> Iterator[Entry]:
            return (e for e in _read_jsonl(path) if e.section == section)

        return from_file
    parsed = _parse(path, format, store.registry)
    for section in _SECTIONS:
        for item in getattr(parsed, section):
            _precheck(Entry(section, item, 0), store.registry)

    def from_parsed(section: str) -> Iterator[Entry]:
        items: list = getattr(parsed, section)
        for i, item in enumerate(items):
            yield Entry(section, item, parsed.lines.get(f"{section}[{i}]", 0))

    return from_parsed


def _precheck(entry: Entry, registry: Registry) -> None:
    """What can be checked of one item alone: its CI class or relationship type is known
    (the rest needs the stored entity it merges over, and waits for its batch)."""
    if not isinstance(entry.item, Item):
        return
    doc = entry.item.doc
    try:
        if entry.section == "cis" and isinstance(doc.get("class"), str):
            registry.class_(doc["class"])
        elif entry.section == "relationships" and isinstance(doc.get("type"), str):
            registry.rel_type(doc["type"])
    except ValidationError as err:
        raise err.at(entry.item.where) from None


def _read_jsonl(path: Path) -> Iterator[Entry]:
    try:
        with path.open("rb") as lines:
            yield from jsonl_entries(lines, path)
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _batched(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while chunk := list(itertools.islice(entries, size)):
        yield chunk


def _apply(
    store: GraphStore,
    chunk: list[Entry],
    done: ChunkedResult,
    *,
    path: Path,
    replace: bool,
    actor: str,
    change_id: str | None,
) -> ChunkedResult:
    parsed = Parsed()
    wheres: dict[str, str] = {}
    for entry in chunk:
        if entry.section == "records":
            parsed.records.append(entry.item)  # type: ignore[arg-type]
            continue
        items: list[Item] = getattr(parsed, entry.section)
        wheres[f"{entry.section}[{len(items)}]"] = entry.item.where  # type: ignore[union-attr]
        items.append(entry.item)  # type: ignore[arg-type]
    try:
        result = store.apply(_batch(store, parsed, replace), actor=actor, change_id=change_id)
    except ConflictError as err:
        raise _stopped(raced(err, path), done) from None
    except CMDBError as err:
        raise _stopped(_locate(err, wheres), done) from None
    return ChunkedResult(
        batches=done.batches + 1,
        items=done.items + len(chunk),
        created=done.created + result.created,
        updated=done.updated + result.updated,
        retired=done.retired + result.retired,
        unchanged=done.unchanged + result.unchanged,
    )


def _batch(store: GraphStore, parsed: Parsed, replace: bool) -> Batch:
    """The chunk's batch; stored entities are read for its items only (indexed look-ups, never
    a scan of every relationship, whatever the number of sources)."""
    if replace:
        return build_batch(parsed)
    ids = tuple(sorted({d for i in parsed.cis if isinstance(d := i.doc.get("id"), str)}))
    cis = {c.id: c for c in store.find_cis(CIFilter(ids=ids, include_retired=True))} if ids else {}
    keys: set[tuple[str, str, str]] = set()
    for item in parsed.relationships:
        source, rtype, target = (item.doc.get(k) for k in ("source", "type", "target"))
        if isinstance(source, str) and isinstance(rtype, str) and isinstance(target, str):
            keys.add((source, rtype, target))
    sources = sorted({k[0] for k in keys})
    found = store.find_relationships_from(sources) if sources else []
    rels = {r.key: r for r in found if r.key in keys}
    return build_batch(parsed, stored_cis=cis, stored_rels=rels, replace=False)


def _locate(err: CMDBError, wheres: dict[str, str]) -> CMDBError:
    """The store's ``cis[3] 'x': ...`` (an index in the chunk) as the item's place in the file:
    ``FILE:LINE`` (JSON Lines, CSV) or ``FILE: cis[1234] 'x'`` (JSON)."""
    return (locate(err, wheres) or err) if isinstance(err, ValidationError) else err


def _stopped(err: CMDBError, done: ChunkedResult) -> CMDBError:
    """``err`` with what landed before it said: whole-file atomicity is what chunking gives up."""
    landed = (
        f"the {done.batches} batch{'es' if done.batches != 1 else ''} before it "
        f"({done.items:,} items) stay applied"
        if done.batches
        else "nothing was applied"
    )
    err.args = (f"{err} (chunked import stopped here: {landed})",)
    return err
