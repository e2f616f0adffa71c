"""health: the last polls and sends at a moment -> reasons `status --check` fails (or none)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.errors import ConfigError
from service.health import HealthValues, health_problems
from tests.conftest import make_config

NOW = datetime(2022, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LOGIN_REFUSED = "邮箱登录被拒绝：163 邮箱的 IMAP 登录须使用“客户端授权码” Server said: [AUTHENTICATIONFAILED]"


def values(ok_minutes_ago: float | None = 1, error: tuple[str, float] | None = None,
           sends: tuple[tuple[str, str], ...] = ()) -> HealthValues:
    return HealthValues(
        last_poll_ok=None if ok_minutes_ago is None else NOW - timedelta(minutes=ok_minutes_ago),
        last_poll_error=None if error is None else (error[0], NOW - timedelta(minutes=error[1])),
        recent_sends=sends)


@pytest.mark.parametrize("case, given, expected", [
    ("recent poll, sends fine", values(sends=(("sent", ""), ("failed", "451")), ), []),
    ("poll just at the limit", values(ok_minutes_ago=15), []),
    ("poll too old", values(ok_minutes_ago=16), ["16 min ago; limit 15 min"]),
    ("never polled", values(ok_minutes_ago=None), ["no successful mailbox poll yet"]),
    ("login refused after the last good poll", values(ok_minutes_ago=5, error=(LOGIN_REFUSED, 2)), ["授权码"]),
    ("an old error, a good poll since", values(ok_minutes_ago=1, error=("timeout", 30)), []),
    ("the latest send failed", values(sends=(("failed", "535 login refused"), ("sent", ""))), ["535 login refused"]),
])
def test_health_problems_name_the_reason(config, case, given, expected):
    problems = health_problems(config, given, NOW)
    assert len(problems) == len(expected), case
    for problem, needle in zip(problems, expected):
        assert needle in problem, case


def test_the_send_threshold_counts_failures_in_a_row(tmp_path):
    config = make_config(tmp_path, health={"max_failed_sends": 3})
    two = values(sends=(("failed", "x"), ("failed", "x"), ("sent", ""), ("failed", "x")))
    three = values(sends=(("failed", "x"),) * 3)
    assert health_problems(config, two, NOW) == []
    assert "last 3 send(s) failed" in health_problems(config, three, NOW)[0]


def test_a_poll_age_limit_shorter_than_the_poll_interval_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="health.max_poll_age_minutes"):
        make_config(tmp_path, worker={"poll_interval": 900}, health={"max_poll_age_minutes": 10})


def test_held_reminders_fail_the_check_with_their_reason(config):
    held = HealthValues(last_poll_ok=NOW, last_poll_error=None, recent_sends=(),
                        reminders_held="14 封催报提醒暂缓：邮箱已 45 分钟未成功收取")
    assert health_problems(config, held, NOW) == [
        "催报提醒暂缓发出 (reminders held): 14 封催报提醒暂缓：邮箱已 45 分钟未成功收取"]


def test_sends_left_for_the_next_run_count_as_failures(config):
    streak = values(sends=(("retry", "connection refused"), ("sent", "")))
    assert ["connection refused" in p for p in health_problems(config, streak, NOW)] == [True]
