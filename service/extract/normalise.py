"""Normaliser, pure: Grid -> Table of the 重点活动统计表 (+ problems), shared by every reader.

Each row's 活动成效 figures are read as the row is made (extract/metrics.py).

Finds the header by content, reads 填报单位/联系人 lines around it, skips examples,
totals, repeated headers and footers, and fills merged or carried-down county cells.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ..model import Problem, Row, Table
from ..text import clean_cell, fold
from .grid import Grid
from .metrics import parse_metrics

TOTAL_WORDS = ("合计", "小计", "总计", "共计")
EXAMPLE_WORDS = ("示例", "样例", "范例", "举例", "例:", "例1", "例一")
_SKIP_WORDS = TOTAL_WORDS + EXAMPLE_WORDS  # a row whose 序号, county, name or organiser starts so
# The first characters of _SKIP_WORDS and 例, and every character NFKC folds into one of them: a row
# without any cannot be a total or an example (tests/unit/test_extract_normalise.py checks the list).
SKIP_WORD_STARTS = "举例共合小总样示范\u2f29\u2f70\uf9b5\U0001f234"  # the last four: ⼩ ⽰ 例 🈴
_SKIP_WORD_START = re.compile(f"[{SKIP_WORD_STARTS}]")
FOOTER_WORDS = ("注:", "注1", "说明:", "填表说明", "备注:", "填表人", "填报人", "审核人", "负责人",
                "单位负责人", "制表人", "联系人", "联系电话", "填报日期", "报送日期")

# 填报单位（盖章）：… 联系人：… 职务：… 联系方式：… 邮箱：…; None = a label that only ends a value
META_LABELS: dict[str, str | None] = {
    "填报单位": "unit", "报送单位": "unit", "填表单位": "unit",
    "联系人": "contact", "填报人": "contact", "填表人": "contact",
    "职务": "contact_title",
    "联系方式": "phone", "联系电话": "phone", "手机号码": "phone", "手机": "phone", "电话": "phone",
    "电子邮箱": "email", "电子邮件": "email", "邮箱": "email", "e-mail": "email", "email": "email",
    "填报日期": None, "报送日期": None, "填报时间": None, "日期": None, "审核人": None,
}
_CELL = "\u0001"  # joins a row's cells so "联系人" | "张三" reads like "联系人：张三"
_META_RE = re.compile(
    r"(?:^|(?<=[\s\u0001_;；,，]))(" + "|".join(sorted(map(re.escape, META_LABELS), key=len, reverse=True))
    + r")\s*(?:[(（]\s*盖\s*章\s*[)）])?\s*(?:[:：]|\u0001|$)", re.IGNORECASE)


# Header aliases per field, matched on fold()ed text by equality, prefix or (short cells) containment.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号"),
    "county": ("县（市、区）", "县(市区)", "县（区、市）", "县(市", "县市区", "区县", "县区", "地区", "区域"),
    "organiser": ("举办单位", "主办单位", "承办单位", "组织单位", "举办方", "主办方", "单位名称"),
    "name": ("活动名称", "活动主题", "活动项目", "名称"),
    "content": ("活动形式及具体内容", "活动形式", "具体内容", "活动内容", "形式及内容"),
    "effect": ("活动成效", "成效", "活动效果", "活动成果"),
    "note": ("备注",),
}
EXACT_ONLY = {"名称"}  # "企业名称", "商品名称" are not the activity's name
HEADER_SCAN_ROWS = 30
MAX_HEADER_CELL = 60  # folded characters; longer cells are data, not headings
_FOLDED_ALIASES = [(f, fold(a)) for f, aliases in HEADER_ALIASES.items() for a in aliases]
_NAME_ALIASES = tuple(a for f, a in _FOLDED_ALIASES if f == "name")
_NAME_ALIAS_RE = re.compile("|".join(map(re.escape, _NAME_ALIASES)))  # no alias holds "\0"
_SPLIT_ENDINGS = ("及", "和", "与", "、", "(")
NAME_ALIAS_ENDS = "称题目\u2f6c"  # the last characters of the name aliases, and what NFKC folds into them (⽬)


def match_field(folded: str) -> str | None:
    """The field a folded header cell names: exact beats prefix beats containment."""
    if not folded or len(folded) > MAX_HEADER_CELL:
        return None
    best, best_score = None, 0
    for field_name, alias in _FOLDED_ALIASES:
        if folded == alias:
            score = 200 + len(alias)
        elif alias in EXACT_ONLY:
            continue
        elif folded.startswith(alias):
            score = 100 + len(alias)
        elif alias in folded and len(folded) <= 20:
            score = len(alias)
        else:
            continue
        if score > best_score:
            best, best_score = field_name, score
    return best


def map_columns(folded_cells: list[str]) -> dict[str, list[int]]:
    """Field -> column indexes, for one (possibly combined) header row."""
    columns: dict[str, list[int]] = {}
    for c, text in enumerate(folded_cells):
        field_name = match_field(text)
        if field_name:
            columns.setdefault(field_name, []).append(c)
    return columns


def qualifies(columns: dict[str, list[int]]) -> bool:
    """A header names 活动名称 and at least two other fields."""
    return "name" in columns and len(columns) >= 3


@dataclass(frozen=True)
class Header:
    """Where the header sits, which columns hold which field, sub-labels, header texts."""

    first_row: int
    last_row: int
    columns: dict[str, list[int]]
    labels: dict[int, str]
    texts: tuple[frozenset[str], ...]  # folded header texts per column, to spot repeats

    def value(self, cells: list[list[str]], r: int, field_name: str,
              filled: dict[tuple[int, int], str] | None = None) -> str:
        """The field's text in row r; several columns are joined, labelled when labels differ."""
        cols = self.columns.get(field_name, [])
        if len(cols) == 1:  # the usual case, kept fast for 5,000-row sheets: _cell and clean_cell inlined
            c = cols[0]
            row = cells[r] if 0 <= r < len(cells) else ()
            v = row[c] if 0 <= c < len(row) else ""
            if not v and filled:
                v = filled.get((r, c), "")
            return clean_cell(v) if v else ""
        parts = [(self.labels.get(c, ""), clean_cell(_cell(cells, r, c) or (filled or {}).get((r, c), "")))
                 for c in cols]
        labelled = len({label for label, _ in parts}) > 1
        return "；".join(f"{label}：{v}" if labelled and label else v for label, v in parts if v)

    def row_values(self, cells: list[list[str]], r: int) -> dict[str, str]:
        """Every field's text in row r (the usual one column per field read straight off the row)."""
        row = cells[r]
        width = len(row)
        out = {}
        for field_name, c in self.single_columns:
            v = row[c].strip() if c < width else ""
            out[field_name] = clean_cell(v) if "\ufeff" in v else v  # clean_cell, its usual case inlined
        for field_name in self.joined_fields:
            out[field_name] = self.value(cells, r, field_name)
        return out

    @cached_property
    def single_columns(self) -> tuple[tuple[str, int], ...]:
        return tuple((f, cols[0]) for f, cols in self.columns.items() if len(cols) == 1)

    @cached_property
    def joined_fields(self) -> tuple[str, ...]:
        return tuple(f for f, cols in self.columns.items() if len(cols) != 1)

    def is_repeat(self, row: list[str]) -> bool:
        """A header row again (every printed page), whole or as its second line."""
        if self._repeats_texts(row):
            return True
        # A whole header names 活动名称 somewhere, and every name alias ends in 称, 题 or 目 (after
        # fold): rows without any of those characters (or ⽬, which NFKC makes 目) are not one.
        joined = "\0".join(row)
        if not any(ch in joined for ch in NAME_ALIAS_ENDS):
            return False
        folded = [fold(v) for v in row]
        # one search over the cells joined by a character no alias holds = "an alias in some cell"
        return bool(_NAME_ALIAS_RE.search("\0".join(folded))) and qualifies(map_columns(folded))

    def _repeats_texts(self, row: list[str]) -> bool:
        """Every non-blank cell holds the header's text of its column (folded cells compared lazily:
        a data row fails at its first cell)."""
        seen = False
        for c, v in enumerate(row):
            text = fold(v) if v else ""
            if text:
                if c >= len(self.texts) or text not in self.texts[c]:
                    return False
                seen = True
        return seen


