"""The only place that reads the wall clock. Everything else takes `now` as an argument."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def system_clock(tz: ZoneInfo) -> Clock:
    """The real clock, aware, in the service's timezone."""
    return lambda: datetime.now(tz)


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """An ISO instant or date from the command line; naive values are local time in tz."""
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def fixed_clock(iso: str, tz: ZoneInfo) -> Clock:
    """A clock stopped at `iso` (for --now and tests)."""
    instant = parse_instant(iso, tz)
    return lambda: instant


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant after `day` ends in tz: a deadline date is due before this."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
