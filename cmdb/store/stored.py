"""The documents a store keeps, read back into their models.

Assumption: a store writes each document from a validated model, so a document its model
cannot read was edited by hand, written by a newer release, or damaged on disk. That is the
store's fault, not the user's input: it becomes one :class:`UnreadableDocumentError` that
names the item (its id, or source|type|target) and the first field pydantic refused, instead
of pydantic's own multi-line error.

>>> from cmdb.model import CI
>>> parse(CI, '{"id": "db-1", "name": "\\\\ud800"}')
Traceback (most recent call last):
...
cmdb.store.stored.UnreadableDocumentError: the store holds CI 'db-1' in a form it cannot read (...)
"""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from cmdb.errors import StoreError

__all__ = ["UnreadableDocumentError", "parse", "unreadable"]

M = TypeVar("M", bound=BaseModel)

_KEY_TEXT = re.compile(r'"(id|source|type|target)": ?"((?:[^"\\]|\\.){0,200})"')


class UnreadableDocumentError(StoreError):
    """A stored document that its model cannot read."""


def parse(cls: type[M], text: str | bytes) -> M:
    """``cls.model_validate_json(text)``; a text the model cannot read is an
    :class:`UnreadableDocumentError` naming the item."""
    try:
        return cls.model_validate_json(text)
    except PydanticError as exc:
        raise unreadable(exc) from None


def unreadable(exc: PydanticError) -> UnreadableDocumentError:
    """The error of a document the store holds but its model cannot read (pydantic's ``exc``),
    naming the item when the text shows its key."""
    error = exc.errors()[0]
    text = error.get("input") if error["type"] == "json_invalid" else None
    keys = {m.group(1): m.group(2) for m in _KEY_TEXT.finditer(str(text or "")[:2000])}
    kind = {"CI": "CI", "Relationship": "relationship"}.get(exc.title, "record")
    if "id" in keys:
        name = repr(keys["id"])
    elif {"source", "type", "target"} & keys.keys():
        name = repr("|".join(keys.get(k, "?") for k in ("source", "type", "target")))
    else:
        name = "(its key unreadable)" if text is not None else ""
    where = ".".join(str(p) for p in error["loc"])
    return UnreadableDocumentError(
        f"the store holds {kind} {name + ' ' if name else ''}in a form it cannot read "
        f"({where + ': ' if where else ''}{error['msg']})"
    )
