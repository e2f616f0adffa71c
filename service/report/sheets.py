"""Sheets of the consolidated workbook: Summary -> 汇总 / per-city, 概况 (with a bar chart), 问题.

Every text is written as text: nothing a city sent can become a formula.
"""
from __future__ import annotations

import re
from copy import copy
from typing import Iterable, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..tables import TableField
from .summary import PROBLEM_COLUMNS, Summary

# Control characters XML 1.0 forbids (openpyxl would refuse them); \v is Word's manual line break.
_ILLEGAL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f]")
MAX_CELL_TEXT = 32767  # Excel refuses (and "repairs") longer cells
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# Column kinds (named styles) and (min, max) widths in Excel character units.
# Style names carry a prefix: "标题" or "汇总" alone are the names of built-in styles in Chinese Excel.
TEXT, CENTRE, COUNT, MONEY = "RMS 文本", "RMS 居中", "RMS 数量", "RMS 金额"
TITLE, NOTE_LEFT, NOTE_RIGHT, HEADER = "RMS 标题", "RMS 说明左", "RMS 说明右", "RMS 表头"
TOTAL = "（合计）"  # suffix: the bold variant of a kind, for 合计 rows
# A layout column's kind (summary.Layout) -> its style
KIND_STYLES = {"seq": CENTRE, "city": CENTRE, "county": CENTRE, "text": TEXT, "integer": COUNT, "decimal": COUNT,
               "money": MONEY, "file": TEXT, "received": CENTRE}
PROBLEM_KINDS = (CENTRE, CENTRE, CENTRE, CENTRE, TEXT, TEXT, TEXT, CENTRE, TEXT, TEXT, CENTRE, TEXT)
PROBLEM_WIDTHS = ((6, 6), (8, 22), (10, 20), (17, 17), (16, 30), (16, 40), (12, 28), (6, 6), (30, 60),
                  (8, 20), (14, 18), (12, 24))
STATE_STYLES = {"逾期": "RMS 逾期", "未报": "RMS 未报"}  # status labels shown on a coloured cell
DOUBTED_FILL = PatternFill("solid", start_color="FFEB9C")  # a figure kept out of the totals (Excel's "neutral")
CITY_DOUBTED_ZH = "含数值异常、未计入合计的数字，见汇总表中标色的单元格"


def cell_text(value: str) -> str:
    """Text an xlsx cell can hold: \\v as a line break, XML-illegal controls dropped, Excel's limit."""
    return _ILLEGAL.sub("", value.replace("\x0b", "\n"))[:MAX_CELL_TEXT]


