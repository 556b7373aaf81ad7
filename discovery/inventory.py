"""The ``inventory`` scanner: CSV, JSON or YAML inventory files, read through a mapping file.

Assumptions: an inventory is a table of CIs as people export it from a spreadsheet or another
CMDB; the mapping file (YAML or JSON) says which column holds what::

    source: inventory            # optional: the source name (for precedence and staleness)
    records: hosts               # JSON/YAML: dotted path to the list of records (optional)
    class: {column: Type, values: {Server: physical_server, VM: virtual_machine},
            default: physical_server}          # or one class for every row: `class: database`
    columns: {name: Hostname, serial_number: Serial, hostname: Hostname, domain: Domain,
              fqdn: FQDN, ip: IP, mac: MAC, cloud_id: Cloud id, owner: Owner,
              support_group: Team, description: Notes}   # only `name` is required
    attributes: {os: OS, cpu_count: {column: CPUs, type: int}}
    relationships: [{column: Runs on, type: runs_on, target_class: physical_server}]

A relationship column names other rows (by name, or key when ``key:`` names a key column;
several separated by ``,`` or ``;``); a name that no row has becomes an *unresolved* CI of
``target_class`` (an error without one). Cells are stripped and an empty cell is no value.
Multi-valued identifiers (host names, IPs, MACs) are split like relationship cells. A host name
with a domain and no FQDN gets ``hostname.domain`` as its FQDN; the domain is also kept as the
``domain`` attribute. Each file is one scope element (``file:<absolute path>``) and a run that
reads every file is complete.

Errors (:class:`~cmdb.errors.ImportFormatError`) name the file and line (CSV, YAML) or the
file and the record's path (JSON): one line, nothing written.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from cmdb.errors import ImportFormatError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI, SeenRelationship

__all__ = ["Mapping", "Row", "get_mapping", "get_rows", "scan", "transform_rows"]

_SPLIT = re.compile(r"\s*[,;]\s*")
_MANY = {"hostname": "hostnames", "ip": "ips", "mac": "macs", "cloud_id": "cloud_ids"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ClassMap(_Strict):
    column: str | None = None
    values: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class AttrMap(_Strict):
    column: str
    type: Literal["str", "int", "float", "bool", "list"] = "str"


class RelMap(_Strict):
    column: str
    type: str = "depends_on"
    target_class: str | None = None


class Columns(_Strict):
    name: str
    serial_number: str | None = None
    hostname: str | None = None
    domain: str | None = None
    fqdn: str | None = None
    ip: str | None = None
    mac: str | None = None
    cloud_id: str | None = None
    owner: str | None = None
    support_group: str | None = None
    description: str | None = None


class Mapping(_Strict):
    """The mapping file (see the module docstring)."""

    source: str = Field(default="inventory", pattern=r"^[a-z][a-z0-9_-]*$")
    records: str | None = None
    key: str | None = None
    ci_class: str | ClassMap = Field(alias="class")
    columns: Columns
    attributes: dict[str, str | AttrMap] = Field(default_factory=dict)
    relationships: list[RelMap] = Field(default_factory=list)

    def used(self) -> list[str]:
        """Every column the mapping reads."""
        cols = [c for c in self.columns.model_dump().values() if c]
        cols += [a if isinstance(a, str) else a.column for a in self.attributes.values()]
        cols += [r.column for r in self.relationships]
        if isinstance(self.ci_class, ClassMap) and self.ci_class.column:
            cols.append(self.ci_class.column)
        return list(dict.fromkeys([*cols, *([self.key] if self.key else [])]))


@dataclass(frozen=True)
class Row:
    """One record of an inventory file: its cells by column, where it is, its file's scope."""

    values: dict[str, Any]
    where: str
    scope: str


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFormatError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ImportFormatError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ImportFormatError:
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or "cannot parse").split())
    line = f":{mark.line + 1}" if mark is not None else ""
    return ImportFormatError(f"{path}{line}: malformed YAML ({problem})")


