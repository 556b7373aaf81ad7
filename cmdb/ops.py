"""Single-entity operations on top of batches, shared by the CLI and the API.

Assumptions: each call is one atomic batch; ``create_*`` refuses to overwrite, ``update_ci``
patches only the given fields, and removal is retirement (kept in history).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticError

from cmdb.errors import ConflictError, NotFoundError, ValidationError
from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error

__all__ = ["add_relationship", "create_ci", "remove_relationship", "retire_ci", "update_ci"]

_PATCHABLE = {"name", "status", "criticality", "owner", "support_group", "description",
              "min_required", "identifiers"}


def create_ci(store: GraphStore, ci: CI, *, actor: str, change_id: str | None = None) -> CI:
    """Create ``ci``; :class:`ConflictError` if the id is taken (even by a retired CI)."""
    try:
        store.get_ci(ci.id)
    except NotFoundError:
        store.apply(Batch(cis=[ci]), actor=actor, change_id=change_id)
        return store.get_ci(ci.id)
    raise ConflictError(f"CI '{ci.id}' already exists; use `cmdb ci update` to change it")


def update_ci(store: GraphStore, ci_id: str, *, fields: dict[str, Any] | None = None,
              set_attributes: dict[str, Any] | None = None, unset: list[str] | None = None,
              actor: str, change_id: str | None = None) -> CI:
    """Patch the given fields and attributes of an existing CI."""
    current = store.get_ci(ci_id)
    fields = dict(fields or {})
    unknown = set(fields) - _PATCHABLE
    if unknown:
        raise ValidationError("cannot be updated this way", field=sorted(unknown)[0])
    attributes = {**current.attributes, **(set_attributes or {})}
    for name in unset or []:
        if name not in attributes:
            raise ValidationError(f"CI '{ci_id}' has no such attribute", field=name)
        attributes.pop(name)
    data = current.model_dump(by_alias=True)
    data.update(fields)
    data["attributes"] = attributes
    try:
        patched = CI.model_validate(data)
    except PydanticError as exc:
        raise pydantic_error(exc, location=f"CI '{ci_id}'") from None
    store.apply(Batch(cis=[patched]), actor=actor, change_id=change_id)
    return store.get_ci(ci_id)


def retire_ci(store: GraphStore, ci_id: str, *, actor: str, change_id: str | None = None) -> CI:
    store.get_ci(ci_id)
    store.apply(Batch(retire_cis=[ci_id]), actor=actor, change_id=change_id)
    return store.get_ci(ci_id)


def add_relationship(store: GraphStore, rel: Relationship, *, actor: str,
                     change_id: str | None = None) -> Relationship:
    existing = store.find_relationships(RelFilter(source=rel.source, target=rel.target,
                                                  types=(rel.type,)))
    if existing:
        raise ConflictError(f"relationship {rel.source} -[{rel.type}]-> {rel.target} exists")
    store.apply(Batch(relationships=[rel]), actor=actor, change_id=change_id)
    return store.find_relationships(RelFilter(source=rel.source, target=rel.target,
                                              types=(rel.type,)))[0]


def remove_relationship(store: GraphStore, source: str, rel_type: str, target: str, *,
                        actor: str, change_id: str | None = None) -> None:
    store.apply(Batch(retire_relationships=[(source, rel_type, target)]), actor=actor,
                change_id=change_id)
