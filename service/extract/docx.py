"""Reader for .docx: bytes -> one grid per top-level Word table.

The main document part is parsed directly with lxml. python-docx (used before) builds a
proxy object per cell and resolves every vertically merged cell by XPath, about 50 ms
per 100-row table, which dominated ingestion of .docx reports. This reader keeps
python-docx's reading rules, so grids come out the same:

- only direct children of <w:body> count: <w:p> feeds the preamble, <w:tbl> is a table
  (blocks wrapped in <w:sdt> content controls are skipped, tables nested in cells too);
- only direct <w:tr> of a table and direct <w:tc> of a row are read (<w:sdt>-wrapped
  rows/cells are skipped); <w:gridBefore> leaves empty positions at a row's start;
- a cell's text is its direct paragraphs joined by "\n"; a paragraph's text is its
  runs and hyperlink runs, with <w:tab>/<w:ptab> -> "\t", <w:br/> (line break) and
  <w:cr/> -> "\n", <w:noBreakHyphen/> -> "-". Deleted text (<w:del>) is not read.
  One deliberate difference: runs inside <w:ins> (tracked insertions) are read, since
  they are visible text; python-docx drops them;
- a cell spanning n grid columns (<w:gridSpan>) fills n positions; a <w:vMerge>
  "continue" cell belongs to the cell at the same grid offset in the row above (one
  with no such cell reads as a cell of its own; python-docx raised ValueError, which
  made the whole attachment unreadable).

Each merged cell's text is written once, at its top-left position, and the positions
sharing one cell are reported as merged ranges. A table with more rows, or a row wider (gridBefore,
gridSpan, gridAfter), than the limits is refused before its grid is built (bounds.py).
"""
from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

from ..config import LimitsSection
from ..text import clean_cell
from .bounds import ReadBounds
from .grid import Grid, Merge

PREAMBLE_LINES = 12  # paragraphs kept before each table (title, 填报单位, 联系人)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_BODY, _P, _TBL, _TR, _TC = (f"{_W}{t}" for t in ("body", "p", "tbl", "tr", "tc"))
_R, _T, _BR, _HYPERLINK, _INS = (f"{_W}{t}" for t in ("r", "t", "br", "hyperlink", "ins"))
_TRPR, _GRIDBEFORE, _GRIDAFTER, _TCPR, _GRIDSPAN, _VMERGE = (
    f"{_W}{t}" for t in ("trPr", "gridBefore", "gridAfter", "tcPr", "gridSpan", "vMerge"))
_VAL = f"{_W}val"
_BR_TYPE = f"{_W}type"
# Run children with a fixed text equivalent (python-docx's CT_R.text).
_RUN_SYMBOLS = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# python-docx's parser settings: same whitespace handling, and no entity expansion.
_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False)


class TableTooWide(Exception):
    """A row of a Word table spans more grid columns than allowed (raised before the row is built)."""

    def __init__(self, row: int, width: int) -> None:
        super().__init__(f"row {row}: {width} grid columns")
        self.row, self.width = row, width


def read_docx(content: bytes, bounds: ReadBounds | None = None) -> list[Grid]:
    """Every top-level table within the bounds in body order, with the paragraphs just before it."""
    bounds = bounds or ReadBounds.for_attachment("", LimitsSection())
    body = _document_root(content).find(_BODY)
    grids: list[Grid] = []
    lines: list[str] = []
    tables = 0
    for block in body if body is not None else ():
        if block.tag == _P:
            text = clean_cell(_paragraph_text(block))
            if text:
                lines.append(text)
        elif block.tag == _TBL:
            tables += 1
            grid = _bounded_table_grid(block, f"表格{tables}", tuple(lines[-PREAMBLE_LINES:]), bounds)
            if grid is not None:
                grids.append(grid)
            lines = []
    return grids


def _bounded_table_grid(tbl: etree._Element, name: str, preamble: tuple[str, ...],
                        bounds: ReadBounds) -> Grid | None:
    """The table's grid, or None (and a Problem) when it has too many rows or too wide a row."""
    limits = bounds.limits
    rows = sum(1 for _ in tbl.iterchildren(_TR))
    if rows > limits.max_rows:
        bounds.admits(name, rows, 0, f"{rows} 行")
        return None
    try:
        grid = table_grid(tbl, name, preamble, max_columns=limits.max_columns)
    except TableTooWide as err:
        bounds.admits(name, rows, err.width, f"第 {err.row} 行宽 {err.width} 列")
        return None
    width = max(map(len, grid.cells), default=0)
    return grid if bounds.admits(name, rows, width, f"{rows} 行 × {width} 列") else None


