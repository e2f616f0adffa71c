"""Schedule: config + working-day calendar -> when the worker's jobs run; service time <-> wall time.

Job times are computed here from [reminders], [digest] and the calendar, never written in code.
A Timeline lets the worker run on a simulated clock (`run --now START --speed N`): jobs see service
time, APScheduler waits in wall time, and ServiceTimeTrigger converts between the two.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from ..clock import Clock
from ..config import Config
from .calendar import WorkCalendar
from .remind import reminder_slots


def next_reminder_at(config: Config, calendar: WorkCalendar, after: datetime) -> datetime | None:
    """The first scheduled reminder moment strictly after `after` (None when the campaign has no more)."""
    if not config.reminders.enabled:
        return None
    later = [slot.at for slot in reminder_slots(config, calendar) if slot.at > after]
    return min(later, default=None)


def daily_at(day: date, hh_mm: str, tz: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=tz)


def next_digest_at(config: Config, after: datetime) -> datetime | None:
    """The next daily digest moment strictly after `after` (every day at digest.time)."""
    if not config.digest.enabled:
        return None
    tz = config.tz
    today = after.astimezone(tz).date()
    at = daily_at(today, config.digest.time, tz)
    return at if at > after else daily_at(today + timedelta(days=1), config.digest.time, tz)


def scheduled_digest_day(config: Config, now: datetime) -> date:
    """The day of the latest digest moment at or before `now`: a run queued behind hours of failing
    polls that starts after midnight is still the digest of the day it was scheduled for."""
    today = now.astimezone(config.tz).date()
    return today if now >= daily_at(today, config.digest.time, config.tz) else today - timedelta(days=1)


def digest_days_due(config: Config, started: datetime, now: datetime, most: int = 7) -> list[date]:
    """The days whose digest moment passed between the worker's start day and `now`, oldest first.

    A run queued behind hours of failing polls may start after midnight, or after the next day's
    moment: it still owes the digest of each day it was scheduled for (the sent log drops the sent)."""
    last = scheduled_digest_day(config, now)
    first = max(started.astimezone(config.tz).date(), last - timedelta(days=most - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def digest_due_at_start(config: Config, now: datetime) -> bool:
    """True when today's digest time has passed: a worker started later still sends today's (once)."""
    if not config.digest.enabled:
        return False
    return now >= daily_at(now.astimezone(config.tz).date(), config.digest.time, config.tz)


@dataclass(frozen=True)
class Timeline:
    """Service time runs `speed` times as fast as wall time and reads `start` at wall instant `anchor`."""

    wall: Clock
    start: datetime
    anchor: datetime
    speed: float = 1.0

    @classmethod
    def real(cls, wall: Clock) -> "Timeline":
        now = wall()
        return cls(wall, now, now)

    @classmethod
    def simulated(cls, wall: Clock, start: datetime, speed: float) -> "Timeline":
        if speed <= 0:
            raise ValueError("speed must be positive")
        return cls(wall, start, wall(), speed)

    def now(self) -> datetime:
        """Service time: what jobs get as `now`."""
        return self.service_time(self.wall())

    def service_time(self, wall_at: datetime) -> datetime:
        return (self.start + (wall_at - self.anchor) * self.speed).astimezone(self.start.tzinfo)

    def wall_time(self, at: datetime) -> datetime:
        """Wall instant at which service time reaches `at`, rounded up to the millisecond."""
        millis = math.ceil((at - self.start).total_seconds() * 1000 / self.speed)
        return self.anchor + timedelta(milliseconds=millis)


class ServiceTimeTrigger(BaseTrigger):
    """APScheduler trigger firing at the service-time moments `next_after` gives, in wall time."""

    def __init__(self, name: str, next_after: Callable[[datetime], datetime | None], timeline: Timeline) -> None:
        self.name, self.next_after, self.timeline = name, next_after, timeline

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            after = self.timeline.service_time(now)
        else:  # rounded: the round trip service->wall->service may land a hair before the moment fired
            after = _round_second(self.timeline.service_time(previous_fire_time))
        at = self.next_after(after)
        return None if at is None else self.timeline.wall_time(at)

    def __str__(self) -> str:
        return f"service-time[{self.name}]"


def _round_second(at: datetime) -> datetime:
    return (at + timedelta(microseconds=500_000)).replace(microsecond=0)
