"""Real 附件1 files for extract tests: xlsx (openpyxl), xls (xlwt), docx (python-docx), csv.

Rows are lists of cell values; merges are (r0, c0, r1, c1), 0-based and inclusive,
counted on the rows as written (title rows first, then rows).
"""
from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence

import docx
import openpyxl
import xlwt
from openpyxl.utils import get_column_letter

Cells = Sequence[Sequence[object]]
Merge = tuple[int, int, int, int]

TITLE = "“2022湖南网上年货节”重点活动统计表"
UNIT_LINE = "填报单位（盖章）：长沙市商务局"
CONTACT_LINE = "联系人：王敏 职务：电子商务科科长 联系方式：13812345678 邮箱：cssw@example.com"
HEADER = ["序号", "县（市、区）", "举办单位", "活动名称", "活动形式及\n具体内容",
          "活动成效\n（含参与主体数量、商品数量、销售额等）", "备注"]
SAMPLE_ROWS: list[list[object]] = [
    [1, "芙蓉区", "芙蓉区商务局", "芙蓉区网上年货节启动仪式", "线上直播带货+线下年货展销",
     "参与企业120家，上线商品3000余款，实现销售额1.2亿元", ""],
    [2, "岳麓区", "岳麓区商务局", "岳麓山下年货云购", "抖音、快手直播专场，发放消费券",
     "参与商家85家，商品1200款，销售额4500万元", "与美团合作"],
    [3, "浏阳市", "浏阳市商务局", "浏阳花炮年货节", "电商平台专区促销",
     "参与企业60家，上线商品800余种，销售额3200万元", ""],
    [4, "宁乡市", "宁乡市商务局", "宁乡花猪年货直通车", "社区团购+直播",
     "参与主体45家，销售额1800万元", ""],
]
# (活动名称, 活动形式及具体内容, 活动成效) with {c} the county's short name and random figures, for
# generated reports (examples/make_examples.py, bench/corpus.py)
ACTIVITIES = [
    ("{c}网上年货节启动仪式", "线上直播带货+线下年货展销", "参与企业{p}家，上线商品{g}余款，实现销售额{s}万元"),
    ("{c}“一县一品”直播专场", "抖音、快手直播，县长进直播间", "直播{n}场，观看人次{v}万，参与商家{p}家，销售额{s}万元"),
    ("{c}年货云购节", "电商平台专区促销，发放消费券", "参与商户{p}户，商品{g}款，成交额{s}万元"),
    ("{c}农特产品网上行", "社区团购+冷链配送", "带动合作社及企业{p}家，销售农特产品{g}种，销售额约{s}万元"),
    ("{c}“数商兴农”专场", "兴盛优选、美团优选专区", "参与主体{p}个，上线单品{g}个，实现线上销售{s}万元"),
]
TITLE_ROWS: list[list[object]] = [[TITLE], [UNIT_LINE], [CONTACT_LINE]]
TITLE_MERGES: list[Merge] = [(0, 0, 0, 6)]


def activity_row(rng: random.Random, seq: int, county: str,
                 activities: Sequence[tuple[str, str, str]] = ACTIVITIES) -> list[object]:
    """序号, county, 举办单位, 活动名称, 形式 and 成效 (with random figures) of one generated row; no 备注."""
    name, form, effect = activities[rng.randrange(len(activities))]
    short = county.removesuffix("区").removesuffix("县").removesuffix("市")
    return [seq, county, f"{county}商务局", name.format(c=short), form,
            effect.format(p=rng.randint(8, 160), g=rng.randint(50, 3000), s=rng.randint(20, 4800),
                          n=rng.randint(3, 40), v=rng.randint(1, 90))]


def template_rows(rows: Cells = SAMPLE_ROWS, header: Sequence[object] = HEADER) -> list[list[object]]:
    """The 附件1 layout: title, 填报单位, 联系人 lines, header, rows."""
    return [list(r) for r in TITLE_ROWS] + [list(header)] + [list(r) for r in rows]


def make_xlsx(rows: Cells, title_rows: Cells = (), sheet: str = "Sheet1", merges: Sequence[Merge] = (),
              start: tuple[int, int] = (0, 0), more_sheets: dict[str, Cells] | None = None,
              hidden_sheets: dict[str, Cells] | None = None) -> bytes:
    """An .xlsx written by openpyxl; `start` shifts everything down/right (0-based row, col)."""
    book = openpyxl.Workbook()
    _fill_openpyxl(book.active, sheet, [*title_rows, *rows], merges, start)
    for name, cells in (more_sheets or {}).items():
        _fill_openpyxl(book.create_sheet(), name, cells, (), (0, 0))
    for name, cells in (hidden_sheets or {}).items():
        ws = book.create_sheet()
        _fill_openpyxl(ws, name, cells, (), (0, 0))
        ws.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill_openpyxl(ws, name: str, cells: Cells, merges: Sequence[Merge], start: tuple[int, int]) -> None:
    ws.title = name
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            if value is not None and value != "":
                ws.cell(row=start[0] + r + 1, column=start[1] + c + 1, value=value)
    for r0, c0, r1, c1 in merges:
        ref = (f"{get_column_letter(start[1] + c0 + 1)}{start[0] + r0 + 1}:"
               f"{get_column_letter(start[1] + c1 + 1)}{start[0] + r1 + 1}")
        ws.merge_cells(ref)


