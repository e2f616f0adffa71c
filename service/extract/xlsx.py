"""Reader for xlsx/xlsm/ods via calamine: bytes -> grids (cached values, never formulas).

openpyxl is deliberately not used here: calamine reads a 5,000-row sheet in a few ms.
Each sheet's used range is measured from its XML before calamine builds it (bounds.py).
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile

import python_calamine as calamine
from lxml import etree

from ..config import LimitsSection
from ..parse.sniff import ZIP_ERRORS
from ..text import clean_cell
from .bounds import ReadBounds, cell_name, clipped_merges
from .grid import Grid, Merge, ReadProblem, format_value

# Unzipped XML a workbook may declare: ~50,000 rows of a typical 附件1. A few MB of zip can
# declare a million rows (an "xlsx bomb": gigabytes once calamine and Python hold every cell).
MAX_XML_BYTES = 16 * 1024 * 1024
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
# A <c> start tag without an r attribute: calamine then counts on from the previous cell.
_CELL_WITHOUT_REF = re.compile(rb"<(?:\w+:)?c(?![^>]*\sr\s*=)[\s/>]")
# A cell holding something (not <c .../> nor <c ...></c>: calamine skips empty cells): its column and row.
_VALUED_CELL_REF = re.compile(rb"<(?:\w+:)?c\s(?:[^>]*?\s)?r\s*=\s*[\"']([A-Za-z]{1,9})(\d{1,12})[\"'][^>]*(?<!/)>"
                              rb"(?!</(?:\w+:)?c>)")
_UNPLAIN_CELL = re.compile(rb'<c(?:[>/\t\n\r]| (?!r="))')  # a <c> tag not opening with r="
_UNPLAIN_REF = re.compile(rb'<c r="(?![A-Za-z]{1,9}\d{1,12}")')
_PLAIN_ROW = re.compile(rb'<c r="[A-Za-z]{1,9}(\d{1,12})"')
_PLAIN_COLUMN = re.compile(rb'<c r="([A-Za-z]{1,9})')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # also in text now and then: such a sheet is only measured the slower way
ROUGH_ROWS, ROUGH_COLUMNS = 1000, 50  # below: empty styled cells counted in cost too little to look again
_PLAIN_VALUED_REF = re.compile(rb'<c r="([A-Za-z]{1,9})(\d{1,12})"[^>]*(?<!/)>(?!</c>)')
_ROW_OR_CELL = re.compile(rb"<(?:\w+:)?(row|c)(\s[^>]*)?>(</(?:\w+:)?c>)?")
_REF = re.compile(rb"\s(r)\s*=\s*[\"']([A-Za-z]{0,9})(\d{0,12})[\"']")


def read_xlsx(content: bytes, bounds: ReadBounds | None = None) -> list[Grid]:
    """One grid per visible worksheet within the bounds; rows start at A1 so row numbers are Excel's."""
    bounds = bounds or ReadBounds.for_attachment("", LimitsSection())
    _check_unzipped_size(content, bounds.filename)
    extents = sheet_extents(content)
    book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    grids = []
    for index, meta in enumerate(book.sheets_metadata):
        if meta.typ != calamine.SheetTypeEnum.WorkSheet:
            continue  # chart sheets, macro sheets
        if meta.visible != calamine.SheetVisibleEnum.Visible:
            continue  # hidden sheets hold drop-down lists or stale copies of the template
        rows, columns = extents[meta.name] if meta.name in extents else largest_extent(content)
        if bounds.admits(meta.name, rows, columns, cell_name(rows, columns)):
            grids.append(_sheet_grid(book.get_sheet_by_index(index)))
    return grids


def _check_unzipped_size(content: bytes, filename: str) -> None:
    """Refuse a workbook whose XML unzips past MAX_XML_BYTES, before calamine loads any of it.

    The declared sizes can be trusted: calamine's zip reader fails on a member that inflates past its own.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except ZIP_ERRORS:
        return  # calamine names what is wrong with the file
    declared = sum(info.file_size for info in infos if info.filename.lower().endswith(".xml"))
    if declared > MAX_XML_BYTES:
        raise ReadProblem("sheet_too_large", f"附件“{filename}”中的表格过大（解压后超过 16 MB），未读取，请删去多余的行列后重新报送",
                          detail=f"declared XML {declared} bytes > {MAX_XML_BYTES}")


def sheet_extents(content: bytes) -> dict[str, tuple[int, int]]:
    """Sheet name -> (rows, columns) of its used range from A1, as calamine will build it.

    Measured on the cells themselves, never the <dimension> (it can say anything; calamine sizes
    the range by the furthest cell). Empty when the file is no zip (calamine says why).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: cell_extent(_read(archive, part)) for name, part in _sheet_parts(archive).items()}
    except ZIP_ERRORS:
        return {}


