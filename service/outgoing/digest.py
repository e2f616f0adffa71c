"""Digest: tracked states + what happened since the last digest -> the daily email to staff.

Shows the city x deadline matrix, arrivals, problems needing a human, sending results,
metric totals, and the health of the mailbox poll (a silent stop must be visible).
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, Sequence

from ..clock import end_of_day
from ..config import City, Config, Deadline
from ..decide.labels import STATE_ZH, shown_state
from ..model import Outgoing, ReportState
from .calendar import WorkCalendar
from .remind import deadline_context
from .render import KIND_LABELS, Renderer, common_context, default_renderer

# (background, text) per state; inline because webmail (163, QQ, Outlook) drops <style>.
STATE_COLOURS = {
    "on_time": ("#e6f4ea", "#137333"),
    "late": ("#fff4e5", "#8a5300"),
    "missing": ("#fdecea", "#b3261e"),
    "pending": ("#f1f3f4", "#444444"),
    "exempt": ("#e8eaf6", "#3949ab"),
    "n/a": ("#ffffff", "#999999"),
}
SENT_OK = frozenset({"sent", "ok"})
NOT_ATTEMPTED = frozenset({"stale", "skipped"})
# "sending" left in the log means the process stopped mid-conversation: the outcome is unknown.
_UNFINISHED = {"sending": "发送过程中断，是否送达未知，请核实", "retry": "暂未发出，将在下次运行时重发"}
MAX_PROBLEMS = 50  # beyond this the digest stops being read; the rest are in the system


def build_digest(config: Config, calendar: WorkCalendar, *, now: datetime, states: list[ReportState],
                 arrived: list[dict], problems: list[dict], unattributed: list[dict], sent: list[dict],
                 stale: list[Outgoing], totals: dict, last_poll_ok: datetime | None,
                 last_poll_error: str | None, warnings: list[str], reminders_held: str = "",
                 renderer: Renderer | None = None, day: date | None = None,
                 decisions: Sequence[dict] = ()) -> Outgoing:
    """The digest for `day`, by default the local day of `now` (key f"digest:{day}", to digest.recipients).

    `sent` statuses: "sent" counts as done; "stale"/"skipped" are ignored; anything else
    ("failed", "retry" waiting for the next run, or "sending" left by a crash) is listed as needing
    a look. `reminders_held`: why reminders are being held (the mailbox unread), "" when they are not.
    `problems` and `unattributed` are what staff have not dealt with yet; `decisions`: what staff
    decided in the last day ({"at", "by", "text", "note"}), listed as 今日人工处理.
    """
    tz = config.tz
    poll = poll_health(config, now, last_poll_ok, last_poll_error)
    failed = [s for s in sent if s.get("status") not in SENT_OK | NOT_ATTEMPTED]
    matrix = state_matrix(config, states, now)
    ctx = {
        **common_context(config, now),
        "now": now.astimezone(tz),
        "deadlines": [deadline_context(d) for d in config.deadlines],
        "matrix": matrix,
        "counts": state_counts(config, matrix),
        "arrived": [_arrival(config, a) for a in arrived],
        "problems": distinct_problems(urgent_first(problems))[:MAX_PROBLEMS],
        "problems_more": max(len(distinct_problems(problems)) - MAX_PROBLEMS, 0),
        "unattributed": [{**u, "received_at": _local(u["received_at"], config)} for u in unattributed],
        "sent_ok_by_kind": _count_by_kind(s for s in sent if s.get("status") in SENT_OK),
        "sent_failed": [_sent_line(config, s) for s in failed],
        "stale": stale_by_deadline(config, stale),
        "stale_count": len(stale),
        "totals": [{"name": f.name_zh, "value": totals.get(f.key), "unit": f.unit} for f in config.template.figures],
        "totals_heading": config.template.overview_heading or config.template.headline,
        "poll": poll,
        "warnings": list(dict.fromkeys([*warnings, *calendar.warnings])),
        "reminders_held": reminders_held,
        "alert": _alert(poll, len(failed), reminders_held),
        "decisions": [{**d, "at": _local(d["at"], config)} for d in decisions],
    }
    subject, text, html = (renderer or default_renderer()).render("digest", **ctx)
    return Outgoing(key=f"digest:{(day or now.astimezone(tz).date()).isoformat()}", kind="digest",
                    to=config.digest.recipients, subject=subject, text=text, html=html)


URGENT_CODES = ("sender_unverified",)  # listed first: a report in a city's name that may be forged


def urgent_first(problems: list[dict]) -> list[dict]:
    """The problems with the urgent ones (URGENT_CODES) moved to the top, otherwise in the order given."""
    return sorted(problems, key=lambda p: p.get("code") not in URGENT_CODES)


def distinct_problems(problems: list[dict]) -> list[dict]:
    """Each (city, file, sentence) once, in the order given: a resend repeating a problem, or one
    problem found in many rows worded alike, is one line for staff."""
    seen: set[tuple] = set()
    found = []
    for p in problems:
        key = (p.get("city"), p.get("file") or "", p["message_zh"])
        if key not in seen:
            seen.add(key)
            found.append(p)
    return found


def stale_by_deadline(config: Config, stale: list[Outgoing]) -> list[dict[str, Any]]:
    """One line's values per deadline for the reminders missed for good: a first run in the middle of
    a campaign finds dozens, which staff need counted, not listed (`remind -v` lists them)."""
    lines = []
    for deadline in config.deadlines:
        mine = [o for o in stale if o.deadline == deadline.id]
        if not mine:
            continue
        kinds = Counter(KIND_LABELS.get(o.kind, o.kind) for o in mine)
        moments = sorted({scheduled_at(o.key) for o in mine} - {None})
        lines.append({"deadline": deadline.title, "count": len(mine), "cities": len({o.city for o in mine}),
                      "kinds": "，".join(f"{kind} {n}" for kind, n in kinds.items()),
                      "first": _local(moments[0], config) if moments else None,
                      "last": _local(moments[-1], config) if len(moments) > 1 else None})
    return lines


def scheduled_at(key: str) -> datetime | None:
    """The scheduled moment in a reminder's sent-log key (remind.reminder_key), None for another key."""
    parts = key.split(":", 4)
    try:
        return datetime.fromisoformat(parts[4]) if parts[0] == "reminder" and len(parts) == 5 else None
    except ValueError:
        return None


