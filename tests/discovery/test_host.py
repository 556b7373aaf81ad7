"""The host scanner: this machine through psutil, a real client -> server connection that the
test makes, secrets kept out of command lines, and scans that may not read every process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ValidationError
from cmdb.filters import HistoryFilter, RelFilter
from cmdb.reconcile import reconcile
from cmdb.scan import ScanResult
from discovery import SCANNERS
from discovery import host as host_scanner
from discovery.host import Machine, Proc, Snapshot, Sock, redact, scan, transform_snapshot
from discovery.nmap import scan as nmap_scan

LISTEN, EST = psutil.CONN_LISTEN, psutil.CONN_ESTABLISHED
NMAP_LAN = Path(__file__).parent / "fixtures" / "nmap" / "lan-os-mac.xml"
MACHINE = Machine(
    hostname="app-1",
    fqdn="app-1.lab.example",
    macs=("02:00:00:00:00:01",),
    ips=("192.0.2.10",),
    os="Debian GNU/Linux 12 (bookworm)",
    cpu_count=4,
    memory_gb=16,
    vendor="QEMU",
    model="Standard PC (Q35 + ICH9, 2009)",
    virtual=True,
)
SERVER = """
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
"""
CLIENT = """
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
time.sleep(120)
"""


def snapshot(*sockets: Sock, procs: Sequence[Proc] = (), **counts: int) -> Snapshot:
    return Snapshot(
        machine=MACHINE, sockets=list(sockets), procs={p.pid: p for p in procs}, **counts
    )


class TestRedact:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["app", "--password=hunter2"], ["app", "--password=***"]),
            (["app", "--db-pass", "hunter2", "-v"], ["app", "--db-pass", "***", "-v"]),
            (
                ["env", "API_KEY=abc", "AWS_SECRET_ACCESS_KEY=x"],
                ["env", "API_KEY=***", "AWS_SECRET_ACCESS_KEY=***"],
            ),
            (["curl", "https://bob:pa55@api.example/x"], ["curl", "https://bob:***@api.example/x"]),
            (["run", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"], ["run", "***"]),
            (
                ["nginx", "-g", "daemon off;", "-c", "/etc/nginx/nginx.conf"],
                ["nginx", "-g", "daemon off;", "-c", "/etc/nginx/nginx.conf"],
            ),
            (
                ["java", "-Dauth.token:xyz", "-jar", "a.jar"],
                ["java", "-Dauth.token:***", "-jar", "a.jar"],
            ),
        ],
    )
    def test_secrets_are_hidden(self, args, expected):
        assert redact(args) == expected


class TestTransform:
    def test_machine(self):
        out = transform_snapshot(snapshot())
        m = out.cis["host:app-1"]
        assert m.ci_class == "virtual_machine" and m.name == "app-1"
        assert m.identifiers.fqdn == "app-1.lab.example"
        assert m.identifiers.macs == ["02:00:00:00:00:01"]
        assert m.attributes["cpu_count"] == 4 and m.attributes["memory_gb"] == 16
        physical = Snapshot(machine=Machine(hostname="srv", serial="SN-1", virtual=False))
        srv = transform_snapshot(physical).cis["host:srv"]
        assert srv.ci_class == "physical_server" and srv.identifiers.serial_number == "SN-1"

    def test_local_client_depends_on_server(self):
        out = transform_snapshot(
            snapshot(
                Sock(("0.0.0.0", 5432), None, LISTEN, 20),
                Sock(("127.0.0.1", 5432), ("127.0.0.1", 40000), EST, 20),  # accepted side
                Sock(("127.0.0.1", 40000), ("127.0.0.1", 5432), EST, 10),  # client side
                procs=[
                    Proc(10, "api", "/usr/bin/api", ("api", "--db-password", "x")),
                    Proc(20, "postgres", "/usr/lib/postgresql/bin/postgres", ("postgres",)),
                ],
            )
        )
        assert ("host:app-1/api", "depends_on", "host:app-1/postgres:5432") in out.rels
        assert ("host:app-1/postgres:5432", "depends_on", "host:app-1/api") not in out.rels
        assert out.rels["host:app-1/api", "depends_on", "host:app-1/postgres:5432"].attributes == {
            "port": 5432
        }
        pg = out.cis["host:app-1/postgres:5432"]
        assert pg.ci_class == "application_instance" and pg.parent == "host:app-1"
        assert pg.attributes["port"] == 5432 and pg.attributes["ports"] == [5432]
        # the wildcard listener is reachable at the machine's address: an endpoint for it
        ep = "host:endpoint/192.0.2.10/tcp/5432"
        assert not out.cis[ep].unresolved
        assert (ep, "depends_on", "host:app-1/postgres:5432") in out.rels
        assert (ep, "runs_on", "host:app-1") in out.rels
        assert out.cis["host:app-1/api"].attributes == {
            "process": "api",
            "exes": ["/usr/bin/api"],
            "users": [],
        }

    def test_remote_peer_is_an_unresolved_endpoint(self):
        out = transform_snapshot(
            snapshot(
                Sock(("192.0.2.10", 41000), ("198.51.100.7", 6379), EST, 10),
                Sock(("192.0.2.10", 8080), ("203.0.113.9", 52000), EST, 30),  # inbound
                Sock(("0.0.0.0", 8080), None, LISTEN, 30),
                procs=[Proc(10, "worker"), Proc(30, "web", cmdline=("web", "--token", "t"))],
            )
        )
        ep = out.cis["host:endpoint/198.51.100.7/tcp/6379"]
        assert ep.unresolved and ep.ci_class == "endpoint"
        assert ep.attributes == {"address": "198.51.100.7", "protocol": "tcp", "port": 6379}
        assert ("host:app-1/worker", "depends_on", ep.key) in out.rels
        assert not [k for k in out.cis if "203.0.113.9" in k]  # a remote client is no CI
        assert out.cis["host:app-1/web:8080"].attributes["command"] == "web --token ***"

    def test_loopback_listener_has_no_endpoint_and_workers_are_one_instance(self):
        out = transform_snapshot(
            snapshot(
                Sock(("127.0.0.1", 6379), None, LISTEN, 1),
                Sock(("127.0.0.1", 6379), None, LISTEN, 2),
                procs=[Proc(1, "redis-server"), Proc(2, "redis-server")],
            )
        )
        assert [k for k in out.cis if k != "host:app-1"] == ["host:app-1/redis-server:6379"]

    def test_hidden_and_missing_servers_are_counted(self):
        out = transform_snapshot(
            snapshot(
                Sock(("127.0.0.1", 9000), None, LISTEN, None),
                Sock(("127.0.0.1", 41000), ("127.0.0.1", 9000), EST, 10),
                Sock(("127.0.0.1", 41001), ("127.0.0.1", 9999), EST, 10),
                procs=[Proc(10, "cli")],
                hidden_sockets=1,
            )
        )
        assert out.warnings == [
            "1 TCP sockets belong to processes this user cannot see (access denied)",
            "1 local connections go to servers this user cannot see",
            "1 local connections go to ports no process listens on (forwarded or closing); "
            "not recorded",
        ]
        assert not [r for r in out.rels.values() if r.type == "depends_on"]

    def test_every_sighting_obeys_the_registry(self, registry):
        out = transform_snapshot(
            snapshot(
                Sock(("::", 443), None, LISTEN, 20),
                Sock(("192.0.2.10", 41000), ("198.51.100.7", 6379), EST, 20),
                procs=[Proc(20, "nginx")],
            )
        )
        for c in out.cis.values():
            registry.validate_attributes(c.ci_class, c.attributes)
        for r in out.rels.values():
            registry.check_relationship(
                out.cis[r.source].ci_class, r.type, out.cis[r.target].ci_class
            )


def as_scan(out) -> ScanResult:
    return ScanResult(
        source="host",
        scope=["host:app-1"],
        complete=True,
        cis=list(out.cis.values()),
        relationships=list(out.rels.values()),
    )


class TestAcrossScanners:
    """What a host scan sees meets what nmap sees, by identifiers."""

    def test_remote_peer_is_the_nmap_endpoint(self, sqlite_store):
        nm = reconcile(sqlite_store, nmap_scan([NMAP_LAN])).plan
        ep = next(c.ci_id for c in nm.creates if c.key == "nmap:endpoint/192.0.2.1/tcp/22")
        peer = Sock(("192.0.2.10", 41000), ("192.0.2.1", 22), EST, 10)
        plan = reconcile(
            sqlite_store, as_scan(transform_snapshot(snapshot(peer, procs=[Proc(10, "deploy")])))
        ).plan
        assert ep not in {c.ci_id for c in plan.creates}
        (edge,) = sqlite_store.find_relationships(RelFilter(target=ep, types=("depends_on",)))
        assert sqlite_store.get_ci(edge.source).name == "deploy"
        assert sqlite_store.get_ci(ep).attributes["product"] == "OpenSSH"  # nmap's, kept

    def test_scanned_address_is_the_scanned_machine(self, sqlite_store):
        machine = Machine(hostname="gw", ips=("192.0.2.1",), virtual=True)
        vm = reconcile(sqlite_store, as_scan(transform_snapshot(Snapshot(machine=machine))))
        vm_id = vm.plan.creates[0].ci_id
        plan = reconcile(sqlite_store, nmap_scan([NMAP_LAN])).plan
        assert vm_id not in {c.ci_id for c in plan.creates}
        merged = sqlite_store.get_ci(vm_id)
        assert merged.ci_class == "virtual_machine" and set(merged.last_seen) == {"host", "nmap"}
        assert merged.identifiers.macs == ["00:1b:21:3a:4f:10"]


class TestPaths:
    @pytest.mark.parametrize("paths", [[], ["localhost"], ["LOCALHOST"]])
    def test_this_machine(self, paths):
        assert scan(paths).scope[0].startswith("host:")

    def test_another_machine_is_refused(self):
        with pytest.raises(ValidationError, match="reads only the machine it runs on"):
            scan(["db.example"])


@pytest.fixture
def pair(tmp_path):
    """A server and a connected client, each its own process under its own name."""
    server_exe, client_exe = tmp_path / "cmdbtestsrv", tmp_path / "cmdbtestcli"
    server_exe.symlink_to(sys.executable)
    client_exe.symlink_to(sys.executable)
    server = subprocess.Popen([server_exe, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    procs = [server]
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        client = subprocess.Popen(
            [client_exe, "-c", CLIENT, str(port), "--password=hunter2"],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(client)
        assert client.stdout is not None and client.stdout.readline().strip() == "connected"
        deadline = time.monotonic() + 10
        while not any(  # the kernel shows the connection ESTABLISHED on both sides
            c.status == EST and c.raddr and c.raddr.port == port
            for c in psutil.Process(client.pid).net_connections(kind="tcp")
        ):
            assert time.monotonic() < deadline, "the client never connected"
            time.sleep(0.05)
        yield server, client, port
    finally:
        for p in procs:
            p.kill()
            p.wait()


def names(result) -> dict[str, str]:
    return {c.key: c.name for c in result.cis}


class TestLive:
    """The real machine, with a server and a client this test starts."""

    def test_finds_the_client_server_edge(self, pair):
        _, _, port = pair
        result = scan([])
        host = next(c for c in result.cis if c.key == f"host:{result.scope[0][5:]}")
        assert host.ci_class in ("physical_server", "virtual_machine")
        assert host.attributes["cpu_count"] == psutil.cpu_count()
        srv_key = f"{host.key}/cmdbtestsrv:{port}"
        cli_key = f"{host.key}/cmdbtestcli"
        by_key = {c.key: c for c in result.cis}
        assert by_key[srv_key].attributes["port"] == port
        assert "hunter2" not in str(by_key[cli_key].attributes)
        edges = {(r.source, r.type, r.target) for r in result.relationships}
        assert (cli_key, "depends_on", srv_key) in edges
        assert (srv_key, "depends_on", cli_key) not in edges
        assert (srv_key, "runs_on", host.key) in edges and (cli_key, "runs_on", host.key) in edges

    def test_reconciled_and_rerun(self, pair, sqlite_store):
        _, _, port = pair
        first = reconcile(sqlite_store, scan([]))
        ids = {c.key: c.ci_id for c in first.plan.creates}
        host_key = next(k for k in ids if k.count("/") == 0)
        srv, cli = ids[f"{host_key}/cmdbtestsrv:{port}"], ids[f"{host_key}/cmdbtestcli"]
        (edge,) = sqlite_store.find_relationships(RelFilter(types=("depends_on",), source=cli))
        assert edge.target == srv and edge.attributes == {"port": port}
        reconcile(sqlite_store, scan([]))
        for ci_id in (srv, cli, ids[host_key]):  # ours did not change: no new history
            assert len(sqlite_store.history(HistoryFilter(entity="ci", entity_id=ci_id))) == 1

    def test_cli(self, pair, tmp_path):
        db = str(tmp_path / "h.db")
        out = CliRunner().invoke(app, ["--db", db, "discover", "host", "localhost"])
        assert out.exit_code == 0, out.output
        assert "host: RUN-" in out.output


class TestPermissions:
    """A scan that may not read everything completes with what it read, and says so."""

    def test_denied_processes_are_counted(self, pair, monkeypatch):
        server, client, port = pair
        real_name, real_exe = psutil.Process.name, psutil.Process.exe

        def name(self):
            if self.pid == server.pid:
                raise psutil.AccessDenied(self.pid)
            return real_name(self)

        def exe(self):
            if self.pid == client.pid:
                raise psutil.AccessDenied(self.pid)
            return real_exe(self)

        monkeypatch.setattr(psutil.Process, "name", name)
        monkeypatch.setattr(psutil.Process, "exe", exe)
        result = scan([])
        assert not result.complete
        assert any(
            w.startswith("could not read 1 of ") and "processes (access denied)" in w
            for w in result.warnings
        ), result.warnings
        assert any(
            w.startswith("1 local connections go to servers this user cannot see")
            for w in result.warnings
        )
        assert any("processes were read in part" in w for w in result.warnings)
        cli = next(c for c in result.cis if c.key.endswith("/cmdbtestcli"))
        assert cli.attributes["exes"] == []
        assert not [c for c in result.cis if c.key.endswith(f"cmdbtestsrv:{port}")]

    def test_refused_connection_table_falls_back_to_each_process(self, pair, monkeypatch):
        server, client, port = pair

        def refused(kind="inet"):
            raise psutil.AccessDenied()

        real = psutil.Process.net_connections

        def per_process(self, kind="inet"):
            if self.pid not in (server.pid, client.pid, os.getpid()):
                raise psutil.AccessDenied(self.pid)
            return real(self, kind)

        monkeypatch.setattr(psutil, "net_connections", refused)
        monkeypatch.setattr(psutil.Process, "net_connections", per_process)
        result = scan([])
        assert not result.complete
        assert any(w.startswith("could not read ") for w in result.warnings)
        edges = {
            (r.source.rsplit("/", 1)[-1], r.target.rsplit("/", 1)[-1]) for r in result.relationships
        }
        assert ("cmdbtestcli", f"cmdbtestsrv:{port}") in edges


def test_serial_needs_root_is_a_warning():
    snap = Snapshot(machine=Machine(hostname="x", serial_denied=True))
    assert transform_snapshot(snap).warnings == [
        "the serial number (/sys/class/dmi/id/product_serial) is readable by root only"
    ]


def test_machine_reading(monkeypatch, tmp_path):
    dmi = tmp_path / "dmi"
    dmi.mkdir()
    (dmi / "sys_vendor").write_text("VMware, Inc.\n")
    (dmi / "product_name").write_text("VMware Virtual Platform\n")
    (dmi / "product_serial").write_text("VMware-42 1a 2b\n")
    monkeypatch.setattr(host_scanner, "DMI", dmi)
    m = host_scanner.get_machine()
    assert m.virtual and m.serial == "VMware-42 1a 2b" and m.vendor == "VMware, Inc."
    assert all(not ip.startswith("127.") and ip != "::1" for ip in m.ips)
    (dmi / "product_serial").chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        assert host_scanner.get_machine().serial_denied


def test_registered():
    assert SCANNERS["host"] is scan


def test_doctests():
    import doctest

    result = doctest.testmod(host_scanner, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
