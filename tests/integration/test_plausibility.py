"""Implausible figures through the real pipeline, store (SQLite and PostgreSQL) and workbook: a forged
长沙市 report planting 999,999,999 participants and 9,999,999亿元 is flagged, its figures stay out of
every total, and the workbook marks them."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from service import jobs
from service.app import App
from service.clock import fixed_clock
from service.model import Fetched
from service.report.summary import table_totals
from service.report.workbook import summary_workbook_bytes
from tests.builders import make_email
from tests.conftest import make_config
from tests.table_builders import SAMPLE_ROWS, make_xlsx, template_rows

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2022, 2, 10, 12, 0, tzinfo=TZ)
PLANTED = [[1, "芙蓉区", "芙蓉区商务局", "年货节", "直播", "参与企业999999999家，实现销售额9999999亿元", ""],
           [2, "岳麓区", "岳麓区商务局", "云购节", "直播", "参与企业10家，上线商品50款，销售额100万元", ""]]
NOTE = "数值异常，未计入合计，待核实"


@pytest.fixture
def app(tmp_path, database_url: str):
    config = make_config(tmp_path / "data", service={"database_url": database_url})
    instance = App.open(config, fixed_clock(NOW.isoformat(), TZ))
    yield instance
    instance.close()


def mail(name: str, subject: str, sender: str, rows: list[list], day: int, mid: str) -> Fetched:
    raw = make_email(subject=subject, sender=sender, attachments=[("附件1.xlsx", make_xlsx(template_rows(rows)))],
                     received=datetime(2022, 2, day, 10, 0, tzinfo=TZ), message_id=mid)
    return Fetched(f"file:{name}.eml", raw)


def deliver(app) -> None:
    """长沙's real report, then the forged one that supersedes it; 株洲 twice, the second ×125."""
    zhuzhou = [[1, "荷塘区", "荷塘区商务局", "云购节", "专区", "参与商户31户，销售额4000万元", ""]]
    jumped = [[1, "荷塘区", "荷塘区商务局", "云购节", "专区", "参与商户31户，销售额50亿元", ""]]
    jobs.ingest_all(app, [
        mail("cs", "长沙市网上年货节活动总结", "长沙市商务局 <changsha@example.gov.cn>", SAMPLE_ROWS, 5, "<cs@x>"),
        mail("zz1", "株洲市活动总结", "株洲 <zhuzhou@example.gov.cn>", zhuzhou, 5, "<zz1@x>"),
        # forged From the registered address (anyone can write it; an unregistered one would not supersede)
        mail("forged", "长沙市网上年货节活动总结（更正）", "长沙市商务局 <changsha@example.gov.cn>", PLANTED, 6,
             "<forged@x>"),
        mail("zz2", "株洲市活动总结（更正）", "株洲 <zhuzhou@example.gov.cn>", jumped, 6, "<zz2@x>"),
    ])


def test_planted_figures_are_flagged_on_the_message_and_kept_out_of_the_totals(app):
    deliver(app)
    forged = next(r.message for r in app.store.results() if r.message_id == "<forged@x>")
    flagged = [(p.code, p.row, p.message_zh) for p in app.store.problems([forged])[forged]
               if p.code.startswith("implausible")]
    assert flagged == [
        ("implausible_figure", 5, "数值异常：第 5 行 参与主体数量 999999999 超出合理范围（单行上限 100000），未计入汇总，请核实"),
        ("implausible_figure", 5, "数值异常：第 5 行 销售额 9999999亿元 超出合理范围（单行上限 1000000 万元），未计入汇总，请核实"),
    ]
    summary = jobs.compile_summary(app)
    changsha, zhuzhou = summary.overview[0], summary.overview[1]
    assert changsha[-4:] == [2, 10, 50, 100]  # the forged version counts, its planted figures do not
    assert zhuzhou[-4:] == [1, 31, None, None]  # 50亿元 after 4000万元: a jump, left out
    assert summary.totals() == {"activities": 3, "participants": 41, "products": 50, "sales_wan": 100}
    assert table_totals(app.config, app.store.snapshot(with_rows=True), NOW) == {
        "participants": 41.0, "products": 50.0, "sales_wan": 100.0}
    codes = [p[-1] for p in summary.problems]
    assert codes.count("implausible_figure") == 2 and codes.count("implausible_jump") == 1


def test_the_workbook_marks_each_figure_left_out_and_its_citys_overview_cells(app):
    deliver(app)
    book = load_workbook(io.BytesIO(summary_workbook_bytes(jobs.compile_summary(app), per_city=True)))
    for name in ("汇总", "长沙市"):
        sheet = book[name]
        planted = next(r for r in sheet.iter_rows(min_row=4) if r[8].value == 999_999_999)
        for cell in (planted[8], planted[10]):
            assert cell.fill.start_color.rgb.endswith("FFEB9C") and cell.comment.text.startswith(NOTE)
        assert planted[9].comment is None and planted[9].fill.fill_type is None  # 商品数量 was not written
        assert "9999999亿元" in planted[10].comment.text
    total = [c.value for c in list(book["汇总"].iter_rows())[-1]]
    assert total[8:11] == [41, 50, 100]
    overview = {r[0].value: r for r in book["概况"].iter_rows(min_row=5)}
    assert overview["长沙市"][-3].comment is not None and overview["长沙市"][-2].comment is None
    assert overview["株洲市"][-1].comment is not None and overview["湘潭市"][-1].comment is None
