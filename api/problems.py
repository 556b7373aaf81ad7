"""Every error as RFC 9457 ``application/problem+json``, mapped in one place.

Project errors (:mod:`cmdb.errors`) map by type to a status; request validation errors name
the field; an unparseable body is a 400; unknown routes and methods are problems too; anything
else is a 500 whose body says only that it is a bug (the traceback goes to the server log, never
to the client). :data:`RESPONSES` documents these statuses in the OpenAPI, so that every
status a route can return is in its schema.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cmdb.errors import (
    AuthError,
    CMDBError,
    ConfigError,
    ConflictError,
    ImportFormatError,
    NotFoundError,
    RegistryError,
    StoreUnavailableError,
    ValidationError,
)
from cmdb.validation import pydantic_error

__all__ = [
    "RESPONSES",
    "WRITE_RESPONSES",
    "ProblemDetails",
    "ProblemError",
    "install_error_handlers",
    "problem_response",
    "responses",
]

log = logging.getLogger("cmdb.api")

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document (the RFC calls it "problem details")."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    500: "internal-error",
    503: "store-unavailable",
}


class ProblemError(Exception):
    """Raised by the API layer itself (a stale ``If-Match``, a missing key...)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        self.status = status
        self.detail = detail
        self.headers = headers
        super().__init__(detail)


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:graph-cmdb:problem:{_SLUGS.get(status, str(status))}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _status(exc: CMDBError) -> int:
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, ValidationError | ImportFormatError):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, StoreUnavailableError):
        return 503
    if isinstance(exc, ConfigError | RegistryError):
        return 500
    return 503  # StoreError: the store failed (closed, read-only file...)


def _field(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _cmdb_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CMDBError)
    status = _status(exc)
    if status == 500:
        log.error("server misconfigured: %s", exc)
    field = exc.field if isinstance(exc, ValidationError) else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem_response(status, str(exc), field=field, headers=headers)


async def _pydantic_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PydanticError)
    return await _cmdb_error(request, pydantic_error(exc))


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "the request body is not valid JSON")
    fields = [
        {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in errors
    ]
    first = fields[0] if fields else {"field": "", "message": "invalid request"}
    detail = f"field '{first['field']}': {first['message']}"
    if len(fields) > 1:
        detail += f" (and {len(fields) - 1} more)"
    return problem_response(422, detail, field=first["field"] or None, errors=fields)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "an internal error occurred; it is logged on the server")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CMDBError, _cmdb_error)
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(PydanticError, _pydantic_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all problem documents."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _TITLES[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }


RESPONSES = responses(400, 401, 403, 404, 413, 422, 500, 503)
"""What any route may answer besides its success: declared app-wide."""

WRITE_RESPONSES = responses(409)
"""What a write may answer besides :data:`RESPONSES`."""
