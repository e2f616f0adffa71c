"""Send: Outgoing -> an email, either written to the outbox folder or handed to an SMTP server.

The only module importing smtplib. The password is read at login and never logged or
put in an error message; errors are SendError (service/errors.py).
"""
from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Protocol

from .clock import Clock
from .config import SmtpSection
from .errors import SendError
from .model import Outgoing
from .text import escaped

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Delivers one Outgoing; returns the Message-ID used."""

    def send(self, out: Outgoing) -> str: ...


def build_email(out: Outgoing, from_address: str, from_name: str, now: datetime, domain: str) -> bytes:
    """RFC 5322 bytes: encoded Chinese headers, text+html alternative, attachments, threading."""
    msg = EmailMessage(policy=SMTP_POLICY)
    # The policy RFC 2047-encodes non-ASCII display names and subjects; 163/QQ/Outlook decode them.
    msg["From"] = Address(display_name=from_name, addr_spec=from_address)
    msg["To"] = ", ".join(out.to)
    msg["Subject"] = out.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id_for(out, now, domain)
    if out.in_reply_to:
        parent = _bracketed(escaped(out.in_reply_to))  # the city's Message-ID: its controls never reach our headers
        msg["In-Reply-To"] = parent
        msg["References"] = parent
    # RFC 3834: mark as automatic so out-of-office robots (and Exchange) do not answer us back.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(out.text, charset="utf-8")
    if out.html:
        msg.add_alternative(out.html, subtype="html", charset="utf-8")
    for filename, content in out.attachments:
        maintype, subtype = _content_type(filename)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def message_id_for(out: Outgoing, now: datetime, domain: str) -> str:
    """Deterministic in (key, now): a retry of the same attempt reuses the id, so clients dedupe."""
    digest = hashlib.sha256(out.key.encode("utf-8")).hexdigest()[:16]
    return f"<{now:%Y%m%d%H%M%S}.{digest}@{domain}>"


def safe_filename(key: str, now: datetime) -> str:
    """Outbox file name: timestamp + key with anything but letters, digits, - and . made "_"."""
    safe = re.sub(r"[^\w.-]+", "_", key, flags=re.UNICODE).strip("._")[:120]
    return f"{now:%Y%m%dT%H%M%S}_{safe or 'mail'}.eml"


class OutboxSender:
    """Writes each email as an .eml file (development default, and the test sink)."""

    def __init__(self, folder: Path, smtp: SmtpSection, clock: Clock) -> None:
        self.folder = Path(folder)
        self.smtp = smtp
        self.clock = clock

    def send(self, out: Outgoing) -> str:
        """Write the email atomically (temp file + rename); return its Message-ID."""
        now = self.clock()
        data = build_email(out, self.smtp.from_address, self.smtp.from_name, now, _domain(self.smtp))
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._free_path(safe_filename(out.key, now))
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise SendError(f"outbox {self.folder}: cannot write {target.name}: {err.strerror}") from err
        message_id = message_id_for(out, now, _domain(self.smtp))
        log.info("send: %s written to outbox %s (%s)", out.key, target.name, message_id)
        return message_id

    def _free_path(self, name: str) -> Path:
        path, stem, n = self.folder / name, name.removesuffix(".eml"), 1
        while path.exists():  # same key in the same second: keep both, never overwrite
            path, n = self.folder / f"{stem}.{n}.eml", n + 1
        return path


class SmtpSender:
    """Sends through an SMTP server: implicit TLS (163 on 465), STARTTLS, or plain (tests)."""

    def __init__(self, smtp: SmtpSection, clock: Clock, sleep: Callable[[float], None] = time.sleep) -> None:
        self.smtp = smtp
        self.clock = clock
        self.sleep = sleep

    def send(self, out: Outgoing) -> str:
        """Deliver with retries on transient failures; raise SendError when it cannot."""
        if not out.to:
            raise SendError(f"{out.key}: no recipients")
        now = self.clock()
        domain = _domain(self.smtp)
        data = build_email(out, self.smtp.from_address, self.smtp.from_name, now, domain)
        message_id = message_id_for(out, now, domain)
        attempts = max(self.smtp.retries, 0) + 1
        failure: _Transient | None = None
        for attempt in range(attempts):
            try:
                self._deliver(out, data)
            except _Transient as err:
                failure = err
                if attempt + 1 < attempts:
                    delay = self.smtp.backoff_seconds * 2 ** attempt
                    log.warning("send: %s attempt %d/%d failed: %s; retrying in %.0fs", out.key,
                                attempt + 1, attempts, err, delay)
                    self.sleep(delay)
                continue
            log.info("send: %s sent to %d recipient(s) via %s (%s)", out.key, len(out.to),
                     self.smtp.host, message_id)
            return message_id
        raise SendError(f"{out.key}: {failure} (gave up after {attempts} attempts)")

    def _deliver(self, out: Outgoing, data: bytes) -> None:
        try:
            with self._connect() as client:
                self._login(client)
                refused = client.sendmail(self.smtp.from_address, list(out.to), data)
        except smtplib.SMTPAuthenticationError as err:
            # Never retried: repeated wrong logins get a 163 account locked.
            raise SendError(self._describe(f"login refused for {self.smtp.user!r}", err)) from None
        except smtplib.SMTPNotSupportedError as err:
            raise SendError(self._describe("server does not offer what we need", err)) from None
        except ssl.SSLCertVerificationError as err:
            raise SendError(self._describe("server certificate not trusted", err)) from None
        except smtplib.SMTPRecipientsRefused as err:
            # addresses stay in the sent log's recipients column; logs and errors carry counts only
            raise SendError(f"{out.key}: all {len(err.recipients)} recipient(s) refused by the server") from None
        except smtplib.SMTPResponseException as err:
            if 400 <= err.smtp_code < 500:
                raise _Transient(self._describe("temporary failure", err)) from None
            raise SendError(self._describe(f"{out.key}: rejected", err)) from None
        except (smtplib.SMTPException, OSError) as err:  # network, TLS, timeout, disconnect
            raise _Transient(self._describe("connection failed", err)) from None
        if refused:
            log.warning("send: %s refused by the server for %d of %d recipient(s)", out.key, len(refused), len(out.to))

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls_context())
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            try:
                client.starttls(context=self._tls_context())
            except BaseException:
                client.close()
                raise
        return client

    def _login(self, client: smtplib.SMTP) -> None:
        if not self.smtp.user:
            return
        if self.smtp.password is None:
            raise SendError(f"smtp.user {self.smtp.user!r} is set but no password "
                            f"(SERVICE_SMTP_PASSWORD or smtp.password_file)")
        try:
            client.login(self.smtp.user, self.smtp.password.get_secret_value())
        except UnicodeEncodeError:
            # smtplib sends AUTH as ASCII; 163 authorisation codes are ASCII, so this is a typo.
            raise SendError("smtp: user and password must be ASCII (163 uses an ASCII 授权码)") from None

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self.smtp.ca_file) if self.smtp.ca_file else None
        context = ssl.create_default_context(cafile=cafile)
        if cafile:  # trust the system roots too, not only the extra bundle
            context.load_default_certs()
        return context

    def _describe(self, what: str, err: BaseException) -> str:
        text = f"SMTP {self.smtp.host}:{self.smtp.port}: {what}: {_error_text(err)}"
        return _scrub(text, self.smtp.password.get_secret_value() if self.smtp.password else "")


class _Transient(Exception):
    """A failure worth retrying (network, timeout, 4xx)."""


def _error_text(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        detail = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) \
            else str(err.smtp_error)
        return f"{err.smtp_code} {detail}"
    if isinstance(err, socket.timeout):
        return "timed out"
    return f"{type(err).__name__}: {err}"


def _scrub(text: str, secret: str) -> str:
    # Belt and braces: a server could echo what it received; never let the secret through.
    return text.replace(secret, "***") if secret else text


def _domain(smtp: SmtpSection) -> str:
    return smtp.from_address.rpartition("@")[2] or "localhost"


def _bracketed(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _content_type(filename: str) -> tuple[str, str]:
    guessed, _ = mimetypes.guess_type(filename)
    maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
    return maintype, subtype
