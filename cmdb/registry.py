"""The class and relationship registry: the CMDB's schema, loaded from YAML.

Assumptions: the built-in ``registry.yaml`` ships with the package; a user file (``CMDB_REGISTRY``)
is merged over it. Everything that needs the schema (validation, the stores' labels and indexes,
the Cypher builders, the impact engine's propagation table, audit rules) reads it from here.

>>> reg = load_registry()
>>> reg.rel_type("depends_on").propagation.value
'to_source'
>>> reg.is_group("cluster"), reg.is_group("database")
(True, False)
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from cmdb.enums import Propagation
from cmdb.errors import (
    RegistryError,
    RelationshipRuleError,
    UnknownClassError,
    UnknownRelTypeError,
    ValidationError,
)

if TYPE_CHECKING:  # PyYAML loads only for user files, or the first parse of the built-in one
    import yaml

__all__ = [
    "AttributeSpec",
    "CategorySpec",
    "ClassSpec",
    "IdentificationSpec",
    "Registry",
    "RelTypeSpec",
    "load_registry",
]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
}


class AttributeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["str", "int", "float", "bool", "list"] = "str"
    required: bool = False
    recommended: bool = False
    values: tuple[str, ...] | None = None


class CategorySpec(BaseModel):
    """A family of classes: its human label and its ``layer`` in an impact picture (0 at the
    top: customers; higher is further down, towards network and facilities). A category without
    a layer is drawn below every declared one (:meth:`Registry.layer_of`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = ""
    layer: int | None = Field(default=None, ge=0)


class ClassSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    category: str
    label: str = ""
    group: bool = False
    availability: float | None = Field(default=None, ge=0.0, le=1.0)
    alerts: bool = True  # would a CI of this class alert by itself (a CI's `monitored` overrides)
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n, a in self.attributes.items() if a.required)

    @property
    def recommended(self) -> tuple[str, ...]:
        return tuple(n for n, a in self.attributes.items() if a.recommended)


class RelTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    propagation: Propagation
    inverse: str = ""
    allowed: tuple[tuple[str, str], ...] = ()
    extend: bool = False


Rule = tuple[str, ...]


