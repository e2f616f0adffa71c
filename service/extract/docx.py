"""Reader for .docx via python-docx: bytes -> one grid per top-level Word table.

Merged cells come back from python-docx as the same cell repeated; each cell is
read once (by its <w:tc> identity) and repeats are recorded as merged ranges.
"""
from __future__ import annotations

import io

import docx
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from ..text import clean_cell
from .grid import Grid, Merge

PREAMBLE_LINES = 12  # paragraphs kept before each table (title, 填报单位, 联系人)


def read_docx(content: bytes) -> list[Grid]:
    """Every top-level table in body order, with the paragraphs just before it."""
    document = docx.Document(io.BytesIO(content))
    grids: list[Grid] = []
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = clean_cell(block.text)
            if text:
                lines.append(text)
        elif isinstance(block, DocxTable):
            grids.append(table_grid(block, f"表格{len(grids) + 1}", tuple(lines[-PREAMBLE_LINES:])))
            lines = []
    return grids


def table_grid(table: DocxTable, name: str, preamble: tuple[str, ...] = ()) -> Grid:
    """Cells as text, each merged cell's text once at its top-left, merges as ranges."""
    cells: list[list[str]] = []
    owners: list[list[object]] = []  # the <w:tc> element behind each grid position
    for row in table.rows:
        tcs: list[object] = [None] * row.grid_cols_before
        tcs += [cell._tc for cell in row.cells]  # noqa: SLF001 - identity is the only merge signal
        texts = {id(cell._tc): clean_cell(cell.text) for cell in row.cells}  # noqa: SLF001
        owners.append(tcs)
        cells.append([""] * len(tcs))
        for c, tc in enumerate(tcs):
            if tc is not None and _is_origin(owners, len(owners) - 1, c):
                cells[-1][c] = texts[id(tc)]
    return Grid(sheet=name, cells=cells, merged=_merges(owners), preamble=preamble)


def _is_origin(owners: list[list[object]], r: int, c: int) -> bool:
    """True where a cell starts: not the same <w:tc> as its left or upper neighbour."""
    tc = owners[r][c]
    if c > 0 and owners[r][c - 1] is tc:
        return False
    return not (r > 0 and c < len(owners[r - 1]) and owners[r - 1][c] is tc)


def _merges(owners: list[list[object]]) -> list[Merge]:
    """Ranges of positions sharing one <w:tc>, as (r0, c0, r1, c1)."""
    spans: dict[int, list[int]] = {}
    for r, row in enumerate(owners):
        for c, tc in enumerate(row):
            if tc is None:
                continue
            span = spans.setdefault(id(tc), [r, c, r, c])
            span[2], span[3] = max(span[2], r), max(span[3], c)
    return [(a, b, c, d) for a, b, c, d in spans.values() if (a, b) != (c, d)]