def get_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file (YAML or JSON)."""
    path = Path(path)
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(data, dict):
        raise ImportFormatError(f"{path}: a mapping file is a mapping (class:, columns:...)")
    try:
        return Mapping.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ImportFormatError(f"{path}: field '{loc}': {err['msg']}") from None


def _file_scope(path: Path) -> str:
    return f"file:{path.resolve().as_posix()}"


def _csv_rows(path: Path, text: str, mapping: Mapping) -> list[Row]:
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise ImportFormatError(f"{path}: empty CSV file (no header line)")
        dup = next((h for h in header if header.count(h) > 1 and h), None)
        if dup:
            raise ImportFormatError(f"{path}:1: column '{dup}' appears twice in the header")
        for col in mapping.used():
            if col not in header:
                raise ImportFormatError(
                    f"{path}:1: the mapping names column '{col}', which the "
                    f"header does not have (it has: {', '.join(header)})"
                )
        rows, start = [], reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(cells) > len(header):
                    raise ImportFormatError(
                        f"{path}:{start}: {len(cells)} cells, but the header "
                        f"has {len(header)} columns"
                    )
                values = {h: c.strip() or None for h, c in zip(header, cells, strict=False)}
                rows.append(Row(values, f"{path}:{start}", _file_scope(path)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFormatError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    return rows


def _walk(data: Any, dotted: str | None, path: Path) -> Any:
    for part in dotted.split(".") if dotted else []:
        if not isinstance(data, dict) or part not in data:
            raise ImportFormatError(f"{path}: no '{dotted}' in the file (the mapping's records)")
        data = data[part]
    if dotted is None and isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise ImportFormatError(
                f"{path}: which list holds the records? Say it with `records:` in the mapping"
            )
        return data[lists[0]], lists[0]
    return data, dotted or ""


def _yaml_lines(text: str, dotted: str) -> list[int]:
    """The line each record of the list at ``dotted`` starts on (YAML, 1-based)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for part in dotted.split(".") if dotted else []:
        node = next(v for k, v in node.value if k.value == part)
    return [item.start_mark.line + 1 for item in node.value]


def _tree_rows(path: Path, text: str, mapping: Mapping, fmt: str) -> list[Row]:
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{path}:{exc.lineno}: malformed JSON ({exc.msg}, column {exc.colno})"
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    records, dotted = _walk(data, mapping.records, path)
    if not isinstance(records, list):
        raise ImportFormatError(f"{path}: '{dotted or 'the file'}' is not a list of records")
    lines = _yaml_lines(text, dotted) if fmt == "yaml" else None
    rows = []
    for i, rec in enumerate(records):
        where = f"{path}:{lines[i]}" if lines else f"{path}: {dotted or 'records'}[{i}]"
        if not isinstance(rec, dict):
            raise ImportFormatError(
                f"{where}: a record is a mapping of fields, not {type(rec).__name__}"
            )
        values = {}
        for col in mapping.used():
            value: Any = rec
            for part in col.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            values[col] = (value.strip() or None) if isinstance(value, str) else value
        rows.append(Row(values, where, _file_scope(path)))
    return rows


def get_rows(path: str | Path, mapping: Mapping) -> list[Row]:
    """The records of one inventory file, by its suffix (``.csv``, ``.json``, ``.yaml``)."""
    path = Path(path)
    fmt = {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix.lower())
    if fmt is None:
        raise ImportFormatError(f"{path}: unknown inventory format (use .csv, .json or .yaml)")
    text = _read(path)
    rows = _csv_rows(path, text, mapping) if fmt == "csv" else _tree_rows(path, text, mapping, fmt)
    if not rows:
        raise ImportFormatError(f"{path}: no inventory records in the file")
    if not any(r.values.get(mapping.columns.name) for r in rows):
        raise ImportFormatError(
            f"{path}: no record has a value in '{mapping.columns.name}' (the "
            "name column): nothing this scanner understands"
        )
    return rows


def _text(row: Row, col: str | None) -> str | None:
    if col is None or row.values.get(col) is None:
        return None
    return str(row.values[col])


def _convert(row: Row, col: str, kind: str) -> Any:
    value = row.values.get(col)
    if value is None or not isinstance(value, str) or kind == "str":
        return value
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "list":
            return _SPLIT.split(value)
        if value.lower() in ("true", "yes", "y", "1", "false", "no", "n", "0"):
            return value.lower() in ("true", "yes", "y", "1")
    except ValueError:
        pass
    raise ImportFormatError(f"{row.where}: column '{col}': {value!r} is not a {kind}")


def _class(row: Row, spec: str | ClassMap) -> str:
    if isinstance(spec, str):
        return spec
    value = _text(row, spec.column)
    found = spec.values.get(value, value) if value is not None else spec.default
    if found is None:
        raise ImportFormatError(
            f"{row.where}: no class (column '{spec.column}' is empty and "
            "the mapping's class has no default)"
        )
    return found


