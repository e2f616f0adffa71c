"""Extract stage, pure: Grid -> Table of the 重点活动统计表 (+ problems), shared by every reader.

The flow of one grid: find the header by content (extract/header.py), turn the rows under it into
Row records (extract/rows.py), read 填报单位/联系人 from the lines around it (extract/meta_lines.py).
"""
from __future__ import annotations

from ..model import Problem, Table
from .grid import Grid
from .header import find_header
from .meta_lines import table_meta
from .rows import read_rows


def normalise_grid(grid: Grid, filename: str) -> tuple[Table | None, list[Problem]]:
    """The grid's statistics table, or None when no header row matches."""
    header = find_header(grid.cells, grid.merged)
    if header is None:
        return None, []
    rows, problems, footer = read_rows(grid, header, filename)
    meta = table_meta(grid, header.first_row, footer)
    return Table(filename=filename, sheet=grid.sheet, rows=tuple(rows), **meta), problems
