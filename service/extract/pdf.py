"""Reader for .pdf: bytes -> one grid of the tables pdfplumber finds (Excel/WPS/Word "export to PDF").

The ruled tables of every page are stacked into one grid, a header repeated at the top of each
page dropped, with the text lines above the first table (title, 填报单位) and below the last one
(联系人, 填报日期) as one-cell rows, so the normaliser sees what a spreadsheet would show. Merged
cells are read from the table's geometry (a cell box covering several rows or columns), as a
spreadsheet's merged ranges are.
A PDF without a text layer is a scan: a precise problem asking for the Excel version.
Bounded before pdfminer allocates: each compressed stream is inflated in chunks up to
max_part_bytes first; then the page count, and the time spent (checked between pages).
"""
from __future__ import annotations

import io
import re
import time
import zlib
from typing import Callable

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from ..config import LimitsSection
from ..text import clean_cell
from .bounds import ReadBounds
from .grid import Grid, Merge, ReadProblem

HEADER_REPEATS = 3  # rows at the top of a later page's table checked against the first table's first rows
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_CHUNK = 1024 * 1024


def read_pdf(content: bytes, bounds: ReadBounds, name: str = "PDF",
             clock: Callable[[], float] = time.monotonic) -> list[Grid]:
    """One grid holding the PDF's tables within the bounds; [] for a text PDF without a ruled table.

    clock: seconds, for the max_pdf_seconds bound (time.monotonic; a test may pass its own).
    """
    limits = bounds.limits
    check_streams(content, name, limits.max_part_bytes)
    try:
        pdf = pdfplumber.open(io.BytesIO(content))
    except PdfminerException as err:  # pdfplumber wraps what pdfminer raised
        if isinstance(err.args[0] if err.args else None, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise ReadProblem("encrypted_attachment", f"附件“{name}”设有密码保护，无法读取，请取消密码后重新报送",
                              repr(err.args[0])) from err
        raise
    with pdf:
        pages = len(pdf.pages)
        if pages > limits.max_pdf_pages:
            raise ReadProblem("pdf_too_many_pages", f"附件“{name}”共 {pages} 页，超过自动读取的上限"
                              f"（{limits.max_pdf_pages} 页），未读取，请同时报送 Excel 版本",
                              f"{pages} pages > max_pdf_pages={limits.max_pdf_pages}")
        cells, merged = _page_cells(pdf, name, limits, clock)
    columns = max(map(len, cells), default=0)
    if not cells or not bounds.admits(name, len(cells), columns, f"{len(cells)} 行 × {columns} 列"):
        return []
    return [Grid(sheet=name, cells=cells, merged=merged)]


Cells = list[list[str]]


def _page_cells(pdf: pdfplumber.PDF, name: str, limits: LimitsSection,
                clock: Callable[[], float]) -> tuple[Cells, list[Merge]]:
    """Text lines around the tables and the tables' rows and merges, page by page; raises for a scan
    or a slow file."""
    started, has_text = clock(), False
    tables: list[tuple[Cells, list[Merge]]] = []
    above: list[str] = []
    below: list[str] = []
    for page in pdf.pages:
        if clock() - started > limits.max_pdf_seconds:
            raise ReadProblem("pdf_too_slow", f"附件“{name}”内容过于复杂，未能在时限内读取，请同时报送 Excel 版本",
                              f"max_pdf_seconds={limits.max_pdf_seconds}")
        has_text = has_text or bool(page.chars)
        found = page.find_tables()
        if not found:
            (below if tables else above).extend(_lines(page, 0, page.height))
            continue
        if not tables:
            above.extend(_lines(page, 0, found[0].bbox[1]))
        tables.extend([(_cleaned(table.extract()), _merges(table)) for table in found])
        below = _lines(page, found[-1].bbox[3], page.height)
        page.flush_cache()  # pdfplumber keeps every page's objects otherwise
    if not has_text:
        raise ReadProblem("pdf_scanned", f"附件“{name}”为扫描件，无法读取文字，请同时报送 Excel 版本",
                          f"{len(pdf.pages)} pages without a text layer")
    if not tables:
        return [], []
    rows, merges = _stacked(tables)
    shifted = [(r0 + len(above), c0, r1 + len(above), c1) for r0, c0, r1, c1 in merges]
    return [[line] for line in above] + rows + [[line] for line in below], shifted


def _lines(page: pdfplumber.page.Page, top: float, bottom: float) -> list[str]:
    """The text lines of a horizontal band of the page."""
    top, bottom = max(0.0, top), min(float(page.height), bottom)
    if bottom - top < 1:
        return []
    text = page.crop((0, top, float(page.width), bottom), strict=False).extract_text() or ""
    return [clean_cell(line) for line in text.splitlines() if line.strip()]


def _cleaned(rows: list[list[str | None]]) -> Cells:
    return [[clean_cell(cell or "") for cell in row] for row in rows]


def _merges(table: pdfplumber.table.Table) -> list[Merge]:
    """The cell boxes covering more than one row or column, in the table's row/column positions."""
    tolerance = 1.0
    merges = []
    for x0, top, x1, bottom in table.cells:
        rows = [i for i, row in enumerate(table.rows)
                if row.bbox[1] >= top - tolerance and row.bbox[3] <= bottom + tolerance]
        columns = [i for i, column in enumerate(table.columns)
                   if column.bbox[0] >= x0 - tolerance and column.bbox[2] <= x1 + tolerance]
        if rows and columns and (len(rows) > 1 or len(columns) > 1):
            merges.append((rows[0], columns[0], rows[-1], columns[-1]))
    return merges


def _stacked(tables: list[tuple[Cells, list[Merge]]]) -> tuple[Cells, list[Merge]]:
    """The tables one under another; a later table's leading rows that repeat the first table's
    header (Excel's 打印标题行 on every page) are dropped, with the merges inside them."""
    head = tables[0][0][:HEADER_REPEATS]
    rows: Cells = []
    merges: list[Merge] = []
    for index, (table, table_merges) in enumerate(tables):
        skip = 0
        while index and skip < len(table) and skip < HEADER_REPEATS and table[skip] in head:
            skip += 1
        offset = len(rows) - skip
        merges += [(r0 + offset, c0, r1 + offset, c1) for r0, c0, r1, c1 in table_merges if r0 >= skip]
        rows.extend(table[skip:])
    return rows, merges


def check_streams(content: bytes, name: str, limit: int) -> None:
    """Raise part_too_large when any deflated stream of the PDF inflates past `limit` (a PDF bomb):
    pdfminer inflates each stream whole, so this runs first, in chunks, keeping nothing."""
    for match in _STREAM.finditer(content):
        inflater, total, at, pending = zlib.decompressobj(), 0, match.end(), b""
        while True:
            if not pending:
                pending = content[at:at + _CHUNK]
                at += len(pending)
                if not pending:
                    break
            try:
                out = inflater.decompress(pending, _CHUNK)
            except zlib.error:
                break  # not deflated (images, encrypted or plain streams): pdfminer copes or refuses
            pending = inflater.unconsumed_tail
            total += len(out)
            if total > limit:
                raise ReadProblem("part_too_large", f"附件“{name}”中有内容解压后超过大小限制，未读取",
                                  f"stream at {match.start()} inflates past max_part_bytes={limit}")
            if inflater.eof:
                break
