"""Import and export of the graph as JSON, JSON Lines, CSV or GraphML files.

Assumptions: a file is one :class:`~cmdb.model.Batch`, applied atomically, so one bad row leaves
the store unchanged (:mod:`cmdb.import_chunked` applies it in batches instead). Every error names
the file and the line (CSV, JSON Lines, JSON syntax, XML syntax) or the item (``cis[3] 'srv-9'``,
``node 'srv-9'``). Exports hold non-retired CIs and active relationships unless asked otherwise;
the store-owned fields (``created_at``, ``updated_at``, ``version``) are never exported, so export
then import into an empty store gives the same graph. Exports are written page by page by
:mod:`cmdb.export_stream`; the ``export_*`` functions here give the same text whole.

JSON Lines: one object a line, its ``kind`` saying what it is: ``ci``, ``relationship``, or the
kind of a record (``incident``...; the line is then the record). A JSON Lines file is read line by
line, each line parsed and checked on its own, so the only copy held is the items themselves.

Partial imports. A file sets the fields it gives and keeps the others: a CSV with only
``id,class,name,attr.engine`` changes the names and the ``engine`` attribute of stored CIs and
leaves their owner, criticality, identifiers and other attributes alone; a JSON object sets the
keys it has. ``attributes`` and ``identifiers`` follow the same rule key by key, and a JSON
``null`` there removes the key. ``replace=True`` (``cmdb import --replace``) instead replaces
whole entities: what the file leaves out takes its default. The batch expects the version of
every entity it merged over, so an import never writes over a change made since it read.

CSV convention. A CI file has the header ``id,class,name`` plus any of ``status, criticality,
owner, support_group, description, min_required, serial_number, fqdn, hostnames, ips, macs,
cloud_ids, k8s_uids`` and ``attr.<name>`` columns; a relationship file has ``source,type,target``
plus optional ``status`` and ``attr.<name>``. Identifier list cells are separated by ``;``. An
``attr.`` cell is read by :func:`cmdb.values.parse_value` for the type the registry declares
(``12.2`` stays text for a ``str`` attribute; ``8``, ``true``, ``[1, 2]`` are JSON otherwise).
An empty cell clears its field (an attribute is removed, a list emptied); the fields that cannot
be cleared (``class``, ``name``, ``status``, ``criticality``) are then kept, or take their
default for a new CI. In GraphML, node and edge keys follow the same names, with typed scalars
in ``attr.<name>`` and lists or objects as JSON text in ``attrjson.<name>``.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "cis.csv"
>>> _ = path.write_text("id,class,name,ips,attr.cpu_count\\nsrv-1,physical_server,H,10.0.0.1,8")
>>> batch = read_file(path)
>>> batch.cis[0].identifiers.ips, batch.cis[0].attributes
(['10.0.0.1'], {'cpu_count': 8})
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError
from pydantic_core import from_json

from cmdb.bulk import no_gc
from cmdb.enums import RecordKind
from cmdb.errors import ConflictError, ImportFormatError, ValidationError
from cmdb.export_stream import (
    CI_COLUMNS,
    ID_LISTS,
    ID_SCALARS,
    export_cis,
    export_records,
    iter_relationships,
    write_export,
)
from cmdb.filters import CIFilter
from cmdb.import_plan import (
    STORE_OWNED,
    ImportPlan,
    Item,
    Parsed,
    build_batch,
    plan_batch,
    stored_for,
)
from cmdb.model import AnyRecord, Batch, BatchResult
from cmdb.registry import Registry
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error, validate_batch
from cmdb.values import declared_type, parse_value

__all__ = [
    "Entry",
    "FileFormat",
    "ImportPlan",
    "JSONSyntaxError",
    "check_file",
    "check_input",
    "export_csv",
    "export_graphml",
    "export_json",
    "export_text",
    "import_file",
    "jsonl_entries",
    "load_json",
    "locate",
    "parse_jsonl",
    "raced",
    "read_file",
    "write_export",
]


class FileFormat(StrEnum):
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    GRAPHML = "graphml"


_STORE_OWNED = STORE_OWNED
_SECTIONS = ("cis", "relationships", "records")
_CI_COLUMNS = CI_COLUMNS
_ID_SCALARS = ID_SCALARS
_ID_LISTS = ID_LISTS
_REL_COLUMNS = ("source", "type", "target", "status")
_KEPT_WHEN_EMPTY = {"id", "class", "name", "status", "criticality", "source", "type", "target"}
_RECORD: TypeAdapter = TypeAdapter(AnyRecord)
_RECORD_KINDS = tuple(k.value for k in RecordKind)
_ITEM_RE = re.compile(r"^((?:cis|relationships)\[\d+\])(?: '[^']*')?(.*)$")


# -- reading -----------------------------------------------------------------------------------
def read_file(
    path: str | Path,
    *,
    format: str | None = None,
    registry: Registry | None = None,
    places: dict[str, str] | None = None,
) -> Batch:
    """Parse an import file into a batch of whole entities, without touching a store.

    ``format`` defaults to the file extension. With a ``registry``, CSV attribute cells are
    read for their declared type (``12.2`` stays text for a ``str`` attribute). ``places``,
    when given, is filled with the file line of each item that has one (``"cis[3]"`` to
    ``"in.jsonl:5"``), for :func:`locate`.
    """
    path = Path(path)
    parsed = _parse(path, format, registry)
    if places is not None:
        places.update((key, f"{path}:{line}") for key, line in parsed.lines.items())
    return build_batch(parsed)


def import_file(
    store: GraphStore,
    path: str | Path,
    *,
    actor: str,
    change_id: str | None = None,
    format: str | None = None,
    replace: bool = False,
    bulk: bool = False,
) -> BatchResult:
    """Read ``path`` and apply it to ``store`` as one batch: all of it or nothing.

    The file sets the fields it gives and keeps the others; ``replace`` replaces whole CIs
    and relationships instead (see the module docstring). ``bulk``: see ``GraphStore.apply``.
    """
    path = Path(path)
    with no_gc():  # hundreds of thousands of surviving objects: see cmdb.bulk
        parsed = _parse(path, format, store.registry)
        batch = _batch(store, parsed, replace)
    try:
        return store.apply(batch, actor=actor, change_id=change_id, bulk=bulk)
    except ValidationError as err:
        raise _locate(err, path, parsed.lines) from None
    except ConflictError as err:
        raise raced(err, path) from None


def check_file(
    store: GraphStore, path: str | Path, *, format: str | None = None, replace: bool = False
) -> ImportPlan:
    """Validate ``path`` against ``store`` and say what importing it would do, field by field;
    write nothing."""
    path = Path(path)
    with no_gc():
        parsed = _parse(path, format, store.registry)
        cis, rels = stored_for(store, parsed)
        batch = _batch(store, parsed, replace, cis, rels)

    def lookup(ids):
        ids = tuple(ids)
        found = store.find_cis(CIFilter(ids=ids, include_retired=True)) if ids else []
        return {c.id: (c.ci_class, c.status) for c in found}

    try:
        validate_batch(batch, store.registry, lookup)
    except ValidationError as err:
        raise _locate(err, path, parsed.lines) from None
    return plan_batch(store, batch, stored_cis=cis, stored_rels=rels)


def _batch(
    store: GraphStore,
    parsed: Parsed,
    replace: bool,
    cis: dict | None = None,
    rels: dict | None = None,
) -> Batch:
    """Whole entities (``replace``), or the file's fields merged over what is stored."""
    if replace:
        return build_batch(parsed)
    if cis is None or rels is None:
        cis, rels = stored_for(store, parsed)
    return build_batch(parsed, stored_cis=cis, stored_rels=rels, replace=False)


