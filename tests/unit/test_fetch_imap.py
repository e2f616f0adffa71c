"""ImapSource logic without a network: pure decisions, and a recording fake client behind client_factory."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from service.config import MailboxSection
from service.errors import SourceError
from service.ingest.imap import FETCH_ITEMS, ImapSource, backoff_delay, batches, new_uids, search_criteria, start_after
from service.ingest.imap_session import (
    MailboxLoginError,
    MailboxUnavailable,
    client_id,
    describe_mailbox,
    id_reply,
    source_error,
)
from tests.dovecot import MemoryState

PASSWORD = "auth-code-XYZ"
UNSAFE = "select failed: SELECT Unsafe Login. Please contact kefu@188.com for help"  # imapclient's text
CST = timezone(timedelta(hours=8))


def mailbox(**overrides) -> MailboxSection:
    values = dict(kind="imap", host="imap.163.com", port=993, user="hndzsw@163.com",
                  password=PASSWORD, batch_size=2)
    return MailboxSection(**(values | overrides))


@dataclass
class FakeServer:
    """Mailbox state plus the faults to play; every client call is recorded in `calls`."""

    messages: dict[int, bytes] = field(default_factory=lambda: {u: b"msg %d" % u for u in range(1, 6)})
    uidvalidity: int = 7
    capabilities: tuple[bytes, ...] = (b"IMAP4REV1", b"ID", b"IDLE")
    require_id: bool = True  # NetEase: SELECT refused as `Unsafe Login` unless ID came first
    refuse_connects: int = 0
    drop_on_fetch: int = 0  # the n-th FETCH (1-based) loses the connection, once
    drops: frozenset[int] = frozenset()  # more FETCH numbers (1-based) that lose the connection
    idle_responses: list = field(default_factory=list)
    noop_fails: bool = False  # the server has dropped idle sessions
    calls: list[tuple] = field(default_factory=list)
    connections: int = 0

    def factory(self, config: MailboxSection) -> "FakeClient":
        self.connections += 1
        if self.refuse_connects:
            self.refuse_connects -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        return FakeClient(self)


class FakeClient:
    def __init__(self, server: FakeServer) -> None:
        self.server, self.identified, self.normalise_times = server, False, True

    def _record(self, *call) -> None:
        self.server.calls.append(call)

    def starttls(self, context) -> None:
        self._record("STARTTLS")

    def login(self, user: str, password: str) -> None:
        self._record("LOGIN", user)
        if password != PASSWORD:
            raise LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'")

    def capabilities(self) -> tuple[bytes, ...]:
        return self.server.capabilities

    def has_capability(self, name: str) -> bool:
        return name.encode() in self.server.capabilities

    def id_(self, fields: dict) -> tuple:
        self._record("ID", fields)
        self.identified = True
        return ((b"name", b"Coremail Imap", b"vendor", b"Mailtech"),)

    def select_folder(self, folder: str, readonly: bool = False) -> dict:
        self._record("SELECT", folder, readonly)
        if self.server.require_id and not self.identified:
            raise IMAPClientError(UNSAFE)
        return {b"UIDVALIDITY": self.server.uidvalidity, b"EXISTS": len(self.server.messages)}

    def search(self, criteria: list[str]) -> list[int]:
        self._record("SEARCH", criteria)
        uids = sorted(self.server.messages)
        if criteria == ["ALL"]:
            return uids
        low = int(criteria[1].split(":")[0])
        return [u for u in uids if u >= low] or uids[-1:]  # `n:*` always matches the newest

    def fetch(self, uids: list[int], items: list[bytes]) -> dict:
        self._record("FETCH", list(uids), list(items))
        if self.server.drop_on_fetch and sum(c[0] == "FETCH" for c in self.server.calls) == self.server.drop_on_fetch:
            self.server.drop_on_fetch = 0
            raise IMAPClientAbortError("socket error: EOF")
        if sum(c[0] == "FETCH" for c in self.server.calls) in self.server.drops:
            raise IMAPClientAbortError("socket error: EOF")
        when = datetime(2022, 1, 5, 9, 0, tzinfo=CST)
        return {u: {b"BODY[]": self.server.messages[u], b"INTERNALDATE": when + timedelta(minutes=u), b"SEQ": u}
                for u in uids if u in self.server.messages}

    def noop(self) -> None:
        self._record("NOOP")
        if self.server.noop_fails:
            raise IMAPClientAbortError("socket error: EOF")

    def idle(self) -> None:
        self._record("IDLE")

    def idle_check(self, timeout: float) -> list:
        return [self.server.idle_responses.pop(0)] if self.server.idle_responses else []

    def idle_done(self) -> None:
        self._record("DONE")

    def list_folders(self) -> list:
        return [((b"\\HasNoChildren",), b"/", "INBOX"), ((b"\\Noselect",), b"/", "Archive"),
                ((), b"/", "已发送")]

    def folder_status(self, folder: str, what: list[str]) -> dict:
        return {b"UIDVALIDITY": self.server.uidvalidity, b"MESSAGES": len(self.server.messages)}

    def logout(self) -> None:
        self._record("LOGOUT")

    def shutdown(self) -> None:
        self._record("SHUTDOWN")


def verbs(server: FakeServer) -> list[str]:
    return [call[0] for call in server.calls]


def run(server: FakeServer, state: MemoryState | None = None, sleeps: list | None = None, **config):
    source = ImapSource(mailbox(**config), client_factory=server.factory,
                        sleep=(sleeps if sleeps is not None else []).append)
    return [f.uid for f in source.fetch_new(state or MemoryState())]


# --- pure decisions -------------------------------------------------------------------------------


@pytest.mark.parametrize("watermark, uidvalidity, expected", [
    (None, 7, 0), ((7, 41), 7, 41), ((6, 41), 7, 0), ((7, 0), 7, 0), ((7, -3), 7, 0)])
def test_start_after_is_zero_without_a_watermark_of_the_same_uidvalidity(watermark, uidvalidity, expected):
    assert start_after(watermark, uidvalidity) == expected


@pytest.mark.parametrize("after, expected", [(0, ["ALL"]), (-1, ["ALL"]), (1, ["UID", "2:*"]),
                                             (9999, ["UID", "10000:*"])])
def test_search_criteria_never_ask_for_uid_zero(after, expected):
    assert search_criteria(after) == expected


def test_new_uids_drop_the_newest_message_that_n_star_returns_below_n():
    assert new_uids([12], after=12) == []
    assert new_uids([15, 13, 13, 14, 12], after=12) == [13, 14, 15]


def test_batches_are_explicit_uid_lists_of_at_most_batch_size():
    assert list(batches([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(batches([], 50)) == []
    assert list(batches([1, 2], 0)) == [[1], [2]]


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n, base=1.0, cap=5.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def test_the_id_fields_are_plain_ascii_with_a_support_email():
    fields = client_id(mailbox())
    assert {"name", "version", "vendor", "support-email"} <= set(fields)
    assert all(k.isascii() and v.isascii() for k, v in fields.items())
    assert "support-email" not in client_id(mailbox(user="办公室"))


def test_the_id_reply_becomes_a_dict():
    assert id_reply(((b"name", b"Dovecot", b"version", b"2.3"),)) == {"name": "Dovecot", "version": "2.3"}
    assert id_reply((None,)) == {} and id_reply(()) == {}


@pytest.mark.parametrize("err, kind", [
    (LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"), MailboxLoginError),
    (LoginError("b'[UNAVAILABLE] Temporary authentication failure.'"), MailboxUnavailable),
    (IMAPClientError(UNSAFE), MailboxLoginError),
    (IMAPClientError("select failed: Mailbox doesn't exist"), MailboxUnavailable),
    (IMAPClientAbortError("socket error: EOF"), MailboxUnavailable),
    (ConnectionRefusedError(111, "Connection refused"), MailboxUnavailable),
    (TimeoutError("timed out"), MailboxUnavailable),
])
def test_errors_map_to_login_or_unavailable(err, kind):
    error = source_error(err, PASSWORD)
    assert type(error) is kind and isinstance(error, SourceError)


def test_a_password_echoed_in_server_text_is_redacted():
    error = source_error(LoginError(f"login failed for {PASSWORD}"), PASSWORD)
    assert PASSWORD not in str(error) and "***" in str(error)
    assert "授权码" in str(error) and "authorisation code" in str(error)


# --- the source with a fake client ----------------------------------------------------------------


def test_id_is_sent_after_login_and_before_the_first_select_when_advertised():
    server = FakeServer()
    assert run(server) == [1, 2, 3, 4, 5]
    assert verbs(server)[:3] == ["LOGIN", "ID", "SELECT"]


def test_no_id_is_sent_when_the_server_does_not_advertise_it():
    server = FakeServer(capabilities=(b"IMAP4REV1",), require_id=False)
    assert run(server) == [1, 2, 3, 4, 5]
    assert "ID" not in verbs(server)


def test_unsafe_login_is_a_login_error_and_is_not_retried():
    server, sleeps = FakeServer(capabilities=(b"IMAP4REV1",)), []  # ID required but not advertised
    with pytest.raises(MailboxLoginError, match="Unsafe Login"):
        run(server, sleeps=sleeps)
    assert server.connections == 1 and sleeps == []


def test_a_wrong_password_is_a_login_error_without_the_password():
    server, sleeps = FakeServer(), []
    with pytest.raises(MailboxLoginError) as info:
        run(server, sleeps=sleeps, password="wrong-secret-123")
    assert "wrong-secret-123" not in str(info.value) and sleeps == [] and server.connections == 1


def test_a_missing_password_fails_before_connecting():
    server = FakeServer()
    with pytest.raises(MailboxLoginError, match="SERVICE_IMAP_PASSWORD"):
        run(server, password=None)
    assert server.connections == 0


def test_folders_are_examined_read_only_and_fetched_with_peek_in_explicit_batches():
    server = FakeServer()
    run(server)
    assert {call[2] for call in server.calls if call[0] == "SELECT"} == {True}
    fetches = [call for call in server.calls if call[0] == "FETCH"]
    assert [f[1] for f in fetches] == [[1, 2], [3, 4], [5]]
    assert all(f[2] == FETCH_ITEMS for f in fetches) and b"BODY.PEEK[]" in FETCH_ITEMS
    assert [call[1] for call in server.calls if call[0] == "SEARCH"] == [["ALL"]]


def test_messages_stream_one_batch_at_a_time():
    server = FakeServer()
    source = ImapSource(mailbox(), client_factory=server.factory)
    items = source.fetch_new(MemoryState())
    first = next(items)
    assert first.uid == 1 and verbs(server).count("FETCH") == 1


def test_fetched_carries_the_source_id_and_internaldate_in_utc():
    server = FakeServer()
    item = next(ImapSource(mailbox(), client_factory=server.factory).fetch_new(MemoryState()))
    assert item.source_id == "imap:INBOX:7:1" and (item.folder, item.uidvalidity, item.uid) == ("INBOX", 7, 1)
    assert item.raw == b"msg 1"
    assert item.received_at == datetime(2022, 1, 5, 1, 1, tzinfo=timezone.utc)


def test_a_poll_above_the_watermark_searches_the_uid_range_and_fetches_nothing_old():
    server, state = FakeServer(), MemoryState()
    state.watermarks["INBOX"] = (7, 5)
    assert run(server, state) == []
    assert [call[1] for call in server.calls if call[0] == "SEARCH"] == [["UID", "6:*"]]
    assert "FETCH" not in verbs(server)


def test_a_changed_uidvalidity_reads_the_folder_from_the_start():
    server, state = FakeServer(uidvalidity=8), MemoryState()
    state.watermarks["INBOX"] = (7, 5)
    assert run(server, state) == [1, 2, 3, 4, 5]
    assert [call[1] for call in server.calls if call[0] == "SEARCH"] == [["ALL"]]


def test_messages_already_delivered_are_not_fetched_again():
    server, state = FakeServer(), MemoryState()
    state.deliveries |= {"imap:INBOX:7:2", "imap:INBOX:7:3"}
    assert run(server, state) == [1, 4, 5]
    assert [call[1] for call in server.calls if call[0] == "FETCH"] == [[1, 4], [5]]


def test_every_configured_folder_is_read_in_turn():
    server = FakeServer()
    source = ImapSource(mailbox(folders=("INBOX", "Reports")), client_factory=server.factory)
    assert [(f.folder, f.uid) for f in source.fetch_new(MemoryState())][4:6] == [("INBOX", 5), ("Reports", 1)]


def test_refused_connections_are_retried_with_backoff_then_unavailable():
    server, sleeps = FakeServer(refuse_connects=10), []
    with pytest.raises(MailboxUnavailable) as info:
        run(server, sleeps=sleeps)
    assert sleeps == [1.0, 2.0] and server.connections == 3
    assert PASSWORD not in str(info.value)


def test_a_refusal_that_clears_within_the_retries_is_invisible():
    server, sleeps = FakeServer(refuse_connects=1), []
    assert run(server, sleeps=sleeps) == [1, 2, 3, 4, 5] and sleeps == [1.0]


def test_a_connection_dropped_mid_fetch_resumes_after_the_last_message_yielded():
    server, sleeps = FakeServer(drop_on_fetch=2), []
    assert run(server, sleeps=sleeps) == [1, 2, 3, 4, 5]
    assert sleeps == [1.0] and server.connections == 2
    assert [call[1] for call in server.calls if call[0] == "SEARCH"] == [["ALL"], ["UID", "3:*"]]


def test_a_link_that_drops_again_after_each_reconnect_goes_on_while_each_reconnect_gets_somewhere():
    # three drops in one poll would exhaust 3 attempts; each comes after a message was read, so each
    # reconnect starts the count again
    server, sleeps = FakeServer(drops=frozenset({2, 4, 6})), []
    assert run(server, sleeps=sleeps, batch_size=1) == [1, 2, 3, 4, 5]
    assert sleeps == [1.0, 1.0, 1.0] and server.connections == 4


def test_drops_without_progress_give_up_after_the_attempts():
    server, sleeps = FakeServer(drops=frozenset({2, 3, 4})), []
    with pytest.raises(MailboxUnavailable):
        run(server, sleeps=sleeps, batch_size=1)
    assert sleeps == [1.0, 2.0] and server.connections == 3


def test_closing_the_stream_midway_is_not_a_fault_to_retry():
    server, sleeps = FakeServer(), []
    stream = ImapSource(mailbox(batch_size=1), client_factory=server.factory, sleep=sleeps.append).fetch_new(MemoryState())
    assert next(stream).uid == 1
    stream.close()
    assert sleeps == [] and server.connections == 1


def test_a_stale_connection_is_replaced_without_waiting():
    server, sleeps = FakeServer(), []
    source = ImapSource(mailbox(), client_factory=server.factory, sleep=sleeps.append)
    state = MemoryState()
    for item in source.fetch_new(state):
        state.commit(item)
    server.noop_fails = True
    assert list(source.fetch_new(state)) == []
    assert server.connections == 2 and sleeps == []


def test_starttls_comes_before_login():
    server = FakeServer()
    run(server, security="starttls", port=143)
    assert verbs(server)[:2] == ["STARTTLS", "LOGIN"]


def test_waiting_without_idle_returns_false_at_once():
    server = FakeServer(capabilities=(b"IMAP4REV1", b"ID"))
    assert ImapSource(mailbox(), client_factory=server.factory).wait_for_new_mail(600) is False
    assert "IDLE" not in verbs(server)


def test_waiting_with_idle_returns_true_on_exists_and_ends_idle():
    server = FakeServer(idle_responses=[(b"OK", b"Still here"), (6, b"EXISTS")])
    assert ImapSource(mailbox(), client_factory=server.factory).wait_for_new_mail(5) is True
    assert verbs(server)[-3:] == ["SELECT", "IDLE", "DONE"]


def test_waiting_with_idle_returns_false_when_nothing_arrives():
    server = FakeServer()
    assert ImapSource(mailbox(), client_factory=server.factory).wait_for_new_mail(0.05) is False
    assert verbs(server)[-1] == "DONE"


def test_describe_mailbox_lists_capabilities_id_and_selectable_folders():
    server = FakeServer()
    report = describe_mailbox(mailbox(folders=("INBOX", "Missing")), client_factory=server.factory)
    assert report["capabilities"] == ["IMAP4REV1", "ID", "IDLE"]
    assert report["id"] == {"name": "Coremail Imap", "vendor": "Mailtech"}
    assert report["folders"] == [
        {"name": "INBOX", "uidvalidity": 7, "messages": 5, "configured": True},
        {"name": "已发送", "uidvalidity": 7, "messages": 5, "configured": False},
        {"name": "Missing", "uidvalidity": None, "messages": None, "configured": True},
    ]
    assert verbs(server)[-1] == "LOGOUT"
    # The folders are listed by STATUS; only the newest mail's header is read, read-only (EXAMINE, PEEK).
    assert report["newest_mail"] == {"folder": "INBOX", "uid": 5, "authserv_ids": [], "trusted": ""}
    assert [c for c in server.calls if c[0] == "SELECT"] == [("SELECT", "INBOX", True)]
    assert [c for c in server.calls if c[0] == "FETCH"] == [("FETCH", [5], ["BODY.PEEK[HEADER]"])]
