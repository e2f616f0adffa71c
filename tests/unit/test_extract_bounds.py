"""Bounds before allocation (issue 19 item 2): each attack is refused with a precise problem before a
reader allocates for it, under a 1 GB address-space limit, and the normal table in the same mail still
gives its rows."""
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlrd

from service.config import LimitsSection
from service.extract import extract_attachment, extract_attachments
from service.extract.convert import NoConverter
from service.extract.xls import sheet_extents as xls_extents
from service.extract.xlsx import read_xlsx, sheet_extents
from service.model import Attachment
from service.parse.sniff import sniff_kind
from tests.attack_builders import (
    docx_with_grid_before,
    docx_with_grid_span,
    docx_with_huge_part,
    replace_part,
    xls_with_cell_at,
    xlsx_with_cell_at,
)
from tests.builders import make_email
from tests.table_builders import SAMPLE_ROWS, make_csv, make_docx, make_xls, make_xlsx, template_rows

ROOT = Path(__file__).resolve().parents[2]
NORMAL = make_xlsx(template_rows())  # 4 rows of 长沙市
LIMIT = "超出上限 20000 行 × 200 列，未读取，请检查后重新报送"
# parse and extract one message the way derive does, in a process that cannot map more than 1 GB
BOUNDED = """
import json, resource, sys
from zoneinfo import ZoneInfo
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from service.config import LimitsSection
from service.extract import extract_attachments
from service.extract.convert import NoConverter
from service.parse import parse_message
limits = LimitsSection(**json.loads(sys.argv[1]))
msg = parse_message(sys.stdin.buffer.read(), limits, ZoneInfo("Asia/Shanghai"))
tables, problems = extract_attachments(msg.attachments, limits, NoConverter())  # no .doc or WPS here
json.dump({"problems": [[p.code, p.message_zh, p.file] for p in (*msg.problems, *problems)],
           "rows": [[t.filename, len(t.rows)] for t in tables]}, sys.stdout, ensure_ascii=False)
"""


