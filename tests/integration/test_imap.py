"""ImapSource and describe_mailbox against a real Dovecot (tests/dovecot.py), plus a NetEase-like stub."""
from __future__ import annotations

import logging
import re
import secrets
import socket
import socketserver
import statistics
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

import pytest

from service.ingest.imap import ImapSource
from service.ingest.imap_session import (
    MailboxLoginError,
    MailboxUnavailable,
    describe_mailbox,
)
from service.model import Fetched
from tests.auth_builders import received_by
from tests.dovecot import Account, Dovecot, MemoryState, free_port, sample_message


def ingest(items: Iterable[Fetched], state: MemoryState) -> list[Fetched]:
    """Consume like the pipeline: commit each message, then move the watermark."""
    done = []
    for item in items:
        state.commit(item)
        done.append(item)
    return done


def session_lines(dovecot: Dovecot, account: Account, since: int) -> list[str]:
    """Log lines the imap process of `account` wrote since offset `since`, once its session ended."""
    text = dovecot.wait_for_log(f"imap({account.user})", since)
    text = dovecot.wait_for_log("Disconnected", since + text.index(f"imap({account.user})"))
    return [line for line in dovecot.log_text()[since:].splitlines() if f"imap({account.user})" in line]


def finished_commands(lines: list[str]) -> list[str]:
    return [line.split("Command finished: ", 1)[1] for line in lines if "Command finished: " in line]


# --- fetching -------------------------------------------------------------------------------------


