"""Working days in mainland China: chinesecalendar, then the config's holidays, then Mon-Fri.

chinesecalendar 1.11 knows 2004-2026. For other years the config's [calendar] lists are used;
a year neither knows falls back to Monday-Friday with a warning the digest shows.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Iterable

import chinese_calendar

from ..config import CalendarSection

log = logging.getLogger(__name__)

# The longest official run of non-working days is 9 (Spring Festival plus weekends);
# a generous bound keeps a bad config from looping forever.
_MAX_SCAN_DAYS = 60


class WorkCalendar:
    """Answers "is this a working day" and counts working days; never raises."""

    def __init__(self, section: CalendarSection) -> None:
        self._holidays = frozenset(section.holidays)
        self._workdays = frozenset(section.workdays)
        self._config_years = frozenset(d.year for d in self._holidays | self._workdays)
        self._warned_years: set[int] = set()
        self.warnings: list[str] = []

    def is_workday(self, day: date) -> bool:
        """True on official working days (including make-up weekend days)."""
        # An explicit config entry wins: it is how staff correct a late State Council change.
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        known = self._package_is_workday(day)
        if known is not None:
            return known
        if day.year not in self._config_years:
            self._warn_year(day.year)
        return day.weekday() < 5

    def workdays_before(self, day: date, n: int) -> date:
        """The n-th working day strictly before `day` (n >= 1; n <= 0 returns `day`)."""
        return self._step(day, n, -1)

    def workdays_after(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day` (n >= 1; n <= 0 returns `day`)."""
        return self._step(day, n, +1)

    def workdays_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count

    def check_years(self, years: Iterable[int]) -> list[str]:
        """Warnings for the years neither chinesecalendar nor the config knows (call at start)."""
        for year in sorted(set(years)):
            if year not in self._config_years and not self.package_knows(year):
                self._warn_year(year)
        return list(self.warnings)

    @staticmethod
    def package_knows(year: int) -> bool:
        """True when chinesecalendar has official data for `year`."""
        return WorkCalendar._package_is_workday(date(year, 6, 1)) is not None

    @staticmethod
    def _package_is_workday(day: date) -> bool | None:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # the package's way of saying "year not covered"
            return None

    def _step(self, day: date, n: int, direction: int) -> date:
        found = 0
        for _ in range(max(n, 0) * _MAX_SCAN_DAYS):
            if found >= n:
                break
            day += timedelta(days=direction)
            found += self.is_workday(day)
        return day

    def _warn_year(self, year: int) -> None:
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        message = (f"{year}年的法定节假日未知（chinesecalendar 与配置 [calendar] 均无该年数据），"
                   f"暂按周一至周五为工作日计算；请在配置 [calendar] 中补充该年的 holidays 与 workdays")
        self.warnings.append(message)
        log.warning("calendar: year %s unknown to chinesecalendar and config; using Monday-Friday", year)
