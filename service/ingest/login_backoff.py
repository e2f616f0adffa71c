"""Login backoff: refused IMAP logins -> when the next attempt is allowed (1, 2, 4 ... 60 minutes).

NetEase locks an account that keeps failing to log in, so after a refusal no poll logs in again
before `next_at`. The state lives in the health table (so it survives restarts) with a fingerprint
of the credentials: a changed host, port, user or password (授权码) is tried at once. Pure but for
load_backoff/save_backoff; the secret itself is never stored or logged, only a hash of it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import MailboxSection
from ..errors import SourceError
from ..store import Store

HEALTH_KEY = "imap_login_backoff"
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


class LoginBackedOff(SourceError):
    """The last login was refused and its backoff has not run out: this poll did not log in."""


@dataclass(frozen=True)
class LoginBackoff:
    failures: int  # refusals in a row with these credentials
    next_at: datetime  # no login before this instant
    fingerprint: str  # credentials_fingerprint of the refused credentials


def credentials_fingerprint(mailbox: MailboxSection) -> str:
    """A hash of host, port, user and password: tells a change apart without keeping the secret."""
    password = mailbox.password.get_secret_value() if mailbox.password is not None else ""
    material = "\0".join(["report-mail-service imap login", mailbox.host, str(mailbox.port), mailbox.user, password])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def wait_after(failures: int) -> timedelta:
    """How long to wait after `failures` refusals in a row: doubling from a minute, at most an hour."""
    return min(LONGEST_WAIT, FIRST_WAIT * 2 ** min(max(failures - 1, 0), 16))


def after_refusal(previous: LoginBackoff | None, fingerprint: str, now: datetime) -> LoginBackoff:
    """The backoff after a refusal at `now`; a refusal of other credentials starts again from one."""
    failures = previous.failures + 1 if previous is not None and previous.fingerprint == fingerprint else 1
    return LoginBackoff(failures, now + wait_after(failures), fingerprint)


def blocking(backoff: LoginBackoff | None, fingerprint: str, now: datetime) -> LoginBackoff | None:
    """The backoff that forbids a login at `now` with these credentials, else None."""
    if backoff is None or backoff.fingerprint != fingerprint or now >= backoff.next_at:
        return None
    return backoff


def backoff_message(backoff: LoginBackoff, tz: ZoneInfo) -> str:
    """One line for the digest, `status --check`, the CLI and the log."""
    at = backoff.next_at.astimezone(tz)
    return (f"邮箱登录被拒绝，下次重试 {at:%H:%M}（已连续被拒 {backoff.failures} 次；更换授权码或修改配置后立即重试）"
            f" (IMAP login refused {backoff.failures} time(s) in a row; next attempt allowed at "
            f"{at.isoformat(timespec='seconds')}, or at once when the credentials change or `run` gets SIGHUP)")


def load_backoff(store: Store) -> LoginBackoff | None:
    """The stored backoff; None when there is none (or it was cleared by a good login)."""
    found = store.get_health(HEALTH_KEY)
    if not found or not found[0]:
        return None
    try:
        value = json.loads(found[0])
        return LoginBackoff(int(value["failures"]), datetime.fromisoformat(value["next_at"]), str(value["fingerprint"]))
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable entry must not keep the mailbox locked out


def save_backoff(store: Store, backoff: LoginBackoff | None, now: datetime) -> None:
    value = "" if backoff is None else json.dumps(
        {"failures": backoff.failures, "next_at": backoff.next_at.isoformat(), "fingerprint": backoff.fingerprint})
    store.set_health(HEALTH_KEY, value, now)
