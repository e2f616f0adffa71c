"""Pipeline: raw bytes -> archive -> commit -> parse -> extract -> attribute -> record; reprocess.

The raw bytes are archived and committed before anything can fail; everything after is
derived and can be rebuilt from the archive by `reprocess`.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime

from .app import App
from .archive import sha256_of
from .attribute import attribute_message, received_time
from .extract import extract_attachment
from .model import Attribution, Fetched, Message, Problem, Row, Table
from .parse import parse_message
from .validate import validate_rows

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """What ingesting one raw message did (for the CLI, the worker's log and receipts)."""

    message: int  # store id
    is_new: bool
    duplicate: bool = False
    city: str | None = None
    deadline: str | None = None
    is_report: bool = False
    rows: int = 0
    problems: tuple[Problem, ...] = ()
    parsed: Message | None = None
    attribution: Attribution | None = None


def header_message_id(raw: bytes) -> str:
    """Message-ID from the header block only, without a full parse (dedupe happens before parsing)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    if not match:
        return ""
    return re.sub(rb"\s+", b"", match.group(1)).decode("ascii", "replace")[:500]


def ingest(app: App, fetched: Fetched) -> Outcome:
    """Archive and record one raw message, then process it if it is new. Never raises on bad input."""
    now = app.clock()
    digest = app.archive.store(fetched.raw)
    message_id = header_message_id(fetched.raw)
    pk, is_new = app.store.record_message(
        sha256=digest, message_id=message_id, size=len(fetched.raw), source_id=fetched.source_id,
        source_received_at=fetched.received_at, now=now)
    if not is_new:
        log.info("message %s: already archived (%s), skipped", pk, fetched.source_id)
        return Outcome(pk, is_new=False)
    return process(app, pk)


def process(app: App, pk: int) -> Outcome:
    """Parse, extract, attribute and record one archived message; errors become problems."""
    stored = app.store.stored_message(pk)
    if stored.duplicate_of is not None:
        log.info("message %s: duplicate delivery of message %s (same Message-ID)", pk, stored.duplicate_of)
        _record_duplicate(app, pk, stored)
        return Outcome(pk, is_new=True, duplicate=True)
    try:
        raw = app.archive.load(stored.sha256)
        return _process_raw(app, pk, raw, stored.source_received_at, stored.ingested_at)
    except Exception as err:  # one per message: a bug must not stop the other messages
        log.exception("message %s: internal error while processing", pk)
        problem = Problem("internal_error", "处理该邮件时发生内部错误，原始邮件已存档，修复后可重新处理",
                          detail=f"{type(err).__name__}: {err}")
        _record_failure(app, pk, stored.ingested_at, problem)
        return Outcome(pk, is_new=True, problems=(problem,))


def _extract_all(message: Message) -> tuple[list[Table], list[Problem]]:
    tables: list[Table] = []
    problems: list[Problem] = []
    for attachment in message.attachments:
        found = extract_attachment(attachment)
        tables.extend(found.tables)
        problems.extend(found.problems)
    return tables, problems


def _process_raw(app: App, pk: int, raw: bytes, source_received_at: datetime | None,
                 ingested_at: datetime) -> Outcome:
    config = app.config
    message = parse_message(raw, config.limits, config.tz)
    tables, problems = _extract_all(message)
    at = received_time(message, source_received_at, ingested_at, config)
    attribution = attribute_message(message, tables, at, config)
    problems = list(message.problems) + problems + list(attribution.problems)
    if attribution.city:
        city = config.city(attribution.city)
        for table in tables:
            problems.extend(validate_rows(table.rows, city, table.filename))
    counted = tables if attribution.is_report else []
    rows = [_row_values(t, r) for t in counted for r in t.rows]
    problems.extend(p for t in counted for p in table_metric_problems(t))
    app.store.replace_result(pk, _result_values(message, attribution, tables),
                             [_problem_values(p) for p in problems], rows)
    log.info("message %s: city=%s deadline=%s report=%s rows=%d problems=%d", pk, attribution.city,
             attribution.deadline, attribution.is_report, len(rows), len(problems))
    return Outcome(pk, True, False, attribution.city, attribution.deadline, attribution.is_report,
                   len(rows), tuple(problems), message, attribution)


def table_metric_problems(table: Table) -> list[Problem]:
    """Metric problems carry the file and row they belong to."""
    found = []
    for row in table.rows:
        for p in row.metrics.problems:
            found.append(replace(p, file=p.file or table.filename, row=p.row or row.source_row))
    return found


def _result_values(message: Message, attribution: Attribution, tables: list[Table]) -> dict:
    return dict(
        sender=message.sender, subject=message.subject, received_at=attribution.received_at,
        city=attribution.city, deadline=attribution.deadline, is_report=attribution.is_report,
        auto_generated=message.auto_generated, unregistered_sender=attribution.unregistered_sender,
        city_source=attribution.city_source, deadline_source=attribution.deadline_source,
        tables=len(tables) if attribution.is_report else 0,
        attachments=json.dumps([{"filename": a.filename, "kind": a.kind, "origin": a.origin}
                                for a in message.attachments], ensure_ascii=False),
        units=json.dumps([{"file": t.filename, "sheet": t.sheet, "unit": t.unit, "contact": t.contact,
                           "title": t.contact_title, "phone": t.phone, "email": t.email} for t in tables],
                         ensure_ascii=False),
    )


def _problem_values(p: Problem) -> dict:
    return dict(code=p.code, message_zh=p.message_zh, detail=p.detail[:4000], file=p.file, row=p.row)


def _row_values(table: Table, row: Row) -> dict:
    m = row.metrics
    return dict(filename=table.filename, sheet=table.sheet, source_row=row.source_row, seq=row.seq,
                county=row.county, organiser=row.organiser, name=row.name, content=row.content,
                effect=row.effect, note=row.note, participants=m.participants, products=m.products,
                sales_wan=m.sales_wan)


def _empty_result(at: datetime, subject: str = "") -> dict:
    return dict(sender="", subject=subject, received_at=at, city=None, deadline=None, is_report=False,
                auto_generated=False, unregistered_sender=False, city_source="", deadline_source="",
                tables=0, attachments="[]", units="[]")


def _record_failure(app: App, pk: int, at: datetime, problem: Problem) -> None:
    app.store.replace_result(pk, _empty_result(at), [_problem_values(problem)], [])


def _record_duplicate(app: App, pk: int, stored) -> None:
    problem = Problem("duplicate", f"与已收到的邮件（编号 {stored.duplicate_of}）重复，已忽略",
                      detail=stored.message_id)
    app.store.replace_result(pk, _empty_result(stored.ingested_at), [_problem_values(problem)], [])


def process_pending(app: App) -> list[Outcome]:
    """Finish messages a crash left archived but unprocessed (called before each poll/import)."""
    pending = app.store.unprocessed_ids()
    if pending:
        log.warning("processing %d message(s) left unprocessed by an earlier stop", len(pending))
    return [process(app, pk) for pk in pending]


def reprocess(app: App) -> int:
    """Rebuild every derived record from the archive; returns the number of messages processed."""
    app.store.clear_all_derived()
    count = 0
    for stored in app.store.stored_messages():
        process(app, stored.id)
        count += 1
    return count

