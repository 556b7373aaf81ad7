"""What the file scanners share: reading YAML with located errors, finding the hosts a string
names, and classifying a container image.

Assumptions: inputs are small text files (manifests, compose files, catalogs), read whole. A YAML
error names the file and the line; a document whose shape is wrong is reported at the line where
the document (or ``List`` item) starts. References are found by pattern, not by knowing what a
variable means: a URL with a scheme (``postgres://u@db:5432/x``, ``jdbc:mysql://db/x``), a
``host:port``, or a bare name that the caller says is known (``redis-cart``). Loopback and
wildcard addresses are never references.

>>> [(r.host, r.port, r.scheme) for r in find_refs("postgres://app@db:5432/x redis-cart:6379")]
[('db', 5432, 'postgres'), ('redis-cart', 6379, None)]
>>> classify_image("docker.io/library/postgres:15-alpine")
('database_instance', {'engine': 'postgresql'})
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cmdb.errors import ImportFormatError, ValidationError
from cmdb.scan import SeenCI, SeenRelationship

__all__ = [
    "Collector",
    "Doc",
    "Ref",
    "classify_image",
    "engine_of_scheme",
    "expand_paths",
    "file_scope",
    "find_refs",
    "item_lines",
    "load_yaml",
    "located",
    "scoped_by_file",
]

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it (ten times faster), else the pure-Python one."""
YAML_SUFFIXES = (".yaml", ".yml")
_LOCAL = {"localhost", "0.0.0.0", "::", "::1", "*", "host.docker.internal"}
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*"
_URL_RE = re.compile(r"(?<![a-z0-9+.-])(?:jdbc:)?([a-z][a-z0-9+.-]*)://([^\s/?#'\"`<>]*)", re.I)
_HOSTPORT_RE = re.compile(rf"(?<![\w.:/@-])({_HOST}):(\d{{1,5}})(?![\w.:])", re.I)
_WORD_RE = re.compile(r"[-_.]")
_TOKEN_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9])?", re.I)
_SCHEME_ENGINE = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlserver": "sqlserver",
    "mssql": "sqlserver",
    "oracle": "oracle",
    "db2": "db2",
    "mongodb": "other",
    "mongodb+srv": "other",
    "redis": "other",
    "rediss": "other",
}
# image name word -> (class, attributes): a word of the image name (split on / - _ .) names it
_IMAGES: dict[str, tuple[str, dict[str, str]]] = {
    **{
        w: ("database_instance", {"engine": "postgresql"})
        for w in ("postgres", "postgresql", "postgis", "timescaledb")
    },
    **{w: ("database_instance", {"engine": "mysql"}) for w in ("mysql", "mariadb", "percona")},
    **{w: ("database_instance", {"engine": "sqlserver"}) for w in ("mssql", "sqlserver")},
    "oracle": ("database_instance", {"engine": "oracle"}),
    "db2": ("database_instance", {"engine": "db2"}),
    **{
        w: ("database_instance", {"engine": "other"})
        for w in ("mongo", "mongodb", "redis", "valkey", "cassandra", "couchdb")
    },
    **{w: ("middleware", {"product": w}) for w in ("rabbitmq", "kafka", "nats", "memcached")},
    **{w: ("load_balancer", {"product": w}) for w in ("nginx", "haproxy", "traefik", "envoy")},
}
_TOOLS = {
    "exporter",
    "commander",
    "express",
    "admin",
    "ui",
    "operator",
    "client",
    "cli",
    "backup",
    "migrate",
    "migrations",
    "proxy-init",
}


@dataclass(frozen=True)
class Doc:
    """One YAML document: its data, the file it came from and the line it starts on (1-based);
    ``node`` is the composed node, to locate items inside it."""

    data: Any
    path: str
    line: int
    node: yaml.Node | None = None

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Ref:
    """A host that a string names: ``host`` lower-cased, ``port`` and ``scheme`` when given."""

    host: str
    port: int | None = None
    scheme: str | None = None
    text: str = ""


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: each path as given, a directory as its YAML files (sorted, recursive).

    A path that does not exist is an :class:`ImportFormatError`.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise ImportFormatError(f"{p}: no such file or directory")
    if not out:
        raise ImportFormatError("no YAML files to read in " + ", ".join(map(str, paths)))
    return out


def _yaml_problem(path: str, exc: yaml.YAMLError) -> ImportFormatError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "cannot parse"
    problem = " ".join(str(problem).split())
    if mark is None:
        return ImportFormatError(f"{path}: malformed YAML ({problem})")
    return ImportFormatError(
        f"{path}:{mark.line + 1}: malformed YAML ({problem}, column {mark.column + 1})"
    )


def load_yaml(path: str | Path, loader: type[yaml.SafeLoader] = SafeLoader) -> list[Doc]:
    """Every document of a YAML file, with its starting line; empty documents are skipped.

    Raises :class:`ImportFormatError` naming the file (and line) when it cannot be read or
    parsed.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ImportFormatError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise ImportFormatError(f"{name}: cannot read ({exc.strerror or exc})") from None
    docs: list[Doc] = []
    parser = loader(text)
    try:
        while parser.check_node():
            node = parser.get_node()
            if node is None:
                continue
            data = parser.construct_document(node)
            if data is not None:
                docs.append(Doc(data, name, node.start_mark.line + 1, node))
    except yaml.YAMLError as exc:
        raise _yaml_problem(name, exc) from None
    finally:
        parser.dispose()
    return docs


def item_lines(node: yaml.Node | None, key: str) -> list[int]:
    """The 1-based start lines of the items of the sequence under ``key`` of a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


