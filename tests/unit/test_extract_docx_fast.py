"""The lxml .docx reader gives the same grids as python-docx-based reading (the reference below)."""
from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from service.extract.docx import PREAMBLE_LINES, read_docx
from service.extract.grid import Grid
from service.text import clean_cell
from tests.table_builders import CONTACT_LINE, HEADER, SAMPLE_ROWS, TITLE, UNIT_LINE, make_docx, template_rows


def reference_read_docx(content: bytes) -> list[Grid]:
    """The previous python-docx reader, kept here as the reference."""
    grids: list[Grid] = []
    lines: list[str] = []
    for block in docx.Document(io.BytesIO(content)).iter_inner_content():
        if isinstance(block, Paragraph):
            if text := clean_cell(block.text):
                lines.append(text)
        elif isinstance(block, DocxTable):
            grids.append(_reference_grid(block, f"表格{len(grids) + 1}", tuple(lines[-PREAMBLE_LINES:])))
            lines = []
    return grids


def _reference_grid(table: DocxTable, name: str, preamble: tuple[str, ...]) -> Grid:
    cells: list[list[str]] = []
    owners: list[list[object]] = []
    for row in table.rows:
        tcs: list[object] = [None] * row.grid_cols_before + [cell._tc for cell in row.cells]
        texts = {id(cell._tc): clean_cell(cell.text) for cell in row.cells}
        owners.append(tcs)
        r = len(owners) - 1
        cells.append([texts[id(tc)] if tc is not None and not (
            (c > 0 and tcs[c - 1] is tc) or (r > 0 and c < len(owners[r - 1]) and owners[r - 1][c] is tc))
            else "" for c, tc in enumerate(tcs)])
    spans: dict[int, list[int]] = {}
    for r, row_owners in enumerate(owners):
        for c, tc in enumerate(row_owners):
            if tc is not None:
                span = spans.setdefault(id(tc), [r, c, r, c])
                span[2], span[3] = max(span[2], r), max(span[3], c)
    merged = [(a, b, c, d) for a, b, c, d in spans.values() if (a, b) != (c, d)]
    return Grid(sheet=name, cells=cells, merged=merged, preamble=preamble)


