"""A real SMTP server on loopback for the send tests: aiosmtpd with STARTTLS or implicit TLS.

`SmtpServer.start(...)` runs an aiosmtpd Controller in a thread; `server.messages` holds what
was accepted. A self-signed certificate for 127.0.0.1/localhost is made at test time.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate valid for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)  # fixed: tests never read the clock
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=365 * 30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(HOST))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    """A port free right now on loopback (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One accepted message: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Handler:
    """Collects messages; answers 451 to the first `refuse_first` DATA commands."""

    refuse_first: int = 0
    messages: list[Received] = field(default_factory=list)
    attempts: int = 0
    logins: list[str] = field(default_factory=list)
    connections: int = 0  # TCP connections accepted (the controller's own start-up check included)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.refuse_first:
            return "451 4.3.0 Try again later"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class _CountingSMTP(SMTP):
    def connection_made(self, transport: Any) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)


class _CountingController(Controller):
    """A Controller whose sessions count the connections they were made for."""

    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class Authenticator:
    """Accepts exactly one user/password pair."""

    def __init__(self, handler: Handler, user: str, password: str) -> None:
        self.handler, self.user, self.password = handler, user, password

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if login == self.user and password == self.password:
                self.handler.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """A running aiosmtpd on loopback; use as a context manager."""

    def __init__(self, controller: Controller, handler: Handler, port: int, cert: Path | None) -> None:
        self.controller, self.handler, self.port, self.cert = controller, handler, port, cert

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @classmethod
    def start(cls, *, security: str = "none", cert_dir: Path | None = None, user: str = "",
              password: str = "", refuse_first: int = 0, port: int | None = None) -> "SmtpServer":
        """security: "none", "starttls" (AUTH only after STARTTLS) or "ssl" (implicit TLS, as 163 on 465).

        port: a given one (a server coming back where a test saw the port closed), else a free one."""
        handler = Handler(refuse_first=refuse_first)
        port = port or free_port()
        cert = None
        kwargs: dict[str, Any] = {}
        if security in ("starttls", "ssl"):
            assert cert_dir is not None, "TLS needs a folder for the certificate"
            cert, key = make_certificate(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            if security == "ssl":
                # With implicit TLS aiosmtpd does not see a STARTTLS, so it offers AUTH only like this.
                kwargs.update(ssl_context=context, auth_require_tls=False)
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if user:
            kwargs.update(authenticator=Authenticator(handler, user, password), auth_required=True)
        controller = _CountingController(handler, hostname=HOST, port=port, server_hostname="localhost", **kwargs)
        controller.start()
        return cls(controller, handler, port, cert)

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
