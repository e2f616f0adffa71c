"""Remember the messages whose derive was set aside (out of memory or time, a worker killed by it).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
safe_at_start = True  # adds a table only


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
