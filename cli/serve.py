"""`cmdb serve`: run the REST API and the web console with uvicorn, on 127.0.0.1:8000 by default.

The CLI never imports the API (the shells are separate layers): uvicorn loads
``api.app:create_app_from_env`` in each worker process, and the global options (``--db``,
``--store``, ``--registry``, ``--actor``) reach the workers as ``CMDB_*`` environment
variables, which is where ``create_app_from_env`` reads its settings. The store is opened once
before serving, so a missing store is a one-line error (exit 3) rather than a server that fails
on every request.

Keys travel only in headers (``Authorization``, ``X-API-Key``), which uvicorn never logs; a
token pasted into a URL by mistake is redacted from the access log all the same.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from copy import deepcopy
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import output
from cli.state import get_state
from cmdb.settings import Settings

__all__ = ["APP", "RedactKeys", "is_loopback", "register", "worker_env"]

APP = "api.app:create_app_from_env"
"""The factory uvicorn calls in each worker (an import string: the CLI never imports ``api``)."""

WORKER_HEALTHCHECK_SECONDS = 30
"""How long a worker may take to answer the supervisor's ping before it is restarted.
uvicorn's 5 s is shorter than a spawned worker may need to import the CLI and the app on a
busy machine, and a worker killed while starting is replaced by one that is killed too."""

_TOKEN = re.compile(r"cmdb_[A-Za-z0-9-]+_[A-Za-z0-9_%-]{16,}")


class RedactKeys(logging.Filter):
    """Replaces anything shaped like an API key in a log record's arguments by
    ``cmdb_<redacted>``.

    >>> r = logging.LogRecord("a", 20, "", 0, "%s", ("/x?k=cmdb_KEY-000001_" + "s" * 43,), None)
    >>> RedactKeys().filter(r), r.args
    (True, ('/x?k=cmdb_<redacted>',))
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub("cmdb_<redacted>", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN.sub("cmdb_<redacted>", record.msg)
        return True


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": f"{__name__}.RedactKeys"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    return config


def worker_env(settings: Settings) -> dict[str, str]:
    """The ``CMDB_*`` variables that give a worker the CLI's store, registry and actor
    (paths made absolute: a worker must not depend on the directory it starts in).

    >>> worker_env(Settings(db="/tmp/x.db", actor="ops"))
    {'CMDB_DB': '/tmp/x.db', 'CMDB_ACTOR': 'ops'}
    """
    env = {}
    if settings.db is not None:
        env["CMDB_DB"] = str(Path(settings.db).expanduser().resolve())
    if settings.store is not None:
        env["CMDB_STORE"] = settings.store
    if settings.registry is not None:
        env["CMDB_REGISTRY"] = str(Path(settings.registry).expanduser().resolve())
    if settings.actor is not None:
        env["CMDB_ACTOR"] = settings.actor
    return env


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("cmdb.example.com")
    (False, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CertOpt = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="TLS certificate (PEM); with --ssl-keyfile."),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="TLS private key (PEM); with --ssl-certfile."),
]


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    ssl_certfile: CertOpt = None,
    ssl_keyfile: KeyOpt = None,
) -> None:
    """Serve the web console (/) and the REST API (/api/v1, OpenAPI at /docs)."""
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("give both --ssl-certfile and --ssl-keyfile, or neither")
    state = get_state(ctx)
    uri = state.store.uri  # fails here, before serving, when there is no store
    state.close()
    tls = ssl_certfile is not None
    if not tls and not is_loopback(host):
        output.warn(
            f"serving on {host} without TLS: API keys would cross the network in clear text; "
            "use --ssl-certfile/--ssl-keyfile or a TLS proxy in front"
        )
    os.environ.update(worker_env(state.settings))
    scheme = "https" if tls else "http"
    where = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{where}:{port}"
    output.info(
        f"serving {uri}: the web console at {base}/ and the API at {base}/api/v1 "
        f"({workers} worker{'s' if workers > 1 else ''}; API docs at /docs)"
    )
    from cli import _uvicorn

    _uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        log_config=_log_config(),
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
