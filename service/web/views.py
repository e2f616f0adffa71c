"""What each page shows, from the web process's kept snapshot (store/kept.py: read again only after a
commit), as at `now` (shell): with figures.py, the web package's reader of the store's records. Input: the
App, the kept snapshot and `now`; output: plain dicts and records for the templates (text from mail is
escaped by the templates, never here)."""
from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from .. import jobs
from ..app import App
from ..decide.decisions import corrected, problem_is_open
from ..decide.labels import shown_state, state_label
from ..decide.status import states_at
from ..health import health_problems, health_values
from ..model import Snapshot
from ..outgoing.remind import recipients_for, reminder_slots
from ..outgoing.transports import safe_filename
from ..parse import parse_message
from ..store.kept import KeptSnapshot
from . import charts
from .figures import CityFigures

SOURCE_ZH = {"sender": "发件地址（已登记邮箱）", "subject": "邮件标题", "filename": "附件文件名", "unit": "表格的填报单位",
             "body": "邮件正文", "staff": "人工指定", "keyword": "标题或附件名中的关键词", "date": "收到日期（最近的未截止节点）",
             "": "未能判断"}
KIND_ZH = {"receipt": "回执", "reminder": "催报提醒", "digest": "每日汇总", "notice": "通知"}


def overview(app: App, kept: KeptSnapshot, figures: CityFigures, now: datetime) -> dict[str, Any]:
    """总览: the matrix, the worker's health, the next reminders and the pictures."""
    config, snapshot = app.config, kept.current()
    view = corrected(config, snapshot.at(now))  # laid over once: states_at, the charts and the day chart share it
    states = states_at(config, view, now)
    by_key = {(s.city, s.deadline): s for s in states}
    matrix = [{"city": city.name, "cells": [_cell(app, by_key.get((city.name, d.id)), city.name, d)
                                             for d in config.deadlines]} for city in config.cities]
    values = health_values(snapshot, config.health.max_failed_sends)
    ok = values.last_poll_ok
    alive = bool(ok and now - ok <= timedelta(minutes=config.health.max_poll_age_minutes))
    return dict(matrix=matrix, deadlines=config.deadlines, now=now, last_poll_ok=ok, worker_alive=alive,
                health_problems=health_problems(config, values, now), reminders=next_reminders(app, states, now),
                chart_days=_days_chart(app, view), chart_cities=figures.charts(config, kept, view, states))


def _cell(app: App, state: Any, city: str, deadline: Any) -> dict[str, Any]:
    if state is None:
        return dict(css="n-a", label="—", date=None, rows=0, problems=0, message=0, note="")
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


def _days_chart(app: App, view: Snapshot) -> str:
    tz = app.config.tz
    counts = Counter(r.received_at.astimezone(tz).date() for r in view.results if r.is_version)
    return charts.reports_per_day(counts, [(d.due, d.title) for d in app.config.deadlines])


def _view(app: App, kept: KeptSnapshot, now: datetime) -> tuple[Snapshot, Snapshot]:
    """(the snapshot as read, its view at `now` with the decisions laid over it)."""
    snapshot = kept.current()
    return snapshot, corrected(app.config, snapshot.at(now))


def _problems(snapshot: Snapshot, view: Snapshot, message: int) -> list[dict[str, Any]]:
    """Every problem of a message (open or settled: the page shows its history)."""
    return [dict(number=p.number, code=p.code, message_zh=p.message_zh, file=p.file, row=p.row,
                 open=problem_is_open(message, p, view.corrections)) for p in snapshot.problems.get(message, ())]


def city_page(app: App, kept: KeptSnapshot, name: str, now: datetime) -> dict[str, Any] | None:
    """A city's messages, the version in force per deadline, its rows, contacts, letters sent to it."""
    city = next((c for c in app.config.cities if c.name == name), None)
    if city is None:
        return None
    snapshot, view = _view(app, kept, now)
    states = [s for s in states_at(app.config, view, now) if s.city == name]
    mine = [r for r in view.results if r.city == name]
    in_force = [s.message for s in states if s.message]
    rows = [row for rows in app.store.rows(in_force).values() for row in rows] if in_force else []
    units = [u for r in mine if r.message in in_force for u in r.units if u.contact or u.phone]
    return dict(city=city, states=[dict(state=s, deadline=app.config.deadline(s.deadline),
                                        label=state_label(app.config, name, app.config.deadline(s.deadline), s.state))
                                   for s in states],
                messages=mine, rows=rows, fields=app.config.template.fields, units=units, sent=[s for s in snapshot.sent if s.city == name],
                kind_zh=KIND_ZH, ignored=view.corrections.ignored,
                titles={d.id: d.title for d in app.config.deadlines})


