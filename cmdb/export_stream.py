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
they read the store twice: once for the names, once for the rows. JSON Lines (one object per line,
its ``kind`` first: ``ci``, ``relationship``, or the record's own kind) is written in one pass.

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
from typing import Any, TextIO, TypedDict

from cmdb.enums import Lifecycle
from cmdb.errors import StoreError, ValidationError
from cmdb.filters import CIFilter, RecordFilter, RelFilter
from cmdb.import_plan import STORE_OWNED
from cmdb.model import CI, AnyRecord, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.values import parse_value

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
    after: str | None = None
    while True:
        flt = CIFilter(include_retired=include_retired, after=after, limit=page_size)
        page = store.find_cis(flt)
        _moved_on(after, page[0].id if page else None)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].id


def iter_relationships(
    store: GraphStore, *, include_retired: bool = False, page_size: int = PAGE_SIZE
) -> Iterator[Relationship]:
    """Every relationship (active ones unless ``include_retired``) in key order, by pages."""
    after: tuple[str, str, str] | None = None
    while True:
        flt = RelFilter(include_retired=include_retired, after=after, limit=page_size)
        page = store.find_relationships(flt)
        _moved_on(after, page[0].key if page else None)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].key


def _moved_on(after: Any, first: Any) -> None:
    """Guard against a store that ignores the cursor (the page would repeat for ever)."""
    if after is not None and first is not None and first <= after:
        raise StoreError(f"the store ignored the paging cursor (after {after!r}); cannot export")


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


def _ci_doc(ci: CI) -> dict[str, Any]:
    return ci.model_dump(mode="json", by_alias=True, exclude=STORE_OWNED)


def _doc(item: Relationship | AnyRecord) -> dict[str, Any]:
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


def _indented(item: CI | Relationship) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False)`` of the item's export document, by
    pydantic's serialiser (same text, five times faster) unless a float would differ."""
    if _exponent_float(item.attributes):
        doc = _ci_doc(item) if isinstance(item, CI) else _doc(item)
        return json.dumps(doc, indent=2, ensure_ascii=False)
    return item.model_dump_json(by_alias=True, exclude=STORE_OWNED, indent=2)


def _json(store: GraphStore, opts: Opts, count: list[int]) -> Iterator[str]:
    records = export_records(store)
    cis = export_cis(store, records, **opts)
    yield '{\n  "cis": '
    yield from _json_list(map(_indented, cis), count)
    yield ',\n  "relationships": '
    yield from _json_list(map(_indented, iter_relationships(store, **opts)), count)
    yield ',\n  "records": '
    texts = (json.dumps(_doc(r), indent=2, ensure_ascii=False) for r in records)
    yield from _json_list(texts, count)
    yield "\n}\n"


def _jsonl(store: GraphStore, opts: Opts, count: list[int]) -> Iterator[str]:
    records = export_records(store)
    for ci in export_cis(store, records, **opts):
        yield '{"kind":"ci",' + ci.model_dump_json(by_alias=True, exclude=STORE_OWNED)[1:] + "\n"
        count[0] += 1
    for rel in iter_relationships(store, **opts):
        yield '{"kind":"relationship",' + rel.model_dump_json(exclude=STORE_OWNED)[1:] + "\n"
        count[0] += 1
    for rec in records:  # its own kind (incident, change...) first, like the others
        doc = rec.model_dump_json(exclude=STORE_OWNED | {"kind"})
        yield f'{{"kind":"{rec.kind}"' + ("," + doc[1:] if doc != "{}" else "}") + "\n"
        count[0] += 1


# -- CSV ---------------------------------------------------------------------------------------
def _attr_cell(value: Any) -> str:
    if isinstance(value, str):
        plain = value == value.strip() and value and parse_value(value) == value
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def ci_flat(ci: CI) -> dict[str, Any]:
    """The CI's columns other than ``id`` and attributes, as CSV cells and GraphML keys take
    them: unset fields left out, identifier lists joined with ``;``."""
    doc = ci.model_dump(mode="json", by_alias=True, include=set(CI_COLUMNS) | {"ci_class"})
    flat = {k: v for k, v in doc.items() if v is not None and k != "id"}
    ids = ci.identifiers
    flat.update({k: getattr(ids, k) for k in ID_SCALARS if getattr(ids, k)})
    flat.update({k: ";".join(getattr(ids, k)) for k in ID_LISTS if getattr(ids, k)})
    return flat


def _ci_row(ci: CI) -> dict[str, Any]:
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


def _csv(store: GraphStore, what: str, opts: Opts, count: list[int]) -> Iterator[str]:
    if what == "cis":
        fixed = [*CI_COLUMNS, *ID_SCALARS, *ID_LISTS]
        return _csv_table(fixed, lambda: iter_cis(store, **opts), _ci_row, count)
    status = ["status"] if opts["include_retired"] else []
    fixed = ["source", "type", "target", *status]
    return _csv_table(fixed, lambda: iter_relationships(store, **opts), _rel_row, count)


def _csv_table(
    fixed: list[str],
    items: Callable[[], Iterator[Any]],
    row: Callable[[Any], dict[str, Any]],
    count: list[int],
) -> Iterator[str]:
    """The header (the fixed columns, then every attribute column, sorted: a first pass over
    the items), then one row per item (a second pass)."""
    names = sorted({f"attr.{k}" for item in items() for k in item.attributes})
    sink = _Lines()
    writer = csv.DictWriter(sink, [*fixed, *names], lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    yield sink.take()
    for item in items():
        writer.writerow(row(item))
        yield sink.take()
        count[0] += 1


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
        count = [0]
        buf: list[str] = []
        size = 0
        for part in self._parts(count):
            buf.append(part)
            size += len(part)
            if size >= _CHUNK:
                yield "".join(buf)
                buf.clear()
                size = 0
                self.items = count[0]
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