def display_width(text: str) -> int:
    """Width in Excel character units of the longest line; CJK (3 bytes in UTF-8) counts two."""
    return max((len(line) + len(line.encode("utf-8"))) // 2 for line in text.split("\n"))


def named_styles() -> list[NamedStyle]:
    """The styles every sheet uses: title lines, header, body kinds, totals, late/missing states."""
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    body, bold = Font(name="宋体", size=10), Font(name="宋体", size=10, bold=True)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    left = Alignment(horizontal="left", vertical="center", wrap_text=True)
    right = Alignment(horizontal="right", vertical="center")
    grey, orange, red = (PatternFill("solid", start_color=c) for c in ("D9D9D9", "FCE4D6", "F8CBAD"))
    return [
        NamedStyle(TITLE, font=Font(name="宋体", size=16, bold=True), alignment=centre),
        NamedStyle(NOTE_LEFT, font=Font(name="宋体", size=11), alignment=Alignment(horizontal="left")),
        NamedStyle(NOTE_RIGHT, font=Font(name="宋体", size=11), alignment=Alignment(horizontal="right")),
        NamedStyle(HEADER, font=Font(name="黑体", size=11), alignment=centre, border=box, fill=grey),
        NamedStyle(TEXT, font=body, alignment=left, border=box),
        NamedStyle(CENTRE, font=body, alignment=centre, border=box),
        NamedStyle(COUNT, font=body, alignment=right, border=box, number_format="#,##0"),
        NamedStyle(MONEY, font=body, alignment=right, border=box, number_format="#,##0.00"),
        NamedStyle(CENTRE + TOTAL, font=bold, alignment=centre, border=box),
        NamedStyle(COUNT + TOTAL, font=bold, alignment=right, border=box, number_format="#,##0"),
        NamedStyle(MONEY + TOTAL, font=bold, alignment=right, border=box, number_format="#,##0.00"),
        NamedStyle(STATE_STYLES["逾期"], font=body, alignment=centre, border=box, fill=orange),
        NamedStyle(STATE_STYLES["未报"], font=body, alignment=centre, border=box, fill=red),
    ]


class Sheet:
    """One worksheet filled row by row; styles are applied by name."""

    def __init__(self, wb: Workbook, title: str, arrays: dict) -> None:
        self.ws: Worksheet = wb.create_sheet(title)
        self.row = 0
        self._arrays = arrays  # style name -> StyleArray, shared by the workbook's sheets

    def append(self, values: Sequence[object], styles: Sequence[str | None]) -> None:
        """Write the next row; text stays text even when it starts with = + - @."""
        self.row += 1
        cells = []
        for value, style in zip(values, styles):
            if isinstance(value, str):
                value = cell_text(value) or None  # "" is an empty (but bordered) cell
            cell = Cell(self.ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would store "=..." as a formula, "#N/A" as an error
            if style:
                self.paint(cell, style)
            cells.append(cell)
        self.ws.append(cells)

    def paint(self, cell: Cell, style: str) -> None:
        """Same as `cell.style = style`; that setter searches the style list on each call (~0.4 s
        per 90,000 cells), so later cells copy the array, as openpyxl's own WorksheetCopy does."""
        array = self._arrays.get(style)
        if array is None:
            cell.style = style
            self._arrays[style] = copy(cell._style)
        else:
            cell._style = copy(array)


def column_widths(rows: Iterable[Sequence[object]], limits: Sequence[tuple[int, int]]) -> list[int]:
    """Widths that fit each column's text within (min, max); longer text wraps."""
    widest = [0] * len(limits)
    for row in rows:
        for i, value in enumerate(row):
            if isinstance(value, str) and value:
                widest[i] = max(widest[i], display_width(value[:limits[i][1] * 2]))
            elif value is not None and not isinstance(value, str):
                widest[i] = max(widest[i], len(f"{value:,}"))
    return [min(max(w + 2, low), high) for w, (low, high) in zip(widest, limits)]


def set_layout(ws: Worksheet, widths: Sequence[float], header_rows: tuple[int, int], freeze: str) -> None:
    """Column widths, frozen header, A4 landscape fitted to the page width, header repeated per page."""
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = freeze
    ws.print_title_rows = f"{header_rows[0]}:{header_rows[1]}"
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def append_title(sheet: Sheet, width: int, title: str, left: str, right: str) -> None:
    """Rows 1-2 as in the notice: the title, then 填报单位 (left) and what the table covers (right)."""
    half = width // 2
    sheet.append([title], [TITLE])
    sheet.append([left] + [None] * (half - 1) + [right], [NOTE_LEFT] + [None] * (half - 1) + [NOTE_RIGHT])
    last = get_column_letter(width)
    sheet.ws.merge_cells(f"A1:{last}1")
    sheet.ws.merge_cells(f"A2:{get_column_letter(half)}2")
    sheet.ws.merge_cells(f"{get_column_letter(half + 1)}2:{last}2")
    sheet.ws.row_dimensions[1].height = 32


def subtitle(summary: Summary) -> str:
    """What the table covers: the deadline and the newest mail taken into account."""
    due = summary.deadline.due
    return (f"{summary.deadline.title}（{due.year}年{due.month}月{due.day}日截止）"
            f"  最新来件 {summary.as_of:%Y-%m-%d %H:%M}")


def total_style(kind: str) -> str:
    """Bold for a 合计 row, keeping the column's number format."""
    return kind + TOTAL if kind in (CENTRE, COUNT, MONEY) else kind


def mark_doubted(cell: Cell, note: str) -> None:
    """A figure kept out of the totals: coloured, with a comment saying why (values stay as written)."""
    cell.fill = DOUBTED_FILL
    cell.comment = Comment(note, "系统", width=260, height=110)


def summary_sheet(wb: Workbook, arrays: dict, summary: Summary) -> list[int]:
    """汇总: every city's activities; returns the column widths for the city sheets to share."""
    widths = column_widths(summary.rows, summary.layout.widths)
    activity_sheet(wb, arrays, "汇总", summary, summary.rows, f"填报单位（盖章）：{summary.unit}",
                   summary.city_figures(summary.overview[-1]), widths, summary.doubted)
    return widths


def city_sheets(wb: Workbook, arrays: dict, summary: Summary, widths: Sequence[int]) -> None:
    """One sheet per city that has rows, 序号 from 1, in the official order."""
    for line in summary.overview[:-1]:
        mine = [n for n, row in enumerate(summary.rows) if row[1] == line[0]]
        rows = [[k, *summary.rows[n][1:]] for k, n in enumerate(mine, 1)]
        doubted = {(k, column): note for k, n in enumerate(mine) for (m, column), note in summary.doubted.items()
                   if m == n}
        if rows:
            activity_sheet(wb, arrays, sheet_name(line[0]), summary, rows, f"市州：{line[0]}",
                           summary.city_figures(line), widths, doubted)


def sheet_name(city: str) -> str:
    """A valid sheet name: no []:*?/\\ and at most 31 characters."""
    return _SHEET_NAME_FORBIDDEN.sub("", city)[:31]


def activity_sheet(wb: Workbook, arrays: dict, name: str, summary: Summary, rows: Sequence[Sequence],
                   left: str, figures: Sequence[object], widths: Sequence[int],
                   doubted: Mapping[tuple[int, int], str] | None = None) -> None:
    """One table as in the notice: title, 填报单位, header, one row per activity, then 合计.

    figures: [activities, each figure] as aggregated in the Summary;
    doubted: (index in rows, column) -> note for the figures the totals leave out.
    """
    sheet = Sheet(wb, name, arrays)
    layout = summary.layout
    width, kinds = len(layout.columns), [KIND_STYLES[k] for k in layout.kinds]
    append_title(sheet, width, summary.title, left, subtitle(summary))
    sheet.append(layout.columns, [HEADER] * width)
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (n, column), note in (doubted or {}).items():
        by_row.setdefault(n, []).append((column, note))
    for n, row in enumerate(rows):
        sheet.append(row, kinds)
        for column, note in by_row.get(n, ()):
            mark_doubted(sheet.ws.cell(sheet.row, column + 1), note)
    label_span = min(layout.figure_columns, default=width - 2)  # the label spans the text columns
    total: list = [total_label(summary, figures[0]), *[None] * (width - 1)]
    for column, value in zip(layout.figure_columns, figures[1:]):
        total[column] = value
    sheet.append(total, [CENTRE + TOTAL] * label_span + [total_style(kind) for kind in kinds[label_span:]])
    if label_span > 1:
        sheet.ws.merge_cells(f"A{sheet.row}:{get_column_letter(label_span)}{sheet.row}")
    set_layout(sheet.ws, widths, (3, 3), "A4")
    sheet.ws.row_dimensions[3].height = 42
    sheet.ws.auto_filter.ref = f"A3:{get_column_letter(width)}{3 + len(rows)}"


def total_label(summary: Summary, count: object) -> str:
    """合计（12 项活动）."""
    t = summary.layout.template
    return f"合计（{count} {t.measure_word}{t.row_name}）"


def overview_sheet(wb: Workbook, arrays: dict, summary: Summary) -> None:
    """概况: per city the state and first received date per deadline and its figures; 全省合计; a chart."""
    sheet = Sheet(wb, "概况", arrays)
    count, lines, figures = len(summary.deadlines), summary.overview, summary.layout.figures
    width = 1 + 2 * count + 1 + len(figures)
    append_title(sheet, width, f"“{summary.campaign}”各市州报送概况",
                 "状态以首次来件时间计，收到日期为首次来件日期；— 表示可选报送未报", subtitle(summary))
    append_overview_header(sheet, summary)
    cities_doubted = {(summary.rows[n][1], column) for n, column in summary.doubted}
    for line in lines[:-1]:
        sheet.append(line, [overview_style(i, v, count, summary) for i, v in enumerate(line)])
        for k, column in enumerate(summary.layout.figure_columns):  # the city's figure leaves some out: say so
            if (line[0], column) in cities_doubted:
                mark_doubted(sheet.ws.cell(sheet.row, width - len(figures) + 1 + k), CITY_DOUBTED_ZH)
    sheet.append(lines[-1], [total_style(overview_style(i, None, count, summary)) for i in range(width)])
    limits = [(8, 22)] + [(8, 8), (12, 12)] * count + [(8, 10)] + [(12, 16) if f.kind == "money" else (10, 14)
                                                                   for f in figures]
    set_layout(sheet.ws, column_widths(lines, limits), (3, 4), "B5")
    sheet.ws.row_dimensions[3].height = 36
    charted = next((k for k, f in enumerate(figures) if f.kind == "money"), len(figures) - 1)
    if figures:
        column = width - len(figures) + 1 + charted
        sheet.ws.add_chart(figure_chart(sheet.ws, summary, figures[charted], first_row=5, last_row=3 + len(lines),
                                        column=column), f"A{sheet.row + 2}")


def append_overview_header(sheet: Sheet, summary: Summary) -> None:
    """Two header rows: each deadline over (状态, 收到日期), the compiled deadline over its figures."""
    top: list = ["市州"]
    for d in summary.deadlines:
        top += [f"{d.title}（{d.due.month}月{d.due.day}日截止{'' if d.required else '，选报'}）", None]
    t, figures = summary.layout.template, summary.layout.figures
    top += [f"{t.overview_heading or t.headline}（{summary.deadline.title}）", *[None] * len(figures)]
    below = [None] + ["状态", "收到日期"] * len(summary.deadlines) + [f"{t.row_name}数", *(f.title for f in figures)]
    sheet.append(top, [HEADER] * len(top))
    sheet.append(below, [HEADER] * len(below))
    sheet.ws.merge_cells("A3:A4")
    group = len(figures) + 1
    for first in range(2, len(top) - group, 2):
        sheet.ws.merge_cells(f"{get_column_letter(first)}3:{get_column_letter(first + 1)}3")
    if group > 1:
        sheet.ws.merge_cells(f"{get_column_letter(len(top) - group + 1)}3:{get_column_letter(len(top))}3")


def overview_style(column: int, value: object, deadlines: int, summary: Summary) -> str:
    """市州 and states centred (late/missing coloured), then the count and each figure."""
    figure = column - 1 - 2 * deadlines
    if figure < 0:
        return STATE_STYLES.get(value, CENTRE) if isinstance(value, str) else CENTRE
    return COUNT if figure == 0 else KIND_STYLES[summary.layout.figures[figure - 1].kind]


def figure_chart(ws: Worksheet, summary: Summary, shown: TableField, first_row: int, last_row: int,
                 column: int) -> BarChart:
    """A native column chart of one figure by city (the money one, 销售额（万元）; the province total left out)."""
    chart = BarChart()
    chart.type = "col"
    chart.title = f"各市州{shown.title}· {summary.deadline.title}"
    chart.add_data(Reference(ws, min_col=column, min_row=first_row - 1, max_row=last_row), titles_from_data=True)
    # City names as a string reference: openpyxl's set_categories makes a numRef, which some readers
    # (WPS, older Excel) show as 1, 2, 3...
    names = Reference(ws, min_col=1, min_row=first_row, max_row=last_row)
    chart.series[0].cat = AxDataSource(strRef=StrRef(f=str(names)))
    chart.legend = None
    chart.y_axis.title = shown.unit or shown.title
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides the axes unless told
    chart.width, chart.height = 26, 10
    return chart


def problems_sheet(wb: Workbook, arrays: dict, summary: Summary) -> None:
    """问题: every open problem with city, file, row and the contact the city gave, so staff can call."""
    sheet = Sheet(wb, "问题", arrays)
    width, rows = len(PROBLEM_COLUMNS), summary.problems
    append_title(sheet, width, f"待核实问题（共 {len(rows)} 条）", "已被市州重新报送取代的旧版本不再列出",
                 subtitle(summary))
    sheet.append(PROBLEM_COLUMNS, [HEADER] * width)
    for row in rows:
        sheet.append(row, PROBLEM_KINDS)
    if not rows:
        sheet.append(["暂无待核实问题"] + [None] * (width - 1), [CENTRE] * width)
        sheet.ws.merge_cells(f"A4:{get_column_letter(width)}4")
    set_layout(sheet.ws, column_widths(rows, PROBLEM_WIDTHS), (3, 3), "A4")
