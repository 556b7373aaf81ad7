"""Streamed export: the graph written to a text stream page by page, in bounded memory.

Assumptions: the store pages CIs by id (``CIFilter.after``) and relationships by key
(``RelFilter.after``), so an export holds one page (``page_size`` items) at a time, whatever the
size of the store; ITSM records are read whole (they are few next to CIs and relationships, and
the JSON export needs them first, to bring along the retired CIs they link). The pages are
separate reads: a write made while an export runs may show in the pages read after it, so for a
file that is one consistent state, export while nothing writes (or use a baseline).

The JSON, CSV and GraphML texts are the same, byte for byte, as the whole-document writers gave
(``json.dumps(indent=2)``, ``csv.DictWriter``, networkx's GraphML writer), so old files and new
files import alike. CSV and GraphML name every attribute column or key before the first row, so
they read the store twice: once for the names, once for the rows (for CSV, the SQLite store lists
the names itself from its stored JSON, see :func:`~cmdb.export_docs.attribute_names`, and only
the rows are read). JSON Lines (one object per line,
its ``kind`` first: ``ci``, ``relationship``, or the record's own kind) is written in one pass.
Every writer works on export documents (:mod:`cmdb.export_docs`): plain dicts that the SQLite
store gives from its stored JSON text without building a model.

>>> from cmdb.store import open_store
>>> from cmdb.settings import Settings
>>> from cmdb.model import Batch, CI
>>> import io, tempfile, os
>>> store = open_store(Settings(db=os.path.join(tempfile.mkdtemp(), "x.db")), create=True)
>>> _ = store.apply(Batch(cis=[CI(id="srv-1", ci_class="physical_server", name="H")]), actor="t")
>>> out = io.StringIO()
>>> write_export(store, out, format="jsonl")
1
>>> out.getvalue().split(",")[:2]
['{"kind":"ci"', '"id":"srv-1"']
>>> store.close()
"""

from __future__ import annotations

import csv
import heapq
import json
import math
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice, repeat
from operator import attrgetter, itemgetter
from typing import Any, TextIO, TypedDict

from pydantic import ValidationError as PydanticError
from pydantic_core import to_json

from cmdb.bulk import no_gc
from cmdb.enums import Lifecycle
from cmdb.errors import ChangedDuringReadError, ValidationError
from cmdb.export_docs import (
    Doc,
    attribute_names,
    ci_doc,
    export_ci_docs,
    iter_ci_docs,
    iter_relationship_docs,
    keeps_texts,
    paged,
    rel_doc,
    unreadable,
)
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.import_plan import STORE_OWNED
from cmdb.model import CI, AnyRecord, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.store.stored import UnreadableDocumentError

__all__ = [
    "CI_COLUMNS",
    "ID_LISTS",
    "ID_SCALARS",
    "PAGE_SIZE",
    "Export",
    "export_cis",
    "export_records",
    "iter_cis",
    "iter_relationships",
    "write_export",
]

PAGE_SIZE = 2000
"""CIs or relationships read per store query."""


class Opts(TypedDict):
    """The paging options every writer passes to the store iterators."""

    include_retired: bool
    page_size: int


CI_COLUMNS = (
    "id",
    "class",
    "name",
    "status",
    "criticality",
    "owner",
    "support_group",
    "description",
    "min_required",
)
ID_SCALARS = ("serial_number", "fqdn")
ID_LISTS = ("hostnames", "ips", "macs", "cloud_ids", "k8s_uids")


# -- paging ------------------------------------------------------------------------------------
def iter_cis(
    store: GraphStore, *, include_retired: bool = False, page_size: int = PAGE_SIZE
) -> Iterator[CI]:
    """Every CI (non-retired ones unless ``include_retired``) in id order, one page at a time."""

    def read(after: str | None) -> list[CI]:
        return store.find_cis(
            CIFilter(include_retired=include_retired, after=after, limit=page_size)
        )

    return paged(read, attrgetter("id"), page_size)


def iter_relationships(
    store: GraphStore, *, include_retired: bool = False, page_size: int = PAGE_SIZE
) -> Iterator[Relationship]:
    """Every relationship (active ones unless ``include_retired``) in key order, by pages."""

    def read(after: tuple[str, str, str] | None) -> list[Relationship]:
        flt = RelFilter(include_retired=include_retired, after=after, limit=page_size)
        return store.find_relationships(flt)

    return paged(read, attrgetter("key"), page_size)


def export_records(store: GraphStore) -> list[AnyRecord]:
    """Every record but API keys: they belong to the deployment, and an export file travels."""
    return [r for r in store.find_records(RecordFilter()) if r.kind != "api_key"]


