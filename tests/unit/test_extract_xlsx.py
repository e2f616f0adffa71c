"""xlsx/xlsm/ods via calamine: real openpyxl workbooks in every shape a city sends."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from service.extract import extract_attachment
from service.model import Attachment
from tests.table_builders import HEADER, SAMPLE_ROWS, TITLE, TITLE_MERGES, TITLE_ROWS, make_xlsx, template_rows

SAMPLE_NAMES = [r[3] for r in SAMPLE_ROWS]


def extract(content: bytes, name: str = "附件1.xlsx", kind: str = "xlsx"):
    return extract_attachment(Attachment(filename=name, content=content, kind=kind))


def test_the_附件1_template_yields_its_rows_meta_and_metrics():
    found = extract(make_xlsx(template_rows(), merges=TITLE_MERGES))
    assert found.problems == ()
    [table] = found.tables
    assert (table.filename, table.sheet, table.unit, table.contact, table.contact_title, table.phone, table.email) == (
        "附件1.xlsx", "Sheet1", "长沙市商务局", "王敏", "电子商务科科长", "13812345678", "cssw@example.com")
    first = table.rows[0]
    assert (first.get("seq"), first.get("county"), first.get("organiser"), first.get("name"), first.source_row) == (
        "1", "芙蓉区", "芙蓉区商务局", "芙蓉区网上年货节启动仪式", 5)
    assert first.get("effect") == "参与企业120家，上线商品3000余款，实现销售额1.2亿元"
    assert (first.figures["participants"], first.figures["sales_wan"]) == (120, 12000)
    assert [r.get("name") for r in table.rows] == SAMPLE_NAMES
    assert [r.get("note") for r in table.rows] == ["", "与美团合作", "", ""]


def test_a_table_not_starting_at_a1_keeps_real_excel_row_numbers():
    found = extract(make_xlsx([HEADER, *SAMPLE_ROWS], start=(6, 2)))
    assert [r.source_row for r in found.tables[0].rows] == [8, 9, 10, 11]
    assert found.tables[0].rows[0].get("seq") == "1"


def test_numbers_and_dates_read_as_written_not_as_floats():
    rows = [["序号", "县（市、区）", "活动名称", "活动成效", "备注", "联系电话", "活动时间"],
            [1, "芙蓉区", "年货节", 1.5, 0.1 + 0.2, 13812345678, dt.date(2022, 1, 10)]]
    found = extract(make_xlsx(rows))
    row = found.tables[0].rows[0]
    assert (row.get("seq"), row.get("effect"), row.get("note")) == ("1", "1.5", "0.3")
    contact = extract(make_xlsx([["联系人：", "王敏", "联系方式：", 13812345678], HEADER, SAMPLE_ROWS[0]]))
    assert contact.tables[0].phone == "13812345678"


def test_a_merged_county_cell_fills_every_row_it_spans():
    rows = [HEADER, *[list(r) for r in SAMPLE_ROWS]]
    rows[2][1] = ""
    found = extract(make_xlsx(rows, merges=[(1, 1, 2, 1)]))
    assert [r.get("county") for r in found.tables[0].rows] == ["芙蓉区", "芙蓉区", "浏阳市", "宁乡市"]
    assert found.problems == ()


def test_an_empty_county_without_a_merge_is_carried_down_and_noted():
    rows = [HEADER, *[list(r) for r in SAMPLE_ROWS]]
    rows[2][1] = ""
    found = extract(make_xlsx(rows))
    assert found.tables[0].rows[1].get("county") == "芙蓉区"
    assert [p.code for p in found.problems] == ["county_carried_down"]


def test_a_two_row_header_with_merged_cells_is_read():
    header1 = ["序号", "县（市、区）", "举办单位", "活动名称", "活动形式及具体内容", "活动成效", "", "", "备注"]
    header2 = ["", "", "", "", "", "参与主体数量", "商品数量", "销售额", ""]
    data = [1, "芙蓉区", "芙蓉区商务局", "年货节", "直播", "120家", "3000款", "1.2亿元", ""]
    merges = [(0, 5, 0, 7)] + [(0, c, 1, c) for c in (0, 1, 2, 3, 4, 8)]
    found = extract(make_xlsx([header1, header2, data], merges=merges))
    row = found.tables[0].rows[0]
    assert (row.get("name"), row.get("effect"), row.source_row) == ("年货节", "参与主体数量：120家；商品数量：3000款；销售额：1.2亿元", 3)
    assert row.figures["participants"] == 120


def test_every_sheet_with_the_header_is_a_table_and_hidden_sheets_are_ignored():
    content = make_xlsx(template_rows(SAMPLE_ROWS[:2]), sheet="芙蓉区",
                        more_sheets={"说明": [["填表说明：请按县市区填写"]], "浏阳市": [HEADER, *SAMPLE_ROWS[2:]]},
                        hidden_sheets={"旧版": [HEADER, SAMPLE_ROWS[0]]})
    found = extract(content)
    assert [(t.sheet, len(t.rows)) for t in found.tables] == [("芙蓉区", 2), ("浏阳市", 2)]
    assert found.problems == ()


def test_a_workbook_without_the_header_is_a_no_header_problem():
    found = extract(make_xlsx([[TITLE], ["县市区", "销售额"], ["芙蓉区", 100]]), name="数据.xlsx")
    assert found.tables == ()
    assert [(p.code, p.message_zh, p.file) for p in found.problems] == [
        ("no_header", "附件“数据.xlsx”中未找到重点活动统计表的表头（序号、县（市、区）、活动名称……）", "数据.xlsx")]


@pytest.mark.parametrize("cut", [100, 2000, -200])
def test_a_truncated_workbook_is_an_unreadable_attachment(cut):
    content = make_xlsx(template_rows())
    found = extract(content[:cut], name="坏.xlsx")
    assert found.tables == ()
    assert [(p.code, p.message_zh, p.file) for p in found.problems] == [
        ("unreadable_attachment", "附件“坏.xlsx”无法读取（文件损坏或格式不符）", "坏.xlsx")]
    assert found.problems[0].detail


def test_a_5000_row_workbook_reads_well_under_a_second(capsys):
    rows = [[i, "芙蓉区", "芙蓉区商务局", f"活动{i}", "直播带货", f"参与企业{i % 90 + 10}家，销售额{i}万元", ""]
            for i in range(1, 5001)]
    content = make_xlsx(template_rows(rows), merges=TITLE_MERGES)
    from service.extract.xlsx import read_xlsx
    started = time.perf_counter()
    read_xlsx(content)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = extract(content)
    extract_seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n5,000-row xlsx ({len(content) // 1024} KiB): calamine read {read_seconds * 1000:.0f} ms, "
              f"whole extract {extract_seconds * 1000:.0f} ms")
    assert len(found.tables[0].rows) == 5000
    assert found.tables[0].rows[-1].source_row == len(TITLE_ROWS) + 1 + 5000
    assert read_seconds < 5  # generous: slow CI must not fail; the print is the measurement
