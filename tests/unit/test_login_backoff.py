"""login_backoff: refusals -> when the next login is allowed; the credentials' fingerprint."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from service.config import MailboxSection
from service.ingest.login_backoff import after_refusal, backoff_message, blocking, credentials_fingerprint, wait_after

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 1, 20, 10, 0, tzinfo=TZ)


def mailbox(**overrides) -> MailboxSection:
    values = {"kind": "imap", "host": "imap.163.com", "user": "hndzsw@163.com", "password": SecretStr("ABCDEFGH"),
              **overrides}
    return MailboxSection(**values)


def test_waits_double_from_a_minute_and_stop_at_an_hour():
    assert [wait_after(n) / timedelta(minutes=1) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert wait_after(10_000) == timedelta(hours=1)


def test_refusals_of_the_same_credentials_add_up_and_other_credentials_start_again():
    first = after_refusal(None, "a", NOW)
    second = after_refusal(first, "a", NOW + timedelta(minutes=1))
    assert (first.failures, first.next_at) == (1, NOW + timedelta(minutes=1))
    assert (second.failures, second.next_at) == (2, NOW + timedelta(minutes=3))
    assert after_refusal(second, "b", NOW).failures == 1


def test_a_backoff_blocks_only_the_same_credentials_and_only_until_its_time():
    backoff = after_refusal(None, "a", NOW)
    assert blocking(backoff, "a", NOW + timedelta(seconds=59)) == backoff
    assert blocking(backoff, "a", NOW + timedelta(minutes=1)) is None
    assert blocking(backoff, "b", NOW) is None
    assert blocking(None, "a", NOW) is None


def test_the_fingerprint_changes_with_host_user_or_password_and_never_holds_the_secret():
    base = credentials_fingerprint(mailbox())
    assert "ABCDEFGH" not in base
    for change in ({"host": "imap.126.com"}, {"user": "other@163.com"}, {"password": SecretStr("IJKLMNOP")},
                   {"port": 143}):
        assert credentials_fingerprint(mailbox(**change)) != base
    assert credentials_fingerprint(mailbox(folders=("INBOX", "其他"))) == base


def test_the_message_gives_the_local_time_of_the_next_attempt():
    text = backoff_message(after_refusal(None, "a", datetime(2022, 1, 20, 2, 0, tzinfo=ZoneInfo("UTC"))), TZ)
    assert text.startswith("邮箱登录被拒绝，下次重试 10:01")