def find_header(cells: list[list[str]], merged: list[tuple[int, int, int, int]]) -> Header | None:
    """The first row (or pair of rows) in the top rows that names the table's fields."""
    limit = min(len(cells), HEADER_SCAN_ROWS + 1)
    view, covered = _header_view(cells, merged, limit)
    for r in range(min(limit, HEADER_SCAN_ROWS)):
        single = map_columns(view[r])
        if len(single) >= 2 and r + 1 < limit and _continues(cells, view, covered, r):
            combined = map_columns(_combined(cells, view, r))
            if qualifies(combined):
                return _header(cells, view, r, r + 1, combined)
        if qualifies(single):
            return _header(cells, view, r, r, single)
    return None


def _header_view(cells: list[list[str]], merged: list[tuple[int, int, int, int]],
                 limit: int) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """Folded top rows with merged cells filled both ways; positions in horizontal merges."""
    width = max((len(row) for row in cells[:limit]), default=0)
    view = [[fold(_cell(cells, r, c)) for c in range(width)] for r in range(limit)]
    covered: set[tuple[int, int]] = set()
    for r0, c0, r1, c1 in merged:
        for r in range(r0, min(r1 + 1, limit)):
            for c in range(c0, min(c1 + 1, width)):
                view[r][c] = fold(_cell(cells, r0, c0))
                if c1 > c0:
                    covered.add((r, c))
    return view, covered


