"""Receipts through the pipeline, store and aiosmtpd say what the office registered: a first report
after the due day is late, a second version names the earlier one it replaces."""
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


@pytest.fixture
def app(tmp_path, smtp: SmtpServer):
    config = make_config(tmp_path / "data", smtp={"kind": "smtp", "host": HOST, "port": smtp.port,
                                                  "security": "none", "timeout": 5.0, "retries": 0})
    instance = App.open(config, fixed_clock("2022-02-10T12:00", TZ))
    yield instance
    instance.close()


def deliver(app, at: datetime, n: int, sender: str, subject: str, table: bool = True) -> None:
    """One report received at `at`, ingested a minute later."""
    attachment = ("附件1.xlsx", make_xlsx([HEADER, *SAMPLE_ROWS])) if table else ("说明.pdf", b"%PDF-1.4\n%%EOF\n")
    raw = make_email(subject=subject, sender=sender, attachments=[attachment], received=at,
                     message_id=f"<v{n}@mail.example>")
    app.clock = fixed_clock(at.replace(minute=at.minute + 1).isoformat(), TZ)
    jobs.ingest_all(app, [Fetched(f"file:{n}.eml", raw)])


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def html_of(received) -> str:
    return received.message.get_body(("html",)).get_content()


def test_a_first_report_after_the_due_day_is_acknowledged_as_late(app, smtp):
    deliver(app, datetime(2022, 2, 8, 10, 0, tzinfo=TZ), 1, "湘潭 <xiangtan@example.gov.cn>", "湘潭市活动总结")
    (receipt,) = smtp.messages
    text = text_of(receipt)
    assert ("贵单位报送的“活动全面总结”材料（邮件《湘潭市活动总结》）已于2022年2月8日 10:00收到，"
            "已过截止日期（2022年2月7日24时），我们已登记为逾期报送。") in text
    assert "逾期报送" in html_of(receipt) and "替代" not in text


def test_a_report_on_the_due_day_is_not_called_late(app, smtp):
    deliver(app, datetime(2022, 2, 7, 23, 50, tzinfo=TZ), 1, "湘潭 <xiangtan@example.gov.cn>", "湘潭市活动总结")
    text = text_of(smtp.messages[0])
    assert "逾期" not in text and "已登记为“活动全面总结”材料（截止时间2022年2月7日24时）" in text


def test_a_correction_names_the_version_it_replaces_and_is_not_late_when_the_first_was_on_time(app, smtp):
    changsha = "长沙市商务局 <changsha@example.gov.cn>"
    deliver(app, datetime(2022, 2, 5, 10, 0, tzinfo=TZ), 1, changsha, "长沙市活动总结")
    deliver(app, datetime(2022, 2, 6, 9, 30, tzinfo=TZ), 2, changsha, "长沙市活动总结（更正）")
    deliver(app, datetime(2022, 2, 8, 15, 0, tzinfo=TZ), 3, changsha, "长沙市活动总结（补充说明）", table=False)
    first, second, third = (text_of(m) for m in smtp.messages)
    assert "替代" not in first and "逾期" not in first
    assert "本次报送为更正版本，替代贵局于2022年2月5日 10:00报送的上一版本，以本次为准。" in second
    assert "替代贵局于2022年2月6日 09:30报送的上一版本" in third and "逾期" not in third  # the first was on time
    assert "本次未含可读取的统计表，活动数据仍以此前报送的统计表为准" in third
    assert "替代贵局于2022年2月5日 10:00" in html_of(smtp.messages[1])
