"""Typed records <-> the derived tables (results, problems, rows) and the snapshot a job reads.

Write: MessageResult, Problem and ReportRow to column values. Read: StoredResult, Problem and ReportRow
back, and Snapshot (everything a job's views need) in one read transaction.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterable, Iterator

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Connection, Engine

from ..model import (
    AttachmentInfo,
    MessageResult,
    Problem,
    ReportRow,
    SenderAuth,
    SentRecord,
    Snapshot,
    StoredResult,
    TableUnit,
)
from .decision_log import number_problems, problem_fingerprints, read_decisions
from .schema import health, messages, problems, results, rows, sent

ROW_COLUMNS = ("filename", "sheet", "source_row", "template", "fields", "figures")  # the rows table's own
PROBLEM_FIELDS = ("code", "message_zh", "detail", "file", "row")
DETAIL_CHARS = 4000  # a problem's detail as stored (an exception text, a raw value)


class StoredRow(tuple):
    """A row already in ROW_COLUMNS order (stored_row's output): what a worker hands the main process, so
    the JSON encoding of 200,000 rows runs in the worker pool, not in the one process that writes."""

    __slots__ = ()


def stored_row(row: ReportRow | StoredRow) -> tuple:
    """A row in ROW_COLUMNS order: its texts and its exact figures (decimal strings) as JSON objects."""
    if type(row) is StoredRow:
        return row
    figures = {k: str(v) for k, v in row.figures.items() if v is not None}
    return (row.filename, row.sheet, row.source_row, row.table, _dumps(row.values), _dumps(figures))


def report_row(r: Any) -> ReportRow:
    """A rows record back, its figures as the parser's exact decimals."""
    return ReportRow(r.filename, r.sheet, r.source_row, _loads(r.fields),
                     {k: Decimal(v) for k, v in _loads(r.figures).items()}, r.template)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.JSONDecoder().decode


def problem_values(p: Problem) -> tuple:
    """A problem in PROBLEM_FIELDS order, its detail cut to what the table keeps."""
    return (p.code, p.message_zh, p.detail[:DETAIL_CHARS], p.file, p.row)


def result_values(message: int, result: MessageResult) -> dict:
    """A results record; attachments and units as JSON text (the columns' format since the first schema)."""
    return dict(
        message=message, sender=result.sender, subject=result.subject, received_at=result.received_at,
        city=result.city, deadline=result.deadline, is_report=result.is_report,
        auto_generated=result.auto_generated, unregistered_sender=result.unregistered_sender,
        city_source=result.city_source, deadline_source=result.deadline_source, tables=result.tables,
        attachments=json.dumps([{"filename": a.filename, "kind": a.kind, "origin": a.origin}
                                for a in result.attachments], ensure_ascii=False),
        units=json.dumps([{"file": u.file, "sheet": u.sheet, "unit": u.unit, "contact": u.contact,
                           "title": u.title, "phone": u.phone, "email": u.email} for u in result.units],
                         ensure_ascii=False),
        **auth_values(result.auth), sender_unverified=result.sender_unverified,
    )


def auth_values(auth: SenderAuth) -> dict:
    """The auth_* columns of a results record."""
    return dict(auth_verdict=auth.verdict, auth_dkim=auth.dkim, auth_dkim_domain=auth.dkim_domain,
                auth_aligned=auth.aligned, auth_spf=auth.spf, auth_dmarc=auth.dmarc,
                auth_authserv_id=auth.authserv_id)


def stored_auth(r: Any) -> SenderAuth:
    return SenderAuth(verdict=r.auth_verdict, dkim=r.auth_dkim, dkim_domain=r.auth_dkim_domain,
                      aligned=bool(r.auth_aligned), spf=r.auth_spf, dmarc=r.auth_dmarc,
                      authserv_id=r.auth_authserv_id)


def stored_result(r: Any) -> StoredResult:
    """A results record joined with its message, back as the record derive made plus the store's ids."""
    return StoredResult(
        sender=r.sender, subject=r.subject, received_at=r.received_at, city=r.city, deadline=r.deadline,
        is_report=r.is_report, auto_generated=r.auto_generated, unregistered_sender=r.unregistered_sender,
        city_source=r.city_source, deadline_source=r.deadline_source, tables=r.tables,
        attachments=tuple(AttachmentInfo(a.get("filename", ""), a.get("kind", ""), a.get("origin", ""))
                          for a in json.loads(r.attachments or "[]")),
        units=tuple(TableUnit(u.get("file", ""), u.get("sheet", ""), u.get("unit", ""), u.get("contact", ""),
                              u.get("title", ""), u.get("phone", ""), u.get("email", ""))
                    for u in json.loads(r.units or "[]")),
        auth=stored_auth(r), sender_unverified=bool(r.sender_unverified),
        message=r.message, message_id=r.message_id, sha256=r.sha256, duplicate_of=r.duplicate_of)


def sent_record(r: Any) -> SentRecord:
    return SentRecord(r.key, r.kind, r.city, r.deadline, tuple(json.loads(r.recipients)), r.subject,
                      r.status, r.attempts, r.error, r.created_at, r.updated_at)


_RESULTS = (select(results, messages.c.message_id, messages.c.sha256, messages.c.duplicate_of)
            .join(messages, messages.c.id == results.c.message).order_by(results.c.message))


def read_results(conn: Connection, message_ids: Iterable[int] | None = None) -> list[StoredResult]:
    """Every message's result (or those of `message_ids`), joined with its message facts, oldest first."""
    query = _RESULTS if message_ids is None else _RESULTS.where(results.c.message.in_(list(message_ids)))
    return [stored_result(r) for r in conn.execute(query)]


def read_problems(conn: Connection, message_ids: Iterable[int] | None = None) -> dict[int, tuple[Problem, ...]]:
    """message -> its problems in the order found (messages in store order)."""
    query = select(problems).order_by(problems.c.message, problems.c.id)
    if message_ids is not None:
        query = query.where(problems.c.message.in_(list(message_ids)))
    found: dict[int, list[Problem]] = {}
    for r in conn.execute(query):
        found.setdefault(r.message, []).append(Problem(r.code, r.message_zh, r.detail, r.file, r.row, r.number))
    return {m: tuple(p) for m, p in found.items()}


def _grouped_rows(conn: Connection, query: Any) -> dict[int, tuple[ReportRow, ...]]:
    found: dict[int, list[ReportRow]] = {}
    for r in conn.execute(query.order_by(rows.c.message, rows.c.position)):
        found.setdefault(r.message, []).append(report_row(r))
    return {m: tuple(found_rows) for m, found_rows in found.items()}


def read_rows(conn: Connection, message_ids: Iterable[int]) -> dict[int, tuple[ReportRow, ...]]:
    """message -> its rows in position order, for the given messages."""
    return _grouped_rows(conn, select(rows).where(rows.c.message.in_(list(message_ids))))


def read_version_rows(conn: Connection) -> dict[int, tuple[ReportRow, ...]]:
    """message -> rows, of every message that has any: the report versions, and the messages staff
    may make one (`assign`), whose rows derive keeps too."""
    return _grouped_rows(conn, select(rows))


def read_row_counts(conn: Connection, message_ids: Iterable[int] | None = None) -> dict[int, int]:
    """message -> rows stored, of every message that has any (or of `message_ids`)."""
    query = select(rows.c.message, func.count()).group_by(rows.c.message)
    if message_ids is not None:
        query = query.where(rows.c.message.in_(list(message_ids)))
    return {m: n for m, n in conn.execute(query)}


def read_figures(conn: Connection, message_ids: Iterable[int]) -> dict[int, tuple[tuple[str, dict[str, Decimal]], ...]]:
    """message -> (template id, figures: field key -> exact decimal) of each of its rows in position order:
    what a view of the figures alone needs (the template names the bounds), without each row's text."""
    found: dict[int, list[tuple[str, dict[str, Decimal]]]] = {}
    query = (select(rows.c.message, rows.c.template, rows.c.figures)
             .where(rows.c.message.in_(list(message_ids))).order_by(rows.c.message, rows.c.position))
    for message, template, figures in conn.execute(query):
        found.setdefault(message, []).append((template, {k: Decimal(v) for k, v in _loads(figures).items()}))
    return {m: tuple(listed) for m, listed in found.items()}


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one state of the database.

    pysqlite opens no transaction for SELECTs (each sees the latest commit): BEGIN makes them one read
    transaction (WAL keeps its snapshot). PostgreSQL's READ COMMITTED sees a new state per statement:
    REPEATABLE READ makes it one. Closing the connection rolls the (read-only) transaction back.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def read_snapshot(engine: Engine, with_rows: bool = False) -> Snapshot:
    """Results, problems, row counts, the sent log, health (and with_rows, the report versions' rows)
    in one read transaction."""
    with read_transaction(engine) as conn:
        return Snapshot(
            results=tuple(read_results(conn)), problems=read_problems(conn), row_counts=read_row_counts(conn),
            rows=read_version_rows(conn) if with_rows else None,
            sent=tuple(sent_record(r) for r in conn.execute(select(sent).order_by(sent.c.created_at, sent.c.key))),
            health={r.key: (r.value, r.at) for r in conn.execute(select(health))},
            decisions=tuple(read_decisions(conn)))


def read_message_snapshot(engine: Engine, message: int) -> Snapshot:
    """One message's result, problems and row count with every decision, in one read transaction: what a
    view of that message alone needs (the web workbench's message page)."""
    with read_transaction(engine) as conn:
        count = conn.execute(select(func.count()).select_from(rows).where(rows.c.message == message)).scalar()
        return Snapshot(results=tuple(read_results(conn, [message])), problems=read_problems(conn, [message]),
                        row_counts={message: count} if count else {}, decisions=tuple(read_decisions(conn)))


def numbered_problems(conn: Connection, found: list[tuple[int, list[tuple]]]) -> list[tuple]:
    """(message, *PROBLEM_FIELDS, number) per problem: a problem keeps its number through reprocess."""
    prints = {m: problem_fingerprints(values) for m, values in found if values}
    numbers = number_problems(conn, prints)
    return [(m, *v, numbers[m, f]) for m, values in found if values for v, f in zip(values, prints[m])]


def insert_plain(conn: Connection, table: Table, columns: tuple[str, ...], values: list[tuple]) -> None:
    """INSERT many rows (tuples in `columns` order) of a table without type decorators, straight
    through the driver's executemany: SQLAlchemy's per-row parameter handling costs twice SQLite's
    own insert (200,000 rows per backlog)."""
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(columns))
    if compiled.positional and tuple(compiled.positiontup or ()) == columns:  # SQLite's qmark
        conn.exec_driver_sql(compiled.string, values)
    else:  # psycopg's pyformat takes dicts
        conn.exec_driver_sql(compiled.string, [dict(zip(columns, v)) for v in values])


def write_derived(conn: Connection, derived: Iterable[tuple[int, MessageResult, Iterable[Problem],
                                                            Iterable[ReportRow]]]) -> None:
    """Insert a batch's results, problems and rows (their old ones already deleted)."""
    derived = list(derived)
    conn.execute(insert(results), [result_values(m, result) for m, result, _, _ in derived])
    found = numbered_problems(conn, [(m, [problem_values(p) for p in listed]) for m, _, listed, _ in derived])
    if found:
        insert_plain(conn, problems, ("message", *PROBLEM_FIELDS, "number"), found)
    row_values = [(m, i, *stored_row(r)) for m, _, _, listed in derived for i, r in enumerate(listed)]
    if row_values:
        insert_plain(conn, rows, ("message", "position", *ROW_COLUMNS), row_values)
