"""A real ``cmdb serve`` for the tests that need a server over HTTP (concurrency, the browser).

Assumptions: the project is installed in the interpreter's environment (so ``cmdb`` sits next
to ``sys.executable``); the server listens on 127.0.0.1 on a port that was free a moment ago;
it is stopped with SIGTERM to its whole process group (uvicorn workers included), then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(db: Path, log: Path, *, workers: int = 1, timeout: float = 60) -> Iterator[str]:
    """``cmdb --db DB serve`` on a free port, output in ``log``; yields the base URL once
    ``/api/v1/health`` answers. Raises RuntimeError (with the log) if it exits or never answers.
    """
    port = free_port()
    cmdb = Path(sys.executable).with_name("cmdb")
    command = [str(cmdb), "--db", str(db), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "CMDB_DB": str(db)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer within {timeout} s: {log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (workers included), SIGKILL after 20 s; a group
    that has already exited is fine."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
