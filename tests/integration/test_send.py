"""send: real aiosmtpd servers on loopback (STARTTLS, implicit TLS as 163 on 465) and the outbox."""
from __future__ import annotations

import logging
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.clock import fixed_clock
from service.config import SmtpSection
from service.errors import SendError
from service.model import Outgoing
from service.outgoing.transports import OutboxSender, SmtpSender, build_email
from tests.smtp_server import HOST, SmtpServer, free_port

TZ = ZoneInfo("Asia/Shanghai")
CLOCK = fixed_clock("2022-01-04T09:00:05", TZ)
USER = "hndzsw@163.com"
PASSWORD = "s3cretZx9AuthCode"

REMINDER = Outgoing(
    key="reminder:长沙市:progress:upcoming:2022-01-04T09:00+08:00", kind="upcoming",
    to=("changsha@example.gov.cn",), subject="【提醒】请于2022年1月5日前报送活动组织情况",
    text="长沙市商务局：\n\n请于2022年1月5日前报送。\n", html="<p>长沙市商务局：</p><p>请于2022年1月5日前报送。</p>",
    city="长沙市", deadline="progress")
RECEIPT = Outgoing(
    key="receipt:<abc.123@qq.com>", kind="receipt", to=("changsha@example.gov.cn",),
    subject="回复：长沙市活动全面总结", text="已收到。\n", html="<p>已收到。</p>", city="长沙市",
    deadline="summary", in_reply_to="<abc.123@qq.com>",
    attachments=(("重点活动统计表汇总.xlsx", b"PK\x03\x04 not really a workbook"),))


def smtp_section(server: SmtpServer, **overrides: object) -> SmtpSection:
    values: dict[str, object] = dict(kind="smtp", host=HOST, port=server.port, security="none",
                                     timeout=5.0, retries=3, backoff_seconds=5.0)
    values.update(overrides)
    return SmtpSection(**values)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


# --- build_email ---------------------------------------------------------------------------------

def test_chinese_headers_are_rfc2047_encoded_and_decode_back():
    raw = build_email(REMINDER, USER, "湖南省商务厅电子商务处", CLOCK(), "163.com")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head.lower()
    msg = parsed(raw)
    assert msg["Subject"] == REMINDER.subject
    assert msg["From"].addresses[0].display_name == "湖南省商务厅电子商务处"
    assert msg["From"].addresses[0].addr_spec == USER
    assert msg["Date"] == "Tue, 04 Jan 2022 09:00:05 +0800"
    assert msg["Message-ID"].endswith("@163.com>")
    assert msg["Auto-Submitted"] == "auto-generated"


def test_the_body_is_a_text_and_html_alternative():
    msg = parsed(build_email(REMINDER, USER, "电子商务处", CLOCK(), "163.com"))
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == REMINDER.text
    assert "长沙市商务局" in msg.get_body(("html",)).get_content()


def test_a_receipt_threads_under_the_city_message_and_carries_its_attachment():
    msg = parsed(build_email(RECEIPT, USER, "电子商务处", CLOCK(), "163.com"))
    assert msg["In-Reply-To"] == "<abc.123@qq.com>"
    assert msg["References"] == "<abc.123@qq.com>"
    assert msg.get_content_type() == "multipart/mixed"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "重点活动统计表汇总.xlsx"
    assert attachment.get_content() == b"PK\x03\x04 not really a workbook"


def test_the_message_id_is_the_same_for_the_same_key_and_moment():
    first = parsed(build_email(REMINDER, USER, "x", CLOCK(), "163.com"))["Message-ID"]
    again = parsed(build_email(REMINDER, USER, "x", CLOCK(), "163.com"))["Message-ID"]
    other = parsed(build_email(RECEIPT, USER, "x", CLOCK(), "163.com"))["Message-ID"]
    assert first == again != other


# --- outbox --------------------------------------------------------------------------------------

def test_the_outbox_writes_one_eml_per_email_and_returns_its_message_id(tmp_path: Path):
    sender = OutboxSender(tmp_path / "outbox", SmtpSection(), CLOCK)
    message_id = sender.send(REMINDER)
    (path,) = (tmp_path / "outbox").iterdir()
    assert path.name.startswith("20220104T090005_reminder_长沙市_progress_upcoming_2022-01-04T09_00_08_00")
    assert path.suffix == ".eml"
    msg = parsed(path.read_bytes())
    assert msg["Message-ID"] == message_id
    assert msg["To"] == "changsha@example.gov.cn"


