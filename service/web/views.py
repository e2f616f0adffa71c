"""What each page shows, gathered from the store as at `now` (shell): the one module of the web
package that knows the shape of the stored records. Input: the App and `now`; output: plain dicts
and values for the templates (text from mail is escaped by the templates, never here)."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from .. import jobs
from ..app import App
from ..decide.decisions import corrected_result, problem_is_open
from ..decide.labels import shown_state, state_label
from ..decide.status import load_corrections, load_states
from ..health import health_problems, health_values
from ..outgoing.remind import recipients_for, reminder_slots
from ..parse import parse_message
from . import charts

SOURCE_ZH = {"sender": "发件地址（已登记邮箱）", "subject": "邮件标题", "filename": "附件文件名", "unit": "表格的填报单位",
             "body": "邮件正文", "staff": "人工指定", "keyword": "标题或附件名中的关键词", "date": "收到日期（最近的未截止节点）",
             "": "未能判断"}
KIND_ZH = {"receipt": "回执", "reminder": "催报提醒", "digest": "每日汇总", "notice": "通知"}


def overview(app: App, now: datetime) -> dict[str, Any]:
    """总览: the matrix, the worker's health, the next reminders and the two pictures."""
    config = app.config
    states = load_states(app.store, config, now)
    by_key = {(s.city, s.deadline): s for s in states}
    matrix = [{"city": city.name, "cells": [_cell(app, by_key.get((city.name, d.id)), city.name, d)
                                             for d in config.deadlines]} for city in config.cities]
    values = health_values(app.store, config.health.max_failed_sends)
    ok = values.last_poll_ok
    alive = bool(ok and now - ok <= timedelta(minutes=config.health.max_poll_age_minutes))
    return dict(matrix=matrix, deadlines=config.deadlines, now=now, last_poll_ok=ok, worker_alive=alive,
                health_problems=health_problems(config, values, now), reminders=next_reminders(app, states, now),
                chart_days=_days_chart(app, now), chart_cities=_cities_chart(app))


def _cell(app: App, state: Any, city: str, deadline: Any) -> dict[str, Any]:
    if state is None:
        return dict(css="n-a", label="—", date=None, rows=0, problems=0, message=0)
    shown = shown_state(app.config, city, deadline, state.state)
    return dict(css=shown.replace("_", "-").replace("/", "-"), label=state_label(app.config, city, deadline, state.state),
                date=state.first_received_at, rows=state.rows, problems=len(state.problems), message=state.message,
                note=state.note)


def next_reminders(app: App, states: list, now: datetime, most: int = 3) -> list[dict[str, Any]]:
    """The next scheduled reminder moments after `now`, with the cities each would go to as things stand."""
    reported = {(s.city, s.deadline) for s in states if s.state in ("on_time", "late", "exempt")}
    upcoming = sorted((s for s in reminder_slots(app.config, app.calendar) if s.at > now), key=lambda s: s.at)
    found = []
    for slot in upcoming[:most]:
        cities, _ = recipients_for(app.config, slot.deadline)
        found.append(dict(at=slot.at, deadline=slot.deadline.title, kind="截止前提醒" if slot.kind == "upcoming" else "逾期催报",
                          cities=[c.name for c in cities if (c.name, slot.deadline.id) not in reported]))
    return found


def _days_chart(app: App, now: datetime) -> str:
    tz = app.config.tz
    counts = Counter(r["received_at"].astimezone(tz).date() for r in app.store.results()
                     if r["is_report"] and r["received_at"] <= now and r["duplicate_of"] is None)
    return charts.reports_per_day(counts, [(d.due, d.title) for d in app.config.deadlines])


CITY_FIGURES = (("participants", "参与人数", " 人", -3), ("products", "商品数", " 件", -2), ("sales_wan", "销售额", " 万元", -1))


def _cities_chart(app: App) -> list[str]:
    """One bar chart per summary figure (参与人数, 商品数, 销售额) of the workbook's 概况 lines."""
    summary = jobs.compile_summary(app)
    lines = summary.overview[:-1]  # the last line is the province total
    return [charts.per_city([(str(line[0]), line[column]) for line in lines], unit,
                            f"各市州{title}（{summary.deadline.title}）")
            for _, title, unit, column in CITY_FIGURES]