class IdentificationSpec(BaseModel):
    """How reconciliation recognises a discovered CI (:mod:`cmdb.reconcile_match`): per
    class, ordered identifier sets (``default`` for classes not listed). A component is an
    identifier kind (``serial_number``, ``fqdn``, ``hostname``, ``ip``, ``mac``, ``cloud_id``,
    ``k8s_uid``), ``name``, ``parent`` (the CI the sighting lives in), or a key or attribute
    name (``domain``, ``namespace``, ``kind``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: tuple[Rule, ...] = ()
    classes: dict[str, tuple[Rule, ...]] = Field(default_factory=dict)

    def rules(self, class_name: str) -> tuple[Rule, ...]:
        """The ordered identifier sets for CIs of ``class_name``."""
        return self.classes.get(class_name, self.default)

    def check(self, class_names: Iterable[str]) -> None:
        known = set(class_names)
        for name, rules in [("default", self.default), *self.classes.items()]:
            if name != "default" and name not in known:
                raise RegistryError(f"identification: unknown class '{name}'")
            for rule in rules:
                bad = [c for c in rule if not NAME_RE.match(c)]
                if not rule or bad or len(set(rule)) != len(rule):
                    raise RegistryError(
                        f"identification.{name}: bad identifier set {list(rule)}"
                        " (non-empty, distinct lower-case names)"
                    )


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    timezone: str = "UTC"  # the CMDB's time zone (IANA name): where times without one live
    categories: dict[str, CategorySpec] = Field(default_factory=dict)
    classes: dict[str, ClassSpec] = Field(default_factory=dict)
    relationships: dict[str, RelTypeSpec] = Field(default_factory=dict)
    identification: IdentificationSpec = Field(default_factory=IdentificationSpec)


class Registry:
    """The merged schema. Immutable once built; use :func:`load_registry` to make one."""

    def __init__(self, data: _RegistryFile):
        self.timezone = data.timezone
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RegistryError(f"timezone: unknown time zone {self.timezone!r}") from None
        self.categories = dict(data.categories)
        self.classes = {n: c.model_copy(update={"name": n}) for n, c in data.classes.items()}
        self.relationships = {
            n: r.model_copy(update={"name": n}) for n, r in data.relationships.items()
        }
        self._allowed_seen: set[tuple[str, str, str]] = set()
        self._check()
        self.identification = data.identification
        self.identification.check(self.classes)

    def _check(self) -> None:
        for name, spec in self.classes.items():
            if not NAME_RE.match(name):
                raise RegistryError(f"class name '{name}' must match {NAME_RE.pattern}")
            if spec.category not in self.categories:
                raise RegistryError(f"class '{name}': unknown category '{spec.category}'")
        for name, rel in self.relationships.items():
            if not NAME_RE.match(name):
                raise RegistryError(f"relationship type '{name}' must match {NAME_RE.pattern}")
            for pair in rel.allowed:
                for end in pair:
                    if end != "*" and end not in self.classes and end not in self.categories:
                        raise RegistryError(
                            f"relationship type '{name}': rule names unknown class or category "
                            f"'{end}'"
                        )

    # -- look-ups ---------------------------------------------------------------------------
    def class_(self, name: str, *, field: str = "class") -> ClassSpec:
        try:
            return self.classes[name]
        except KeyError:
            raise UnknownClassError(
                f"unknown CI class '{name}' (see `cmdb registry classes`)", field=field
            ) from None

    def rel_type(self, name: str, *, field: str = "type") -> RelTypeSpec:
        try:
            return self.relationships[name]
        except KeyError:
            known = ", ".join(sorted(self.relationships))
            raise UnknownRelTypeError(
                f"unknown relationship type '{name}' (known: {known})", field=field
            ) from None

    def layer_of(self, category: str) -> int:
        """The layer of ``category`` (see :class:`CategorySpec`); one below the deepest
        declared layer for a category without one (or unknown)."""
        spec = self.categories.get(category)
        if spec is not None and spec.layer is not None:
            return spec.layer
        return 1 + max(
            (c.layer for c in self.categories.values() if c.layer is not None), default=-1
        )

    def is_group(self, class_name: str) -> bool:
        spec = self.classes.get(class_name)
        return bool(spec and spec.group)

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        """Class names in a stable order; a class's index is its code in topology snapshots."""
        return tuple(sorted(self.classes))

    @cached_property
    def rel_type_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.relationships))

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of everything a topology snapshot depends on."""
        parts = [f"{c}:{int(self.classes[c].group)}" for c in self.class_names]
        parts += [f"{t}:{self.relationships[t].propagation}" for t in self.rel_type_names]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]

    # -- rules ------------------------------------------------------------------------------
    def _matches(self, rule_end: str, class_name: str) -> bool:
        return rule_end in ("*", class_name, self.classes[class_name].category)

    def check_relationship(self, source_class: str, rel_type: str, target_class: str) -> None:
        """Raise :class:`RelationshipRuleError` unless the rule table allows the pair."""
        if (source_class, rel_type, target_class) in self._allowed_seen:
            return
        self._check_relationship(source_class, rel_type, target_class)
        self._allowed_seen.add((source_class, rel_type, target_class))

    def _check_relationship(self, source_class: str, rel_type: str, target_class: str) -> None:
        spec = self.rel_type(rel_type)
        self.class_(source_class, field="source")
        self.class_(target_class, field="target")
        for src, dst in spec.allowed:
            if self._matches(src, source_class) and self._matches(dst, target_class):
                return
        raise RelationshipRuleError(
            f"{source_class} -[{rel_type}]-> {target_class} is not allowed by the registry",
            field="type",
        )

    def validate_attributes(self, class_name: str, attributes: dict[str, Any]) -> None:
        """Check required attributes, types and allowed values of a CI of ``class_name``."""
        spec = self.class_(class_name)
        for name in spec.required:
            if attributes.get(name) in (None, ""):
                raise ValidationError(
                    f"required for class '{class_name}'", field=f"attributes.{name}"
                )
        for name, value in attributes.items():
            attr = spec.attributes.get(name)
            if attr is None or value is None:
                continue
            ok = isinstance(value, _TYPES[attr.type]) and not (
                attr.type in ("int", "float") and isinstance(value, bool)
            )
            if not ok:
                raise ValidationError(
                    f"expected {attr.type}, got {type(value).__name__} {value!r}",
                    field=f"attributes.{name}",
                )
            if attr.values is not None and value not in attr.values:
                raise ValidationError(
                    f"{value!r} is not one of {', '.join(attr.values)}",
                    field=f"attributes.{name}",
                )

    def missing_recommended(self, class_name: str, attributes: dict[str, Any]) -> list[str]:
        """Recommended attributes a CI lacks (for completeness audits)."""
        spec = self.class_(class_name)
        return [n for n in spec.recommended if attributes.get(n) in (None, "", [])]


@functools.cache
def _builtin() -> dict[str, Any]:
    """The built-in registry, parsed once per process by libyaml where PyYAML has it (7× faster
    than the pure-Python loader), and kept as JSON in the user cache directory under the
    file's SHA-256: a later process reads that and imports no YAML parser (14 ms of every
    command's start). A cache that cannot be read or written is ignored. User files keep the
    pure-Python loader: its error messages name the line the way the tests pin down, and those
    files are small."""
    text = resources.files("cmdb").joinpath("registry.yaml").read_text(encoding="utf-8")
    cache = _json_cache(text)
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if isinstance(cached, dict):
            return cached
    import yaml

    data: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    encoded = json.dumps(data)
    if json.loads(encoded) == data:  # only what JSON keeps whole (no dates, no integer keys)
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            part = cache.with_name(f"{cache.name}.{os.getpid()}.part")
            part.write_text(encoded, encoding="utf-8")
            part.replace(cache)  # whole or not at all, whoever else writes it
    return data


def _json_cache(text: str) -> Path:
    """Where the built-in registry ``text`` is cached as JSON."""
    from cmdb.settings import default_cache_dir

    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return default_cache_dir() / "registry" / f"builtin-{digest}.json"


def _read(path: Path | None) -> dict[str, Any]:
    where = "built-in registry" if path is None else str(path)
    if path is None:
        try:
            return copy.deepcopy(_builtin())  # parsed once per process; callers may edit it
        except OSError as exc:
            raise RegistryError(f"{where}: cannot read registry ({exc.strerror or exc})") from None
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RegistryError(f"{where}: cannot read registry ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{where}: cannot read registry (not UTF-8 text)") from None
    except yaml.YAMLError as exc:
        raise RegistryError(_yaml_error(where, exc)) from None
    if not isinstance(data, dict):
        raise RegistryError(f"{where}: expected a mapping at the top level")
    return data


def _yaml_error(where: str, exc: yaml.YAMLError) -> str:
    """One line: ``FILE:LINE: invalid YAML (PROBLEM, column N)``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "cannot parse"
    problem = " ".join(str(problem).split())
    if mark is None:
        return f"{where}: invalid YAML ({problem})"
    return f"{where}:{mark.line + 1}: invalid YAML ({problem}, column {mark.column + 1})"


