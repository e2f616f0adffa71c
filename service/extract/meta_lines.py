"""Extract stage, meta lines, pure: text lines around a table -> 填报单位/联系人/职务/联系方式/邮箱.

The lines are Word paragraphs before the table, the grid rows above its header and the footer rows
under it (extract/rows.py keeps those aside); a row's cells are joined by CELL into one line.
"""
from __future__ import annotations

import re

from ..text import clean_cell
from .grid import Grid

# 填报单位（盖章）：… 联系人：… 职务：… 联系方式：… 邮箱：…; None = a label that only ends a value
META_LABELS: dict[str, str | None] = {
    "填报单位": "unit", "报送单位": "unit", "填表单位": "unit",
    "联系人": "contact", "填报人": "contact", "填表人": "contact",
    "职务": "contact_title",
    "联系方式": "phone", "联系电话": "phone", "手机号码": "phone", "手机": "phone", "电话": "phone",
    "电子邮箱": "email", "电子邮件": "email", "邮箱": "email", "e-mail": "email", "email": "email",
    "填报日期": None, "报送日期": None, "填报时间": None, "日期": None, "审核人": None,
}
CELL = "\u0001"  # joins a row's cells so "联系人" | "张三" reads like "联系人：张三"
_META_RE = re.compile(
    r"(?:^|(?<=[\s\u0001_;；,，]))(" + "|".join(sorted(map(re.escape, META_LABELS), key=len, reverse=True))
    + r")\s*(?:[(（]\s*盖\s*章\s*[)）])?\s*(?:[:：]|\u0001|$)", re.IGNORECASE)


def meta_line(cells: list[str]) -> str:
    """A row's non-blank cells as one line, CELL between them."""
    return CELL.join(c for c in cells if c)


def table_meta(grid: Grid, header_row: int, footer: list[str]) -> dict[str, str]:
    """The table's meta from the grid's preamble, its rows above the header and its footer lines."""
    above = [meta_line(row) for row in grid.cells[:header_row]]
    return parse_meta([*grid.preamble, *above, *footer])


def parse_meta(lines: list[str]) -> dict[str, str]:
    """填报单位/联系人/职务/联系方式/邮箱 from free lines; the first value found wins."""
    meta = {"unit": "", "contact": "", "contact_title": "", "phone": "", "email": ""}
    for line in lines:
        matches = list(_META_RE.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            key = META_LABELS[_label_key(m.group(1))]
            value = _clean_meta(line[m.end():end])
            if key and value and not meta[key]:
                meta[key] = value
    return meta


def _label_key(label: str) -> str:
    return label if label in META_LABELS else label.lower()


def _clean_meta(value: str) -> str:
    """A label's value without blanks' underscores, colons and cell separators."""
    value = re.sub(r"[\u0001\s]+", " ", value).strip(" _＿:：;；,，")
    return clean_cell(re.sub(r"_{2,}|＿{2,}", "", value))
