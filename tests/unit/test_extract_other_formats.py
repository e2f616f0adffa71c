"""xls (xlwt), docx (python-docx), csv and doc (antiword, through the converter the app picks) files
through the same normaliser."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.app import installed_converter
from service.extract import extract_attachment
from service.extract.convert import NoConverter
from service.model import Attachment
from tests.table_builders import (
    CONTACT_LINE,
    HEADER,
    SAMPLE_ROWS,
    TITLE,
    TITLE_MERGES,
    UNIT_LINE,
    make_csv,
    make_docx,
    make_xls,
    template_rows,
)

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_NAMES = [r[3] for r in SAMPLE_ROWS]


def extract(content: bytes, name: str, kind: str, converter=None):
    """Read as derive does, with the converter the app would pick from PATH now (unless given)."""
    return extract_attachment(Attachment(filename=name, content=content, kind=kind),
                              converter=converter or installed_converter())


def test_an_xls_template_yields_rows_meta_and_integral_numbers():
    found = extract(make_xls(template_rows(), merges=TITLE_MERGES), "附件1.xls", "xls")
    assert found.problems == ()
    [table] = found.tables
    assert [r.get("name") for r in table.rows] == SAMPLE_NAMES
    assert (table.rows[0].get("seq"), table.rows[0].source_row, table.unit, table.phone) == ("1", 5, "长沙市商务局", "13812345678")


def test_an_xls_merged_county_is_filled_from_its_merge():
    rows = [HEADER, *[list(r) for r in SAMPLE_ROWS]]
    found = extract(make_xls(rows, merges=[(1, 1, 2, 1)]), "附件1.xls", "xls")
    assert [r.get("county") for r in found.tables[0].rows] == ["芙蓉区", "芙蓉区", "浏阳市", "宁乡市"]
    assert found.problems == ()


def test_a_docx_table_reads_contact_lines_from_the_paragraphs_before_it():
    found = extract(make_docx([HEADER, *SAMPLE_ROWS], paragraphs_before=[TITLE, UNIT_LINE, CONTACT_LINE]),
                    "附件1.docx", "docx")
    [table] = found.tables
    assert [r.get("name") for r in table.rows] == SAMPLE_NAMES
    assert (table.sheet, table.unit, table.contact, table.email) == ("表格1", "长沙市商务局", "王敏", "cssw@example.com")
    assert [r.source_row for r in table.rows] == [2, 3, 4, 5]


def test_docx_merged_cells_are_read_once_and_a_vertical_merge_fills_down():
    rows = [[TITLE] + [""] * 6, HEADER, *[list(r) for r in SAMPLE_ROWS]]
    rows[3][1] = ""
    content = make_docx(rows, merges=[(0, 0, 0, 6)], merge_county=[(2, 3)])
    found = extract(content, "附件1.docx", "docx")
    assert [r.get("county") for r in found.tables[0].rows] == ["芙蓉区", "芙蓉区", "浏阳市", "宁乡市"]
    assert found.problems == ()


def test_a_docx_header_with_a_horizontally_merged_cell_does_not_duplicate_its_text():
    header = ["序号", "县（市、区）", "活动名称", "", "活动成效", "备注"]
    content = make_docx([header, [1, "芙蓉区", "年货节", "", "参与企业120家", ""]], merges=[(0, 2, 0, 3)])
    found = extract(content, "附件1.docx", "docx")
    row = found.tables[0].rows[0]
    assert (row.get("name"), row.get("effect")) == ("年货节", "参与企业120家")


def test_a_prose_docx_or_one_with_unrelated_tables_yields_nothing_and_no_problem():
    prose = make_docx([["时间", "地点"], ["1月10日", "长沙"]], paragraphs_before=["长沙市2022网上年货节实施方案", "一、活动时间"])
    assert extract(prose, "实施方案.docx", "docx").tables == ()
    assert extract(prose, "实施方案.docx", "docx").problems == ()


def test_every_docx_table_with_the_header_is_a_table():
    found = extract(make_docx([HEADER, SAMPLE_ROWS[0]], tables=2), "附件1.docx", "docx")
    assert [(t.sheet, len(t.rows)) for t in found.tables] == [("表格1", 1), ("表格2", 1)]


@pytest.mark.parametrize(("encoding", "delimiter"), [
    ("gbk", ","), ("utf-8-sig", ","), ("utf-8", "\t"), ("gb18030", ";"),
])
def test_a_csv_is_decoded_and_split_whatever_excel_saved(encoding, delimiter):
    found = extract(make_csv(template_rows(), encoding=encoding, delimiter=delimiter), "附件1.csv", "csv")
    [table] = found.tables
    assert [r.get("name") for r in table.rows] == SAMPLE_NAMES
    assert (table.unit, table.rows[0].get("effect")) == ("长沙市商务局", "参与企业120家，上线商品3000余款，实现销售额1.2亿元")


def test_a_csv_sniffed_as_text_is_still_read_by_its_name():
    assert len(extract(make_csv([HEADER, *SAMPLE_ROWS]), "附件1.csv", "text").tables[0].rows) == 4


def test_a_word_97_doc_is_read_through_antiword_as_its_expected_json_says():
    expected = json.loads((DATA / "statistics-2022.doc.expected.json").read_text(encoding="utf-8"))
    found = extract((DATA / "statistics-2022.doc").read_bytes(), "statistics-2022.doc", "doc")
    keys = ("seq", "county", "organiser", "name", "content", "effect", "note", "source_row")
    tables = [{"sheet": t.sheet, "unit": t.unit, "contact": t.contact, "contact_title": t.contact_title,
               "phone": t.phone, "email": t.email, "rows": [{k: r.source_row if k == "source_row" else r.get(k) for k in keys} for r in t.rows]}
              for t in found.tables]
    assert tables == expected["tables"]
    assert [p.code for p in found.problems] == expected["problem_codes"]


def test_a_doc_without_antiword_or_libreoffice_is_a_precise_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither antiword nor soffice can be found
    found = extract((DATA / "statistics-2022.doc").read_bytes(), "总结.doc", "doc")
    assert found.tables == ()
    assert [(p.code, p.message_zh, p.file) for p in found.problems] == [
        ("unreadable_attachment", "未安装 antiword，无法读取 .doc", "总结.doc")]


def test_a_doc_with_no_converter_is_the_same_precise_problem():
    found = extract((DATA / "statistics-2022.doc").read_bytes(), "总结.doc", "doc", converter=NoConverter())
    assert [(p.code, p.message_zh, p.detail, p.file) for p in found.problems] == [
        ("unreadable_attachment", "未安装 antiword，无法读取 .doc", "antiword not on PATH", "总结.doc")]


def test_a_corrupt_doc_is_an_unreadable_attachment():
    found = extract(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "坏.doc", "doc")
    assert [p.code for p in found.problems] == ["unreadable_attachment"]


def test_docx_grids_hold_each_merged_cell_once_with_its_range():
    from service.extract.docx import read_docx
    header = ["序号", "县（市、区）", "活动名称", "", "活动成效"]
    [grid] = read_docx(make_docx([header, [1, "芙蓉区", "年货节", "x", ""], [2, "", "b", "y", ""]],
                                 merges=[(0, 2, 0, 3)], merge_county=[(1, 2)]))
    assert grid.cells[0] == ["序号", "县（市、区）", "活动名称", "", "活动成效"]
    assert grid.cells[2][1] == ""
    assert sorted(grid.merged) == [(0, 2, 0, 3), (1, 1, 2, 1)]
