"""`cmdb serve`: uvicorn with the API factory, settings passed to workers through CMDB_*;
end to end on a demo store with two workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import httpx
import pytest

from cli import serve
from cmdb import apikeys
from tests.cli.conftest import Cmdb

CMDB = Path(sys.executable).with_name("cmdb")
STARTUP_SECONDS = 90  # two spawned workers import the app; a busy CI machine is slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    """A demo store made with the CLI, and a reader key made with `cmdb apikey create`."""
    cmdb = Cmdb(tmp_path / "demo.db")
    cmdb("demo")
    token = cmdb("apikey", "create", "--role", "reader", "--name", "serve-test").stdout.strip()
    return cmdb.db, token


@pytest.fixture
def run(monkeypatch):
    """`cli._uvicorn.run` (uvicorn.run with a TCP socket) replaced by a recorder of its
    arguments and of the workers' CMDB_* env."""
    calls: list[tuple[tuple, dict, dict]] = []

    def fake_run(*args, **kwargs):
        env = {k: v for k, v in os.environ.items() if k.startswith("CMDB_")}
        calls.append((args, kwargs, env))

    monkeypatch.setattr("cli._uvicorn.run", fake_run)
    with mock.patch.dict(os.environ, clear=False):
        for name in [k for k in os.environ if k.startswith("CMDB_")]:
            del os.environ[name]
        yield calls


class TestOptions:
    def test_factory_workers_and_settings_for_the_workers(self, cmdb, run, tmp_path):
        registry = tmp_path / "reg.yaml"
        registry.write_text("classes: {}\n", encoding="utf-8")
        result = cmdb(
            "--registry", str(registry), "--actor", "ops", "serve", "--port", "9001",
            "--workers", "3",
        )  # fmt: skip
        ((args, kwargs, env),) = run
        assert args == ("api.app:create_app_from_env",) and kwargs["factory"] is True
        assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 9001, 3)
        assert env == {
            "CMDB_DB": str(Path(cmdb.db).resolve()),
            "CMDB_REGISTRY": str(registry.resolve()),
            "CMDB_ACTOR": "ops",
        }
        assert "http://127.0.0.1:9001/api/v1" in result.stderr and "warning" not in result.stderr

    @pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("::1", False)])
    def test_warns_when_keys_would_cross_the_network_in_clear(self, cmdb, run, host, warned):
        result = cmdb("serve", "--host", host)
        assert ("without TLS" in result.stderr) is warned and len(run) == 1

    def test_no_warning_with_tls(self, cmdb, run, tmp_path):
        cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
        cert.write_text("x"), key.write_text("x")
        args = [
            "serve",
            "--host",
            "0.0.0.0",
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ]
        result = cmdb(*args)
        assert "without TLS" not in result.stderr and "https://0.0.0.0:8000" in result.stderr
        assert run[0][1]["ssl_certfile"] == str(cert)

    @pytest.mark.parametrize(
        "args",
        [["--ssl-certfile", "{cert}"], ["--port", "0"], ["--workers", "0"], ["--port", "http"]],
    )
    def test_bad_options_are_usage_errors(self, cmdb, run, tmp_path, args):
        cert = tmp_path / "c.pem"
        cert.write_text("x")
        result = cmdb("serve", *[a.format(cert=cert) for a in args], code=2)
        assert result.stderr.startswith("error:") and run == []

    def test_missing_store_is_one_line_before_serving(self, tmp_path, run):
        result = Cmdb(tmp_path / "nowhere.db")("serve", code=3)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "no store at" in lines[0] and run == []
        assert not (tmp_path / "nowhere.db").exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("[::1]", True), ("LOCALHOST", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("cmdb.example", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert serve.is_loopback(host) is loopback


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cmdb serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"cmdb serve was not healthy within {STARTUP_SECONDS}s:\n{log.read_text()}")


def test_serves_the_api_with_two_workers(demo, tmp_path):
    db, token = demo
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMDB_")}
    args = [str(CMDB), "--db", str(db), "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_healthy(proc, f"{base}/health", log)
        r = httpx.get(
            f"{base}/cis", params={"limit": 5}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200 and len(r.json()["items"]) == 5
        assert httpx.get(f"{base}/cis").status_code == 401
        # a key pasted into a URL is refused and kept out of the access log
        assert httpx.get(f"{base}/cis", params={"api_key": token}).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert text.count("Started server process") == 2
    assert "GET /api/v1/cis?limit=5" in text and "cmdb_<redacted>" in text
    secret = apikeys.token_parts(token)
    assert secret is not None and secret[1] not in text


def test_workers_share_a_tcp_socket():
    """asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets: uvicorn's own (protocol 0) made
    every answer of a multi-worker server wait ~40 ms for a delayed ACK."""
    import uvicorn

    from cli._uvicorn import TcpConfig

    plain = uvicorn.Config("api.app:create_app_from_env", port=free_port()).bind_socket()
    ours = TcpConfig("api.app:create_app_from_env", port=free_port()).bind_socket()
    try:
        assert plain.proto == 0
        assert ours.proto == socket.IPPROTO_TCP and ours.type == socket.SOCK_STREAM
        ours.listen()
        conn = socket.create_connection(ours.getsockname())
        accepted, _ = ours.accept()
        assert accepted.proto == socket.IPPROTO_TCP
        conn.close()
        accepted.close()
    finally:
        plain.close()
        ours.close()