def corrected(app: App, now: datetime) -> tuple[Any, list[dict], dict[int, list[dict]]]:
    """(corrections, results with the decisions laid over, problems by message with `open`)."""
    stored, found = app.store.results(), app.store.problems()
    corrections = load_corrections(app.store, app.config, stored, found, now)
    problems: dict[int, list[dict]] = {}
    for p in found:
        problems.setdefault(p["message"], []).append(dict(p, open=problem_is_open(p, corrections)))
    return corrections, [corrected_result(r, corrections) for r in stored], problems


def city_page(app: App, name: str, now: datetime) -> dict[str, Any] | None:
    """A city's messages, the version in force per deadline, its rows, contacts, letters sent to it."""
    city = next((c for c in app.config.cities if c.name == name), None)
    if city is None:
        return None
    states = [s for s in load_states(app.store, app.config, now) if s.city == name]
    corrections, results, problems = corrected(app, now)
    mine = [r for r in results if r["city"] == name]
    in_force = [s.message for s in states if s.message]
    rows = app.store.rows(in_force) if in_force else []
    units = [u for r in mine if r["message"] in in_force for u in json.loads(r["units"]) if u.get("contact") or u.get("phone")]
    sent = [s for s in app.store.sent_records() if s.city == name]
    return dict(city=city, states=[dict(state=s, deadline=app.config.deadline(s.deadline),
                                        label=state_label(app.config, name, app.config.deadline(s.deadline), s.state))
                                   for s in states],
                messages=mine, problems=problems, rows=rows, units=units, sent=sent, kind_zh=KIND_ZH,
                ignored=corrections.ignored)


def message_page(app: App, number: int, now: datetime) -> dict[str, Any] | None:
    """One message: headers, body text, attachments, tables read, problems, why it was attributed."""
    corrections, results, problems = corrected(app, now)
    result = next((r for r in results if r["message"] == number), None)
    if result is None:
        return None
    stored = app.store.stored_messages_by_id([number])[0]
    parsed, why_not = parsed_message(app, number)
    rows = app.store.rows([number])
    decisions = [d for d in app.store.decisions() if d.id in set(corrections.by_message.get(number, []))]
    return dict(r=result, stored=stored, parsed=parsed, why_not=why_not,
                attachments=json.loads(result["attachments"]), rows=rows, problems=problems.get(number, []),
                city_source=SOURCE_ZH.get(result["city_source"], result["city_source"]),
                deadline_source=SOURCE_ZH.get(result["deadline_source"], result["deadline_source"]),
                ignored=number in corrections.ignored, decisions=decisions,
                deadline=app.config.deadline(result["deadline"]) if result["deadline"] else None)


def parsed_message(app: App, number: int) -> tuple[Any, str]:
    """(the message parsed again from the archive, "") or (None, why it is not parsed here).

    Only mail that parsed in its bounded worker before is parsed in the web process: a quarantined
    message, or one over max_message_bytes, is never opened here."""
    if number in app.store.quarantined():
        return None, "该邮件解析时超出资源上限，已隔离，网页中不打开"
    stored = app.store.stored_messages_by_id([number])
    if not stored:
        return None, "邮件已删除"
    raw = app.archive.load(stored[0].sha256)
    if len(raw) > app.config.limits.max_message_bytes:
        return None, "邮件过大，未解析"
    return parse_message(raw, app.config.limits, app.config.tz), ""


def problems_page(app: App, now: datetime, city: str, kind: str) -> dict[str, Any]:
    """Every problem (open first), filtered by city and kind (code)."""
    _, results, problems = corrected(app, now)
    city_of = {r["message"]: r["city"] for r in results}
    found = [dict(p, city=city_of.get(m)) for m, ps in problems.items() for p in ps]
    kinds = sorted({p["code"] for p in found})
    shown = [p for p in found if (not city or p["city"] == city) and (not kind or p["code"] == kind)]
    shown.sort(key=lambda p: (not p["open"], -(p["number"] or 0)))
    return dict(problems=shown, kinds=kinds, city=city, kind=kind, cities=[c.name for c in app.config.cities])


def outgoing_page(app: App) -> dict[str, Any]:
    """The sent log (newest first) and the reminders that would go out if `remind` ran now."""
    sent = sorted(app.store.sent_records(), key=lambda s: s.updated_at, reverse=True)
    preview = jobs.remind(app, dry_run=True)
    return dict(sent=sent, due=preview.due, held=preview.held, kind_zh=KIND_ZH)
