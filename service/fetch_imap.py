"""Mail arrives over IMAP: ImapSource yields Fetched (raw bytes + INTERNALDATE) above each folder's watermark.

Read-only by construction (EXAMINE, BODY.PEEK[]); never writes flags or state. describe_mailbox backs `check-mailbox`.
"""
from __future__ import annotations

import logging
import ssl
import time
from datetime import timezone
from typing import Any, Callable, Iterable, Iterator, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from .config import MailboxSection
from .errors import SourceError
from .model import Fetched

log = logging.getLogger(__name__)

FETCH_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE"]  # PEEK: fetching never sets \Seen
CLIENT_NAME, CLIENT_VERSION, CLIENT_VENDOR = "report-mail-service", "0.1.0", "report-mail-service"
UNSAFE_LOGIN = "unsafe login"  # NetEase's SELECT refusal for clients that did not identify (or look risky)
LOGIN_HELP = (
    "邮箱登录被拒绝：163 邮箱的 IMAP 登录须使用“客户端授权码”（网页版 设置 → POP3/SMTP/IMAP 中开启 IMAP 服务后生成），"
    "不是网页登录密码；请把授权码放入环境变量 SERVICE_IMAP_PASSWORD。"
    " Mailbox login refused: NetEase (163.com) IMAP needs the client authorisation code (授权码, generated under"
    " Settings > POP3/SMTP/IMAP after enabling IMAP), not the web password; put it in SERVICE_IMAP_PASSWORD."
)

FEW_UIDS = 20  # above this, known deliveries are listed in one query instead of one per UID
TRANSIENT = (OSError, IMAPClientError)  # socket faults, timeouts, dropped connections, NO/BAD replies
ClientFactory = Callable[[MailboxSection], Any]  # returns a connected, not yet logged-in IMAPClient


class MailboxLoginError(SourceError):
    """Login or SELECT refused for the account (wrong 授权码, `Unsafe Login`): retrying will not help."""


class MailboxUnavailable(SourceError):
    """The server could not be reached or failed mid-poll, even after a few retries."""


class SourceState(Protocol):
    """What the source reads from the caller's store; it never writes it."""

    def get_watermark(self, folder: str) -> tuple[int, int] | None: ...  # (uidvalidity, last_uid)

    def has_delivery(self, source_id: str) -> bool: ...

    def delivery_ids(self, prefix: str) -> set[str]: ...  # every recorded source id starting with prefix


# --- pure decisions -----------------------------------------------------------------------------


def source_id(folder: str, uidvalidity: int, uid: int) -> str:
    return f"imap:{folder}:{uidvalidity}:{uid}"


def start_after(watermark: tuple[int, int] | None, uidvalidity: int) -> int:
    """Last UID already ingested; 0 when none or when UIDVALIDITY changed (old UIDs mean nothing)."""
    if watermark is None or watermark[0] != uidvalidity:
        return 0
    return max(watermark[1], 0)


def search_criteria(after: int) -> list[str]:
    """One UID SEARCH for what lies above `after`; never `UID 0:*`."""
    return ["ALL"] if after <= 0 else ["UID", f"{after + 1}:*"]


def new_uids(found: Iterable[int], after: int) -> list[int]:
    """Ascending UIDs above `after`: `UID n:*` also returns the newest message when it is below n."""
    return sorted({uid for uid in found if uid > after})


def batches(uids: list[int], size: int) -> Iterator[list[int]]:
    """Explicit UID lists for FETCH (imapclient 4 cannot parse replies to `N:*`)."""
    size = max(size, 1)
    for start in range(0, len(uids), size):
        yield uids[start:start + size]


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2*base, 4*base ... capped."""
    return min(cap, base * 2 ** max(attempt - 1, 0))


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
    return IMAPClient(mailbox.host, mailbox.port, ssl=use_ssl, timeout=mailbox.timeout,
                      ssl_context=ssl.create_default_context() if use_ssl else None)


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


def to_fetched(folder: str, uidvalidity: int, uid: int, item: dict) -> Fetched | None:
    raw = item.get(b"BODY[]")
    if not isinstance(raw, bytes):
        log.warning("imap folder=%s uid=%d: no body in FETCH reply, skipped", folder, uid)
        return None
    date = item.get(b"INTERNALDATE")
    received = date.astimezone(timezone.utc) if date is not None and date.tzinfo else None
    return Fetched(source_id=source_id(folder, uidvalidity, uid), raw=raw, received_at=received,
                   folder=folder, uidvalidity=uidvalidity, uid=uid)


# --- the source ---------------------------------------------------------------------------------


def undelivered(uids: list[int], folder: str, uidvalidity: int, state: SourceState) -> list[int]:
    """UIDs not recorded yet: one query per UID for a few, one for the folder's deliveries for a backlog."""
    if len(uids) <= FEW_UIDS:
        return [uid for uid in uids if not state.has_delivery(source_id(folder, uidvalidity, uid))]
    known = state.delivery_ids(source_id(folder, uidvalidity, 0)[:-1])
    return [uid for uid in uids if source_id(folder, uidvalidity, uid) not in known]


