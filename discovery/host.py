"""The ``host`` scanner: the machine it runs on, its listening processes and their TCP
connections, through psutil.

Assumptions:

- Paths: none, or ``localhost`` (or this machine's own name): psutil sees only the machine the
  scanner runs on; any other name is a :class:`~cmdb.errors.ValidationError`. Scope:
  ``host:<hostname>``.
- The machine is a ``virtual_machine`` when DMI (``/sys/class/dmi/id``) names a hypervisor
  or the CPU flags say ``hypervisor``, else a ``physical_server``: hostname, FQDN (when the
  resolver gives one with a dot), serial number (``product_serial``, usually root-only: a
  warning says when it could not be read), OS, CPUs, memory, vendor and model. Its MACs and IPs
  are those of interfaces backed by a device (``/sys/class/net/<if>/device`` on Linux): the
  addresses of bridges and veths (``172.17.0.1`` on every Docker host) identify nothing.
  Loopback and link-local addresses are never identifiers.
- A process that listens on TCP is an ``application_instance`` that ``runs_on`` the machine,
  named ``<process>:<lowest port>`` within the machine (processes of one name listening on the
  same ports, such as a server's workers, are one instance). Its ``command`` is a summary of the
  command line with anything that looks like a secret replaced by ``***``
  (:func:`redact`). PIDs are never part of a key: a restart is the same instance.
- For each listening socket bound to a device address (or a wildcard), an ``endpoint``
  (address, ``tcp``, port) that ``runs_on`` the machine and ``depends_on`` the process, so a
  client on another machine (or nmap) that sees the same address and port meets it.
- An ESTABLISHED connection whose local port is not a listening port is outbound: the client
  process (its listening instance, or a client ``application_instance`` named after the
  process, one per name, with its executables and users) ``depends_on`` the server. A local
  server (the peer is a loopback or own address) is its listening instance; a remote peer is
  an ``unresolved`` endpoint (address, ``tcp``, port) to be matched by identifiers when
  something describes it. Inbound connections from remote clients are not edges (the client
  side is an ephemeral port).
- Permissions: a process whose name cannot be read, and a socket whose process is hidden
  (psutil gives no pid for other users' sockets unless root), are counted; the scan completes
  with what it read, says how much it could not in its warnings, and is then *partial* (it
  marks nothing stale).

>>> redact(["psql", "--password=s3cr3t", "-h", "db", "--token", "abc", "postgres://u:pw@db/x"])
['psql', '--password=***', '-h', 'db', '--token', '***', 'postgres://u:***@db/x']
"""

from __future__ import annotations

import ipaddress
import platform
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cmdb.errors import ValidationError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import Collector

__all__ = [
    "Machine",
    "Proc",
    "Snapshot",
    "Sock",
    "get_machine",
    "get_snapshot",
    "redact",
    "scan",
    "transform_snapshot",
]

SOURCE = "host"
DMI = Path("/sys/class/dmi/id")
NET = Path("/sys/class/net")
_VIRTUAL = re.compile(
    r"kvm|qemu|vmware|virtualbox|xen|hvm domu|virtual machine|amazon ec2|google compute engine"
    r"|openstack|bochs|parallels|bhyve|cloud hypervisor"
)
_NO_SERIAL = {"", "none", "0", "not specified", "to be filled by o.e.m.", "default string"}
_SECRET = r"pass|passwd|password|pwd|secret|token|api[-_]?key|auth|credential|private[-_]?key"
_SECRET_KV = re.compile(rf"^(-{{0,2}}[\w.-]*(?:{_SECRET})[\w.-]*[=:])(.+)$", re.I)
_SECRET_FLAG = re.compile(rf"^--?[\w.-]*(?:{_SECRET})[\w.-]*$", re.I)
_URL_PASS = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
_OPAQUE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9+_=-]{32,}$")
_MAX_COMMAND = 300


@dataclass(frozen=True)
class Machine:
    """What the machine says about itself; ``addresses`` are ``(ip, interface)`` pairs."""

    hostname: str
    fqdn: str | None = None
    serial: str | None = None
    serial_denied: bool = False
    macs: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    os: str | None = None
    kernel: str | None = None
    cpu_count: int | None = None
    memory_gb: int | None = None
    vendor: str | None = None
    model: str | None = None
    virtual: bool = False


@dataclass(frozen=True)
class Proc:
    """A process as far as it could be read (``partial``: exe or command line denied)."""

    pid: int
    name: str
    exe: str | None = None
    cmdline: tuple[str, ...] = ()
    user: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class Sock:
    """A TCP socket: local and remote ``(ip, port)``, psutil status, owning pid (None: hidden)."""

    laddr: tuple[str, int]
    raddr: tuple[str, int] | None
    status: str
    pid: int | None


