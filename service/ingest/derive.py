"""Derive stage: raw bytes (+ when received) + Config + Converter + TxtLookup -> Derived (the typed records
of one message).

Parse, extract, attribute, verify the sender and validate, with no I/O but the document converter
(legacy .doc/WPS files) and the DKIM key lookup app.py chose, so a process pool can run it
(service/ingest/pool.py). Deterministic in (raw, source_received_at, ingested_at, config, converter)
and the keys DNS serves: `reprocess` gives the same result (a lookup that failed is asked again).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from ..config import Config
from ..decide.attribute import attribute_message, received_time
from ..decide.plausibility import version_doubts
from ..decide.sender_auth import held_problem, sender_auth
from ..decide.validate import validate_rows
from ..extract import extract_attachments
from ..extract.convert import Converter
from ..model import (
    AttachmentInfo,
    Attribution,
    Message,
    MessageResult,
    Problem,
    ReportRow,
    Row,
    SenderAuth,
    Table,
    TableUnit,
)
from ..parse import parse_message
from ..parse.auth_headers import NOTHING_TRUSTED, header_fields, trusted_results
from ..parse.dkim_check import check_signatures
from ..parse.txt_lookup import NoDns, TxtLookup
from ..staff import RegisteredSender
from ..store.records import StoredRow, stored_row

INTERNAL_ERROR_ZH = "处理该邮件时发生内部错误，原始邮件已存档，修复后可重新处理"
QUARANTINED_ZH = "附件导致解析异常，已隔离，请人工查看"


@dataclass(frozen=True)
class Job:
    """One archived message to derive (picklable: it crosses to a worker process)."""

    raw: bytes  # b"" for big mail: the worker reads it from the archive (see sha256)
    source_received_at: datetime | None
    ingested_at: datetime
    sha256: str = ""
    registered: tuple[RegisteredSender, ...] = ()  # addresses staff added to a city's known senders


@dataclass(frozen=True)
class Derived:
    """What one message yields: its result, problems and rows for the store, and a summary for the caller.

    `message` is the parsed Message without attachment bytes (the caller only needs its headers).
    `error` holds the traceback of an internal error, for the parent process to log.
    `quarantined` says why the message was set aside (its derive ran out of memory or time, or killed
    its worker): such a message is not derived again unless staff ask (`reprocess --include-quarantined`).
    """

    result: MessageResult
    problems: tuple[Problem, ...] = ()
    rows: tuple[ReportRow | StoredRow, ...] = ()  # StoredRow once it crossed from a worker
    message: Message | None = None
    attribution: Attribution | None = None
    error: str = ""
    quarantined: str = ""

    def __reduce__(self) -> tuple:
        """Pickled (worker -> main process) with its rows as the store's column values, plain tuples: a
        NamedTuple pickles and unpickles through a Python call per row (100 rows: 0.50 -> 0.32 ms to dump,
        0.27 -> 0.12 ms to load), and the rows' JSON is encoded here in the pool, not in the main process
        that writes (the main process only stores and counts them)."""
        return _unpickled, (self.result, self.problems, tuple(map(stored_row, self.rows)), self.message,
                            self.attribution, self.error, self.quarantined)


_as_stored_row = partial(tuple.__new__, StoredRow)  # column values back as a StoredRow, in C


def _unpickled(result: MessageResult, problems: tuple[Problem, ...], rows: tuple[tuple, ...],
               *rest: object) -> Derived:
    return Derived(result, problems, tuple(map(_as_stored_row, rows)), *rest)  # type: ignore[arg-type]


def derive(job: Job, config: Config, converter: Converter, lookup: TxtLookup = NoDns()) -> Derived:
    """Derive one message; a bug becomes an internal_error problem on it, never an exception.

    lookup: answers the DKIM key lookups (app.py's DNS resolver; without one, every key is unavailable)."""
    try:
        return _derive(job, config, converter, lookup)
    except MemoryError:  # over limits.max_worker_memory_mb: the attachment, not our code
        return quarantined(job.ingested_at, "out of memory (limits.max_worker_memory_mb)")
    except Exception as err:  # one per message: a bug must not stop the other messages
        problem = Problem("internal_error", INTERNAL_ERROR_ZH, detail=f"{type(err).__name__}: {err}")
        return failed(job.ingested_at, problem, traceback.format_exc())


def failed(at: datetime, problem: Problem, error: str = "") -> Derived:
    """The record of a message that could not be derived (kept, with the reason, for reprocess)."""
    return Derived(empty_result(at), (problem,), error=error)


def quarantined(at: datetime, reason: str) -> Derived:
    """The record of a message whose derive blew a bound: kept, with the reason, out of every retry."""
    problem = Problem("quarantined", QUARANTINED_ZH, detail=reason)
    return replace(failed(at, problem), quarantined=reason)


def _derive(job: Job, config: Config, converter: Converter, lookup: TxtLookup) -> Derived:
    message = parse_message(job.raw, config.limits, config.tz)
    tables, problems = extract_attachments(message.attachments, config.limits, converter, config.tables)
    at = received_time(message, job.source_received_at, job.ingested_at, config)
    attribution = attribute_message(message, tables, at, config, job.registered)
    problems = list(message.problems) + problems + list(attribution.problems)
    auth = message_auth(job.raw, message.sender, config, lookup)
    held = held_problem(auth, attribution, message.sender, config)
    if held is not None:
        problems.insert(0, held)  # first: it decides whether anything else of the message counts
    if attribution.city:
        city = config.city(attribution.city)
        for table in tables:
            problems.extend(validate_rows(table.rows, city, table.filename, config.table(table.template)))
    # Rows are kept for every message: staff may make one a report the rules did not (`assign`).
    rows = tuple(report_row(t, r) for t in tables for r in t.rows)
    if attribution.is_report:
        problems.extend(p for t in tables for p in table_metric_problems(t))
        problems.extend(d.problem for d in version_doubts(rows, config))  # figures no 市州 reaches
    headers_only = replace(message, attachments=tuple(replace(a, content=b"") for a in message.attachments))
    result = replace(message_result(message, attribution, tables), auth=auth, sender_unverified=held is not None)
    return Derived(result, tuple(problems), rows, headers_only, attribution)


def message_auth(raw: bytes, sender: str, config: Config, lookup: TxtLookup) -> SenderAuth:
    """What vouches for the From address: our DKIM check (not on mail too large to parse) and the results
    the office's receiving server recorded."""
    ids = config.mailbox.trusted_authserv_ids
    # Without a trusted server no field can count: the header is not parsed a second time (~0.1 ms a message).
    trusted = trusted_results(header_fields(raw), ids) if ids else NOTHING_TRUSTED
    too_large = len(raw) > config.limits.max_message_bytes
    signatures = () if too_large else check_signatures(raw, lookup, config.mailbox.dns_timeout)
    return sender_auth(sender, signatures, trusted)


def table_metric_problems(table: Table) -> list[Problem]:
    """Metric problems carry the file and row they belong to."""
    found = []
    for row in table.rows:
        for p in row.problems:
            found.append(replace(p, file=p.file or table.filename, row=p.row or row.source_row))
    return found


def message_result(message: Message, attribution: Attribution, tables: list[Table]) -> MessageResult:
    """The result record of a derived message."""
    return MessageResult(
        sender=message.sender, subject=message.subject, received_at=attribution.received_at,
        city=attribution.city, deadline=attribution.deadline, is_report=attribution.is_report,
        auto_generated=message.auto_generated, unregistered_sender=attribution.unregistered_sender,
        city_source=attribution.city_source, deadline_source=attribution.deadline_source,
        tables=len(tables),
        attachments=tuple(AttachmentInfo(a.filename, a.kind, a.origin) for a in message.attachments),
        units=tuple(TableUnit(t.filename, t.sheet, t.unit, t.contact, t.contact_title, t.phone, t.email)
                    for t in tables),
    )


def report_row(table: Table, row: Row) -> ReportRow:
    """The stored record of one table row (figures as the parser read them)."""
    return ReportRow(table.filename, table.sheet, row.source_row, row.values, row.figures, table.template)


def empty_result(at: datetime, subject: str = "") -> MessageResult:
    """The result of a message nothing was derived from (a duplicate, a failure, a quarantine)."""
    return MessageResult(sender="", subject=subject, received_at=at, city=None, deadline=None, is_report=False,
                         auto_generated=False, unregistered_sender=False, city_source="", deadline_source="",
                         tables=0)
