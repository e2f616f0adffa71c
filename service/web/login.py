"""GET/POST /login and POST /logout: the only pages open without a session.

The login form's CSRF token is a double-submit cookie (there is no session yet to keep it in);
after login every form carries the session's own token (guard.py).
"""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from .auth import SESSION_HOURS, csrf_matches, log_in, new_token
from .guard import SESSION_COOKIE, Visit, is_https, page

LOGIN_CSRF_COOKIE = "login_csrf"


async def login_form(request: Request) -> Response:
    return _form(request, "")


def _form(request: Request, error: str, status: int = 200) -> Response:
    token = new_token()
    response = request.app.state.web.render("login.html.j2", {"csrf_token": token, "error": error,
                                                              "user": None}, status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request),
                        path="/login")
    return response


async def login_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("csrf_token", ""))):
        return PlainTextResponse("请求缺少有效的 CSRF 令牌，请刷新登录页后重试", status_code=403)
    web = request.app.state.web
    name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    address = request.client.host if request.client else ""
    result = await run_in_threadpool(log_in, web.app.store, web.throttle, name, password, address,
                                     web.session_clock())
    if not result.token:
        return _form(request, result.refused, 401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, result.token, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="lax", secure=is_https(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@page(edit=False)
def logout(visit: Visit) -> Response:
    """POST /logout (with the CSRF token, open to viewers too): the session ends here and in the database."""
    visit.app.store.close_session(visit.request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
