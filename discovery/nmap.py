"""The ``nmap`` scanner: the hosts and open ports of ``nmap -oX`` XML files.

Assumptions:

- Input is XML written by ``nmap -oX`` (any scan type; ``-sV`` adds products and versions,
  ``-O`` OS guesses). Only hosts whose status is ``up`` count; only ports whose state is
  ``open`` are endpoints (``closed``, ``filtered`` and UDP's ambiguous ``open|filtered`` are not).
- CIs: each host is an ``ip_device`` (a network scan cannot tell a server from a VM or a
  desktop; a better source or a person classifies it; the stored class is kept), keyed
  ``nmap:host/<ip>`` and identified by its MACs, FQDN and addresses; attributes: the best OS
  guess (``os``, ``os_accuracy``, ``os_family``, ``device_type``) and the MAC's ``vendor``.
  Each open port is an ``endpoint`` (``nmap:endpoint/<ip>/<protocol>/<port>``, identified by
  address, protocol and port, so re-running is a no-op and a host scan's peer is the same CI)
  that ``runs_on`` its host, with the ``service``, ``product`` and ``version`` nmap reports.
  A loopback address names whichever machine nmap ran on: a warning says so.
- Scope: one element per file, ``nmap:<targets> <protocol>:<ports>``: the targets of the
  command line in ``args`` (sorted; ``-iL FILE`` as ``list:FILE``, ``--exclude`` kept) and the
  ports of each ``scaninfo``. A later complete run of the *same* scan marks stale what it no
  longer sees; a scan of other targets or ports never touches it. Without ``args`` the targets
  are the addresses of the hosts listed. A run is complete when nmap finished with
  ``exit="success"`` and was not ``-iR`` (random targets cover nothing stable).
- Parsing: the file is streamed through expat (the standard library's parser) a block at a
  time, so a scan of a /16 needs memory for its up hosts' open ports only. ``iterparse`` cannot
  refuse entity declarations (its C parser hides expat's handlers) and ``defusedxml`` is not a
  dependency, so expat is driven directly: the bare ``<!DOCTYPE nmaprun>`` that nmap writes is
  allowed, any DOCTYPE with an internal subset or external id, entity declaration or external
  entity is refused (no billion laughs, no file or network reads). Any error names the file,
  line and column.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "scan.xml"
>>> _ = p.write_text('''<?xml version="1.0"?><!DOCTYPE nmaprun>
... <nmaprun scanner="nmap" args="nmap -sT -p 22,80 -oX scan.xml 192.0.2.7">
... <scaninfo type="connect" protocol="tcp" services="22,80"/>
... <host><status state="up"/><address addr="192.0.2.7" addrtype="ipv4"/>
... <ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port>
... <port protocol="tcp" portid="80"><state state="closed"/></port></ports></host>
... <runstats><finished exit="success"/></runstats></nmaprun>''')
>>> r = scan([p])
>>> [(c.key, c.ci_class) for c in r.cis]
[('nmap:host/192.0.2.7', 'ip_device'), ('nmap:endpoint/192.0.2.7/tcp/22', 'endpoint')]
>>> r.scope, r.complete
(['nmap:192.0.2.7 tcp:22,80'], True)
"""

from __future__ import annotations

import hashlib
import ipaddress
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from cmdb.errors import ImportFormatError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import Collector

__all__ = ["NmapHost", "NmapPort", "NmapRun", "get_runs", "scan", "transform_runs"]

SOURCE = "nmap"
_BLOCK = 64 * 1024
_MAX_SCOPE = 200  # longer port lists are summarised with a hash
# nmap options whose value is the next word (nmap 7.93 --help, and the scripting ones)
# fmt: off
_WITH_VALUE = frozenset((
    "--data", "--data-length", "--data-string", "--datadir", "--dns-servers", "--exclude",
    "--exclude-ports", "--excludefile", "--host-timeout", "--ip-options", "--max-rate",
    "--max-retries", "--min-hostgroup", "--max-hostgroup", "--min-parallelism",
    "--max-parallelism", "--min-rate", "--min-rtt-timeout", "--max-rtt-timeout",
    "--initial-rtt-timeout", "--mtu", "--port-ratio", "--proxies", "--resume", "--scan-delay",
    "--max-scan-delay", "--scanflags", "--spoof-mac", "--stylesheet", "--top-ports", "--ttl",
    "--version-intensity", "--source-port", "--script", "--script-args", "--script-args-file",
    "--script-help", "--script-timeout", "--servicedb", "--versiondb", "--stats-every",
    "--max-os-tries", "-D", "-S", "-b", "-e", "-g", "-iL", "-iR", "-oA", "-oN", "-oX", "-oS",
    "-oG", "-oM", "-p", "-sI",
))
# fmt: on
_PROTOCOLS = ("tcp", "udp", "sctp")
_TARGET_OPTIONS = {"-iL": "list", "--exclude": "exclude", "--excludefile": "excludefile"}


