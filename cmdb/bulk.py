"""Bulk reads without the cyclic garbage collector.

Assumptions: a bulk read (every live CI, a history range, an as-of replay) creates hundreds of
thousands of small, acyclic objects (parsed JSON documents, models) that all survive; on CPython
3.11 each allocation burst then triggers collections that walk every surviving object again,
which made parsing 240k history documents 4x slower (11 s instead of 2.9 s) in
``bench/bench_audit.py``. Reference counting still frees everything; the collector is turned off
only for the duration of the block, and back on (if it was on) afterwards, even on error.

Documents a store wrote itself are parsed by :func:`parse_document`: pydantic's JSON parser
(jiter, in Rust, with the keys interned) gives the same values as :func:`json.loads` in about
two thirds of the time; text it refuses (a lone surrogate escape, which Python's encoder can
write) goes to :func:`json.loads`. Models of such documents are made by :func:`construct`,
``model_construct`` without its per-field walk (a fifth of its cost): given every field, it
makes the same model; given fewer, it is ``model_construct``.

>>> import gc
>>> with no_gc():
...     gc.isenabled()
False
>>> gc.isenabled()
True
>>> parse_document('{"a": [1, 2.5, NaN], "b": null}')
{'a': [1, 2.5, nan], 'b': None}
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import from_json

__all__ = ["construct", "no_gc", "parse_document"]

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


@cache
def _plain(cls: type[BaseModel]) -> frozenset[str] | None:
    """The field names of ``cls`` when a model of it is only its ``__dict__`` and fields set
    (no aliases, extra fields, private attributes or post-init hook); else None."""
    fields = cls.model_fields
    if (
        cls.model_config.get("extra") == "allow"
        or cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.__pydantic_root_model__
        or any(f.alias or f.validation_alias for f in fields.values())
    ):
        return None
    return frozenset(fields)


def construct(cls: type[M], fields: dict[str, Any]) -> M:
    """``cls.model_construct(**fields)`` for trusted, already typed ``fields``; ``fields``
    becomes the model's own dictionary."""
    names = _plain(cls)
    if names is None or fields.keys() != names:
        return cls.model_construct(**fields)
    model = cls.__new__(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(names))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def parse_document(text: str | bytes) -> Any:
    """The JSON value of ``text``, as :func:`json.loads` gives it (see the module's notes)."""
    try:
        return from_json(text, cache_strings="keys")
    except ValueError:
        return json.loads(text)


@contextmanager
def no_gc() -> Iterator[None]:
    """Turn the cyclic garbage collector off for the block (nested blocks are fine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
