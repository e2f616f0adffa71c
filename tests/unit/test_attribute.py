"""Attribution: which city, which deadline, whether it counts (values in, values out)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from service.decide.attribute import attribute_message, city_named_in, deadline_by_date, received_time
from service.model import Attachment, Message, Table

TZ = ZoneInfo("Asia/Shanghai")
XLSX = Attachment("附件1.xlsx", b"x", "xlsx")


def message(sender="someone@qq.com", subject="", text="", attachments=(XLSX,), auto=False) -> Message:
    return Message(message_id="<m@x>", sender=sender, sender_name="", subject=subject, date=None,
                   received=None, text=text, html="", attachments=tuple(attachments), auto_generated=auto)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


@pytest.mark.parametrize("text, expected", [
    ("长沙市商务局关于报送活动组织情况的函", "长沙市"),
    ("湘西州网上年货节总结", "湘西土家族苗族自治州"),
    ("关于湘西土家族苗族自治州的报告", "湘西土家族苗族自治州"),
    ("株洲 网上年货节", "株洲市"),
    ("张家界市商务局", "张家界市"),
    ("（衡阳）活动总结", "衡阳市"),
    ("湖南省商务厅通知", None),
    ("", None),
])
def test_a_city_is_found_by_its_name_or_alias_in_text(config, text, expected):
    found = city_named_in(text, config.cities)
    assert (found.name if found else None) == expected


def test_a_known_sender_decides_the_city_even_when_the_subject_names_another(config):
    m = message(sender="changsha@example.gov.cn", subject="转发株洲市的总结")
    a = attribute_message(m, [], at("2022-02-01T10:00"), config)
    assert (a.city, a.city_source, a.unregistered_sender) == ("长沙市", "sender", False)


@pytest.mark.parametrize("place", ["subject", "filename", "unit", "body"])
def test_a_city_named_only_in_content_is_accepted_and_flagged_unregistered(config, place):
    kwargs = {"subject": "年货节材料"}
    tables = []
    if place == "subject":
        kwargs["subject"] = "岳阳市年货节总结"
    elif place == "filename":
        kwargs["attachments"] = [Attachment("岳阳市附件1.xlsx", b"x", "xlsx")]
    elif place == "unit":
        tables = [Table("a.xlsx", "Sheet1", (), unit="岳阳市商务局")]
    else:
        kwargs["text"] = "厅电子商务处：现将岳阳市活动总结报送如下。"
    a = attribute_message(message(**kwargs), tables, at("2022-02-01T10:00"), config)
    assert a.city == "岳阳市" and a.city_source == place and a.unregistered_sender
    assert any(p.code == "unregistered_sender" for p in a.problems)


def test_mail_naming_no_city_is_unattributed_and_never_a_report(config):
    a = attribute_message(message(subject="发票"), [], at("2022-01-02T10:00"), config)
    assert a.city is None and not a.is_report
    assert [p.code for p in a.problems] == ["unattributed"]


@pytest.mark.parametrize("subject, received, deadline, source", [
    ("长沙市分会场活动实施计划报备", "2022-01-04T10:00", "plan", "keyword"),
    ("长沙市网上年货节活动组织情况", "2021-12-20T10:00", "progress", "keyword"),
    ("长沙市网上年货节活动总结", "2022-01-03T10:00", "summary", "keyword"),
    ("长沙市网上年货节材料", "2021-12-31T23:59", "plan", "date"),
    ("长沙市网上年货节材料", "2022-01-01T00:00", "progress", "date"),
    ("长沙市网上年货节材料", "2022-01-06T08:00", "summary", "date"),
    ("长沙市网上年货节材料", "2022-03-01T08:00", "summary", "date"),
])
def test_the_deadline_comes_from_keywords_else_from_the_date(config, subject, received, deadline, source):
    a = attribute_message(message(sender="changsha@example.gov.cn", subject=subject), [], at(received), config)
    assert (a.deadline, a.deadline_source) == (deadline, source)


def test_a_statistics_table_is_no_clue_to_the_deadline(config):
    """A progress report sent on 01-04 with a table and a neutral subject is a progress report."""
    m = message(sender="changsha@example.gov.cn", subject="长沙市材料")
    table = Table("附件1.xlsx", "Sheet1", ())
    a = attribute_message(m, [table], at("2022-01-04T10:00"), config)
    assert (a.deadline, a.deadline_source) == ("progress", "date")
    late = attribute_message(m, [table], at("2022-01-06T10:00"), config)
    assert (late.deadline, late.deadline_source) == ("summary", "date")


def test_a_mail_without_attachment_is_recorded_as_a_problem_not_a_report(config):
    m = message(sender="changsha@example.gov.cn", subject="长沙市活动总结，见附件", attachments=())
    a = attribute_message(m, [], at("2022-02-01T10:00"), config)
    assert a.city == "长沙市" and not a.is_report
    assert [p.code for p in a.problems] == ["no_attachment"]


def test_only_a_signature_image_does_not_make_a_report(config):
    m = message(sender="changsha@example.gov.cn", attachments=[Attachment("logo.png", b"x", "image")])
    assert not attribute_message(m, [], at("2022-02-01T10:00"), config).is_report


def test_auto_replies_never_count(config):
    m = message(sender="changsha@example.gov.cn", subject="自动回复：长沙市活动总结", auto=True)
    a = attribute_message(m, [], at("2022-02-01T10:00"), config)
    assert a.city is None and not a.is_report and a.problems[0].code == "auto_generated"


def test_the_received_time_prefers_the_mailbox_then_received_header_then_date(config):
    base = message()
    dated = Message(**{**base.__dict__, "date": at("2022-01-01T08:00"), "received": at("2022-01-01T09:00")})
    internal = at("2022-01-01T10:00")
    fallback = at("2022-02-01T00:00")
    assert received_time(dated, internal, fallback, config) == internal
    assert received_time(dated, None, fallback, config) == at("2022-01-01T09:00")
    assert received_time(base, None, fallback, config) == fallback


def test_after_the_last_deadline_a_message_goes_to_the_last_deadline(config):
    assert deadline_by_date(at("2022-05-01T00:00"), config.deadlines, config).id == "summary"
