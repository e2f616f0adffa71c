"""receipt: a short threaded reply for each attributed report, and none where none is wanted."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import Config
from service.model import Problem
from service.receipt import is_robot_sender, original_subject, plan_receipt
from tests.conftest import make_config

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
])
def test_no_receipt_is_planned_when(config, why: str, overrides: dict):
    assert receipt(config, **overrides) is None


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
