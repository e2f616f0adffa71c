"""digest: the staff's daily view of who reported, what arrived, what failed and whether polling runs."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import CalendarSection, Config
from service.model import Outgoing, ReportState
from service.outgoing.calendar import WorkCalendar
from service.outgoing.digest import build_digest
from tests.conftest import make_config

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 1, 6, 8, 30, tzinfo=TZ)


def digest(config: Config, calendar: WorkCalendar | None = None, **overrides) -> Outgoing:
    values = dict(now=NOW, states=season_states(), arrived=[], problems=[], unattributed=[], sent=[], stale=[],
                  totals={"participants": 120, "products": 3400, "sales_wan": 1520.5},
                  last_poll_ok=NOW - timedelta(minutes=5), last_poll_error=None, warnings=[])
    values.update(overrides)
    return build_digest(config, calendar or WorkCalendar(config.calendar), **values)


def season_states() -> list[ReportState]:
    return [
        ReportState("长沙市", "progress", "on_time", received_at=datetime(2022, 1, 5, 10, tzinfo=TZ),
                    first_received_at=datetime(2022, 1, 4, 16, tzinfo=TZ), versions=2, problems=("x",)),
        ReportState("株洲市", "progress", "late", received_at=datetime(2022, 1, 6, 8, tzinfo=TZ),
                    first_received_at=datetime(2022, 1, 6, 8, tzinfo=TZ), versions=1),
        ReportState("湘潭市", "progress", "missing"),
        ReportState("长沙市", "summary", "pending"),
        ReportState("长沙市", "plan", "on_time", received_at=datetime(2021, 12, 30, 10, tzinfo=TZ)),
    ]


def city_line(text: str, city: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(city + "："))


def test_the_digest_goes_to_the_configured_recipients_once_a_day(config):
    out = digest(config)
    assert out.key == "digest:2022-01-06"
    assert out.kind == "digest"
    assert out.to == ("hndzsw@163.com",)
    assert "2022年1月6日" in out.subject and "注意" not in out.subject


@pytest.mark.parametrize("city, expected", [
    ("长沙市", "活动组织情况 按时（1月4日，共2版，1个问题）"),
    ("株洲市", "活动组织情况 逾期（1月6日）"),
    ("湘潭市", "活动组织情况 未报"),
    ("衡阳市", "活动组织情况 未报"),        # no state from track after the deadline: missing
    ("衡阳市", "活动全面总结 待报"),        # no state before the deadline: pending
    ("长沙市", "分会场活动实施计划报备 按时（12月30日）"),
    ("株洲市", "分会场活动实施计划报备 —"),  # optional: silence is fine
])
def test_each_city_has_one_readable_line_per_deadline_state(config, city: str, expected: str):
    assert expected in city_line(digest(config).text, city)


def test_the_counts_per_deadline_add_up_to_fourteen(config):
    text = digest(config).text
    assert "活动组织情况（截止2022年1月5日）：按时 1，逾期 1，未报 12，待报 0" in text
    assert "活动全面总结（截止2022年2月7日）：按时 0，逾期 0，未报 0，待报 14" in text
    assert "已报备 1" in text


def test_a_silent_mailbox_is_flagged_in_subject_and_body(config):
    out = digest(config, last_poll_ok=NOW - timedelta(hours=5), last_poll_error="LOGIN failed")
    assert "邮箱已 5.0 小时未成功收取" in out.subject
    assert "最近一次收取错误：LOGIN failed" in out.text
    assert "邮箱已 5.0 小时未成功收取" in out.html


def test_a_mailbox_never_polled_is_flagged(config):
    out = digest(config, last_poll_ok=None)
    assert "邮箱从未成功收取" in out.subject
    assert "尚无记录" in out.text


def test_arrivals_problems_and_unattributed_mail_are_listed(config):
    out = digest(config,
                 arrived=[{"city": "株洲市", "deadline": "progress", "received_at": datetime(2022, 1, 6, 8, tzinfo=TZ),
                           "subject": "株洲市活动组织情况", "rows": 0}],
                 problems=[{"city": "长沙市", "file": "统计表.xlsx", "row": 3, "code": "unknown_county",
                            "message_zh": "第 3 行 县（市、区）'长沙新区' 不在长沙市辖区内"}],
                 unattributed=[{"message": 12, "sender": "someone@qq.com", "subject": "年货节材料",
                                "received_at": datetime(2022, 1, 5, 20, tzinfo=TZ)}])
    assert "2022年1月6日 08:00 株洲市 活动组织情况《株洲市活动组织情况》" in out.text
    assert "- 长沙市：【统计表.xlsx】第 3 行 县（市、区）'长沙新区' 不在长沙市辖区内" in out.text
    assert "#12 2022年1月5日 20:00 someone@qq.com《年货节材料》" in out.text
    assert "请人工登记" in out.text


def test_the_decisions_of_the_day_are_listed_and_exempt_cities_counted(config):
    states = [*season_states(), ReportState("郴州市", "progress", "exempt", note="电话告知")]
    out = digest(config, states=states,
                 decisions=[{"at": datetime(2022, 1, 6, 10, tzinfo=TZ), "by": "张三",
                             "text": "郴州市 活动组织情况 免报", "note": "电话告知"}])
    assert "今日人工处理（1 项）" in out.text
    assert "- 2022年1月6日 10:00 张三：郴州市 活动组织情况 免报（电话告知）" in out.text
    assert "免报 1" in out.text
    assert "郴州市：" in out.text and "活动组织情况 免报" in out.text
    assert "今日人工处理" in out.html and "免报" in out.html


def test_no_decisions_no_list(config):
    assert "今日人工处理" not in digest(config).text


def test_many_problems_are_cut_with_a_count_of_the_rest(config):
    problems = [{"city": "长沙市", "file": "a.xlsx", "row": n, "code": "x", "message_zh": f"第 {n} 行 问题"}
                for n in range(1, 61)]
    text = digest(config, problems=problems).text
    assert "需要人工处理的问题（60 条）" in text
    assert "第 50 行 问题" in text and "第 51 行 问题" not in text
    assert "另有 10 条" in text


def test_sending_results_count_successes_and_name_failures(config):
    sent = [{"kind": "upcoming", "city": c, "deadline": "progress", "sent_at": NOW, "status": "sent", "error": ""}
            for c in ("长沙市", "株洲市")]
    sent.append({"kind": "receipt", "city": "湘潭市", "deadline": "progress", "sent_at": NOW, "status": "failed",
                 "error": "SMTP smtp.163.com:465: connection failed: timed out"})
    out = digest(config, sent=sent)
    assert "发送成功 2 封（截止前提醒 2）" in out.text
    assert "回执 湘潭市 活动组织情况：SMTP smtp.163.com:465: connection failed: timed out" in out.text
    assert "1 封邮件发送失败" in out.subject


def test_stale_reminders_are_listed(config):
    stale = [Outgoing(key="reminder:长沙市:progress:upcoming:2022-01-04T09:00+08:00", kind="upcoming", to=(),
                      subject="（未发出：已过补发期限）截止前提醒 长沙市 活动组织情况（原定2022年1月4日 09:00）",
                      text="", html="", city="长沙市", deadline="progress")]
    out = digest(config, stale=stale)
    assert "未发出的提醒 1 封" in out.text
    assert "- 活动组织情况：1 封（截止前提醒 1），1 个市州，原定2022年1月4日 09:00\n" in out.text


def stale_reminder(city: str, deadline: str, kind: str, at: str) -> Outgoing:
    return Outgoing(key=f"reminder:{city}:{deadline}:{kind}:{at}", kind=kind, to=(), subject=f"（未发出）{city}",
                    text="", html="", city=city, deadline=deadline)


def test_many_stale_reminders_are_one_line_per_deadline(config):
    cities = [c.name for c in config.cities]
    stale = [stale_reminder(c, "progress", "upcoming", f"2022-01-0{d}T09:00:00+08:00") for c in cities for d in (3, 4)]
    stale += [stale_reminder(c, "progress", "overdue", "2022-01-06T09:00:00+08:00") for c in cities]
    stale += [stale_reminder(c, "summary", "upcoming", "2022-01-28T09:00:00+08:00") for c in cities[:3]]
    out = digest(config, stale=stale)
    section = out.text.split("未发出的提醒 ")[1].split("五、")[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert lines == ["- 活动组织情况：42 封（截止前提醒 28，逾期提醒 14），14 个市州，"
                     "原定2022年1月3日 09:00至2022年1月6日 09:00",
                     "- 活动全面总结：3 封（截止前提醒 3），3 个市州，原定2022年1月28日 09:00"]
    assert section.startswith("45 封") and "（未发出）" not in out.text and "（未发出）" not in out.html
    assert "活动组织情况：42 封" in out.html


def test_a_problem_names_its_city_apart_and_comes_once_however_often_it_was_recorded(config):
    problem = {"city": "益阳市", "file": "附件1.xlsx", "row": 4, "code": "unknown_county",
               "message_zh": "第 4 行 县（市、区）'益阳新区' 不在益阳市辖区内"}
    other = {**problem, "city": "常德市", "message_zh": "附件为 .pdf 格式，无法自动读取表格", "file": ""}
    text = digest(config, problems=[problem, dict(problem), other, dict(problem)]).text
    assert "需要人工处理的问题（2 条）" in text
    assert text.count("'益阳新区'") == 1
    assert "- 益阳市：【附件1.xlsx】第 4 行 县（市、区）'益阳新区' 不在益阳市辖区内\n" in text
    assert "- 常德市：附件为 .pdf 格式，无法自动读取表格\n" in text


def test_metric_totals_are_shown_and_unknown_ones_are_a_dash(config):
    text = digest(config, totals={"participants": 120, "products": None, "sales_wan": 1520.5}).text
    assert "参与主体数量 120 家，商品数量 — 款，销售额 1,520.5 万元" in text


def test_calendar_warnings_are_shown_once(tmp_path: Path):
    config = make_config(tmp_path)
    calendar = WorkCalendar(CalendarSection())
    warnings = calendar.check_years([2027])
    text = digest(config, calendar, warnings=warnings).text
    assert text.count("2027年的法定节假日未知") == 1


def test_with_plan_cities_a_listed_city_without_a_plan_shows_as_missing(tmp_path: Path):
    config = make_config(tmp_path, reminders={"plan_cities": ["株洲市"]})
    text = digest(config, calendar=WorkCalendar(config.calendar)).text
    assert "分会场活动实施计划报备 未报" in city_line(text, "株洲市")
    assert "分会场活动实施计划报备 —" in city_line(text, "湘潭市")


def test_the_digest_date_is_the_local_date(config):
    late_evening_utc = datetime(2022, 1, 5, 23, 30, tzinfo=ZoneInfo("UTC"))  # 07:30 on 01-06 in Changsha
    assert digest(config, now=late_evening_utc).key == f"digest:{date(2022, 1, 6).isoformat()}"


def test_a_send_interrupted_mid_conversation_is_listed_as_unknown(config):
    sent = [{"kind": "overdue", "city": "湘潭市", "deadline": "progress", "sent_at": NOW, "status": "sending",
             "error": ""}]
    assert "逾期提醒 湘潭市 活动组织情况：发送过程中断，是否送达未知" in digest(config, sent=sent).text


def test_held_reminders_are_an_alert_and_a_line_in_the_sending_section(config):
    out = digest(config, reminders_held="14 封催报提醒暂缓：邮箱已 45 分钟未成功收取")
    assert "【注意】催报提醒暂缓发出" in out.text
    assert "催报提醒暂缓发出：14 封催报提醒暂缓：邮箱已 45 分钟未成功收取" in out.text
    assert "催报提醒暂缓发出：14 封" in out.html
    assert "暂缓" not in digest(config).text


def test_a_send_left_for_the_next_run_is_listed_with_its_error(config):
    sent = [dict(kind="upcoming", city="长沙市", deadline="progress", sent_at=NOW, status="retry",
                 error="SMTP 127.0.0.1:25: connection failed")]
    assert "connection failed" in digest(config, sent=sent).text
