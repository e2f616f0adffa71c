"""The editors' actions (POST): each form becomes one call of corrections.take_decision, the path the
command line takes too, with the logged-in user as `by`. Input: a Visit with its form; output: a page
saying what was recorded and what changed, or the refusal (400) with nothing recorded."""
from __future__ import annotations

from urllib.parse import quote

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..corrections import WrongArgument, decision_text, take_decision
from .guard import Visit, page
from .pages import render

YES = ("1", "on", "true", "yes")


def decide(visit: Visit, kind: str, fields: dict, back: str) -> Response:
    """Take one decision and show its outcome (the same lines the CLI prints); `back` is a page of
    this site (anything else, from a form, becomes /)."""
    back = back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/"
    try:
        decision, changes = take_decision(visit.app, kind, fields, visit.user.name, visit.form.get("note", ""))
    except WrongArgument as err:
        return render(visit, "outcome.html.j2", dict(error=str(err), lines=[], back=back), 400)
    lines = [decision_text(visit.app, decision), *(changes or ["各市州报送状态无变化"])]
    return render(visit, "outcome.html.j2", dict(error="", lines=lines, back=back))


def _message(visit: Visit) -> tuple[str, str]:
    number = str(visit.request.path_params["number"])
    return number, f"/messages/{number}"


@page()
def assign(visit: Visit) -> Response:
    """Fields city, deadline (both, or neither with report=yes|no), note."""
    number, back = _message(visit)
    form = visit.form
    fields = dict(message=number, city=form.get("city") or None, deadline=form.get("deadline") or None,
                  report=form.get("report") == "yes", not_report=form.get("report") == "no")
    return decide(visit, "assign", fields, back)


@page()
def message_action(visit: Visit) -> Response:
    """ignore, confirm-sender (register=1 also registers the address) and choose."""
    number, back = _message(visit)
    kind = visit.request.path_params["action"]
    if kind not in ("ignore", "confirm-sender", "choose"):
        return PlainTextResponse("没有这项操作", status_code=404)
    return decide(visit, kind, dict(message=number, register=visit.form.get("register") in YES), back)


@page()
def resolve(visit: Visit) -> Response:
    number = str(visit.request.path_params["number"])
    if visit.request.path_params["action"] not in ("resolve", "reopen"):
        return PlainTextResponse("没有这项操作", status_code=404)
    reopen = visit.request.path_params["action"] == "reopen"
    return decide(visit, "resolve", dict(problem=number, reopen=reopen), visit.form.get("back") or "/problems")


@page()
def exemption(visit: Visit) -> Response:
    kind = visit.request.path_params["action"]
    if kind not in ("exempt", "unexempt"):
        return PlainTextResponse("没有这项操作", status_code=404)
    fields = dict(city=visit.form.get("city", ""), deadline=visit.form.get("deadline", ""))
    return decide(visit, kind, fields, f"/cities/{quote(fields['city'])}")


@page()
def undo(visit: Visit) -> Response:
    return decide(visit, "undo", dict(decision=str(visit.request.path_params["number"])), "/decisions")


ROUTES = [
    Route("/messages/{number:int}/assign", assign, methods=["POST"]),
    Route("/messages/{number:int}/{action:str}", message_action, methods=["POST"]),
    Route("/problems/{number:int}/{action:str}", resolve, methods=["POST"]),
    Route("/exemptions/{action:str}", exemption, methods=["POST"]),
    Route("/decisions/{number:int}/undo", undo, methods=["POST"]),
]
