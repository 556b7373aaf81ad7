"""Field-level differences between two versions of a document (a CI, a relationship, a record).

Assumptions: documents are JSON-shaped dicts (``model_dump(mode="json")``, or the before/after of
a history entry). Nested objects (``attributes``, ``identifiers``) are compared key by key and
named by a dotted path; lists and scalars are compared whole. A missing key and ``None`` are the
same ("not set"). Changes come in the order of ``before``'s keys, then the keys only ``after``
has, so a diff reads in the document's own order.

>>> before = {"id": "srv-01", "owner": "x", "attributes": {"engine": "oracle 12", "os": "AIX"}}
>>> after = {"id": "srv-01", "owner": None, "attributes": {"engine": "oracle 19", "os": "AIX"}}
>>> [str(c) for c in diff_documents(before, after)]
["owner: 'x' -> None", "attributes.engine: 'oracle 12' -> 'oracle 19'"]
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict

__all__ = ["FieldChange", "diff_documents", "iter_changes"]


class FieldChange(BaseModel):
    """One field that differs: ``path`` is dotted (``attributes.engine``); ``before`` and
    ``after`` are None when the field is not set on that side."""

    model_config = ConfigDict(frozen=True)

    path: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        return f"{self.path}: {self.before!r} -> {self.after!r}"


def diff_documents(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    ignore: Collection[str] = (),
) -> list[FieldChange]:
    """The fields that differ between ``before`` and ``after`` (None: an empty document).

    ``ignore`` names top-level keys to leave out, e.g. ``{"version", "updated_at"}`` when
    comparing the before and after of a history entry.
    """
    return [
        FieldChange(path=path, before=old, after=new)
        for path, old, new in iter_changes(before, after, ignore=ignore)
    ]


def iter_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    ignore: Collection[str] = (),
) -> Iterator[tuple[str, Any, Any]]:
    """:func:`diff_documents` as plain ``(path, before, after)`` tuples, made lazily: a caller
    that needs only the first few (or whether there is any) stops early and builds no model.

    >>> next(iter_changes({"a": 1, "b": 2}, {"a": 1, "b": 3}))
    ('b', 2, 3)
    """
    return _walk(before or {}, after or {}, "", frozenset(ignore))


def _walk(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str, ignore: frozenset[str]
) -> Iterator[tuple[str, Any, Any]]:
    """The changes in ``before``'s key order, then the keys only ``after`` has; ``ignore``
    applies to the top level only (nested calls pass an empty set)."""
    for key, old in before.items():
        if key in ignore:
            continue
        new = after.get(key)
        if old != new:  # the common case is equal, and a deep comparison in C
            yield from _field(f"{prefix}{key}", old, new)
    for key, new in after.items():
        if new is not None and key not in before and key not in ignore:
            yield from _field(f"{prefix}{key}", None, new)


def _field(path: str, old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    none: frozenset[str] = frozenset()
    if _is_map(old) and _is_map(new):
        yield from _walk(old, new, f"{path}.", none)
    elif _is_map(old) and new is None:
        yield from _walk(old, {}, f"{path}.", none)
    elif old is None and _is_map(new):
        yield from _walk({}, new, f"{path}.", none)
    else:
        yield path, old, new


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)
