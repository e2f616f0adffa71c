"""Attribute stage: Message (+ tables found in it) + Config -> Attribution (city, deadline, flags).

Pure: the receiving time is passed in, never read from a clock.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from ..clock import end_of_day
from ..config import City, Config, Deadline
from ..model import Attribution, Message, Problem, Table
from ..staff import RegisteredSender
from ..text import fold
from .decisions import sender_registered_at

# Attachments that do not make a mail a report: signature logos, pasted screenshots.
_NOT_A_REPORT_KINDS = {"image"}


def received_time(message: Message, source_received_at: datetime | None, fallback: datetime,
                  config: Config) -> datetime:
    """When the office got it: INTERNALDATE, else newest Received header, else Date, else fallback."""
    for candidate in (source_received_at, message.received, message.date, fallback):
        if candidate is not None:
            return candidate.astimezone(config.tz)
    raise AssertionError("fallback is never None")


def city_named_in(text: str, cities: Sequence[City]) -> City | None:
    """The city whose canonical name or alias appears earliest in text (longest name on ties)."""
    folded = fold(text)
    best: tuple[int, int, City] | None = None
    for city in cities:
        for name in city.names:
            pos = folded.find(fold(name))
            if pos >= 0 and (best is None or (pos, -len(name)) < (best[0], best[1])):
                best = (pos, -len(name), city)
    return best[2] if best else None


def city_of_sender(sender: str, cities: Sequence[City]) -> City | None:
    for city in cities:
        if sender and sender.lower() in city.emails:
            return city
    return None


def _city_from_content(message: Message, tables: Sequence[Table],
                       cities: Sequence[City]) -> tuple[City | None, str]:
    """Subject first, then attachment names, the table's 填报单位, the body."""
    places: list[tuple[str, Iterable[str]]] = [
        ("subject", [message.subject]),
        ("filename", [a.filename for a in message.attachments]),
        ("unit", [t.unit for t in tables if t.unit]),
        ("body", [message.text[:4000]]),
    ]
    for source, texts in places:
        for text in texts:
            city = city_named_in(text, cities)
            if city is not None:
                return city, source
    return None, ""


def deadline_by_keywords(texts: Iterable[str], deadlines: Sequence[Deadline]) -> Deadline | None:
    """The deadline whose keywords occur most often in texts; None on no hit or a tie."""
    folded = [fold(t) for t in texts]
    scored = []
    for d in deadlines:
        hits = sum(1 for k in d.keywords for t in folded if fold(k) in t)
        if hits:
            scored.append((hits, d))
    scored.sort(key=lambda s: s[0], reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


def deadline_by_date(received_at: datetime, deadlines: Sequence[Deadline], config: Config) -> Deadline:
    """The nearest deadline whose due day had not ended; after the last one, the last one."""
    ordered = sorted(deadlines, key=lambda d: d.due)
    for d in ordered:
        if received_at < end_of_day(d.due, config.tz):
            return d
    return ordered[-1]


def _pick_deadline(message: Message, received_at: datetime, config: Config) -> tuple[Deadline, str]:
    """Keywords (subject, then attachment names), else the date. The table is no clue: a city that
    sends its progress report with a table and a neutral subject must not be counted for the summary."""
    by_subject = deadline_by_keywords([message.subject], config.deadlines)
    if by_subject is not None:
        return by_subject, "keyword"
    by_names = deadline_by_keywords([a.filename for a in message.attachments], config.deadlines)
    if by_names is not None:
        return by_names, "keyword"
    return deadline_by_date(received_at, config.deadlines, config), "date"


def attribute_message(message: Message, tables: Sequence[Table], received_at: datetime,
                      config: Config, registered: Sequence[RegisteredSender] = ()) -> Attribution:
    """Decide city, deadline and whether the message counts as a report.

    registered: addresses staff added to a city's known senders, each from the moment they did."""
    problems: list[Problem] = []
    city = city_of_sender(message.sender, config.cities)
    if city is None and (staff_city := sender_registered_at(registered, message.sender, received_at)):
        city = config.city(staff_city)
    city_source, unregistered = "sender", False
    if city is None:
        city, city_source = _city_from_content(message, tables, config.cities)
        unregistered = city is not None
    if message.auto_generated:
        return Attribution(city=None, deadline=None, received_at=received_at, city_source="",
                           problems=(Problem("auto_generated", "自动回复或退信，不计为报送"),))
    if city is None:
        problems.append(Problem("unattributed", "无法确定报送单位（发件人未登记，主题、附件和正文中也未出现市州名称）",
                                detail=message.sender))
        return Attribution(city=None, deadline=None, received_at=received_at, problems=tuple(problems))
    if unregistered:
        problems.append(Problem("unregistered_sender",
                                f"发件人 {message.sender} 未登记为{city.name}的报送邮箱，请核实",
                                detail=f"city found in {city_source}"))
    deadline, deadline_source = _pick_deadline(message, received_at, config)
    reportable = [a for a in message.attachments if a.kind not in _NOT_A_REPORT_KINDS]
    if not reportable:
        problems.append(Problem("no_attachment", "邮件未附带可读取的附件，不计为报送，请补发附件"))
    return Attribution(
        city=city.name, deadline=deadline.id, received_at=received_at, city_source=city_source,
        deadline_source=deadline_source, unregistered_sender=unregistered,
        is_report=bool(reportable), problems=tuple(problems),
    )
