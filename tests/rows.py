"""ReportRow records of the shipped 2022 template for tests, written with its field names."""
from __future__ import annotations

from decimal import Decimal

from service.config import default_tables
from service.model import ReportRow
from service.report.summary import layout_of

TEXT_KEYS = ("seq", "county", "organiser", "name", "content", "effect", "note")
FIGURE_KEYS = ("participants", "products", "sales_wan")
LAYOUT = layout_of(default_tables()[0])
COLUMNS = LAYOUT.columns  # the 汇总 sheet's headings, from the shipped template
METRIC_COLUMNS = LAYOUT.figure_columns
# The 2022 汇总 headings as they were written in code before the template (issue 15): the template keeps them.
COLUMNS_2022 = ("序号", "市州", "县（市、区）", "举办单位", "活动名称", "活动形式及具体内容",
                "活动成效（含参与主体数量、商品数量、销售额等）", "备注",
                "参与主体数量", "商品数量", "销售额（万元）", "来源文件", "收到日期")


def activity_row(filename: str = "附件1.xlsx", sheet: str = "Sheet1", source_row: int = 0, *args,
                 **fields: str | Decimal | float | int | None) -> ReportRow:
    """ReportRow(filename, sheet, source_row, seq, county, organiser, name, content, effect, note,
    participants, products, sales_wan) as positional or keyword values, the old record's order."""
    named = dict(zip((*TEXT_KEYS, *FIGURE_KEYS), args)) | fields
    values = {k: str(named.get(k, "")) for k in TEXT_KEYS}
    figures = {k: (v if isinstance(v, Decimal) else Decimal(str(v))) for k in FIGURE_KEYS
               if (v := named.get(k)) is not None}
    return ReportRow(filename, sheet, source_row, values, figures, "activities")
