"""PDF tables: an exported 附件1 gives the rows of the xlsx it came from; scans and hostile PDFs are problems."""
import io
import itertools
import time
import zlib

import pytest

from service.config import LimitsSection
from service.extract import extract_attachment
from service.extract.bounds import ReadBounds
from service.extract.grid import ReadProblem
from service.extract.pdf import read_pdf
from service.model import Attachment
from service.parse.sniff import sniff_kind
from tests.table_builders import HEADER, SAMPLE_ROWS, TITLE_ROWS, make_pdf, make_scanned_pdf, make_xlsx

ROWS = [HEADER, *SAMPLE_ROWS, [5, "", "宁乡市商务局", "宁乡年货大集", "直播", "销售额10万元", ""],
        ["合计", "", "", "", "", "销售额2.2亿元", ""]]
COUNTY_MERGE = (4, 1, 5, 1)  # 宁乡市 spans its two rows, in table coordinates
FOOTER = ["填报日期：2022年2月7日"]


def _extract(data: bytes, name: str = "附件1.pdf", limits: LimitsSection | None = None):
    kind = sniff_kind(data, name)
    return extract_attachment(Attachment(name, data, kind, "", ""), limits or LimitsSection())


def _shifted(merge, by):
    r0, c0, r1, c1 = merge
    return (r0 + by, c0, r1 + by, c1)


@pytest.mark.parametrize("rows_per_page", [0, 3])  # one page; the header repeated on two pages
def test_a_pdf_exported_from_a_table_gives_the_rows_and_meta_of_the_xlsx(rows_per_page):
    pdf = make_pdf(ROWS, TITLE_ROWS, merges=[COUNTY_MERGE], rows_per_page=rows_per_page, footer_lines=FOOTER)
    xlsx = make_xlsx(ROWS, title_rows=TITLE_ROWS, merges=[_shifted(COUNTY_MERGE, len(TITLE_ROWS))])
    from_pdf, from_xlsx = _extract(pdf), _extract(xlsx, "附件1.xlsx")
    assert from_pdf.problems == () and from_xlsx.problems == ()
    [pdf_table], [xlsx_table] = from_pdf.tables, from_xlsx.tables
    assert pdf_table.rows == xlsx_table.rows  # 合计 skipped, 宁乡市 carried down its merged cell
    assert [row.get("county") for row in pdf_table.rows] == ["芙蓉区", "岳麓区", "浏阳市", "宁乡市", "宁乡市"]
    assert (pdf_table.unit, pdf_table.contact, pdf_table.phone) == ("长沙市商务局", "王敏", "13812345678")


def test_a_scanned_pdf_is_a_precise_problem():
    found = _extract(make_scanned_pdf(), "统计表（盖章）.pdf")
    assert found.tables == ()
    assert [(p.code, p.message_zh) for p in found.problems] == [
        ("pdf_scanned", "附件“统计表（盖章）.pdf”为扫描件，无法读取文字，请同时报送 Excel 版本")]


def test_a_text_pdf_without_a_table_is_prose_and_no_problem():
    found = _extract(make_pdf([["活动总结"], ["我市网上年货节活动开展顺利。"]]), "总结.pdf")
    assert found.tables == () and found.problems == ()


def test_a_pdf_with_more_pages_than_the_limit_is_not_read():
    pdf = make_pdf(ROWS, rows_per_page=2)
    found = _extract(pdf, limits=LimitsSection(max_pdf_pages=2))
    assert [p.code for p in found.problems] == ["pdf_too_many_pages"] and found.tables == ()
    assert "共 3 页" in found.problems[0].message_zh


def test_reading_stops_when_a_pdf_takes_longer_than_its_time_bound():
    ticks = itertools.count(step=20.0)  # every page seems to take 20 s
    bounds = ReadBounds.for_attachment("慢.pdf", LimitsSection(max_pdf_seconds=30))
    with pytest.raises(ReadProblem) as raised:
        read_pdf(make_pdf(ROWS, rows_per_page=2), bounds, "慢.pdf", clock=lambda: next(ticks))
    assert raised.value.code == "pdf_too_slow"


def _pdf_with_stream(stream: bytes) -> bytes:
    """A one-page PDF whose content stream is `stream`, deflated (offsets in the xref left loose)."""
    body = zlib.compress(stream, 9)
    head = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 600 800]/Contents 4 0 R>>endobj\n")
    stream_head = b"4 0 obj<</Length " + str(len(body)).encode() + b"/Filter/FlateDecode>>stream\n"
    return head + stream_head + body + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_a_pdf_bomb_is_refused_before_pdfminer_inflates_it():
    bomb = _pdf_with_stream(bytes(200 * 1024 * 1024))
    started = time.monotonic()
    found = _extract(bomb)
    assert time.monotonic() - started < 5
    assert [p.code for p in found.problems] == ["part_too_large"]


def test_broken_and_encrypted_pdfs_are_problems_not_crashes():
    assert [p.code for p in _extract(b"%PDF-1.4 whatever").problems] == ["unreadable_attachment"]
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, encrypt="1234")
    page.drawString(100, 700, "locked")
    page.save()
    assert [p.code for p in _extract(out.getvalue()).problems] == ["encrypted_attachment"]
