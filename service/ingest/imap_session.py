"""An IMAP session: connect, log in, identify (RFC 2971 ID), examine a folder; login errors explained.

Used by ImapSource (fetch_imap.py) for polling and by `check-mailbox` (describe_mailbox, which also
shows the authserv-ids on the newest mail: what to put in `trusted_authserv_ids`). The password is
read here only and never appears in an error or log line.
"""
from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from ..config import MailboxSection
from ..errors import SourceError
from ..parse.auth_headers import authserv_ids, header_fields, trusted_results

log = logging.getLogger(__name__)

CLIENT_NAME, CLIENT_VERSION, CLIENT_VENDOR = "report-mail-service", "0.1.0", "report-mail-service"
UNSAFE_LOGIN = "unsafe login"  # NetEase's SELECT refusal for clients that did not identify (or look risky)
LOGIN_HELP = (
    "邮箱登录被拒绝：163 邮箱的 IMAP 登录须使用“客户端授权码”（网页版 设置 → POP3/SMTP/IMAP 中开启 IMAP 服务后生成），"
    "不是网页登录密码；请把授权码放入环境变量 SERVICE_IMAP_PASSWORD。"
    " Mailbox login refused: NetEase (163.com) IMAP needs the client authorisation code (授权码, generated under"
    " Settings > POP3/SMTP/IMAP after enabling IMAP), not the web password; put it in SERVICE_IMAP_PASSWORD."
)
TRANSIENT = (OSError, IMAPClientError)  # socket faults, timeouts, dropped connections, NO/BAD replies
ClientFactory = Callable[[MailboxSection], Any]  # returns a connected, not yet logged-in IMAPClient


class MailboxLoginError(SourceError):
    """Login or SELECT refused for the account (wrong 授权码, `Unsafe Login`): retrying will not help."""


class MailboxUnavailable(SourceError):
    """The server could not be reached or failed mid-poll, even after a few retries."""


def client_id(mailbox: MailboxSection) -> dict[str, str]:
    """RFC 2971 ID fields, plain ASCII (NetEase refuses SELECT from clients that send none)."""
    fields = {"name": CLIENT_NAME, "version": CLIENT_VERSION, "vendor": CLIENT_VENDOR}
    if "@" in mailbox.user and mailbox.user.isascii():
        fields["support-email"] = mailbox.user
    return fields


def id_reply(raw: Any) -> dict[str, str]:
    """The server's ID reply as a dict (imapclient gives ((k, v, k, v ...),) or (None,))."""
    items = raw[0] if raw and isinstance(raw[0], (tuple, list)) else ()
    text = [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in items]
    return dict(zip(text[0::2], text[1::2]))


