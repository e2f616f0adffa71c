"""calendar: official working days from chinesecalendar, the config's lists, else Monday-Friday."""
from __future__ import annotations

import logging
from datetime import date

import pytest

from service.config import CalendarSection
from service.outgoing.calendar import WorkCalendar

CAL = WorkCalendar(CalendarSection())


@pytest.mark.parametrize("day, workday", [
    (date(2021, 12, 31), True),   # Friday before 元旦
    (date(2022, 1, 1), False),    # 元旦
    (date(2022, 1, 3), False),    # Monday, still 元旦 holiday
    (date(2022, 1, 4), True),
    (date(2022, 1, 29), True),    # Saturday make-up working day
    (date(2022, 1, 30), True),    # Sunday make-up working day
    (date(2022, 1, 31), False),   # 春节 starts
    (date(2022, 2, 3), False),
    (date(2022, 2, 6), False),    # 春节 ends
    (date(2022, 2, 7), True),     # Monday, summary due
    (date(2022, 2, 12), False),   # ordinary Saturday
])
def test_2022_holidays_and_make_up_days_are_known(day: date, workday: bool):
    assert CAL.is_workday(day) is workday


@pytest.mark.parametrize("due, n, expected", [
    (date(2022, 1, 5), 1, date(2022, 1, 4)),
    (date(2022, 1, 5), 2, date(2021, 12, 31)),
    (date(2022, 1, 5), 3, date(2021, 12, 30)),
    (date(2022, 2, 7), 1, date(2022, 1, 30)),   # the Sunday make-up day
    (date(2022, 2, 7), 2, date(2022, 1, 29)),
    (date(2022, 2, 7), 3, date(2022, 1, 28)),
    (date(2021, 12, 31), 3, date(2021, 12, 28)),
])
def test_the_nth_working_day_before_a_deadline_skips_holidays(due: date, n: int, expected: date):
    assert CAL.workdays_before(due, n) == expected


@pytest.mark.parametrize("day, n, expected", [
    (date(2022, 2, 7), 1, date(2022, 2, 8)),
    (date(2022, 1, 5), 1, date(2022, 1, 6)),
    (date(2022, 1, 28), 1, date(2022, 1, 29)),
    (date(2022, 1, 30), 1, date(2022, 2, 7)),   # across the Spring Festival
    (date(2021, 12, 31), 1, date(2022, 1, 4)),  # across 元旦
])
def test_the_nth_working_day_after_skips_holidays(day: date, n: int, expected: date):
    assert CAL.workdays_after(day, n) == expected


def test_zero_steps_return_the_same_day():
    assert CAL.workdays_before(date(2022, 1, 5), 0) == date(2022, 1, 5)


@pytest.mark.parametrize("start, end, count", [
    (date(2022, 1, 4), date(2022, 1, 5), 1),
    (date(2021, 12, 30), date(2022, 1, 5), 3),
    (date(2022, 1, 30), date(2022, 2, 7), 1),
    (date(2022, 2, 7), date(2022, 2, 7), 0),
    (date(2022, 2, 8), date(2022, 2, 7), 0),
])
def test_working_days_between_count_the_end_but_not_the_start(start: date, end: date, count: int):
    assert CAL.workdays_between(start, end) == count


def test_a_year_the_package_does_not_know_uses_the_config_lists():
    section = CalendarSection(holidays=(date(2027, 2, 8), date(2027, 2, 9)), workdays=(date(2027, 2, 20),))
    cal = WorkCalendar(section)
    assert cal.is_workday(date(2027, 2, 8)) is False     # a Monday holiday
    assert cal.is_workday(date(2027, 2, 20)) is True     # a Saturday make-up day
    assert cal.is_workday(date(2027, 2, 27)) is False    # an ordinary Saturday
    assert cal.is_workday(date(2027, 3, 1)) is True      # an ordinary Monday
    assert cal.workdays_before(date(2027, 2, 10), 1) == date(2027, 2, 5)
    assert cal.check_years([2027]) == []
    assert cal.warnings == []


def test_a_year_nobody_knows_falls_back_to_monday_to_friday_with_one_loud_warning(caplog):
    caplog.set_level(logging.WARNING, logger="service.outgoing.calendar")
    cal = WorkCalendar(CalendarSection())
    assert cal.is_workday(date(2027, 1, 1)) is True      # a Friday: in truth 元旦, but unknown
    assert cal.is_workday(date(2027, 1, 2)) is False
    assert cal.is_workday(date(2027, 1, 4)) is True
    assert len(cal.warnings) == 1 and "2027" in cal.warnings[0]
    assert len([r for r in caplog.records if "2027" in r.getMessage()]) == 1


def test_checking_years_at_start_warns_only_about_unknown_years():
    cal = WorkCalendar(CalendarSection())
    warnings = cal.check_years([2021, 2022, 2027, 2027])
    assert len(warnings) == 1 and "2027" in warnings[0]
    assert cal.check_years([2027]) == warnings  # still one warning, not two


def test_a_config_entry_overrides_the_package_for_a_known_year():
    cal = WorkCalendar(CalendarSection(holidays=(date(2022, 1, 4),), workdays=(date(2022, 1, 3),)))
    assert cal.is_workday(date(2022, 1, 4)) is False
    assert cal.is_workday(date(2022, 1, 3)) is True
