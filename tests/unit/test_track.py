"""Tracking: states per city and deadline at a moment, supersede, on time vs late."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.decide.track import ReportVersion, report_states, state_of

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def version(n, city="长沙市", deadline="progress", received="2022-01-04T10:00", rows=0, tables=0):
    return ReportVersion(n, f"<{n}@x>", city, deadline, at(received), rows, tables)


def test_no_report_is_pending_until_the_due_day_ends_then_missing(config):
    assert state_of(report_states(config, [], at("2022-01-05T23:59:59")), "长沙市", "progress").state == "pending"
    assert state_of(report_states(config, [], at("2022-01-06T00:00")), "长沙市", "progress").state == "missing"


def test_a_report_on_the_due_day_is_on_time_and_the_day_after_is_late(config):
    on_time = report_states(config, [version(1, received="2022-01-05T23:59")], at("2022-01-10T00:00"))
    late = report_states(config, [version(1, received="2022-01-06T00:01")], at("2022-01-10T00:00"))
    assert state_of(on_time, "长沙市", "progress").state == "on_time"
    assert state_of(late, "长沙市", "progress").state == "late"


def test_mail_received_after_now_does_not_count(config):
    states = report_states(config, [version(1, received="2022-01-05T10:00")], at("2022-01-05T09:00"))
    assert state_of(states, "长沙市", "progress").state == "pending"


def test_a_later_version_supersedes_rows_but_the_first_decides_on_time(config):
    versions = [version(1, deadline="summary", received="2022-02-07T10:00", rows=5, tables=1),
                version(2, deadline="summary", received="2022-02-09T10:00", rows=7, tables=1)]
    s = state_of(report_states(config, versions, at("2022-02-10T00:00")), "长沙市", "summary")
    assert (s.state, s.rows, s.message_id, s.versions) == ("on_time", 7, "<2@x>", 2)
    assert s.first_received_at == at("2022-02-07T10:00")


def test_a_follow_up_without_a_table_does_not_wipe_the_rows(config):
    versions = [version(1, deadline="summary", received="2022-02-06T10:00", rows=5, tables=1),
                version(2, deadline="summary", received="2022-02-07T10:00", rows=0, tables=0)]
    s = state_of(report_states(config, versions, at("2022-02-10T00:00")), "长沙市", "summary")
    assert (s.rows, s.message_id) == (5, "<1@x>")


def test_every_city_and_deadline_has_a_state(config):
    assert len(report_states(config, [], at("2022-01-01T00:00"))) == 14 * 3
