"""The consolidated workbook from mail through the real pipeline and store, opened again with openpyxl."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from service import jobs
from service.cli import main
from service.clock import fixed_clock
from service.ingest import pipeline
from service.model import Fetched, MessageResult, Problem, ReportRow
from service.report.sheets import cell_text
from service.report.summary import PROBLEM_COLUMNS
from service.report.workbook import (
    csv_bytes,
    export_bytes,
    summary_workbook_bytes,
    write_atomically,
)
from tests.builders import make_email
from tests.rows import COLUMNS, activity_row
from tests.store_helpers import record_one
from tests.table_builders import SAMPLE_ROWS, make_csv, make_xlsx, template_rows

TZ = ZoneInfo("Asia/Shanghai")
CITIES = ["长沙市", "株洲市", "湘潭市", "衡阳市", "邵阳市", "岳阳市", "常德市", "张家界市", "益阳市", "郴州市",
          "永州市", "怀化市", "娄底市", "湘西土家族苗族自治州"]
HOSTILE = ['=HYPERLINK("http://evil.example/?q=1","点我领券")', "+1", "-2", "@SUM(A1:A9)", "\t=1", "\r=1",
           "=cmd|' /C calc'!A0", "#N/A", "第一行\x0b第二行\x07", " =1+1"]


def on(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


def ingest(app, raw: bytes, name: str):
    return pipeline.ingest(app, Fetched(f"file:{name}.eml", raw))


def deliver_campaign(app) -> None:
    """长沙 twice (the corrected version counts), 株洲 from an unknown address with an unknown county,
    湘潭 with a broken attachment, 邵阳 late: through parse, extract, attribute and the store."""
    first = [[1, "芙蓉区", "芙蓉区商务局", "旧版本活动", "直播", "参与企业1家，销售额1万元", ""],
             [2, "不存在区", "某局", "旧版本活动二", "直播", "参与企业1家", ""]]
    ingest(app, make_email(subject="长沙市网上年货节活动总结", date=on("2022-02-03"),
                           attachments=[("附件1.xlsx", make_xlsx(template_rows(first)))]), "cs1")
    ingest(app, make_email(subject="长沙市网上年货节活动总结（更正）", date=on("2022-02-05"),
                           attachments=[("附件1（更正）.xlsx", make_xlsx(template_rows(SAMPLE_ROWS)))]), "cs2")
    zhuzhou = [[1, "荷塘区", "荷塘区商务局", "荷塘年货云购节", "专区促销", "参与商户31户，商品486款，成交额4735万元", ""],
               [2, "火星区", "某局", "株洲年货节", "直播", "参与企业12家，销售额30万元", ""]]
    ingest(app, make_email(subject="株洲市活动总结", sender="株洲 <zz-office@qq.com>", date=on("2022-02-04"),
                           attachments=[("株洲统计表.xlsx", make_xlsx(template_rows(zhuzhou)))]), "zz")
    ingest(app, make_email(subject="湘潭市活动总结", sender="湘潭 <xiangtan@example.gov.cn>", date=on("2022-02-05"),
                           attachments=[("附件1.xlsx", make_xlsx(template_rows(SAMPLE_ROWS))[:300])]), "xt")
    shaoyang = [[1, "双清区", "双清区商务局", "双清“数商兴农”专场", "专区", "参与主体63个，上线单品2088个，实现线上销售2799.5万元", ""]]
    ingest(app, make_email(subject="邵阳市活动总结", sender="邵阳 <shaoyang@example.gov.cn>", date=on("2022-02-08"),
                           attachments=[("附件1.xlsx", make_xlsx(template_rows(shaoyang)))]), "sy")


def workbook_of(app, per_city: bool = False):
    return load_workbook(io.BytesIO(summary_workbook_bytes(jobs.compile_summary(app), per_city)))


def table_rows(ws, first: int = 4) -> list[tuple]:
    return [r for r in ws.iter_rows(min_row=first, values_only=True) if any(v is not None for v in r)]


def test_the_summary_sheet_reads_like_the_notices_table(app):
    deliver_campaign(app)
    wb = workbook_of(app)
    assert wb.sheetnames == ["汇总", "概况", "问题"]
    ws = wb["汇总"]
    assert ws["A1"].value == "“2022湖南网上年货节”重点活动统计表"
    assert ws["A2"].value == "填报单位（盖章）：湖南省商务厅"
    assert [c.value for c in ws[3]] == list(COLUMNS)
    *rows, total = table_rows(ws)
    assert [r[1] for r in rows] == ["长沙市"] * 4 + ["株洲市"] * 2 + ["邵阳市"]  # official order
    assert [r[0] for r in rows] == list(range(1, 8))
    assert [r[4] for r in rows[:4]] == [r[3] for r in SAMPLE_ROWS]  # the corrected version counts
    assert rows[0][8:] == (120, 3000, 12000, "附件1（更正）.xlsx", "2022-02-05")
    assert rows[-1][8:11] == (63, 2088, 2799.5)
    assert total[0] == "合计（7 项活动）" and total[1] is None
    for column in (8, 9, 10):
        assert total[column] == pytest.approx(sum(r[column] for r in rows if r[column] is not None))


def test_the_summary_sheet_is_laid_out_for_screen_and_print(app):
    deliver_campaign(app)
    ws = workbook_of(app)["汇总"]
    assert ws.freeze_panes == "A4" and ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert {str(r) for r in ws.merged_cells.ranges} >= {"A1:M1"}
    widths = {letter: ws.column_dimensions[letter].width for letter in "ABCDEFGHIJKLM"}
    assert widths["G"] > widths["C"] > 8 and max(widths.values()) <= 40  # 活动成效 wide, none absurd
    assert ws["G4"].alignment.wrap_text and ws["G4"].border.left.style == "thin"
    assert ws["K4"].number_format == "#,##0.00" and isinstance(ws["K4"].value, (int, float))


def test_the_overview_shows_states_totals_and_a_native_bar_chart(app):
    deliver_campaign(app)
    data = summary_workbook_bytes(jobs.compile_summary(app))
    ws = load_workbook(io.BytesIO(data))["概况"]
    lines = table_rows(ws, first=5)
    assert [line[0] for line in lines] == CITIES + ["全省合计"]
    summary_states = {line[0]: (line[5], line[6]) for line in lines}
    assert summary_states["长沙市"] == ("按时", "2022-02-03")  # the first version decides
    assert summary_states["邵阳市"] == ("逾期", "2022-02-08")
    assert summary_states["娄底市"] == ("未报", None)
    figures = {line[0]: line[7:] for line in lines}
    assert figures["长沙市"] == (4, 310, 5000, 21500)
    province = figures["全省合计"]
    assert province[0] == 7
    assert province[3] == pytest.approx(sum(f[3] or 0 for city, f in figures.items() if city != "全省合计"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        chart = archive.read(charts[0]).decode()
    assert len(charts) == 1 and re.search(r"<(c:)?barChart>", chart)
    assert "<f>'概况'!$K$5:$K$18</f>" in chart  # 销售额 of the 14 cities, the total left out
    assert "<strRef><f>'概况'!$A$5:$A$18</f>" in chart


def test_the_problem_sheet_tells_staff_whom_to_call(app):
    deliver_campaign(app)
    ws = workbook_of(app)["问题"]
    assert [c.value for c in ws[3]] == list(PROBLEM_COLUMNS)
    found = {(r[1], r[-1], r[6], r[7]) for r in table_rows(ws)}
    assert ("株洲市", "unregistered_sender", None, None) in found
    assert ("株洲市", "unknown_county", "株洲统计表.xlsx", 6) in found
    assert any(city == "湘潭市" and file == "附件1.xlsx" and code != "unknown_county" for city, code, file, _ in found)
    assert not any(file == "附件1.xlsx" and city == "长沙市" for city, _, file, _ in found)  # superseded
    assert {r[1] for r in table_rows(ws)} <= set(CITIES) | {"未归属"}


def record_report(app, n: int, city: str, received: datetime, rows: list[ReportRow], *, sender: str = "",
                  subject: str = "报送", problems: list[Problem] = ()) -> None:
    """A report as the pipeline records it, straight into the store (for data no mail builder makes)."""
    pk, _ = record_one(app.store, sha256=f"{n:064x}", message_id=f"<{n}@example.gov.cn>", size=1,
                                     source_id=f"test:{n}", source_received_at=received, now=received)
    result = MessageResult(sender=sender or f"{n}@example.gov.cn", subject=subject, received_at=received, city=city,
                           deadline="summary", is_report=True, auto_generated=False, unregistered_sender=False,
                           city_source="sender", deadline_source="keyword", tables=1)
    app.store.replace_results([(pk, result, list(problems), list(rows))])


def stored_row(text: str, i: int, file: str = "附件1.xlsx", **metrics) -> ReportRow:
    return activity_row(filename=file, sheet="Sheet1", source_row=4 + i, seq=text, county=text, organiser=text, name=text,
                     content=text, effect=text, note=text, participants=metrics.get("participants"),
                     products=metrics.get("products"), sales_wan=metrics.get("sales_wan"))


def test_no_cell_is_a_formula_whatever_the_cities_sent(app):
    rows = [stored_row(text, i, file=text) for i, text in enumerate(HOSTILE)]
    problems = [Problem(code="unknown_county", message_zh=text, detail="", file=text, row=i)
                for i, text in enumerate(HOSTILE)]
    record_report(app, 1, "长沙市", on("2022-02-05"), rows, sender="=1@qq.com", subject="=HYPERLINK(\"x\")",
                  problems=problems)
    data = summary_workbook_bytes(jobs.compile_summary(app), per_city=True)
    wb = load_workbook(io.BytesIO(data))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any(re.search(rb"<f[ >]", xml) for xml in sheets)
    summary_rows = table_rows(wb["汇总"])[:-1]
    assert [r[2] for r in summary_rows] == [cell_text(t) for t in HOSTILE]  # text kept, as text
    assert summary_rows[0][2] == HOSTILE[0] and summary_rows[5][2] == "\r=1"
    assert summary_rows[8][2] == "第一行\n第二行"  # Word's line break kept, XML-illegal \x07 dropped
    assert {r[8] for r in table_rows(wb["问题"])} == {cell_text(t) for t in HOSTILE}


def test_formula_looking_cells_sent_by_mail_stay_text(app):
    attack = [[1, "荷塘区", HOSTILE[0], "+1", "-2", "参与企业12家，销售额30万元", "@SUM(A1:A9)"],
              [2, "芦淞区", "单位", "活动\r=1", "内容\t=2", "参与企业3家", "x"]]
    ingest(app, make_email(subject="株洲市活动总结", sender="株洲 <zhuzhou@example.gov.cn>", date=on("2022-02-05"),
                           attachments=[("附件1.csv", make_csv(template_rows(attack), encoding="utf-8"))]), "attack")
    summary = jobs.compile_summary(app)
    wb = load_workbook(io.BytesIO(summary_workbook_bytes(summary)))
    assert not [c.coordinate for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    written = [r[:8] for r in table_rows(wb["汇总"])[:-1]]
    assert written == [tuple(v if v != "" else None for v in r[:8]) for r in summary.rows]
    assert written[0][3:6] == (HOSTILE[0], "+1", "-2")


def test_the_csv_is_utf8_with_a_bom_and_formula_looking_text_is_prefixed():
    data = csv_bytes(COLUMNS[:3], [[1, text, -2.5] for text in HOSTILE])
    assert data.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(COLUMNS[:3])
    for text, row in zip(HOSTILE, rows[1:]):
        dangerous = text[0] in "=+-@\t\r"
        assert row[1] == ("'" + text if dangerous else text)
        assert row[2] == "-2.5"  # a number stays a number


def test_compile_exports_the_same_rows_as_csv_and_json(app):
    deliver_campaign(app)
    summary = jobs.compile_summary(app)
    rows = list(csv.reader(io.StringIO(export_bytes(summary, ".csv").decode("utf-8-sig"))))
    assert rows[0] == list(COLUMNS) and len(rows) == 1 + len(summary.rows)
    assert [r[4] for r in rows[1:]] == [r[4] for r in summary.rows]
    document = json.loads(export_bytes(summary, ".json"))
    assert document["deadline"]["id"] == "summary" and len(document["rows"]) == 7
    assert document["rows"][0]["city"] == "长沙市" and document["rows"][0]["sales_wan"] == 12000
    assert document["totals"]["sales_wan"] == pytest.approx(sum(r["sales_wan"] or 0 for r in document["rows"]))


def test_the_same_data_gives_the_same_bytes(app):
    deliver_campaign(app)
    first = summary_workbook_bytes(jobs.compile_summary(app), per_city=True)
    time.sleep(1.1)  # zip entries and docProps would otherwise carry the wall-clock second
    app.clock = fixed_clock("2022-03-01T08:00:00", TZ)  # later, but nothing new arrived
    second = summary_workbook_bytes(jobs.compile_summary(app), per_city=True)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2022, 2, 8, 10, 0, 0)}  # the newest mail
    assert load_workbook(io.BytesIO(first)).properties.modified == datetime(2022, 2, 8, 2, 0)  # UTC


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path: Path):
    target = tmp_path / "out" / "汇总表.xlsx"
    write_atomically(target, b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # fails while writing the temp file
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["汇总表.xlsx"]
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new" and len(list(target.parent.iterdir())) == 1


def test_the_compile_command_writes_the_workbook_city_sheets_csv_and_json(app, config, monkeypatch, capsys):
    deliver_campaign(app)
    monkeypatch.setenv("SERVICE_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("SERVICE_DATABASE_URL", config.service.database_url)
    out = config.data_dir / "out"
    code = main(["compile", "--now", "2022-02-10T12:00", "--deadline", "summary", "--out", str(out / "汇总.xlsx"),
                 "--per-city", "--csv", str(out / "汇总.csv"), "--json", str(out / "汇总.json")])
    assert code == 0 and "7 行" in capsys.readouterr().out
    assert load_workbook(out / "汇总.xlsx").sheetnames == ["汇总", "概况", "问题", "长沙市", "株洲市", "邵阳市"]
    assert (out / "汇总.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(json.loads((out / "汇总.json").read_text(encoding="utf-8"))["rows"]) == 7
    assert main(["compile", "--deadline", "nope", "--out", str(out / "x.xlsx")]) == 2  # a usage error


def test_a_city_sheet_holds_that_citys_rows_numbered_from_one(app):
    deliver_campaign(app)
    ws = workbook_of(app, per_city=True)["株洲市"]
    *rows, total = table_rows(ws)
    assert [(r[0], r[1]) for r in rows] == [(1, "株洲市"), (2, "株洲市")]
    assert total[0] == "合计（2 项活动）" and total[10] == pytest.approx(4735 + 30)


def test_fourteen_cities_of_500_rows_compile(app):
    """The size bench/bench_compile.py times; here only what it gives."""
    start = on("2022-02-03")
    for n, city in enumerate(CITIES, start=1):
        rows = [stored_row(f"{city}活动{i}", i, participants=i, products=10 * i, sales_wan=i / 4) for i in range(500)]
        record_report(app, n, city, start + timedelta(hours=n), rows)
    summary = jobs.compile_summary(app)
    assert summary_workbook_bytes(summary)[:2] == b"PK"
    assert len(summary.rows) == 7000 and summary.totals()["sales_wan"] == pytest.approx(14 * sum(range(500)) / 4)


def test_libreoffice_renders_the_workbook_to_pdf(app, tmp_path: Path):
    """LibreOffice Calc opens what we write (scripts/test installs it, so this runs in CI)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice Calc is part of the test set-up (scripts/test)"
    deliver_campaign(app)
    ours = tmp_path / "汇总表.xlsx"
    ours.write_bytes(summary_workbook_bytes(jobs.compile_summary(app), per_city=True))
    if not to_pdf(soffice, ours):
        plain = tmp_path / "plain.xlsx"
        Workbook().save(plain)
        assert to_pdf(soffice, plain), "LibreOffice cannot open spreadsheets here (Calc is not installed)"
        pytest.fail("LibreOffice opens a plain workbook but not ours")
    assert ours.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def to_pdf(soffice: str, path: Path) -> bool:
    """Convert with a private profile (no clash with a running instance); True if a PDF appeared."""
    subprocess.run([soffice, f"-env:UserInstallation=file://{path.parent / 'lo-profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(path.parent), str(path)],
                   capture_output=True, timeout=180, check=False)
    return path.with_suffix(".pdf").exists()