@dataclass(frozen=True)
class NmapPort:
    """An open port and what nmap says listens on it."""

    protocol: str
    port: int
    service: str | None = None
    product: str | None = None
    version: str | None = None
    tunnel: str | None = None


@dataclass
class NmapHost:
    """A host that was up: its addresses as ``(addr, addrtype, vendor)``, names, OS guess."""

    origin: str
    addresses: list[tuple[str, str, str | None]] = field(default_factory=list)
    hostnames: list[str] = field(default_factory=list)
    os: dict[str, Any] = field(default_factory=dict)
    ports: list[NmapPort] = field(default_factory=list)
    state: str | None = None


@dataclass
class NmapRun:
    """One XML file: its command line, the ports of each protocol scanned, its up hosts."""

    path: str
    args: str | None = None
    scaninfo: list[tuple[str, str]] = field(default_factory=list)
    hosts: list[NmapHost] = field(default_factory=list)
    exit: str | None = None
    errormsg: str | None = None


class _Refused(Exception):
    pass


class _Reader:
    """expat handlers that keep up hosts and open ports, and drop everything else."""

    def __init__(self, path: str, parser: Any):
        self.run, self.p = NmapRun(path), parser
        self.stack: list[str] = []
        self.host: NmapHost | None = None
        self.best_os = False  # the <osmatch> being read is the most accurate so far
        self.port: dict[str, str] | None = None
        self.root_seen = False

    def where(self) -> str:
        return f"{self.run.path}:{self.p.CurrentLineNumber}"

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1] if self.stack else None
        self.stack.append(tag)
        try:
            self._start(tag, parent, attrs)
        except KeyError as exc:
            raise ImportFormatError(
                f"{self.where()}: <{tag}> has no '{exc.args[0]}' attribute"
            ) from None
        except ValueError as exc:
            raise ImportFormatError(f"{self.where()}: <{tag}>: {exc}") from None

    def _start(self, tag: str, parent: str | None, a: dict[str, str]) -> None:
        if parent is None:
            if tag != "nmaprun":
                raise ImportFormatError(
                    f"{self.where()}: not an nmap XML file (the root is <{tag}>, not <nmaprun>)"
                )
            self.root_seen, self.run.args = True, a.get("args")
        elif tag == "scaninfo":
            self.run.scaninfo.append((a["protocol"], a.get("services", "")))
        elif tag == "finished":
            self.run.exit, self.run.errormsg = a.get("exit"), a.get("errormsg")
        elif tag == "host" and parent == "nmaprun":
            self.host = NmapHost(origin=self.where())
        elif self.host is None:
            return
        elif tag == "status" and parent == "host":
            self.host.state = a["state"]
        elif tag == "address" and parent == "host":
            self.host.addresses.append((a["addr"], a["addrtype"], a.get("vendor")))
        elif tag == "hostname" and a.get("name"):
            self.host.hostnames.append(a["name"].lower().rstrip("."))
        elif tag == "port":
            self.port = {"protocol": a["protocol"], "port": str(int(a["portid"]))}
        elif tag == "state" and parent == "port" and self.port is not None:
            self.port["state"] = a["state"]
        elif tag == "service" and self.port is not None:
            for k in ("name", "product", "version", "tunnel"):
                if a.get(k):
                    self.port[k] = a[k]
        elif tag == "osmatch":
            self.best_os = int(a["accuracy"]) > self.host.os.get("os_accuracy", -1)
            if self.best_os:
                self.host.os = {"os": a["name"], "os_accuracy": int(a["accuracy"])}
        elif tag == "osclass" and self.best_os and "os_family" not in self.host.os:
            self.host.os.update({"os_family": a.get("osfamily"), "device_type": a.get("type")})

    def end(self, tag: str) -> None:
        self.stack.pop()
        if tag == "port" and self.host is not None and self.port is not None:
            if self.port.get("state") == "open":
                p = self.port
                self.host.ports.append(
                    NmapPort(
                        p["protocol"],
                        int(p["port"]),
                        p.get("name"),
                        p.get("product"),
                        p.get("version"),
                        p.get("tunnel"),
                    )
                )
            self.port = None
        elif tag == "host" and self.host is not None:
            if self.host.state == "up":
                self.run.hosts.append(self.host)
            self.host = None

    def doctype(self, name: str, sysid: str | None, pubid: str | None, internal: int) -> None:
        if internal or sysid or pubid:
            raise _Refused("a DOCTYPE with declarations or an external id is not allowed")

    def entity(self, *_: Any) -> None:
        raise _Refused("entity declarations are not allowed")

    def external(self, *_: Any) -> int:
        raise _Refused("external entities are not allowed")