def largest_extent(content: bytes) -> tuple[int, int]:
    """The largest extent of any XML part holding sheet data: for a sheet whose part was not resolved."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            datas = (_read(archive, name) for name in archive.namelist() if name.lower().endswith(".xml"))
            extents = [cell_extent(data) for data in datas if b"sheetData" in data]
    except ZIP_ERRORS:
        return 0, 0
    return max((r for r, _ in extents), default=0), max((c for _, c in extents), default=0)


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        return b""


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> part name, through xl/workbook.xml and its relationships (as calamine resolves them)."""
    names = set(archive.namelist())
    try:
        rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), _PARSER)
        book = etree.fromstring(archive.read("xl/workbook.xml"), _PARSER)
    except (KeyError, etree.XMLSyntaxError):
        return {}  # every sheet is then measured by the largest sheet data in the file
    targets = {}
    for rel in rels.iter(_PACKAGE_REL):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        targets[rel.get("Id")] = posixpath.normpath(path)
    return {sheet.get("name", ""): targets[sheet.get(f"{{{_REL}}}id")]
            for sheet in book.iter(f"{{{_MAIN}}}sheet") if targets.get(sheet.get(f"{{{_REL}}}id")) in names}


def cell_extent(xml: bytes) -> tuple[int, int]:
    """(rows, columns) from A1 to the furthest cell holding something, in one sheet's XML.

    Plainly written sheets are first measured over all their cells, empty ones too (an upper bound, found
    with literal-prefix searches); only a large one is measured again without the empty cells calamine skips.
    """
    if _plainly_written(xml):
        rows = max(map(int, set(_PLAIN_ROW.findall(xml))), default=0)
        columns = max(map(_column_number, set(_PLAIN_COLUMN.findall(xml))), default=0)
        if rows <= ROUGH_ROWS and columns <= ROUGH_COLUMNS:
            return rows, columns
        return _extent(_PLAIN_VALUED_REF.findall(xml))
    if not _CELL_WITHOUT_REF.search(xml):
        return _extent(_VALUED_CELL_REF.findall(xml))
    return _counted_extent(xml)


def _extent(refs: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    if not refs:
        return 0, 0
    letters, numbers = zip(*refs)
    return max(map(int, set(numbers))), max(_column_number(c) for c in set(letters))


def _plainly_written(xml: bytes) -> bool:
    """Every cell written as Excel, WPS and openpyxl do: <c r="B7" ...>, no prefix, a well-formed reference."""
    return not (_UNPLAIN_CELL.search(xml) or _UNPLAIN_REF.search(xml) or _PREFIXED_CELL.search(xml))


def _counted_extent(xml: bytes) -> tuple[int, int]:
    """The slow path for cells or rows without a reference: each counts on from the previous one."""
    row = column = rows = columns = 0
    for tag, attrs, closed in _ROW_OR_CELL.findall(xml):
        ref = _REF.search(attrs or b"")
        if tag == b"row":
            row = int(ref.group(3)) if ref and ref.group(3) else row + 1
            column = 0
            continue
        if ref and ref.group(2):
            column = _column_number(ref.group(2))
            row = int(ref.group(3)) if ref.group(3) else row
        else:
            column += 1
        if not closed and not (attrs or b"").rstrip().endswith(b"/"):
            rows, columns = max(rows, max(row, 1)), max(columns, column)
    return rows, columns


def _column_number(letters: bytes) -> int:
    """b"A" -> 1, b"XFD" -> 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _sheet_grid(sheet: calamine.CalamineSheet) -> Grid:
    """All cells from A1 as text, with merged ranges when the format exposes them."""
    rows = sheet.to_python(skip_empty_area=False)
    # most cells are text: skip format_value's type checks for them (a quarter of the read time), and
    # clean_cell's steps after strip() change only text holding a BOM
    cells = [[(clean_cell(v) if "\ufeff" in v else v.strip()) if type(v) is str else format_value(v) for v in row]
             for row in rows]
    ranges = sheet.merged_cell_ranges
    merged: list[Merge] = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in ranges or ()]
    merged = clipped_merges(merged, len(cells), max(map(len, cells), default=0))
    return Grid(sheet=sheet.name, cells=cells, merged=merged, merges_known=ranges is not None)
