"""Web accounts: argon2 password hashes, the pause after failed logins, session and CSRF tokens.

Input: a name, a password, the client's address; output: a session token (the cookie) or a refusal.
The pause is kept in memory, per (user name, client address): one `web` process serves the office,
and a restart forgets the count, which costs an attacker a restart they cannot cause.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..store import Store
from ..store.accounts import User

SESSION_HOURS = 12  # a working day; then log in again
FAILURES_BEFORE_PAUSE = 5
PAUSE = timedelta(minutes=5)  # doubled for each further failure, at most MAX_PAUSE
MAX_PAUSE = timedelta(hours=1)
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id with the library's current parameters
# verified when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str:
    """Why a new password is refused, "" when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符"
    return ""


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class LoginThrottle:
    """Failed logins per (name, address): after FAILURES_BEFORE_PAUSE, no attempt is even checked
    until the pause is over (PAUSE, doubling up to MAX_PAUSE). A success clears the count."""

    failures: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)

    def paused_until(self, name: str, address: str, now: datetime) -> datetime | None:
        count, last = self.failures.get((name, address), (0, now))
        if count < FAILURES_BEFORE_PAUSE:
            return None
        until = last + min(PAUSE * 2 ** (count - FAILURES_BEFORE_PAUSE), MAX_PAUSE)
        return until if until > now else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        count, _ = self.failures.get((name, address), (0, now))
        self.failures[(name, address)] = (count + 1, now)
        if len(self.failures) > 10_000:  # a flood of names must not grow memory without bound
            self.failures.pop(next(iter(self.failures)))

    def succeeded(self, name: str, address: str) -> None:
        self.failures.pop((name, address), None)


@dataclass(frozen=True)
class Login:
    """The answer to a login attempt: a session token, or why not (and until when)."""

    token: str = ""
    refused: str = ""


def log_in(store: Store, throttle: LoginThrottle, name: str, password: str, address: str,
           now: datetime) -> Login:
    """Check a name and password; on success a new session is stored and its token returned."""
    if (until := throttle.paused_until(name, address, now)) is not None:
        return Login(refused=f"登录失败次数过多，请于 {until:%H:%M:%S} 后再试")
    user = store.user(name)
    ok = password_matches(user.password_hash if user else _DUMMY_HASH, password)
    if not ok or user is None or user.disabled:
        throttle.failed(name, address, now)
        return Login(refused="用户名或密码不正确")
    throttle.succeeded(name, address)
    token = new_token()
    store.open_session(user, token, new_token(), now, now + timedelta(hours=SESSION_HOURS))
    return Login(token=token)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())


def may_edit(user: User) -> bool:
    return user.may_edit