def _document_root(content: bytes) -> etree._Element:
    """The parsed main document part, found through the package relationships."""
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        name = "word/document.xml"
        if "_rels/.rels" in package.namelist():
            rels = etree.fromstring(package.read("_rels/.rels"), _PARSER)
            for rel in rels.iter(_RELS):
                if rel.get("Type") == _OFFICE_DOCUMENT:
                    name = posixpath.normpath(rel.get("Target", name).lstrip("/"))
                    break
        return etree.fromstring(package.read(name), _PARSER)


def table_grid(tbl: etree._Element, name: str, preamble: tuple[str, ...] = (), max_columns: int = 1 << 14) -> Grid:
    """Cells as text, each merged cell's text once at its top-left, merges as ranges.

    Raises TableTooWide before building a row wider than max_columns (gridBefore, the cells' spans
    and gridAfter together): <w:gridSpan w:val="200000000"/> is a few bytes.
    """
    cells: list[list[str]] = []
    owners: list[list[int | None]] = []  # per grid position: which <w:tc> (by number) covers it
    texts: list[str] = []  # text of <w:tc> number i
    spans: list[int] = []  # gridSpan of <w:tc> number i
    above: dict[int, int] = {}  # previous row: grid offset where a <w:tc> starts -> its owner
    for number, tr in enumerate(tbl.iterchildren(_TR), start=1):
        offset, after = _grid_before_after(tr)
        if offset + after > max_columns:
            raise TableTooWide(number, offset + after)
        row: list[int | None] = [None] * offset
        starts: dict[int, int] = {}
        for tc in tr.iterchildren(_TC):
            span, continues = _cell_props(tc)
            owner = above.get(offset) if continues else None
            if owner is None:  # a new cell (a "continue" with nothing above also reads as one)
                owner = len(texts)
                texts.append(clean_cell("\n".join(_paragraph_text(p) for p in tc.iterchildren(_P))))
                spans.append(span)
            starts[offset] = owner
            width = max(len(row), offset) + max(spans[owner], span) + after
            if width > max_columns:
                raise TableTooWide(number, width)
            row += [owner] * spans[owner]  # python-docx repeats the owning cell across its span
            offset += span
        above = starts
        # text only where a cell starts: not the same <w:tc> as the left or upper neighbour
        upper = owners[-1] if owners else []
        cells.append(["" if tc is None or (c > 0 and row[c - 1] == tc) or (c < len(upper) and upper[c] == tc)
                      else texts[tc] for c, tc in enumerate(row)])
        owners.append(row)
    return Grid(sheet=name, cells=cells, merged=_merges(owners), preamble=preamble)


def _grid_before_after(tr: etree._Element) -> tuple[int, int]:
    """Empty grid positions before the row's first cell and after its last (w:trPr/w:gridBefore, w:gridAfter)."""
    props = tr.find(_TRPR)
    if props is None:
        return 0, 0
    before, after = props.find(_GRIDBEFORE), props.find(_GRIDAFTER)
    return (0 if before is None else max(int(before.get(_VAL)), 0),
            0 if after is None else max(int(after.get(_VAL)), 0))


def _cell_props(tc: etree._Element) -> tuple[int, bool]:
    """(gridSpan, continues a vertical merge) from <w:tcPr>, read in one pass for speed.

    <w:vMerge/> without val means "continue"; "restart" starts a new merged cell.
    """
    span: int | None = None
    continues: bool | None = None
    props = tc.find(_TCPR)
    for prop in props if props is not None else ():
        if prop.tag == _GRIDSPAN and span is None:
            span = int(prop.get(_VAL))
        elif prop.tag == _VMERGE and continues is None:
            continues = prop.get(_VAL, "continue") == "continue"
    return (1 if span is None else span), bool(continues)


def _paragraph_text(p: etree._Element) -> str:
    """Text of the paragraph's runs, hyperlinked runs and inserted runs (not deleted ones)."""
    parts: list[str] = []
    for child in p:
        if child.tag == _R:
            parts.append(_run_text(child))
        elif child.tag in (_HYPERLINK, _INS):
            parts += (_run_text(r) for r in child.iterchildren(_R))
    return "".join(parts)


def _run_text(r: etree._Element) -> str:
    """<w:t> text plus tabs, line breaks and hyphens; page/column breaks add nothing."""
    parts: list[str] = []
    for child in r:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _BR:
            parts.append("\n" if child.get(_BR_TYPE, "textWrapping") == "textWrapping" else "")
        else:
            parts.append(_RUN_SYMBOLS.get(child.tag, ""))
    return "".join(parts)


def _merges(owners: list[list[int | None]]) -> list[Merge]:
    """Ranges of positions sharing one <w:tc>, as (r0, c0, r1, c1)."""
    spans: dict[int, list[int]] = {}
    for r, row in enumerate(owners):
        for c, tc in enumerate(row):
            if tc is None:
                continue
            span = spans.setdefault(tc, [r, c, r, c])
            span[2], span[3] = max(span[2], r), max(span[3], c)
    return [(a, b, c, d) for a, b, c, d in spans.values() if (a, b) != (c, d)]