WIDE = [[f"r{r}c{c}" for c in range(6)] for r in range(8)]
SHAPES = {
    "template": dict(rows=template_rows()),
    "contacts": dict(rows=[HEADER, *SAMPLE_ROWS], paragraphs_before=[TITLE, UNIT_LINE, CONTACT_LINE]),
    "many_paragraphs": dict(rows=[HEADER, *SAMPLE_ROWS], paragraphs_before=[f"第{i}段" for i in range(20)] + ["", " "]),
    "title_and_county": dict(rows=[["标题"], HEADER, *SAMPLE_ROWS], merges=[(0, 0, 0, 6)], merge_county=[(2, 3)]),
    "header_merge": dict(rows=[HEADER, [1, "芙蓉区", "年货节", "", "参与企业120家", ""]], merges=[(0, 2, 0, 3)]),
    "block_merges": dict(rows=WIDE, merges=[(0, 0, 1, 1), (2, 2, 4, 5), (5, 0, 7, 0)], merge_county=[(6, 7)]),
    "counties": dict(rows=WIDE, merge_county=[(0, 2), (3, 3), (4, 7)]),
    "several_tables": dict(rows=[HEADER, *SAMPLE_ROWS], paragraphs_before=[UNIT_LINE], merge_county=[(1, 2)],
                           paragraphs_after=["说明"], tables=3),
    "no_table": dict(rows=[], paragraphs_before=["长沙市分会场活动实施计划"], tables=0),
    "ragged_and_blank": dict(rows=[["a"], ["", "b", None], [" 　c\t\n", "d\ne", "x\ty"]]),
    "hundred_rows": dict(rows=[HEADER, *(SAMPLE_ROWS[i % 4] for i in range(100))], merge_county=[(1, 40), (50, 99)]),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_make_docx_shapes_read_the_same_as_python_docx(shape):
    content = make_docx(**SHAPES[shape])
    assert read_docx(content) == reference_read_docx(content)


def _with_body(body_xml: str) -> bytes:
    """A make_docx package whose document.xml body is replaced by body_xml."""
    source = zipfile.ZipFile(io.BytesIO(make_docx([], tables=0)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                    f"<w:body>{body_xml}<w:sectPr/></w:body></w:document>").encode()
            target.writestr(item, data)
    return out.getvalue()


def _tc(text: str = "", props: str = "", inner: str = "") -> str:
    run = f"<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>" if text else ""
    return f"<w:tc><w:tcPr>{props}</w:tcPr><w:p>{run}</w:p>{inner}</w:tc>"


def _tr(*tcs: str, props: str = "") -> str:
    return f"<w:tr><w:trPr>{props}</w:trPr>{''.join(tcs)}</w:tr>"


def _tbl(*trs: str) -> str:
    return f"<w:tbl><w:tblPr/><w:tblGrid/>{''.join(trs)}</w:tbl>"


XML_SHAPES = {
    "grid_before_and_span": _tbl(_tr(_tc("a", '<w:gridSpan w:val="2"/>'), _tc("b")),
                                 _tr(_tc("c"), _tc("d"), props='<w:gridBefore w:val="1"/>')),
    "vmerge_restart_continue": _tbl(
        _tr(_tc("h1"), _tc("h2", '<w:gridSpan w:val="2"/>')),
        _tr(_tc("x", '<w:vMerge w:val="restart"/>'), _tc("y", '<w:gridSpan w:val="2"/><w:vMerge w:val="restart"/>')),
        _tr(_tc("", "<w:vMerge/>"), _tc("ignored", '<w:gridSpan w:val="2"/><w:vMerge w:val="continue"/>')),
        _tr(_tc("", "<w:vMerge/>"), _tc("z"), _tc("w"))),
    "nested_table": _tbl(_tr(_tc("outer", inner=_tbl(_tr(_tc("inner")))), _tc("b"))),
    "sdt_wrapped": "<w:p><w:r><w:t>填报单位：甲</w:t></w:r></w:p>"
                   "<w:sdt><w:sdtContent><w:p><w:r><w:t>hidden para</w:t></w:r></w:p>"
                   + _tbl(_tr(_tc("in sdt"))) + "</w:sdtContent></w:sdt>"
                   + _tbl(_tr(_tc("a"), f"<w:sdt><w:sdtContent>{_tc('sdt cell')}</w:sdtContent></w:sdt>"),
                          f"<w:sdt><w:sdtContent>{_tr(_tc('sdt row'))}</w:sdtContent></w:sdt>", _tr(_tc("b"))),
    "run_content": "<w:p><w:hyperlink><w:r><w:t>联系人：</w:t></w:r></w:hyperlink><w:r><w:t>王</w:t>"
                   "<w:tab/><w:t>敏</w:t><w:br/><w:t>x</w:t><w:br w:type=\"page\"/><w:cr/><w:noBreakHyphen/>"
                   "<w:ptab/><w:t>1</w:t></w:r><w:del><w:r><w:delText>删</w:delText></w:r></w:del></w:p>"
                   + _tbl(_tr("<w:tc><w:p><w:r><w:t> a </w:t></w:r><w:r><w:t> </w:t></w:r></w:p><w:p/>"
                              "<w:p><w:r><w:t>b</w:t><w:tab/></w:r></w:p></w:tc>")),
}


@pytest.mark.parametrize("shape", XML_SHAPES)
def test_hand_written_word_xml_reads_the_same_as_python_docx(shape):
    content = _with_body(XML_SHAPES[shape])
    assert read_docx(content) == reference_read_docx(content)


def test_tracked_insertions_are_read_and_deletions_are_not():
    # the one intended difference: python-docx drops runs inside <w:ins>, which Word shows
    content = _with_body(_tbl(_tr("<w:tc><w:p><w:r><w:t>年货</w:t></w:r><w:ins><w:r><w:t>节</w:t></w:r></w:ins>"
                                  "<w:del><w:r><w:delText>会</w:delText></w:r></w:del></w:p></w:tc>")))
    assert read_docx(content)[0].cells == [["年货节"]]


def test_a_vertical_merge_continuing_nothing_reads_as_its_own_cell():
    # python-docx raises ValueError here (the whole attachment became unreadable)
    content = _with_body(_tbl(_tr(_tc("a", "<w:vMerge/>"), _tc("b"))))
    assert read_docx(content)[0].cells == [["a", "b"]]
