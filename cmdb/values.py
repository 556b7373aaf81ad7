"""Attribute values typed as text, read one way everywhere: a command line's ``--set NAME=VALUE``,
a CSV cell, and (later) a query string.

Assumptions: the registry's declared type of an attribute decides how its text is read, so the
same text gives the same value whichever way it came in.

- An attribute the registry declares ``str`` stays text: ``12.2`` is a version, not a float.
  A quoted JSON string (``"12"``) is unquoted, so any text can be given.
- Any other attribute (declared ``int``, ``float``, ``bool`` or ``list``, or not declared) is
  read as JSON when it is JSON (``8``, ``0.99``, ``true``, ``null``, ``[1, 2]``, ``{"a": 1}``)
  and kept as text otherwise; validation then checks the declared type
  (``expected int, got str 'eight'``). ``NaN`` and ``Infinity`` are text: they are not JSON.

>>> from cmdb.registry import load_registry
>>> reg = load_registry()
>>> parse_attributes(reg, "database", {"version": "12.2", "port": "1521", "tags": '["a"]'})
{'version': '12.2', 'port': 1521, 'tags': ['a']}
>>> parse_value("12.2"), parse_value("12.2", "str"), parse_value('"12.2"', "str")
(12.2, '12.2', '12.2')
>>> split_assignments(["os=AIX 7.2", "cpu_count=16"])
{'os': 'AIX 7.2', 'cpu_count': '16'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cmdb.errors import ValidationError
from cmdb.registry import Registry

__all__ = ["declared_type", "parse_attributes", "parse_value", "split_assignments"]


def _reject(name: str) -> Any:
    raise ValueError(name)


def _json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text, parse_constant=_reject)
    except ValueError:
        return False, None


def parse_value(text: str, declared: str | None = None) -> Any:
    """The value that ``text`` stands for, given the attribute's declared type (or None)."""
    if declared == "str":
        if text.startswith('"'):
            ok, value = _json(text)
            if ok and isinstance(value, str):
                return value
        return text
    ok, value = _json(text)
    return value if ok else text


def declared_type(registry: Registry | None, ci_class: str | None, name: str) -> str | None:
    """The type the registry declares for attribute ``name`` of ``ci_class``; None when the
    class or the attribute is not declared (or there is no registry)."""
    if registry is None or ci_class not in registry.classes:
        return None
    spec = registry.classes[ci_class].attributes.get(name)
    return spec.type if spec else None


def parse_attributes(
    registry: Registry | None, ci_class: str | None, raw: Mapping[str, str]
) -> dict[str, Any]:
    """Attributes of a CI of ``ci_class`` from their text (``ci_class=None``: a relationship's
    attributes, which the registry does not type)."""
    return {
        name: parse_value(text, declared_type(registry, ci_class, name))
        for name, text in raw.items()
    }


def split_assignments(items: Iterable[str] | None, *, field: str = "--set") -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as ``{NAME: VALUE}`` text; the last of repeated names wins."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"expected NAME=VALUE, got {item!r}", field=field)
        out[key.strip()] = value
    return out
