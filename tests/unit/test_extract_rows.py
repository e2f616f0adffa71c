"""Rows: the grid under the header -> Row records, whatever shape the city gave it."""
from __future__ import annotations

from service.config import default_tables
from service.extract.grid import Grid
from service.extract.normalise import normalise_grid
from service.extract.template import compile_template
from service.text import fold
from tests.grid_samples import HEADER, ROW1, TITLE, normalised


def test_a_merged_county_cell_fills_the_rows_it_spans_without_a_problem():
    cells = [HEADER, ROW1, ["2", "", "x", "第二个", "", "", ""], ["3", "天心区", "", "第三个", "", "", ""]]
    found, problems = normalised(cells, merged=[(1, 1, 2, 1)])
    assert [r.get("county") for r in found.rows] == ["芙蓉区", "芙蓉区", "天心区"]
    assert problems == []


def test_an_empty_county_is_carried_down_by_rule_and_noted_once_per_normalised():
    cells = [HEADER, ROW1, ["2", "", "", "第二个", "", "", ""], ["3", "", "", "第三个", "", "", ""],
             ["4", "天心区", "", "第四个", "", "", ""]]
    found, problems = normalised(cells, merges_known=False)
    assert [r.get("county") for r in found.rows] == ["芙蓉区", "芙蓉区", "芙蓉区", "天心区"]
    assert [(p.code, p.message_zh, p.detail) for p in problems] == [
        ("county_carried_down", "第 3、4 行未填写县（市、区），已沿用上一行的值", "3:芙蓉区; 4:芙蓉区")]


def test_a_row_without_活动名称_is_kept_with_a_problem():
    found, problems = normalised([HEADER, ROW1, ["2", "岳麓区", "岳麓区商务局", "", "直播", "参与商家85家", ""]])
    assert [r.get("name") for r in found.rows] == ["年货节启动仪式", ""]
    assert [(p.code, p.message_zh, p.row, p.file) for p in problems] == [
        ("empty_name", "第 3 行缺少活动名称", 3, "附件1.xlsx")]


def test_values_are_kept_exactly_and_rows_number_from_the_grid_start():
    grid = Grid("S", [HEADER, [" 1 ", "芙蓉区", "  芙蓉区商务局", "年货节 启动仪式", "直播\n带货", "参与企业120家", "无 "]],
                first_row=4)
    found, _ = normalise_grid(grid, "a.xlsx")
    row = found.rows[0]
    assert (*(row.get(k) for k in ("seq", "organiser", "name", "content", "note")), row.source_row) == (
        "1", "芙蓉区商务局", "年货节 启动仪式", "直播\n带货", "无", 5)


def test_a_header_only_table_is_a_table_with_no_rows():
    found, problems = normalised([TITLE, HEADER, ["1"], ["2"], ["3"]])
    assert (found.rows, problems) == ((), [])


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
    t = compile_template(default_tables()[0])
    starts = {fold(w)[0] for w in t.template.total_words + t.template.example_words} | {"例"}
    assert _folding_into(starts) == set(t.skip_starts)
    assert set(t.skip_starts) >= set("举例共合小总样示范\u2f29\u2f70\uf9b5\U0001f234")  # the 2022 list, kept
    ends = {fold(alias)[-1] for alias in t.template.field("name").aliases + t.template.field("name").exact_aliases}
    assert _folding_into(ends) == set(t.required_alias_ends)


def test_a_total_row_written_with_a_compatibility_ideograph_is_still_skipped():
    total = ["", "\U0001F234计", "", "", "", "", ""]  # 🈴 (squared 合) folds to 合
    table, _ = normalise_grid(Grid("Sheet1", [HEADER, ROW1, total], []), "a.xlsx")
    assert [r.get("name") for r in table.rows] == [ROW1[3]]