def check_input(
    path: str | Path, format: str | None = None, *, option: str = "--format"
) -> FileFormat:
    """The format of the import file ``path`` (``format``, else its extension), once it is
    known to be a file that can be opened: a missing file, a directory or an unknown format is
    an :class:`~cmdb.errors.ImportFormatError` naming ``path`` (and ``option``, the flag that
    gives the format), raised before anything else is done.

    >>> check_input("/nonexistent.jsonl")
    Traceback (most recent call last):
    cmdb.errors.ImportFormatError: /nonexistent.jsonl: cannot read (No such file or directory)
    """
    path = Path(path)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _format_of(path, format, option)


def _format_of(path: Path, format: str | None, option: str = "--format") -> FileFormat:
    name = format or path.suffix.lstrip(".").lower()
    try:
        return FileFormat(name)
    except ValueError:
        given = f"format '{format}'" if format else f"extension '{path.suffix}'"
        raise ImportFormatError(
            f"{path}: unknown {given}: use json, jsonl, csv or graphml ({option})"
        ) from None


def _parse(path: Path, format: str | None, registry: Registry | None) -> Parsed:
    fmt = check_input(path, format)
    if fmt is FileFormat.JSONL:
        return parse_jsonl(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if fmt is FileFormat.GRAPHML:
        return _parse_graphml(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(f"{path}:{line}: not UTF-8 text") from None
    if fmt is FileFormat.JSON:
        return _parse_json(path, text)
    return _parse_csv(path, text, registry)


def _locate(err: ValidationError, path: Path, lines: dict[str, int]) -> ValidationError:
    """The store's ``cis[3] 'x': ...`` location as ``FILE:LINE`` (CSV, JSON Lines), else
    ``FILE: ...``."""
    places = {key: f"{path}:{line}" for key, line in lines.items()}
    return locate(err, places) or err.at(str(path))


def raced(err: ConflictError, path: str | Path) -> ConflictError:
    """The store's conflict with what an import read (``CI 'x' already exists``: another
    writer got there between the read and the write), naming the file and what to do."""
    raced_err = type(err).__new__(type(err))
    raced_err.__dict__.update(err.__dict__)
    raced_err.args = (
        f"{path}: {err}: the store changed after this import read it (another writer?); "
        "import the file again",
    )
    return raced_err


def locate(err: ValidationError, places: dict[str, str]) -> ValidationError | None:
    """``err``, located by the store in its batch (``cis[3] 'x': field ...``), at the item's
    place in the file instead (``places["cis[3]"]``: ``in.jsonl:7``, or ``in.json: cis[3]
    'x'``); None when ``err`` names no item of ``places``.

    >>> err = ValidationError("missing", field="name", location="cis[0] 'a'")
    >>> str(locate(err, {"cis[0]": "in.jsonl:7"}))
    "in.jsonl:7: field 'name': missing"
    """
    match = _ITEM_RE.match(err.location or "")
    if not match or match.group(1) not in places:
        return None
    located = type(err).__new__(type(err))
    where = places[match.group(1)] + match.group(2)
    ValidationError.__init__(located, err.detail, field=err.field, location=where)
    return located


def _label(item: dict) -> str:
    if isinstance(item.get("id"), str):
        return f" '{item['id']}'"
    parts = [item.get(k) for k in ("source", "type", "target")]
    return f" '{'|'.join(parts)}'" if all(isinstance(p, str) for p in parts) else ""  # type: ignore[arg-type]


def _parse_json(path: Path, text: str) -> Parsed:
    try:
        data = load_json(text)
    except JSONSyntaxError as exc:
        raise ImportFormatError(f"{path}:{exc.line}: invalid JSON ({exc.problem})") from None
    if not isinstance(data, dict) or set(data) - set(_SECTIONS):
        raise ImportFormatError(
            f"{path}: expected a JSON object with the lists 'cis', "
            "'relationships' and 'records' (as `cmdb export` writes)"
        )
    parsed = Parsed()
    for section in _SECTIONS:
        items = data.get(section, [])
        if not isinstance(items, list):
            raise ImportFormatError(f"{path}: '{section}' must be a list")
        for i, item in enumerate(items):
            where = f"{path}: {section}[{i}]"
            if not isinstance(item, dict):
                raise ValidationError("expected a JSON object", location=where)
            where += _label(item)
            if section == "records":
                try:
                    parsed.records.append(_RECORD.validate_python(item))
                except PydanticError as exc:
                    raise pydantic_error(exc, location=where) from None
            else:
                getattr(parsed, section).append(Item(item, where))
    return parsed


class JSONSyntaxError(ValueError):
    """Text that is not JSON, or JSON this reader refuses: ``problem`` says what and where in
    the line (``Expecting value, column 7``), ``line`` is the line of the text it is on."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


_AT = re.compile(r" at line (\d+) column (\d+)$")
_NOT_JSON = {
    "expected value": "NaN and Infinity are not JSON: write null or a string",
    "invalid number": "NaN and Infinity are not JSON: write null or a string",
    "recursion limit exceeded": "nested too deeply",
    "number out of range": "a number of more than 4300 digits",
}


def _not_json(name: str) -> Any:
    raise ValueError(name)


def load_json(text: str) -> Any:
    """The JSON value of ``text``, as :func:`json.loads` gives it, but refusing what is not
    JSON or cannot be held: ``NaN`` and ``Infinity``, nesting deeper than Python's recursion
    limit, integers of more than 4300 digits. Raises :class:`JSONSyntaxError`. The fast
    parser (jiter) reads the usual document; :func:`json.loads` takes what it refuses (a lone
    surrogate escape, nesting beyond its 200 levels) and gives the message of a syntax error.

    >>> load_json('{"a": [1, "x"]}')
    {'a': [1, 'x']}
    >>> try:
    ...     load_json('{"a":\\n NaN}')
    ... except JSONSyntaxError as exc:
    ...     print(exc.line, exc.problem)
    2 NaN and Infinity are not JSON: write null or a string, column 2
    """
    try:
        return from_json(text, cache_strings="keys", allow_inf_nan=False)
    except ValueError as exc:
        fast = str(exc)
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise JSONSyntaxError(f"{exc.msg}, column {exc.colno}", exc.lineno) from None
    except (RecursionError, ValueError):
        pass
    where = _AT.search(fast)
    kind = fast[: where.start()] if where else fast
    problem = _NOT_JSON.get(kind, kind)
    if where is None:
        raise JSONSyntaxError(problem, 1) from None
    raise JSONSyntaxError(f"{problem}, column {where.group(2)}", int(where.group(1))) from None


class Entry(NamedTuple):
    """One line of a JSON Lines file: its section (``cis``, ``relationships``, ``records``),
    the item (a record is validated whole), and the line number."""

    section: str
    item: Item | AnyRecord
    line: int


_JSONL_SECTIONS = {"ci": "cis", "relationship": "relationships"}


def jsonl_entries(lines: Iterable[bytes], name: Path) -> Iterator[Entry]:
    """The entries of a JSON Lines file read line by line (blank lines skipped); an error names
    the line: ``name:LINE: invalid JSON ...``, ``name:LINE: field 'kind': ...``."""
    for number, raw in enumerate(lines, 1):
        where = f"{name}:{number}"
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFormatError(f"{where}: not UTF-8 text") from None
        text = text.rstrip("\r\n")  # an error at the end of the line is past its last column
        if not text.strip():
            continue
        try:
            doc = load_json(text)
        except JSONSyntaxError as exc:
            raise ImportFormatError(f"{where}: invalid JSON ({exc.problem})") from None
        if not isinstance(doc, dict):
            raise ValidationError("expected a JSON object", location=where)
        kind = doc.get("kind")
        if kind in _JSONL_SECTIONS:
            del doc["kind"]
            yield Entry(_JSONL_SECTIONS[kind], Item(doc, where), number)
        elif isinstance(kind, str) and kind in _RECORD_KINDS:
            try:
                yield Entry("records", _RECORD.validate_python(doc), number)
            except PydanticError as exc:
                raise pydantic_error(exc, location=where) from None
        else:
            shown = (
                f"'{kind}'" if isinstance(kind, str) else "missing" if kind is None else "not text"
            )
            raise ValidationError(
                f"{shown}: use ci, relationship or a record kind ({', '.join(_RECORD_KINDS)})",
                field="kind",
                location=where,
            )


def parse_jsonl(path: Path, data: bytes | None = None) -> Parsed:
    """A whole JSON Lines file (or ``data``, named ``path`` in errors), one line at a time."""
    parsed = Parsed()
    try:
        with io.BytesIO(data) if data is not None else path.open("rb") as lines:
            for entry in jsonl_entries(lines, path):
                if entry.section == "records":
                    parsed.records.append(entry.item)  # type: ignore[arg-type]
                    continue
                items: list[Item] = getattr(parsed, entry.section)
                parsed.lines[f"{entry.section}[{len(items)}]"] = entry.line
                items.append(entry.item)  # type: ignore[arg-type]
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parsed


def _from_flat(flat: dict[str, Any], fixed: tuple[str, ...]) -> dict[str, Any]:
    """A CI or relationship document from flat columns (CSV cells or GraphML keys); a None
    value is an empty cell."""
    doc: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for key, value in flat.items():
        if key.startswith("attr."):
            attrs[key[5:]] = value
        elif key.startswith("attrjson."):
            try:
                attrs[key[9:]] = None if value is None else json.loads(value)
            except (TypeError, ValueError):
                raise ValidationError("not valid JSON", field=key) from None
        elif fixed is _CI_COLUMNS and key in _ID_LISTS:
            ids[key] = [v.strip() for v in str(value or "").split(";") if v.strip()]
        elif fixed is _CI_COLUMNS and key in _ID_SCALARS:
            ids[key] = value
        elif value is not None or key not in _KEPT_WHEN_EMPTY:
            doc[key] = value
    if ids:
        doc["identifiers"] = ids
    if attrs:
        doc["attributes"] = attrs
    return doc


def _csv_header(path: Path, header: list[str] | None) -> tuple[str, tuple[str, ...]]:
    if not header:
        raise ImportFormatError(f"{path}:1: empty file, expected a header line")
    cols = set(header)
    fixed: tuple[str, ...]
    if {"source", "type", "target"} <= cols:
        kind, fixed = "relationships", _REL_COLUMNS
    elif {"id", "class", "name"} <= cols:
        kind, fixed = "cis", _CI_COLUMNS
    else:
        raise ImportFormatError(
            f"{path}:1: the header needs the columns id,class,name (a CI "
            "file) or source,type,target (a relationship file)"
        )
    known = set(fixed) | (set(_ID_SCALARS + _ID_LISTS) if kind == "cis" else set())
    for col in header:
        if header.count(col) > 1:
            raise ImportFormatError(f"{path}:1: column '{col}' appears twice")
        if col not in known and not (col.startswith("attr.") and len(col) > 5):
            raise ImportFormatError(f"{path}:1: unknown column '{col}'")
    return kind, fixed


def _cell(key: str, text: str, registry: Registry | None, ci_class: str) -> Any:
    if not text:
        return None
    if key.startswith("attr."):
        return parse_value(text, declared_type(registry, ci_class, key[5:]))
    return text


def _parse_csv(path: Path, text: str, registry: Registry | None) -> Parsed:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    parsed = Parsed()
    try:
        header = [h.strip() for h in next(reader, [])]
        kind, fixed = _csv_header(path, header)
        items: list[Item] = getattr(parsed, kind)
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ImportFormatError(
                    f"{path}:{line}: expected {len(header)} cells, got {len(row)}"
                )
            cells = {k: v.strip() for k, v in zip(header, row, strict=True)}
            cls = cells.get("class", "")
            try:
                doc = _from_flat({k: _cell(k, v, registry, cls) for k, v in cells.items()}, fixed)
            except ValidationError as err:
                raise err.at(f"{path}:{line}") from None
            items.append(Item(doc, f"{path}:{line}"))
            parsed.lines[f"{kind}[{len(items) - 1}]"] = line
    except csv.Error as exc:
        raise ImportFormatError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    return parsed


def _parse_graphml(path: Path, data: bytes) -> Parsed:
    import networkx as nx  # only GraphML needs it; keeps CLI start-up fast

    try:
        graph = nx.read_graphml(io.BytesIO(data), force_multigraph=True)
    except ET.ParseError as exc:
        line = exc.position[0]
        raise ImportFormatError(
            f"{path}:{line}: not valid XML ({str(exc).split(':')[0]})"
        ) from None
    except (nx.NetworkXError, ValueError, KeyError, TypeError) as exc:
        raise ImportFormatError(f"{path}: not valid GraphML ({exc})") from None
    if not graph.is_directed():
        raise ImportFormatError(f'{path}: the graph must be directed (edgedefault="directed")')
    _check_graphml_ids(path, data)
    parsed = Parsed()
    for node, attrs in graph.nodes(data=True):
        where = f"{path}: node '{node}'"
        try:
            parsed.cis.append(Item({"id": node, **_from_flat(attrs, _CI_COLUMNS)}, where))
        except ValidationError as err:
            raise err.at(where) from None
    for source, target, attrs in graph.edges(data=True):
        where = f"{path}: edge '{source}' -> '{target}'"
        try:
            doc = _from_flat(attrs, _REL_COLUMNS)
        except ValidationError as err:
            raise err.at(where) from None
        parsed.relationships.append(Item({"source": source, "target": target, **doc}, where))
    return parsed


def _check_graphml_ids(path: Path, data: bytes) -> None:
    """What networkx's reader lets pass: a node without an id, two nodes with one id (it
    merges them), an edge to an id no node has (it makes the node up, without a class)."""
    nodes: set[str] = set()
    ends: list[tuple[str, str, str]] = []
    for _, element in ET.iterparse(io.BytesIO(data)):
        tag = element.tag.rpartition("}")[2]
        if tag == "node":
            node = element.get("id")
            if node is None:
                raise ImportFormatError(f"{path}: a node without an id")
            if node in nodes:
                raise ValidationError(
                    "a second node with this id", field="id", location=f"{path}: node '{node}'"
                )
            nodes.add(node)
        elif tag == "edge":
            ends.append((element.get("source") or "", element.get("target") or "", ""))
        element.clear()
    for source, target, _ in ends:
        for field, end in (("source", source), ("target", target)):
            if end not in nodes:
                raise ValidationError(
                    f"'{end}' is not a node of the file (an edge joins two of its nodes)",
                    field=field,
                    location=f"{path}: edge '{source}' -> '{target}'",
                )


# -- writing (streamed: see cmdb.export_stream) -----------------------------------------------
def export_json(store: GraphStore, *, include_retired: bool = False) -> dict[str, list]:
    """``{"cis": [...], "relationships": [...], "records": [...]}``, the JSON import shape, in
    memory (for small stores and tests; :func:`write_export` streams it).

    Every record is exported except API keys (they belong to the deployment, not to the
    configuration data, and an export file travels); retired CIs that records link to come
    along, so the file imports cleanly into an empty store.
    """
    records = export_records(store)
    cis = export_cis(store, records, include_retired=include_retired)
    rels = iter_relationships(store, include_retired=include_retired)
    dump = {"mode": "json", "exclude": _STORE_OWNED}
    return {
        "cis": [c.model_dump(by_alias=True, **dump) for c in cis],  # type: ignore[arg-type]
        "relationships": [r.model_dump(**dump) for r in rels],  # type: ignore[arg-type]
        "records": [r.model_dump(**dump) for r in records],  # type: ignore[arg-type]
    }


def export_csv(store: GraphStore, what: str = "cis", *, include_retired: bool = False) -> str:
    """The CIs (``what="cis"``) or relationships (``"relationships"``) as CSV text."""
    return export_text(store, format="csv", what=what, include_retired=include_retired)


def export_graphml(store: GraphStore, *, include_retired: bool = False) -> str:
    """The graph as GraphML text: one node per CI (keyed by id), one edge per relationship."""
    return export_text(store, format="graphml", include_retired=include_retired)


def export_text(
    store: GraphStore, *, format: str = "json", what: str = "cis", include_retired: bool = False
) -> str:
    """The export in ``format`` as one text (:func:`write_export` writes it to a stream)."""
    buf = io.StringIO()
    write_export(
        store, buf, format=FileFormat(format).value, what=what, include_retired=include_retired
    )
    return buf.getvalue()