@contextmanager
def located(origin: str) -> Iterator[None]:
    """Turn a missing field or a wrong shape met while transforming into a located
    :class:`ValidationError` (transforms read required fields with ``[]``)."""
    try:
        yield
    except KeyError as exc:
        raise ValidationError(f"missing required field '{exc.args[0]}'", location=origin) from None
    except (TypeError, AttributeError) as exc:
        raise ValidationError(f"unexpected shape ({exc})", location=origin) from None


def _host_ok(host: str) -> bool:
    if not host or host in _LOCAL or host.startswith("127."):
        return False
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


def _authority(scheme: str, authority: str, text: str) -> Iterator[Ref]:
    hosts = authority.rsplit("@", 1)[-1]
    for part in hosts.split(","):
        host, _, port = part.partition(":")
        if host.startswith("["):  # [ipv6]:port
            host, _, rest = part[1:].partition("]")
            port = rest.lstrip(":")
        host = host.lower().rstrip(".")
        if _host_ok(host):
            yield Ref(host, int(port) if port.isdigit() else None, scheme.lower(), text)


def find_refs(text: str, known: Callable[[str], bool] | None = None) -> list[Ref]:
    """The hosts that ``text`` names, in order of appearance, without repeats (by host and
    port): URLs with a scheme, ``host:port`` pairs, and bare words that ``known`` accepts.

    >>> [r.host for r in find_refs("jdbc:mysql://db:3306/x --cache=redis:6379 -v", None)]
    ['db', 'redis']
    >>> [r.host for r in find_refs("HOST=cache", lambda w: w == "cache")]
    ['cache']
    >>> find_refs("listen on 0.0.0.0:8080 or localhost:80, at 12:30")
    []
    """
    found: list[tuple[int, Ref]] = []
    rest = text
    for m in _URL_RE.finditer(text):
        found.extend((m.start(), r) for r in _authority(m.group(1), m.group(2), m.group(0)))
        rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :]
    for m in _HOSTPORT_RE.finditer(rest):
        host, port = m.group(1).lower(), int(m.group(2))
        if _host_ok(host) and 0 < port < 65536 and not host.isdigit():
            found.append((m.start(), Ref(host, port, None, m.group(0))))
        rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :]
    if known is not None:
        for m in _TOKEN_RE.finditer(rest):
            word = m.group(0).lower()
            if known(word):
                found.append((m.start(), Ref(word, None, None, m.group(0))))
    out: list[Ref] = []
    seen: set[tuple[str, int | None]] = set()
    for _, ref in sorted(found, key=lambda x: x[0]):
        if (ref.host, ref.port) not in seen:
            seen.add((ref.host, ref.port))
            out.append(ref)
    return out


def engine_of_scheme(scheme: str | None) -> str | None:
    """The registry's database engine for a URL scheme (``postgres`` -> ``postgresql``)."""
    return _SCHEME_ENGINE.get((scheme or "").lower())


def classify_image(image: str | None) -> tuple[str, dict[str, str]] | None:
    """The class (and its attributes) that an image says its container is, or None.

    Looks at every path part of the image name without registry host, tag or digest, so
    ``mcr.microsoft.com/mssql/server:2022`` is a SQL Server and ``bitnami/redis`` a Redis.

    >>> classify_image("redis:alpine")
    ('database_instance', {'engine': 'other'})
    >>> classify_image("gcr.io/google-samples/microservices-demo/frontend:v0.8.0") is None
    True
    """
    if not image:
        return None
    parts = image.split("@", 1)[0].lower().split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    parts[-1] = parts[-1].split(":", 1)[0]  # the tag
    if _TOOLS & set(_WORD_RE.split(parts[-1])):
        return None
    for part in parts:
        for word in _WORD_RE.split(part):
            if word in _IMAGES:
                ci_class, attrs = _IMAGES[word]
                return ci_class, dict(attrs)
    return None


def file_scope(path: str | Path) -> str:
    """The scope element of a file: ``file:`` and its absolute path, so that the same file
    read from another working directory is the same scope."""
    return f"file:{Path(path).resolve().as_posix()}"


def scoped_by_file(cis: Iterable[SeenCI]) -> list[SeenCI]:
    """The CIs, each with the scope of the file its ``origin`` (``path:line``) names."""
    return [
        ci.model_copy(update={"scope": file_scope(ci.origin.rsplit(":", 1)[0])})
        if ci.origin
        else ci
        for ci in cis
    ]


class Collector:
    """The CIs and relationships a transform builds, by key, without repeats.

    A CI added twice keeps the first sighting unless the later one describes what the first
    only referenced (``unresolved``); a relationship from a CI to itself is dropped (a workload
    that names its own service does not depend on itself).
    """

    def __init__(self) -> None:
        self.cis: dict[str, SeenCI] = {}
        self.rels: dict[tuple[str, str, str], SeenRelationship] = {}
        self.warnings: list[str] = []

    def add(self, ci: SeenCI) -> str:
        old = self.cis.get(ci.key)
        if old is None or (old.unresolved and not ci.unresolved):
            self.cis[ci.key] = ci
        return ci.key

    def placeholder(self, key: str, ci_class: str, name: str, **fields: Any) -> str:
        """Add an unresolved CI for a reference to ``key`` unless the input describes it."""
        if key not in self.cis:
            self.cis[key] = SeenCI(key=key, ci_class=ci_class, name=name, unresolved=True, **fields)
        return key

    def rel(
        self, source: str, rel_type: str, target: str, origin: str | None = None, **attributes: Any
    ) -> None:
        if source != target and (source, rel_type, target) not in self.rels:
            self.rels[source, rel_type, target] = SeenRelationship(
                source=source, type=rel_type, target=target, attributes=attributes, origin=origin
            )

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
