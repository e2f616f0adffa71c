"""Exact money: figures whose float sums are inexact (0.1 + 0.2 万元 across rows) come out exact in
概况 and 汇总, the JSON export and the digest's totals, through the real store (a SQLite file) and,
for one city, through the whole pipeline from mail."""
from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

from openpyxl import load_workbook

from service import jobs
from service.report.summary import table_totals
from service.report.workbook import export_bytes, summary_workbook_bytes
from tests.builders import make_email
from tests.integration.test_workbook import ingest, on, record_report, stored_row
from tests.table_builders import make_xlsx, template_rows

SALES = [Decimal(v) for v in ("0.1", "0.2", "0.35", "1234.56", "0.000001")]  # 万元; 0.000001 is 0.01 元
ROWS_PER_CITY = 60


def city_sales(n: int) -> list[Decimal]:
    return [SALES[(i + n) % len(SALES)] for i in range(ROWS_PER_CITY)]


def record_fourteen_cities(app) -> dict[str, Decimal]:
    """Every city's rows stored as the pipeline stores them (the parser's Decimals); city -> exact sum."""
    expected = {}
    for n, city in enumerate(c.name for c in app.config.cities):
        sales = city_sales(n)
        rows = [stored_row(f"{city}活动{i}", i, participants=Decimal(i), sales_wan=v) for i, v in enumerate(sales)]
        record_report(app, n + 1, city, on("2022-02-03") + timedelta(hours=n), rows)
        expected[city] = sum(sales, Decimal(0))
    return expected


def test_the_figures_of_this_test_do_not_add_up_exactly_as_floats():
    sales = [v for n in range(14) for v in city_sales(n)]
    assert sum(float(v) for v in sales) != float(sum(sales, Decimal(0)))  # else the test proves nothing


def test_the_overview_and_summary_totals_are_exact_in_the_workbook(app):
    expected = record_fourteen_cities(app)
    wb = load_workbook(io.BytesIO(summary_workbook_bytes(jobs.compile_summary(app))))
    lines = {r[0]: r for r in wb["概况"].iter_rows(min_row=5, values_only=True) if r[0]}
    for city, total in expected.items():
        assert Decimal(repr(lines[city][-1])) == total, city  # the cell holds the exact decimal's digits
        assert lines[city][-4] == ROWS_PER_CITY
    province = sum(expected.values(), Decimal(0))
    assert Decimal(repr(lines["全省合计"][-1])) == province
    summary_total = [r for r in wb["汇总"].iter_rows(min_row=4, values_only=True) if r[0]][-1]
    assert summary_total[0].startswith("合计") and Decimal(repr(summary_total[10])) == province


def test_the_json_export_and_the_digest_carry_exact_totals(app):
    expected = record_fourteen_cities(app)
    province = sum(expected.values(), Decimal(0))
    summary = jobs.compile_summary(app)
    assert summary.totals()["sales_wan"] == province and isinstance(summary.totals()["sales_wan"], Decimal)
    document = json.loads(export_bytes(summary, ".json"), parse_float=Decimal)
    assert document["totals"]["sales_wan"] == province
    assert sorted({r["sales_wan"] for r in document["rows"]}) == sorted(set(SALES))
    totals = table_totals(app.config, app.store.snapshot(with_rows=True), app.clock())
    assert totals["sales_wan"] == province and totals["participants"] == 14 * sum(range(ROWS_PER_CITY))


def test_figures_read_from_mail_stay_exact_through_the_store(app):
    rows = [[i, "芙蓉区", "芙蓉区商务局", f"活动{i}", "直播", f"参与企业{i}家，销售额{v}万元", ""]
            for i, v in enumerate(("0.1", "0.2") * 30, start=1)]
    ingest(app, make_email(subject="长沙市网上年货节活动总结", date=on("2022-02-05"),
                           attachments=[("附件1.xlsx", make_xlsx(template_rows(rows)))]), "cs")
    summary = jobs.compile_summary(app, "summary")
    assert len(summary.rows) == 60 and summary.totals()["sales_wan"] == Decimal("9")
    assert all(r[10] in (Decimal("0.1"), Decimal("0.2")) and isinstance(r[10], Decimal) for r in summary.rows)
    document = json.loads(export_bytes(summary, ".json"), parse_float=Decimal)
    assert document["totals"]["sales_wan"] == 9
