"""Header finding: a grid's top rows -> which column holds which field, found by content."""
from __future__ import annotations

import pytest

from service.extract.header import find_header, match_field
from tests.grid_samples import HEADER, ROW1, TITLE, normalised


def names(cells, **kw):
    found, _ = normalised(cells, **kw)
    return [r.get("name") for r in found.rows] if found else None


@pytest.mark.parametrize(("cell", "field"), [
    ("序号", "seq"), ("序 号", "seq"), ("编号", "seq"),
    ("县（市、区）", "county"), ("县(市、区)", "county"), ("县(市区)", "county"), ("县\n（市、区）", "county"),
    ("县市区", "county"), ("区县", "county"), ("县区", "county"), ("地区", "county"),
    ("举办单位", "organiser"), ("主办单位", "organiser"), ("承办单位", "organiser"), ("组织单位", "organiser"),
    ("活动名称", "name"), ("活动主题", "name"), ("名称", "name"), ("企业名称", None),
    ("活动形式及具体内容", "content"), ("活动形式及\n具体内容", "content"), ("活动形式", "content"),
    ("具体内容", "content"), ("活动内容", "content"),
    ("活动成效（含参与主体数量、商品数量、销售额等）", "effect"), ("活动成效\n(含参与主体数量、商品数量、销售\n额等)", "effect"),
    ("成效", "effect"), ("活动效果", "effect"), ("备注", "note"),
    ("“2022湖南网上年货节”重点活动统计表", None), ("填报单位（盖章）：", None), ("芙蓉区", None), ("", None),
])
def test_a_header_cell_is_matched_to_its_field_by_content(cell, field):
    from service.text import fold
    assert match_field(fold(cell)) == field


def test_nothing_is_found_without_活动名称_and_two_other_fields():
    assert normalised([["序号", "县（市、区）", "举办单位"], ["1", "芙蓉区", "x"]]) == (None, [])
    assert normalised([["活动名称", "备注"], ["年货节", ""]]) == (None, [])
    assert normalised([]) == (None, [])


def test_a_header_below_the_first_30_rows_is_not_searched():
    assert names([["说明"]] * 31 + [HEADER, ROW1]) is None
    assert names([["说明"]] * 29 + [HEADER, ROW1]) == ["年货节启动仪式"]


def test_sub_columns_under_a_merged_活动成效_are_joined_with_their_labels():
    cells = [["序号", "县（市、区）", "活动名称", "活动成效", "", "", "备注"],
             ["", "", "", "参与主体数量", "商品数量", "销售额", ""],
             ["1", "芙蓉区", "年货节", "120家", "3000款", "1.2亿元", ""]]
    merged = [(0, 3, 0, 5), (0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 6, 1, 6)]
    found, problems = normalised(cells, merged)
    assert (found.rows[0].get("effect"), found.rows[0].get("county"), found.rows[0].source_row) == (
        "参与主体数量：120家；商品数量：3000款；销售额：1.2亿元", "芙蓉区", 3)
    assert problems == []


def test_sub_columns_under_an_unmerged_heading_take_the_heading_on_their_left():
    cells = [["序号", "县（市、区）", "活动名称", "活动成效", "", ""],
             ["", "", "", "参与主体", "商品", "销售额"],
             ["1", "芙蓉区", "年货节", "120家", "", "1.2亿元"]]
    found, _ = normalised(cells)
    assert found.rows[0].get("effect") == "参与主体：120家；销售额：1.2亿元"


def test_find_header_reports_the_columns_of_each_field():
    header = find_header([TITLE, HEADER], [(0, 0, 0, 6)])
    assert (header.first_row, header.last_row) == (1, 1)
    assert header.columns == {"seq": [0], "county": [1], "organiser": [2], "name": [3], "content": [4],
                              "effect": [5], "note": [6]}