@dataclass
class Snapshot:
    """One reading of the machine: its sockets, the processes owning them, what was denied."""

    machine: Machine
    sockets: list[Sock] = field(default_factory=list)
    procs: dict[int, Proc] = field(default_factory=dict)
    denied: int = 0
    hidden_sockets: int = 0
    looked_at: int = 0


def _read(path: Path) -> tuple[str | None, bool]:
    """A DMI or sysfs value, and whether reading it was denied."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip(), False
    except PermissionError:
        return None, True
    except OSError:
        return None, False


def _plain_ip(text: str) -> str:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def _device_interfaces(names: Iterable[str]) -> set[str]:
    """The interfaces backed by a device; all of them where sysfs does not say."""
    names = list(names)
    if not NET.is_dir():
        return set(names)
    return {n for n in names if (NET / n / "device").exists()}


def get_machine() -> Machine:
    """Read the machine: names, DMI, interfaces, OS, CPUs, memory."""
    hostname = socket.gethostname().lower()
    fqdn = socket.getfqdn().lower().rstrip(".")
    if "." not in fqdn or fqdn.startswith("localhost") or _is_ip(fqdn):
        fqdn = ""
    serial, denied = _read(DMI / "product_serial")
    vendor, _ = _read(DMI / "sys_vendor")
    model, _ = _read(DMI / "product_name")
    text = f"{vendor or ''} {model or ''}".lower()
    virtual = bool(_VIRTUAL.search(text))
    if not text.strip():
        cpuinfo, _ = _read(Path("/proc/cpuinfo"))
        virtual = bool(cpuinfo and re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.M))
    addrs = psutil.net_if_addrs()
    devices = _device_interfaces(addrs)
    macs: list[str] = []
    ips: list[str] = []
    for name in sorted(devices):
        for a in addrs[name]:
            if a.family == psutil.AF_LINK and a.address and a.address != "00:00:00:00:00:00":
                macs.append(a.address.lower().replace("-", ":"))
            elif a.family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(_plain_ip(a.address))
                if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                    ips.append(str(ip))
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        os_name = None
    return Machine(
        hostname=hostname,
        fqdn=fqdn or None,
        serial=serial if serial and serial.lower() not in _NO_SERIAL else None,
        serial_denied=denied,
        macs=tuple(dict.fromkeys(macs)),
        ips=tuple(dict.fromkeys(ips)),
        os=os_name or f"{platform.system()} {platform.release()}".strip() or None,
        kernel=f"{platform.system()} {platform.release()}".strip() or None,
        cpu_count=psutil.cpu_count(logical=True),
        memory_gb=round(psutil.virtual_memory().total / 2**30),
        vendor=vendor or None,
        model=model or None,
        virtual=virtual,
    )


def _sockets() -> tuple[list[Sock], int]:
    """Every TCP socket; where the system-wide call is refused (macOS without root), each
    process's own, counting the processes that refuse."""
    try:
        raw = [(c, c.pid) for c in psutil.net_connections(kind="tcp")]
        denied = 0
    except psutil.AccessDenied:
        raw, denied = [], 0
        for proc in psutil.process_iter():
            try:
                raw.extend((c, proc.pid) for c in proc.net_connections(kind="tcp"))
            except psutil.AccessDenied:
                denied += 1
            except psutil.NoSuchProcess:
                continue
    out = [
        Sock(
            (_plain_ip(c.laddr.ip), c.laddr.port),
            (_plain_ip(c.raddr.ip), c.raddr.port) if c.raddr else None,
            c.status,
            pid,
        )
        for c, pid in raw
        if c.laddr
    ]
    return out, denied


def _process(pid: int) -> Proc | bool | None:
    """The process (None: it is gone; False: its name cannot be read)."""
    try:
        proc = psutil.Process(pid)
        name = proc.name()
    except psutil.AccessDenied:
        return False
    except psutil.NoSuchProcess:
        return None
    values: dict[str, Any] = {}
    partial = False
    for attr, read in (("exe", proc.exe), ("cmdline", proc.cmdline), ("user", proc.username)):
        try:
            values[attr] = read()
        except psutil.AccessDenied:
            partial = True
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
    return Proc(
        pid=pid,
        name=name,
        exe=values.get("exe") or None,
        cmdline=tuple(values.get("cmdline") or ()),
        user=values.get("user"),
        partial=partial,
    )


