"""The FastAPI application: ``create_app(settings)`` builds it; nothing is created at import.

Assumptions: each worker process has its own app and its own store connection (SQLite in WAL
mode, or a Neo4j driver); the snapshot cache on disk is shared safely between them. Routes live
in :mod:`api.routes` (one module per noun), each parses, calls one function of ``cmdb/`` or
``impact/``, and returns its typed result. Errors are problem documents (:mod:`api.problems`);
roles are checked per route (:mod:`api.policy`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.console import mount_console
from api.deps import ApiState
from api.policy import apply_policy
from api.problems import RESPONSES, install_error_handlers, problem_response
from api.routes import ROUTERS
from api.schema_names import install_name_enums
from cmdb.settings import Settings, load_settings

__all__ = ["PREFIX", "create_app", "create_app_from_env"]

PREFIX = "/api/v1"


def _version() -> str:
    try:
        return version("graph-cmdb")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


class BodyLimit:
    """Refuses a request body larger than ``limit`` bytes with a 413 problem, from its
    ``Content-Length`` or, when it is streamed, as soon as it grows past the limit."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.limit} bytes (CMDB_API_MAX_BODY_BYTES)"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await problem_response(413, detail)(scope, receive, send)
            return
        seen = 0
        started = rejected = False

        async def limited() -> Message:
            # past the limit, answer 413 at once and tell the app the client has gone, so it
            # stops reading (an exception here would be caught by the body parser as a 400)
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    rejected = True
                    if not started:
                        await problem_response(413, detail)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except Exception:
            if not rejected:
                raise


def _allowed_methods(path: str) -> list[str]:
    """Every method some route serves at ``path`` (a 405's ``Allow`` must name them all;
    the router only knows the first route that matched the path)."""
    if not path.startswith(PREFIX):
        return []
    rest = path[len(PREFIX) :]
    return sorted(
        {
            method
            for module_router in ROUTERS
            for route in module_router.routes
            if isinstance(route, APIRoute) and route.path_regex.match(rest)
            for method in route.methods or ()
        }
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    allowed = ", ".join(_allowed_methods(request.url.path)) or "GET"
    return problem_response(
        405, f"{request.method} is not allowed on {request.url.path}", headers={"Allow": allowed}
    )


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the store that ``settings`` name (default: from ``CMDB_*``)."""
    settings = settings or load_settings()
    state = ApiState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="graph-cmdb",
        version=_version(),
        description="A graph-based CMDB with impact analysis. Every error is an RFC 9457 "
        "problem document; writes to CIs and records take `If-Match` with the `ETag` read.",
        lifespan=lifespan,
        responses=RESPONSES,
        generate_unique_id_function=_operation_id,
    )
    app.state.cmdb = state
    install_error_handlers(app)
    app.add_exception_handler(405, _method_not_allowed)
    apply_policy(ROUTERS)
    install_name_enums(app, settings)
    for module_router in ROUTERS:
        app.include_router(module_router, prefix=PREFIX)
    mount_console(app)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "If-Match", "Content-Type"],
            expose_headers=["ETag", "Location", "Link"],
        )
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (one app per worker process), settings from ``CMDB_*``."""
    return create_app()