def test_new_mail_arrives_in_uid_order_with_internaldate(dovecot: Dovecot, imap_account: Account) -> None:
    base = datetime(2022, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    raws = [sample_message(n) for n in range(3)]
    for n, raw in enumerate(raws):
        dovecot.append(imap_account, raw, when=base + timedelta(minutes=n))
    uidvalidity = dovecot.uidvalidity(imap_account)

    source = ImapSource(dovecot.mailbox(imap_account))
    got = ingest(source.fetch_new(MemoryState()), MemoryState())
    source.close()

    assert [f.uid for f in got] == [1, 2, 3]
    assert [f.raw for f in got] == raws
    assert [f.received_at for f in got] == [base + timedelta(minutes=n) for n in range(3)]
    assert all(f.received_at.tzinfo is not None for f in got)
    assert [f.source_id for f in got] == [f"imap:INBOX:{uidvalidity}:{uid}" for uid in (1, 2, 3)]
    assert {(f.folder, f.uidvalidity) for f in got} == {("INBOX", uidvalidity)}


def test_fetching_leaves_every_message_unseen_and_in_place(dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(5):
        dovecot.append(imap_account, sample_message(n))
    since = dovecot.log_size()

    source = ImapSource(dovecot.mailbox(imap_account, batch_size=2))
    assert len(ingest(source.fetch_new(MemoryState()), MemoryState())) == 5
    source.close()
    commands = finished_commands(session_lines(dovecot, imap_account, since))

    flags = dovecot.flags(imap_account)
    assert sorted(flags) == [1, 2, 3, 4, 5]
    assert not [uid for uid, f in flags.items() if b"\\Seen" in f]
    verbs = {c.split(" (")[0].split(" ")[0] for c in commands}
    assert verbs <= {"ID", "EXAMINE", "NOOP", "UID", "LOGOUT", "CAPABILITY"}, commands
    fetches = [c for c in commands if c.startswith("UID FETCH")]
    assert fetches == ["UID FETCH 1,2 (BODY.PEEK[] INTERNALDATE)", "UID FETCH 3,4 (BODY.PEEK[] INTERNALDATE)",
                       "UID FETCH 5 (BODY.PEEK[] INTERNALDATE)"]


def test_a_second_poll_after_the_watermark_returns_only_newer_mail(dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(3):
        dovecot.append(imap_account, sample_message(n))
    state = MemoryState()
    source = ImapSource(dovecot.mailbox(imap_account))

    assert len(ingest(source.fetch_new(state), state)) == 3
    assert list(source.fetch_new(state)) == []  # UID 4:* still answers UID 3: filtered out
    dovecot.append(imap_account, sample_message(9))
    assert [f.uid for f in ingest(source.fetch_new(state), state)] == [4]
    source.close()


def test_a_crash_before_the_watermark_is_saved_fetches_the_message_again(
        dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(2):
        dovecot.append(imap_account, sample_message(n))
    state = MemoryState()
    source = ImapSource(dovecot.mailbox(imap_account))

    first = next(source.fetch_new(state))  # yielded, then the process "dies" before commit
    again = ingest(source.fetch_new(state), state)
    assert [f.uid for f in again] == [1, 2] and again[0].raw == first.raw

    state.watermarks.clear()  # delivered but watermark lost: has_delivery saves the bodies
    assert list(source.fetch_new(state)) == []
    source.close()


def test_a_new_uidvalidity_makes_the_whole_folder_new(dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(3):
        dovecot.append(imap_account, sample_message(n))
    state = MemoryState()
    source = ImapSource(dovecot.mailbox(imap_account), sleep=lambda s: None)
    old = ingest(source.fetch_new(state), state)

    dovecot.set_uidvalidity(imap_account, old[0].uidvalidity + 1000)
    again = ingest(source.fetch_new(state), state)
    source.close()

    assert [f.uid for f in again] == [1, 2, 3]
    assert {f.uidvalidity for f in again} == {old[0].uidvalidity + 1000}
    assert [f.raw for f in again] == [f.raw for f in old]


def test_a_recreated_folder_is_read_from_the_start(dovecot: Dovecot, imap_account: Account) -> None:
    dovecot.append(imap_account, sample_message(1), folder="Reports")
    state = MemoryState()
    mailbox = dovecot.mailbox(imap_account, folders=("INBOX", "Reports"))
    before = ingest(ImapSource(mailbox).fetch_new(state), state)

    dovecot.recreate_folder(imap_account, "Reports")
    dovecot.append(imap_account, sample_message(2), folder="Reports")
    after = ingest(ImapSource(mailbox).fetch_new(state), state)

    assert [(f.folder, f.uid) for f in before] == [("Reports", 1)]
    assert [(f.folder, f.uid) for f in after] == [("Reports", 1)]
    assert after[0].uidvalidity != before[0].uidvalidity and after[0].raw != before[0].raw


# --- faults ---------------------------------------------------------------------------------------


def test_a_server_gone_between_batches_raises_unavailable_and_the_next_poll_resumes(
        dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(5):
        dovecot.append(imap_account, sample_message(n))
    state, sleeps = MemoryState(), []
    source = ImapSource(dovecot.mailbox(imap_account, batch_size=2), sleep=sleeps.append, attempts=2)

    seen = []
    with pytest.raises(MailboxUnavailable):
        for item in source.fetch_new(state):
            state.commit(item)
            seen.append(item.uid)
            if item.uid == 2:
                dovecot.stop()  # the next FETCH meets a dead connection, reconnects meet a closed port
    assert seen == [1, 2] and sleeps == [1.0]
    assert state.watermarks["INBOX"][1] == 2

    dovecot.start()
    assert [f.uid for f in ingest(source.fetch_new(state), state)] == [3, 4, 5]
    source.close()


def test_a_server_back_within_the_backoff_is_resumed_in_the_same_poll(
        dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(5):
        dovecot.append(imap_account, sample_message(n))
    state, sleeps = MemoryState(), []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        dovecot.start()

    source = ImapSource(dovecot.mailbox(imap_account, batch_size=2), sleep=sleep)
    seen = []
    for item in source.fetch_new(state):
        seen.append(item.uid)
        if item.uid == 2:
            dovecot.stop()
    source.close()
    assert seen == [1, 2, 3, 4, 5] and sleeps == [1.0]


def test_a_wrong_password_is_a_login_error_with_no_retry_and_no_password_anywhere(
        dovecot: Dovecot, imap_account: Account, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # imaplib's wire log included
    wrong = "wrong-" + secrets.token_hex(8)
    since, sleeps = dovecot.log_size(), []
    source = ImapSource(dovecot.mailbox(imap_account, password=wrong), sleep=sleeps.append)

    with pytest.raises(MailboxLoginError) as info:
        list(source.fetch_new(MemoryState()))

    assert sleeps == []
    assert "授权码" in str(info.value) and "authorisation code" in str(info.value)
    for text in (str(info.value), str(info.value.__cause__), caplog.text, dovecot.log_text()[since:]):
        assert wrong not in text
    assert "Login" in caplog.text or "LOGIN" in caplog.text  # the wire log was captured, redacted


def test_the_password_never_reaches_the_log_even_at_debug_level(
        dovecot: Dovecot, imap_account: Account, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dovecot.append(imap_account, sample_message(1))
    source = ImapSource(dovecot.mailbox(imap_account))
    assert len(list(source.fetch_new(MemoryState()))) == 1
    source.close()
    assert "EXAMINE" in caplog.text and imap_account.password not in caplog.text


def test_a_refused_connection_is_retried_with_backoff_then_unavailable() -> None:
    from service.config import MailboxSection
    mailbox = MailboxSection(kind="imap", host="127.0.0.1", port=free_port(), security="none",
                             user="office@example.cn", password="s3cret-code", timeout=2)
    sleeps: list[float] = []
    with pytest.raises(MailboxUnavailable) as info:
        list(ImapSource(mailbox, sleep=sleeps.append).fetch_new(MemoryState()))
    assert sleeps == [1.0, 2.0]
    assert "s3cret-code" not in str(info.value)


def test_a_server_that_never_answers_times_out_into_unavailable() -> None:
    from service.config import MailboxSection
    with socket.socket() as silent:  # accepts connections (backlog) but never sends a greeting
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        mailbox = MailboxSection(kind="imap", host="127.0.0.1", port=silent.getsockname()[1],
                                 security="none", user="u", password="p", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable):
            list(ImapSource(mailbox, sleep=lambda s: None, attempts=2).fetch_new(MemoryState()))
        assert time.monotonic() - started < 5


# --- ID, IDLE, describe ---------------------------------------------------------------------------


def test_the_id_command_goes_out_after_login_and_before_examine(dovecot: Dovecot, imap_account: Account) -> None:
    dovecot.append(imap_account, sample_message(1))
    since = dovecot.log_size()
    source = ImapSource(dovecot.mailbox(imap_account))
    list(source.fetch_new(MemoryState()))
    source.close()

    lines = session_lines(dovecot, imap_account, since)
    id_line = next(i for i, line in enumerate(lines) if "ID sent:" in line)
    examine_line = next(i for i, line in enumerate(lines) if "Command finished: EXAMINE" in line)
    assert id_line < examine_line
    assert "name=report-mail-service" in lines[id_line] and "version=" in lines[id_line]
    assert source.server_id.get("name") == "Dovecot"


def test_idle_reports_new_mail_as_it_arrives(dovecot: Dovecot, imap_account: Account) -> None:
    source = ImapSource(dovecot.mailbox(imap_account))
    started = time.monotonic()
    assert source.wait_for_new_mail(0.5) is False
    assert time.monotonic() - started >= 0.45

    timer = threading.Timer(0.3, dovecot.append, (imap_account, sample_message(1)))
    timer.start()
    try:
        assert source.wait_for_new_mail(10) is True
    finally:
        timer.join()
    assert [f.uid for f in source.fetch_new(MemoryState())] == [1]
    source.close()


def test_describe_mailbox_reports_capabilities_id_and_folders(dovecot: Dovecot, imap_account: Account) -> None:
    for n in range(2):
        dovecot.append(imap_account, sample_message(n))
    dovecot.append(imap_account, sample_message(3), folder="已上报")
    mailbox = dovecot.mailbox(imap_account, folders=("INBOX", "Missing"))

    report = describe_mailbox(mailbox)

    assert {"IMAP4REV1", "ID", "IDLE"} <= set(report["capabilities"])
    assert report["id"]["name"] == "Dovecot"
    folders = {f["name"]: f for f in report["folders"]}
    assert folders["INBOX"] == {"name": "INBOX", "uidvalidity": dovecot.uidvalidity(imap_account),
                                "messages": 2, "configured": True}
    assert folders["已上报"]["messages"] == 1 and folders["已上报"]["configured"] is False
    assert folders["Missing"] == {"name": "Missing", "uidvalidity": None, "messages": None, "configured": True}


def test_describe_mailbox_shows_the_authserv_ids_on_the_newest_mail(dovecot: Dovecot, imap_account: Account) -> None:
    """What staff copy into [mailbox] trusted_authserv_ids: the ids as they stand, topmost first."""
    assert describe_mailbox(dovecot.mailbox(imap_account))["newest_mail"] is None
    dovecot.append(imap_account, received_by(sample_message(1), "mx.old.example; spf=pass"))
    forged_below = received_by(sample_message(2), "mx.163.com; dmarc=pass", sender_host="evil.example")
    dovecot.append(imap_account, received_by(forged_below, "Mx.163.com; spf=fail smtp.mailfrom=a@b.example; dmarc=fail"))

    newest = describe_mailbox(dovecot.mailbox(imap_account, folders=("Missing", "INBOX")))["newest_mail"]
    assert newest == {"folder": "INBOX", "uid": 2, "authserv_ids": ["mx.163.com", "mx.163.com"], "trusted": ""}
    trusting = dovecot.mailbox(imap_account, trusted_authserv_ids=("mx.163.com",))
    assert describe_mailbox(trusting)["newest_mail"]["trusted"] == "mx.163.com"


def test_describe_mailbox_with_a_wrong_password_is_a_login_error(dovecot: Dovecot, imap_account: Account) -> None:
    with pytest.raises(MailboxLoginError):
        describe_mailbox(dovecot.mailbox(imap_account, password="not-it"))


# --- cost of an idle poll -------------------------------------------------------------------------


def _idle_poll_cost(dovecot: Dovecot, account: Account, polls: int = 30) -> tuple[float, float, int]:
    """(median warm poll s, median cold poll s, bytes the server sent in one cold session)."""
    uidvalidity = dovecot.uidvalidity(account)
    state = MemoryState()
    state.watermarks["INBOX"] = (uidvalidity, dovecot.last_uid(account))
    source = ImapSource(dovecot.mailbox(account))
    assert list(source.fetch_new(state)) == []  # warm-up: connection and index
    warm = []
    for _ in range(polls):
        started = time.perf_counter()
        assert list(source.fetch_new(state)) == []
        warm.append(time.perf_counter() - started)
    source.close()
    cold = []
    for _ in range(polls // 3):
        since = dovecot.log_size()
        started = time.perf_counter()
        source = ImapSource(dovecot.mailbox(account))
        assert list(source.fetch_new(state)) == []
        source.close()
        cold.append(time.perf_counter() - started)
    time.sleep(0.2)  # let the log line of the last session land
    out = re.search(r"Logged out in=\d+ out=(\d+)", "\n".join(session_lines(dovecot, account, since)))
    return statistics.median(warm), statistics.median(cold), int(out.group(1)) if out else -1


def test_an_idle_poll_costs_the_same_for_10_and_10000_messages(dovecot: Dovecot) -> None:
    small, big = dovecot.add_user("small"), dovecot.add_user("big")
    dovecot.append_many(small, (sample_message(n) for n in range(10)))
    started = time.perf_counter()
    dovecot.append_many(big, (sample_message(n) for n in range(10_000)))
    filled = time.perf_counter() - started

    small_cost, big_cost = _idle_poll_cost(dovecot, small), _idle_poll_cost(dovecot, big)
    print(f"\nidle poll (warm session)  10 msgs: {small_cost[0] * 1000:.2f} ms   "
          f"10,000 msgs: {big_cost[0] * 1000:.2f} ms")
    print(f"idle poll (new session)   10 msgs: {small_cost[1] * 1000:.2f} ms   "
          f"10,000 msgs: {big_cost[1] * 1000:.2f} ms")
    print(f"server bytes per session  10 msgs: {small_cost[2]}   10,000 msgs: {big_cost[2]}   "
          f"(APPEND of 10,000 took {filled:.1f} s)")
    # What the client asks for is constant: the same commands, replies of the same size. The time
    # bound is loose because Dovecot's Maildir re-reads its 10,000-entry directory on each EXAMINE.
    assert abs(big_cost[2] - small_cost[2]) < 50  # only the digits of EXISTS/UIDNEXT/UIDVALIDITY differ
    assert big_cost[0] < 5 * small_cost[0] + 0.05
    assert big_cost[1] < 5 * small_cost[1] + 0.05


# --- a NetEase-like stub: SELECT refused as `Unsafe Login` unless ID came first ------------------------


class NetEaseLike(socketserver.StreamRequestHandler):
    """Just enough IMAP to show 163's behaviour; the commands each session sent are kept."""

    advertise_id = True
    sessions: list[list[str]] = []

    def handle(self) -> None:
        commands: list[str] = []
        self.sessions.append(commands)
        self.reply("* OK Coremail System IMap Server Ready(163com[test])")
        for line in self.rfile:
            tag, verb, *_ = line.decode().split()
            commands.append(verb.upper())
            if not self.answer(tag, verb.upper(), commands):
                return

    def reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())

    def answer(self, tag: str, verb: str, commands: list[str]) -> bool:
        caps = "IMAP4rev1 XLIST SPECIAL-USE" + (" ID" if self.advertise_id else "") + " LITERAL+ UIDPLUS"
        if verb == "CAPABILITY":
            self.reply(f"* CAPABILITY {caps}", f"{tag} OK CAPABILITY completed")
        elif verb == "ID":
            self.reply('* ID ("name" "Coremail Imap" "vendor" "Mailtech")', f"{tag} OK ID completed")
        elif verb in ("SELECT", "EXAMINE") and "ID" not in commands:
            self.reply(f"{tag} NO SELECT Unsafe Login. Please contact kefu@188.com for help")
        elif verb in ("SELECT", "EXAMINE"):
            self.reply("* 0 EXISTS", "* 0 RECENT", "* OK [UIDVALIDITY 1] UIDs valid",
                       f"{tag} OK [READ-ONLY] {verb} completed")
        elif verb == "LOGOUT":
            self.reply("* BYE bye", f"{tag} OK LOGOUT completed")
            return False
        elif verb == "UID":
            self.reply("* SEARCH", f"{tag} OK SEARCH completed")
        else:  # LOGIN, NOOP
            self.reply(f"{tag} OK {verb} completed")
        return True


@pytest.fixture
def netease() -> Iterator[tuple[int, type[NetEaseLike]]]:
    handler = type("Handler", (NetEaseLike,), {"sessions": []})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def _netease_mailbox(port: int):
    from service.config import MailboxSection
    return MailboxSection(kind="imap", host="127.0.0.1", port=port, security="none",
                          user="hndzsw@163.com", password="auth-code-123", timeout=5)


def test_a_server_that_advertises_id_gets_it_before_select(netease) -> None:
    port, handler = netease
    source = ImapSource(_netease_mailbox(port))
    assert list(source.fetch_new(MemoryState())) == []
    source.close()
    commands = handler.sessions[0]
    assert commands.index("LOGIN") < commands.index("ID") < commands.index("EXAMINE")


def test_unsafe_login_is_a_login_error_not_retried(netease) -> None:
    port, handler = netease
    handler.advertise_id = False  # the server will not learn who we are, so it refuses SELECT
    sleeps: list[float] = []
    with pytest.raises(MailboxLoginError) as info:
        list(ImapSource(_netease_mailbox(port), sleep=sleeps.append).fetch_new(MemoryState()))
    assert "Unsafe Login" in str(info.value) and "授权码" in str(info.value)
    assert sleeps == [] and len(handler.sessions) == 1
