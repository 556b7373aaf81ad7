"""The web console: a single page served by the API's app, at ``/``, over the same API.

Assumptions: the console is static files (``static/``: our own ES modules and CSS, committed,
and ``static/vendor/``: the graph library, copied from npm at build time by ``setup.py``); it
calls ``/api/v1`` with the API key the user logs in with (kept in the tab's session storage),
so it has exactly that key's role, and every check happens in the API. Nothing is fetched from
anywhere else: the content security policy allows only this origin.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["STATIC", "mount_console"]

STATIC = Path(__file__).resolve().with_name("static")

SECURITY_HEADERS = {
    # only this origin; inline styles for the graph library's labels, images from blobs
    # (PNG/SVG export) and data URLs; no framing
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _ConsoleHeaders:
    """Adds :data:`SECURITY_HEADERS` (and revalidation) to the console's answers only."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/" and not path.startswith("/console/"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers.setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _index() -> FileResponse:
    index = STATIC / "index.html"
    if not index.is_file():
        raise HTTPException(404, "the web console is not installed with this package")
    return FileResponse(index, media_type="text/html")


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and its files under ``/console/``."""
    app.add_api_route("/", _index, methods=["GET"], include_in_schema=False, name="console")
    app.mount("/console", StaticFiles(directory=STATIC, check_dir=False), name="console-files")
    app.add_middleware(_ConsoleHeaders)
