"""Rows by the config's table template: a row's field texts and figures as JSON objects keyed by the
template's field keys (issue 15), instead of one column per field of the 2022 table. Existing rows are
converted in place (their keys are the 2022 template's); derived data, rebuilt by `reprocess` anyway.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import json
import math
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
safe_at_start = True  # a derived table: converted row by row, nothing staff wrote is touched

TEXT_FIELDS = ("seq", "county", "organiser", "name", "content", "effect", "note")
FIGURE_FIELDS = ("participants", "products", "sales_wan")
BATCH = 5000


def _figure(value: float | None) -> str | None:
    if value is None:
        return None
    if not math.isfinite(value) or abs(value) >= 10 ** 9:
        return str(Decimal(repr(value)))
    return str(Decimal(value).quantize(Decimal("0.000001")).normalize())


def upgrade() -> None:
    op.add_column("rows", sa.Column("template", sa.Text, nullable=False, server_default=""))
    op.add_column("rows", sa.Column("fields", sa.Text, nullable=False, server_default="{}"))
    op.add_column("rows", sa.Column("figures", sa.Text, nullable=False, server_default="{}"))
    conn = op.get_bind()
    old = sa.table("rows", sa.column("id"), *(sa.column(c) for c in (*TEXT_FIELDS, *FIGURE_FIELDS)))
    update = sa.text("UPDATE rows SET template = :template, fields = :fields, figures = :figures WHERE id = :id")
    last = 0
    while True:
        found = conn.execute(sa.select(old).where(old.c.id > last).order_by(old.c.id).limit(BATCH)).all()
        if not found:
            break
        conn.execute(update, [{"id": r.id, "template": "activities",
                               "fields": json.dumps({k: getattr(r, k) for k in TEXT_FIELDS}, ensure_ascii=False),
                               "figures": json.dumps({k: _figure(getattr(r, k)) for k in FIGURE_FIELDS
                                                      if getattr(r, k) is not None})} for r in found])
        last = found[-1].id
    with op.batch_alter_table("rows") as batch:
        for name in (*TEXT_FIELDS, *FIGURE_FIELDS):
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("rows") as batch:
        for name in TEXT_FIELDS:
            batch.add_column(sa.Column(name, sa.Text, nullable=False, server_default=""))
        for name in FIGURE_FIELDS:
            batch.add_column(sa.Column(name, sa.Float))
    conn = op.get_bind()
    for r in conn.execute(sa.text("SELECT id, fields, figures FROM rows")).all():
        fields, figures = json.loads(r.fields), json.loads(r.figures)
        values = {k: fields.get(k, "") for k in TEXT_FIELDS} | {k: (float(figures[k]) if k in figures else None)
                                                                for k in FIGURE_FIELDS}
        conn.execute(sa.text("UPDATE rows SET " + ", ".join(f"{k} = :{k}" for k in values) + " WHERE id = :id"),
                     {**values, "id": r.id})
    with op.batch_alter_table("rows") as batch:
        for name in ("figures", "fields", "template"):
            batch.drop_column(name)
