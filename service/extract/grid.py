"""Grids: what every reader hands to the normaliser (cells already text).

Also the cell-value formatting shared by the spreadsheet readers, and the
ReadProblem a reader raises when it knows exactly why a file cannot be read.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..text import clean_cell

Merge = tuple[int, int, int, int]  # (r0, c0, r1, c1), 0-based, inclusive, in cells coordinates


@dataclass(frozen=True)
class Grid:
    """One sheet or one Word table as rows of text cells.

    `first_row` is the 1-based source row of cells[0]; `preamble` holds text lines
    found before the table (Word paragraphs) that may carry 填报单位/联系人.
    `merges_known` is False for readers that cannot see merged cells (xls without
    formatting, csv, antiword text), so the normaliser carries county down by rule.
    """

    sheet: str
    cells: list[list[str]]
    merged: list[Merge] = field(default_factory=list)
    first_row: int = 1
    preamble: tuple[str, ...] = ()
    merges_known: bool = True


def cell_at(cells: list[list[str]], r: int, c: int) -> str:
    """The text at row r, column c, or "" outside the grid (rows are ragged)."""
    row = cells[r] if 0 <= r < len(cells) else []
    return row[c] if 0 <= c < len(row) else ""


class ReadProblem(Exception):
    """A reader's precise reason why a file cannot be read (becomes a Problem)."""

    def __init__(self, code: str, message_zh: str, detail: str = "") -> None:
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh
        self.detail = detail


def format_number(value: float) -> str:
    """1.0 -> "1", 13812345678.0 -> "13812345678", 0.1+0.2 -> "0.3" (Excel's 15 digits)."""
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    if float(value).is_integer() and abs(value) < 1e21:
        return str(int(value))
    return f"{value:.15g}"


def format_value(value: object) -> str:
    """A spreadsheet cell value as the text a person sees (dates as ISO, no float noise)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return format_number(float(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return clean_cell(value)
