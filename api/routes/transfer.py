"""Import and export: the whole CMDB as JSON, JSON Lines, CSV or GraphML, as ``cmdb import``
and ``cmdb export`` read and write it (see :mod:`cmdb.transfer` for the file formats).

An import is the raw file as the request body, applied as one batch (all of it or nothing);
``dry_run=true`` answers what it would do and writes nothing. A file that cannot be read is a
422 problem naming the line (``body:3: invalid JSON ...``) or the item and field. The export is
sent as a file download, streamed: it is read from the store page by page while it is sent, in
bounded memory (an error past the first chunk can only cut the response short). JSON and JSON
Lines hold CIs, relationships and records (API keys are never exported), CSV one table
(``what=cis``, the default, or ``what=relationships``), GraphML the graph. An import body is
still read whole (the app's body-size limit applies) and applied as one batch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import StoreDep
from api.policy import Authorized
from api.policy import router as _router
from api.problems import WRITE_RESPONSES, ProblemError, responses
from api.wire import Name
from cmdb.exchange import ImportOutcome, export_stream, import_data
from cmdb.transfer import FileFormat

router = _router(tags=["transfer"])

MEDIA_TYPES = {
    FileFormat.JSON: "application/json",
    FileFormat.JSONL: "application/jsonl",
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.GRAPHML: "application/graphml+xml",
}
_BODY_FORMATS = {
    "application/json": FileFormat.JSON,
    "application/jsonl": FileFormat.JSONL,
    "application/x-ndjson": FileFormat.JSONL,
    "text/csv": FileFormat.CSV,
    "application/xml": FileFormat.GRAPHML,
    "text/xml": FileFormat.GRAPHML,
    "application/graphml+xml": FileFormat.GRAPHML,
}
_TEXT = {"type": "string"}
_JSON_FILE = {
    "type": "object",
    "properties": {
        section: {"type": "array", "items": {"type": "object"}}
        for section in ("cis", "relationships", "records")
    },
    "additionalProperties": False,
}
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file, as `cmdb export` writes it: JSON `{cis, relationships, "
        "records}`; JSON Lines (one object a line, with its `kind`); CSV with the header "
        "`id,class,name,...` (CIs) or `source,type,target,...` (relationships); GraphML "
        "(directed).",
        "content": {
            "application/json": {"schema": _JSON_FILE},
            "application/jsonl": {"schema": _TEXT},
            "text/csv": {"schema": _TEXT},
            "application/xml": {"schema": _TEXT},
            "application/graphml+xml": {"schema": _TEXT},
        },
    }
}


def _export_content() -> dict[str, Any]:
    return {
        media.split(";")[0]: {"schema": _JSON_FILE if fmt is FileFormat.JSON else _TEXT}
        for fmt, media in MEDIA_TYPES.items()
    }


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"description": "The export file.", "content": _export_content()}},
    summary="Export the CMDB as a JSON, JSON Lines, CSV or GraphML file (streamed)",
)
def export_cmdb(
    store: StoreDep,
    format: Annotated[FileFormat, Query(description="The file format.")] = FileFormat.JSON,
    what: Annotated[
        str | None,
        Query(
            description="CSV only (the others ignore it): `cis` (default) or `relationships`.",
            pattern="^(cis|relationships)$",
        ),
    ] = None,
    include_retired: Annotated[
        bool, Query(description="Also retired CIs and relationships.")
    ] = False,
) -> Response:
    what = what if format is FileFormat.CSV else None
    chunks = export_stream(store, format=format, what=what, include_retired=include_retired)
    name = f"cmdb-{what or 'export'}.{format.value}"
    return StreamingResponse(
        iter(chunks),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _raw_body(request: Request) -> bytes:
    """The request body as bytes (the body-size limit of the app applies)."""
    return await request.body()


@router.post(
    "/import",
    response_model=ImportOutcome,
    responses={**WRITE_RESPONSES, **responses(415)},
    openapi_extra=_IMPORT_BODY,
    summary="Import a file as one batch (or plan it with dry_run=true)",
)
def import_cmdb(
    request: Request,
    data: Annotated[bytes, Depends(_raw_body)],
    store: StoreDep,
    caller: Authorized,
    format: Annotated[
        FileFormat | None,
        Query(
            description="The file format, when the Content-Type does not say it (e.g. "
            "`text/plain`); it must agree with a Content-Type that does (415)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, Query(description="Validate and show the changes; write nothing.")
    ] = False,
    replace: Annotated[
        bool,
        Query(
            description="Replace whole CIs and relationships: fields the file leaves out take "
            "their defaults (default: set only the fields the file gives)."
        ),
    ] = False,
    change_id: Annotated[
        Name | None, Query(description="The change that authorises this import (for history).")
    ] = None,
) -> ImportOutcome:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    said = _BODY_FORMATS.get(media)
    if format is not None and said is not None and said is not format:
        raise ProblemError(
            415, f"Content-Type {media} is not the format {format.value} that ?format names"
        )
    format = format or said
    if format is None:
        raise ProblemError(
            415,
            f"cannot tell the file format from Content-Type {media!r}: send "
            "?format=json|jsonl|csv|graphml or a Content-Type of " + ", ".join(_BODY_FORMATS),
        )
    return import_data(
        store,
        data,
        format=format,
        actor=caller.actor,
        change_id=change_id,
        replace=replace,
        dry_run=dry_run,
    )
