"""Corrections stage: staff decisions (facts, oldest first) + what is known -> Corrections.

Pure. Decisions are never derived and never folded into the derived tables: every view (status,
reminders, digest, workbook, `messages`) reads the derived records and lays the corrections over
them, so `reprocess` (which rebuilds the derived records from the archive) cannot lose one.
A decision whose target is gone (the message purged, the city or deadline left the config, the
problem no longer found) is kept in `stale` with the reason, shown by `decisions`, never dropped.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Collection, Iterable, Sequence

from ..config import Config
from ..model import Problem, Snapshot, StoredResult
from ..staff import Assignment, Corrections, Decision, RegisteredSender

# Kinds that name a message, a report (city/deadline) or a problem as their target.
MESSAGE_KINDS = frozenset({"assign", "ignore", "confirm-sender", "choose"})
REPORT_KINDS = frozenset({"exempt", "unexempt"})
PROBLEM_KINDS = frozenset({"resolve", "reopen"})
KIND_ZH = {"assign": "归属", "ignore": "忽略", "confirm-sender": "确认发件人", "exempt": "免报",
           "unexempt": "取消免报", "choose": "选定为有效版本", "resolve": "已处理", "reopen": "重新打开",
           "undo": "撤销"}


NO_CORRECTIONS = Corrections()


def report_key(city: str, deadline: str) -> str:
    """The target text of a decision about one city's report for one deadline."""
    return f"{city}/{deadline}"


def corrections_from(decisions: Sequence[Decision], config: Config, messages: Collection[int],
                     problem_numbers: Collection[int]) -> Corrections:
    """Fold the decisions not undone, oldest first; those whose target is gone go to `stale`."""
    found = Corrections()
    for d in decisions:
        if not d.active:
            continue
        why = why_stale(d, config, messages, problem_numbers)
        if why:
            found.stale.append((d, why))
            continue
        _apply(found, d)
    return found


def why_stale(d: Decision, config: Config, messages: Collection[int], problem_numbers: Collection[int]) -> str:
    """Why a decision no longer applies, in Chinese; "" when it does."""
    if d.kind in MESSAGE_KINDS and int(d.target) not in messages:
        return f"邮件 #{d.target} 已不存在（已删除）"
    if d.kind in PROBLEM_KINDS and int(d.target) not in problem_numbers:
        return f"问题 {d.target} 已不存在（重新处理后未再出现）"
    city = d.arguments.get("city")
    if city and not any(c.name == city for c in config.cities):
        return f"{city} 已不在配置中"
    deadline = d.arguments.get("deadline")
    if deadline and not any(x.id == deadline for x in config.deadlines):
        return f"报送节点 {deadline} 已不在配置中"
    return ""


def _apply(found: Corrections, d: Decision) -> None:
    kind, args = d.kind, d.arguments
    if kind in MESSAGE_KINDS:
        message = int(d.target)
        found.by_message.setdefault(message, []).append(d.id)
        if kind == "assign":
            found.assigned[message] = _merged(found.assigned.get(message), args)
            found.ignored.discard(message)
        elif kind == "ignore":
            found.ignored.add(message)
            found.assigned[message] = Assignment(is_report=False)
        elif kind == "confirm-sender":
            found.confirmed.add(message)
            if args.get("register"):
                found.registered.append(RegisteredSender(args["address"], args["city"], d.at, d.id))
        else:  # choose
            found.chosen[message] = d
    elif kind in REPORT_KINDS:
        key = (args["city"], args["deadline"])
        found.by_report.setdefault(key, []).append(d.id)
        if kind == "exempt":
            found.exempt[key] = d
        else:
            found.exempt.pop(key, None)
    elif kind in PROBLEM_KINDS:
        number = int(d.target)
        found.by_problem.setdefault(number, []).append(d.id)
        if kind == "resolve":
            found.resolved[number] = d
        else:
            found.resolved.pop(number, None)


def _merged(earlier: Assignment | None, args: dict) -> Assignment:
    """A later assign refines an earlier one: --city/--deadline keep a --report said before, and so on."""
    base = earlier or Assignment()
    return Assignment(city=args.get("city", base.city), deadline=args.get("deadline", base.deadline),
                      is_report=args.get("is_report", base.is_report))