def state_matrix(config: Config, states: list[ReportState], now: datetime) -> list[dict[str, Any]]:
    """One row per city in config order, one cell per deadline."""
    by_key = {(s.city, s.deadline): s for s in states}
    return [{"city": city.name,
             "cells": [_cell(config, city, d, by_key.get((city.name, d.id)), now) for d in config.deadlines]}
            for city in config.cities]


def state_counts(config: Config, matrix: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per deadline: how many cities of the matrix are on time, late, missing, pending."""
    counts = []
    for deadline in config.deadlines:
        tally = Counter(cell["state"] for row in matrix for cell in row["cells"]
                        if cell["deadline"] == deadline.id)
        counts.append({**deadline_context(deadline),
                       **{state: tally.get(state, 0) for state in ("on_time", "late", "missing", "pending", "exempt")}})
    return counts


def poll_health(config: Config, now: datetime, last_ok: datetime | None,
                error: str | None) -> dict[str, Any]:
    """Last good poll, hours since, and whether that is too long ago (or never)."""
    hours = (now - last_ok).total_seconds() / 3600 if last_ok else None
    stale = hours is None or hours > config.digest.poll_stale_hours
    return {"last_ok": _local(last_ok, config) if last_ok else None, "hours": hours,
            "stale": stale, "error": error or ""}


def _cell(config: Config, city: City, deadline: Deadline, state: ReportState | None,
          now: datetime) -> dict[str, Any]:
    name = shown_state(config, city.name, deadline, state.state if state else _default_state(config, deadline, now))
    when = (state.first_received_at or state.received_at) if state else None
    bg, fg = STATE_COLOURS.get(name, STATE_COLOURS["pending"])
    return {"deadline": deadline.id, "state": name, "label": STATE_ZH[name],
            "date": _local(when, config) if when else None,
            "versions": state.versions if state else 0, "rows": state.rows if state else 0,
            "problems": len(state.problems) if state else 0, "bg": bg, "fg": fg}


def _default_state(config: Config, deadline: Deadline, now: datetime) -> str:
    # No state from track for this pair: judge from the clock alone.
    return "missing" if now >= end_of_day(deadline.due, config.tz) else "pending"


def _arrival(config: Config, arrival: dict) -> dict[str, Any]:
    return {**arrival, "deadline": _deadline_title(config, arrival.get("deadline")),
            "received_at": _local(arrival["received_at"], config),
            "city": arrival.get("city") or "未知市州", "subject": arrival.get("subject") or "",
            "rows": arrival.get("rows") or 0}


def _sent_line(config: Config, sent: dict) -> dict[str, Any]:
    return {"kind": KIND_LABELS.get(sent.get("kind", ""), sent.get("kind", "")),
            "city": sent.get("city") or "", "deadline": _deadline_title(config, sent.get("deadline")),
            "sent_at": _local(sent["sent_at"], config) if sent.get("sent_at") else None,
            "status": sent.get("status", ""),
            "error": sent.get("error") or _UNFINISHED.get(sent.get("status", ""), "")}


def _count_by_kind(sent: Any) -> list[dict[str, Any]]:
    tally = Counter(KIND_LABELS.get(s.get("kind", ""), s.get("kind", "")) for s in sent)
    return [{"kind": kind, "count": n} for kind, n in tally.items()]


def _deadline_title(config: Config, deadline_id: str | None) -> str:
    titles = {d.id: d.title for d in config.deadlines}
    return titles.get(deadline_id or "", deadline_id or "")


def _alert(poll: dict[str, Any], failures: int, held: str = "") -> str:
    parts = ["催报提醒暂缓发出"] if held else []
    if poll["stale"]:
        parts.append("邮箱从未成功收取" if poll["hours"] is None
                     else f"邮箱已 {poll['hours']:.1f} 小时未成功收取")
    if failures:
        parts.append(f"{failures} 封邮件发送失败")
    return "；".join(parts)


def _local(value: datetime, config: Config) -> datetime:
    return value.astimezone(config.tz)