def message_page(app: App, number: int, now: datetime) -> dict[str, Any] | None:
    """One message: headers, body text, attachments, tables read, problems, why it was attributed.

    Reads that message alone with every decision: what staff decided about it (assign, ignore, confirm,
    resolve its problems) is all that changes how it is shown."""
    snapshot = app.store.message_snapshot(number)
    view = corrected(app.config, snapshot.at(now))
    result = next((r for r in view.results if r.message == number), None)
    if result is None:
        return None
    parsed, why_not = parsed_message(app, number)
    applied = set(view.corrections.by_message.get(number, []))
    return dict(r=result, parsed=parsed, why_not=why_not, attachments=result.attachments,
                rows=app.store.rows([number]).get(number, ()), fields=app.config.template.fields, problems=_problems(snapshot, view, number),
                city_source=SOURCE_ZH.get(result.city_source, result.city_source),
                deadline_source=SOURCE_ZH.get(result.deadline_source, result.deadline_source),
                ignored=number in view.corrections.ignored, decisions=[d for d in snapshot.decisions if d.id in applied],
                deadline=app.config.deadline(result.deadline) if result.deadline else None)


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


def problems_page(app: App, kept: KeptSnapshot, now: datetime, city: str, kind: str) -> dict[str, Any]:
    """Every problem (open first, newest first), filtered by city and kind (code)."""
    snapshot, view = _view(app, kept, now)
    city_of = {r.message: r.city for r in view.results}
    found = [dict(p, message=m, city=city_of.get(m)) for m in city_of for p in _problems(snapshot, view, m)]
    kinds = sorted({p["code"] for p in found})
    shown = [p for p in found if (not city or p["city"] == city) and (not kind or p["code"] == kind)]
    shown.sort(key=lambda p: (not p["open"], -(p["number"] or 0)))
    return dict(problems=shown, kinds=kinds, city=city, kind=kind, cities=[c.name for c in app.config.cities])


def outgoing_page(app: App) -> dict[str, Any]:
    """The sent log (newest first) and the reminders that would go out if `remind` ran now."""
    sent = sorted(app.store.sent_records(), key=lambda s: s.updated_at, reverse=True)
    preview = jobs.remind(app, dry_run=True)
    return dict(sent=sent, due=preview.due, held=preview.held, kind_zh=KIND_ZH)


def decisions_page(app: App, kept: KeptSnapshot) -> list[dict[str, Any]]:
    """The audit log, newest first, each with why it no longer applies ("" when it does)."""
    from ..corrections import decision_document

    snapshot = kept.current()
    stale = dict((d.id, why) for d, why in corrected(app.config, snapshot).corrections.stale)
    return [decision_document(app.config, d, stale.get(d.id, "")) for d in reversed(snapshot.decisions)]


def letter_page(app: App, key: str) -> dict[str, Any] | None:
    """One sent-log record and, where the outbox kept it, the text that went out (the .eml file the
    OutboxSender wrote for that key, found by the key's safe name, never by a path from the request)."""
    record = next((s for s in app.store.sent_records() if s.key == key), None)
    if record is None:
        return None
    # the outbox names a file "<YYYYmmddTHHMMSS>_<safe key>.eml", ".<n>.eml" for a second one that second
    safe = safe_filename(key, record.created_at)[len("20220101T000000_"):].removesuffix(".eml")
    wanted = re.compile(re.escape(safe) + r"(\.\d+)?\.eml")
    files = sorted(p for p in app.config.outbox_folder.glob("*.eml") if wanted.fullmatch(p.name[16:]))
    texts = [_text_of(p.read_bytes()) for p in files]
    return dict(record=record, texts=texts, kind_zh=KIND_ZH, outbox=app.config.smtp.kind != "smtp")


def _text_of(raw: bytes) -> str:
    """The text/plain part of an email the service wrote (its own letters: plain and HTML alternatives)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    headers = "\n".join(f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date") if message[name])
    return headers + "\n\n" + (part.get_content() if part is not None else "")
