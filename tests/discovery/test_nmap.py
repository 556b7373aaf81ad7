"""The nmap scanner: XML from real scans (fixtures and a live ``nmap -sT`` against listeners this
test starts on 127.0.0.1), reconciliation and re-runs, and malformed or hostile XML."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cmdb.errors import ImportFormatError
from cmdb.filters import CIFilter, HistoryFilter, RelFilter
from cmdb.reconcile import reconcile
from discovery import SCANNERS
from discovery.nmap import get_runs, scan, targets, transform_runs

FIXTURES = Path(__file__).parent / "fixtures" / "nmap"
LOCAL = FIXTURES / "localhost-sV.xml"  # a real `nmap -sT -sV` run, unedited
LAN = FIXTURES / "lan-os-mac.xml"  # hand-extended with MAC, names and OS (see its comment)
NMAP = shutil.which("nmap")
needs_nmap = pytest.mark.skipif(NMAP is None, reason="nmap is not installed (.ci/run installs it)")


@contextmanager
def listener() -> Iterator[int]:
    """A TCP listener on a free port of 127.0.0.1, for as long as the block runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_nmap(out: Path, ports: list[int]) -> Path:
    assert NMAP is not None
    spec = ",".join(map(str, ports))
    subprocess.run(
        [NMAP, "-sT", "-Pn", "-n", "-p", spec, "-oX", str(out), "127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def open_ports(result) -> set[int]:
    return {c.attributes["port"] for c in result.cis if c.ci_class == "endpoint"}


class TestGetRuns:
    def test_real_scan(self):
        (run,) = get_runs([LOCAL])
        assert run.args == "nmap -sT -sV -p 18765-18767 -oX localhost-sV.xml 127.0.0.1"
        assert run.scaninfo == [("tcp", "18765-18767")] and run.exit == "success"
        (host,) = run.hosts
        assert host.addresses == [("127.0.0.1", "ipv4", None)]
        assert host.hostnames == ["localhost"]
        assert [(p.port, p.service, p.product) for p in host.ports] == [
            (18765, "http", "SimpleHTTPServer"),
            (18767, None, None),
        ]

    def test_os_guess_is_the_most_accurate(self):
        (run,) = get_runs([LAN])
        printer = run.hosts[1]
        assert printer.os == {
            "os": "HP LaserJet Pro M402 printer",
            "os_accuracy": 95,
            "os_family": "embedded",
            "device_type": "printer",
        }

    def test_down_hosts_and_hosthints_are_ignored(self):
        (run,) = get_runs([LAN])
        assert [h.addresses[0][0] for h in run.hosts] == ["192.0.2.1", "192.0.2.2"]


class TestTargets:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            ("nmap -sT -p 80 -oX a.xml 127.0.0.1", (["127.0.0.1"], True)),
            (
                "nmap -p T:22,U:161 -sU 10.0.0.0/24 Host.Example",
                (["10.0.0.0/24", "host.example"], True),
            ),
            (
                "nmap --top-ports 100 -iL hosts.txt --exclude 10.0.0.1",
                (["exclude:10.0.0.1", "list:hosts.txt"], True),
            ),
            ("nmap -iR 50 -p 22", ([], False)),
            ("nmap --script=banner --script-args 'a=1 b' 192.0.2.9", (["192.0.2.9"], True)),
            (None, ([], True)),
        ],
    )
    def test_command_lines(self, args, expected):
        assert targets(args) == expected


class TestTransform:
    def test_hosts_and_endpoints(self):
        out = transform_runs(get_runs([LAN]))
        gw = out.cis["nmap:host/192.0.2.1"]
        assert gw.ci_class == "ip_device" and gw.name == "gw.lab.example"
        assert gw.identifiers.macs == ["00:1b:21:3a:4f:10"]
        assert gw.identifiers.fqdn == "gw.lab.example"
        assert gw.attributes["vendor"] == "Intel Corporate"
        assert gw.attributes["os"] == "Linux 5.0 - 5.14"
        endpoints = {k for k, c in out.cis.items() if c.ci_class == "endpoint"}
        assert endpoints == {  # filtered, closed and open|filtered ports are not endpoints
            "nmap:endpoint/192.0.2.1/tcp/22",
            "nmap:endpoint/192.0.2.1/tcp/443",
            "nmap:endpoint/192.0.2.2/tcp/80",
            "nmap:endpoint/192.0.2.2/udp/161",
        }
        tls = out.cis["nmap:endpoint/192.0.2.1/tcp/443"].attributes
        assert tls == {
            "address": "192.0.2.1",
            "protocol": "tcp",
            "port": 443,
            "service": "http",
            "product": "nginx",
            "version": "1.22.1",
            "tunnel": "ssl",
        }
        assert ("nmap:endpoint/192.0.2.2/udp/161", "runs_on", "nmap:host/192.0.2.2") in out.rels

    def test_protocol_scans_are_not_endpoints(self, tmp_path):
        ip_scan = tmp_path / "so.xml"
        ip_scan.write_text(
            LOCAL.read_text().replace('protocol="tcp" portid="18767"', 'protocol="ip" portid="6"')
        )
        result = scan([ip_scan])
        assert open_ports(result) == {18765}
        assert any("ip ports (of an -sO scan) are not endpoints" in w for w in result.warnings)

    def test_same_host_in_two_files_is_one_ci(self, tmp_path):
        other = tmp_path / "again.xml"
        other.write_text(LAN.read_text().replace("00:1B:21:3A:4F:10", "00:1B:21:3A:4F:11", 2))
        result = scan([LAN, other])
        gw = next(c for c in result.cis if c.key == "nmap:host/192.0.2.1")
        assert gw.identifiers.macs == ["00:1b:21:3a:4f:10", "00:1b:21:3a:4f:11"]
        assert len(result.scope) == 1  # the same command line: the same scope

    def test_every_sighting_obeys_the_registry(self, registry):
        result = scan([LAN, LOCAL])
        classes = {c.key: c.ci_class for c in result.cis}
        for c in result.cis:
            registry.validate_attributes(c.ci_class, c.attributes)
        for r in result.relationships:
            registry.check_relationship(classes[r.source], r.type, classes[r.target])


