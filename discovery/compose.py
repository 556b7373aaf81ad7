"""The ``compose`` scanner: docker-compose files, a base file and overrides merged in order.

Assumptions:

- ``paths`` are Compose files in ``docker compose -f a -f b`` order, merged by the rules in
  :mod:`discovery._compose` after each is interpolated. Variables come from the ``env_file``
  option (default: ``.env`` beside the first file, if there is one), overridden by the
  ``environ`` option (default: the process environment), as ``docker compose`` does.
- The project is the ``project`` option, else the merged ``name:``, else
  ``COMPOSE_PROJECT_NAME``, else the first file's directory name; it is a ``system`` CI and
  every service is ``part_of`` it. Services with ``profiles`` are read only when one of their
  profiles is in the ``profiles`` option (``"*"``: all), as ``docker compose up`` does.
- A service is an ``application_instance``, unless its image says otherwise (``postgres`` is a
  ``database_instance`` with engine ``postgresql``, ``nginx`` a ``load_balancer``; see
  :func:`discovery._common.classify_image`). Its name, ``container_name``, ``hostname`` and
  network aliases are its hostnames. Named volumes are ``storage`` CIs that the services
  mounting them depend on; networks are attributes of the services.
- ``depends_on`` (list and map forms), ``links``, ``volumes_from`` and
  ``network_mode: service:x`` are ``depends_on``. So are the hosts named in ``environment``
  values, ``command`` and ``entrypoint``: URLs and connection strings
  (``postgres://u@db:5432/x``, ``jdbc:mysql://db:3306/x``), ``host:port``, and bare words
  that are service names. A host that is no service is an ``unresolved`` CI; so is a
  ``depends_on`` on a service that is not defined (or not in an active profile).
- Not read: ``extends``, ``include``, and the service-level ``env_file`` files.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp()) / "shop"
>>> d.mkdir()
>>> _ = (d / "compose.yaml").write_text('''
... services:
...   web: {image: "shop/web", environment: {DB: "postgres://app@db:5432/shop"}}
...   db: {image: "postgres:16"}
... ''')
>>> r = scan([d / "compose.yaml"], environ={})
>>> [(c.key, c.ci_class) for c in r.cis][1:]
[('compose:shop/web', 'application_instance'), ('compose:shop/db', 'database_instance')]
>>> [(x.source, x.target) for x in r.relationships if x.type == "depends_on"]
[('compose:shop/web', 'compose:shop/db')]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cmdb.errors import ImportFormatError, ValidationError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import (
    Collector,
    Doc,
    classify_image,
    engine_of_scheme,
    file_scope,
    find_refs,
    load_yaml,
    located,
)
from discovery._compose import ComposeLoader, expand, merge_files, normalize, parse_env_file

__all__ = ["get_env", "get_files", "scan", "transform_project"]

SOURCE = "compose"
TOP_KEYS = {
    "services",
    "volumes",
    "networks",
    "secrets",
    "configs",
    "name",
    "version",
    "include",
    "models",
}


def get_files(paths: Iterable[str | Path]) -> list[Doc]:
    """Each Compose file as one document, in order. A file that cannot be read or parsed, that
    holds more than one document, or that is not a Compose file raises
    :class:`ImportFormatError` naming it."""
    docs: list[Doc] = []
    for path in paths:
        found = load_yaml(path, ComposeLoader)
        if len(found) > 1:
            raise ImportFormatError(f"{found[1].origin}: a Compose file holds one YAML document")
        if not found or not isinstance(found[0].data, dict):
            raise ImportFormatError(
                f"{path}: not a Compose file (expected a mapping with 'services')"
            )
        keys = {k for k in found[0].data if not str(k).startswith("x-")}
        if not keys & TOP_KEYS:
            raise ImportFormatError(
                f"{path}: not a Compose file: none of its top-level keys "
                f"({', '.join(map(str, sorted(keys, key=str)))}) is services, volumes, "
                "networks, configs or secrets"
            )
        docs.append(found[0])
    if not docs:
        raise ImportFormatError("no Compose file given")
    return docs


def get_env(
    env_file: str | Path | None, first: str | Path, environ: Mapping[str, str] | None
) -> dict[str, str]:
    """The variables for interpolation: the env file (default ``.env`` beside ``first``),
    overridden by ``environ`` (default: the process environment)."""
    env: dict[str, str] = {}
    path = Path(env_file) if env_file is not None else Path(first).parent / ".env"
    if env_file is not None or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFormatError(
                f"{path}: cannot read env file ({getattr(exc, 'strerror', None) or exc})"
            ) from None
        env.update(parse_env_file(text, str(path)))
    env.update(os.environ if environ is None else environ)
    return env


def _project_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
    if not name:
        raise ValidationError(f"cannot make a project name of {raw!r}: give one (project=...)")
    return name


def transform_project(
    docs: Sequence[Doc],
    env: Mapping[str, str],
    *,
    project: str | None = None,
    profiles: Sequence[str] = (),
) -> Collector:
    """The CIs and relationships that the merged files describe (pure; see the module
    docstring)."""
    out = Collector()
    unset: set[str] = set()
    expanded = []
    for doc in docs:
        expanded.append(normalize(expand(doc.data, env, doc.path, unset, out.warnings), env))
    model = merge_files(expanded)
    where = " + ".join(d.path for d in docs)
    name = _project_name(
        project
        or model.get("name")
        or env.get("COMPOSE_PROJECT_NAME")
        or Path(docs[0].path).resolve().parent.name
    )
    with located(f"{where}: services"):
        services: dict[str, dict[str, Any]] = dict(model.get("services") or {})
        for svc_name, svc in services.items():
            if not isinstance(svc, dict):
                raise ValidationError(
                    "expected a mapping", location=f"{where}: services.{svc_name}"
                )
    skipped = [
        s
        for s, svc in services.items()
        if svc.get("profiles") and "*" not in profiles and not set(svc["profiles"]) & set(profiles)
    ]
    if skipped:
        out.warn(f"skipped services not in an active profile: {', '.join(skipped)}")
    services = {s: svc for s, svc in services.items() if s not in skipped}
    if not services:
        raise ImportFormatError(
            f"{where}: no services to read (a Compose file lists them under 'services')"
        )
    project_key = out.add(
        SeenCI(
            key=f"compose:{name}",
            ci_class="system",
            name=name,
            attributes={"project": name},
            origin=docs[0].origin,
        )
    )
    names = _names(services)
    volumes = model.get("volumes") or {}
    for svc_name, svc in services.items():
        with located(f"{where}: services.{svc_name}"):
            out.add(_service_ci(name, svc_name, svc, names, docs[0].origin))
    for svc_name, svc in services.items():
        with located(f"{where}: services.{svc_name}"):
            _connect(out, name, svc_name, svc, names, volumes, project_key, docs[0].origin)
    return out


def _names(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every name a service answers to on the project's networks -> the service."""
    names: dict[str, str] = {}
    for svc_name, svc in services.items():
        for alias in _aliases(svc_name, svc):
            names.setdefault(alias.lower(), svc_name)
    return names