def _read(path: Path) -> NmapRun:
    name = str(path)
    parser = expat.ParserCreate()
    reader = _Reader(name, parser)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.doctype
    parser.EntityDeclHandler = reader.entity
    parser.ExternalEntityRefHandler = reader.external
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        with path.open("rb") as f:
            while block := f.read(_BLOCK):
                parser.Parse(block, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise ImportFormatError(
            f"{name}:{exc.lineno}: malformed XML ({expat.ErrorString(exc.code)}, "
            f"column {exc.offset + 1})"
        ) from None
    except _Refused as exc:
        raise ImportFormatError(
            f"{name}:{parser.CurrentLineNumber}: refused XML ({exc}, "
            f"column {parser.CurrentColumnNumber + 1})"
        ) from None
    except FileNotFoundError:
        raise ImportFormatError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImportFormatError(f"{name}: a directory, not an nmap XML file") from None
    except OSError as exc:
        raise ImportFormatError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not reader.root_seen:  # pragma: no cover - expat reports a document without elements
        raise ImportFormatError(f"{name}: not an nmap XML file")
    return reader.run


def get_runs(paths: Iterable[str | Path]) -> list[NmapRun]:
    """Read every XML file (streamed): its up hosts with their open ports. A file that cannot
    be read, is not well-formed, declares entities or is not nmap output raises
    :class:`ImportFormatError` naming the file, line and column."""
    files = [Path(p) for p in paths]
    if not files:
        raise ImportFormatError("the nmap scanner needs XML files (nmap -oX FILE ...)")
    return [_read(p) for p in files]


def targets(args: str | None) -> tuple[list[str], bool]:
    """The targets of an nmap command line, sorted, and whether they are a stable set.

    >>> targets("nmap -sT -p 80,443 -oX out.xml 10.0.0.0/24 db.example --exclude 10.0.0.9")
    (['10.0.0.0/24', 'db.example', 'exclude:10.0.0.9'], True)
    >>> targets("nmap -iR 100 -p 22")
    ([], False)
    """
    try:
        words = shlex.split(args or "")[1:]
    except ValueError:
        words = (args or "").split()[1:]
    out, stable, i = [], True, 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in _WITH_VALUE:
            if word in _TARGET_OPTIONS:
                out.append(f"{_TARGET_OPTIONS[word]}:{value}")
            stable = stable and word != "-iR"
            i += 2
            continue
        if not word.startswith("-"):
            out.append(word.lower())
        i += 1
    return sorted(out), stable


def _scope(run: NmapRun) -> str:
    found, _ = targets(run.args)
    if not found:
        found = sorted({h.addresses[0][0] for h in run.hosts if h.addresses})
    ports = " ".join(f"{proto}:{services}" for proto, services in run.scaninfo)
    text = f"nmap:{','.join(found) or 'no targets'} {ports}".strip()
    if len(text) <= _MAX_SCOPE:
        return text
    return f"{text[: _MAX_SCOPE - 12]}#{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _host(out: Collector, host: NmapHost, scope: str) -> str | None:
    ips = [a for a, kind, _ in host.addresses if kind in ("ipv4", "ipv6")]
    if not ips:
        out.warn(f"{host.origin}: a host without an IP address was skipped")
        return None
    macs = [(a, v) for a, kind, v in host.addresses if kind == "mac"]
    names = list(dict.fromkeys(host.hostnames))
    fqdn = next((n for n in names if "." in n and not _is_ip(n)), None)
    attrs: dict[str, Any] = {k: v for k, v in host.os.items() if v is not None}
    vendor = next((v for _, v in macs if v), None)
    if vendor:
        attrs["vendor"] = vendor
    if any(ipaddress.ip_address(ip).is_loopback for ip in ips):
        out.warn(
            f"{host.origin}: {ips[0]} is a loopback address: it names the machine nmap ran "
            "on, and is matched by address only"
        )
    key = f"nmap:host/{ips[0]}"
    old = out.cis.get(key)
    if old is not None:  # the same host in two files: one CI with what both saw
        ids = old.identifiers
        merged = Identifiers(
            fqdn=ids.fqdn or fqdn,
            ips=list(dict.fromkeys([*ids.ips, *ips])),
            macs=list(dict.fromkeys([*ids.macs, *(m for m, _ in macs)])),
            hostnames=list(dict.fromkeys([*ids.hostnames, *names])),
        )
        out.cis[key] = old.model_copy(
            update={"identifiers": merged, "attributes": {**attrs, **old.attributes}}
        )
        return key
    out.add(
        SeenCI(
            key=key,
            ci_class="ip_device",
            name=fqdn or (names[0] if names else ips[0]),
            identifiers=Identifiers(fqdn=fqdn, ips=ips, macs=[m for m, _ in macs], hostnames=names),
            attributes=attrs,
            origin=host.origin,
            scope=scope,
        )
    )
    return key


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def transform_runs(runs: Sequence[NmapRun]) -> Collector:
    """The hosts and endpoints that the runs saw (pure; see the module docstring)."""
    out = Collector()
    for run in runs:
        scope = _scope(run)
        for host in run.hosts:
            host_key = _host(out, host, scope)
            if host_key is None:
                continue
            ip = next(a for a, kind, _ in host.addresses if kind in ("ipv4", "ipv6"))
            for port in host.ports:
                if port.protocol not in _PROTOCOLS:
                    out.warn(
                        f"{run.path}: {port.protocol} ports (of an -sO scan) are not endpoints"
                    )
                    continue
                attrs: dict[str, Any] = {
                    "address": ip,
                    "protocol": port.protocol,
                    "port": port.port,
                    "service": port.service,
                    "product": port.product,
                    "version": port.version,
                    "tunnel": port.tunnel,
                }
                key = out.add(
                    SeenCI(
                        key=f"nmap:endpoint/{ip}/{port.protocol}/{port.port}",
                        ci_class="endpoint",
                        name=f"{_bracket(ip)}:{port.port}/{port.protocol}",
                        attributes={k: v for k, v in attrs.items() if v is not None},
                        origin=host.origin,
                        scope=scope,
                    )
                )
                out.rel(key, "runs_on", host_key, host.origin)
    return out


def scan(paths: Iterable[str | Path]) -> ScanResult:
    """Read the nmap XML files at ``paths`` (see the module docstring)."""
    started = utcnow()
    runs = get_runs(paths)
    out = transform_runs(runs)
    complete = True
    for run in runs:
        if run.exit not in (None, "success"):
            complete = False
            out.warn(f"{run.path}: nmap ended with {run.exit} ({run.errormsg or 'no reason'})")
        elif run.exit is None:
            complete = False
            out.warn(f"{run.path}: the scan has no <finished> record (interrupted?)")
        if not targets(run.args)[1]:
            complete = False
            out.warn(f"{run.path}: random targets (-iR) cover no stable scope")
    return ScanResult(
        source=SOURCE,
        scope=list(dict.fromkeys(_scope(r) for r in runs)),
        complete=complete,
        started_at=started,
        cis=list(out.cis.values()),
        relationships=list(out.rels.values()),
        warnings=out.warnings,
    ).finished()