def redact(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def source_error(err: BaseException, password: str) -> SourceError:
    """MailboxLoginError (never retried) for refused logins and `Unsafe Login`, else MailboxUnavailable."""
    said = redact(str(err), password)
    # [UNAVAILABLE] is the server's own auth backend failing (RFC 5530): worth a retry, unlike a refusal.
    refused = isinstance(err, LoginError) and "[UNAVAILABLE]" not in said.upper()
    if refused or UNSAFE_LOGIN in said.lower():
        return MailboxLoginError(f"{LOGIN_HELP} Server said: {said}")
    return MailboxUnavailable(f"mailbox unavailable: {type(err).__name__}: {said}")


# --- connection ---------------------------------------------------------------------------------


def open_client(mailbox: MailboxSection) -> IMAPClient:
    """Connect (implicit TLS or plain) with one timeout for connect and every read."""
    use_ssl = mailbox.security == "ssl"
    try:
        return IMAPClient(mailbox.host, mailbox.port, ssl=use_ssl, timeout=mailbox.timeout,
                          ssl_context=ssl.create_default_context() if use_ssl else None)
    except OSError as err:  # name the server: "Connection refused" alone does not say which
        raise OSError(f"cannot connect to {mailbox.host}:{mailbox.port}: {err.strerror or err}") from err


def secret(mailbox: MailboxSection) -> str:
    return mailbox.password.get_secret_value() if mailbox.password is not None else ""


def login(mailbox: MailboxSection, factory: ClientFactory) -> tuple[Any, dict[str, str]]:
    """Connected, logged-in client and the server's ID reply; ID goes out before any SELECT."""
    password = secret(mailbox)
    if not password:
        raise MailboxLoginError(f"{LOGIN_HELP} (no password configured for {mailbox.user})")
    if not password.isascii():  # IMAP LOGIN is ASCII; a 163 授权码 always is, a pasted web password may not be
        raise MailboxLoginError(f"{LOGIN_HELP} (the configured password is not plain ASCII)")
    client = factory(mailbox)
    try:
        client.normalise_times = False  # keep INTERNALDATE aware instead of naive local time
        if mailbox.security == "starttls":
            client.starttls(ssl.create_default_context())
        client.login(mailbox.user, password)
        log.info("imap login user=%s host=%s:%d", mailbox.user, mailbox.host, mailbox.port)
        return client, send_id(client, client_id(mailbox))
    except BaseException:
        close_quietly(client)
        raise


def send_id(client: Any, fields: dict[str, str]) -> dict[str, str]:
    """Identify ourselves whenever the server advertises ID; a refused ID is logged, not fatal."""
    if not client.has_capability("ID"):
        return {}
    try:
        reply = id_reply(client.id_(fields))
    except IMAPClientAbortError:
        raise
    except IMAPClientError as err:
        log.warning("imap ID refused by server: %s", err)
        return {}
    log.info("imap ID sent; server is %s", reply.get("name", "?"))
    return reply


def close_quietly(client: Any) -> None:
    try:
        client.logout()
    except TRANSIENT:
        try:
            client.shutdown()
        except TRANSIENT:
            pass


def examine(client: Any, folder: str) -> tuple[int, int]:
    """Open `folder` read-only (EXAMINE); returns (UIDVALIDITY, EXISTS)."""
    info = client.select_folder(folder, readonly=True)
    uidvalidity = int(info.get(b"UIDVALIDITY") or 0)
    if not uidvalidity:
        raise MailboxUnavailable(f"imap folder {folder}: server sent no UIDVALIDITY, cannot track UIDs")
    return uidvalidity, int(info.get(b"EXISTS") or 0)


def idle_until_exists(client: Any, timeout_s: float) -> bool:
    """Read IDLE responses until an EXISTS arrives or timeout_s runs out (keep-alives are ignored)."""
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        for response in client.idle_check(timeout=remaining):
            if len(response) >= 2 and response[1] == b"EXISTS":
                return True
    return False


def describe_mailbox(mailbox: MailboxSection, *, client_factory: ClientFactory | None = None) -> dict:
    """Log in, send ID, and report capabilities, the ID reply and every folder's UIDVALIDITY and size."""
    client = None
    try:
        client, server_id = login(mailbox, client_factory or open_client)
        capabilities = [c.decode(errors="replace") for c in client.capabilities()]
        return {"capabilities": capabilities, "id": server_id,
                "folders": folder_summaries(client, mailbox.folders),
                "newest_mail": newest_mail_auth(client, mailbox.folders, mailbox.trusted_authserv_ids)}
    except TRANSIENT as err:
        raise source_error(err, secret(mailbox)) from err
    finally:
        if client is not None:
            close_quietly(client)


def folder_summaries(client: Any, configured: tuple[str, ...]) -> list[dict]:
    """STATUS of each selectable folder (no SELECT); configured folders the server lacks get None values."""
    summaries = []
    for flags, _delimiter, name in client.list_folders():
        if {b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags}:
            continue
        status = client.folder_status(name, ["MESSAGES", "UIDVALIDITY"])
        summaries.append({"name": name, "uidvalidity": status.get(b"UIDVALIDITY"),
                          "messages": status.get(b"MESSAGES"), "configured": name in configured})
    seen = {s["name"] for s in summaries}
    summaries += [{"name": name, "uidvalidity": None, "messages": None, "configured": True}
                  for name in configured if name not in seen]
    return summaries


def newest_mail_auth(client: Any, folders: tuple[str, ...], trusted: tuple[str, ...]) -> dict | None:
    """The Authentication-Results authserv-ids (topmost first) on the newest message of the first
    configured folder holding mail, and the one the config trusts there ("" when none); None without mail."""
    for folder in folders:
        try:
            if not examine(client, folder)[1]:
                continue
            uids = client.search(["ALL"])
            if not uids:
                continue
            uid = max(uids)
            head = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]", b"")
        except (IMAPClientError, MailboxUnavailable) as err:  # a missing folder: the next one
            log.info("check-mailbox: folder %s not read for its newest mail: %s", folder, err)
            continue
        fields = header_fields(head)
        return {"folder": folder, "uid": uid, "authserv_ids": authserv_ids(fields),
                "trusted": trusted_results(fields, trusted).authserv_id}
    return None
