"""Tracking: states per city and deadline at a moment, supersede, on time vs late."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.decide.status import states_at
from service.decide.track import ReportVersion, report_states, state_of
from service.model import Problem, Snapshot, StoredResult

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


def stored(n, received, city="长沙市", deadline="progress") -> StoredResult:
    return StoredResult(sender="a@x", subject="", received_at=at(received), city=city, deadline=deadline,
                        is_report=True, auto_generated=False, unregistered_sender=False, city_source="sender",
                        deadline_source="keyword", tables=1, message=n, message_id=f"<{n}@x>")


def test_mail_received_after_now_does_not_count(config):
    snapshot = Snapshot(results=(stored(1, "2022-01-05T10:00"),), row_counts={1: 3})
    assert state_of(states_at(config, snapshot, at("2022-01-05T09:00")), "长沙市", "progress").state == "pending"
    later = state_of(states_at(config, snapshot, at("2022-01-05T10:00")), "长沙市", "progress")
    assert (later.state, later.rows) == ("on_time", 3)


def test_the_view_at_a_moment_leaves_out_later_mail_its_problems_and_rows():
    snapshot = Snapshot(results=(stored(1, "2022-01-04T10:00"), stored(2, "2022-01-05T10:00")),
                        problems={2: (Problem("x", "后来的问题"),)}, row_counts={1: 1, 2: 2})
    view = snapshot.at(at("2022-01-05T09:00"))
    assert [r.message for r in view.results] == [1] and view.problems == {} and view.row_counts == {1: 1}
    assert snapshot.at(at("2022-01-06T00:00")) is snapshot  # nothing later: the snapshot itself


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


def test_a_held_version_counts_for_nothing_and_is_named_in_the_reports_problems(config):
    genuine = ReportVersion(1, "<1>", "长沙市", "progress", at("2022-01-04T10:00"), rows=3, tables=1)
    forged = ReportVersion(2, "<2>", "长沙市", "progress", at("2022-01-05T10:00"), rows=9, tables=1, held=True)
    s = state_of(report_states(config, [genuine, forged], at("2022-01-06T12:00")), "长沙市", "progress")
    assert (s.state, s.message, s.rows, s.versions, s.held) == ("on_time", 1, 3, 1, (2,))
    assert "confirm-sender 2" in s.problems[0]

    alone = state_of(report_states(config, [forged], at("2022-01-06T12:00")), "长沙市", "progress")
    assert (alone.state, alone.message, alone.rows, alone.held) == ("missing", 0, 0, (2,))
    assert "confirm-sender 2" in alone.problems[0]
