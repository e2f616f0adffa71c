"""Reader for xlsx/xlsm/ods via calamine: bytes -> grids (cached values, never formulas).

openpyxl is deliberately not used here: calamine reads a 5,000-row sheet in a few ms.
"""
from __future__ import annotations

import io

import python_calamine as calamine

from .grid import Grid, Merge, format_value


def read_xlsx(content: bytes) -> list[Grid]:
    """One grid per visible worksheet; rows start at A1 so row numbers are Excel's."""
    book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    grids = []
    for index, meta in enumerate(book.sheets_metadata):
        if meta.typ != calamine.SheetTypeEnum.WorkSheet:
            continue  # chart sheets, macro sheets
        if meta.visible != calamine.SheetVisibleEnum.Visible:
            continue  # hidden sheets hold drop-down lists or stale copies of the template
        sheet = book.get_sheet_by_index(index)
        grids.append(_sheet_grid(sheet))
    return grids


def _sheet_grid(sheet: calamine.CalamineSheet) -> Grid:
    """All cells from A1 as text, with merged ranges when the format exposes them."""
    rows = sheet.to_python(skip_empty_area=False)
    cells = [[format_value(v) for v in row] for row in rows]
    ranges = sheet.merged_cell_ranges
    merged: list[Merge] = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in ranges or ()]
    return Grid(sheet=sheet.name, cells=cells, merged=merged, merges_known=ranges is not None)
