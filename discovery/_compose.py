"""Compose file mechanics for :mod:`discovery.compose`: variables, env files, and merging.

Assumptions (the Compose specification, for the keys that carry dependencies):

- **Interpolation** happens in each file before merging, in values only (never keys):
  ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
  ``${VAR:?message}`` / ``${VAR?message}`` (an error when unset), ``${VAR:+alt}`` /
  ``${VAR+alt}``, nested defaults (``${A:-${B}}``), and ``$$`` for a literal ``$``. A variable
  used without a default and not set becomes the empty string and is reported once.
- **Env files**: ``KEY=value`` lines, optional ``export``, ``#`` comments, single quotes
  literal, double quotes with ``\\n`` escapes; no interpolation inside the env file.
- **Merge** (``docker compose -f a -f b``): mappings merge key by key; a scalar in a later file
  replaces; ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, not appended;
  ``ports`` append (an identical entry once); ``volumes`` replace by mount target, ``secrets``
  and ``configs`` by source; every other sequence appends, without repeating an identical item.
  ``environment``, ``labels``, ``depends_on``, ``networks``, ``extra_hosts``, ``sysctls`` in list
  form are read as mappings first, so they merge by key. The ``!reset`` tag removes a key and
  ``!override`` replaces a value instead of merging it.

>>> expand({"a": "${HOST:-db}:${PORT-5432}", "b": "$$HOME"}, {"PORT": ""}, "f.yml", set(), [])
{'a': 'db:', 'b': '$HOME'}
>>> merge_files([{"services": {"w": {"ports": ["80"], "command": ["a"]}}},
...              {"services": {"w": {"ports": ["443"], "command": ["b"]}}}])["services"]["w"]
{'ports': ['80', '443'], 'command': ['b']}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from cmdb.errors import ImportFormatError, ValidationError
from discovery._common import SafeLoader

__all__ = ["ComposeLoader", "expand", "merge_files", "normalize", "parse_env_file"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", re.S)
_AS_MAP = (
    "environment",
    "labels",
    "annotations",
    "depends_on",
    "networks",
    "extra_hosts",
    "sysctls",
)
_REPLACED = ("command", "entrypoint")


class Tagged:
    """A value carrying a Compose merge tag (``!reset`` or ``!override``)."""

    def __init__(self, tag: str, value: Any):
        self.tag, self.value = tag, value

    def __repr__(self) -> str:
        return f"{self.tag} {self.value!r}"


class ComposeLoader(SafeLoader):
    """The safe loader, plus the Compose merge tags."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged(str(node.tag), value)


ComposeLoader.add_constructor("!reset", _tagged)
ComposeLoader.add_constructor("!override", _tagged)


