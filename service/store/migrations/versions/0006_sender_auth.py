"""Sender verification on each message's result (DKIM, the trusted server's SPF/DKIM/DMARC, the verdict,
whether the message is held): derived columns, filled by the next derive or `reprocess`.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
safe_at_start = True  # adds columns with defaults only

TEXT_COLUMNS = (("auth_verdict", "none"), ("auth_dkim", "none"), ("auth_dkim_domain", ""), ("auth_spf", ""),
                ("auth_dmarc", ""), ("auth_authserv_id", ""))
FLAG_COLUMNS = ("auth_aligned", "sender_unverified")


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite takes it with a constant default): no table rebuild.
    for name, default in TEXT_COLUMNS:
        op.add_column("results", sa.Column(name, sa.Text, nullable=False, server_default=default))
    for name in FLAG_COLUMNS:
        op.add_column("results", sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        for name in (*FLAG_COLUMNS[::-1], *(n for n, _ in TEXT_COLUMNS[::-1])):
            batch.drop_column(name)