def _aliases(svc_name: str, svc: dict[str, Any]) -> list[str]:
    out = [svc_name, svc.get("container_name"), svc.get("hostname")]
    for net in (svc.get("networks") or {}).values():
        out.extend((net or {}).get("aliases") or [])
    return list(dict.fromkeys(str(a) for a in out if a))


def _service_ci(
    project: str, svc_name: str, svc: dict[str, Any], names: dict[str, str], origin: str
) -> SeenCI:
    image = svc.get("image")
    attrs: dict[str, Any] = {"project": project, "service": svc_name}
    ci_class = "application_instance"
    if image:
        attrs["image"] = str(image)
        if (found := classify_image(str(image))) is not None:
            ci_class, extra = found
            attrs.update(extra)
    ports = [str(p if not isinstance(p, dict) else p["target"]) for p in svc.get("ports") or []]
    ports += [str(p) for p in svc.get("expose") or []]
    if ports:
        attrs["ports"] = ports
        target = ports[0].split("/")[0].rsplit(":", 1)[-1].split("-")[0]
        if target.isdigit():
            attrs["port"] = int(target)
    if svc.get("networks"):
        attrs["networks"] = sorted(svc["networks"])
    mounts = [_mount(v) for v in svc.get("volumes") or []]
    if mounts:
        attrs["volumes"] = [f"{src}:{dst}" if src else dst for src, dst, _ in mounts]
    return SeenCI(
        key=f"compose:{project}/{svc_name}",
        ci_class=ci_class,
        name=svc_name,
        identifiers=Identifiers(hostnames=_aliases(svc_name, svc)),
        attributes=attrs,
        parent=f"compose:{project}",
        origin=origin,
    )


def _mount(vol: Any) -> tuple[str, str, bool]:
    """``(source, target, is a named volume)`` of a service volume entry."""
    if isinstance(vol, dict):
        src, dst = str(vol.get("source") or ""), str(vol["target"])
        return src, dst, vol.get("type", "volume") == "volume" and bool(src)
    parts = str(vol).split(":")
    if len(parts) == 1:
        return "", parts[0], False
    src = parts[0]
    return src, parts[1], not src.startswith((".", "/", "~", "$"))


