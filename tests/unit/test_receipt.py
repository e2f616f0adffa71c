"""receipt: a short threaded reply for each attributed report, and none where none is wanted."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import Config
from service.model import Outgoing, Problem
from service.outgoing.receipt import (
    defang,
    is_robot_sender,
    original_subject,
    plan_receipt,
    quoted_subject,
    receipt_recipients,
    within_hourly_limit,
)
from service.model import SentRecord
from tests.conftest import config_data, make_config

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 7, 17, 0, tzinfo=TZ)
COUNTY = Problem("unknown_county", "第 3 行 县（市、区）'长沙新区' 不在长沙市辖区内", file="统计表.xlsx", row=3)
PDF = Problem("unreadable_attachment", "附件为 .pdf 格式，无法自动读取表格，请以 .xlsx 重新报送", file="总结.pdf")


def receipt(config: Config, **overrides):
    values = dict(message_id="<a1b2@qq.com>", sender="ChangSha@example.gov.cn", subject="长沙市活动全面总结",
                  received_at=NOW - timedelta(minutes=40), city="长沙市", deadline="summary", rows=12,
                  problems=[COUNTY, PDF], auto_generated=False, now=NOW)
    values.update(overrides)
    return plan_receipt(config, **values)


def test_a_receipt_threads_under_the_city_message(config):
    out = receipt(config)
    assert out.key == "receipt:<a1b2@qq.com>"
    assert out.kind == "receipt"
    assert out.in_reply_to == "<a1b2@qq.com>"
    assert out.to == ("changsha@example.gov.cn",)
    assert out.subject == "回复：长沙市活动全面总结"
    assert (out.city, out.deadline) == ("长沙市", "summary")


def test_a_receipt_says_where_it_was_filed_how_many_rows_and_each_problem(config):
    text = receipt(config).text
    assert text.startswith("长沙市商务局：")
    assert "2022年2月7日 16:20" in text
    assert "已登记为“活动全面总结”材料" in text
    assert "读取到重点活动统计表活动 12 条" in text
    assert "1. 【统计表.xlsx】第 3 行 县（市、区）'长沙新区' 不在长沙市辖区内" in text
    assert "2. 【总结.pdf】附件为 .pdf 格式，无法自动读取表格，请以 .xlsx 重新报送" in text
    assert "湖南省商务厅电子商务处" in text and "0731-82287166" in text


def test_a_clean_report_is_told_nothing_needs_correcting(config):
    text = receipt(config, problems=[]).text
    assert "未发现需要更正的问题" in text


def test_a_report_without_a_table_where_one_is_expected_is_told_so(config):
    assert "未能从附件中读取到重点活动统计表" in receipt(config, rows=0, problems=[]).text


def test_a_progress_report_does_not_mention_table_rows(config):
    text = receipt(config, deadline="progress", rows=0, problems=[]).text
    assert "统计表" not in text and "活动组织情况" in text


def test_the_same_problem_is_listed_once(config):
    text = receipt(config, problems=[COUNTY, COUNTY]).text
    assert text.count("长沙新区") == 1


@pytest.mark.parametrize("subject, expected", [
    ("长沙市活动全面总结", "回复：长沙市活动全面总结"),
    ("回复：长沙市活动全面总结", "回复：长沙市活动全面总结"),
    ("Re: 回复: RE[2]：长沙市 总结", "回复：长沙市 总结"),
    ("Fwd: 长沙市总结", "回复：长沙市总结"),
    ("", "回执：2022湖南网上年货节活动全面总结材料已收到"),
])
def test_the_subject_replies_once_to_the_original(config, subject: str, expected: str):
    assert receipt(config, subject=subject).subject == expected


@pytest.mark.parametrize("why, overrides", [
    ("city unknown", dict(city=None)),
    ("deadline unknown", dict(deadline=None)),
    ("city not in the config", dict(city="武汉市")),
    ("auto-generated mail", dict(auto_generated=True)),
    ("noreply sender", dict(sender="noreply@example.gov.cn")),
    ("no-reply sender", dict(sender="No-Reply@163.com")),
    ("bounce", dict(sender="MAILER-DAEMON@mx.example.gov.cn")),
    ("postmaster", dict(sender="postmaster@qq.com")),
    ("empty sender", dict(sender="")),
    ("no message id", dict(message_id="")),
    ("older than the window (archive import)", dict(received_at=NOW - timedelta(hours=73))),
    ("last year's archive", dict(received_at=datetime(2021, 2, 7, 10, 0, tzinfo=TZ))),
    ("the sender failed verification (a forger gets nothing back)", dict(verdict="fail")),
])
def test_no_receipt_is_planned_when(config, why: str, overrides: dict):
    assert receipt(config, **overrides) is None


def test_mail_whose_sender_was_verified_or_not_checked_gets_its_receipt(config):
    assert receipt(config, verdict="pass") is not None and receipt(config, verdict="none") is not None


def test_mail_just_inside_the_window_still_gets_a_receipt(config):
    assert receipt(config, received_at=NOW - timedelta(hours=71)) is not None


def test_disabled_receipts_are_never_planned(tmp_path: Path):
    assert receipt(make_config(tmp_path, receipts={"enabled": False})) is None


@pytest.mark.parametrize("sender, robot", [
    ("changsha@example.gov.cn", False),
    ("noreplyer.zhang@qq.com", False),  # a person whose name merely starts with "noreply"
    ("no_reply@qq.com", True),
    ("bounces+123@lists.example.com", True),
    ("donotreply@163.com", True),
    ("not-an-address", True),
])
def test_robot_senders_are_recognised_by_their_local_part(sender: str, robot: bool):
    assert is_robot_sender(sender) is robot


def test_original_subject_folds_whitespace():
    assert original_subject("  长沙市\n 活动总结 ") == "长沙市 活动总结"


# --- receipts only to known senders --------------------------------------------------------------

PHISHING = "长沙市活动总结 补贴申领请登录 http://hunan-gov.example.com/login?id=1 或 evil.com/pay"


def test_mail_from_an_unregistered_address_gets_no_receipt_the_city_is_told_instead(config):
    out = receipt(config, sender="Changsha.Gov@163.com", subject=PHISHING)
    assert out.to == ("changsha@example.gov.cn",)
    assert out.in_reply_to == ""  # not threaded under a message its readers never had
    assert out.subject == "【请核实】收到以贵局名义报送的“活动全面总结”材料（2022湖南网上年货节）"
    assert "发件地址 changsha[.]gov@163[.]com 不是贵局登记的报送邮箱" in out.text
    assert "如非贵局所发，请尽快与我处联系" in out.text
    for body in (out.text, out.html):
        assert "http://" not in body and "hunan-gov.example.com" not in body and "evil.com" not in body
        assert "hxxp://hunan-gov[.]example[.]com/login?id=1" in body


def test_a_registered_sender_gets_the_receipt_itself_whatever_the_case_of_the_address(config):
    out = receipt(config, sender="CHANGSHA@example.gov.cn")
    assert out.to == ("changsha@example.gov.cn",) and out.in_reply_to == "<a1b2@qq.com>"
    assert "贵局于" in out.text and "不是贵局登记的报送邮箱" not in out.text


def test_a_city_without_registered_addresses_gets_nothing_and_neither_does_the_stranger(tmp_path: Path):
    cities = [dict(c, emails=[]) if c["name"] == "长沙市" else c for c in config_data()["cities"]]
    assert receipt(make_config(tmp_path, cities=cities), sender="someone@qq.com") is None


@pytest.mark.parametrize("sender, registered, confirmed, expected", [
    ("a@x.gov.cn", ("a@x.gov.cn", "b@x.gov.cn"), (), (("a@x.gov.cn",), "")),
    (" A@X.gov.cn ", ("a@x.gov.cn",), (), (("a@x.gov.cn",), "")),
    ("evil@qq.com", ("a@x.gov.cn", "b@x.gov.cn"), (), (("a@x.gov.cn", "b@x.gov.cn"), "evil@qq.com")),
    ("", ("a@x.gov.cn",), (), (("a@x.gov.cn",), "")),
    ("new@x.gov.cn", ("a@x.gov.cn",), ("new@x.gov.cn",), (("new@x.gov.cn",), "")),  # confirmed by staff
    ("evil@qq.com", (), (), ((), "evil@qq.com")),
])
def test_the_receipt_goes_to_the_sender_only_when_registered(sender, registered, confirmed, expected):
    assert receipt_recipients(sender, registered, confirmed) == expected


@pytest.mark.parametrize("text, expected", [
    ("http://x.y", "hxxp://x[.]y"),
    ("请登录https://evil.example.com/a.php?b=1领取", "请登录hxxps://evil[.]example[.]com/a[.]php?b=1领取"),
    ("HTTPS://EVIL.COM", "HxxPS://EVIL[.]COM"),
    ("ftp://files.evil.cn/x", "fxp://files[.]evil[.]cn/x"),
    ("访问evil.com/path", "访问evil[.]com/path"),
    ("www.phish.top", "www[.]phish[.]top"),
    ("xn--fiqs8s.xn--55qx5d", "xn--fiqs8s[.]xn--55qx5d"),
    ("http://10.0.0.1:8080/x", "hxxp://10[.]0[.]0[.]1:8080/x"),
    ("报到 hr@evil.com", "报到 hr@evil[.]com"),
    ("销售额1.2亿元，附件1.xlsx、总结.docx", "销售额1.2亿元，附件1.xlsx、总结.docx"),
    ("版本 v2.0 第3.5节", "版本 v2.0 第3.5节"),
    ("report.zip", "report[.]zip"),  # .zip is a top-level domain
])
def test_urls_and_domains_are_defanged_and_nothing_else(text: str, expected: str):
    assert defang(text) == expected


def test_the_quoted_subject_is_cut_and_loses_controls_that_would_hide_a_domain():
    assert quoted_subject("回复：" + "长" * 70) == "长" * 60 + "…"
    assert quoted_subject("登录 evil\u200b.com\u202e 领取\r\nBcc: x@y.cn") == "登录 evil[.]com 领取 Bcc: x@y[.]cn"


def test_file_names_and_problem_lines_from_the_mail_are_quoted_safely(config):
    odd = Problem("unknown_county", "第 3 行 县（市、区）'请访问 http://evil.com' 不在长沙市辖区内",
                  file="登录 evil.com 领补贴.xlsx")
    text = receipt(config, problems=[odd]).text
    assert "【登录 evil[.]com 领补贴.xlsx】" in text and "hxxp://evil[.]com" in text and "http://" not in text


def test_a_flood_of_problems_is_listed_up_to_twenty_lines(config):
    many = [Problem("unknown_county", f"第 {n} 行 县不在辖区内") for n in range(1, 41)]
    text = receipt(config, problems=many).text
    assert "19. 第 19 行" in text and "第 20 行" not in text and "20. 另有 21 个问题" in text


def sent(key: str, to: tuple[str, ...], at: datetime, status: str = "sent", kind: str = "receipt") -> SentRecord:
    return SentRecord(key, kind, "长沙市", "summary", to, "回复", status, 1, "", at, at)


def test_an_address_gets_at_most_n_receipts_an_hour_counted_from_the_sent_log():
    out = Outgoing("receipt:<n@x>", "receipt", ("a@x.cn", "b@x.cn"), "s", "t", "h")
    since = NOW - timedelta(hours=1)
    log = [sent(f"receipt:<{n}@x>", ("a@x.cn",), NOW - timedelta(minutes=n)) for n in range(5)]
    assert within_hourly_limit(out, log, since, limit=5).to == ("b@x.cn",)
    assert within_hourly_limit(out, log, since, limit=6).to == ("a@x.cn", "b@x.cn")
    assert within_hourly_limit(Outgoing("k", "receipt", ("a@x.cn",), "s", "t", "h"), log, since, 5) is None
    older = [sent("r", ("a@x.cn",), NOW - timedelta(minutes=61))] * 5
    not_receipts = [sent("d", ("a@x.cn",), NOW, kind="upcoming")] * 5 + [sent("f", ("a@x.cn",), NOW, "failed")] * 5
    assert within_hourly_limit(out, older + not_receipts, since, 5) == out


def test_an_unregistered_resend_is_not_called_the_version_in_force(config):
    out = receipt(config, sender="w@qq.com", replaces=NOW - timedelta(days=2))
    assert out.to == ("changsha@example.gov.cn",)
    assert "经我处核实确认前，仍以贵局于2022年2月5日 17:00报送的版本为准" in out.text
    assert "以本次为准" not in out.text and "以本次为准" not in out.html
    registered = receipt(config, replaces=NOW - timedelta(days=2))
    assert "以本次为准" in registered.text and "核实确认前" not in registered.text


def test_an_address_staff_registered_gets_its_receipt_itself(config):
    out = receipt(config, sender="w@qq.com", confirmed=("w@qq.com",))
    assert out.to == ("w@qq.com",) and out.in_reply_to == "<a1b2@qq.com>"