def export_cis(
    store: GraphStore,
    records: list[AnyRecord],
    *,
    include_retired: bool = False,
    page_size: int = PAGE_SIZE,
) -> Iterator[CI]:
    """The exported CIs plus the retired CIs that records link to, all in id order, so the file
    imports into an empty store."""
    cis = iter_cis(store, include_retired=include_retired, page_size=page_size)
    linked = tuple(sorted({i for r in records for i in r.ci_ids}))
    if include_retired or not linked:
        return cis
    found = store.find_cis(CIFilter(ids=linked, include_retired=True))
    extra = [c for c in found if c.status is Lifecycle.RETIRED]
    return heapq.merge(cis, extra, key=lambda c: c.id) if extra else cis


def _doc(item: AnyRecord) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude=STORE_OWNED)


# -- JSON and JSON Lines -----------------------------------------------------------------------
def _json_list(texts: Iterable[str], count: list[int]) -> Iterator[str]:
    """One list of the ``indent=2`` document, item by item: each item's ``indent=2`` text,
    indented two levels more (the only raw line breaks in JSON text are its own)."""
    first = True
    for text in texts:
        yield "[\n    " if first else ",\n    "
        yield text.replace("\n", "\n    ")
        first = False
        count[0] += 1
    yield "[]" if first else "\n  ]"


def _exponent_float(value: Any) -> bool:
    """Whether ``value`` holds a float that pydantic's JSON writes unlike Python's (``1e-05``
    as ``0.00001``; infinities): only floats that Python prints with an exponent, or not at all.

    >>> _exponent_float({"a": [1, 0.5]}), _exponent_float({"a": [1e-05]})
    (False, True)
    """
    if isinstance(value, float):
        return "e" in repr(value) or not math.isfinite(value)
    if isinstance(value, dict):
        return any(_exponent_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_exponent_float(v) for v in value)
    return False


def _indented(doc: Doc) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False)`` of an export document, by pydantic's
    serialiser (the text ``model_dump_json(indent=2)`` gives, five times faster than
    ``json.dumps``) unless a float would differ."""
    if _exponent_float(doc["attributes"]):
        return json.dumps(doc, indent=2, ensure_ascii=False)
    return to_json(doc, indent=2, inf_nan_mode="null").decode()


def _line(kind: str, doc: Doc) -> str:
    """One JSON Lines object, ``kind`` first: ``model_dump_json``'s text of the document."""
    return f'{{"kind":"{kind}",' + to_json(doc, inf_nan_mode="null").decode()[1:] + "\n"


def _indented_model(item: CI | Relationship) -> str:
    """:func:`_indented` of a model's export document, written from the model."""
    if _exponent_float(item.attributes):
        doc = ci_doc(item) if isinstance(item, CI) else rel_doc(item)
        return json.dumps(doc, indent=2, ensure_ascii=False)
    return item.model_dump_json(by_alias=True, exclude=STORE_OWNED, indent=2)


def _texts(
    store: GraphStore, records: list[AnyRecord], opts: Opts, *, indent: bool
) -> tuple[Iterator[str], Iterator[str]]:
    """The exported CIs' and relationships' JSON texts (``indent=2`` or JSON Lines): from
    export documents on a store that keeps JSON text, else straight from its models
    (``model_dump_json``: the same text without building the dict, a fifth less time)."""
    if keeps_texts(store):
        cis: Iterator[Any] = export_ci_docs(store, records, **opts)
        rels: Iterator[Any] = iter_relationship_docs(store, **opts)
        if indent:
            return map(_indented, cis), map(_indented, rels)
        return map(_line, repeat("ci"), cis), map(_line, repeat("relationship"), rels)
    cis, rels = export_cis(store, records, **opts), iter_relationships(store, **opts)
    if indent:
        return map(_indented_model, cis), map(_indented_model, rels)
    ci_text = partial(CI.model_dump_json, by_alias=True, exclude=STORE_OWNED)
    rel_text = partial(Relationship.model_dump_json, exclude=STORE_OWNED)
    return (
        ('{"kind":"ci",' + ci_text(ci)[1:] + "\n" for ci in cis),
        ('{"kind":"relationship",' + rel_text(rel)[1:] + "\n" for rel in rels),
    )


def _json(store: GraphStore, opts: Opts, count: list[int]) -> Iterator[str]:
    records = export_records(store)
    cis, rels = _texts(store, records, opts, indent=True)
    yield '{\n  "cis": '
    yield from _json_list(cis, count)
    yield ',\n  "relationships": '
    yield from _json_list(rels, count)
    yield ',\n  "records": '
    texts = (json.dumps(_doc(r), indent=2, ensure_ascii=False) for r in records)
    yield from _json_list(texts, count)
    yield "\n}\n"