class TestScan:
    def test_scope_and_completeness(self):
        result = scan([LAN, LOCAL])
        assert result.complete and result.source == "nmap"
        assert result.scope == [
            "nmap:192.0.2.0/29 tcp:22,80,443 udp:161",
            "nmap:127.0.0.1 tcp:18765-18767",
        ]
        by_key = {c.key: c for c in result.cis}
        assert by_key["nmap:host/127.0.0.1"].scope == result.scope[1]
        assert by_key["nmap:endpoint/192.0.2.1/tcp/22"].origin == f"{LAN}:21"
        assert any("loopback" in w for w in result.warnings)

    def test_failed_scan_is_partial(self, tmp_path):
        bad = tmp_path / "failed.xml"
        bad.write_text(LOCAL.read_text().replace('exit="success"', 'exit="error" errormsg="boom"'))
        result = scan([bad])
        assert not result.complete
        assert any("nmap ended with error (boom)" in w for w in result.warnings)

    def test_random_targets_are_partial(self, tmp_path):
        rnd = tmp_path / "rnd.xml"
        rnd.write_text(LOCAL.read_text().replace('127.0.0.1"', '-iR 5"', 1))
        assert not scan([rnd]).complete

    def test_long_port_lists_are_summarised(self, tmp_path):
        many = ",".join(str(p) for p in range(1000, 1400, 2))
        big = tmp_path / "big.xml"
        big.write_text(LOCAL.read_text().replace('services="18765-18767"', f'services="{many}"'))
        (scope,) = scan([big]).scope
        assert len(scope) <= 200 and scope.startswith("nmap:127.0.0.1 tcp:1000,1002")


class TestBadInput:
    @pytest.mark.parametrize(
        ("text", "match"),
        [
            (
                "<nmaprun><host></nmaprun>",
                r"bad\.xml:1: malformed XML \(mismatched tag, column 18\)",
            ),
            ("", r"bad\.xml:1: malformed XML \(no element found, column 1\)"),
            (
                "<?xml version='1.0'?>\n<nmaprun>\n<host>\n",
                r"bad\.xml:4: malformed XML \(no element",
            ),
            ("<report/>", r"bad\.xml:1: not an nmap XML file \(the root is <report>"),
            (
                '<nmaprun><host><status state="up"/><ports><port protocol="tcp"/>'
                "</ports></host></nmaprun>",
                r"bad\.xml:1: <port> has no 'portid' attribute",
            ),
            (
                '<nmaprun><host><ports><port protocol="tcp" portid="x"/></ports></host></nmaprun>',
                r"bad\.xml:1: <port>: invalid literal",
            ),
        ],
    )
    def test_malformed(self, tmp_path, text, match):
        bad = tmp_path / "bad.xml"
        bad.write_text(text)
        with pytest.raises(ImportFormatError, match=match):
            scan([bad])

    @pytest.mark.parametrize(
        "doctype",
        [
            '<!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
            '<!DOCTYPE nmaprun SYSTEM "file:///etc/passwd">',
            '<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/hostname">]>',
        ],
    )
    def test_entities_are_refused(self, tmp_path, doctype):
        bad = tmp_path / "evil.xml"
        bad.write_text(f'<?xml version="1.0"?>\n{doctype}\n<nmaprun args="&b;"></nmaprun>')
        with pytest.raises(ImportFormatError, match=r"evil\.xml:2: refused XML \(a DOCTYPE"):
            scan([bad])

    def test_missing_file_and_no_files(self, tmp_path):
        with pytest.raises(ImportFormatError, match=r"nope\.xml: no such file"):
            scan([tmp_path / "nope.xml"])
        with pytest.raises(ImportFormatError, match="needs XML files"):
            scan([])
        with pytest.raises(ImportFormatError, match="a directory"):
            scan([tmp_path])

    def test_cli_malformed_file_writes_nothing(self, tmp_path):
        bad = tmp_path / "bad.xml"
        bad.write_text(LOCAL.read_text()[:700])
        db = tmp_path / "n.db"
        out = CliRunner().invoke(app, ["--db", str(db), "discover", "nmap", str(LOCAL), str(bad)])
        text = out.output + out.stderr
        assert out.exit_code == 1 and "bad.xml:" in text and "malformed XML" in text, text
        assert "Traceback" not in text
        assert not db.exists()


