"""Remember the deliveries `purge` removed, so a poll never fetches purged mail again.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
safe_at_start = True  # adds a table only


def upgrade() -> None:
    op.create_table(
        "purged",
        sa.Column("source_id", sa.Text, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purged")
