"""Remind: deadlines + report states at `now` + the sent log -> reminders due now, and missed ones.

Schedule (config.reminders): at `time` local on the working days `upcoming_workdays` before each
deadline and `overdue_workdays` after it (no overdue notice for an optional deadline).

Catch-up, when the service was down at a scheduled time:
- only the latest past reminder of a (city, deadline, kind) goes out; earlier missed ones are stale;
- an upcoming reminder is still sent until the end of the due day (24时);
- an overdue notice is still sent until the end of the `overdue_catch_up_workdays`-th working day
  after its scheduled day; later it is stale.
Stale reminders are returned (with empty bodies) for the digest to list; they are never sent.

Held: while the mailbox has not been read successfully within `max_poll_age_minutes`, nothing is
sent or given up (hold_reason); the next run after a good poll decides again, by the rules above.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from ..clock import end_of_day
from ..config import City, Config, Deadline
from ..model import Outgoing, ReportState
from .calendar import WorkCalendar
from .render import (
    KIND_LABELS,
    Renderer,
    addressee_of,
    cn_datetime,
    common_context,
    default_renderer,
)

REPORTED = frozenset({"on_time", "late"})


@dataclass(frozen=True)
class Slot:
    """One scheduled reminder moment for a deadline."""

    deadline: Deadline
    kind: str  # "upcoming" | "overdue"
    at: datetime  # scheduled local time
    expires: datetime  # a reminder missed at `at` may still go out until this moment


def reminder_slots(config: Config, calendar: WorkCalendar) -> list[Slot]:
    """Every scheduled reminder of the campaign, sorted by deadline, kind and time."""
    rem, tz = config.reminders, config.tz
    slots = []
    for deadline in config.deadlines:
        due_end = end_of_day(deadline.due, tz)
        for n in rem.upcoming_workdays:
            day = calendar.workdays_before(deadline.due, n)
            slots.append(Slot(deadline, "upcoming", _at(day, rem.time, tz), due_end))
        if not deadline.required:  # optional report: nobody is late, so no overdue notice
            continue
        for n in rem.overdue_workdays:
            day = calendar.workdays_after(deadline.due, n)
            last = calendar.workdays_after(day, rem.overdue_catch_up_workdays)
            slots.append(Slot(deadline, "overdue", _at(day, rem.time, tz), end_of_day(last, tz)))
    return sorted(set(slots), key=lambda s: (s.deadline.id, s.kind, s.at))


def reminder_key(city: str, deadline: str, kind: str, at: datetime) -> str:
    """Sent-log key: each (city, deadline, kind, scheduled time) is sent at most once."""
    return f"reminder:{city}:{deadline}:{kind}:{at.isoformat(timespec='minutes')}"


def due_reminders(config: Config, calendar: WorkCalendar, states: list[ReportState],
                  sent_keys: set[str], now: datetime, *,
                  renderer: Renderer | None = None) -> tuple[list[Outgoing], list[Outgoing]]:
    """(to_send, stale) at `now`; a city counts as reported only if its state is on_time/late
    (one staff exempted is not reminded either).

    A city with no state for a deadline is treated as not reported.
    """
    if not config.reminders.enabled:
        return [], []
    renderer = renderer or default_renderer()
    # reported, or excused by staff (exempt): nobody is reminded of either
    reported = {(s.city, s.deadline) for s in states if s.state in REPORTED or s.state == "exempt"}
    to_send: list[Outgoing] = []
    stale: list[Outgoing] = []
    slots = [s for s in reminder_slots(config, calendar) if s.at <= now]
    for (deadline_id, kind), group in groupby(slots, key=lambda s: (s.deadline.id, s.kind)):
        past = list(group)
        latest = past[-1]
        cities, conditional = recipients_for(config, latest.deadline)
        for city in cities:
            if (city.name, deadline_id) in reported:
                continue
            for slot in past:
                key = reminder_key(city.name, deadline_id, kind, slot.at)
                if key in sent_keys:
                    continue
                if slot is latest and now < slot.expires and city.emails:
                    ctx = reminder_context(config, calendar, city, slot, now, conditional)
                    to_send.append(_outgoing(key, slot, city, renderer.render(f"reminder_{kind}", **ctx)))
                else:
                    stale.append(_stale(key, slot, city, superseded=slot is not latest))
    return to_send, stale


def hold_reason(config: Config, last_poll_ok: datetime | None, now: datetime) -> str:
    """Why reminders must wait at `now`, "" when they may go out: a report may be waiting unread
    on the server, so no "not received" letter until the mailbox was read recently."""
    limit = config.reminders.max_poll_age_minutes
    if last_poll_ok is None:
        return "邮箱尚未成功收取，催报提醒暂缓发出，收取成功后补发 (no successful mailbox poll yet)"
    age = (now - last_poll_ok).total_seconds() / 60
    if age <= limit:
        return ""
    return (f"邮箱已 {age:.0f} 分钟未成功收取（上次成功：{cn_datetime(last_poll_ok.astimezone(config.tz))}），"
            f"催报提醒暂缓发出，收取恢复后补发 (last good poll {age:.0f} min ago, limit {limit:g} min)")


def recipients_for(config: Config, deadline: Deadline) -> tuple[list[City], bool]:
    """(cities to remind, conditional wording?) for a deadline.

    An optional deadline goes to reminders.plan_cities when listed (names or aliases), else to all
    cities worded "如<the deadline's condition>，请报送".
    """
    if deadline.required:
        return list(config.cities), False
    wanted = set(config.reminders.plan_cities)
    if not wanted:
        return list(config.cities), True
    return [c for c in config.cities if wanted & set(c.names)], False


def reminder_context(config: Config, calendar: WorkCalendar, city: City, slot: Slot,
                     now: datetime, conditional: bool) -> dict[str, Any]:
    """Template values; time left or overdue is computed from `now`, the moment of sending."""
    today = now.astimezone(config.tz).date()
    due = slot.deadline.due
    return {
        **common_context(config, now),
        "addressee": addressee_of(city),
        "city": city.name,
        "deadline": deadline_context(slot.deadline, config),
        "conditional": conditional,
        "days_left": max((due - today).days, 0),
        "workdays_left": calendar.workdays_between(today, due),
        "days_over": max((today - due).days, 0),
        "workdays_over": calendar.workdays_between(due, today),
    }


def deadline_context(deadline: Deadline, config: Config | None = None) -> dict[str, Any]:
    """A deadline as plain template values; with config, the table its report carries (headline, row name)."""
    table = config.expected_table(deadline.id) if config else None
    return {"id": deadline.id, "title": deadline.title, "due": deadline.due, "required": deadline.required,
            "table": {"headline": table.headline, "row_name": table.row_name} if table else None,
            "request": deadline.request or deadline.title, "invitation": deadline.invitation,
            "condition": deadline.condition, "otherwise": deadline.otherwise}


def _at(day: date, hh_mm: str, tz: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime.combine(day, time(hours, minutes), tz)


def _outgoing(key: str, slot: Slot, city: City, rendered: tuple[str, str, str]) -> Outgoing:
    subject, text, html = rendered
    return Outgoing(key=key, kind=slot.kind, to=city.emails, subject=subject, text=text, html=html,
                    city=city.name, deadline=slot.deadline.id)


def _stale(key: str, slot: Slot, city: City, *, superseded: bool) -> Outgoing:
    if not city.emails:
        reason = "未配置该市州邮箱"
    elif superseded:
        reason = "已由之后的提醒代替"
    else:
        reason = "已过补发期限"
    subject = (f"（未发出：{reason}）{KIND_LABELS[slot.kind]} {city.name} {slot.deadline.title}"
               f"（原定{cn_datetime(slot.at)}）")
    return Outgoing(key=key, kind=slot.kind, to=city.emails, subject=subject, text="", html="",
                    city=city.name, deadline=slot.deadline.id)