class ImapSource:
    """Yields new messages of the configured folders; reconnects with bounded backoff on faults."""

    def __init__(self, mailbox: MailboxSection, *, client_factory: ClientFactory | None = None,
                 sleep: Callable[[float], None] = time.sleep, attempts: int = 3,
                 base_delay: float = 1.0) -> None:
        self._mailbox = mailbox
        self._factory = client_factory or open_client
        self._sleep = sleep
        self._attempts = max(attempts, 1)
        self._base_delay = base_delay
        self._client: Any = None
        self.server_id: dict[str, str] = {}

    def fetch_new(self, state: SourceState) -> Iterator[Fetched]:
        """Messages above each folder's watermark, ascending UID per folder, one batch in memory at a time."""
        for folder in self._mailbox.folders:
            yield from self._fetch_folder(folder, state)

    def close(self) -> None:
        if self._client is not None:
            close_quietly(self._client)
            self._client = None

    def wait_for_new_mail(self, timeout_s: float) -> bool:
        """IDLE on the first folder until new mail (True) or timeout_s (False); False at once without IDLE.

        Keep timeout_s under 29 minutes (RFC 2177). Raises MailboxLoginError / MailboxUnavailable, no retry.
        """
        try:
            client = self._connected()
            if not client.has_capability("IDLE"):
                return False
            examine(client, self._mailbox.folders[0])
            client.idle()
            try:
                return idle_until_exists(client, timeout_s)
            finally:
                client.idle_done()
        except TRANSIENT as err:
            self._drop()
            raise source_error(err, secret(self._mailbox)) from err

    def _fetch_folder(self, folder: str, state: SourceState) -> Iterator[Fetched]:
        progress = state.get_watermark(folder)
        attempt = 0
        while True:
            try:
                for item in self._poll_folder(folder, progress, state):
                    progress, attempt = (item.uidvalidity, item.uid), 0  # resume after what was consumed
                    yield item
                return
            except TRANSIENT as err:
                attempt += 1
                self._retry_or_raise(err, folder, attempt)

    def _poll_folder(self, folder: str, watermark: tuple[int, int] | None,
                     state: SourceState) -> Iterator[Fetched]:
        client = self._connected()
        uidvalidity, exists = examine(client, folder)
        if watermark is not None and watermark[0] != uidvalidity:
            log.warning("imap folder=%s UIDVALIDITY changed %d -> %d: reading the folder from the start",
                        folder, watermark[0], uidvalidity)
        after = start_after(watermark, uidvalidity)
        uids = new_uids(client.search(search_criteria(after)), after)
        todo = undelivered(uids, folder, uidvalidity, state)
        log.info("imap folder=%s uidvalidity=%d exists=%d after_uid=%d new=%d to_fetch=%d",
                 folder, uidvalidity, exists, after, len(uids), len(todo))
        for batch in batches(todo, self._mailbox.batch_size):
            replies = client.fetch(batch, FETCH_ITEMS)
            for uid in batch:
                if uid not in replies:
                    log.warning("imap folder=%s uid=%d gone before FETCH (expunged elsewhere)", folder, uid)
                    continue
                fetched = to_fetched(folder, uidvalidity, uid, replies.pop(uid))
                if fetched is not None:
                    log.debug("imap folder=%s uid=%d fetched %d bytes", folder, uid, len(fetched.raw))
                    yield fetched

    def _retry_or_raise(self, err: BaseException, folder: str, attempt: int) -> None:
        self._drop()
        error = source_error(err, secret(self._mailbox))
        if isinstance(error, MailboxLoginError) or attempt >= self._attempts:
            log.error("imap folder=%s giving up after attempt %d: %s", folder, attempt, error)
            raise error from err
        delay = backoff_delay(attempt, self._base_delay)
        log.warning("imap folder=%s attempt %d/%d failed (%s); retrying in %.1fs",
                    folder, attempt, self._attempts, error, delay)
        self._sleep(delay)

    def _connected(self) -> Any:
        """The open session, checked with NOOP (servers drop idle ones), else a fresh login."""
        if self._client is not None:
            try:
                self._client.noop()
                return self._client
            except TRANSIENT:
                log.info("imap connection went stale; reconnecting")
                self._drop()
        self._client, self.server_id = login(self._mailbox, self._factory)
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.shutdown()
            except TRANSIENT:
                pass
            self._client = None


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
                "folders": folder_summaries(client, mailbox.folders)}
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
