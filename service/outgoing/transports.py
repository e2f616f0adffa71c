"""Send: Outgoing -> an email, either written to the outbox folder or handed to an SMTP server.

The only module importing smtplib. The password is read at login and never logged or
put in an error message; errors are SendError (service/errors.py). A batch of sends (one `remind`,
one digest, one poll's receipts) shares a Circuit: after a few consecutive failures to reach the
server, or once the batch's time is up, the rest is deferred (SendDeferred) without connecting.
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
from contextlib import contextmanager
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Protocol

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ..clock import Clock
from ..config import SmtpSection
from ..errors import SendDeferred, SendError
from ..model import Outgoing
from ..text import escaped

log = logging.getLogger(__name__)


class Circuit:
    """One batch's circuit breaker: open after `failures` consecutive failures to reach the server
    (or at once on a failure every later send would share, such as a refused login), or once
    `max_seconds` have passed since the batch's first send. Monotonic time: it measures, never dates."""

    def __init__(self, failures: int, max_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.max_seconds, self.monotonic = max(failures, 1), max_seconds, monotonic
        self.streak, self.started, self.reason = 0, None, ""

    def begin(self) -> None:
        """Called before each send: starts the batch's time and raises SendDeferred when open."""
        if self.started is None:
            self.started = self.monotonic()
        if not self.reason and self.remaining() <= 0:
            self.reason = f"batch time limit of {self.max_seconds:g}s reached"
        if self.reason:
            raise SendDeferred(f"not attempted: {self.reason}")

    def remaining(self) -> float:
        """Seconds left in the batch (all of them before the first send)."""
        if self.started is None:
            return self.max_seconds
        return self.max_seconds - (self.monotonic() - self.started)

    def open_reason(self) -> str:
        """Why the rest of the batch is not sent ("" while closed)."""
        if not self.reason and self.started is not None and self.remaining() <= 0:
            self.reason = f"batch time limit of {self.max_seconds:g}s reached"
        return self.reason

    def failed(self, error: str) -> None:
        self.streak += 1
        if self.streak >= self.failures and not self.reason:
            self.reason = f"{self.streak} consecutive send(s) could not reach the server; last: {error}"

    def trip(self, error: str) -> None:
        """Open at once: every later send would fail the same way (a refused login locks a 163 account)."""
        self.reason = error

    def succeeded(self) -> None:
        self.streak = 0


class Sender(Protocol):
    """Delivers one Outgoing; returns the Message-ID used."""

    def send(self, out: Outgoing) -> str: ...

    def batch(self) -> ContextManager[Circuit]:
        """Sends inside share one Circuit (see there)."""
        ...


class _Batches:
    """The `batch()` of both senders: the active Circuit, or a fresh one per lone send."""

    failures: int
    max_seconds: float
    monotonic: Callable[[], float]
    _circuit: Circuit | None = None

    @contextmanager
    def batch(self) -> Iterator[Circuit]:
        outer = self._circuit
        if outer is not None:  # nested (receipts retried inside a poll's batch): one circuit
            yield outer
            return
        self._circuit = Circuit(self.failures, self.max_seconds, self.monotonic)
        try:
            yield self._circuit
        finally:
            self._circuit = None

    def circuit(self) -> Circuit:
        return self._circuit or Circuit(self.failures, self.max_seconds, self.monotonic)


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


class OutboxSender(_Batches):
    """Writes each email as an .eml file (development default, and the test sink)."""

    def __init__(self, folder: Path, smtp: SmtpSection, clock: Clock,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        self.smtp = smtp
        self.clock = clock
        self.failures, self.max_seconds, self.monotonic = smtp.circuit_breaker_failures, smtp.max_batch_seconds, monotonic

    def send(self, out: Outgoing) -> str:
        """Write the email atomically (temp file + rename); return its Message-ID.

        A local failure (disk full, read-only, permissions) is SendDeferred: sent at the next run."""
        circuit = self.circuit()
        circuit.begin()
        now = self.clock()
        data = build_email(out, self.smtp.from_address, self.smtp.from_name, now, _domain(self.smtp))
        tmp, name = None, safe_filename(out.key, now)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self._free_path(name)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as err:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            error = f"outbox {self.folder}: cannot write {name}: {err.strerror or err}"
            circuit.failed(error)
            raise SendDeferred(error) from err
        circuit.succeeded()
        message_id = message_id_for(out, now, _domain(self.smtp))
        log.info("send: %s written to outbox %s (%s)", out.key, target.name, message_id)
        return message_id

    def _free_path(self, name: str) -> Path:
        path, stem, n = self.folder / name, name.removesuffix(".eml"), 1
        while path.exists():  # same key in the same second: keep both, never overwrite
            path, n = self.folder / f"{stem}.{n}.eml", n + 1
        return path


class SmtpSender(_Batches):
    """Sends through an SMTP server: implicit TLS (163 on 465), STARTTLS, or plain (tests)."""

    def __init__(self, smtp: SmtpSection, clock: Clock, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.smtp = smtp
        self.clock = clock
        self.sleep = sleep
        self.failures, self.max_seconds, self.monotonic = smtp.circuit_breaker_failures, smtp.max_batch_seconds, monotonic

    def send(self, out: Outgoing) -> str:
        """Deliver, retrying transient failures with backoff within the batch's time.

        Raises SendError when the server refuses this email, SendDeferred when it cannot be reached
        (or the circuit is open): the caller sends it again at the next run."""
        if not out.to:
            raise SendError(f"{out.key}: no recipients")
        circuit = self.circuit()
        circuit.begin()
        now = self.clock()
        domain = _domain(self.smtp)
        data = build_email(out, self.smtp.from_address, self.smtp.from_name, now, domain)
        message_id = message_id_for(out, now, domain)
        # After a send that could not reach the server, the next ones try once each until one gets
        # through: retrying every email with the whole backoff only multiplies the outage's wait.
        attempts = 1 if circuit.streak else max(self.smtp.retries, 0) + 1
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient), reraise=True, sleep=self.sleep,
            stop=stop_after_attempt(attempts) | _out_of_time(circuit),
            wait=wait_exponential(multiplier=self.smtp.backoff_seconds, exp_base=2),  # backoff * 2**i
            before_sleep=lambda state: log.warning(
                "send: %s attempt %d/%d failed: %s; retrying in %.0fs", out.key, state.attempt_number,
                attempts, state.outcome.exception() if state.outcome else "", state.upcoming_sleep))
        try:
            retrying(self._deliver, out, data, circuit)
        except _Transient as err:
            circuit.failed(str(err))
            raise SendDeferred(f"{out.key}: {err} (gave up after {retrying.statistics.get('attempt_number', 1)} "
                               f"attempt(s))") from None
        except _Shared as err:
            circuit.trip(str(err))
            raise SendDeferred(str(err)) from None
        except SendError:
            circuit.succeeded()  # the server answered: refused this email, reachable for the next
            raise
        circuit.succeeded()
        log.info("send: %s sent to %d recipient(s) via %s (%s)", out.key, len(out.to),
                 self.smtp.host, message_id)
        return message_id

    def _deliver(self, out: Outgoing, data: bytes, circuit: Circuit) -> None:
        try:
            with self._connect(min(self.smtp.timeout, max(circuit.remaining(), 1.0))) as client:
                self._login(client)
                refused = client.sendmail(self.smtp.from_address, list(out.to), data)
        except smtplib.SMTPAuthenticationError as err:
            # Never retried: repeated wrong logins get a 163 account locked.
            raise _Shared(self._describe(f"login refused for {self.smtp.user!r}", err)) from None
        except smtplib.SMTPNotSupportedError as err:
            raise _Shared(self._describe("server does not offer what we need", err)) from None
        except ssl.SSLCertVerificationError as err:
            raise _Shared(self._describe("server certificate not trusted", err)) from None
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

    def _connect(self, timeout: float) -> smtplib.SMTP:
        s = self.smtp
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=self._tls_context())
        client = smtplib.SMTP(s.host, s.port, timeout=timeout)
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
            raise _Shared(f"smtp.user {self.smtp.user!r} is set but no password "
                            f"(SERVICE_SMTP_PASSWORD or smtp.password_file)")
        try:
            client.login(self.smtp.user, self.smtp.password.get_secret_value())
        except UnicodeEncodeError:
            # smtplib sends AUTH as ASCII; 163 authorisation codes are ASCII, so this is a typo.
            raise _Shared("smtp: user and password must be ASCII (163 uses an ASCII 授权码)") from None

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


class _Shared(SendError):
    """A failure every email of the batch would share (login, TLS): opens the circuit, never retried."""


def _out_of_time(circuit: Circuit) -> Callable[[RetryCallState], bool]:
    """tenacity stop: no retry whose wait would outlast the batch's time (which opens the circuit)."""
    def stop(state: RetryCallState) -> bool:
        if circuit.remaining() > (state.upcoming_sleep or 0.0):
            return False
        circuit.trip(f"batch time limit of {circuit.max_seconds:g}s reached")
        return True
    return stop


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