def registered_senders(decisions: Iterable[Decision], config: Config) -> tuple[RegisteredSender, ...]:
    """The addresses staff registered (`confirm-sender --register`, not undone) for cities still configured."""
    cities = {c.name for c in config.cities}
    return tuple(RegisteredSender(d.arguments["address"], d.arguments["city"], d.at, d.id) for d in decisions
                 if d.active and d.kind == "confirm-sender" and d.arguments.get("register")
                 and d.arguments.get("city") in cities)


def sender_registered_at(registered: Iterable[RegisteredSender], sender: str, at: datetime) -> str | None:
    """The city an address registered by staff speaks for, for mail received at `at` (None: not registered)."""
    for r in registered:
        if r.address == sender and r.since <= at:
            return r.city
    return None


def describe(config: Config, d: Decision) -> str:
    """One line in Chinese: what the decision says."""
    a = d.arguments
    title = {x.id: x.title for x in config.deadlines}
    if d.kind == "assign":
        parts = []
        if a.get("city"):
            parts.append(f"归入 {a['city']} {title.get(a['deadline'], a['deadline'])}")
        if "is_report" in a:
            parts.append("计为报送" if a["is_report"] else "不计为报送")
        return f"邮件 #{d.target} " + "，".join(parts)
    if d.kind == "confirm-sender":
        extra = f"，并登记 {a['address']} 为其报送邮箱" if a.get("register") else ""
        return f"确认邮件 #{d.target} 的发件人代表 {a['city']}{extra}"
    if d.kind in ("exempt", "unexempt"):
        return f"{a['city']} {title.get(a['deadline'], a['deadline'])} {KIND_ZH[d.kind]}"
    if d.kind in ("resolve", "reopen"):
        return f"问题 {d.target} {KIND_ZH[d.kind]}"
    if d.kind == "undo":
        return f"撤销决定 #{d.target}"
    return f"邮件 #{d.target} {KIND_ZH.get(d.kind, d.kind)}"


def corrected_result(result: StoredResult, corrections: Corrections) -> StoredResult:
    """A stored result with what staff said laid over it (the stored record itself is never changed)."""
    message = result.message
    assigned = corrections.assigned.get(message)
    confirmed = message in corrections.confirmed or bool(assigned and assigned.city)
    if assigned is None and not confirmed:
        return result
    # Staff vouching for the sender (confirm-sender, or assigning the message to a city) credits it.
    fixed = replace(result, unregistered_sender=result.unregistered_sender and not confirmed,
                    sender_unverified=result.sender_unverified and not confirmed)
    if assigned is None:
        return fixed
    if assigned.city is not None:
        fixed = replace(fixed, city=assigned.city, city_source="staff")
    if assigned.deadline is not None:
        fixed = replace(fixed, deadline=assigned.deadline, deadline_source="staff")
    if assigned.is_report is not None:
        return replace(fixed, is_report=assigned.is_report)
    if assigned.city is not None and assigned.deadline is not None:
        return replace(fixed, is_report=True)  # "this message is that city's report for that deadline"
    return fixed


# Problems a decision about their message settles, besides those resolved by number.
_SETTLED_BY_CONFIRMING = frozenset({"unregistered_sender", "sender_unverified"})
_SETTLED_BY_ASSIGNING = frozenset({"unregistered_sender", "sender_unverified", "unattributed"})


def problem_is_open(message: int, problem: Problem, corrections: Corrections) -> bool:
    """Whether a stored problem still asks staff for action (it stays in the message's history either way)."""
    if problem.number in corrections.resolved or message in corrections.ignored:
        return False
    if problem.code in _SETTLED_BY_CONFIRMING and message in corrections.confirmed:
        return False
    assigned = corrections.assigned.get(message)
    return not (problem.code in _SETTLED_BY_ASSIGNING and assigned is not None and assigned.city is not None)


def corrected(config: Config, snapshot: Snapshot) -> Snapshot:
    """The snapshot with the staff decisions laid over it: results as staff corrected them, only the
    problems still open, and the Corrections for the views that need more (exempt, chosen, by report).
    Take the view at `now` first (Snapshot.at): a decision counts from when it was taken."""
    if snapshot.corrections is not None:
        return snapshot
    numbers = {p.number for found in snapshot.problems.values() for p in found if p.number is not None}
    found = corrections_from(snapshot.decisions, config, {r.message for r in snapshot.results}, numbers)
    problems = {m: tuple(p for p in listed if problem_is_open(m, p, found)) for m, listed in snapshot.problems.items()}
    return replace(snapshot, results=tuple(corrected_result(r, found) for r in snapshot.results),
                   problems=problems, corrections=found)
