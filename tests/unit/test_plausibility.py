"""plausibility: figures no 市州 reaches are doubted (per row, per city total, a jump against the
previous version) and kept out of the totals; `is_counted` is the one place that decides."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from service.config import default_tables
from service.decide.plausibility import (
    Bounds,
    city_doubts,
    counted_totals,
    field_bound,
    figure_text,
    is_counted,
    version_doubts,
)
from service.model import ReportRow
from tests.conftest import config_data, make_config

BOUNDS = Bounds(tuple(field_bound(f) for f in default_tables()[0].figures), 100.0)  # the shipped template's


def row(participants=None, products=None, sales=None, line: int = 5, file: str = "附件1.xlsx") -> ReportRow:
    figures = {k: v for k, v in (("participants", participants), ("products", products), ("sales_wan", sales))
               if v is not None}
    return ReportRow(filename=file, sheet="Sheet1", source_row=line, values={}, figures=figures)


def texts(doubts) -> list[str]:
    return [d.problem.message_zh for d in doubts]


def test_a_planted_row_is_flagged_with_the_figure_as_written_and_the_bound():
    doubts = version_doubts([row(120, 3000, 12000, line=4), row(999_999_999, 3000, 99_999_990_000, line=5)], BOUNDS)
    assert texts(doubts) == [
        "数值异常：第 5 行 参与主体数量 999999999 超出合理范围（单行上限 100000），未计入汇总，请核实",
        "数值异常：第 5 行 销售额 9999999亿元 超出合理范围（单行上限 1000000 万元），未计入汇总，请核实",
    ]
    assert [(d.problem.code, d.problem.file, d.problem.row, d.figures) for d in doubts] == [
        ("implausible_figure", "附件1.xlsx", 5, ((1, "participants"),)),
        ("implausible_figure", "附件1.xlsx", 5, ((1, "sales_wan"),))]


@pytest.mark.parametrize("metric, value, doubted", [
    ("participants", 100_000, False),  # at the bound: counts
    ("participants", 100_001, True),
    ("products", 5_000_000, False),
    ("products", 5_000_001, True),
    ("sales_wan", 1_000_000, False),
    ("sales_wan", 1_000_000.5, True),
    ("sales_wan", -5, True),  # no negative sales
    ("participants", math.inf, True),
    ("participants", math.nan, True),
    ("sales_wan", 0, False),
])
def test_each_metric_has_its_own_row_bound(metric: str, value: float, doubted: bool):
    assert bool(version_doubts([row()._replace(figures={metric: value})], BOUNDS)) is doubted


def test_a_negative_figure_is_told_as_such():
    assert texts(version_doubts([row(sales=-5)], BOUNDS)) == [
        "数值异常：第 5 行 销售额 -5万元 不应为负数，未计入汇总，请核实"]


def test_a_city_total_over_its_bound_keeps_every_figure_of_that_metric_out():
    rows = [row(90_000, line=n) for n in range(4, 10)]  # each plausible, 540,000 together
    doubts = version_doubts(rows, BOUNDS)
    assert texts(doubts) == ["数值异常：参与主体数量合计 540000 超出合理范围（全市上限 500000），未计入汇总，请核实"]
    assert doubts[0].problem.code == "implausible_total" and doubts[0].problem.file == "附件1.xlsx"
    assert counted_totals(rows, doubts, BOUNDS)["participants"] is None


def test_a_row_already_doubted_does_not_count_towards_the_city_total():
    rows = [row(sales=99_999_990_000), row(sales=4500, line=6)]
    doubts = version_doubts(rows, BOUNDS)
    assert [d.problem.code for d in doubts] == ["implausible_figure"]
    assert counted_totals(rows, doubts, BOUNDS) == {"participants": None, "products": None, "sales_wan": 4500}


def test_a_total_a_hundred_times_the_previous_version_is_a_jump():
    before, after = [row(sales=4000)], [row(sales=300_000), row(sales=200_000, line=6)]
    doubts = city_doubts([before, after], BOUNDS)
    assert texts(doubts) == [
        "数值异常：销售额合计 50亿元 为上一版（4000万元）的 125 倍（超过 100 倍），未计入汇总，请核实"]
    assert doubts[0].problem.code == "implausible_jump" and doubts[0].figures == ((0, "sales_wan"), (1, "sales_wan"))


def test_a_rise_under_the_factor_is_no_jump():
    assert city_doubts([[row(sales=4000)], [row(sales=390_000)]], BOUNDS) == []


def test_a_draft_with_tiny_figures_followed_by_the_real_table_is_no_jump():
    draft = [row(participants=1, sales=1)]
    real = [row(120, 3000, 12000), row(85, 1200, 4500, line=6)]
    assert city_doubts([draft, real], BOUNDS) == []


def test_a_doubted_version_never_becomes_the_baseline_of_the_next():
    real, planted = [row(sales=4000)], [row(sales=800_000)]
    assert [d.problem.code for d in city_doubts([real, planted, planted], BOUNDS)] == ["implausible_jump"]
    assert city_doubts([real, planted, real], BOUNDS) == []  # the corrected version counts again


def test_the_first_version_is_only_checked_against_the_bounds():
    assert city_doubts([[row(sales=800_000)]], BOUNDS) == []


def test_bounds_and_factor_come_from_the_config(tmp_path: Path):
    tables = config_data()["tables"]
    sales = next(f for f in tables[0]["fields"] if f["key"] == "sales_wan")
    sales.update(max_per_row=100, jump_floor=0)
    bounds = make_config(tmp_path, plausibility={"max_jump": 2}, tables=tables)
    assert [d.problem.code for d in version_doubts([row(sales=101)], bounds)] == ["implausible_figure"]
    assert [d.problem.code for d in city_doubts([[row(sales=10)], [row(sales=21)]], bounds)] == ["implausible_jump"]


def test_a_doubted_figure_counts_once_staff_confirm_it():
    doubted = {(7, 1, "sales_wan")}
    assert is_counted((7, 0, "sales_wan"), doubted)
    assert not is_counted((7, 1, "sales_wan"), doubted)
    assert is_counted((7, 1, "sales_wan"), doubted, confirmed={(7, 1, "sales_wan")})


@pytest.mark.parametrize("metric, value, text", [
    ("sales_wan", 99_999_990_000, "9999999亿元"), ("sales_wan", 12000, "1.2亿元"), ("sales_wan", 4500, "4500万元"),
    ("sales_wan", 0.35, "0.35万元"), ("participants", 999_999_999, "999999999"), ("products", 1e20, "100000000000000000000"),
])
def test_figures_are_written_as_people_write_them(metric: str, value: float, text: str):
    assert figure_text(BOUNDS.of(metric), value) == text