class TestReconcile:
    def test_fixture_rerun_is_a_no_op(self, store):
        first = reconcile(store, scan([LAN, LOCAL])).plan
        assert len(first.creates) == 9 and first.counts["relationships_created"] == 6
        before = store.history(HistoryFilter(entity="ci"))
        again = reconcile(store, scan([LAN, LOCAL])).plan
        assert (again.creates, again.updates, again.stale, again.relationships) == ((), (), (), ())
        assert store.history(HistoryFilter(entity="ci")) == before

    def test_host_matches_a_stored_ci_by_address(self, store):
        from cmdb.scan import ScanResult, SeenCI

        inv = ScanResult(
            source="inventory",
            scope=["file:x.csv"],
            complete=True,
            cis=[
                SeenCI(
                    key="inventory:gw",
                    ci_class="ip_device",
                    name="gw",
                    identifiers={"ips": ["192.0.2.1"]},
                )
            ],
        )
        gw = reconcile(store, inv).plan.creates[0].ci_id
        reconcile(store, scan([LAN]))
        merged = store.get_ci(gw)
        assert merged.identifiers.macs == ["00:1b:21:3a:4f:10"]
        assert set(merged.last_seen) == {"inventory", "nmap"}


@needs_nmap
class TestLiveScan:
    """Real nmap against listeners this test starts on 127.0.0.1."""

    def test_finds_the_listeners_and_rerun_is_a_no_op(self, store, tmp_path):
        with ExitStack() as stack:
            ports = [stack.enter_context(listener()) for _ in range(2)]
            closed = free_port()
            xml = run_nmap(tmp_path / "scan.xml", [*ports, closed])
            again_xml = run_nmap(tmp_path / "again.xml", [*ports, closed])
        result = scan([xml])
        assert open_ports(result) == set(ports)
        assert result.complete
        (run,) = get_runs([xml])  # nmap writes the ports sorted, consecutive ones as a range
        assert result.scope == [f"nmap:127.0.0.1 tcp:{run.scaninfo[0][1]}"]
        assert scan([again_xml]).scope == result.scope  # another output file, the same scope
        report = reconcile(store, result)
        ids = {c.key: c.ci_id for c in report.plan.creates}
        for port in ports:
            ep = store.get_ci(ids[f"nmap:endpoint/127.0.0.1/tcp/{port}"])
            assert ep.ci_class == "endpoint" and ep.attributes["port"] == port
        rels = store.find_relationships(RelFilter(types=("runs_on",)))
        assert {(r.source, r.target) for r in rels} == {
            (ids[f"nmap:endpoint/127.0.0.1/tcp/{p}"], ids["nmap:host/127.0.0.1"]) for p in ports
        }
        history = store.history(HistoryFilter(entity="ci"))
        again = reconcile(store, scan([again_xml])).plan
        assert (again.creates, again.updates, again.stale, again.relationships) == ((), (), (), ())
        assert again.unchanged == 3
        assert store.history(HistoryFilter(entity="ci")) == history

    def test_a_closed_port_is_marked_stale_by_the_same_scan_only(self, store, tmp_path):
        with listener() as kept:
            with listener() as gone:
                ports = sorted([kept, gone])
                first = run_nmap(tmp_path / "first.xml", ports)
            later = run_nmap(tmp_path / "later.xml", ports)
            other = run_nmap(tmp_path / "other.xml", [kept])
        reconcile(store, scan([first]))
        reconcile(store, scan([other]), stale_after_runs=1)  # another scope: marks nothing
        assert not [c for c in store.find_cis(CIFilter()) if c.stale_since]
        plan = reconcile(store, scan([later]), stale_after_runs=1).plan
        assert [c.name for c in plan.stale] == [f"127.0.0.1:{gone}/tcp"]

    def test_cli(self, tmp_path):
        with listener() as port:
            xml = run_nmap(tmp_path / "scan.xml", [port])
        db = str(tmp_path / "n.db")
        runner = CliRunner()
        out = runner.invoke(app, ["--db", db, "discover", "nmap", str(xml)])
        assert out.exit_code == 0, out.output
        assert "nmap: RUN-" in out.output and "2 created" in out.output
        out = runner.invoke(app, ["--db", db, "discover", "nmap", str(xml)])
        assert out.exit_code == 0 and "0 created, 0 updated" in out.output, out.output


def test_registered():
    assert SCANNERS["nmap"] is scan


def test_doctests():
    import doctest

    import discovery.nmap

    result = doctest.testmod(discovery.nmap, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
