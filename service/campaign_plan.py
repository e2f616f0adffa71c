"""Campaign plan: config + now -> what the campaign will do (deadlines, reminder moments, tables, warnings).

Pure: no store, no data folder, no mailbox. The reminder moments are the scheduler's own
(`outgoing.remind.reminder_slots` on the same `WorkCalendar`), so `check-config` shows exactly the
moments `remind` and `run` will use. Printed by `check_config.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .clock import end_of_day
from .config import Config, Deadline
from .outgoing.calendar import WorkCalendar
from .outgoing.remind import recipients_for, reminder_slots


@dataclass(frozen=True)
class DeadlinePlan:
    """One deadline: due at `due_at`, the first instant after its local day ends."""

    id: str
    title: str
    due: date
    due_at: datetime
    required: bool
    table: str | None  # the [[tables]] id its report carries, None for none
    keywords: tuple[str, ...]
    past: bool  # due_at <= now


@dataclass(frozen=True)
class ReminderPlan:
    """One scheduled reminder moment; it goes to the `cities` that have not reported by then."""

    at: datetime
    deadline: str
    kind: str  # "upcoming" | "overdue"
    cities: tuple[str, ...]
    all_cities: bool  # cities is every city of the config
    conditional: bool  # worded "如<condition>，请报送" (optional deadline without plan_cities)
    past: bool  # at <= now
    makeup_workday: bool  # a Saturday or Sunday worked in exchange for a holiday (调休上班)
    condition: str = ""  # the deadline's condition (举办分会场活动)


@dataclass(frozen=True)
class FieldPlan:
    key: str
    title: str
    kind: str
    required: bool
    unit: str | None


@dataclass(frozen=True)
class TablePlan:
    id: str
    title: str
    fields: tuple[FieldPlan, ...]
    deadlines: tuple[str, ...]  # the deadlines naming this table


@dataclass(frozen=True)
class PlanWarning:
    """Something staff should fix or know before the campaign starts; the config is still valid."""

    code: str  # unknown_year | city_without_email | deadline_past | plan_city_unknown
    message: str  # Chinese, one line
    subject: str  # the year, city or deadline it is about


@dataclass(frozen=True)
class CampaignPlan:
    campaign: str
    start: date | None
    end: date | None
    timezone: str
    now: datetime
    deadlines: tuple[DeadlinePlan, ...]
    reminders_enabled: bool
    reminder_time: str
    reminders: tuple[ReminderPlan, ...]
    digest_time: str | None  # None when the digest is off
    digest_recipients: tuple[str, ...]
    tables: tuple[TablePlan, ...]
    cities: tuple[str, ...]
    warnings: tuple[PlanWarning, ...]


def campaign_plan(config: Config, now: datetime) -> CampaignPlan:
    """What `config` will do, seen at `now` (aware)."""
    calendar = WorkCalendar(config.calendar)
    reminders = reminder_plans(config, calendar, now) if config.reminders.enabled else ()
    deadlines = tuple(deadline_plan(config, d, now) for d in sorted(config.deadlines, key=lambda d: d.due))
    return CampaignPlan(
        campaign=config.campaign.name, start=config.campaign.start, end=config.campaign.end,
        timezone=config.service.timezone, now=now.astimezone(config.tz), deadlines=deadlines,
        reminders_enabled=config.reminders.enabled, reminder_time=config.reminders.time, reminders=reminders,
        digest_time=config.digest.time if config.digest.enabled else None,
        digest_recipients=config.digest.recipients if config.digest.enabled else (),
        tables=table_plans(config), cities=tuple(c.name for c in config.cities),
        warnings=plan_warnings(config, deadlines, reminders))


def deadline_plan(config: Config, deadline: Deadline, now: datetime) -> DeadlinePlan:
    due_at = end_of_day(deadline.due, config.tz)
    return DeadlinePlan(id=deadline.id, title=deadline.title, due=deadline.due, due_at=due_at,
                        required=deadline.required, table=table_of(config, deadline),
                        keywords=deadline.keywords, past=due_at <= now)


def table_of(config: Config, deadline: Deadline) -> str | None:
    """The table id a deadline's report carries: `table = "..."` once templates exist; before them the
    one deadline `config.table_deadline` names carries the built-in 附件1 table."""
    named = getattr(deadline, "table", "")  # "" only before Deadline has the key
    if named != "":
        return named
    return "附件1" if deadline.id == config.table_deadline.id else None


def reminder_plans(config: Config, calendar: WorkCalendar, now: datetime) -> tuple[ReminderPlan, ...]:
    """Every reminder moment the scheduler will use, in time order."""
    plans = []
    for slot in reminder_slots(config, calendar):
        cities, conditional = recipients_for(config, slot.deadline)
        plans.append(ReminderPlan(at=slot.at, deadline=slot.deadline.id, kind=slot.kind,
                                  cities=tuple(c.name for c in cities),
                                  all_cities=len(cities) == len(config.cities), conditional=conditional,
                                  condition=slot.deadline.condition,
                                  past=slot.at <= now,
                                  makeup_workday=slot.at.weekday() >= 5 and calendar.is_workday(slot.at.date())))
    return tuple(sorted(plans, key=lambda p: (p.at, p.deadline, p.kind)))


def table_plans(config: Config) -> tuple[TablePlan, ...]:
    """Each `[[tables]]` template with its columns (none before the config declares templates)."""
    plans = []
    for table in getattr(config, "tables", ()):
        fields = tuple(FieldPlan(key=f.key, title=f.title, kind=f.kind, required=bool(f.required),
                                 unit=getattr(f, "unit", None) or None) for f in table.fields)
        naming = tuple(d.id for d in config.deadlines if getattr(d, "table", None) == table.id)
        plans.append(TablePlan(id=table.id, title=table.title, fields=fields, deadlines=naming))
    return tuple(plans)


def plan_warnings(config: Config, deadlines: tuple[DeadlinePlan, ...],
                  reminders: tuple[ReminderPlan, ...]) -> tuple[PlanWarning, ...]:
    """Unknown calendar years, cities nobody can write to, deadlines already past, plan_cities naming nobody."""
    warnings = [PlanWarning("unknown_year", f"{year}年的法定节假日与调休未知（chinesecalendar 与配置 [calendar] 均无），"
                                            f"按周一至周五计算工作日：请在 [calendar] 中列出 {year} 年的 holidays 与 workdays",
                            str(year))
                for year in unknown_years(config, deadlines, reminders)]
    warnings += [PlanWarning("city_without_email", f"{c.name} 没有配置邮箱（emails）：无法识别其来信，也不会收到催报提醒",
                             c.name) for c in config.cities if not c.emails]
    names = {name for c in config.cities for name in c.names}
    warnings += [PlanWarning("plan_city_unknown", f"[reminders] plan_cities 中的“{name}”不是任何市州的名称或别名",
                             name) for name in config.reminders.plan_cities if name not in names]
    warnings += [PlanWarning("deadline_past", f"报送节点 {d.id}（{d.title}）的截止日期 {d.due} 已过", d.id)
                 for d in deadlines if d.past]
    return tuple(warnings)


def unknown_years(config: Config, deadlines: tuple[DeadlinePlan, ...],
                  reminders: tuple[ReminderPlan, ...]) -> list[int]:
    """Years the campaign counts working days in that neither chinesecalendar nor [calendar] knows
    (the calendar then falls back to Monday-Friday: a reminder could fall on a holiday)."""
    days = [d.due for d in deadlines] + [r.at.date() for r in reminders]
    days += [day for day in (config.campaign.start, config.campaign.end) if day is not None]
    listed = {d.year for d in (*config.calendar.holidays, *config.calendar.workdays)}
    return sorted(year for year in {d.year for d in days}
                  if year not in listed and not WorkCalendar.package_knows(year))
