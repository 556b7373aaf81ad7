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

from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict

__all__ = ["FieldChange", "diff_documents"]


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
    out: list[FieldChange] = []
    _walk(before or {}, after or {}, "", set(ignore), out)
    return out


def _walk(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    prefix: str,
    ignore: set[str],
    out: list[FieldChange],
) -> None:
    keys = list(before) + [k for k in after if k not in before]
    for key in keys:
        if not prefix and key in ignore:
            continue
        old, new = before.get(key), after.get(key)
        if old == new:  # the common case, and a deep comparison in C
            continue
        path = f"{prefix}{key}"
        if _is_map(old) and _is_map(new):
            _walk(old, new, f"{path}.", ignore, out)
        elif _is_map(old) and new is None:
            _walk(old, {}, f"{path}.", ignore, out)
        elif old is None and _is_map(new):
            _walk({}, new, f"{path}.", ignore, out)
        else:
            out.append(FieldChange(path=path, before=old, after=new))


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)
