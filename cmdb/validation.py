"""Validation of a batch against the registry and the stored state, shared by every backend.

Assumptions: the store calls :func:`validate_batch` inside its write transaction, before it
writes anything, passing a ``lookup`` that reports the class and status of stored CIs. The first
problem raises a :class:`~cmdb.errors.ValidationError` located at the batch item, e.g.
``relationships[4] 'app-1|runs_on|srv-9': field 'target': CI 'srv-9' does not exist``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import ValidationError as PydanticError

from cmdb.enums import Lifecycle
from cmdb.errors import ValidationError
from cmdb.model import CI, Batch, Relationship
from cmdb.registry import Registry

__all__ = [
    "Lookup",
    "pydantic_error",
    "validate_batch",
    "validate_ci",
    "validate_relationship",
]

Lookup = Callable[[Iterable[str]], dict[str, tuple[str, Lifecycle]]]
"""Given CI ids, return ``{id: (class, status)}`` for those that are stored."""


def validate_ci(ci: CI, registry: Registry) -> None:
    """Check one CI against the registry: class, attributes, group settings."""
    spec = registry.class_(ci.ci_class)
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
    for i, rec in enumerate(batch.records):
        for ci_id in rec.ci_ids:
            if ci_id not in known:
                raise ValidationError(
                    f"CI '{ci_id}' does not exist",
                    field="ci_ids",
                    location=f"records[{i}] '{rec.id}'",
                )


def pydantic_error(exc: PydanticError, *, location: str | None = None) -> ValidationError:
    """Our :class:`ValidationError` for pydantic's, naming the first bad field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    msg = err["msg"]
    if err.get("type") == "missing":
        msg = "is required"
    elif "input" in err and err["type"] not in ("extra_forbidden",) and not isinstance(
        err["input"], dict | list
    ):
        msg = f"{msg} (got {err['input']!r})"
    return ValidationError(msg, field=field, location=location)
