"""Normaliser: grids of text -> the 重点活动统计表, whatever shape the city gave it."""
from __future__ import annotations

import pytest

from service.extract.grid import Grid
from service.extract.normalise import (
    EXAMPLE_WORDS,
    HEADER_ALIASES,
    NAME_ALIAS_ENDS,
    SKIP_WORD_STARTS,
    TOTAL_WORDS,
    find_header,
    match_field,
    normalise_grid,
    parse_meta,
)
from service.text import fold
from tests.grid_samples import CONTACT, HEADER, ROW1, TITLE, UNIT


def table(cells, merged=(), merges_known=True, preamble=()):
    grid = Grid("Sheet1", [list(r) for r in cells], list(merged), preamble=tuple(preamble), merges_known=merges_known)
    return normalise_grid(grid, "附件1.xlsx")


def names(cells, **kw):
    found, _ = table(cells, **kw)
    return [r.name for r in found.rows] if found else None


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
    assert table([["序号", "县（市、区）", "举办单位"], ["1", "芙蓉区", "x"]]) == (None, [])
    assert table([["活动名称", "备注"], ["年货节", ""]]) == (None, [])
    assert table([]) == (None, [])


def test_a_header_below_the_first_30_rows_is_not_searched():
    assert names([["说明"]] * 31 + [HEADER, ROW1]) is None
    assert names([["说明"]] * 29 + [HEADER, ROW1]) == ["年货节启动仪式"]


def test_sub_columns_under_a_merged_活动成效_are_joined_with_their_labels():
    cells = [["序号", "县（市、区）", "活动名称", "活动成效", "", "", "备注"],
             ["", "", "", "参与主体数量", "商品数量", "销售额", ""],
             ["1", "芙蓉区", "年货节", "120家", "3000款", "1.2亿元", ""]]
    merged = [(0, 3, 0, 5), (0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 6, 1, 6)]
    found, problems = table(cells, merged)
    assert (found.rows[0].effect, found.rows[0].county, found.rows[0].source_row) == (
        "参与主体数量：120家；商品数量：3000款；销售额：1.2亿元", "芙蓉区", 3)
    assert problems == []


def test_sub_columns_under_an_unmerged_heading_take_the_heading_on_their_left():
    cells = [["序号", "县（市、区）", "活动名称", "活动成效", "", ""],
             ["", "", "", "参与主体", "商品", "销售额"],
             ["1", "芙蓉区", "年货节", "120家", "", "1.2亿元"]]
    found, _ = table(cells)
    assert found.rows[0].effect == "参与主体：120家；销售额：1.2亿元"


def test_a_merged_county_cell_fills_the_rows_it_spans_without_a_problem():
    cells = [HEADER, ROW1, ["2", "", "x", "第二个", "", "", ""], ["3", "天心区", "", "第三个", "", "", ""]]
    found, problems = table(cells, merged=[(1, 1, 2, 1)])
    assert [r.county for r in found.rows] == ["芙蓉区", "芙蓉区", "天心区"]
    assert problems == []


def test_an_empty_county_is_carried_down_by_rule_and_noted_once_per_table():
    cells = [HEADER, ROW1, ["2", "", "", "第二个", "", "", ""], ["3", "", "", "第三个", "", "", ""],
             ["4", "天心区", "", "第四个", "", "", ""]]
    found, problems = table(cells, merges_known=False)
    assert [r.county for r in found.rows] == ["芙蓉区", "芙蓉区", "芙蓉区", "天心区"]
    assert [(p.code, p.message_zh, p.detail) for p in problems] == [
        ("county_carried_down", "第 3、4 行未填写县（市、区），已沿用上一行的值", "3:芙蓉区; 4:芙蓉区")]


def test_a_row_without_活动名称_is_kept_with_a_problem():
    found, problems = table([HEADER, ROW1, ["2", "岳麓区", "岳麓区商务局", "", "直播", "参与商家85家", ""]])
    assert [r.name for r in found.rows] == ["年货节启动仪式", ""]
    assert [(p.code, p.message_zh, p.row, p.file) for p in problems] == [
        ("empty_name", "第 3 行缺少活动名称", 3, "附件1.xlsx")]


