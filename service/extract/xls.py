"""Reader for legacy .xls (BIFF8) via xlrd: bytes -> grids.

xlrd pads every row to the widest one, so one cell at IV65536 costs 16.7 million cells (18 s,
357 MB): each sheet's extent is read from its BIFF records first and checked (bounds.py).
"""
from __future__ import annotations

import struct

import xlrd
from xlrd.compdoc import CompDoc, CompDocError

from ..config import LimitsSection
from .bounds import ReadBounds, cell_name
from .grid import Grid, Merge, format_value

_BOF, _EOF, _BOUNDSHEET, _MERGEDCELLS = 0x0809, 0x000A, 0x0085, 0x00E5
# Records that put one cell at (row, column) = their first two u16: NUMBER, LABELSST, LABEL, RSTRING,
# RK, FORMULA (three versions), BOOLERR, BLANK, and the BIFF2 forms xlrd also reads.
_CELL_RECORDS = frozenset({0x0203, 0x00FD, 0x0204, 0x00D6, 0x027E, 0x0006, 0x0206, 0x0406, 0x0205, 0x0201,
                           0x0001, 0x0002, 0x0003, 0x0004, 0x0005})
_MULTI_RECORDS = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK: row, first column ... last column
UNKNOWN = 1 << 31
_U16_PAIR = struct.Struct("<HH").unpack_from


def read_xls(content: bytes, bounds: ReadBounds | None = None) -> list[Grid]:
    """One grid per visible sheet within the bounds, merged ranges included when xlrd can read formatting."""
    bounds = bounds or ReadBounds.for_attachment("", LimitsSection())
    try:
        book = xlrd.open_workbook(file_contents=content, formatting_info=True, on_demand=True)
    except NotImplementedError:
        # some writers' BIFF files trip the formatting parser; values are still readable
        book = xlrd.open_workbook(file_contents=content, formatting_info=False, on_demand=True)
    try:
        extents = sheet_extents(content)
        grids = []
        for index, name in enumerate(book.sheet_names()):
            # a sheet whose records could not be found is never loaded blind
            visible, rows, columns = extents[index] if index < len(extents) else (True, UNKNOWN, UNKNOWN)
            extent = cell_name(rows, columns) if rows < UNKNOWN else "无法确定"
            if visible and bounds.admits(name, rows, columns, extent):
                grids.append(_sheet_grid(book, book.sheet_by_index(index)))
        return grids
    finally:
        book.release_resources()


def sheet_extents(content: bytes) -> list[tuple[bool, int, int]]:
    """Per worksheet in xlrd's order: (visible, rows, columns) from A1 to the furthest cell or merge.

    Read the way xlrd will read: each sheet from the offset its BOUNDSHEET record gives, up to its
    EOF record. The DIMENSIONS record is not trusted (xlrd does not size by it either).
    """
    try:
        mem, base, length = CompDoc(content, logfile=_Silent()).locate_named_stream("Workbook")
        if mem is None:
            mem, base, length = CompDoc(content, logfile=_Silent()).locate_named_stream("Book")
    except (CompDocError, struct.error, IndexError, ValueError):
        return []  # xlrd fails on the same file and says why
    if mem is None:
        return []
    stream = mem[base:base + length]
    return [(visible, *_substream_extent(stream, offset)) for offset, visible in _worksheets(stream)]


def _records(stream: bytes, pos: int):
    """(record type, data) from pos to the end of the substream (its EOF) or of the stream."""
    while 0 <= pos and pos + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, pos)
        yield kind, stream[pos + 4:pos + 4 + size]
        if kind == _EOF:
            return
        pos += 4 + size


def _worksheets(stream: bytes) -> list[tuple[int, bool]]:
    """(offset, visible) of each worksheet named in the workbook globals, as xlrd lists them."""
    found = []
    for kind, data in _records(stream, 0):
        if kind == _BOUNDSHEET and len(data) >= 6:
            offset, visibility, sheet_type = struct.unpack_from("<iBB", data)
            if sheet_type == 0:  # xlrd skips charts, macro sheets and VB modules
                found.append((offset, visibility == 0))
    return found


def _substream_extent(stream: bytes, offset: int) -> tuple[int, int]:
    """(rows, columns) of one sheet's cells and merges; a plain loop, as it meets every cell record."""
    rows = columns = 0
    pos, end = offset, len(stream)
    while 0 <= pos and pos + 4 <= end:
        kind, size = _U16_PAIR(stream, pos)
        body = pos + 4
        if body + size > end or kind == _EOF:
            break
        if kind in _CELL_RECORDS and size >= 4:
            row, column = _U16_PAIR(stream, body)
        elif kind in _MULTI_RECORDS and size >= 6:
            row, column = _U16_PAIR(stream, body)[0], _U16_PAIR(stream, body + size - 4)[1]
        elif kind == _MERGEDCELLS and size >= 2:
            row, column = _merges_extent(stream[body:body + size])
        else:
            pos = body + size
            continue
        rows, columns = max(rows, row + 1), max(columns, column + 1)
        pos = body + size
    return rows, columns


def _merges_extent(data: bytes) -> tuple[int, int]:
    """The last row and column any range of a MERGEDCELLS record reaches (xlrd grows the sheet to them)."""
    count, = struct.unpack_from("<H", data)
    ranges = [struct.unpack_from("<HHHH", data, at) for at in range(2, min(2 + 8 * count, len(data) - 7), 8)]
    return max((r[1] for r in ranges), default=0), max((r[3] for r in ranges), default=0)


class _Silent:
    """A logfile for CompDoc's warnings about odd files (they are xlrd's to report)."""

    def write(self, _text: str) -> None:
        pass


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
