"""remind: replay the 2022 season's reminder schedule at chosen instants."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import Config
from service.model import ReportState
from service.outgoing.calendar import WorkCalendar
from service.outgoing.remind import due_reminders, reminder_key, reminder_slots
from tests.conftest import config_data, make_config

TZ = ZoneInfo("Asia/Shanghai")
ALL_CITIES = 14


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def states(deadline: str, state: str, *cities: str) -> list[ReportState]:
    return [ReportState(city=c, deadline=deadline, state=state) for c in cities]


@pytest.fixture
def calendar(config: Config) -> WorkCalendar:
    return WorkCalendar(config.calendar)


def test_the_2022_schedule_skips_holidays_and_uses_the_sunday_make_up_day(config, calendar):
    slots = {(s.deadline.id, s.kind, s.at.isoformat(timespec="minutes")) for s in reminder_slots(config, calendar)}
    assert slots == {
        ("plan", "upcoming", "2021-12-28T09:00+08:00"),
        ("plan", "upcoming", "2021-12-30T09:00+08:00"),
        ("progress", "upcoming", "2021-12-30T09:00+08:00"),   # 3rd working day before Wed 01-05
        ("progress", "upcoming", "2022-01-04T09:00+08:00"),   # 1st: 01-03 is still 元旦
        ("progress", "overdue", "2022-01-06T09:00+08:00"),
        ("summary", "upcoming", "2022-01-28T09:00+08:00"),
        ("summary", "upcoming", "2022-01-30T09:00+08:00"),    # Sunday make-up working day
        ("summary", "overdue", "2022-02-08T09:00+08:00"),
    }


def test_only_cities_without_a_report_are_reminded(config, calendar):
    reported = states("progress", "on_time", "长沙市", "株洲市")
    others = states("progress", "pending", "湘潭市")
    to_send, stale = due_reminders(config, calendar, reported + others, set(), at("2022-01-04T09:00"))
    progress = [o for o in to_send if o.deadline == "progress"]
    assert len(progress) == ALL_CITIES - 2
    assert {o.city for o in progress}.isdisjoint({"长沙市", "株洲市"})
    first = next(o for o in progress if o.city == "湘潭市")
    assert first.key == "reminder:湘潭市:progress:upcoming:2022-01-04T09:00+08:00"
    assert first.kind == "upcoming"
    assert first.to == ("xiangtan@example.gov.cn",)
    assert first.text.startswith("湘潭市商务局：")
    assert "距截止还有 1 个工作日（1 天），截止时间为2022年1月5日24时" in first.text


def test_a_second_call_with_the_sent_keys_sends_nothing(config, calendar):
    now = at("2022-01-04T09:05")
    to_send, stale = due_reminders(config, calendar, [], set(), now)
    sent = {o.key for o in to_send} | {o.key for o in stale}
    assert due_reminders(config, calendar, [], sent, now) == ([], [])


def test_a_late_report_also_stops_reminders_but_missing_does_not(config, calendar):
    now = at("2022-01-06T09:00")
    late = states("progress", "late", "长沙市")
    missing = states("progress", "missing", "株洲市")
    to_send, _ = due_reminders(config, calendar, late + missing, set(), now)
    overdue = {o.city for o in to_send if o.kind == "overdue"}
    assert "长沙市" not in overdue and "株洲市" in overdue
    assert len(overdue) == ALL_CITIES - 1


def test_time_left_is_computed_when_sending_not_when_scheduled(config, calendar):
    # The 01-04 reminder was missed; caught up on the due day itself, it says so.
    to_send, _ = due_reminders(config, calendar, [], set(), at("2022-01-05T10:00"))
    (changsha,) = [o for o in to_send if o.city == "长沙市" and o.deadline == "progress"]
    assert changsha.key.endswith("upcoming:2022-01-04T09:00+08:00")
    assert "今天为截止日，截止时间为2022年1月5日24时" in changsha.text
    assert "2022年1月5日" in changsha.text.splitlines()[-1]  # the date line is today


def test_the_summary_reminder_on_the_sunday_make_up_day_counts_working_days(config, calendar):
    to_send, _ = due_reminders(config, calendar, [], {f"reminder:{c.name}:summary:upcoming:2022-01-28T09:00+08:00"
                                                         for c in config.cities}, at("2022-01-30T09:00"))
    summary = [o for o in to_send if o.deadline == "summary"]
    assert len(summary) == ALL_CITIES
    assert "距截止还有 1 个工作日（8 天）" in summary[0].text
    assert "统计表" in summary[0].text


@pytest.mark.parametrize("now, sent, expect_send, expect_stale", [
    # missed the 3rd-day reminder, now the 1st-day one is due: only the latest goes out
    ("2022-01-04T09:00", False, ["2022-01-04T09:00+08:00"], ["2021-12-30T09:00+08:00"]),
    # the 3rd-day reminder went out: nothing is stale
    ("2022-01-04T09:00", True, ["2022-01-04T09:00+08:00"], []),
    # down from 01-04 to after the deadline: the upcoming reminder is stale, overdue not yet due
    ("2022-01-06T08:00", True, [], ["2022-01-04T09:00+08:00"]),
    # still in time for a missed reminder at 23:59 on the due day
    ("2022-01-05T23:59", True, ["2022-01-04T09:00+08:00"], []),
])
def test_catch_up_sends_the_latest_missed_upcoming_reminder_until_the_due_day_ends(
        config, calendar, now, sent, expect_send, expect_stale):
    sent_keys = {reminder_key("长沙市", "progress", "upcoming", at("2021-12-30T09:00"))} if sent else set()
    to_send, stale = due_reminders(config, calendar, [], sent_keys, at(now))

    def times(items):
        return sorted(o.key.split(":", 4)[4] for o in items
                      if o.city == "长沙市" and o.deadline == "progress" and o.kind == "upcoming")
    assert times(to_send) == expect_send
    assert times(stale) == expect_stale


@pytest.mark.parametrize("now, due", [
    ("2022-01-06T09:00", True),
    ("2022-01-07T16:00", True),
    ("2022-01-10T23:59", True),    # 2nd working day after the scheduled 01-06
    ("2022-01-11T00:00", False),
])
def test_a_missed_overdue_notice_may_go_out_two_working_days_late(config, calendar, now, due):
    to_send, stale = due_reminders(config, calendar, [], set(), at(now))
    overdue_sent = [o for o in to_send if o.kind == "overdue" and o.deadline == "progress"]
    overdue_stale = [o for o in stale if o.kind == "overdue" and o.deadline == "progress"]
    assert (len(overdue_sent), len(overdue_stale)) == ((ALL_CITIES, 0) if due else (0, ALL_CITIES))


def test_stale_reminders_have_no_body_and_say_why(config, calendar):
    _, stale = due_reminders(config, calendar, [], set(), at("2022-01-11T09:00"))
    (one,) = [o for o in stale if o.city == "长沙市" and o.deadline == "progress" and o.kind == "overdue"]
    assert one.text == "" and one.html == ""
    assert "已过补发期限" in one.subject and "原定2022年1月6日 09:00" in one.subject


def test_the_optional_plan_gets_no_overdue_notice(config, calendar):
    to_send, stale = due_reminders(config, calendar, [], set(), at("2022-01-04T09:00"))
    assert not [o for o in to_send + stale if o.deadline == "plan" and o.kind == "overdue"]


def test_without_plan_cities_every_city_is_asked_only_if_it_runs_sub_venues(config, calendar):
    to_send, _ = due_reminders(config, calendar, [], set(), at("2021-12-28T09:00"))
    plan = [o for o in to_send if o.deadline == "plan"]
    assert len(plan) == ALL_CITIES
    assert "如举办分会场活动" in plan[0].subject
    assert "如贵局举办分会场活动" in plan[0].text and "如不举办，无需回复" in plan[0].text


def test_with_plan_cities_only_those_are_reminded_plainly(tmp_path: Path):
    config = make_config(tmp_path, reminders={"plan_cities": ["长沙", "湘西州"]})
    to_send, _ = due_reminders(config, WorkCalendar(config.calendar), [], set(), at("2021-12-28T09:00"))
    plan = sorted(o.city for o in to_send if o.deadline == "plan")
    assert plan == ["湘西土家族苗族自治州", "长沙市"]
    xiangxi = next(o for o in to_send if o.city == "湘西土家族苗族自治州")
    assert xiangxi.text.startswith("湘西州商务局：")
    assert "如举办分会场活动" not in xiangxi.subject


def test_a_city_without_an_address_is_listed_as_stale_not_sent(tmp_path: Path):
    cities = [dict(c) for c in config_data()["cities"]]
    cities[0]["emails"] = []
    config = make_config(tmp_path, cities=cities)
    to_send, stale = due_reminders(config, WorkCalendar(config.calendar), [], set(), at("2022-01-04T09:00"))
    assert "长沙市" not in {o.city for o in to_send}
    assert any(o.city == "长沙市" and "未配置该市州邮箱" in o.subject for o in stale)


def test_disabled_reminders_send_nothing(tmp_path: Path):
    config = make_config(tmp_path, reminders={"enabled": False})
    assert due_reminders(config, WorkCalendar(config.calendar), [], set(), at("2022-01-04T09:00")) == ([], [])


def test_nothing_is_due_before_the_first_scheduled_time(config, calendar):
    assert due_reminders(config, calendar, [], set(), at("2021-12-28T08:59")) == ([], [])


@pytest.mark.parametrize("last_poll_minutes_ago, held", [(None, "no successful mailbox poll yet"), (45, "45 min ago"),
                                                        (30, ""), (0, ""), (-60, "")])
def test_reminders_are_held_unless_the_mailbox_was_read_within_max_poll_age(config, last_poll_minutes_ago, held):
    from datetime import timedelta

    from service.outgoing.remind import hold_reason

    now = datetime(2022, 2, 8, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    last = None if last_poll_minutes_ago is None else now - timedelta(minutes=last_poll_minutes_ago)
    reason = hold_reason(config, last, now)
    assert (held in reason) if held else reason == ""
    if held:
        assert "暂缓发出" in reason