def parse_env_file(text: str, where: str) -> dict[str, str]:
    """The variables of an env file (``KEY=value`` lines).

    >>> parse_env_file("# c\\nexport A=1\\nB='x y' \\nC=\\"a\\\\nb\\"\\nD=v # note\\n", "e")
    {'A': '1', 'B': 'x y', 'C': 'a\\nb', 'D': 'v'}
    """
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not _NAME.fullmatch(key):
            raise ImportFormatError(f"{where}:{n}: expected KEY=value, got {raw.strip()!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"')
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def expand(
    data: Any,
    env: Mapping[str, str],
    where: str,
    unset: set[str],
    warnings: list[str],
    path: str = "",
) -> Any:
    """``data`` with variables expanded in every string value (keys are left alone).

    ``unset`` collects the variables used without a value and default; the first use of each
    adds a warning. A ``${VAR?message}`` without a value raises a :class:`ValidationError`
    naming the file and the path in it.
    """
    if isinstance(data, dict):
        return {
            k: expand(v, env, where, unset, warnings, f"{path}.{k}" if path else str(k))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [expand(v, env, where, unset, warnings, f"{path}[{i}]") for i, v in enumerate(data)]
    if isinstance(data, Tagged):
        return Tagged(data.tag, expand(data.value, env, where, unset, warnings, path))
    if not isinstance(data, str) or "$" not in data:
        return data

    def lookup(name: str) -> str | None:
        return env.get(name)

    def missing(name: str) -> str:
        if name not in unset:
            unset.add(name)
            warnings.append(
                f"variable {name} is not set: substituted an empty string "
                f"(first used in {where} at {path or 'the top'})"
            )
        return ""

    return _expand(data, lookup, missing, f"{where}: {path}")


def _expand(
    text: str, lookup: Callable[[str], str | None], missing: Callable[[str], str], where: str
) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            depth, j = 0, i + 1
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            if j >= len(text):
                raise ValidationError(f"unclosed '${{' in {text!r}", location=where)
            out.append(_substitute(text[i + 2 : j], lookup, missing, where))
            i = j + 1
        elif m := _NAME.match(text, i + 1):
            value = lookup(m.group(0))
            out.append(value if value is not None else missing(m.group(0)))
            i = m.end()
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _substitute(
    body: str, lookup: Callable[[str], str | None], missing: Callable[[str], str], where: str
) -> str:
    m = _BRACED.fullmatch(body)
    if m is None:
        raise ValidationError(f"invalid variable '${{{body}}}'", location=where)
    name, op, arg = m.groups()
    value = lookup(name)
    if op is None:
        return value if value is not None else missing(name)
    set_ = bool(value) if op.startswith(":") else value is not None
    if op in (":-", "-"):
        return value if set_ and value is not None else _expand(arg, lookup, missing, where)
    if op in (":+", "+"):
        return _expand(arg, lookup, missing, where) if set_ else ""
    if not set_ or value is None:  # ":?" or "?"
        raise ValidationError(
            f"required variable {name} is not set" + (f": {arg}" if arg else ""), location=where
        )
    return value


def _as_map(key: str, value: Any, env: Mapping[str, str]) -> Any:
    if not isinstance(value, list):
        return value
    if key == "depends_on":
        return {str(s): {"condition": "service_started"} for s in value}
    if key == "networks":
        return {str(n): None for n in value}
    out: dict[str, Any] = {}
    for item in value:
        k, eq, v = str(item).partition("=" if key != "extra_hosts" else ":")
        out[k] = v if eq else (env.get(k) if key == "environment" else None)
    return out


def normalize(doc: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A file's services with the list forms of mapping keys read as mappings."""
    services = doc.get("services")
    if not isinstance(services, dict):
        return doc
    out = dict(doc)
    out["services"] = {
        name: (
            {k: _as_map(k, v, env) if k in _AS_MAP else v for k, v in svc.items()}
            if isinstance(svc, dict)
            else svc
        )
        for name, svc in services.items()
    }
    return out


def _unique_key(key: str, item: Any) -> Any:
    if key == "volumes":
        if isinstance(item, dict):
            return item.get("target")
        parts = str(item).split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    if isinstance(item, dict):  # secrets, configs (long syntax)
        return item.get("source")
    return str(item)


def _strip(value: Any) -> Any:
    if isinstance(value, Tagged):
        return _strip(value.value)
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if not (isinstance(v, Tagged) and v.tag == "!reset")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _merge(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if isinstance(over, Tagged):
        return _strip(over.value)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if isinstance(v, Tagged) and v.tag == "!reset":
                out.pop(k, None)
            else:
                out[k] = _merge(base[k], v, (*path, str(k))) if k in base else _strip(v)
        return out
    if isinstance(base, list) and isinstance(over, list):
        key = path[-1] if path else ""
        in_service = len(path) == 3 and path[0] == "services"
        if (in_service and key in _REPLACED) or path[-2:] == ("healthcheck", "test"):
            return _strip(over)
        if in_service and key in ("volumes", "secrets", "configs"):
            merged = {_unique_key(key, item): item for item in base}
            merged.update({_unique_key(key, item): _strip(item) for item in over})
            return list(merged.values())
        return base + [_strip(x) for x in over if x not in base]
    return _strip(over)


def merge_files(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The model that the files describe, merged in order."""
    merged: dict[str, Any] = {}
    for doc in docs:
        merged = _merge(merged, doc, ())
    return _strip(merged)
