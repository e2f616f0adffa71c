"""Extract stage, rows, pure: the grid under a Header -> Row records (+ problems, footer lines).

Skips blank rows, examples, totals, repeated headers, column-number rows and footers (kept aside for
extract/meta_lines.py); fills merged or carried-down county cells; each row's 活动成效 figures are
read as the row is made (extract/metrics.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Problem, Row
from ..text import fold
from .grid import Grid, cell_at
from .header import Header
from .meta_lines import meta_line
from .metrics import parse_metrics

TOTAL_WORDS = ("合计", "小计", "总计", "共计")
EXAMPLE_WORDS = ("示例", "样例", "范例", "举例", "例:", "例1", "例一")
_SKIP_WORDS = TOTAL_WORDS + EXAMPLE_WORDS  # a row whose 序号, county, name or organiser starts so
# The first characters of _SKIP_WORDS and 例, and every character NFKC folds into one of them: a row
# without any cannot be a total or an example (tests/unit/test_extract_rows.py checks the list).
SKIP_WORD_STARTS = "举例共合小总样示范\u2f29\u2f70\uf9b5\U0001f234"  # the last four: ⼩ ⽰ 例 🈴
_SKIP_WORD_START = re.compile(f"[{SKIP_WORD_STARTS}]")
FOOTER_WORDS = ("注:", "注1", "说明:", "填表说明", "备注:", "填表人", "填报人", "审核人", "负责人",
                "单位负责人", "制表人", "联系人", "联系电话", "填报日期", "报送日期")


@dataclass
class _Context:
    """Running state while reading one grid's data rows."""

    grid: Grid
    filename: str
    header: Header
    filled: dict[tuple[int, int], str]
    rows: list[Row]
    problems: list[Problem]
    footer: list[str]
    carried: list[tuple[int, str]]
    filled_rows: set[int]  # rows where a vertical merge supplies a value
    last_county: str = ""


def read_rows(grid: Grid, header: Header, filename: str) -> tuple[list[Row], list[Problem], list[str]]:
    """The rows under the header, their problems, and the footer lines (for the meta)."""
    filled = vertical_fill(grid)
    ctx = _Context(grid, filename, header, filled, [], [], [], [], {r for r, _ in filled})
    for r in range(header.last_row + 1, len(grid.cells)):
        _read_row(ctx, r)
    if ctx.carried:
        ctx.problems.append(_carried_problem(ctx))
    return ctx.rows, ctx.problems, ctx.footer


def vertical_fill(grid: Grid) -> dict[tuple[int, int], str]:
    """Values copied down vertically merged cells (first column of the range only)."""
    filled: dict[tuple[int, int], str] = {}
    for r0, c0, r1, _c1 in grid.merged:
        value = cell_at(grid.cells, r0, c0)
        for r in range(r0 + 1, r1 + 1):
            if value:
                filled[(r, c0)] = value
    return filled


def _read_row(ctx: _Context, r: int) -> None:
    """Turn grid row r into a Row, or skip it (blank, example, total, header, footer)."""
    cells, header = ctx.grid.cells, ctx.header
    texts = [c for c in cells[r] if c]
    if not texts:
        return
    own = header.row_values(cells, r)
    merged = {f: header.value(cells, r, f, ctx.filled) for f in header.columns} if r in ctx.filled_rows else own
    if _is_footer(ctx, own, texts):
        return
    get = own.get
    if not (get("organiser") or get("name") or get("content") or get("effect") or get("note")) \
            or _is_skipped(ctx, own, r):
        return  # only a 序号 (or a county) with nothing else; example, total, repeated header
    county = merged.get("county", "")
    if county:
        ctx.last_county = county
    elif "county" in header.columns and ctx.last_county:
        county = ctx.last_county  # a merged county cell the reader could not see, or "same as above"
        ctx.carried.append((ctx.grid.first_row + r, county))
    effect = merged.get("effect", "")
    row = Row(county, merged.get("organiser", ""), merged.get("name", ""), merged.get("content", ""), effect,
              merged.get("note", ""), merged.get("seq", ""), ctx.grid.first_row + r, parse_metrics(effect))
    if not row.name:
        ctx.problems.append(Problem("empty_name", f"第 {row.source_row} 行缺少活动名称",
                                    file=ctx.filename, row=row.source_row))
    ctx.rows.append(row)


def _is_footer(ctx: _Context, own: dict[str, str], texts: list[str]) -> bool:
    """注/填表人/联系电话 lines under the table: kept aside for 联系人 parsing."""
    if fold(texts[0]).startswith(FOOTER_WORDS) and not fold(own.get("seq", "")).isdigit():
        ctx.footer.append(meta_line(texts))
        return True
    return False


def _is_skipped(ctx: _Context, own: dict[str, str], r: int) -> bool:
    """Examples, totals, repeated header rows and column-number rows (1 2 3 … under the header)."""
    # all() first: most rows fail at their second value, before long texts are folded
    if all(fold(v).isdigit() for v in own.values() if v) and sum(1 for v in own.values() if v) >= 3:
        return True
    get = own.get
    if _SKIP_WORD_START.search(get("seq", "") + get("county", "") + get("name", "") + get("organiser", "")
                               + get("note", "")):
        for f in ("seq", "county", "name", "organiser"):
            key = fold(get(f, ""))
            if key.startswith(_SKIP_WORDS) or key == "例":
                return True
        if fold(get("note", "")) in EXAMPLE_WORDS:
            return True
    return ctx.header.is_repeat(ctx.grid.cells[r])


def _carried_problem(ctx: _Context) -> Problem:
    """One note per table listing the rows whose county was carried down."""
    rows = "、".join(str(n) for n, _ in ctx.carried)
    return Problem("county_carried_down", f"第 {rows} 行未填写县（市、区），已沿用上一行的值",
                   detail="; ".join(f"{n}:{v}" for n, v in ctx.carried), file=ctx.filename)