def _parse(data: dict[str, Any], where: str) -> _RegistryFile:
    try:
        return _RegistryFile.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = " ".join(str(err["msg"]).split())
        raise RegistryError(f"{where}: field '{loc}': {msg}") from None


def load_registry(path: str | Path | None = None) -> Registry:
    """Load the built-in registry, merged with the user's file at ``path`` if given.

    Every problem is a :class:`RegistryError` whose one-line message names the file (and the
    line, for YAML syntax).
    """
    base = _parse(_read(None), "built-in registry")
    if path is None:
        return Registry(base)
    extra = _parse(_read(Path(path)), str(path))
    if "timezone" in extra.model_fields_set:
        base.timezone = extra.timezone
    for name, cat in extra.categories.items():
        known = base.categories.get(name)
        if known is not None and "layer" not in cat.model_fields_set:
            cat = cat.model_copy(update={"layer": known.layer})  # a new label keeps the layer
        base.categories[name] = cat
    base.classes.update(extra.classes)
    for name, spec in extra.relationships.items():
        old = base.relationships.get(name)
        if spec.extend and old is not None:
            spec = old.model_copy(update={"allowed": old.allowed + spec.allowed})
        base.relationships[name] = spec
    if "identification" in extra.model_fields_set:
        ident = extra.identification
        base.identification = IdentificationSpec(
            default=ident.default
            if "default" in ident.model_fields_set
            else base.identification.default,
            classes={**base.identification.classes, **ident.classes},
        )
    try:
        return Registry(base)
    except RegistryError as err:  # the built-in part is valid: the user's file is to blame
        raise RegistryError(f"{path}: {err}") from None