def _identifiers(row: Row, cols: Columns) -> tuple[Identifiers, dict[str, Any]]:
    data: dict[str, Any] = {}
    for field in ("serial_number", "fqdn"):
        data[field] = _text(row, getattr(cols, field))
    for field, many in _MANY.items():
        text = _text(row, getattr(cols, field))
        data[many] = _SPLIT.split(text) if text else []
    domain = _text(row, cols.domain)
    if domain and data["hostnames"] and not data["fqdn"]:
        data["fqdn"] = f"{data['hostnames'][0]}.{domain}"
    try:
        return Identifiers(**data), ({"domain": domain} if domain else {})
    except PydanticError as exc:
        err = exc.errors()[0]
        field = {v: k for k, v in _MANY.items()}.get(str(err["loc"][0]), str(err["loc"][0]))
        col = getattr(cols, field, None)
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ImportFormatError(f"{row.where}: column '{col}': {msg}") from None


def transform_rows(
    rows: Sequence[Row], mapping: Mapping
) -> tuple[list[SeenCI], list[SeenRelationship]]:
    """The CIs and relationships that ``rows`` describe; pure. Raises
    :class:`~cmdb.errors.ImportFormatError` at the row for bad cells, duplicates and
    references to names no row has (unless the relationship has a ``target_class``)."""
    src, cols = mapping.source, mapping.columns
    key_col = mapping.key or cols.name
    cis: dict[str, SeenCI] = {}
    names: dict[str, str | None] = {}  # name or key, lower case -> row key (None: several)
    for row in rows:
        name = _text(row, cols.name)
        ident = _text(row, key_col)
        if name is None or ident is None:
            raise ImportFormatError(
                f"{row.where}: no value in column '{cols.name if name is None else key_col}'"
            )
        key = f"{src}:{ident}"
        if key in cis:
            raise ImportFormatError(f"{row.where}: '{ident}' is already at {cis[key].origin}")
        identifiers, extra = _identifiers(row, cols)
        attrs = {
            a: _convert(row, spec, "str")
            if isinstance(spec, str)
            else _convert(row, spec.column, spec.type)
            for a, spec in mapping.attributes.items()
        }
        cis[key] = SeenCI(
            key=key,
            ci_class=_class(row, mapping.ci_class),
            name=name,
            identifiers=identifiers,
            attributes={**extra, **{k: v for k, v in attrs.items() if v is not None}},
            owner=_text(row, cols.owner),
            support_group=_text(row, cols.support_group),
            description=_text(row, cols.description),
            origin=row.where,
            scope=row.scope,
        )
        for label in {ident.lower(), name.lower()}:
            names[label] = key if names.get(label, key) == key else None
    rels: dict[tuple[str, str, str], SeenRelationship] = {}
    for row in rows:
        key = f"{src}:{_text(row, key_col)}"
        for spec in mapping.relationships:
            for target in _SPLIT.split(_text(row, spec.column) or ""):
                if not target:
                    continue
                if target.lower() in names and names[target.lower()] is None:
                    raise ImportFormatError(
                        f"{row.where}: column '{spec.column}' names "
                        f"'{target}', which several rows have"
                    )
                found = names.get(target.lower())
                if found is None:
                    if spec.target_class is None:
                        raise ImportFormatError(
                            f"{row.where}: column '{spec.column}' names '{target}', which no "
                            "row has (give the relationship a target_class to record it as "
                            "unresolved)"
                        )
                    found = f"{src}:{target}"
                    cis.setdefault(
                        found,
                        SeenCI(
                            key=found,
                            ci_class=spec.target_class,
                            name=target,
                            unresolved=True,
                            origin=row.where,
                            scope=row.scope,
                        ),
                    )
                if found != key:
                    rels.setdefault(
                        (key, spec.type, found),
                        SeenRelationship(
                            source=key, type=spec.type, target=found, origin=row.where
                        ),
                    )
    return list(cis.values()), list(rels.values())


def scan(paths: Iterable[str | Path], *, mapping: str | Path | None = None) -> ScanResult:
    """Read the inventory files at ``paths`` through the ``mapping`` file."""
    if mapping is None:
        raise ImportFormatError(
            "the inventory scanner needs --mapping FILE (which column is "
            "the name, the serial number, the class...)"
        )
    started = utcnow()
    spec = get_mapping(mapping)
    files = [Path(p) for p in paths]
    rows = [row for path in files for row in get_rows(path, spec)]
    cis, rels = transform_rows(rows, spec)
    return ScanResult(
        source=spec.source,
        scope=[_file_scope(p) for p in files],
        complete=True,
        started_at=started,
        cis=cis,
        relationships=rels,
    ).finished()
