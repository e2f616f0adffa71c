"""Corrections: staff decisions folded in order and laid over stored results, problems and versions."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.decide.decisions import (
    corrected_result,
    corrections_from,
    problem_is_open,
    registered_senders,
    sender_registered_at,
)
from service.decide.track import ReportVersion, report_states, state_of
from service.model import Problem, StoredResult
from service.staff import Decision

TZ = ZoneInfo("Asia/Shanghai")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=TZ)


def decision(n: int, kind: str, target: str, undone_by: int | None = None, at_: str = "2022-01-06T10:00",
             **arguments) -> Decision:
    return Decision(n, kind, target, arguments, "张三", "", at(at_), undone_by)


def result(message: int, **values) -> StoredResult:
    fields = dict(sender="a@b.cn", subject="s", received_at=at("2022-01-04T10:00"), city="长沙市",
                  deadline="progress", is_report=True, auto_generated=False, unregistered_sender=False,
                  city_source="sender", deadline_source="keyword", tables=1, message=message)
    return StoredResult(**{**fields, **values})


def problem(code: str, number: int) -> Problem:
    return Problem(code, "问题", number=number)


def fold(config, *decisions: Decision, messages=(1, 2, 3), problems=(10, 11)):
    return corrections_from(list(decisions), config, set(messages), set(problems))


def test_assign_overrides_what_the_rules_said_and_settles_the_attribution_problems(config):
    c = fold(config, decision(1, "assign", "1", city="衡阳市", deadline="summary"))
    fixed = corrected_result(result(1, city=None, deadline=None, is_report=False, unregistered_sender=True), c)
    assert (fixed.city, fixed.deadline, fixed.is_report, fixed.city_source) == \
        ("衡阳市", "summary", True, "staff")
    assert not fixed.unregistered_sender
    assert not problem_is_open(1, problem("unattributed", 10), c)
    assert problem_is_open(1, problem("unknown_county", 11), c)


def test_confirm_sender_or_assign_credits_a_message_held_as_unverified(config):
    held = result(1, sender_unverified=True)
    assert not held.is_version and held.is_candidate
    assert corrected_result(held, fold(config)).sender_unverified
    for c in (fold(config, decision(1, "confirm-sender", "1", city="长沙市", address="a@b.cn", register=False)),
              fold(config, decision(1, "assign", "1", city="长沙市", deadline="progress"))):
        assert corrected_result(held, c).is_version
        assert not problem_is_open(1, problem("sender_unverified", 10), c)
    assert problem_is_open(1, problem("sender_unverified", 10), fold(config, decision(1, "assign", "1", is_report=True)))


def test_a_later_assign_refines_an_earlier_one(config):
    c = fold(config, decision(1, "assign", "1", is_report=False),
             decision(2, "assign", "1", city="衡阳市", deadline="summary"))
    assert corrected_result(result(1), c).is_report is False  # the --not-report still stands
    assert corrected_result(result(1), c).city == "衡阳市"


def test_ignore_leaves_every_list_and_counts_for_nobody(config):
    c = fold(config, decision(1, "ignore", "2"))
    assert corrected_result(result(2), c).is_report is False
    assert not problem_is_open(2, problem("unknown_county", 11), c)
    assert c.decided(2)


def test_resolve_then_reopen_and_undo(config):
    assert not problem_is_open(1, problem("x", 10), fold(config, decision(1, "resolve", "10")))
    reopened = fold(config, decision(1, "resolve", "10"), decision(2, "reopen", "10"))
    assert problem_is_open(1, problem("x", 10), reopened)
    undone = fold(config, decision(1, "resolve", "10", undone_by=2), decision(2, "undo", "1"))
    assert problem_is_open(1, problem("x", 10), undone)


def test_exempt_and_unexempt_by_report(config):
    c = fold(config, decision(1, "exempt", "衡阳市/plan", city="衡阳市", deadline="plan"))
    assert ("衡阳市", "plan") in c.exempt and c.by_report[("衡阳市", "plan")] == [1]
    c = fold(config, decision(1, "exempt", "衡阳市/plan", city="衡阳市", deadline="plan"),
             decision(2, "unexempt", "衡阳市/plan", city="衡阳市", deadline="plan"))
    assert ("衡阳市", "plan") not in c.exempt


def test_decisions_whose_target_is_gone_are_kept_as_stale_with_the_reason(config):
    c = fold(config, decision(1, "ignore", "99"), decision(2, "resolve", "77"),
             decision(3, "exempt", "火星市/plan", city="火星市", deadline="plan"),
             decision(4, "exempt", "长沙市/old", city="长沙市", deadline="old"))
    assert [(d.id, "已" in why) for d, why in c.stale] == [(1, True), (2, True), (3, True), (4, True)]
    assert not c.ignored and not c.exempt


def test_a_registered_sender_counts_from_the_moment_of_the_decision(config):
    registered = registered_senders([decision(1, "confirm-sender", "3", city="益阳市", address="w@qq.com",
                                              register=True, at_="2022-02-08T10:00")], config)
    assert sender_registered_at(registered, "w@qq.com", at("2022-02-08T10:01")) == "益阳市"
    assert sender_registered_at(registered, "w@qq.com", at("2022-02-08T09:59")) is None
    assert sender_registered_at(registered, "x@qq.com", at("2022-02-09T00:00")) is None
    undone = [decision(1, "confirm-sender", "3", undone_by=2, city="益阳市", address="w@qq.com", register=True)]
    assert registered_senders(undone, config) == ()


def version(n, received, registered=True, rows=1, tables=1):
    return ReportVersion(n, f"<{n}@x>", "长沙市", "summary", at(received), rows, tables, registered=registered)


def test_an_unregistered_resend_waits_for_confirmation_and_is_listed_as_a_candidate(config):
    versions = [version(1, "2022-02-06T10:00", rows=5), version(2, "2022-02-07T10:00", registered=False, rows=2)]
    s = state_of(report_states(config, versions, at("2022-02-10T00:00")), "长沙市", "summary")
    assert (s.message, s.rows, s.versions) == (1, 5, 2)
    assert any("#2" in p and "confirm-sender 2" in p for p in s.problems)
    confirmed = fold(config, decision(1, "confirm-sender", "2", city="长沙市", address="w@qq.com"))
    fixed = [version(1, "2022-02-06T10:00", rows=5), version(2, "2022-02-07T10:00", rows=2)]
    assert 2 in confirmed.confirmed
    assert state_of(report_states(config, fixed, at("2022-02-10T00:00"), confirmed), "长沙市", "summary").message == 2


def test_an_unregistered_first_version_is_replaced_by_a_registered_one_as_before(config):
    versions = [version(1, "2022-02-06T10:00", registered=False), version(2, "2022-02-07T10:00")]
    s = state_of(report_states(config, versions, at("2022-02-10T00:00")), "长沙市", "summary")
    assert s.message == 2 and not any("confirm-sender" in p for p in s.problems)


def test_choose_puts_the_chosen_version_in_force(config):
    versions = [version(1, "2022-02-06T10:00", rows=5), version(2, "2022-02-07T10:00", rows=7)]
    c = fold(config, decision(1, "choose", "1"))
    s = state_of(report_states(config, versions, at("2022-02-10T00:00"), c), "长沙市", "summary")
    assert (s.message, s.rows, s.latest_at) == (1, 5, at("2022-02-06T10:00"))
    assert s.received_at == at("2022-02-07T10:00")  # the newest version is still the newest


def test_an_exempt_city_is_exempt_only_while_it_has_not_reported(config):
    c = fold(config, decision(1, "exempt", "长沙市/summary", city="长沙市", deadline="summary"))
    silent = state_of(report_states(config, [], at("2022-02-10T00:00"), c), "长沙市", "summary")
    assert silent.state == "exempt" and silent.decisions == (1,)
    reported = report_states(config, [version(1, "2022-02-06T10:00")], at("2022-02-10T00:00"), c)
    assert state_of(reported, "长沙市", "summary").state == "on_time"
