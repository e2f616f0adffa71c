"""Summary stage: states + stored rows/results/problems in, the consolidated table's values out."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.model import Problem, ReportRow, ReportState, StoredResult, TableUnit
from service.report.summary import (
    PROBLEM_COLUMNS,
    TOTAL_ZH,
    number,
    reporting_unit,
)
from service.report.summary import build_summary as summarise
from tests.conftest import make_config
from tests.rows import COLUMNS, COLUMNS_2022, METRIC_COLUMNS, activity_row

TZ = ZoneInfo("Asia/Shanghai")
CITIES = ["长沙市", "株洲市", "湘潭市", "衡阳市", "邵阳市", "岳阳市", "常德市", "张家界市", "益阳市", "郴州市",
          "永州市", "怀化市", "娄底市", "湘西土家族苗族自治州"]


@pytest.fixture
def config(tmp_path: Path):
    return make_config(tmp_path)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def states_for(config, counted: dict[str, tuple[int, str, str]]) -> list[ReportState]:
    """Every city x deadline; counted: city -> (message, state, first received) for `summary`."""
    states = []
    for city in config.cities:
        for d in config.deadlines:
            if d.id == "summary" and city.name in counted:
                message, state, first = counted[city.name]
                states.append(ReportState(city.name, d.id, state, received_at=at(first), first_received_at=at(first),
                                          rows=1, message=message, versions=1))
            else:
                states.append(ReportState(city.name, d.id, "missing"))
    return states


def row(message: int, name: str, participants=None, products=None, sales=None, county="某区") -> tuple[int, ReportRow]:
    return message, activity_row(filename=f"附件{message}.xlsx", sheet="Sheet1", source_row=0, seq="", county=county,
                              organiser=f"{county}商务局", name=name, content="直播", effect="……", note="",
                              participants=participants, products=products, sales_wan=sales)


def result(message: int, city: str | None, received: str, *, is_report: bool = True, deadline="summary",
           units: list[dict] | None = None, sender: str = "a@example.gov.cn") -> StoredResult:
    return StoredResult(sender=sender, subject=f"{city or '某单位'}报送", received_at=at(received), city=city,
                        deadline=deadline if city else None, is_report=is_report, auto_generated=False,
                        unregistered_sender=False, city_source="", deadline_source="", tables=1,
                        units=tuple(TableUnit(sheet="Sheet1", **u) for u in units or []), message=message)


def problem(message: int, code: str, text: str, file: str = "", line: int | None = None) -> tuple[int, Problem]:
    return message, Problem(code=code, message_zh=text, detail="", file=file, row=line)


def build_summary(config, states, deadline, rows, results, problems):
    """summary.build_summary with the rows and problems grouped by message, as the store gives them."""
    return summarise(config, states, deadline, grouped(rows), results, grouped(problems))


def grouped(pairs) -> dict:
    found: dict = {}
    for message, value in pairs:
        found.setdefault(message, []).append(value)
    return found


def test_rows_follow_the_official_city_order_and_are_renumbered(config):
    # 株洲 (message 1) arrived before 长沙 (message 2); the table still starts with 长沙.
    states = states_for(config, {"株洲市": (1, "on_time", "2022-02-03T09:00"),
                                 "长沙市": (2, "late", "2022-02-08T09:00")})
    rows = [row(1, "株洲一"), row(1, "株洲二"), row(2, "长沙一")]
    results = [result(1, "株洲市", "2022-02-03T09:00"), result(2, "长沙市", "2022-02-08T09:00")]
    summary = build_summary(config, states, "summary", rows, results, [])
    assert [(r[0], r[1], r[4]) for r in summary.rows] == [(1, "长沙市", "长沙一"), (2, "株洲市", "株洲一"),
                                                          (3, "株洲市", "株洲二")]
    assert all(len(r) == len(COLUMNS) for r in summary.rows)
    assert summary.rows[0][-2:] == ["附件2.xlsx", "2022-02-08"]  # source: file, received date


def test_the_overview_has_every_city_in_order_then_the_province_total(config):
    states = states_for(config, {"长沙市": (1, "on_time", "2022-02-03T09:00"),
                                 "邵阳市": (2, "late", "2022-02-08T10:00")})
    summary = build_summary(config, states, "summary", [row(1, "a", 3, 10, 1.5), row(2, "b", 4, None, 2.25)],
                            [result(1, "长沙市", "2022-02-03T09:00"), result(2, "邵阳市", "2022-02-08T10:00")], [])
    assert [line[0] for line in summary.overview] == CITIES + [TOTAL_ZH]
    changsha, shaoyang, xiangxi = summary.overview[0], summary.overview[4], summary.overview[13]
    assert changsha[-6:] == ["按时", "2022-02-03", 1, 3, 10, 1.5]
    assert shaoyang[-6:] == ["逾期", "2022-02-08", 1, 4, None, 2.25]
    assert xiangxi[-6:] == ["未报", "", 0, None, None, None]  # nothing parsed stays empty, not 0
    assert summary.overview[-1][-4:] == [2, 7, 10, 3.75]
    assert summary.overview[-1][-6] == "已报 2/14"


def test_an_optional_report_not_sent_is_a_dash_not_missing(config):
    summary = build_summary(config, states_for(config, {}), "summary", [], [], [])
    plan_state = summary.overview[0][1]  # the first deadline (plan) is optional in the 2022 config
    assert not config.deadlines[0].required and plan_state == "—"
    assert summary.overview[0][3] == "未报"


def test_metric_totals_equal_the_sums_of_the_rows(config):
    counted = {c.name: (i + 1, "on_time", "2022-02-05T09:00") for i, c in enumerate(config.cities)}
    rows = [row(m, f"活动{m}-{k}", participants=k + m, products=None if k % 3 else 100 * k, sales=0.1 * k + m / 7)
            for m in range(1, 15) for k in range(1, 40)]
    results = [result(m, config.cities[m - 1].name, "2022-02-05T09:00") for m in range(1, 15)]
    summary = build_summary(config, states_for(config, counted), "summary", rows, results, [])
    for key, column, figure in zip(("participants", "products", "sales_wan"), METRIC_COLUMNS, (-3, -2, -1)):
        column_sum = sum(r[column] for r in summary.rows if r[column] is not None)
        assert summary.totals()[key] == pytest.approx(column_sum, abs=1e-6)
        by_city = sum(line[figure] or 0 for line in summary.overview[:-1])
        assert by_city == pytest.approx(column_sum, abs=1e-6)
    assert summary.totals()["activities"] == len(summary.rows) == 14 * 39


def test_problems_list_open_ones_with_contact_and_leave_out_superseded_versions(config):
    states = states_for(config, {"长沙市": (2, "on_time", "2022-02-03T09:00")})
    units = [{"file": "附件2.xlsx", "contact": "王敏", "title": "科长", "phone": "13812345678"}]
    results = [result(1, "长沙市", "2022-02-03T09:00"),  # superseded by message 2
               result(2, "长沙市", "2022-02-04T09:00", units=units),
               result(3, None, "2022-02-01T09:00", is_report=False, sender="who@qq.com"),
               result(4, "株洲市", "2022-01-04T09:00", deadline="progress", sender="x@qq.com")]
    problems = [problem(3, "unattributed", "无法确定报送单位"),
                problem(4, "unregistered_sender", "发件人未登记"),
                problem(2, "unknown_county", "县不在辖区内", "附件2.xlsx", 6),
                problem(1, "unknown_county", "旧版本的问题", "附件1.xlsx", 5)]
    summary = build_summary(config, states, "summary", [], results, problems)
    assert [p[0] for p in summary.problems] == [1, 2, 3]
    assert [(p[1], p[2], p[6], p[7], p[-1]) for p in summary.problems] == [
        ("长沙市", "活动全面总结", "附件2.xlsx", 6, "unknown_county"),
        ("株洲市", "活动组织情况", "", None, "unregistered_sender"),
        ("未归属", "", "", None, "unattributed")]
    assert summary.problems[0][9:11] == ["王敏（科长）", "13812345678"]
    assert summary.problems[2][4] == "who@qq.com"
    assert all(len(p) == len(PROBLEM_COLUMNS) for p in summary.problems)


def test_the_file_date_is_the_newest_mail_taken_into_account(config):
    results = [result(1, "长沙市", "2022-02-03T09:00"), result(2, None, "2022-02-05T18:30", is_report=False)]
    summary = build_summary(config, states_for(config, {}), "summary", [], results, [])
    assert summary.as_of == at("2022-02-05T18:30")


@pytest.mark.parametrize("value, expected", [
    (None, None), (float("nan"), None), (float("inf"), None), (120.0, 120), (0.1 + 0.2, Decimal("0.3")),
    (1.25, Decimal("1.25")), (Decimal("0.300000"), Decimal("0.3")), (Decimal("1500.000"), 1500),
])
def test_metrics_are_written_as_plain_numbers(value, expected):
    assert number(value) == expected and type(number(value)) is type(expected)


def test_the_consolidated_table_is_signed_by_the_department_not_its_division():
    assert reporting_unit("湖南省商务厅电子商务处") == "湖南省商务厅"
    assert reporting_unit("某某局") == "某某局"


def test_an_implausible_figure_stays_in_its_row_but_out_of_every_total(config):
    states = states_for(config, {"长沙市": (1, "on_time", "2022-02-03T09:00")})
    rows = [row(1, "真实", 120, 3000, 12000), row(1, "虚报", 999_999_999, 3000, 99_999_990_000)]
    summary = build_summary(config, states, "summary", rows, [result(1, "长沙市", "2022-02-03T09:00")], [])
    assert [r[8:11] for r in summary.rows] == [[120, 3000, 12000], [999_999_999, 3000, 99_999_990_000]]
    assert summary.overview[0][-4:] == [2, 120, 6000, 12000]
    assert summary.totals() == {"activities": 2, "participants": 120, "products": 6000, "sales_wan": 12000}
    assert set(summary.doubted) == {(1, 8), (1, 10)}
    assert summary.doubted[(1, 10)].startswith("数值异常，未计入合计，待核实\n数值异常：销售额 9999999亿元")
    # derived before the bound existed, so no stored problem: the 问题 sheet still says why
    assert [p[-1] for p in summary.problems] == ["implausible_figure", "implausible_figure"]


def test_a_jump_against_the_citys_previous_version_is_listed_and_left_out(config):
    states = states_for(config, {"长沙市": (2, "on_time", "2022-02-03T09:00")})
    results = [result(1, "长沙市", "2022-02-03T09:00"), result(2, "长沙市", "2022-02-05T09:00")]
    rows = [row(1, "原版", 50, None, 4000), row(2, "新版", 60, None, 900_000)]
    summary = build_summary(config, states, "summary", rows, results, [])
    assert summary.rows[0][8:11] == [60, None, 900_000] and summary.totals()["sales_wan"] is None
    assert summary.totals()["participants"] == 60  # only the jumped metric is left out
    assert [(p[-1], p[8]) for p in summary.problems] == [
        ("implausible_jump", "数值异常：销售额合计 90亿元 为上一版（4000万元）的 225 倍（超过 100 倍），未计入汇总，请核实")]


def test_the_shipped_template_keeps_the_2022_columns_of_the_summary_sheet():
    assert COLUMNS == COLUMNS_2022
