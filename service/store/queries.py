"""The database: the queries the stages need, on the tables of service/store/schema.py (with it and the
migrations, the only modules that import sqlalchemy).

Facts (messages, deliveries, sent log, watermarks, health, quarantine) are append/update-only and are
never rebuilt. Derived tables (results, problems, rows) are rebuilt by `reprocess`.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import (
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..model import (
    RESENDABLE,
    MessageResult,
    Problem,
    ReportRow,
    SentRecord,
    Snapshot,
    StoredMessage,
    StoredResult,
)
from .accounts import Accounts
from .changes import count_rewrite
from .decision_log import DecisionLog
from .records import (
    read_message_snapshot,
    read_problems,
    read_results,
    read_row_counts,
    read_rows,
    read_snapshot,
    sent_record,
    write_derived,
)
from .schema import (
    DERIVED,
    deliveries,
    health,
    messages,
    problem_numbers,
    purged,
    quarantine,
    results,
    sent,
    watermarks,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Derivation = tuple[int, MessageResult, Sequence[Problem], Sequence[ReportRow]]  # (message, what derive made of it)


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) and url != "sqlite:///:memory:" else None


def make_engine(url: str) -> Engine:
    """Engine for any SQLAlchemy URL; a SQLite file gets WAL, a busy timeout and 0600 mode."""
    path = _sqlite_path(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        path.touch(mode=0o600)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


class Store(DecisionLog, Accounts):
    """Queries over one engine. Each public method is its own transaction unless given `conn`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> "Store":
        """Open the database; a new one is created, an older one migrated when safe (see migrations)."""
        store = cls(make_engine(url))
        if migrate:
            from .migrations import (
                ensure_schema,  # one SELECT when current; Alembic loads only if needed
            )

            ensure_schema(store.engine)
        return store

    def close(self) -> None:
        self.engine.dispose()

    # -- facts: messages and deliveries -------------------------------------------------
    def record_messages(self, found: list[dict], now: datetime,
                        marks: dict[str, tuple[int, int]] | None = None) -> list[tuple[StoredMessage, bool]]:
        """Record archived messages and where they came from, and advance the IMAP watermarks
        (folder -> (uidvalidity, uid); a new UIDVALIDITY resets, nothing moves back), in one commit.

        found: dicts of sha256, message_id, size, source_id, source_received_at. Returns (stored, is_new) each.
        A message another process recorded meanwhile (two imports at once) comes back not new.
        """
        return _retried_on_conflict(lambda: self._record_messages(found, now, marks))

    def _record_messages(self, found: list[dict], now: datetime,
                         marks: dict[str, tuple[int, int]] | None) -> list[tuple[StoredMessage, bool]]:
        with self.engine.begin() as conn:
            known = {r.sha256: _stored(r) for r in conn.execute(
                select(messages).where(messages.c.sha256.in_({f["sha256"] for f in found})))}
            ids = {f["message_id"] for f in found if f["message_id"]}
            first = dict(conn.execute(select(messages.c.message_id, func.min(messages.c.id))
                                      .where(messages.c.message_id.in_(ids)).group_by(messages.c.message_id)).all())
            delivered = set(conn.scalars(select(deliveries.c.source_id).where(
                deliveries.c.source_id.in_({f["source_id"] for f in found}))))
            recorded, new_deliveries = [], []
            for f in found:
                stored, is_new = known.get(f["sha256"]), f["sha256"] not in known
                if stored is None:
                    stored = _insert_message(conn, f, first.get(f["message_id"]) if f["message_id"] else None, now)
                    known[f["sha256"]] = stored
                    first.setdefault(f["message_id"], stored.id)
                if f["source_id"] and f["source_id"] not in delivered:
                    delivered.add(f["source_id"])
                    new_deliveries.append(dict(source_id=f["source_id"], message=stored.id, seen_at=now))
                recorded.append((stored, is_new))
            if new_deliveries:
                conn.execute(insert(deliveries), new_deliveries)
            for folder, (uidvalidity, uid) in (marks or {}).items():
                _advance_watermark(conn, folder, uidvalidity, uid, now)
        return recorded

    def has_delivery(self, source_id: str) -> bool:
        """True for a delivery recorded (or recorded and then purged)."""
        with self.engine.connect() as conn:
            return any(conn.execute(select(t.c.source_id).where(t.c.source_id == source_id)).first()
                       for t in (deliveries, purged))

    def delivery_ids(self, prefix: str) -> set[str]:
        """All source ids starting with prefix (a folder source lists its files once per poll)."""
        with self.engine.connect() as conn:
            return {r[0] for t in (deliveries, purged)
                    for r in conn.execute(select(t.c.source_id).where(t.c.source_id.startswith(prefix)))}

    def stored_messages(self) -> list[StoredMessage]:
        with self.engine.connect() as conn:
            found = conn.execute(select(messages).order_by(messages.c.id))
            return [StoredMessage(r.id, r.sha256, r.message_id, r.source_received_at, r.ingested_at,
                                  r.duplicate_of) for r in found]

    def unprocessed_ids(self) -> list[int]:
        """Messages archived and recorded but never processed (a crash came in between)."""
        query = (select(messages.c.id).outerjoin(results, results.c.message == messages.c.id)
                 .where(results.c.message.is_(None)).order_by(messages.c.id))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def count_unprocessed(self) -> int:
        """How many messages have no result (each result belongs to one message): a cheap check per poll."""
        query = select(select(func.count()).select_from(messages).scalar_subquery()
                       - select(func.count()).select_from(results).scalar_subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def stored_messages_by_id(self, ids: Iterable[int]) -> list[StoredMessage]:
        """The given messages, oldest first (one query for a batch)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(messages).where(messages.c.id.in_(list(ids))).order_by(messages.c.id))
            return [_stored(r) for r in found]

    # -- derived: results, problems, rows ----------------------------------------------
    def replace_results(self, derived: Sequence[Derivation], quarantined: dict[int, str] | None = None,
                        now: datetime | None = None) -> None:
        """Replace everything derived from a batch of (message, result, problems, rows), in one transaction
        (again when another process wrote the same message's results first: the last one stands).

        `quarantined` (message -> reason) are the batch's messages set aside; the others leave the
        quarantine (a retry that went through). A message already there keeps its first reason and time.
        """
        if derived:
            _retried_on_conflict(lambda: self._replace_results(derived, quarantined or {}, now))

    def _replace_results(self, derived: Sequence[Derivation], quarantined: dict[int, str],
                         now: datetime | None) -> None:
        ids = [message for message, *_ in derived]
        with self.engine.begin() as conn:
            already = {r[0] for r in conn.execute(select(quarantine.c.message).where(quarantine.c.message.in_(ids)))}
            conn.execute(delete(quarantine).where(quarantine.c.message.in_(already - set(quarantined))))
            fresh = [dict(message=m, reason=reason[:4000], at=now) for m, reason in quarantined.items()
                     if m not in already]
            if fresh:
                conn.execute(insert(quarantine), fresh)
            replaced = [conn.execute(delete(table).where(table.c.message.in_(ids))).rowcount for table in DERIVED]
            if any(replaced):  # derived before: readers that keep records (ChangeToken's users) read again
                count_rewrite(conn)
            write_derived(conn, derived)

    def clear_all_derived(self) -> None:
        with self.engine.begin() as conn:
            for table in DERIVED:
                conn.execute(delete(table))
            count_rewrite(conn)

    def quarantined(self) -> dict[int, str]:
        """Messages set aside (message -> reason): `reprocess` leaves them alone unless asked."""
        with self.engine.connect() as conn:
            return {r.message: r.reason for r in conn.execute(select(quarantine))}

    def results(self) -> list[StoredResult]:
        """Every message's derived result, joined with its message facts, oldest first."""
        with self.engine.connect() as conn:
            return read_results(conn)

    def snapshot(self, with_rows: bool = False) -> Snapshot:
        """What a job's views read, in one read transaction (see records.read_snapshot); `with_rows`
        adds the rows of every report version (the workbook and the digest's totals need them)."""
        return read_snapshot(self.engine, with_rows)

    def message_snapshot(self, message: int) -> Snapshot:
        """What a view of one message needs (records.read_message_snapshot), without reading the rest."""
        return read_message_snapshot(self.engine, message)

    def previous_version_received(self, message: int, city: str, deadline: str,
                                  received_at: datetime) -> datetime | None:
        """When the city's latest earlier report for the deadline (the version `message` replaces) was
        received; None when `message` is the first (duplicates are no versions, as in track)."""
        earlier = or_(results.c.received_at < received_at,
                      and_(results.c.received_at == received_at, results.c.message < message))  # track's order
        query = (select(func.max(results.c.received_at)).join(messages, messages.c.id == results.c.message)
                 .where(results.c.city == city, results.c.deadline == deadline, results.c.is_report.is_(True),
                        messages.c.duplicate_of.is_(None), earlier))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()  # max() keeps the column's type: an aware UTC datetime

    def problems(self, message_ids: Iterable[int] | None = None) -> dict[int, tuple[Problem, ...]]:
        """message -> its problems, in the order found."""
        with self.engine.connect() as conn:
            return read_problems(conn, message_ids)

    def rows(self, message_ids: Iterable[int]) -> dict[int, tuple[ReportRow, ...]]:
        """message -> its stored rows, figures back as the parser's exact decimals (figures.exact_figure)."""
        with self.engine.connect() as conn:
            return read_rows(conn, message_ids)

    def row_counts(self) -> dict[int, int]:
        with self.engine.connect() as conn:
            return read_row_counts(conn)

    # -- IMAP watermarks ---------------------------------------------------------------
    def get_watermark(self, folder: str) -> tuple[int, int] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(watermarks).where(watermarks.c.folder == folder)).first()
            return (r.uidvalidity, r.last_uid) if r else None

    # -- health ------------------------------------------------------------------------
    def set_health(self, key: str, value: str, now: datetime) -> None:
        for _ in range(2):  # a concurrent first insert of the same key: update theirs instead
            try:
                with self.engine.begin() as conn:
                    if conn.execute(update(health).where(health.c.key == key).values(value=value, at=now)).rowcount == 0:
                        conn.execute(insert(health).values(key=key, value=value, at=now))
                return
            except IntegrityError:
                continue

    def get_health(self, key: str) -> tuple[str, datetime] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(health).where(health.c.key == key)).first()
            return (r.value, r.at) if r else None

    # -- sent log ----------------------------------------------------------------------
    def sent_record(self, key: str) -> SentRecord | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(sent).where(sent.c.key == key)).first()
            return sent_record(r) if r else None

    def claim_send(self, *, key: str, kind: str, city: str, deadline: str,
                   recipients: Iterable[str], subject: str, now: datetime) -> bool:
        """Mark `key` as being sent (committed before the SMTP conversation starts); False when it
        is sent or being sent already. Each step is one atomic statement, so of two processes
        claiming the same key exactly one wins, the other gets False (never an IntegrityError)."""
        with self.engine.begin() as conn:
            if conn.execute(update(sent).where(sent.c.key == key, sent.c.status.in_(RESENDABLE)).values(
                    status="sending", attempts=sent.c.attempts + 1, updated_at=now)).rowcount:
                return True
        try:
            with self.engine.begin() as conn:
                _insert_sent(conn, key, kind, city, deadline, recipients, subject, "sending", now)
        except IntegrityError:
            return False
        return True

    def record_send_attempt(self, *, key: str, kind: str, city: str, deadline: str,
                            recipients: Iterable[str], subject: str, now: datetime) -> None:
        """claim_send, for callers that checked the key themselves."""
        self.claim_send(key=key, kind=kind, city=city, deadline=deadline, recipients=recipients,
                        subject=subject, now=now)

    def record_skipped(self, *, key: str, kind: str, city: str, deadline: str,
                       recipients: Iterable[str], subject: str, now: datetime, status: str = "stale",
                       error: str = "") -> None:
        """Log an email that will never be sent, once: a reminder missed for good ("stale"), or a
        receipt over its hourly limit ("skipped", with the reason in `error`)."""
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(sent.c.key).where(sent.c.key == key)).first() is None:
                    _insert_sent(conn, key, kind, city, deadline, recipients, subject, status, now, error)
        except IntegrityError:  # a concurrent run logged it first
            pass

    def record_send_result(self, key: str, *, ok: bool, error: str = "", smtp_message_id: str = "",
                           now: datetime, deferred: bool = False) -> None:
        """sent, failed (refused for this email) or, with `deferred`, retry (sent again at the next run)."""
        status = "sent" if ok else "retry" if deferred else "failed"
        with self.engine.begin() as conn:
            conn.execute(update(sent).where(sent.c.key == key).values(
                status=status, error=error[:2000], updated_at=now, smtp_message_id=smtp_message_id))

    def sent_records(self, since: datetime | None = None) -> list[SentRecord]:
        query = select(sent).order_by(sent.c.created_at, sent.c.key)
        if since is not None:
            query = query.where(sent.c.updated_at >= since)
        with self.engine.connect() as conn:
            return [sent_record(r) for r in conn.execute(query)]

    def sent_keys(self) -> set[str]:
        """Keys that were sent or are being sent: never to be sent again."""
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(sent.c.key).where(sent.c.status.not_in(RESENDABLE)))}

    # -- purge (the only deletes of facts; see purge.py) -------------------------------
    def purge_messages(self, message_ids: Iterable[int], now: datetime) -> None:
        """Delete messages with everything derived, in one transaction; their deliveries stay known."""
        ids = list(message_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            gone = [r[0] for r in conn.execute(select(deliveries.c.source_id).where(deliveries.c.message.in_(ids)))]
            if gone:
                conn.execute(insert(purged), [dict(source_id=s, purged_at=now) for s in gone])
            for table in (*DERIVED, deliveries, quarantine, problem_numbers):
                conn.execute(delete(table).where(table.c.message.in_(ids)))
            conn.execute(delete(messages).where(messages.c.id.in_(ids)))
            count_rewrite(conn)

    def delete_sent(self, keys: Iterable[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sent).where(sent.c.key.in_(list(keys))))


CONFLICT_ATTEMPTS = 3  # two imports (or an import and the worker) recording the same mail at once


def _retried_on_conflict(write: Callable[[], T]) -> T:
    """Run a write transaction again when another process committed the same unique rows first:
    the next attempt reads what they wrote (PostgreSQL and SQLite alike, no lock held meanwhile)."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return write()
        except IntegrityError:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            log.info("write conflicted with another process (attempt %d): reading again", attempt)
    raise AssertionError("unreachable")


def _insert_sent(conn: Connection, key: str, kind: str, city: str, deadline: str,
                 recipients: Iterable[str], subject: str, status: str, now: datetime, error: str = "") -> None:
    conn.execute(insert(sent).values(
        key=key, kind=kind, city=city, deadline=deadline,
        recipients=json.dumps(list(recipients), ensure_ascii=False), subject=subject, status=status,
        attempts=int(status == "sending"), error=error[:2000], created_at=now, updated_at=now, smtp_message_id=""))


def _stored(r: Any) -> StoredMessage:
    return StoredMessage(r.id, r.sha256, r.message_id, r.source_received_at, r.ingested_at, r.duplicate_of)


_INSERT_MESSAGE = insert(messages)


def _insert_message(conn: Connection, found: dict, duplicate_of: int | None, now: datetime) -> StoredMessage:
    # one constant statement with parameters: SQLAlchemy compiles it once (.values() per message did it each time)
    pk = conn.execute(_INSERT_MESSAGE, dict(
        sha256=found["sha256"], message_id=found["message_id"], size=found["size"], ingested_at=now,
        source_received_at=found["source_received_at"], duplicate_of=duplicate_of)).inserted_primary_key[0]
    return StoredMessage(int(pk), found["sha256"], found["message_id"], found["source_received_at"], now,
                         duplicate_of)


def _advance_watermark(conn: Connection, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    r = conn.execute(select(watermarks).where(watermarks.c.folder == folder)).first()
    if r is None:
        conn.execute(insert(watermarks).values(folder=folder, uidvalidity=uidvalidity,
                                               last_uid=last_uid, updated_at=now))
    elif r.uidvalidity != uidvalidity or last_uid > r.last_uid:
        conn.execute(update(watermarks).where(watermarks.c.folder == folder).values(
            uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now))


def restrict_permissions(path: Path) -> None:
    """data_dir holds personal data (names, phones): readable by the service user only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)



# What the driver's message says -> what an operator should read first (SQLite, psycopg)
_DATABASE_REASONS = (("readonly database", "数据库只读，无法写入 (read-only database)"),
                     ("disk is full", "磁盘已满，数据库无法写入 (disk full)"),
                     ("unable to open database file", "无法打开数据库文件 (unable to open database file)"),
                     ("connection", "无法连接数据库 (cannot connect to the database)"),
                     ("database is locked", "数据库被占用 (database is locked)"))


def database_error(err: BaseException) -> str | None:
    """One line for the CLI when err is the database failing (read-only, full, unreachable), else None.

    The driver's first line only: SQLAlchemy's own text adds the SQL and its parameters."""
    if not isinstance(err, DBAPIError):
        return None
    lines = str(err.orig or err).strip().splitlines()
    detail = lines[0] if lines else type(err.orig or err).__name__
    reason = next((zh for needle, zh in _DATABASE_REASONS if needle in detail.lower()), "数据库错误 (database error)")
    return f"{reason}: {detail}"
