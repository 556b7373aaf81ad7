"""Import and export of files held in memory (a request body), with the rules of
:mod:`cmdb.transfer`.

Assumptions: the data is a whole file in one of :class:`~cmdb.transfer.FileFormat`; it is parsed
by the readers of :mod:`cmdb.transfer` with ``name`` (default ``body``) where a path would
stand in their messages, so an error still names the line (``body:3: invalid JSON ...``) or the
item (``body: cis[0] 'srv-9': field 'class' ...``). An import is one batch, applied atomically;
a dry run validates against the store, plans field by field and writes nothing. An export is
the text ``cmdb export`` writes (never with API keys: records holding the hash of a secret),
given in chunks as it is read from the store page by page (:func:`export_stream`).

>>> from cmdb.store import open_store
>>> from cmdb.settings import Settings
>>> import tempfile, os
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "x.db")), create=True)
>>> data = b"id,class,name\\nsrv-1,physical_server,Host 1\\n"
>>> import_data(store, data, format="csv", actor="t", dry_run=True).created
1
>>> import_data(store, data, format="csv", actor="t").created, len(store.find_cis(CIFilter()))
(1, 1)
>>> export_document(store, format="csv").splitlines()[1][:30]
'srv-1,physical_server,Host 1,l'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cmdb import transfer
from cmdb.bulk import no_gc
from cmdb.errors import ImportFormatError, ValidationError
from cmdb.export_stream import Export
from cmdb.filters import CIFilter
from cmdb.import_plan import ItemChange, Parsed, plan_batch, stored_for
from cmdb.registry import Registry
from cmdb.store.protocol import GraphStore
from cmdb.transfer import FileFormat
from cmdb.validation import validate_batch

__all__ = ["ImportOutcome", "export_document", "export_stream", "import_data", "parse_format"]

_CSV_PARTS = ("cis", "relationships")


class ImportOutcome(BaseModel):
    """What an import did (or, on a dry run, would do): the counts of the store's batch
    result, its batch id and the store version after it; a dry run lists every change."""

    model_config = ConfigDict(frozen=True)

    dry_run: bool
    created: int
    updated: int
    retired: int
    unchanged: int
    batch_id: int | None = None
    store_version: int | None = None
    allocated: tuple[str, ...] = ()
    """The ids the store gave to new records, in file order."""
    changes: tuple[ItemChange, ...] = ()
    """On a dry run: each entity that would change, with its fields."""


def parse_format(name: str | FileFormat, *, field: str = "format") -> FileFormat:
    """``name`` as a :class:`FileFormat`; :class:`ValidationError` naming ``field`` if unknown.

    >>> parse_format("csv").value
    'csv'
    """
    try:
        return FileFormat(name)
    except ValueError:
        raise ValidationError(
            f"unknown format '{name}': use json, jsonl, csv or graphml", field=field
        ) from None


def _parse(data: bytes, fmt: FileFormat, name: Path, registry: Registry) -> Parsed:
    if fmt is FileFormat.GRAPHML:
        return transfer._parse_graphml(name, data)
    if fmt is FileFormat.JSONL:
        return transfer.parse_jsonl(name, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(f"{name}:{line}: not UTF-8 text") from None
    if fmt is FileFormat.JSON:
        return transfer._parse_json(name, text)
    return transfer._parse_csv(name, text, registry)


def import_data(
    store: GraphStore,
    data: bytes,
    *,
    format: str | FileFormat,
    actor: str,
    change_id: str | None = None,
    replace: bool = False,
    dry_run: bool = False,
    name: str = "body",
) -> ImportOutcome:
    """Import the file ``data`` into ``store`` as one batch (all of it or nothing), or with
    ``dry_run`` validate it and plan it without writing. The file sets the fields it gives and
    keeps the others unless ``replace`` (see :mod:`cmdb.transfer`)."""
    fmt, path = parse_format(format), Path(name)
    with no_gc():  # many surviving objects: see cmdb.bulk
        parsed = _parse(data, fmt, path, store.registry)
        cis, rels = stored_for(store, parsed)
        batch = transfer._batch(store, parsed, replace, cis, rels)
    try:
        if dry_run:
            validate_batch(batch, store.registry, lambda ids: _classes(store, ids))
        else:
            result = store.apply(batch, actor=actor, change_id=change_id)
    except ValidationError as err:
        raise transfer._locate(err, path, parsed.lines) from None
    if dry_run:
        plan = plan_batch(store, batch, stored_cis=cis, stored_rels=rels)
        counts = plan.model_dump(exclude={"changes"})
        return ImportOutcome(dry_run=True, **counts, changes=plan.changes)
    return ImportOutcome(
        dry_run=False,
        created=result.created,
        updated=result.updated,
        retired=result.retired,
        unchanged=result.unchanged,
        batch_id=result.batch_id,
        store_version=result.store_version,
        allocated=tuple(result.allocated),
    )


def _classes(store: GraphStore, ids: Iterable[str]) -> dict:
    """The class and status of each stored CI of ``ids`` (retired too), for validation."""
    wanted = tuple(ids)
    found = store.find_cis(CIFilter(ids=wanted, include_retired=True)) if wanted else []
    return {c.id: (c.ci_class, c.status) for c in found}


def export_document(
    store: GraphStore,
    *,
    format: str | FileFormat = FileFormat.JSON,
    what: str | None = None,
    include_retired: bool = False,
) -> str:
    """The export in ``format`` as one text (:func:`export_stream` gives it in chunks): JSON
    and JSON Lines hold the CIs, relationships and records (never API keys); CSV holds one
    table, ``what`` = ``cis`` (default) or ``relationships``; GraphML holds the graph.
    :class:`ValidationError` for a ``what`` that is not CSV's, or an unknown format."""
    return "".join(export_stream(store, format=format, what=what, include_retired=include_retired))


def export_stream(
    store: GraphStore,
    *,
    format: str | FileFormat = FileFormat.JSON,
    what: str | None = None,
    include_retired: bool = False,
) -> Export:
    """The export as an iterable of text chunks, read from the store page by page as it is
    iterated; the arguments are checked now (:class:`ValidationError`), before any text."""
    fmt = parse_format(format)
    if what is not None and fmt is not FileFormat.CSV:
        raise ValidationError("only CSV exports take 'what' (cis or relationships)", field="what")
    if what not in (None, *_CSV_PARTS):
        raise ValidationError(
            f"cannot export '{what}' as CSV: use cis or relationships", field="what"
        )
    return Export(store, format=fmt.value, what=what or "cis", include_retired=include_retired)
