"""Staff corrections from the command line: check the arguments, record the decision, say what changed.

Each command is one fact in the decisions table (service/store/decision_log.py); every view lays the
decisions over the derived records (service/decide/decisions.py), so `reprocess` keeps them. A wrong
argument is one line in Chinese and exit code 2, with nothing recorded.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from .app import App
from .config import City, Config
from .decide.decisions import corrected, describe, report_key
from .decide.labels import state_label
from .decide.status import states_at
from .model import ReportState, Snapshot, StoredResult
from .staff import Decision
from .text import escaped, fold


class WrongArgument(Exception):
    """A correction that names something unknown or does not fit: nothing is recorded."""


@dataclass(frozen=True)
class Planned:
    """A decision checked and ready to record."""

    kind: str
    target: str
    arguments: dict


def find_city(config: Config, name: str) -> City:
    """A configured city by its name or an alias."""
    wanted = fold(name.strip())
    for city in config.cities:
        if any(fold(n) == wanted for n in city.names):
            return city
    raise WrongArgument(f"未知的市州：{name}（配置中没有这个市州或别名）")


def check_deadline(config: Config, deadline: str) -> str:
    if not any(d.id == deadline for d in config.deadlines):
        known = "、".join(f"{d.id}（{d.title}）" for d in config.deadlines)
        raise WrongArgument(f"未知的报送节点：{deadline}（可用：{known}）")
    return deadline


@dataclass(frozen=True)
class Seen:
    """What a decision is checked against, read once: the store's snapshot and its view at now (the
    decisions taken so far laid over it)."""

    config: Config
    snapshot: Snapshot
    view: Snapshot
    now: datetime

    @classmethod
    def read(cls, app: App) -> "Seen":
        snapshot, now = app.store.snapshot(), app.clock()
        return cls(app.config, snapshot, corrected(app.config, snapshot.at(now)), now)


def find_message(view: Snapshot, text: str) -> StoredResult:
    """The result (as staff corrected it) of message number `text`, as `messages` shows it."""
    number = _number(text, "邮件编号")
    for r in view.results:
        if r.message == number:
            return r
    raise WrongArgument(f"没有编号为 {number} 的邮件（编号见 `messages`）")


def _number(text: str, what: str) -> int:
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise WrongArgument(f"{what}应为数字：{text}") from None


def plan_assign(seen: Seen, args: argparse.Namespace) -> Planned:
    r = find_message(seen.view, args.message)
    arguments: dict = {}
    if args.city or args.deadline:
        if not (args.city and args.deadline):
            raise WrongArgument("归属邮件须同时给出 --city 和 --deadline")
        arguments = dict(city=find_city(seen.config, args.city).name,
                         deadline=check_deadline(seen.config, args.deadline))
    if args.not_report and args.report:
        raise WrongArgument("--report 与 --not-report 不能同时使用")
    if args.not_report or args.report:
        arguments["is_report"] = bool(args.report)
    if not arguments:
        raise WrongArgument("请给出 --city 和 --deadline，或 --report / --not-report")
    if arguments.get("is_report") and not (arguments.get("city") or (r.city and r.deadline)):
        raise WrongArgument(f"邮件 #{r.message} 尚未归属市州和报送节点：请同时给出 --city 和 --deadline")
    return Planned("assign", str(r.message), arguments)


def plan_ignore(seen: Seen, args: argparse.Namespace) -> Planned:
    return Planned("ignore", str(find_message(seen.view, args.message).message), {})


def plan_confirm_sender(seen: Seen, args: argparse.Namespace) -> Planned:
    view = seen.view
    r = find_message(view, args.message)
    raw = next(s for s in seen.snapshot.results if s.message == r.message)  # what the rules said
    if not r.city:
        raise WrongArgument(f"邮件 #{r.message} 尚未归属市州，无法确认发件人：请先用 assign 指定市州")
    if not (raw.unregistered_sender or raw.sender_unverified):
        raise WrongArgument(f"邮件 #{r.message} 的发件人 {r.sender} 已是登记邮箱且未被判为可疑，无需确认")
    if r.message in view.corrections.confirmed and not args.register:
        raise WrongArgument(f"邮件 #{r.message} 的发件人已确认")
    if args.register and not r.sender:
        raise WrongArgument(f"邮件 #{r.message} 没有可登记的发件地址")
    arguments = dict(city=r.city, address=r.sender.lower(), register=bool(args.register))
    return Planned("confirm-sender", str(r.message), arguments)


def _plan_exemption(kind: str) -> Callable[[Seen, argparse.Namespace], Planned]:
    def plan(seen: Seen, args: argparse.Namespace) -> Planned:
        city = find_city(seen.config, args.city).name
        deadline = check_deadline(seen.config, args.deadline)
        exempt = (city, deadline) in seen.view.corrections.exempt
        if kind == "unexempt" and not exempt:
            raise WrongArgument(f"{city} 的“{seen.config.deadline(deadline).title}”未登记免报，无需取消")
        if kind == "exempt" and exempt:
            raise WrongArgument(f"{city} 的“{seen.config.deadline(deadline).title}”已登记免报")
        return Planned(kind, report_key(city, deadline), dict(city=city, deadline=deadline))
    return plan


def plan_choose(seen: Seen, args: argparse.Namespace) -> Planned:
    r = find_message(seen.view, args.message)
    if r.sender_unverified:
        raise WrongArgument(f"邮件 #{r.message} 的发件人未通过验证，请先核实并确认发件人（confirm-sender {r.message}）")
    if not r.is_version:
        raise WrongArgument(f"邮件 #{r.message} 不是一份报送，不能选为有效版本")
    return Planned("choose", str(r.message), {})


def plan_resolve(seen: Seen, args: argparse.Namespace) -> Planned:
    number = _number(args.problem, "问题编号")
    if not any(p.number == number for found in seen.snapshot.problems.values() for p in found):
        raise WrongArgument(f"没有编号为 {number} 的问题（编号见 `messages`）")
    resolved = number in seen.view.corrections.resolved
    if args.reopen and not resolved:
        raise WrongArgument(f"问题 {number} 并未标记为已处理")
    if not args.reopen and resolved:
        raise WrongArgument(f"问题 {number} 已标记为已处理")
    return Planned("reopen" if args.reopen else "resolve", str(number), {})


PLANNERS: dict[str, Callable[[Seen, argparse.Namespace], Planned]] = {
    "assign": plan_assign, "ignore": plan_ignore, "confirm-sender": plan_confirm_sender,
    "exempt": _plan_exemption("exempt"), "unexempt": _plan_exemption("unexempt"),
    "choose": plan_choose, "resolve": plan_resolve,
}


# what a decision's fields default to when a caller (the web form) leaves them out
FIELD_DEFAULTS = dict(message="", city=None, deadline=None, report=False, not_report=False, register=False,
                      problem="", reopen=False, decision="")


def take_decision(app: App, kind: str, fields: dict, by: str, note: str) -> tuple[Decision, list[str]]:
    """Check one correction (or an undo), record it, and say what changed in the report states.

    The command line and the web workbench both come here, so a decision passes the same checks
    wherever it is taken. kind: a PLANNERS key or "undo"; fields: the command's arguments by name
    (message, city, deadline, report, not_report, register, problem, reopen, decision).
    Raises WrongArgument (nothing recorded) for an unknown kind or a wrong argument.
    """
    args = argparse.Namespace(**{**FIELD_DEFAULTS, **fields})
    by = by.strip()[:100]
    if not by:
        raise WrongArgument("须说明由谁作出决定")
    seen = Seen.read(app)  # one read: the checks and the states before the decision
    if kind == "undo":
        target = check_undo(seen, args.decision)
    elif kind not in PLANNERS:
        raise WrongArgument(f"未知的处理类别：{kind}")
    else:
        planned = PLANNERS[kind](seen, args)
    before = states_at(seen.config, seen.snapshot, seen.now)
    if kind == "undo":
        decision = app.store.undo_decision(target.id, by, note or "", seen.now)
    else:
        decision = app.store.record_decision(planned.kind, planned.target, planned.arguments, by, note or "",
                                             seen.now)
    return decision, state_changes(app.config, before, states_now(app))


def check_undo(seen: Seen, text: str) -> Decision:
    """The decision `text` names, when it can still be taken back."""
    number = _number(text, "决定编号")
    target = next((d for d in seen.snapshot.decisions if d.id == number), None)
    if target is None:
        raise WrongArgument(f"没有编号为 {number} 的决定（见 `decisions`）")
    if target.kind == "undo":
        raise WrongArgument(f"决定 #{number} 本身是撤销，不能再撤销；请重新作出原决定")
    if target.undone_by is not None:
        raise WrongArgument(f"决定 #{number} 已由 #{target.undone_by} 撤销")
    return target


def decision_text(app: App, decision: Decision) -> str:
    """"已记录决定 #7：…", an undo naming what it took back."""
    if decision.kind != "undo":
        return f"已记录决定 #{decision.id}：{describe(app.config, decision)}"
    target = next(d for d in app.store.decisions() if d.id == int(decision.target))
    return f"已记录决定 #{decision.id}：撤销 #{target.id}（{describe(app.config, target)}）"


def cmd_decide(app: App, args: argparse.Namespace) -> int:
    """One correction or undo: check, record, print what changed in the report states."""
    fields = {k: v for k, v in vars(args).items() if k in FIELD_DEFAULTS}
    try:
        decision, changes = take_decision(app, args.command, fields, _who(args), args.note or "")
    except WrongArgument as err:
        return _refused(err)
    print(decision_text(app, decision))
    print("\n".join(changes) if changes else "各市州报送状态无变化")
    return 0


def cmd_decisions(app: App, args: argparse.Namespace) -> int:
    """The audit log, newest first; a decision whose target is gone says so."""
    snapshot = app.store.snapshot()
    stale = dict((d.id, why) for d, why in corrected(app.config, snapshot).corrections.stale)
    docs = [decision_document(app.config, d, stale.get(d.id, "")) for d in reversed(snapshot.decisions)]
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0
    if not docs:
        print("尚无人工处理记录")
    for doc in docs:
        flags = "（已撤销）" if doc["undone_by"] else ""
        flags += f"（不再适用：{doc['stale']}）" if doc["stale"] else ""
        note = f" 备注：{escaped(doc['note'])}" if doc["note"] else ""
        print(f"#{doc['id']} {doc['at'][:16]} {escaped(doc['by'])} {doc['text']}{flags}{note}")
    return 0


def decision_document(config: Config, d: Decision, stale: str = "") -> dict:
    return {"id": d.id, "kind": d.kind, "target": d.target, "arguments": d.arguments, "by": d.by,
            "note": d.note, "at": d.at.astimezone(config.tz).isoformat(), "undone_by": d.undone_by,
            "stale": stale, "text": describe(config, d)}


def states_now(app: App) -> list[ReportState]:
    return states_at(app.config, app.store.snapshot(), app.clock())


def state_changes(config: Config, before: Sequence[ReportState], after: Sequence[ReportState]) -> list[str]:
    """e.g. "衡阳市 活动组织情况: 未报 -> 按时", for each report whose state, version or rows changed."""
    old = {(s.city, s.deadline): s for s in before}
    lines = []
    for s in after:
        was = old.get((s.city, s.deadline))
        if was is None or (was.state, was.message, was.rows) == (s.state, s.message, s.rows):
            continue
        deadline = config.deadline(s.deadline)
        label_was, label_now = (state_label(config, x.city, deadline, x.state) for x in (was, s))
        line = f"{s.city} {deadline.title}: {label_was} -> {label_now}"
        if was.message != s.message:
            line += f"（有效版本 #{was.message or '—'} -> #{s.message or '—'}，{was.rows} -> {s.rows} 行）"
        elif was.rows != s.rows:
            line += f"（{was.rows} -> {s.rows} 行）"
        lines.append(line)
    return lines


def _who(args: argparse.Namespace) -> str:
    """--by, else the login name (a container may run as a uid without a name)."""
    if args.by and args.by.strip():
        return args.by.strip()[:100]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _refused(err: WrongArgument) -> int:
    print(f"错误：{err}", file=sys.stderr)
    return 2


def add_arguments(commands: dict[str, argparse.ArgumentParser]) -> None:
    """The correction commands' own arguments (each also takes --by, --note and --now)."""
    for name in (*PLANNERS, "undo"):
        commands[name].add_argument("--by", help="who decides (default: the login name)")
        commands[name].add_argument("--note", help="why (kept with the decision)")
    for name in ("assign", "ignore", "confirm-sender", "choose"):
        commands[name].add_argument("message", metavar="MSG", help="message number, as `messages` shows it")
    commands["assign"].add_argument("--city", help="city name or alias")
    commands["assign"].add_argument("--deadline", help="deadline id")
    commands["assign"].add_argument("--report", action="store_true", help="it is a report")
    commands["assign"].add_argument("--not-report", action="store_true", help="it is no report")
    commands["confirm-sender"].add_argument("--register", action="store_true",
                                            help="also add the address to the city's known senders")
    for name in ("exempt", "unexempt"):
        commands[name].add_argument("city", metavar="CITY")
        commands[name].add_argument("deadline", metavar="DEADLINE")
    commands["resolve"].add_argument("problem", metavar="PROBLEM", help="problem number, as `messages` shows it")
    commands["resolve"].add_argument("--reopen", action="store_true", help="the problem is open again")
    commands["undo"].add_argument("decision", metavar="DECISION", help="decision number, as `decisions` shows it")
    commands["decisions"].add_argument("--json", action="store_true", help="machine-readable output")
