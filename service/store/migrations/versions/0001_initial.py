"""The schema as store.metadata.create_all made it before migrations existed.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
safe_at_start = True  # creates tables only

UTC_TIME = sa.DateTime(timezone=True)  # store.UtcDateTime's column type


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("source_received_at", UTC_TIME),
        sa.Column("ingested_at", UTC_TIME, nullable=False),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("messages.id")),
    )
    op.create_index("ix_messages_message_id", "messages", ["message_id"])
    op.create_table(
        "deliveries",
        sa.Column("source_id", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
    )
    _create_derived()
    _create_state()


def _create_derived() -> None:
    op.create_table(
        "results",
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("city", sa.Text),
        sa.Column("deadline", sa.Text),
        sa.Column("is_report", sa.Boolean, nullable=False),
        sa.Column("auto_generated", sa.Boolean, nullable=False),
        sa.Column("unregistered_sender", sa.Boolean, nullable=False),
        sa.Column("city_source", sa.Text, nullable=False),
        sa.Column("deadline_source", sa.Text, nullable=False),
        sa.Column("tables", sa.Integer, nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("units", sa.Text, nullable=False),
    )
    op.create_index("ix_results_city", "results", ["city"])
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("message_zh", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("row", sa.Integer),
    )
    op.create_index("ix_problems_message", "problems", ["message"])
    op.create_table(
        "rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in ("filename", "sheet")),
        sa.Column("source_row", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("seq", "county", "organiser", "name", "content", "effect", "note")),
        *(sa.Column(name, sa.Float) for name in ("participants", "products", "sales_wan")),
    )
    op.create_index("ix_rows_message", "rows", ["message"])


def _create_state() -> None:
    op.create_table(
        "watermarks",
        sa.Column("folder", sa.Text, primary_key=True),
        sa.Column("uidvalidity", sa.Integer, nullable=False),
        sa.Column("last_uid", sa.Integer, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "sent",
        sa.Column("key", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("kind", "city", "deadline", "recipients", "subject", "status")),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("smtp_message_id", sa.Text, nullable=False),
    )
    op.create_table(
        "health",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("health", "sent", "watermarks", "rows", "problems", "results", "deliveries", "messages"):
        op.drop_table(table)