def _continues(cells: list[list[str]], view: list[list[str]], covered: set[tuple[int, int]], r: int) -> bool:
    """Row r+1 finishes row r's headings: sub-headings, "具体内容" after "活动形式及", "（含…）"."""
    own = [(c, fold(v)) for c, v in enumerate(cells[r + 1]) if fold(v)]
    if not own:
        return False
    for c, text in own:
        above = _above(view, r, c)
        if len(text) > MAX_HEADER_CELL or text.isdigit() or not above:
            return False
        if not (match_field(text) or text.startswith("(") or above.endswith(_SPLIT_ENDINGS)
                or (r, c) in covered or not view[r][c] or _heads_group(cells, view, r, c)):
            return False
    return True


def _heads_group(cells: list[list[str]], view: list[list[str]], r: int, c: int) -> bool:
    """An unmerged heading over sub-headings: empty heading cells to its right have text below."""
    return (c + 1 < len(view[r]) and not view[r][c + 1]
            and bool(fold(_cell(cells, r + 1, c + 1))))


def _above(view: list[list[str]], r: int, c: int) -> str:
    """Row r's heading over column c; an empty cell takes the heading on its left."""
    for k in range(min(c, len(view[r]) - 1), -1, -1):
        if view[r][k]:
            return view[r][k]
    return ""


def _combined(cells: list[list[str]], view: list[list[str]], r: int) -> list[str]:
    """Per column, row r's heading followed by row r+1's own text."""
    width = max(len(view[r]), len(view[r + 1]))
    out = []
    for c in range(width):
        below = fold(_cell(cells, r + 1, c))
        above = _above(view, r, c) if below else (view[r][c] if c < len(view[r]) else "")
        out.append(above + below)
    return out


def _header(cells: list[list[str]], view: list[list[str]], first: int, last: int,
            columns: dict[str, list[int]]) -> Header:
    """Header with labels (sub-heading, else heading) and folded header texts per column."""
    width = max(len(view[first]), len(view[last]))
    labels, texts = {}, []
    for c in range(width):
        label = clean_cell(_cell(cells, last, c) or _cell(cells, first, c) or view[first][c])
        labels[c] = re.sub(r"\s+", "", label)
        texts.append(frozenset(t for t in (view[first][c] if c < len(view[first]) else "",
                                           view[last][c] if c < len(view[last]) else "") if t))
    return Header(first, last, columns, labels, tuple(texts))


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


def normalise_grid(grid: Grid, filename: str) -> tuple[Table | None, list[Problem]]:
    """The grid's statistics table, or None when no header row matches."""
    header = find_header(grid.cells, grid.merged)
    if header is None:
        return None, []
    filled = vertical_fill(grid)
    ctx = _Context(grid, filename, header, filled, [], [], [], [], {r for r, _ in filled})
    for r in range(header.last_row + 1, len(grid.cells)):
        _read_row(ctx, r)
    if ctx.carried:
        ctx.problems.append(_carried_problem(ctx))
    above = [_CELL.join(c for c in row if c) for row in grid.cells[: header.first_row]]
    meta = parse_meta([*grid.preamble, *above, *ctx.footer])
    return Table(filename=filename, sheet=grid.sheet, rows=tuple(ctx.rows), **meta), ctx.problems


def vertical_fill(grid: Grid) -> dict[tuple[int, int], str]:
    """Values copied down vertically merged cells (first column of the range only)."""
    filled: dict[tuple[int, int], str] = {}
    for r0, c0, r1, _c1 in grid.merged:
        value = _cell(grid.cells, r0, c0)
        for r in range(r0 + 1, r1 + 1):
            if value:
                filled[(r, c0)] = value
    return filled


def _cell(cells: list[list[str]], r: int, c: int) -> str:
    row = cells[r] if 0 <= r < len(cells) else []
    return row[c] if 0 <= c < len(row) else ""


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
        ctx.footer.append(_CELL.join(texts))
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


def parse_meta(lines: list[str]) -> dict[str, str]:
    """填报单位/联系人/职务/联系方式/邮箱 from free lines; the first value found wins."""
    meta = {"unit": "", "contact": "", "contact_title": "", "phone": "", "email": ""}
    for line in lines:
        matches = list(_META_RE.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            key = META_LABELS[_label_key(m.group(1))]
            value = _clean_meta(line[m.end():end])
            if key and value and not meta[key]:
                meta[key] = value
    return meta


def _label_key(label: str) -> str:
    return label if label in META_LABELS else label.lower()


def _clean_meta(value: str) -> str:
    """A label's value without blanks' underscores, colons and cell separators."""
    value = re.sub(r"[\u0001\s]+", " ", value).strip(" _＿:：;；,，")
    return clean_cell(re.sub(r"_{2,}|＿{2,}", "", value))