def make_xls(rows: Cells, title_rows: Cells = (), sheet: str = "Sheet1", merges: Sequence[Merge] = ()) -> bytes:
    """A BIFF8 .xls written by xlwt (what old Excel and many WPS setups still send)."""
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(sheet)
    all_rows = [*title_rows, *rows]
    in_merge = {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for r0, c0, r1, c1 in merges:
        ws.write_merge(r0, r1, c0, c1, _at(all_rows, r0, c0))
    for r, row in enumerate(all_rows):
        for c, value in enumerate(row):
            if (r, c) not in in_merge and value is not None and value != "":
                ws.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _at(rows: Cells, r: int, c: int) -> object:
    return rows[r][c] if r < len(rows) and c < len(rows[r]) else ""


def make_docx(rows: Cells, paragraphs_before: Sequence[str] = (), merges: Sequence[Merge] = (),
              merge_county: Sequence[tuple[int, int]] = (), paragraphs_after: Sequence[str] = (),
              tables: int = 1) -> bytes:
    """A .docx with real Word tables; merge_county=(r0, r1) merges column 1 over table rows r0..r1."""
    document = docx.Document()
    for text in paragraphs_before:
        document.add_paragraph(text)
    all_merges = [*merges, *((a, 1, b, 1) for a, b in merge_county)]
    hidden = {(r, c) for r0, c0, r1, c1 in all_merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
              if (r, c) != (r0, c0)}
    for _ in range(tables):
        width = max(len(r) for r in rows)
        table = document.add_table(rows=len(rows), cols=width)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value not in (None, "") and (r, c) not in hidden:
                    table.cell(r, c).text = str(value)
        for r0, c0, r1, c1 in all_merges:
            table.cell(r0, c0).merge(table.cell(r1, c1))
    for text in paragraphs_after:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_csv(rows: Cells, encoding: str = "gbk", delimiter: str = ",") -> bytes:
    """A .csv as Excel for Chinese Windows saves it (GBK by default)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode(encoding)


def make_pdf(rows: Cells, title_rows: Cells = (), merges: Sequence[Merge] = (), rows_per_page: int = 0,
             footer_lines: Sequence[str] = ()) -> bytes:
    """A text PDF of the table as Excel/WPS "export to PDF" lays it out, written by reportlab: title and
    meta lines above, a ruled table (merges are spans in table coordinates), the header repeated on
    every page (rows_per_page: break after that many data rows), footer lines below."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("cell", fontName="STSong-Light", fontSize=8, leading=10)
    text = [[Paragraph(str(v).replace("\n", "<br/>"), style) if v not in (None, "") else "" for v in row]
            for row in rows]
    chunks = [text[1:]] if not rows_per_page else [text[1 + i:1 + i + rows_per_page]
                                                   for i in range(0, len(text) - 1, rows_per_page)]
    story: list = [Paragraph(" ".join(str(v) for v in row if v), style) for row in title_rows]
    for i, chunk in enumerate(chunks):
        table = Table([text[0], *chunk], repeatRows=1)
        shift = i * rows_per_page  # a span must lie within one page's rows
        spans = [("SPAN", (c0, r0 - shift), (c1, r1 - shift)) for r0, c0, r1, c1 in merges
                 if 1 <= r0 - shift and r1 - shift <= len(chunk)]
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), *spans]))
        story += [PageBreak()] if i else []
        story.append(table)
    story += [Paragraph(line, style) for line in footer_lines]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), invariant=True).build(story)
    return out.getvalue()


def make_scanned_pdf() -> bytes:
    """A PDF whose page is only a picture (a scan of the stamped paper): no text layer at all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    png = _grey_png(64, 48)
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.drawImage(ImageReader(io.BytesIO(png)), 50, 300, width=500, height=375)
    page.showPage()
    page.save()
    return out.getvalue()


def _grey_png(width: int, height: int) -> bytes:
    """A small grey PNG made with the stdlib (zlib + the PNG chunk layout)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes([(x * 4 + y) % 256 for x in range(width)]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
