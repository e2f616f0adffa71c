"""Downloads: an attachment's original bytes, the workbook as `compile` writes it, `status --json`.

Everything in the archive is reached by the message's number (its sha256 from the store), never by
a path from the request; an attachment is always a download (Content-Disposition: attachment with
the RFC 5987 filename*), never shown inline.
"""
from __future__ import annotations

from urllib.parse import quote

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import jobs
from ..decide.status import registered_at, states_at, status_json
from ..report.workbook import export_bytes
from .guard import Visit, page
from .views import parsed_message


def attachment_headers(filename: str) -> dict[str, str]:
    """Content-Disposition for any filename: an ASCII fallback plus the UTF-8 name (RFC 6266/5987)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename) or "file"
    return {"content-disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
            "x-content-type-options": "nosniff", "cache-control": "private, no-store"}


@page()
def attachment(visit: Visit) -> Response:
    """GET /messages/{number}/attachments/{n}: n counts from 0 in the message page's order."""
    number, n = visit.request.path_params["number"], visit.request.path_params["n"]
    if not visit.app.store.stored_messages_by_id([number]):
        return PlainTextResponse("没有这封邮件", status_code=404)
    parsed, why_not = parsed_message(visit.app, number)
    if parsed is None:
        return PlainTextResponse(why_not, status_code=409)
    if not 0 <= n < len(parsed.attachments):
        return PlainTextResponse("没有这个附件", status_code=404)
    found = parsed.attachments[n]
    return Response(found.content, media_type="application/octet-stream", headers=attachment_headers(found.filename))


@page()
def workbook(visit: Visit) -> Response:
    """GET /workbook.xlsx or .csv: the bytes `compile --out` would write at this moment."""
    suffix = ".csv" if visit.request.url.path.endswith(".csv") else ".xlsx"
    summary = jobs.compile_summary(visit.app)
    media = "text/csv; charset=utf-8" if suffix == ".csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"{summary.campaign}汇总表{suffix}"
    return Response(export_bytes(summary, suffix), media_type=media, headers=attachment_headers(name))


@page()
def api_status(visit: Visit) -> Response:
    """GET /api/status: `status --json` (anonymous: 401)."""
    app, now = visit.app, visit.app.clock()
    snapshot = visit.request.app.state.web.kept.current()  # store/kept.py: read again only after a change
    text = status_json(app.config, states_at(app.config, snapshot, now), now, registered_at(app.config, snapshot, now))
    return Response(text, media_type="application/json; charset=utf-8", headers={"cache-control": "no-store"})


ROUTES = [
    Route("/messages/{number:int}/attachments/{n:int}", attachment, methods=["GET"]),
    Route("/workbook.xlsx", workbook, methods=["GET"]),
    Route("/workbook.csv", workbook, methods=["GET"]),
    Route("/api/status", api_status, methods=["GET"]),
]