def read_bounded(raw: bytes, **limits) -> dict:
    done = subprocess.run([sys.executable, "-c", BOUNDED, json.dumps(limits)], input=raw, capture_output=True,
                          cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    return json.loads(done.stdout)


def _extract(name: str, content: bytes, **limits):
    return extract_attachment(Attachment(name, content, sniff_kind(content, name)), LimitsSection(**limits))


ATTACKS = [
    ("范围.xlsx", lambda: xlsx_with_cell_at("XFD1048576"),
     f"附件“范围.xlsx”中的“Sheet1”表格范围过大（XFD1048576），{LIMIT}"),
    ("范围.xlsx", lambda: xlsx_with_cell_at("XFD10000"), f"附件“范围.xlsx”中的“Sheet1”表格范围过大（XFD10000），{LIMIT}"),
    ("旧表.xls", lambda: xls_with_cell_at(65535, 255), f"附件“旧表.xls”中的“Sheet1”表格范围过大（IV65536），{LIMIT}"),
    ("说明.docx", docx_with_grid_span, f"附件“说明.docx”中的“表格1”表格范围过大（第 1 行宽 200000000 列），{LIMIT}"),
    ("说明.docx", docx_with_grid_before, f"附件“说明.docx”中的“表格1”表格范围过大（第 1 行宽 200000000 列），{LIMIT}"),
    ("说明.docx", lambda: docx_with_grid_before(tag=b"gridAfter"),
     f"附件“说明.docx”中的“表格1”表格范围过大（第 1 行宽 200000000 列），{LIMIT}"),
    ("说明.docx", docx_with_huge_part,
     "附件“说明.docx”中的“word/document.xml”解压后 1024 MB，超出上限 32 MB，未读取，请检查后重新报送"),
]


@pytest.mark.parametrize("name, build, message", ATTACKS, ids=["XFD1048576", "XFD10000", "IV65536", "gridSpan",
                                                               "gridBefore", "gridAfter", "1GB-document.xml"])
def test_each_attack_is_refused_before_allocation_and_the_normal_table_still_counts(name, build, message):
    content = build()
    assert len(content) < 1_200_000  # a few KB (the 1 GB part: about 1 MB)
    found = read_bounded(make_email(attachments=[(name, content), ("附件1.xlsx", NORMAL)]))
    assert [problem for problem in found["problems"] if problem[2] == name] == [
        ["part_too_large" if "解压后" in message else "sheet_too_large", message, name]]
    assert found["rows"] == [["附件1.xlsx", len(SAMPLE_ROWS)]]


def test_without_the_bound_calamine_would_abort_on_the_cell_at_xfd1048576():
    """The test above is honest: the same file read without the check kills the process."""
    script = ("import io, resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
              "import python_calamine as c; book = c.CalamineWorkbook.from_filelike(io.BytesIO(sys.stdin.buffer.read()));"
              "book.get_sheet_by_index(0).to_python()")
    done = subprocess.run([sys.executable, "-c", script], input=xlsx_with_cell_at("XFD1048576"), capture_output=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and b"memory allocation" in done.stderr


def test_a_large_part_under_any_compression_ratio_is_caught_by_the_part_bound():
    content = docx_with_huge_part("word/media/image1.png", 3 << 20, random_bytes=True)  # 3 MB that will not compress
    assert len(content) > 3 << 20
    assert _extract("说明.docx", content).problems == ()  # within the default 32 MB: read as usual
    [problem] = _extract("说明.docx", content, max_part_bytes=1 << 20).problems
    assert (problem.code, problem.message_zh) == (
        "part_too_large", "附件“说明.docx”中的“word/media/image1.png”解压后 3 MB，超出上限 1 MB，未读取，请检查后重新报送")


def test_the_sum_of_an_office_files_parts_is_bounded_too():
    [problem] = _extract("附件1.xlsx", NORMAL, max_unpacked_bytes=4096).problems
    assert problem.code == "part_too_large" and problem.message_zh.startswith("附件“附件1.xlsx”解压后合计")


def test_rows_over_the_message_budget_leave_the_next_attachment_unread_with_a_problem():
    other = make_xlsx(template_rows([[9, "岳麓区", "岳麓区商务局", "年货节", "直播", "销售额10万元", ""]]))
    attachments = tuple(Attachment(name, data, "xlsx") for name, data in (("a.xlsx", NORMAL), ("b.xlsx", other)))
    tables, problems = extract_attachments(attachments, LimitsSection(max_rows_per_message=10), NoConverter())
    assert [(t.filename, len(t.rows)) for t in tables] == [("a.xlsx", len(SAMPLE_ROWS))]
    assert [(p.code, p.message_zh, p.file) for p in problems] == [
        ("too_many_rows", "邮件中各附件的表格合计超过 10 行，附件“b.xlsx”中的“Sheet1”未读取，请检查后重新报送", "b.xlsx")]


def test_rows_over_the_attachment_budget_leave_its_next_sheet_unread():
    content = make_xlsx(template_rows(), more_sheets={"第二张": template_rows()})
    found = _extract("附件1.xlsx", content, max_rows=10)
    assert [t.sheet for t in found.tables] == ["Sheet1"]
    assert [(p.code, p.message_zh) for p in found.problems] == [
        ("too_many_rows", "附件“附件1.xlsx”中各表格合计超过 10 行，“第二张”未读取，请检查后重新报送")]


def test_a_word_table_with_too_many_rows_is_refused_and_the_next_table_read():
    long_table = make_docx([["序号", "县（市、区）"]] + [[i, "芙蓉区"] for i in range(30)])
    found = _extract("说明.docx", long_table, max_rows=20)
    assert [(p.code, p.message_zh) for p in found.problems] == [
        ("sheet_too_large", "附件“说明.docx”中的“表格1”表格范围过大（31 行），超出上限 20 行 × 200 列，未读取，请检查后重新报送")]
    content = make_docx(template_rows()[3:], paragraphs_before=["填报单位：长沙市商务局"], tables=2)
    assert [len(t.rows) for t in _extract("说明.docx", content, max_rows=20).tables] == [4, 4]


@pytest.mark.parametrize("rows, columns, extent", [(30, 3, "第 21 行，3 列"), (2, 300, "第 1 行，300 列")])
def test_a_csv_past_a_bound_stops_at_the_first_row_over_it(rows, columns, extent):
    content = make_csv([[f"{r}-{c}" for c in range(columns)] for r in range(rows)], encoding="utf-8")
    [problem] = _extract("表.csv", content, max_rows=20).problems
    assert problem.code == "sheet_too_large" and f"表格范围过大（{extent}）" in problem.message_zh


def test_the_dimension_is_not_trusted_either_way():
    """A <dimension> claiming XFD1048576 over two cells reads normally; one claiming A1 over a far cell does not."""
    claims_huge = replace_part(NORMAL, "xl/worksheets/sheet1.xml",
                               lambda xml: xml.replace(b'<dimension ref="A1:G8"/>', b'<dimension ref="A1:XFD1048576"/>'))
    assert b"XFD1048576" in zipfile.ZipFile(io.BytesIO(claims_huge)).read("xl/worksheets/sheet1.xml")
    assert len(_extract("附件1.xlsx", claims_huge).tables[0].rows) == len(SAMPLE_ROWS)
    claims_small = replace_part(xlsx_with_cell_at("XFD10000"), "xl/worksheets/sheet1.xml",
                                lambda xml: xml.replace(b"<dimension ref=", b'<dimension ref="A1" x='))
    assert _extract("范围.xlsx", claims_small).problems[0].code == "sheet_too_large"


@pytest.mark.parametrize("cells, extent", [
    (b'<row r="5"><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>', (6, 2)),  # no refs: counted on
    (b'<row r="9000"><c r="XFD9000" s="1"/><c r="C9000" t="s"></c></row>', (1, 1)),  # empty cells: calamine skips
    (b'<row r="100"><c r="C100" t="inlineStr"><is><t></t></is></c></row>', (100, 3)),
    (b"<row r='30001'><c r='B30001'><v>1</v></c></row>", (30001, 2)),  # single quotes
    (b'<row r="3"><x:c r="XFD3"><x:v>1</x:v></x:c></row>', (3, 16384)),  # a namespace prefix
    (b'<row r="4"><c s="1" r="IV4"><v>1</v></c></row>', (4, 256)),  # r not first
])
def test_the_measured_extent_is_the_one_calamine_builds(cells, extent):
    content = replace_part(make_xlsx([["a"]]), "xl/worksheets/sheet1.xml",
                           lambda xml: xml.replace(b"</sheetData>", cells + b"</sheetData>"))
    assert sheet_extents(content) == {"Sheet1": extent}
    if extent[0] <= 20_000 and extent[1] <= 200:
        [grid] = read_xlsx(content)
        assert (len(grid.cells), max(map(len, grid.cells))) == extent


def test_a_merge_reaching_the_last_row_is_cut_to_the_grid():
    content = replace_part(NORMAL, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(
        b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell ref="B5:B1048576"/></mergeCells>'))
    [grid] = read_xlsx(content)
    assert (4, 1, len(grid.cells) - 1, 1) in grid.merged


@pytest.mark.parametrize("rows, merges", [
    (template_rows(), ()), (template_rows(), [(0, 0, 0, 6), (4, 1, 5, 1)]), ([["a"] * 30] * 3, [(0, 0, 40, 2)])])
def test_xls_extents_match_what_xlrd_builds(rows, merges):
    content = make_xls(rows, merges=merges)
    book = xlrd.open_workbook(file_contents=content, formatting_info=True)
    assert xls_extents(content) == [(True, book.sheet_by_index(0).nrows, book.sheet_by_index(0).ncols)]

