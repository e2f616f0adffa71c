"""Reader for legacy Word .doc: bytes -> grids, through the converter app.py chose.

antiword gives DocBook text, read here; LibreOffice (when antiword is missing) gives a .docx.
The same converter serves WPS .et/.wps (service/extract/__init__.py).
"""
from __future__ import annotations

from typing import Iterator
from xml.etree import ElementTree

from ..config import LimitsSection
from ..text import clean_cell
from .bounds import ReadBounds
from .convert import Converter, NoConversion, NoConverter
from .docx import PREAMBLE_LINES, read_docx
from .grid import Grid, ReadProblem


def read_doc(content: bytes, bounds: ReadBounds | None = None, converter: Converter = NoConverter()) -> list[Grid]:
    """Tables of a Word 97-2003 document within the bounds, with the paragraphs before each."""
    bounds = bounds or ReadBounds.for_attachment("", LimitsSection())
    try:
        converted = converter.convert(content, "doc")
    except NoConversion as err:
        raise ReadProblem("unreadable_attachment", "未安装 antiword，无法读取 .doc", "antiword not on PATH") from err
    if converted.kind == "docbook":
        # antiword's text is no larger than the document, so the tables are counted once read
        grids = grids_from_docbook(converted.content.decode("utf-8", errors="replace"))
        return [grid for grid in grids if _admitted(grid, bounds)]
    return read_docx(converted.content, bounds)


def grids_from_docbook(xml_text: str) -> list[Grid]:
    """One grid per <informaltable>, preamble = text lines since the previous table."""
    # drop the DOCTYPE: it names an external DTD that must never be fetched
    body = xml_text[xml_text.find("<book"):] if "<book" in xml_text else xml_text
    root = ElementTree.fromstring(body)
    grids: list[Grid] = []
    pending: list[str] = []
    for kind, value in _blocks(root):
        if kind == "text":
            pending.append(value)
            continue
        lines = [clean_cell(line) for line in "".join(pending).splitlines()]
        preamble = tuple(line for line in lines if line)[-PREAMBLE_LINES:]
        grids.append(Grid(sheet=f"表格{len(grids) + 1}", cells=_table_cells(value),
                          preamble=preamble, merges_known=False))
        pending = []
    return grids


def _admitted(grid: Grid, bounds: ReadBounds) -> bool:
    rows, columns = len(grid.cells), max(map(len, grid.cells), default=0)
    return bounds.admits(grid.sheet, rows, columns, f"{rows} 行 × {columns} 列")


def _blocks(elem: ElementTree.Element) -> Iterator[tuple[str, object]]:
    """Text pieces and tables in document order (tables not descended into)."""
    if elem.tag in ("informaltable", "table"):
        yield "table", elem
        return
    if elem.tag in ("bookinfo", "title"):
        return
    if elem.text:
        yield "text", elem.text
    for child in elem:
        yield from _blocks(child)
        if child.tail:
            yield "text", child.tail


def _table_cells(table: ElementTree.Element) -> list[list[str]]:
    """Rows of entry texts; line breaks inside an entry are kept."""
    return [[clean_cell("".join(entry.itertext())) for entry in row.iter("entry")]
            for row in table.iter("row")]
