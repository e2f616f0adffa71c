"""Reader for xlsx/xlsm/ods via calamine: bytes -> grids (cached values, never formulas).

openpyxl is deliberately not used here: calamine reads a 5,000-row sheet in a few ms.
"""
from __future__ import annotations

import io
import zipfile

import python_calamine as calamine

from ..sniff import ZIP_ERRORS
from ..text import clean_cell
from .grid import Grid, Merge, ReadProblem, format_value

# Unzipped XML a workbook may declare: ~50,000 rows of a typical 附件1. A few MB of zip can
# declare a million rows (an "xlsx bomb": gigabytes once calamine and Python hold every cell).
MAX_XML_BYTES = 16 * 1024 * 1024


def read_xlsx(content: bytes) -> list[Grid]:
    """One grid per visible worksheet; rows start at A1 so row numbers are Excel's."""
    _check_unzipped_size(content)
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


def _check_unzipped_size(content: bytes) -> None:
    """Refuse a workbook whose XML unzips past MAX_XML_BYTES, before calamine loads any of it.

    The declared sizes can be trusted: calamine's zip reader fails on a member that inflates past its own.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except ZIP_ERRORS:
        return  # calamine names what is wrong with the file
    declared = sum(info.file_size for info in infos if info.filename.lower().endswith(".xml"))
    if declared > MAX_XML_BYTES:
        raise ReadProblem("sheet_too_large", "附件中的表格过大（解压后超过 16 MB），未读取，请删去多余的行列后重新报送",
                          detail=f"declared XML {declared} bytes > {MAX_XML_BYTES}")


def _sheet_grid(sheet: calamine.CalamineSheet) -> Grid:
    """All cells from A1 as text, with merged ranges when the format exposes them."""
    rows = sheet.to_python(skip_empty_area=False)
    # most cells are text: skip format_value's type checks for them (a quarter of the read time), and
    # clean_cell's steps after strip() change only text holding a BOM
    cells = [[(clean_cell(v) if "\ufeff" in v else v.strip()) if type(v) is str else format_value(v) for v in row]
             for row in rows]
    ranges = sheet.merged_cell_ranges
    merged: list[Merge] = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in ranges or ()]
    return Grid(sheet=sheet.name, cells=cells, merged=merged, merges_known=ranges is not None)
