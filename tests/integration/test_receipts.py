"""Receipts through the real pipeline, store and a real SMTP server (aiosmtpd): only registered
addresses get one, a forged sender's city is told instead, and an address gets at most N an hour."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from service import jobs
from service.app import App
from service.clock import fixed_clock
from service.model import Fetched
from tests.builders import make_email
from tests.conftest import make_config
from tests.smtp_server import HOST, SmtpServer
from tests.table_builders import HEADER, SAMPLE_ROWS, make_xlsx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 7, 17, 0, tzinfo=TZ)
PHISHING = "长沙市活动总结 补贴申领请登录 http://hunan-gov.example.com/login 或 evil.com/pay"


@pytest.fixture
def app(tmp_path, smtp: SmtpServer):
    config = make_config(tmp_path / "data", smtp={"kind": "smtp", "host": HOST, "port": smtp.port,
                                                  "security": "none", "timeout": 5.0, "retries": 0})
    instance = App.open(config, fixed_clock(NOW.isoformat(), TZ))
    yield instance
    instance.close()


def report(n: int, sender: str = "长沙市商务局 <changsha@example.gov.cn>", subject: str = "长沙市活动总结") -> Fetched:
    raw = make_email(subject=subject, sender=sender, attachments=[("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS]))],
                     received=datetime(2022, 2, 7, 16, n, tzinfo=TZ), message_id=f"<r{n}@mail.example>")
    return Fetched(f"file:{n}.eml", raw)


def body(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def test_a_forged_sender_gets_nothing_the_citys_registered_address_gets_the_notice_defanged(app, smtp):
    counts = jobs.ingest_all(app, [report(1, sender="长沙市商务局 <changsha.gov@163.com>", subject=PHISHING)])
    assert counts.receipts == 1 and len(smtp.messages) == 1
    notice = smtp.messages[0]
    assert notice.rcpt_tos == ["changsha@example.gov.cn"]
    assert notice.message["In-Reply-To"] is None
    assert notice.message["Subject"].startswith("【请核实】收到以贵局名义报送")
    text, html = body(notice), notice.message.get_body(("html",)).get_content()
    assert "发件地址 changsha[.]gov@163[.]com 不是贵局登记的报送邮箱" in text
    for part in (text, html, str(notice.message["Subject"])):
        assert "http://" not in part and "example.com" not in part and "evil.com" not in part
    assert "hxxp://hunan-gov[.]example[.]com/login" in text


def test_the_receipt_after_n_to_one_address_within_the_hour_is_recorded_and_not_sent(app, smtp):
    limit = app.config.receipts.max_per_address_per_hour
    counts = jobs.ingest_all(app, [report(n) for n in range(1, limit + 2)])
    assert counts.reports == limit + 1 and counts.receipts == limit
    assert len(smtp.messages) == limit and all(m.rcpt_tos == ["changsha@example.gov.cn"] for m in smtp.messages)
    skipped = [r for r in app.store.sent_records() if r.status == "skipped"]
    assert [(r.key, r.recipients) for r in skipped] == [(f"receipt:<r{limit + 1}@mail.example>",
                                                         ("changsha@example.gov.cn",))]
    assert "每小时 5 封回执上限" in skipped[0].error
    # an hour later the address gets receipts again; the skipped one is never sent
    app.clock = fixed_clock("2022-02-07T18:01", TZ)
    jobs.ingest_all(app, [report(59)])
    assert len(smtp.messages) == limit + 1 and smtp.messages[-1].message["In-Reply-To"] == "<r59@mail.example>"
