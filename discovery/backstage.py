"""The ``backstage`` scanner: Backstage catalog files (``catalog-info.yaml``).

Assumptions (the Backstage catalog model, ``backstage.io/v1alpha1`` and ``v1beta1``):

- A file holds several entities (YAML documents). ``Location`` entities are followed to the
  files they target (relative paths and globs; URLs are reported, not fetched) unless
  ``follow_locations=False``. Kinds other than Component, API, Resource, System, Domain,
  Group, User and Location (``Template``...) are reported and skipped.
- CIs, keyed ``backstage:<kind>:<namespace>/<name>`` in lower case: Component ->
  ``application``; API -> ``technical_service``; Resource -> ``database`` when its type says
  so, ``storage`` for buckets and volumes, else ``middleware``; System -> ``system``; Domain
  -> ``domain``; Group -> ``support_group``; User -> ``person``.
- Entity references are ``[kind:][namespace/]name``, compared case-insensitively. A missing
  namespace is the referring entity's; a missing kind is the field's default: ``owner`` ->
  Group, ``system`` -> System, ``domain`` and ``subdomainOf`` -> Domain, ``providesApis`` and
  ``consumesApis`` -> API, ``subcomponentOf`` -> Component, ``parent``, ``children`` and
  ``memberOf`` -> Group, ``members`` -> User. ``dependsOn`` and ``dependencyOf`` have no
  default kind in Backstage (the catalog refuses such a reference): the scanner warns, and
  reads it as the one Component or Resource of that name in the input, else as a Component.
- Dependencies carry impact: ``dependsOn`` and ``consumesApis`` are ``depends_on``,
  ``dependencyOf`` the same reversed, ``providesApis`` is ``provides`` (the component's failure
  takes its API down). Structure carries none: ``system``, ``domain``, ``subcomponentOf``,
  ``subdomainOf``, group ``parent``/``children`` and membership are ``part_of``. An owning
  Group is the CI's ``support_group`` (its scan key) and a ``supported_by`` relationship; an
  owning User is its ``owner``.
- A reference to an entity the input does not hold is an ``unresolved`` CI.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "catalog-info.yaml"
>>> _ = p.write_text('''
... apiVersion: backstage.io/v1alpha1
... kind: Component
... metadata: {name: petstore}
... spec: {type: service, lifecycle: production, owner: Team-A, consumesApis: [Searcher]}
... ''')
>>> r = scan([p])
>>> [(c.key, c.unresolved) for c in r.cis]  # doctest: +NORMALIZE_WHITESPACE
[('backstage:component:default/petstore', False), ('backstage:group:default/team-a', True),
 ('backstage:api:default/searcher', True)]
>>> r.cis[0].support_group
'backstage:group:default/team-a'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cmdb.errors import ImportFormatError
from cmdb.model import utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import (
    Collector,
    Doc,
    expand_paths,
    file_scope,
    load_yaml,
    located,
    scoped_by_file,
)

__all__ = ["get_entities", "parse_ref", "scan", "transform_entities"]

SOURCE = "backstage"
CLASSES = {
    "component": "application",
    "api": "technical_service",
    "system": "system",
    "domain": "domain",
    "group": "support_group",
    "user": "person",
    "resource": "technical_service",
}
KINDS = ("Component", "API", "Resource", "System", "Domain", "Group", "User")
KIND_NAMES = {k.lower(): k for k in KINDS}
_DB_WORDS = ("database", "db", "sql", "postgres", "mysql", "oracle", "mongo", "rds", "redis")
_STORAGE_WORDS = ("bucket", "s3", "storage", "volume", "filesystem", "blob", "disk")
_ENGINES = {
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "oracle": "oracle",
    "mssql": "sqlserver",
    "sqlserver": "sqlserver",
    "db2": "db2",
}


def parse_ref(ref: str, *, default_kind: str | None, namespace: str) -> tuple[str | None, str, str]:
    """``(kind, namespace, name)`` of an entity reference, lower-cased; kind None when the
    reference has none and the field has no default.

    >>> parse_ref("Team-A", default_kind="group", namespace="default")
    ('group', 'default', 'team-a')
    >>> parse_ref("resource:infra/Artists-DB", default_kind=None, namespace="default")
    ('resource', 'infra', 'artists-db')
    """
    text = str(ref).strip()
    kind, colon, rest = text.partition(":")
    if not colon:
        kind, rest = "", text
    ns, slash, name = rest.partition("/")
    if not slash:
        ns, name = namespace, rest
    return ((kind or default_kind or "").lower() or None), ns.lower(), name.lower()


def _is_entity(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and str(data.get("apiVersion", "")).startswith("backstage.io/")
        and "kind" in data
    )


def get_entities(
    paths: Iterable[str | Path], *, follow_locations: bool = True, strict: bool = True
) -> tuple[list[Doc], list[str], list[str]]:
    """Read the catalog files: ``(entities, errors, files read)``, following ``Location``
    targets. A file that cannot be read or parsed, or a missing Location target, raises
    :class:`ImportFormatError` (with ``strict=False`` it is an error in the result). When no
    file holds a Backstage entity, that raises too."""
    queue: list[tuple[Path, str | None]] = [(p, None) for p in expand_paths(paths)]
    seen: set[Path] = set()
    entities: list[Doc] = []
    errors: list[str] = []
    files: list[str] = []
    while queue:
        path, via = queue.pop(0)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            if not path.is_file():
                raise ImportFormatError(f"{via}: Location target {path}: no such file")
            docs = load_yaml(path)
        except ImportFormatError as exc:
            if strict:
                raise
            errors.append(str(exc))
            continue
        files.append(str(path))
        for doc in docs:
            if not _is_entity(doc.data):
                continue
            if str(doc.data["kind"]).lower() == "location" and follow_locations:
                queue.extend((t, doc.origin) for t in _targets(doc, path))
            entities.append(doc)
    if not entities and not errors:
        raise ImportFormatError(
            f"{', '.join(files)}: no Backstage entities (documents with "
            "apiVersion backstage.io/..., kind and metadata) in it"
        )
    return entities, errors, files


def _targets(doc: Doc, path: Path) -> list[Path]:
    spec = doc.data.get("spec") or {}
    raw = [spec["target"]] if spec.get("target") else []
    raw += list(spec.get("targets") or [])
    out: list[Path] = []
    for target in map(str, raw):
        if "://" in target:
            continue  # reported by the transform
        if any(c in target for c in "*?["):
            out.extend(sorted(path.parent.glob(target)))
        else:
            out.append(path.parent / target)
    return out


class _Catalog:
    """The entities of the input by (kind, namespace, name), lower-cased."""

    def __init__(self, entities: Sequence[tuple[str, str, str, dict[str, Any], str]]):
        self.refs = {(k, ns, n) for k, ns, n, _, _ in entities}
        self.by_name: dict[tuple[str, str], list[str]] = {}
        for kind, ns, name, _, _ in entities:
            self.by_name.setdefault((ns, name), []).append(kind)


def _key(kind: str, ns: str, name: str) -> str:
    return f"backstage:{kind}:{ns}/{name}"


def _resource_class(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rtype = str(spec.get("type", "")).lower()
    words = set(rtype.replace("_", "-").split("-"))
    if words & set(_DB_WORDS) or "database" in rtype:
        engine = next((e for w, e in _ENGINES.items() if w in rtype), "other")
        return "database", {"engine": engine}
    if words & set(_STORAGE_WORDS):
        return "storage", {}
    return "middleware", {"product": rtype or "resource"}


def transform_entities(entities: Sequence[Doc]) -> Collector:
    """The CIs and relationships that the entities describe (pure; see the module docstring).
    A missing required field raises a located :class:`~cmdb.errors.ValidationError`."""
    out = Collector()
    rows: list[tuple[str, str, str, dict[str, Any], str]] = []
    ignored: dict[str, int] = {}
    for doc in entities:
        with located(doc.origin):
            data = doc.data
            kind = str(data["kind"])
            if kind.lower() == "location":
                for t in [
                    (data.get("spec") or {}).get("target"),
                    *((data.get("spec") or {}).get("targets") or []),
                ]:
                    if t and "://" in str(t):
                        out.warn(f"{doc.origin}: Location target {t} is a URL: not fetched")
                continue
            if kind.lower() not in CLASSES:
                ignored[kind] = ignored.get(kind, 0) + 1
                continue
            meta = data["metadata"]
            ns = str(meta.get("namespace") or "default").lower()
            rows.append((kind.lower(), ns, str(meta["name"]).lower(), data, doc.origin))
    catalog = _Catalog(rows)
    described = []
    for row in rows:
        with located(row[4]):
            if _describe(out, *row):
                described.append(row)
    for row in described:
        with located(row[4]):
            _connect(out, catalog, *row)
    if ignored:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(ignored.items()))
        out.warn(f"ignored entities of kinds this scanner does not model: {kinds}")
    return out


def _describe(
    out: Collector, kind: str, ns: str, name: str, data: dict[str, Any], origin: str
) -> bool:
    key = _key(kind, ns, name)
    if key in out.cis:
        out.warn(f"{key} is defined twice; the first definition ({out.cis[key].origin}) is kept")
        return False
    meta, spec = data["metadata"], data.get("spec") or {}
    attrs: dict[str, Any] = {
        "kind": KIND_NAMES[kind],
        "namespace": ns,
        "name": str(meta["name"]),
        "ref": f"{kind}:{ns}/{name}",
    }
    for field in ("type", "lifecycle"):
        if spec.get(field):
            attrs[field] = str(spec[field])
    for field in ("title", "uid"):
        if meta.get(field):
            attrs[field] = str(meta[field])
    if meta.get("tags"):
        attrs["tags"] = [str(t) for t in meta["tags"]]
    profile = spec.get("profile") or {}
    if profile.get("email"):
        attrs["email"] = str(profile["email"])
    ci_class = CLASSES[kind]
    if kind == "resource":
        ci_class, extra = _resource_class(spec)
        attrs.update(extra)
    if profile.get("displayName"):
        attrs["display_name"] = str(profile["displayName"])
    out.add(
        SeenCI(
            key=key,
            ci_class=ci_class,
            name=str(meta["name"]),
            attributes=attrs,
            description=meta.get("description"),
            origin=origin,
        )
    )
    return True


def _connect(
    out: Collector,
    catalog: _Catalog,
    kind: str,
    ns: str,
    name: str,
    data: dict[str, Any],
    origin: str,
) -> None:
    key = _key(kind, ns, name)
    spec = data.get("spec") or {}

    def target(ref: str, default_kind: str | None, field: str) -> str:
        t_kind, t_ns, t_name = parse_ref(ref, default_kind=default_kind, namespace=ns)
        if t_kind is None:
            kinds = [
                k for k in catalog.by_name.get((t_ns, t_name), []) if k in ("component", "resource")
            ]
            t_kind = kinds[0] if len(kinds) == 1 else "component"
            out.warn(
                f"{origin}: {field} '{ref}' has no kind (Backstage requires one, e.g. "
                f"component: or resource:); read as {t_kind}:{t_ns}/{t_name}"
            )
        if t_kind not in CLASSES:
            out.warn(f"{origin}: {field} '{ref}' names a {t_kind}, which is not modelled")
            return ""
        t_key = _key(t_kind, t_ns, t_name)
        if (t_kind, t_ns, t_name) not in catalog.refs:
            out.placeholder(
                t_key,
                CLASSES[t_kind],
                t_name,
                origin=origin,
                attributes={
                    "kind": KIND_NAMES[t_kind],
                    "namespace": t_ns,
                    "name": t_name,
                    "ref": f"{t_kind}:{t_ns}/{t_name}",
                },
            )
        return t_key

    def each(field: str) -> list[str]:
        value = spec.get(field)
        return (
            []
            if value is None
            else [str(v) for v in (value if isinstance(value, list) else [value])]
        )

    if spec.get("owner"):
        owner = target(str(spec["owner"]), "group", "owner")
        if owner.startswith("backstage:group:"):
            out.rel(key, "supported_by", owner, origin)
            out.cis[key] = out.cis[key].model_copy(update={"support_group": owner})
        elif owner:
            user = out.cis[owner]
            out.cis[key] = out.cis[key].model_copy(
                update={"owner": user.attributes.get("display_name") or user.name}
            )
    for field, default, rel, reverse in (
        ("system", "system", "part_of", False),
        ("domain", "domain", "part_of", False),
        ("subdomainOf", "domain", "part_of", False),
        ("subcomponentOf", "component", "part_of", False),
        ("parent", "group", "part_of", False),
        ("memberOf", "group", "part_of", False),
        ("children", "group", "part_of", True),
        ("members", "user", "part_of", True),
        ("dependsOn", None, "depends_on", False),
        ("dependencyOf", None, "depends_on", True),
        ("consumesApis", "api", "depends_on", False),
    ):
        for ref in each(field):
            if t := target(ref, default, field):
                out.rel(*((t, rel, key) if reverse else (key, rel, t)), origin, via=field)
    for ref in each("providesApis"):
        t = target(ref, "api", "providesApis")
        if kind == "component" and t.startswith("backstage:api:"):
            out.rel(key, "provides", t, origin, via="providesApis")
        elif t:  # only components provide APIs; keep the impact of anything else all the same
            out.rel(t, "depends_on", key, origin, via="providesApis")


def scan(
    paths: Iterable[str | Path], *, follow_locations: bool = True, strict: bool = True
) -> ScanResult:
    """Read Backstage catalog files and return what they describe (see the module
    docstring). ``strict=False`` reports unreadable files as errors of an incomplete result
    instead of raising."""
    started = utcnow()
    entities, errors, files = get_entities(paths, follow_locations=follow_locations, strict=strict)
    out = transform_entities(entities)
    if not any(not c.unresolved for c in out.cis.values()) and not errors:
        raise ImportFormatError(
            f"{', '.join(files)}: no Backstage entities this scanner reads "
            f"({', '.join(KINDS)}); {'; '.join(out.warnings) or 'nothing found'}"
        )
    return ScanResult(
        source=SOURCE,
        scope=[file_scope(f) for f in files],
        complete=not errors,
        started_at=started,
        cis=scoped_by_file(out.cis.values()),
        relationships=list(out.rels.values()),
        errors=errors,
        warnings=out.warnings,
    ).finished()
