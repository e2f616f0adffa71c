"""Extract stage, pure: Grid + the config's table templates -> Table (+ problems), shared by every reader.

The flow of one grid: find the header by content (extract/header.py), turn the rows under it into
Row records (extract/rows.py), read 填报单位/联系人 from the lines around it (extract/meta_lines.py).
"""
from __future__ import annotations

from ..config import default_tables
from ..model import Problem, Table
from ..tables import TableTemplate
from .grid import Grid
from .header import find_header
from .meta_lines import table_meta
from .rows import read_rows
from .template import compile_template


def normalise_grid(grid: Grid, filename: str,
                   templates: tuple[TableTemplate, ...] | None = None) -> tuple[Table | None, list[Problem]]:
    """The grid's statistics table (the first template whose header it has), or None when none matches.
    templates: the config's [[tables]] (default: the shipped one)."""
    for template in templates or default_tables():
        header = find_header(grid.cells, grid.merged, compile_template(template))
        if header is not None:
            break
    else:
        return None, []
    rows, problems, footer = read_rows(grid, header, filename)
    meta = table_meta(grid, header.first_row, footer)
    return Table(filename=filename, sheet=grid.sheet, rows=tuple(rows), template=template.id, **meta), problems
