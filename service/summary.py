"""Summary stage: tracked reports + their rows -> the consolidated table (values only).

Rows come from each city's counted version for the deadline, cities in the official order,
序号 renumbered. Writing the workbook is in workbook.py.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from .config import Config
from .model import ReportState

COLUMNS = ("序号", "市州", "县（市、区）", "举办单位", "活动名称", "活动形式及具体内容", "活动成效", "备注",
           "参与主体数量", "商品数量", "销售额（万元）", "来源文件", "收到日期")


def counted_messages(states: Sequence[ReportState], deadline: str) -> dict[str, int]:
    """city -> store id of the version whose rows count, for one deadline."""
    return {s.city: s.message for s in states if s.deadline == deadline and s.message}


def summary_rows(config: Config, states: Sequence[ReportState], deadline: str,
                 rows_by_message: dict[int, list[dict]], received: dict[int, datetime]) -> list[list]:
    """One list per activity in COLUMNS order; cities in the config's (official) order."""
    counted = counted_messages(states, deadline)
    table: list[list] = []
    for city in config.cities:
        message = counted.get(city.name)
        if not message:
            continue
        day = received[message].astimezone(config.tz).date().isoformat() if message in received else ""
        for r in rows_by_message.get(message, []):
            table.append([
                len(table) + 1, city.name, r["county"], r["organiser"], r["name"], r["content"],
                r["effect"], r["note"], r["participants"], r["products"], r["sales_wan"], r["filename"], day,
            ])
    return table


def latest_deadline_with_rows(config: Config, states: Sequence[ReportState]) -> str:
    """The latest deadline for which any city has rows (default for `compile`)."""
    with_rows = {s.deadline for s in states if s.rows}
    for deadline in sorted(config.deadlines, key=lambda d: d.due, reverse=True):
        if deadline.id in with_rows:
            return deadline.id
    return config.table_deadline.id
