"""`check-config`: a config file -> valid or the one error, and the campaign plan, printed (shell).

Loads the file and nothing else: no database, no data folder, no mailbox. The plan itself is
`campaign_plan.campaign_plan` (pure); this module prints it for staff (Chinese) or as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import datetime

from .campaign_plan import CampaignPlan, ReminderPlan, TablePlan, campaign_plan
from .clock import parse_instant, system_clock
from .config import load_config
from .errors import ConfigError

WEEKDAYS = "一二三四五六日"
KINDS = {"upcoming": "截止前提醒", "overdue": "逾期提醒"}
FIELD_KINDS = {"seq": "序号", "text": "文本", "county": "县级行政区", "integer": "整数", "decimal": "小数",
               "money": "金额"}


def cmd_check_config(args: argparse.Namespace) -> int:
    """Exit 0 with the plan when the file is valid, 2 with the error when not."""
    try:
        config = load_config(args.config)
    except ConfigError as err:
        if args.json:
            print(json.dumps({"valid": False, "errors": str(err).splitlines()}, ensure_ascii=False, indent=2))
        print(f"error: {err}", file=sys.stderr)
        return 2
    now = parse_instant(args.now, config.tz) if args.now is not None else system_clock(config.tz)()
    plan = campaign_plan(config, now)
    print(json.dumps(plan_json(plan), ensure_ascii=False, indent=2) if args.json else plan_text(plan))
    return 0


def plan_json(plan: CampaignPlan) -> dict:
    """The stable machine-readable form: dates ISO, times aware ISO, lists in time order."""
    return {
        "valid": True,
        "campaign": {"name": plan.campaign, "start": _iso(plan.start), "end": _iso(plan.end),
                     "timezone": plan.timezone},
        "now": plan.now.isoformat(timespec="seconds"),
        "deadlines": [{"id": d.id, "title": d.title, "due": d.due.isoformat(),
                       "due_at": d.due_at.isoformat(timespec="minutes"), "required": d.required,
                       "table": d.table, "keywords": list(d.keywords), "past": d.past} for d in plan.deadlines],
        "reminders": [{"at": r.at.isoformat(timespec="minutes"), "deadline": r.deadline, "kind": r.kind,
                       "cities": list(r.cities), "conditional": r.conditional, "past": r.past,
                       "makeup_workday": r.makeup_workday}
                      for r in plan.reminders],
        "reminders_enabled": plan.reminders_enabled,
        "digest": {"time": plan.digest_time, "recipients": list(plan.digest_recipients)},
        "tables": [{"id": t.id, "title": t.title, "deadlines": list(t.deadlines),
                    "fields": [{"key": f.key, "title": f.title, "kind": f.kind, "required": f.required,
                                "unit": f.unit} for f in t.fields]} for t in plan.tables],
        "cities": list(plan.cities),
        "warnings": [{"code": w.code, "subject": w.subject, "message": w.message} for w in plan.warnings],
    }


def _iso(day) -> str | None:
    return day.isoformat() if day is not None else None


def plan_text(plan: CampaignPlan) -> str:
    """What staff read before a campaign starts: short, aligned, in Chinese."""
    period = f"  {plan.start} 至 {plan.end}" if plan.start and plan.end else ""
    lines = [f"配置有效：{plan.campaign}{period}（时区 {plan.timezone}，市州 {len(plan.cities)} 个）",
             f"检查时刻：{_when(plan.now)}", "", "报送节点（截止日当天 24:00 前报送）"]
    lines += _aligned([[d.id, d.title, f"{_day(d.due)} 24:00", "必报" if d.required else "选报",
                        "已过" if d.past else "", f"统计表 {d.table}" if d.table else ""] for d in plan.deadlines])
    lines += ["", *_reminder_lines(plan)]
    for table in plan.tables:
        lines += ["", *_table_lines(table)]
    if plan.digest_time:
        lines += ["", f"每日汇总：每天 {plan.digest_time} 发送至 {'、'.join(plan.digest_recipients)}"]
    lines += ["", f"提醒事项（{len(plan.warnings)} 条）" if plan.warnings else "提醒事项：无"]
    lines += [f"  ! {w.message}" for w in plan.warnings]
    return "\n".join(lines)


def _reminder_lines(plan: CampaignPlan) -> list[str]:
    if not plan.reminders_enabled:
        return ["催报提醒：已关闭（[reminders] enabled = false）"]
    head = f"催报提醒（按工作日计算；只发给届时尚未报送的市州），共 {len(plan.reminders)} 次"
    rows = [[_when(r.at) + ("（调休上班）" if r.makeup_workday else ""), r.deadline, KINDS[r.kind],
             "已过" if r.past else "", _recipients(r)] for r in plan.reminders]
    return [head, *_aligned(rows)]


def _recipients(reminder: ReminderPlan) -> str:
    who = f"全部 {len(reminder.cities)} 个市州" if reminder.all_cities else "、".join(reminder.cities) or "无"
    return who + (f"（措辞：如{reminder.condition}，请报送）" if reminder.conditional else "")


def _table_lines(table: TablePlan) -> list[str]:
    naming = f"（报送节点：{'、'.join(table.deadlines)}）" if table.deadlines else "（没有报送节点使用）"
    rows = [[f.key, f.title, FIELD_KINDS.get(f.kind, f.kind) + (f"（{f.unit}）" if f.unit else ""),
             "必填" if f.required else ""] for f in table.fields]
    return [f"统计表 {table.id}：{table.title}{naming}，汇总表各列：", *_aligned(rows)]


def _day(day) -> str:
    return f"{day.isoformat()} 周{WEEKDAYS[day.weekday()]}"


def _when(at: datetime) -> str:
    return f"{_day(at.date())} {at:%H:%M}"


def _aligned(rows: list[list[str]]) -> list[str]:
    """Rows of cells padded to each column's display width (a Chinese character is two columns); a column
    empty in every row is left out."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return ["  " + "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row) if widths[i])
            .rstrip() for row in rows]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
