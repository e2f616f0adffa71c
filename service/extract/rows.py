"""Extract stage, rows, pure: the grid under a Header (+ its compiled template) -> Row records (+ problems,
footer lines).

Skips blank rows, examples, totals, repeated headers, column-number rows and footers (kept aside for
extract/meta_lines.py); fills merged or carried-down county cells; each row's figures are read as the
row is made (extract/row_figures.py: from their column, else from a text field by extract/metrics.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Problem, Row
from ..text import fold
from .grid import Grid, cell_at
from .header import Header
from .meta_lines import meta_line
from .row_figures import FigurePlan, plan_figures
from .template import Compiled

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
    figures: FigurePlan  # where this table's figures come from
    last_county: str = ""


def read_rows(grid: Grid, header: Header, filename: str) -> tuple[list[Row], list[Problem], list[str]]:
    """The rows under the header, their problems, and the footer lines (for the meta)."""
    filled = vertical_fill(grid)
    ctx = _Context(grid, filename, header, filled, [], [], [], [], {r for r, _ in filled},
                   plan_figures(header.template, header.columns))
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
    t = header.template
    get = own.get
    if not any(get(k) for k in t.content_keys) or _is_skipped(ctx, own, r):
        return  # only a 序号 (or a county) with nothing else; example, total, repeated header
    if t.county:
        county = merged.get(t.county, "")
        if county:
            ctx.last_county = county
        elif t.county in header.columns and ctx.last_county:
            merged = {**merged, t.county: ctx.last_county}  # a merged cell the reader could not see, or "同上"
            ctx.carried.append((ctx.grid.first_row + r, ctx.last_county))
    source_row = ctx.grid.first_row + r
    figures, figure_problems = ctx.figures.read(merged)
    for key in t.required:
        if not merged.get(key):
            ctx.problems.append(_missing(t, key, source_row, ctx.filename))
    ctx.rows.append(Row(merged, source_row, figures, figure_problems))


def _missing(t: Compiled, key: str, source_row: int, filename: str) -> Problem:
    """A row without a required field (活动名称): kept, with a problem."""
    code = "empty_name" if key == "name" else f"empty_{key}"
    return Problem(code, f"第 {source_row} 行缺少{t.template.field(key).name_zh}", file=filename, row=source_row)


def _is_footer(ctx: _Context, own: dict[str, str], texts: list[str]) -> bool:
    """注/填表人/联系电话 lines under the table: kept aside for 联系人 parsing."""
    seq = ctx.header.template.seq
    if fold(texts[0]).startswith(FOOTER_WORDS) and not (seq and fold(own.get(seq, "")).isdigit()):
        ctx.footer.append(meta_line(texts))
        return True
    return False


def _is_skipped(ctx: _Context, own: dict[str, str], r: int) -> bool:
    """Examples, totals, repeated header rows and column-number rows (1 2 3 … under the header)."""
    # all() first: most rows fail at their second value, before long texts are folded
    if all(fold(v).isdigit() for v in own.values() if v) and sum(1 for v in own.values() if v) >= 3:
        return True
    t = ctx.header.template
    get = own.get
    if t.skip_start_re.search("".join(get(k, "") for k in t.markers)):
        for k in t.markers:
            key = fold(get(k, ""))
            if key.startswith(t.skip_words) or key == "例":
                return True
    for k in t.other_texts:  # 备注 "示例"
        v = get(k, "")
        if v and len(v) <= t.max_example + 2 and fold(v) in t.example_words:
            return True
    return ctx.header.is_repeat(ctx.grid.cells[r])


def _carried_problem(ctx: _Context) -> Problem:
    """One note per table listing the rows whose county was carried down."""
    rows = "、".join(str(n) for n, _ in ctx.carried)
    t = ctx.header.template
    county = t.template.field(t.county).name_zh if t.county else ""
    return Problem("county_carried_down", f"第 {rows} 行未填写{county}，已沿用上一行的值",
                   detail="; ".join(f"{n}:{v}" for n, v in ctx.carried), file=ctx.filename)
