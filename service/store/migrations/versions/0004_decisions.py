"""Staff decisions (facts applied over the derived tables) and stable problem numbers.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
safe_at_start = True  # adds two tables and a nullable column


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_by", sa.Integer),
    )
    op.create_table(
        "problem_numbers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.UniqueConstraint("message", "fingerprint", name="uq_problem_numbers_message_fingerprint"),
    )
    with op.batch_alter_table("problems") as batch:  # derived: `reprocess` fills it for older problems
        batch.add_column(sa.Column("number", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("problems") as batch:
        batch.drop_column("number")
    op.drop_table("problem_numbers")
    op.drop_table("decisions")
