"""schedule: when the worker's jobs run, from the config and the calendar; service time vs wall time."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.outgoing.calendar import WorkCalendar
from service.outgoing.schedule import (
    ServiceTimeTrigger,
    Timeline,
    digest_days_due,
    digest_due_at_start,
    next_digest_at,
    next_reminder_at,
)
from tests.conftest import make_config

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def walk(next_after, start: datetime, end: datetime) -> list[str]:
    found, after = [], start
    while (moment := next_after(after)) is not None and moment <= end:
        found.append(moment.isoformat(timespec="minutes"))
        after = moment
    return found


def test_reminder_runs_are_the_calendar_slots_once_each_in_order(config):
    calendar = WorkCalendar(config.calendar)
    runs = walk(lambda after: next_reminder_at(config, calendar, after), at("2021-12-01T00:00"), at("2022-03-01T00:00"))
    assert runs == ["2021-12-28T09:00+08:00", "2021-12-30T09:00+08:00", "2022-01-04T09:00+08:00",
                    "2022-01-06T09:00+08:00", "2022-01-28T09:00+08:00", "2022-01-30T09:00+08:00",
                    "2022-02-08T09:00+08:00"]


def test_reminder_times_follow_the_configured_time_and_workdays(tmp_path):
    config = make_config(tmp_path, reminders={"time": "14:30", "upcoming_workdays": [1], "overdue_workdays": []})
    calendar = WorkCalendar(config.calendar)
    runs = walk(lambda after: next_reminder_at(config, calendar, after), at("2021-12-01T00:00"), at("2022-03-01T00:00"))
    assert runs == ["2021-12-30T14:30+08:00", "2022-01-04T14:30+08:00", "2022-01-30T14:30+08:00"]


def test_after_the_last_reminder_or_with_reminders_off_there_is_no_run(tmp_path, config):
    calendar = WorkCalendar(config.calendar)
    assert next_reminder_at(config, calendar, at("2022-02-08T09:00")) is None
    off = make_config(tmp_path, reminders={"enabled": False})
    assert next_reminder_at(off, calendar, at("2021-12-01T00:00")) is None


def test_the_digest_runs_every_day_at_its_time(config):
    runs = walk(lambda after: next_digest_at(config, after), at("2022-01-30T08:30"), at("2022-02-02T23:00"))
    assert runs == ["2022-01-31T08:30+08:00", "2022-02-01T08:30+08:00", "2022-02-02T08:30+08:00"]


@pytest.mark.parametrize("started, due", [("2022-01-04T08:29", False), ("2022-01-04T08:30", True),
                                          ("2022-01-04T23:50", True)])
def test_a_worker_started_after_the_digest_time_sends_today_s_digest(config, started, due):
    assert digest_due_at_start(config, at(started)) is due


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_simulated_timeline_runs_faster_and_maps_back_to_wall_time():
    wall = Wall(datetime(2026, 5, 1, 12, 0, tzinfo=TZ))
    timeline = Timeline.simulated(wall, at("2021-12-28T08:59:00"), speed=60)
    wall.now += timedelta(seconds=1)
    assert timeline.now() == at("2021-12-28T09:00:00")
    assert timeline.wall_time(at("2021-12-28T09:10:00")) == datetime(2026, 5, 1, 12, 0, 11, tzinfo=TZ)
    assert Timeline.real(wall).now() == wall.now


def test_the_trigger_fires_at_each_scheduled_moment_in_wall_time_and_never_twice(config):
    wall = Wall(datetime(2026, 5, 1, 12, 0, tzinfo=TZ))
    timeline = Timeline.simulated(wall, at("2021-12-28T08:59:55"), speed=7)
    calendar = WorkCalendar(config.calendar)
    trigger = ServiceTimeTrigger("reminders", lambda after: next_reminder_at(config, calendar, after), timeline)

    first = trigger.get_next_fire_time(None, wall.now)
    assert timeline.service_time(first) >= at("2021-12-28T09:00") > timeline.service_time(first - timedelta(milliseconds=1))
    second = trigger.get_next_fire_time(first, first)
    assert timeline.service_time(second) >= at("2021-12-30T09:00") > timeline.service_time(first)


@pytest.mark.parametrize("started, now, days", [
    ("2022-01-20T19:00", "2022-01-20T08:00", []),  # before the first moment: nothing owed yet
    ("2022-01-20T19:00", "2022-01-21T05:00", ["2022-01-20"]),  # slipped past midnight: still the 20th's
    ("2022-01-20T19:00", "2022-01-21T09:00", ["2022-01-20", "2022-01-21"]),  # and past the next moment
    ("2022-01-20T09:00", "2022-01-20T09:05", ["2022-01-20"]),  # a start after 08:30 owes that day's
    ("2022-01-01T09:00", "2022-01-20T09:00", [f"2022-01-{d}" for d in range(14, 21)]),  # at most a week
])
def test_the_digest_days_owed_are_those_whose_moment_passed_since_the_start_day(config, started, now, days):
    assert digest_days_due(config, at(started), at(now)) == [date.fromisoformat(d) for d in days]
