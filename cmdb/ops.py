"""Single-entity operations on top of batches, shared by the CLI and the API.

Assumptions: each call is one atomic batch, and every read-then-write is guarded by the version
it read (:class:`~cmdb.model.Expected`), checked by the store inside the batch's transaction:
``create_*`` never overwrites (two concurrent creates of one id: one wins, the other gets a
:class:`~cmdb.errors.ConflictError`), ``update_ci`` patches only the given fields and refuses to
write over a change it did not see, and removal is retirement (kept in history).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticError

from cmdb.errors import NotFoundError, ValidationError
from cmdb.filters import RelFilter
from cmdb.model import CI, Batch, Expected, Identifiers, Relationship
from cmdb.store.protocol import GraphStore
from cmdb.validation import pydantic_error

__all__ = ["add_relationship", "create_ci", "remove_relationship", "retire_ci", "update_ci"]

_PATCHABLE = {
    "name",
    "status",
    "criticality",
    "owner",
    "support_group",
    "description",
    "min_required",
    "identifiers",
}


MANUAL = "manual"
"""The source of hand edits, for discovery's per-field precedence (:mod:`cmdb.reconcile`)."""


def _paths(
    fields: dict[str, Any], set_attributes: dict[str, Any] | None, unset: list[str] | None
) -> list[str]:
    """The provenance paths a patch sets: ``owner``, ``attributes.os``, ``identifiers.fqdn``."""
    ids = fields.get("identifiers")
    given = ids.model_fields_set if isinstance(ids, Identifiers) else set(ids or {})
    return (
        [f for f in fields if f != "identifiers"]
        + [f"identifiers.{f}" for f in given]
        + [f"attributes.{a}" for a in [*(set_attributes or {}), *(unset or [])]]
    )


def create_ci(store: GraphStore, ci: CI, *, actor: str, change_id: str | None = None) -> CI:
    """Create ``ci``; :class:`ConflictError` if the id is taken (even by a retired CI)."""
    expected = [Expected(entity="ci", id=ci.id, version=0)]
    store.apply(Batch(cis=[ci], expected=expected), actor=actor, change_id=change_id)
    return store.get_ci(ci.id)


def update_ci(
    store: GraphStore,
    ci_id: str,
    *,
    fields: dict[str, Any] | None = None,
    set_attributes: dict[str, Any] | None = None,
    unset: list[str] | None = None,
    expected_version: int | None = None,
    actor: str,
    change_id: str | None = None,
) -> CI:
    """Patch the given fields and attributes of an existing CI.

    ``expected_version`` is the version the caller read (an ETag); when the stored CI has
    moved on, :class:`ConflictError`. Without it, the version this call reads guards the write.
    """
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
    data["provenance"] = {
        **current.provenance,
        **dict.fromkeys(_paths(fields, set_attributes, unset), MANUAL),
    }
    try:
        patched = CI.model_validate(data)
    except PydanticError as exc:
        raise pydantic_error(exc, location=f"CI '{ci_id}'") from None
    version = current.version if expected_version is None else expected_version
    store.apply(
        Batch(cis=[patched], expected=[Expected(entity="ci", id=ci_id, version=version)]),
        actor=actor,
        change_id=change_id,
    )
    return store.get_ci(ci_id)


def retire_ci(
    store: GraphStore,
    ci_id: str,
    *,
    expected_version: int | None = None,
    actor: str,
    change_id: str | None = None,
) -> CI:
    """Retire a CI and its relationships; with ``expected_version`` (an ETag), only if the
    CI is still at that version (:class:`~cmdb.errors.StaleVersionError` otherwise)."""
    current = store.get_ci(ci_id)
    version = current.version if expected_version is None else expected_version
    store.apply(
        Batch(retire_cis=[ci_id], expected=[Expected(entity="ci", id=ci_id, version=version)]),
        actor=actor,
        change_id=change_id,
    )
    return store.get_ci(ci_id)


def add_relationship(
    store: GraphStore, rel: Relationship, *, actor: str, change_id: str | None = None
) -> Relationship:
    """Add ``rel``; :class:`ConflictError` if it is already active. A retired relationship
    with the same key comes back (guarded by the version read, so never over a change)."""
    flt = RelFilter(source=rel.source, target=rel.target, types=(rel.type,), include_retired=True)
    retired = [r for r in store.find_relationships(flt) if r.status == "retired"]
    version = retired[0].version if retired else 0
    expected = [Expected(entity="relationship", id=rel.id, version=version)]
    store.apply(Batch(relationships=[rel], expected=expected), actor=actor, change_id=change_id)
    return store.find_relationships(
        RelFilter(source=rel.source, target=rel.target, types=(rel.type,))
    )[0]


def remove_relationship(
    store: GraphStore,
    source: str,
    rel_type: str,
    target: str,
    *,
    actor: str,
    change_id: str | None = None,
) -> Relationship:
    """Retire the active relationship ``source -[rel_type]-> target`` and return it retired;
    :class:`NotFoundError` when there is no such active relationship (never existed, or
    already retired), guarded by the version read."""
    store.registry.rel_type(rel_type)
    key = RelFilter(source=source, target=target, types=(rel_type,))
    active = store.find_relationships(key)
    if not active:
        raise NotFoundError("active relationship", f"{source} -[{rel_type}]-> {target}")
    guard = Expected(entity="relationship", id=active[0].id, version=active[0].version)
    store.apply(
        Batch(retire_relationships=[(source, rel_type, target)], expected=[guard]),
        actor=actor,
        change_id=change_id,
    )
    return store.find_relationships(key.model_copy(update={"include_retired": True}))[0]