def test_the_outbox_never_overwrites_and_leaves_no_temporary_files(tmp_path: Path):
    sender = OutboxSender(tmp_path, SmtpSection(), CLOCK)
    sender.send(REMINDER)
    sender.send(REMINDER)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2
    assert not [n for n in names if n.startswith(".tmp")]


# --- SMTP ----------------------------------------------------------------------------------------

def test_starttls_with_login_delivers_the_email(tmp_path: Path):
    with SmtpServer.start(security="starttls", cert_dir=tmp_path, user=USER, password=PASSWORD) as server:
        section = smtp_section(server, security="starttls", user=USER, password=PASSWORD, ca_file=server.cert)
        message_id = SmtpSender(section, CLOCK, sleep=pytest.fail).send(REMINDER)
    (received,) = server.messages
    assert server.handler.logins == [USER]
    assert received.mail_from == USER
    assert received.rcpt_tos == ["changsha@example.gov.cn"]
    assert received.message["Message-ID"] == message_id
    assert received.message["Subject"] == REMINDER.subject


# aiosmtpd warns that AUTH without STARTTLS is unsafe; here TLS is implicit, so it is not.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_login_delivers_the_email_as_163_on_port_465(tmp_path: Path):
    with SmtpServer.start(security="ssl", cert_dir=tmp_path, user=USER, password=PASSWORD) as server:
        section = smtp_section(server, security="ssl", user=USER, password=PASSWORD, ca_file=server.cert)
        SmtpSender(section, CLOCK, sleep=pytest.fail).send(RECEIPT)
    (received,) = server.messages
    assert server.handler.logins == [USER]
    assert received.message["In-Reply-To"] == "<abc.123@qq.com>"


def test_a_wrong_password_fails_at_once_without_showing_the_password(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    with SmtpServer.start(security="starttls", cert_dir=tmp_path, user=USER, password=PASSWORD) as server:
        wrong = "wrongQq7AuthCode"
        section = smtp_section(server, security="starttls", user=USER, password=wrong, ca_file=server.cert)
        with pytest.raises(SendError) as caught:
            SmtpSender(section, CLOCK, sleep=sleeps.append).send(REMINDER)
    assert "login refused" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    assert sleeps == []  # repeated wrong logins lock a 163 account
    assert server.messages == []


def test_an_untrusted_certificate_is_refused_without_retrying(tmp_path: Path):
    sleeps: list[float] = []
    with SmtpServer.start(security="ssl", cert_dir=tmp_path) as server:
        section = smtp_section(server, security="ssl")  # no ca_file: the self-signed cert is unknown
        with pytest.raises(SendError, match="certificate"):
            SmtpSender(section, CLOCK, sleep=sleeps.append).send(REMINDER)
    assert sleeps == []


def test_a_server_refusing_at_first_gets_the_email_after_backoff(tmp_path: Path):
    sleeps: list[float] = []
    with SmtpServer.start(refuse_first=2) as server:
        SmtpSender(smtp_section(server), CLOCK, sleep=sleeps.append).send(REMINDER)
    assert len(server.messages) == 1
    assert server.handler.attempts == 3
    assert sleeps == [5.0, 10.0]


@pytest.mark.parametrize("retries, expected_sleeps", [(0, []), (2, [5.0, 10.0])])
def test_a_server_that_keeps_refusing_ends_in_send_error(tmp_path: Path, retries: int,
                                                        expected_sleeps: list[float]):
    sleeps: list[float] = []
    with SmtpServer.start(refuse_first=99) as server:
        with pytest.raises(SendError, match="451"):
            SmtpSender(smtp_section(server, retries=retries), CLOCK, sleep=sleeps.append).send(REMINDER)
    assert sleeps == expected_sleeps
    assert server.messages == []


def test_no_server_listening_is_retried_then_reported():
    sleeps: list[float] = []
    section = SmtpSection(kind="smtp", host=HOST, port=free_port(), security="none", timeout=2.0,
                          retries=1, backoff_seconds=0.5)
    with pytest.raises(SendError, match="connection failed"):
        SmtpSender(section, CLOCK, sleep=sleeps.append).send(REMINDER)
    assert sleeps == [0.5]


def test_a_non_ascii_password_is_reported_not_crashed_on(tmp_path: Path):
    with SmtpServer.start(security="starttls", cert_dir=tmp_path, user=USER, password=PASSWORD) as server:
        section = smtp_section(server, security="starttls", user=USER, password="授权码", ca_file=server.cert)
        with pytest.raises(SendError, match="must be ASCII"):
            SmtpSender(section, CLOCK, sleep=pytest.fail).send(REMINDER)
