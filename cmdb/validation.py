"""Validation of a batch against the registry and the stored state, shared by every backend.

Assumptions: the store calls :func:`validate_batch` inside its write transaction, before it
writes anything, passing a ``lookup`` that reports the class and status of stored CIs. The first
problem raises a :class:`~cmdb.errors.ValidationError` located at the batch item, e.g.
``relationships[4] 'app-1|runs_on|srv-9': field 'target': CI 'srv-9' does not exist``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError as PydanticError

from cmdb.enums import Lifecycle
from cmdb.errors import ConflictError, NotFoundError, StaleVersionError, ValidationError
from cmdb.model import CI, MAX_CI_BYTES, MAX_VALUE_BYTES, Batch, Expected, Relationship
from cmdb.registry import Registry

__all__ = [
    "Lookup",
    "check_expected",
    "check_text",
    "pydantic_error",
    "validate_batch",
    "validate_ci",
    "validate_relationship",
]

Lookup = Callable[[Iterable[str]], dict[str, tuple[str, Lifecycle]]]
"""Given CI ids, return ``{id: (class, status)}`` for those that are stored."""

# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F: one C-level search, not a
# category look-up per character (a fifth of a bulk load's client time)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_text(value: str, *, field: str, multiline: bool = False) -> None:
    """Refuse control characters (NUL, ESC...) in user text, naming the first one by code
    point and never echoing it raw. ``multiline`` text may hold tabs and line breaks.

    >>> check_text("Core DB", field="name")
    >>> check_text("evil\x1b[2J", field="name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cmdb.errors.ValidationError: field 'name': must not contain control characters (U+001B ...)
    """
    bad = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if bad is not None:
        raise ValidationError(
            f"must not contain control characters (U+{ord(bad.group()):04X} at position "
            f"{bad.start()})",
            field=field,
        )


def _check_values(value: Any, field: str) -> None:
    """Control characters in attribute text (keys and string values, nested)."""
    if isinstance(value, str):
        check_text(value, field=field, multiline=True)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            check_text(str(k), field=field)
            _check_values(v, f"{field}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_values(v, f"{field}[{i}]")


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


def _check_attributes(attributes: Mapping[str, Any], *, sized: bool = True) -> None:
    """Keys without control characters; values of at most :data:`MAX_VALUE_BYTES` as JSON
    (unless not ``sized``: the caller knows the whole document is smaller than that)."""
    for key, value in attributes.items():
        check_text(key, field="attributes")
        _check_values(value, f"attributes.{key}")
        if not sized:
            continue
        size = _size(value)
        if size > MAX_VALUE_BYTES:
            raise ValidationError(
                f"value is {size:,} bytes as JSON; the limit is {MAX_VALUE_BYTES:,}",
                field=f"attributes.{key}",
            )


def validate_ci(ci: CI, registry: Registry) -> None:
    """Check one CI against the registry (class, attributes, group settings), its text (no
    control characters) and its size (:data:`~cmdb.model.MAX_VALUE_BYTES` per attribute value,
    :data:`~cmdb.model.MAX_CI_BYTES` per CI)."""
    spec = registry.class_(ci.ci_class)
    check_text(ci.name, field="name")
    for name in ("owner", "support_group"):
        if getattr(ci, name) is not None:
            check_text(getattr(ci, name), field=name)
    if ci.description is not None:
        check_text(ci.description, field="description", multiline=True)
    for kind, value in ci.identifiers.items():
        check_text(value, field=f"identifiers.{kind}")
    size = _size(ci.to_json())  # no value is larger than the document that holds it
    _check_attributes(ci.attributes, sized=size > MAX_VALUE_BYTES)
    if size > MAX_CI_BYTES:
        raise ValidationError(
            f"CI document is {size:,} bytes as JSON; the limit is {MAX_CI_BYTES:,}"
        )
    registry.validate_attributes(ci.ci_class, ci.attributes)
    if ci.min_required is not None and not spec.group:
        raise ValidationError(
            f"only redundancy groups take min_required; '{ci.ci_class}' is not a group class",
            field="min_required",
        )


def validate_relationship(
    rel: Relationship, registry: Registry, source_class: str, target_class: str
) -> None:
    registry.rel_type(rel.type)
    registry.check_relationship(source_class, rel.type, target_class)
    _check_attributes(rel.attributes)


def validate_batch(batch: Batch, registry: Registry, lookup: Lookup) -> None:
    """Raise on the first invalid item of ``batch``; return None when all of it may be applied."""
    known: dict[str, tuple[str, Lifecycle]] = {}
    seen: set[str] = set()
    for i, ci in enumerate(batch.cis):
        where = f"cis[{i}] '{ci.id}'"
        if ci.id in seen:
            raise ValidationError("duplicate CI id in the batch", field="id", location=where)
        seen.add(ci.id)
        try:
            validate_ci(ci, registry)
        except ValidationError as err:
            raise err.at(where) from None
        known[ci.id] = (ci.ci_class, ci.status)

    wanted = {r.source for r in batch.relationships} | {r.target for r in batch.relationships}
    wanted |= set(batch.retire_cis)
    for rec in batch.records:
        wanted |= set(rec.ci_ids)
    stored = lookup(sorted(wanted - known.keys())) if wanted - known.keys() else {}
    known = {**stored, **known}

    retiring = set(batch.retire_cis)
    seen_rels: set[tuple[str, str, str]] = set()
    for i, rel in enumerate(batch.relationships):
        where = f"relationships[{i}] '{rel.id}'"
        if rel.key in seen_rels:
            raise ValidationError("duplicate relationship in the batch", location=where)
        seen_rels.add(rel.key)
        ends = {}
        for end in ("source", "target"):
            ci_id = getattr(rel, end)
            if ci_id not in known:
                raise ValidationError(f"CI '{ci_id}' does not exist", field=end, location=where)
            cls, status = known[ci_id]
            if rel.status == "active" and (status is Lifecycle.RETIRED or ci_id in retiring):
                raise ValidationError(f"CI '{ci_id}' is retired", field=end, location=where)
            ends[end] = cls
        try:
            validate_relationship(rel, registry, ends["source"], ends["target"])
        except ValidationError as err:
            raise err.at(where) from None

    for i, ci_id in enumerate(batch.retire_cis):
        if ci_id not in known:
            raise ValidationError(
                f"CI '{ci_id}' does not exist", field="id", location=f"retire_cis[{i}]"
            )
    record_ids: set[str] = set()
    for i, rec in enumerate(batch.records):
        where = f"records[{i}] '{rec.id}'" if rec.id else f"records[{i}] (new {rec.kind})"
        if rec.id is not None:
            if rec.id in record_ids:
                raise ValidationError(
                    "duplicate record id in the batch", field="id", location=where
                )
            record_ids.add(rec.id)
        try:
            check_text(rec.title, field="title")
        except ValidationError as err:
            raise err.at(where) from None
        for ci_id in rec.ci_ids:
            if ci_id not in known:
                raise ValidationError(
                    f"CI '{ci_id}' does not exist", field="ci_ids", location=where
                )


_ENTITY_NAME = {"ci": "CI", "relationship": "relationship", "record": "record"}


def check_expected(
    expected: list[Expected], stored: Callable[[list[Expected]], dict[tuple[str, str], int]]
) -> None:
    """Compare each expectation with the stored version; ``stored`` returns
    ``{(entity, id): version}`` for the expected entities that exist. Raises
    :class:`~cmdb.errors.ConflictError` on the first stale or violated one (or
    :class:`~cmdb.errors.NotFoundError` when a version is expected of something that never
    existed). Called by every backend inside the batch's transaction, before it writes."""
    if not expected:
        return
    versions = stored(expected)
    for exp in expected:
        name = f"{_ENTITY_NAME[exp.entity]} '{exp.id}'"
        have = versions.get((exp.entity, exp.id))
        if exp.version == 0:
            if have is not None:
                raise ConflictError(f"{name} already exists (version {have})")
        elif have is None:
            raise NotFoundError(_ENTITY_NAME[exp.entity], exp.id)
        elif have != exp.version:
            raise StaleVersionError(
                f"{name} was changed by someone else: version {have} is stored, you expected "
                f"{exp.version}; read it again and retry",
                stored=have,
                expected=exp.version,
            )


def pydantic_error(exc: PydanticError, *, location: str | None = None) -> ValidationError:
    """Our :class:`ValidationError` for pydantic's, naming the first bad field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "missing":
        msg = "is required"
    elif (
        "input" in err
        and err["type"] not in ("extra_forbidden",)
        and not isinstance(err["input"], dict | list)
    ):
        msg = f"{msg} (got {err['input']!r})"
    return ValidationError(msg, field=field, location=location)
