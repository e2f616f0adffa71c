"""Only clock.py reads the wall clock: everything else takes `now`, so the campaign can be replayed."""
from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "service"
FORBIDDEN = re.compile(r"datetime\.now\(|date\.today\(|time\.time\(|datetime\.utcnow\(")


def test_no_module_but_clock_reads_the_wall_clock():
    offenders = [f"{p.relative_to(PACKAGE)}:{n}" for p in PACKAGE.rglob("*.py") if p.name != "clock.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if FORBIDDEN.search(line)]
    assert offenders == []


def test_the_end_of_a_due_day_is_midnight_local_time():
    from datetime import date
    from zoneinfo import ZoneInfo

    from service.clock import end_of_day, parse_instant
    tz = ZoneInfo("Asia/Shanghai")
    assert end_of_day(date(2022, 1, 5), tz).isoformat() == "2022-01-06T00:00:00+08:00"
    assert parse_instant("2022-01-05T09:00", tz).isoformat() == "2022-01-05T09:00:00+08:00"
    assert parse_instant("2022-01-05T01:00Z", tz).isoformat() == "2022-01-05T09:00:00+08:00"
