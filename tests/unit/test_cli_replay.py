"""`remind` refuses a --now ahead of the real clock (issue 19): the pure decision."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from service.cli import REPLAY_TOLERANCE, future_now_problem

REAL = datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_a_now_in_the_past_or_within_the_tolerance_may_run():
    assert future_now_problem(REAL - timedelta(days=900), REAL) == ""
    assert future_now_problem(REAL + REPLAY_TOLERANCE, REAL) == ""


def test_a_now_ahead_of_the_real_clock_names_both_times_and_the_way_out():
    problem = future_now_problem(REAL + timedelta(days=30), REAL)
    assert "2026-02-04T09:00" in problem and "2026-01-05T09:00" in problem and "30 days" in problem
    assert "--replay" in problem and "--dry-run" in problem
