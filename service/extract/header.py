"""Extract stage, header finding, pure: a grid's top rows + a compiled table template -> Header (where it
sits, which column holds which field).

The header is found by content (the template's aliases), over one row or a heading row and its
sub-headings; the Header then reads each field's text off a data row and spots the header printed again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ..text import clean_cell, fold
from .grid import cell_at
from .template import Compiled, default_compiled

HEADER_SCAN_ROWS = 30
MAX_HEADER_CELL = 60  # folded characters; longer cells are data, not headings
_SPLIT_ENDINGS = ("及", "和", "与", "、", "(")


def match_field(folded: str, t: Compiled | None = None) -> str | None:
    """The field a folded header cell names: exact beats prefix beats containment."""
    if not folded or len(folded) > MAX_HEADER_CELL:
        return None
    t = t or default_compiled()
    best, best_score = None, 0
    exact_only = t.exact_only
    for field_name, alias in t.folded_aliases:
        if folded == alias:
            score = 200 + len(alias)
        elif alias in exact_only:
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


def map_columns(folded_cells: list[str], t: Compiled | None = None) -> dict[str, list[int]]:
    """Field -> column indexes, for one (possibly combined) header row."""
    t = t or default_compiled()
    columns: dict[str, list[int]] = {}
    for c, text in enumerate(folded_cells):
        field_name = match_field(text, t)
        if field_name:
            columns.setdefault(field_name, []).append(c)
    return columns


def qualifies(columns: dict[str, list[int]], t: Compiled | None = None) -> bool:
    """A header names every required field (活动名称) and enough fields in all (3)."""
    t = t or default_compiled()
    return all(k in columns for k in t.required) and len(columns) >= min(t.template.min_fields, len(t.template.fields))


@dataclass(frozen=True)
class Header:
    """Where the header sits, which columns hold which field, sub-labels, header texts."""

    first_row: int
    last_row: int
    columns: dict[str, list[int]]
    labels: dict[int, str]
    texts: tuple[frozenset[str], ...]  # folded header texts per column, to spot repeats
    template: Compiled

    def value(self, cells: list[list[str]], r: int, field_name: str,
              filled: dict[tuple[int, int], str] | None = None) -> str:
        """The field's text in row r; several columns are joined, labelled when labels differ."""
        cols = self.columns.get(field_name, [])
        if len(cols) == 1:  # the usual case, kept fast for 5,000-row sheets: cell_at and clean_cell inlined
            c = cols[0]
            row = cells[r] if 0 <= r < len(cells) else ()
            v = row[c] if 0 <= c < len(row) else ""
            if not v and filled:
                v = filled.get((r, c), "")
            return clean_cell(v) if v else ""
        parts = [(self.labels.get(c, ""), clean_cell(cell_at(cells, r, c) or (filled or {}).get((r, c), "")))
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
        # A whole header names the required fields, whose aliases end in a few characters (活动名称's in
        # 称, 题 or 目 after fold): rows without any of those (or what NFKC folds into them) are not one.
        t = self.template
        joined = "\0".join(row)
        if not any(ch in joined for ch in t.required_alias_ends):
            return False
        folded = [fold(v) for v in row]
        # one search over the cells joined by a character no alias holds = "an alias in some cell"
        return bool(t.required_alias_re.search("\0".join(folded))) and qualifies(map_columns(folded, t), t)

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


def find_header(cells: list[list[str]], merged: list[tuple[int, int, int, int]],
                t: Compiled | None = None) -> Header | None:
    """The first row (or pair of rows) in the top rows that names the table's fields (default template:
    the shipped one)."""
    t = t or default_compiled()
    limit = min(len(cells), HEADER_SCAN_ROWS + 1)
    view, covered = _header_view(cells, merged, limit)
    for r in range(min(limit, HEADER_SCAN_ROWS)):
        single = map_columns(view[r], t)
        if len(single) >= 2 and r + 1 < limit and _continues(cells, view, covered, r, t):
            combined = map_columns(_combined(cells, view, r), t)
            if qualifies(combined, t):
                return _header(cells, view, r, r + 1, combined, t)
        if qualifies(single, t):
            return _header(cells, view, r, r, single, t)
    return None


def _header_view(cells: list[list[str]], merged: list[tuple[int, int, int, int]],
                 limit: int) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """Folded top rows with merged cells filled both ways; positions in horizontal merges."""
    width = max((len(row) for row in cells[:limit]), default=0)
    view = [[fold(cell_at(cells, r, c)) for c in range(width)] for r in range(limit)]
    covered: set[tuple[int, int]] = set()
    for r0, c0, r1, c1 in merged:
        for r in range(r0, min(r1 + 1, limit)):
            for c in range(c0, min(c1 + 1, width)):
                view[r][c] = fold(cell_at(cells, r0, c0))
                if c1 > c0:
                    covered.add((r, c))
    return view, covered


def _continues(cells: list[list[str]], view: list[list[str]], covered: set[tuple[int, int]], r: int,
               t: Compiled) -> bool:
    """Row r+1 finishes row r's headings: sub-headings, "具体内容" after "活动形式及", "（含…）"."""
    own = [(c, fold(v)) for c, v in enumerate(cells[r + 1]) if fold(v)]
    if not own:
        return False
    for c, text in own:
        above = _above(view, r, c)
        if len(text) > MAX_HEADER_CELL or text.isdigit() or not above:
            return False
        if not (match_field(text, t) or text.startswith("(") or above.endswith(_SPLIT_ENDINGS)
                or (r, c) in covered or not view[r][c] or _heads_group(cells, view, r, c)):
            return False
    return True


def _heads_group(cells: list[list[str]], view: list[list[str]], r: int, c: int) -> bool:
    """An unmerged heading over sub-headings: empty heading cells to its right have text below."""
    return (c + 1 < len(view[r]) and not view[r][c + 1]
            and bool(fold(cell_at(cells, r + 1, c + 1))))


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
        below = fold(cell_at(cells, r + 1, c))
        above = _above(view, r, c) if below else (view[r][c] if c < len(view[r]) else "")
        out.append(above + below)
    return out


def _header(cells: list[list[str]], view: list[list[str]], first: int, last: int,
            columns: dict[str, list[int]], t: Compiled) -> Header:
    """Header with labels (sub-heading, else heading) and folded header texts per column."""
    width = max(len(view[first]), len(view[last]))
    labels, texts = {}, []
    for c in range(width):
        label = clean_cell(cell_at(cells, last, c) or cell_at(cells, first, c) or view[first][c])
        labels[c] = re.sub(r"\s+", "", label)
        texts.append(frozenset(t for t in (view[first][c] if c < len(view[first]) else "",
                                           view[last][c] if c < len(view[last]) else "") if t))
    return Header(first, last, columns, labels, tuple(texts), t)
