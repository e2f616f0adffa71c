"""Mail arrives over IMAP: ImapSource yields Fetched (raw bytes + INTERNALDATE) above each folder's watermark.

Read-only by construction (EXAMINE, BODY.PEEK[]); never writes flags or state. The session itself
(login, ID, errors) is service/ingest/imap_session.py.
"""
from __future__ import annotations

import logging
import time
from datetime import timezone
from typing import Any, Callable, Iterable, Iterator, Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception

from ..config import MailboxSection
from ..model import Fetched
from .imap_session import (
    TRANSIENT,
    ClientFactory,
    MailboxLoginError,
    close_quietly,
    examine,
    idle_until_exists,
    login,
    open_client,
    secret,
    source_error,
)

log = logging.getLogger(__name__)

FETCH_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE"]  # PEEK: fetching never sets \Seen
FEW_UIDS = 20  # above this, known deliveries are listed in one query instead of one per UID


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


class FailuresSinceProgress:
    """Failed attempts in a row, counted from the last message yielded, for tenacity's stop and wait:
    a long backlog over a flaky link goes on as long as each reconnect gets somewhere."""

    def __init__(self) -> None:
        self._forgiven = 0  # attempts before the one that last yielded a message

    def progressed(self, retry_state: RetryCallState) -> None:
        self._forgiven = retry_state.attempt_number - 1

    def failures(self, retry_state: RetryCallState) -> int:
        return retry_state.attempt_number - self._forgiven


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
        """tenacity's attempt loop around the folder's stream: `@retry` cannot wrap a generator (it
        would retry creating it, which never fails), but `with attempt:` can hold a `yield`."""
        progress = state.get_watermark(folder)
        count = FailuresSinceProgress()
        try:
            for attempt in self._retrying(folder, count):
                with attempt:
                    for item in self._poll_folder(folder, progress, state):
                        progress = (item.uidvalidity, item.uid)  # a retry resumes after what was consumed
                        count.progressed(attempt.retry_state)
                        yield item
        except TRANSIENT as err:
            error = source_error(err, secret(self._mailbox))
            log.error("imap folder=%s giving up: %s", folder, error)
            raise error from err

    def _retrying(self, folder: str, count: "FailuresSinceProgress") -> Retrying:
        """Reconnects after a fault, `attempts` tries in a row at most (a message yielded starts the
        count again), waiting base, 2*base ... 30 s; never after a refused login (it would lock the account)."""
        def retryable(err: BaseException) -> bool:
            return (isinstance(err, TRANSIENT)
                    and not isinstance(source_error(err, secret(self._mailbox)), MailboxLoginError))

        def before_sleep(retry_state: RetryCallState) -> None:
            self._drop()
            error = retry_state.outcome.exception() if retry_state.outcome else None
            log.warning("imap folder=%s attempt %d/%d failed (%s); retrying in %.1fs", folder,
                        count.failures(retry_state), self._attempts,
                        source_error(error, secret(self._mailbox)) if error else "", retry_state.upcoming_sleep)

        return Retrying(retry=retry_if_exception(retryable),
                        stop=lambda retry_state: count.failures(retry_state) >= self._attempts,
                        wait=lambda retry_state: backoff_delay(count.failures(retry_state), self._base_delay),
                        sleep=self._sleep, before_sleep=before_sleep, reraise=True)

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