def get_snapshot() -> Snapshot:
    """Read the machine, its TCP sockets (listening and established) and their processes."""
    snap = Snapshot(machine=get_machine())
    sockets, snap.denied = _sockets()
    keep = (psutil.CONN_LISTEN, psutil.CONN_ESTABLISHED)
    snap.sockets = [s for s in sockets if s.status in keep]
    snap.hidden_sockets = sum(1 for s in snap.sockets if s.pid is None)
    for pid in sorted({s.pid for s in snap.sockets if s.pid is not None}):
        snap.looked_at += 1
        got = _process(pid)
        if got is False:
            snap.denied += 1
        elif isinstance(got, Proc):
            snap.procs[pid] = got
    return snap


def redact(args: Sequence[str]) -> list[str]:
    """The command line with what looks like a secret replaced by ``***``: the value of an
    option or variable whose name says password, secret, token, key or auth; a URL's password;
    a long opaque string of letters and digits."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        arg = _URL_PASS.sub(r"\1***@", arg)
        if m := _SECRET_KV.match(arg):
            arg = m.group(1) + "***"
        elif _SECRET_FLAG.match(arg):
            hide_next = True
        elif _OPAQUE.match(arg):
            arg = "***"
        out.append(arg)
    return out


def _command(proc: Proc) -> str | None:
    if not proc.cmdline:
        return None
    text = " ".join(redact([Path(proc.cmdline[0]).name, *proc.cmdline[1:]]))
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 3] + "..."


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _endpoint(out: Collector, ip: str, port: int, origin: str, *, unresolved: bool) -> str:
    ci = SeenCI(
        key=f"host:endpoint/{ip}/tcp/{port}",
        ci_class="endpoint",
        name=f"{_bracket(ip)}:{port}/tcp",
        attributes={"address": ip, "protocol": "tcp", "port": port},
        unresolved=unresolved,
        origin=origin,
    )
    return out.add(ci)


def _machine_ci(m: Machine) -> SeenCI:
    attrs: dict[str, Any] = {
        "os": m.os,
        "kernel": m.kernel,
        "cpu_count": m.cpu_count,
        "memory_gb": m.memory_gb,
        "vendor": m.vendor,
        "model": m.model,
    }
    short = m.hostname.split(".", 1)[0]
    return SeenCI(
        key=f"host:{m.hostname}",
        ci_class="virtual_machine" if m.virtual else "physical_server",
        name=short,
        identifiers=Identifiers(
            serial_number=m.serial,
            fqdn=m.fqdn,
            hostnames=list(dict.fromkeys([short, m.hostname])),
            ips=list(m.ips),
            macs=list(m.macs),
        ),
        attributes={k: v for k, v in attrs.items() if v is not None},
        origin=f"host {m.hostname}",
    )


def transform_snapshot(snap: Snapshot) -> Collector:
    """The machine, its listening instances, endpoints and runtime dependencies (pure; see the
    module docstring)."""
    out = Collector()
    host = out.add(_machine_ci(snap.machine))
    instance = _listeners(out, snap, host)
    stats = _connections(out, snap, host, instance)
    _warn(out, snap, stats)
    return out


def _listeners(out: Collector, snap: Snapshot, host: str) -> dict[int, str]:
    """The listening instances (one per process name and lowest port) and their endpoints;
    returns pid -> instance key."""
    m, origin = snap.machine, f"host {snap.machine.hostname}"
    listeners = [s for s in snap.sockets if s.status == psutil.CONN_LISTEN]
    ports_of: dict[int, set[int]] = {}
    for s in listeners:
        if s.pid in snap.procs:
            ports_of.setdefault(s.pid, set()).add(s.laddr[1])
    instance: dict[int, str] = {}
    for pid, ports in sorted(ports_of.items()):
        proc = snap.procs[pid]
        name = f"{proc.name}:{min(ports)}"
        key = f"host:{m.hostname}/{name}"
        old = out.cis.get(key)
        attrs = {
            "process": proc.name,
            "exe": proc.exe,
            "command": _command(proc),
            "user": proc.user,
            "port": min(ports),
            "ports": sorted(ports | set(old.attributes["ports"] if old else ())),
        }
        out.cis[key] = SeenCI(
            key=key,
            ci_class="application_instance",
            name=name,
            attributes={k: v for k, v in attrs.items() if v is not None},
            parent=host,
            origin=f"{origin} pid {pid}",
        )
        instance[pid] = key
        out.rel(key, "runs_on", host, origin)
    for s in listeners:
        if s.pid not in instance:
            continue
        bound = s.laddr[0]
        if bound == "::":  # dual-stack by default (Linux): every address
            ips = list(m.ips)
        elif bound == "0.0.0.0":
            ips = [ip for ip in m.ips if ":" not in ip]
        else:
            ips = [bound] if bound in m.ips else []
        for ip in ips:
            ep = _endpoint(out, ip, s.laddr[1], f"{origin} pid {s.pid}", unresolved=False)
            out.rel(ep, "runs_on", host, origin)
            out.rel(ep, "depends_on", instance[s.pid], origin)
    return instance


def _connections(
    out: Collector, snap: Snapshot, host: str, instance: dict[int, str]
) -> dict[str, int]:
    """The outbound connections as ``depends_on``; returns the counts of those it could not
    record (``hidden_server``, ``no_listener``)."""
    m, origin = snap.machine, f"host {snap.machine.hostname}"
    listening = {s.laddr: s.pid for s in snap.sockets if s.status == psutil.CONN_LISTEN}
    stats = {"hidden_server": 0, "no_listener": 0}
    for s in snap.sockets:
        if s.status != psutil.CONN_ESTABLISHED or s.raddr is None or s.pid not in snap.procs:
            continue
        if any(a in listening for a in (s.laddr, ("0.0.0.0", s.laddr[1]), ("::", s.laddr[1]))):
            continue  # the server side of an accepted connection
        client = instance.get(s.pid) or _client(out, snap.procs[s.pid], m.hostname, host)
        ip, port = s.raddr
        if not (ipaddress.ip_address(ip).is_loopback or ip in m.ips or ip == s.laddr[0]):
            target = _endpoint(out, ip, port, f"{origin} pid {s.pid}", unresolved=True)
            out.rel(client, "depends_on", target, origin)
            continue
        found = [a for a in ((ip, port), ("0.0.0.0", port), ("::", port)) if a in listening]
        server = listening[found[0]] if found else None
        if not found:
            stats["no_listener"] += 1
        elif server is None or server not in instance:
            stats["hidden_server"] += 1
        else:
            out.rel(client, "depends_on", instance[server], origin, port=port)
    return stats


def _client(out: Collector, proc: Proc, hostname: str, host: str) -> str:
    """The client instance of a process that does not listen: one per process name, with the
    executables and users of all its processes (never one process's command line, which
    would flap between runs)."""
    key = f"host:{hostname}/{proc.name}"
    old = out.cis.get(key)
    exes = sorted(
        {*(old.attributes.get("exes", []) if old else []), *([proc.exe] if proc.exe else [])}
    )
    users = sorted(
        {*(old.attributes.get("users", []) if old else []), *([proc.user] if proc.user else [])}
    )
    out.cis[key] = SeenCI(
        key=key,
        ci_class="application_instance",
        name=proc.name,
        attributes={"process": proc.name, "exes": exes, "users": users},
        parent=host,
        origin=old.origin if old else f"host {hostname} pid {proc.pid}",
    )
    out.rel(key, "runs_on", host)
    return key


def _warn(out: Collector, snap: Snapshot, stats: dict[str, int]) -> None:
    if snap.machine.serial_denied:
        out.warn("the serial number (/sys/class/dmi/id/product_serial) is readable by root only")
    if snap.denied:
        out.warn(
            f"could not read {snap.denied} of {snap.looked_at or snap.denied} processes "
            "(access denied): their sockets and connections are missing; run as root for all"
        )
    partial = sum(1 for p in snap.procs.values() if p.partial)
    if partial:
        out.warn(f"{partial} processes were read in part (no exe or command line: access denied)")
    if snap.hidden_sockets:
        out.warn(
            f"{snap.hidden_sockets} TCP sockets belong to processes this user cannot see "
            "(access denied)"
        )
    if stats["hidden_server"]:
        out.warn(f"{stats['hidden_server']} local connections go to servers this user cannot see")
    if stats["no_listener"]:
        out.warn(
            f"{stats['no_listener']} local connections go to ports no process listens on "
            "(forwarded or closing); not recorded"
        )


def _this_machine(paths: Sequence[str | Path]) -> None:
    names = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
    for p in paths:
        if str(p).lower().rstrip(".") not in names:
            raise ValidationError(
                f"the host scanner reads only the machine it runs on (give no path, or "
                f"'localhost'), not {str(p)!r}: run it there"
            )


def scan(paths: Sequence[str | Path] = ()) -> ScanResult:
    """Scan this machine (see the module docstring). ``paths``: none, or ``localhost``."""
    _this_machine(paths)
    started = utcnow()
    snap = get_snapshot()
    out = transform_snapshot(snap)
    hidden = snap.denied or snap.hidden_sockets
    return ScanResult(
        source=SOURCE,
        scope=[f"host:{snap.machine.hostname}"],
        complete=not hidden,
        started_at=started,
        cis=list(out.cis.values()),
        relationships=list(out.rels.values()),
        warnings=out.warnings,
    ).finished()
