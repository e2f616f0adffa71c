"""Who may do what: every route but /login and /static goes through `page`, which finds the session,
checks the CSRF token on POST and the role for changes, then runs the handler off the event loop.

Input: the request (cookie, form); output: the handler's response, or a redirect to /login (pages),
401 (/api/...), 403 (no CSRF token, or a viewer asking for a change).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ..app import App
from ..store.accounts import User, WebSession
from .auth import csrf_matches

SESSION_COOKIE = "session"


@dataclass(frozen=True)
class Visit:
    """What a handler gets: the app, the logged-in user, the session's CSRF token and the form."""

    app: App
    user: User
    csrf_token: str
    form: dict[str, str]
    request: Request


def session_of(request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    web = request.app.state.web
    return web.app.store.web_session(token, web.session_clock())


def page(*, edit: bool | None = None) -> Callable[[Callable[[Visit], Response]], Callable[[Request], Any]]:
    """Wrap a handler (sync, given a Visit) in the session, CSRF and role checks.

    edit: only editors may call it (default: every POST; logout passes False)."""
    def wrap(handler: Callable[[Visit], Response]) -> Callable[[Request], Any]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)} \
                if request.method == "POST" else {}
            return await run_in_threadpool(_checked, request, form, handler, edit)
        return endpoint
    return wrap


def _checked(request: Request, form: dict[str, str], handler: Callable[[Visit], Response],
             edit: bool | None) -> Response:
    session = session_of(request)
    if session is None:
        if request.url.path.startswith("/api/"):
            return PlainTextResponse("需要登录 (login required)", status_code=401)
        return RedirectResponse("/login", status_code=303)
    if request.method == "POST" and not csrf_matches(session.csrf_token, form.get("csrf_token")):
        return PlainTextResponse("请求缺少有效的 CSRF 令牌，请刷新页面后重试", status_code=403)
    if (request.method == "POST" if edit is None else edit) and not session.user.may_edit:
        return PlainTextResponse("只读用户不能修改 (viewers cannot change anything)", status_code=403)
    return handler(Visit(request.app.state.web.app, session.user, session.csrf_token, form, request))


def is_https(request: Request) -> bool:
    """Served over TLS, directly or behind a proxy that says so (nginx: X-Forwarded-Proto)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