def _jsonl(store: GraphStore, opts: Opts, count: list[int]) -> Iterator[str]:
    records = export_records(store)
    for texts in _texts(store, records, opts, indent=False):
        for text in texts:
            yield text
            count[0] += 1
    for rec in records:  # its own kind (incident, change...) first, like the others
        text = rec.model_dump_json(exclude=STORE_OWNED | {"kind"})
        yield f'{{"kind":"{rec.kind}"' + ("," + text[1:] if text != "{}" else "}") + "\n"
        count[0] += 1


# -- CSV ---------------------------------------------------------------------------------------
_JSON_START = frozenset('{["-0123456789tfn')
"""The characters a JSON text can start with, once stripped (``NaN``, ``Infinity``: not JSON)."""
_DUMP = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)`` without building an encoder per call."""


def _reject(name: str) -> Any:
    raise ValueError(name)


_READ = json.JSONDecoder(parse_constant=_reject).decode
"""How :func:`~cmdb.values.parse_value` reads a cell (``NaN`` is text), one decoder for all."""


def _is_json(text: str) -> bool:
    try:
        _READ(text)
    except ValueError:
        return False
    return True


def _attr_cell(value: Any) -> str:
    """An attribute's CSV cell: text as it is when reading it back (``parse_value``) gives the
    same text, else the value as JSON (``"12"`` for the text 12, ``" x "`` for padded text).

    >>> _attr_cell("oracle"), _attr_cell("12"), _attr_cell(12), _attr_cell(""), _attr_cell("NaN")
    ('oracle', '"12"', '12', '""', 'NaN')
    >>> _attr_cell(0.1), _attr_cell(1e-05), _attr_cell(True), _attr_cell(float("inf"))
    ('0.1', '1e-05', 'true', 'Infinity')
    """
    if isinstance(value, str):
        if (
            value
            and value == value.strip()
            and (value[0] not in _JSON_START or not _is_json(value))
        ):
            return value
        return _DUMP(value)
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)  # what json.dumps writes for them, without the encoder
    return _DUMP(value)


def ci_flat(ci: CI) -> dict[str, Any]:
    """The CI's columns other than ``id`` and attributes, as CSV cells and GraphML keys take
    them: unset fields left out, identifier lists joined with ``;``."""
    doc = ci.model_dump(mode="json", by_alias=True, include=set(CI_COLUMNS) | {"ci_class"})
    flat = {k: v for k, v in doc.items() if v is not None and k != "id"}
    ids = ci.identifiers
    flat.update({k: getattr(ids, k) for k in ID_SCALARS if getattr(ids, k)})
    flat.update({k: ";".join(getattr(ids, k)) for k in ID_LISTS if getattr(ids, k)})
    return flat


def doc_flat(doc: Doc) -> dict[str, Any]:
    """:func:`ci_flat` of a CI's export document (the same cells, in the same order)."""
    flat = {k: doc[k] for k in CI_COLUMNS[1:] if doc[k] is not None}
    ids = doc["identifiers"]
    flat.update({k: ids[k] for k in ID_SCALARS if ids[k]})
    flat.update({k: ";".join(ids[k]) for k in ID_LISTS if ids[k]})
    return flat


def _ci_row(ci: CI) -> dict[str, Any]:
    """A CSV row from a model (the reference the document rows are held to)."""
    attrs = {f"attr.{k}": _attr_cell(v) for k, v in ci.attributes.items()}
    return {"id": ci.id, **ci_flat(ci), **attrs}


def _rel_row(rel: Relationship) -> dict[str, Any]:
    attrs = {f"attr.{k}": _attr_cell(v) for k, v in rel.attributes.items()}
    row = {"source": rel.source, "type": rel.type, "target": rel.target, "status": rel.status}
    return {**row, **attrs}


