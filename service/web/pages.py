"""The pages (GET): 总览, a city, a message, problems, outgoing mail, the decision log.

Each handler is given a Visit (guard.py: logged in) and renders one template with views.py's values.
"""
from __future__ import annotations

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..store.kept import KeptSnapshot
from . import views
from .guard import Visit, page


def render(visit: Visit, name: str, context: dict, status: int = 200) -> Response:
    """A template with what every page needs: the user, the CSRF token for its forms, the clock."""
    web = visit.request.app.state.web
    return web.render(name, dict(context, user=visit.user, csrf_token=visit.csrf_token, tz=visit.app.config.tz,
                                 may_edit=visit.user.may_edit), status)


def _kept(visit: Visit) -> KeptSnapshot:
    """The web process's kept snapshot (store/kept.py): read again only in part, after a change."""
    return visit.request.app.state.web.kept


def not_found(text: str) -> Response:
    return PlainTextResponse(text, status_code=404)


@page()
def overview(visit: Visit) -> Response:
    web = visit.request.app.state.web
    return render(visit, "overview.html.j2", views.overview(visit.app, web.kept, web.figures, visit.app.clock()))


@page()
def city(visit: Visit) -> Response:
    found = views.city_page(visit.app, _kept(visit), visit.request.path_params["name"], visit.app.clock())
    return render(visit, "city.html.j2", found) if found else not_found("没有这个市州")


@page()
def message(visit: Visit) -> Response:
    found = views.message_page(visit.app, visit.request.path_params["number"], visit.app.clock())
    if found is None:
        return not_found("没有这封邮件")
    return render(visit, "message.html.j2", dict(found, cities=visit.app.config.cities,
                                                  all_deadlines=visit.app.config.deadlines))


@page()
def problems(visit: Visit) -> Response:
    query = visit.request.query_params
    found = views.problems_page(visit.app, _kept(visit), visit.app.clock(), query.get("city", ""), query.get("kind", ""))
    return render(visit, "problems.html.j2", found)


@page()
def outgoing(visit: Visit) -> Response:
    return render(visit, "outgoing.html.j2", views.outgoing_page(visit.app))


@page()
def letter(visit: Visit) -> Response:
    """GET /outgoing/letter?key=KEY: one sent-log record and what went out."""
    found = views.letter_page(visit.app, visit.request.query_params.get("key", ""))
    return render(visit, "letter.html.j2", found) if found else not_found("发送记录中没有这封邮件")


@page()
def decisions(visit: Visit) -> Response:
    """The audit log, newest first; a decision whose target is gone says so (as `decisions` does)."""
    return render(visit, "decisions.html.j2", dict(decisions=views.decisions_page(visit.app, _kept(visit))))


ROUTES = [
    Route("/", overview, methods=["GET"]),
    Route("/cities/{name}", city, methods=["GET"]),
    Route("/messages/{number:int}", message, methods=["GET"]),
    Route("/problems", problems, methods=["GET"]),
    Route("/outgoing", outgoing, methods=["GET"]),
    Route("/outgoing/letter", letter, methods=["GET"]),
    Route("/decisions", decisions, methods=["GET"]),
]