def _connect(
    out: Collector,
    project: str,
    svc_name: str,
    svc: dict[str, Any],
    names: dict[str, str],
    volumes: dict[str, Any],
    project_key: str,
    origin: str,
) -> None:
    key = f"compose:{project}/{svc_name}"
    out.rel(key, "part_of", project_key, origin)

    def service(target: str, via: str, **attrs: Any) -> None:
        if target not in names:
            out.warn(f"service {svc_name} refers to service {target}, which is not defined")
            out.placeholder(
                f"compose:{project}/{target}",
                "application_instance",
                target,
                parent=project_key,
                origin=origin,
                identifiers=Identifiers(hostnames=[target]),
                attributes={"project": project, "service": target},
            )
            out.rel(key, "depends_on", f"compose:{project}/{target}", origin, via=via, **attrs)
        else:
            out.rel(
                key, "depends_on", f"compose:{project}/{names[target]}", origin, via=via, **attrs
            )

    for dep, spec in (svc.get("depends_on") or {}).items():
        service(str(dep), "depends_on", condition=(spec or {}).get("condition", "service_started"))
    for link in svc.get("links") or []:
        service(str(link).split(":", 1)[0], "links")
    for src in svc.get("volumes_from") or []:
        if not str(src).startswith("container:"):
            service(str(src).split(":", 1)[0], "volumes_from")
    mode = str(svc.get("network_mode") or "")
    if mode.startswith("service:"):
        service(mode.split(":", 1)[1], "network_mode")
    for src, dst, named in (_mount(v) for v in svc.get("volumes") or []):
        if named:
            spec = volumes.get(src) or {}
            vkey = out.add(
                SeenCI(
                    key=f"compose:{project}/volume/{src}",
                    ci_class="storage",
                    name=src,
                    parent=project_key,
                    origin=origin,
                    attributes={
                        "project": project,
                        "volume": src,
                        "driver": spec.get("driver", "local"),
                        "external": bool(spec.get("external", False)),
                    },
                )
            )
            out.rel(key, "depends_on", vkey, origin, via=f"volume {dst}")
    _refs(out, project, svc_name, svc, names, origin)


def _refs(
    out: Collector,
    project: str,
    svc_name: str,
    svc: dict[str, Any],
    names: dict[str, str],
    origin: str,
) -> None:
    key = f"compose:{project}/{svc_name}"
    texts = [
        (f"environment {k}", str(v))
        for k, v in (svc.get("environment") or {}).items()
        if v is not None
    ]
    for field in ("command", "entrypoint"):
        value = svc.get(field)
        if value:
            texts.append(
                (field, " ".join(map(str, value)) if isinstance(value, list) else str(value))
            )
    for where, text in texts:
        for ref in find_refs(text, lambda w: w in names):
            attrs: dict[str, Any] = {"via": where}
            if ref.port:
                attrs["port"] = ref.port
            if ref.host in names:
                out.rel(key, "depends_on", f"compose:{project}/{names[ref.host]}", origin, **attrs)
                continue
            engine = engine_of_scheme(ref.scheme)
            is_ip = ref.host.replace(".", "").isdigit()
            target = out.placeholder(
                f"compose:host/{ref.host}",
                "database_instance" if engine else "technical_service",
                ref.host,
                origin=origin,
                identifiers=Identifiers(ips=[ref.host])
                if is_ip
                else Identifiers(hostnames=[ref.host]),
                attributes={"engine": engine} if engine else {},
            )
            out.rel(key, "depends_on", target, origin, **attrs)


def scan(
    paths: Iterable[str | Path],
    *,
    env_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    project: str | None = None,
    profiles: Sequence[str] = (),
) -> ScanResult:
    """Read Compose files (base first, then overrides) and return what they describe (see the
    module docstring)."""
    started = utcnow()
    paths = list(paths)
    if not paths:
        raise ImportFormatError("no Compose file given")
    docs = get_files(paths)
    env = get_env(env_file, docs[0].path, environ)
    out = transform_project(docs, env, project=project, profiles=profiles)
    scope = [file_scope(d.path) for d in docs]
    return ScanResult(
        source=SOURCE,
        scope=scope,
        complete=True,
        started_at=started,
        cis=list(out.cis.values()),
        relationships=list(out.rels.values()),
        warnings=out.warnings,
    ).finished()