def test_values_are_kept_exactly_and_rows_number_from_the_grid_start():
    grid = Grid("S", [HEADER, [" 1 ", "芙蓉区", "  芙蓉区商务局", "年货节 启动仪式", "直播\n带货", "参与企业120家", "无 "]],
                first_row=4)
    found, _ = normalise_grid(grid, "a.xlsx")
    row = found.rows[0]
    assert (row.seq, row.organiser, row.name, row.content, row.note, row.source_row) == (
        "1", "芙蓉区商务局", "年货节 启动仪式", "直播\n带货", "无", 5)


def test_the_contact_lines_above_the_header_fill_the_table_meta():
    found, _ = table([TITLE, UNIT, CONTACT, HEADER, ROW1])
    assert (found.unit, found.contact, found.contact_title, found.phone, found.email) == (
        "长沙市商务局", "王敏", "科长", "13812345678", "cssw@example.com")


@pytest.mark.parametrize(("lines", "expected"), [
    (["填报单位（盖章）：长沙市商务局"], {"unit": "长沙市商务局"}),
    (["填报单位(盖章): 株洲市商务局  填报日期：2022年2月7日"], {"unit": "株洲市商务局"}),
    (["填报单位（盖章）：", "联系人：_______________ 职务：_______________ 联系方式：_______________ 邮箱：___"], {}),
    (["联系人\u0001王敏\u0001职务\u0001科长\u0001联系方式\u0001 0731-88888888\u0001邮箱\u0001a@b.cn"],
     {"contact": "王敏", "contact_title": "科长", "phone": "0731-88888888", "email": "a@b.cn"}),
    (["填表人：李四 联系电话：13900001111 E-mail：li@x.cn"], {"contact": "李四", "phone": "13900001111", "email": "li@x.cn"}),
])
def test_contact_lines_are_read_whether_the_value_is_in_the_same_or_the_next_cell(lines, expected):
    blank = {"unit": "", "contact": "", "contact_title": "", "phone": "", "email": ""}
    assert parse_meta(lines) == {**blank, **expected}


def test_contact_lines_in_word_paragraphs_and_footers_are_read_too():
    found, _ = table([HEADER, ROW1, ["填表人：", "李四", "", "联系电话：", "13900001111", "", ""]],
                     preamble=["填报单位（盖章）：湘潭市商务局"])
    assert (found.unit, found.contact, found.phone, len(found.rows)) == ("湘潭市商务局", "李四", "13900001111", 1)


def test_a_header_only_table_is_a_table_with_no_rows():
    found, problems = table([TITLE, HEADER, ["1"], ["2"], ["3"]])
    assert (found.rows, problems) == ((), [])


def test_find_header_reports_the_columns_of_each_field():
    header = find_header([TITLE, HEADER], [(0, 0, 0, 6)])
    assert (header.first_row, header.last_row) == (1, 1)
    assert header.columns == {"seq": [0], "county": [1], "organiser": [2], "name": [3], "content": [4],
                              "effect": [5], "note": [6]}


def _folding_into(targets: set[str]) -> set[str]:
    """Every character whose fold() holds one of targets (a scan of all of Unicode)."""
    found = set()
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        if ch.isascii():
            continue
        folded = fold(ch)
        if folded and any(t in folded for t in targets):
            found.add(ch)
    return found


def test_the_prefilters_know_every_character_that_folds_into_a_skip_word_or_a_name_alias():
    # rows are tested for these characters before their cells are folded: a missing one would let a
    # total, an example or a repeated header through as data
    starts = {fold(w)[0] for w in TOTAL_WORDS + EXAMPLE_WORDS} | {"例"}
    assert _folding_into(starts) == set(SKIP_WORD_STARTS)
    ends = {fold(alias)[-1] for alias in HEADER_ALIASES["name"]}
    assert _folding_into(ends) == set(NAME_ALIAS_ENDS)


def test_a_total_row_written_with_a_compatibility_ideograph_is_still_skipped():
    total = ["", "\U0001F234计", "", "", "", "", ""]  # 🈴 (squared 合) folds to 合
    table, _ = normalise_grid(Grid("Sheet1", [HEADER, ROW1, total], []), "a.xlsx")
    assert [r.name for r in table.rows] == [ROW1[3]]
