"""campaign_plan: a config and a moment -> deadlines, the scheduler's reminder moments, tables, warnings."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from service.campaign_plan import campaign_plan
from service.config import config_from_dict
from service.outgoing.calendar import WorkCalendar
from service.outgoing.schedule import next_reminder_at
from tests.conftest import make_config

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def small_config(due: str = "2027-03-10", calendar: dict | None = None, emails: tuple = ("a@example.gov.cn",),
                 **reminders) -> object:
    data = {"campaign": {"name": "2027测试活动"},
            "deadlines": [{"id": "report", "title": "统计报送", "due": date.fromisoformat(due)}],
            "cities": [{"name": "甲市", "emails": list(emails)}, {"name": "乙市", "emails": ["b@example.gov.cn"]}],
            "reminders": reminders, "calendar": calendar or {}}
    return config_from_dict(data, environ={})


def codes(plan) -> list[tuple[str, str]]:
    return [(w.code, w.subject) for w in plan.warnings]


def test_the_shipped_config_plans_the_moments_the_reminder_scheduler_runs_at(tmp_path):
    config = make_config(tmp_path)
    plan = campaign_plan(config, at("2021-12-20T10:00"))
    calendar, moments, after = WorkCalendar(config.calendar), [], at("2021-12-01T00:00")
    while (moment := next_reminder_at(config, calendar, after)) is not None:
        moments.append(moment)
        after = moment
    assert sorted({r.at for r in plan.reminders}) == moments
    assert [(r.at.isoformat(timespec="minutes"), r.deadline, r.kind) for r in plan.reminders][-3:] == [
        ("2022-01-28T09:00+08:00", "summary", "upcoming"), ("2022-01-30T09:00+08:00", "summary", "upcoming"),
        ("2022-02-08T09:00+08:00", "summary", "overdue")]
    assert [r.makeup_workday for r in plan.reminders if r.deadline == "summary"] == [False, True, False]
    assert all(r.all_cities and len(r.cities) == 14 and not r.past for r in plan.reminders)
    assert [r.conditional for r in plan.reminders if r.deadline == "plan"] == [True, True]
    assert plan.warnings == ()


def test_deadlines_are_due_at_the_end_of_their_local_day_in_date_order(tmp_path):
    plan = campaign_plan(make_config(tmp_path), at("2022-01-05T23:59"))
    assert [(d.id, d.due_at.isoformat(), d.past) for d in plan.deadlines] == [
        ("plan", "2022-01-01T00:00:00+08:00", True), ("progress", "2022-01-06T00:00:00+08:00", False),
        ("summary", "2022-02-08T00:00:00+08:00", False)]
    assert codes(plan) == [("deadline_past", "plan")]


def test_a_year_neither_chinesecalendar_nor_the_config_knows_is_a_warning():
    plan = campaign_plan(small_config(), at("2027-01-04T09:00"))
    assert codes(plan) == [("unknown_year", "2027")]
    assert "[calendar]" in plan.warnings[0].message


def test_a_calendar_section_listing_the_year_silences_the_warning_and_moves_the_reminders():
    # 2027-03-08 (Mon) declared a holiday: the 1st working day before the 10th is still the 9th, the 3rd the 5th
    plain = campaign_plan(small_config(), at("2027-01-04T09:00"))
    listed = campaign_plan(small_config(calendar={"holidays": [date(2027, 3, 8)]}), at("2027-01-04T09:00"))
    assert codes(listed) == []
    assert [r.at.date().isoformat() for r in plain.reminders if r.kind == "upcoming"] == ["2027-03-05", "2027-03-09"]
    assert [r.at.date().isoformat() for r in listed.reminders if r.kind == "upcoming"] == ["2027-03-04", "2027-03-09"]


def test_a_city_without_an_address_is_a_warning():
    plan = campaign_plan(small_config(emails=()), at("2027-01-04T09:00"))
    assert ("city_without_email", "甲市") in codes(plan)


def test_a_past_deadline_and_an_unknown_plan_city_are_warnings_and_past_moments_are_marked():
    plan = campaign_plan(small_config(due="2024-03-11", plan_cities=["丙市"]), at("2024-03-11T12:00"))
    assert codes(plan) == [("plan_city_unknown", "丙市")]
    later = campaign_plan(small_config(due="2024-03-11"), at("2024-03-12T00:00"))
    assert codes(later) == [("deadline_past", "report")]
    assert [(r.at.date().isoformat(), r.kind, r.past) for r in later.reminders] == [
        ("2024-03-06", "upcoming", True), ("2024-03-08", "upcoming", True), ("2024-03-12", "overdue", False)]


def test_reminders_switched_off_plan_no_moments():
    plan = campaign_plan(small_config(due="2024-03-11", enabled=False), at("2024-03-01T12:00"))
    assert plan.reminders == () and not plan.reminders_enabled
