"""The workbench's ASGI application and its server: routes, templates, security headers, uvicorn.

Input: an open App (config, store, archive) and the clock sessions expire by; output: HTTP.
Everything shown is rendered on the server by Jinja2 with autoescaping; the pages run no script.
"""
from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import App
from ..clock import Clock
from ..config import Config
from ..store.kept import KeptSnapshot
from ..text import escaped
from . import actions, files, login, pages
from .auth import LoginThrottle
from .figures import CityFigures

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
# No script at all and no inline style: text from mail cannot run or restyle anything.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]


@dataclass
class Web:
    """What every request needs: the app, the clock sessions run on, the login throttle, templates."""

    app: App
    session_clock: Clock
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    figures: CityFigures = field(default_factory=CityFigures)
    kept: KeptSnapshot = field(init=False)  # the store's state between requests (store/kept.py)
    templates: Environment = field(default_factory=lambda: template_environment())

    def __post_init__(self) -> None:
        self.kept = KeptSnapshot(self.app.store)

    def render(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        page = self.templates.get_template(name).render(config=self.app.config, **context)
        return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store"})


def template_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["shown"] = escaped  # control characters and bidi overrides from mail shown as escapes
    env.filters["figure"] = shown_figure
    env.filters["local"] = lambda at, tz, fmt="%Y-%m-%d %H:%M": at.astimezone(tz).strftime(fmt) if at else "—"
    return env


def shown_figure(value: object) -> str:
    """A stored figure without the store's trailing zeros (120.000000 -> 120); empty for none."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def security_headers(inner: ASGIApp) -> ASGIApp:
    """Adds the CSP and its companions to every response (pure ASGI: streams pass through)."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)
        await inner(scope, receive, sending)
    return app


ROUTES = [
    Route("/login", login.login_form, methods=["GET"]),
    Route("/login", login.login_submit, methods=["POST"]),
    Route("/logout", login.logout, methods=["POST"]),
    *pages.ROUTES, *actions.ROUTES, *files.ROUTES,
    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
]


def make_web_app(app: App, session_clock: Clock) -> Starlette:
    """The ASGI app over an open App (tests drive it directly, `web` serves it)."""
    web = Starlette(routes=ROUTES)
    web.state.web = Web(app, session_clock)
    return security_headers(web)  # type: ignore[return-value]


def serve(config: Config, app: App, session_clock: Clock, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT (uvicorn finishes the requests in flight, then returns)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(make_web_app(app, session_clock), host=host, port=port,
                                           proxy_headers=True, log_level="info", access_log=False,
                                           timeout_graceful_shutdown=10))
    log.info("web workbench on http://%s:%s (campaign %s)", host, port, config.campaign.name)
    # uvicorn raises the signal it caught again once it has shut down, with the handler it found; a
    # handler that does nothing lets `web` close the store and exit 0, like `run` does.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run()
