"""Reader for legacy .xls (BIFF8) via xlrd: bytes -> grids."""
from __future__ import annotations

import xlrd

from .grid import Grid, Merge, format_value


def read_xls(content: bytes) -> list[Grid]:
    """One grid per visible sheet, merged ranges included when xlrd can read formatting."""
    try:
        book = xlrd.open_workbook(file_contents=content, formatting_info=True, on_demand=True)
    except NotImplementedError:
        # some writers' BIFF files trip the formatting parser; values are still readable
        book = xlrd.open_workbook(file_contents=content, formatting_info=False, on_demand=True)
    try:
        return [_sheet_grid(book, book.sheet_by_index(i)) for i in range(book.nsheets)
                if book.sheet_by_index(i).visibility == 0]
    finally:
        book.release_resources()


def _sheet_grid(book: xlrd.Book, sheet: xlrd.sheet.Sheet) -> Grid:
    """Cells as text; xlrd merged ranges are half-open (rlo, rhi, clo, chi)."""
    cells = [[_cell_text(book, sheet.cell(r, c)) for c in range(sheet.ncols)] for r in range(sheet.nrows)]
    merged: list[Merge] = [(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in sheet.merged_cells]
    return Grid(sheet=sheet.name, cells=cells, merged=merged, merges_known=bool(book.formatting_info))


def _cell_text(book: xlrd.Book, cell: xlrd.sheet.Cell) -> str:
    """Dates become ISO text, numbers lose float noise, error cells become empty."""
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return format_value(xlrd.xldate_as_datetime(cell.value, book.datemode))
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return format_value(cell.value)
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return format_value(bool(cell.value))
    if cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    return format_value(cell.value)