class _Lines:
    """A file-like sink for :class:`csv.writer` that hands back what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def _ci_cells(doc: Doc) -> list[Any]:
    """The fixed cells of a CI's row, as :func:`doc_flat` gives them (an unset field is None,
    an empty identifier list "": both are written as an empty cell)."""
    ids = doc["identifiers"]
    return [*_CI_FIELDS(doc), *_ID_SCALARS(ids), *[";".join(ids[k]) for k in ID_LISTS]]


_CI_FIELDS = itemgetter(*CI_COLUMNS)
_ID_SCALARS = itemgetter(*ID_SCALARS)


def _csv(store: GraphStore, what: str, opts: Opts, count: list[int]) -> Iterator[str]:
    names = partial(attribute_names, store, what, **opts)
    if what == "cis":
        fixed = [*CI_COLUMNS, *ID_SCALARS, *ID_LISTS]
        cis = partial(iter_ci_docs, store, **opts, form="cells")
        return _csv_table(fixed, names, cis, _ci_cells, count)
    ends = ("source", "type", "target", *(["status"] if opts["include_retired"] else []))

    def rel_cells(doc: Doc) -> list[Any]:
        return [doc[k] for k in ends]

    rels = partial(iter_relationship_docs, store, **opts, form="cells")
    return _csv_table(list(ends), names, rels, rel_cells, count)


_ROWS = 500
"""CSV rows written at a time."""


def _csv_table(
    fixed: list[str],
    attrs_of: Callable[[], list[str]],
    items: Callable[[], Iterator[Doc]],
    cells: Callable[[Doc], list[Any]],
    count: list[int],
) -> Iterator[str]:
    """The header (the fixed columns, then every attribute column: ``attrs_of()``, the sorted
    names, see :func:`~cmdb.export_docs.attribute_names`), then one row per item: the text
    of ``csv.DictWriter`` with its ``restval`` "" (``csv.writer`` writes None as an empty
    cell), twice as fast."""
    names = attrs_of()
    at = {name: i for i, name in enumerate(names)}
    sink = _Lines()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow([*fixed, *(f"attr.{k}" for k in names)])
    yield sink.take()

    def row(item: Doc) -> list[Any]:
        attrs: list[Any] = [None] * len(names)
        for name, value in item["attributes"].items():
            attrs[at[name]] = _attr_cell(value)
        return cells(item) + attrs

    rows = map(row, items())
    while True:
        with no_gc():  # rows of short-lived lists; the collector runs again between chunks
            chunk = list(islice(rows, _ROWS))
            writer.writerows(chunk)
        count[0] += len(chunk)
        yield sink.take()
        if len(chunk) < _ROWS:
            return


# -- entry point -------------------------------------------------------------------------------
_FORMATS = ("json", "jsonl", "csv", "graphml")
_CHUNK = 64 * 1024
"""Characters handed on at a time (one write to a file, one body part of a response)."""


class Export:
    """An export of ``store`` in ``format``: iterate over it for the text, in chunks of about
    64 KiB, read from the store page by page; ``items`` then counts the CIs, relationships and
    records (CSV: rows) written. The arguments are checked here, before any text, so a server
    can still answer an error.

    CSV holds one table, ``what`` = ``cis`` or ``relationships``; the others hold the graph,
    and JSON and JSON Lines the records too.
    """

    def __init__(
        self,
        store: GraphStore,
        *,
        format: str = "json",
        what: str = "cis",
        include_retired: bool = False,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if format not in _FORMATS:
            raise ValidationError(
                f"unknown format '{format}': use {', '.join(_FORMATS)}", field="format"
            )
        if format == "csv" and what not in ("cis", "relationships"):
            raise ValidationError(
                f"cannot export '{what}' as CSV: use cis or relationships", field="what"
            )
        if page_size < 1:
            raise ValidationError(f"must be at least 1, got {page_size}", field="page_size")
        self.store, self.format, self.what = store, format, what
        self.opts: Opts = {"include_retired": include_retired, "page_size": page_size}
        self.items = 0

    def _parts(self, count: list[int]) -> Iterator[str]:
        if self.format == "json":
            return _json(self.store, self.opts, count)
        if self.format == "jsonl":
            return _jsonl(self.store, self.opts, count)
        if self.format == "csv":
            return _csv(self.store, self.what, self.opts, count)
        from cmdb.export_graphml import graphml_parts  # its writer loads only when asked for

        return graphml_parts(self.store, self.opts, count)

    def __iter__(self) -> Iterator[str]:
        """The text in chunks of about ``_CHUNK`` characters. The store's version is read before
        the first page and again before the last chunk: if it moved, the pages may mix two
        states, and the last chunk (which closes the document) is never given: the iteration
        ends in a :class:`ChangedDuringReadError` instead."""
        version = self.store.version()
        count = [0]
        buf: list[str] = []
        size = 0
        try:
            for part in self._parts(count):
                buf.append(part)
                size += len(part)
                if size >= _CHUNK:
                    yield "".join(buf)
                    buf.clear()
                    size = 0
                    self.items = count[0]
        except (PydanticError, UnreadableDocumentError) as exc:  # a stored document unread
            raise unreadable(exc) from None
        if self.store.version() != version:
            raise ChangedDuringReadError(
                "the store changed while it was exported: the pages read may mix its states "
                "(a relationship without its CI); export again"
            )
        if buf:
            yield "".join(buf)
        self.items = count[0]


def write_export(
    store: GraphStore,
    out: TextIO,
    *,
    format: str = "json",
    what: str = "cis",
    include_retired: bool = False,
    page_size: int = PAGE_SIZE,
) -> int:
    """Write the :class:`Export` to ``out`` chunk by chunk; return how many items it wrote."""
    export = Export(
        store, format=format, what=what, include_retired=include_retired, page_size=page_size
    )
    for chunk in export:
        out.write(chunk)
    return export.items
