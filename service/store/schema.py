"""The database schema: SQLAlchemy 2 Core tables (service/store/queries.py holds the queries).

Facts (messages, deliveries, sent log, watermarks, health, purged, quarantine, decisions, problem numbers,
users and their web sessions) are append/update-only and are never rebuilt. Derived tables (results, problems, rows) are rebuilt by `reprocess`. Alembic
migrations (service/store/migrations/) build exactly this metadata.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """Aware datetimes stored as UTC (SQLite has no time zones); read back aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("message_id", Text, nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("source_received_at", UtcDateTime),  # IMAP INTERNALDATE when known
    Column("ingested_at", UtcDateTime, nullable=False),
    Column("duplicate_of", Integer, ForeignKey("messages.id")),
)
deliveries = Table(
    "deliveries", metadata,
    Column("source_id", Text, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)
results = Table(
    "results", metadata,
    Column("message", Integer, ForeignKey("messages.id"), primary_key=True),
    Column("sender", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("city", Text, index=True),
    Column("deadline", Text),
    Column("is_report", Boolean, nullable=False),
    Column("auto_generated", Boolean, nullable=False),
    Column("unregistered_sender", Boolean, nullable=False),
    Column("city_source", Text, nullable=False),
    Column("deadline_source", Text, nullable=False),
    Column("tables", Integer, nullable=False),
    Column("attachments", Text, nullable=False),  # JSON list of {filename, kind, origin}
    Column("units", Text, nullable=False),  # JSON list of 填报单位/联系人 per table
    # Sender verification (model.SenderAuth, decide/sender_auth.py); derived like the rest.
    Column("auth_verdict", Text, nullable=False, server_default="none"),
    Column("auth_dkim", Text, nullable=False, server_default="none"),
    Column("auth_dkim_domain", Text, nullable=False, server_default=""),
    Column("auth_aligned", Boolean, nullable=False, server_default=false()),
    Column("auth_spf", Text, nullable=False, server_default=""),
    Column("auth_dmarc", Text, nullable=False, server_default=""),
    Column("auth_authserv_id", Text, nullable=False, server_default=""),
    Column("sender_unverified", Boolean, nullable=False, server_default=false()),
)
problems = Table(
    "problems", metadata,
    Column("id", Integer, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False, index=True),
    Column("code", Text, nullable=False),
    Column("message_zh", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("row", Integer),
    Column("number", Integer),  # stable through reprocess: problem_numbers.id
)
rows = Table(
    "rows", metadata,
    Column("id", Integer, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("filename", Text, nullable=False),
    Column("sheet", Text, nullable=False),
    Column("source_row", Integer, nullable=False),
    Column("template", Text, nullable=False, server_default=""),  # the [[tables]] id it was read with
    # JSON objects keyed by the template's field keys: texts as written, figures as exact decimal strings
    Column("fields", Text, nullable=False, server_default="{}"),
    Column("figures", Text, nullable=False, server_default="{}"),
)
watermarks = Table(
    "watermarks", metadata,
    Column("folder", Text, primary_key=True),
    Column("uidvalidity", Integer, nullable=False),
    Column("last_uid", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
sent = Table(
    "sent", metadata,
    Column("key", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("deadline", Text, nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("subject", Text, nullable=False),
    Column("status", Text, nullable=False),  # "sending" | "sent" | "failed" | "retry" (next run) | "stale"
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("smtp_message_id", Text, nullable=False),
)
health = Table(
    "health", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
purged = Table(  # deliveries `purge` removed: a poll must not fetch that mail again
    "purged", metadata,
    Column("source_id", Text, primary_key=True),
    Column("purged_at", UtcDateTime, nullable=False),
)
quarantine = Table(  # messages whose derive blew a bound: derived again only when staff ask
    "quarantine", metadata,
    Column("message", Integer, ForeignKey("messages.id"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
decisions = Table(  # staff corrections: facts, applied over the derived tables by every view
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),  # assign, ignore, confirm-sender, exempt, unexempt, choose, resolve, ...
    Column("target", Text, nullable=False),  # message id, problem number, "city/deadline" or decision id
    Column("arguments", Text, nullable=False),  # JSON object
    Column("by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("undone_by", Integer),  # the undo decision that took this one back
)
problem_numbers = Table(  # a problem's number stays the same through reprocess (decisions name it)
    "problem_numbers", metadata,
    Column("id", Integer, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    UniqueConstraint("message", "fingerprint", name="uq_problem_numbers_message_fingerprint"),
)
DERIVED = (rows, problems, results)
users = Table(  # who may open the web workbench (service/store/accounts.py); disabled, never deleted
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),  # "viewer" | "editor"
    Column("password_hash", Text, nullable=False),  # argon2id, in the PHC string format
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),  # password set or changed: older sessions end
)
web_sessions = Table(  # one per login; the cookie holds a token whose sha256 is kept here
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)
