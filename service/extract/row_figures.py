"""Extract stage, pure: one row's field texts -> its figures (the template's numeric fields), exact Decimal.

A figure comes from its own column when the table has one ("销售额（万元）" | "860"), else from the free
text of its from_text field ("参与企业120家，销售额860万元", read by extract/metrics.py). A table is
planned once (which figures come from where, which keywords the text reader needs); each row then
only reads its cells.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache

from ..model import Metrics, Problem
from ..tables import MONEY_UNITS, TableField
from .effect_figures import Vocabulary
from .metrics import parse_metrics
from .numbers import CN_BIG, THOUSANDS, parse_decimal
from .template import Compiled

# "860", "1,200.5", "约120家", "1.2亿元", "3000余款", "两千": a number, a 万/亿, a unit, approximations around
_CELL = re.compile(r"(?:约|近|超|逾|共|合计|累计)?(?P<num>[\d.]+|[零〇一二三四五六七八九十百千两]+)"
                   r"(?P<mult>[万亿])?(?:余|多|\+)?(?P<unit>元|家|户|个|名|款|种|件|人|次)?(?:余|多|以上|左右)?")
_WAN = Decimal(10_000)
_READ = {"participants": 0, "products": 1, "sales": 2}  # Metrics' fields, in order


def plan_figures(t: Compiled, columns: dict[str, list[int]]) -> "FigurePlan":
    """Which figures a table with these columns reads from a column, and which from which text."""
    return _plan(t, frozenset(columns))


class FigurePlan:
    """A table's figures: from columns [(field)], from texts [(text key, vocabulary, [(field, read index)])]."""

    def __init__(self, from_columns: tuple[TableField, ...],
                 from_texts: tuple[tuple[str, Vocabulary, tuple[tuple[TableField, int], ...]], ...]):
        self.from_columns = from_columns
        self.from_texts = from_texts

    def read(self, values: dict[str, str]) -> tuple[dict[str, Decimal | None], tuple[Problem, ...]]:
        figures: dict[str, Decimal | None] = {}
        problems: list[Problem] = []
        for f in self.from_columns:
            figures[f.key], problem = read_cell(f, values.get(f.key, ""))
            if problem:
                problems.append(problem)
        for text_key, vocab, wanted in self.from_texts:
            metrics = parse_metrics(values.get(text_key, ""), vocab)
            for f, index in wanted:
                figures[f.key] = _in_unit(_metric(metrics, index), f)
            problems.extend(metrics.problems)
        return figures, tuple(problems)


@lru_cache(maxsize=256)
def _plan(t: Compiled, keys: frozenset[str]) -> FigurePlan:
    from_columns = tuple(f for f in t.figures if f.key in keys)
    from_texts = []
    for text_key, figures, _vocab in t.text_figures:
        wanted = tuple(f for f in figures if f.key not in keys)
        if wanted and text_key in keys:
            from_texts.append((text_key, _vocabulary(t, text_key, tuple(f.key for f in wanted)),
                               tuple((f, _READ[f.reads]) for f in wanted)))
    return FigurePlan(from_columns, tuple(from_texts))


@lru_cache(maxsize=256)
def _vocabulary(t: Compiled, text_key: str, keys: tuple[str, ...]) -> Vocabulary:
    """The reader's keywords for the figures a table lacks a column for (no problems about the others)."""
    for key, figures, vocab in t.text_figures:
        if key == text_key and tuple(f.key for f in figures) == keys:
            return vocab  # the usual case: every figure from the text, one shapes cache
    wanted = [t.template.field(k) for k in keys]
    return Vocabulary({f.reads: f.keywords for f in wanted}, {f.reads: f.name_zh for f in wanted},
                            t.template.field(text_key).name_zh)


def _metric(metrics: Metrics, index: int) -> Decimal | None:
    return (metrics.participants, metrics.products, metrics.sales_wan)[index]


def _in_unit(value: Decimal | None, f: TableField) -> Decimal | None:
    """The text reader's sales are in 万元; a money field keeps its own unit."""
    if value is None or f.reads != "sales" or f.unit == "万元":
        return value
    return value * _WAN / MONEY_UNITS[f.unit]


def read_cell(f: TableField, text: str) -> tuple[Decimal | None, Problem | None]:
    """A figure's own cell: blank is unknown; a number (with 万/亿, a unit, 约/余) is read; else a problem."""
    cleaned = THOUSANDS.sub("", unicodedata.normalize("NFKC", text).replace(" ", "").replace("，", ","))
    if not cleaned or cleaned in ("-", "/", "—", "无"):
        return None, None
    m = _CELL.fullmatch(cleaned)
    number = parse_decimal(m["num"]) if m else None
    if number is None:
        return None, Problem("unreadable_figure", f"{f.name_zh}“{text.strip()[:30]}”不是数字，请人工核对", detail=text)
    if m["mult"]:
        number *= CN_BIG[m["mult"]]
    if f.kind == "money":
        number = _money(number, m["mult"], m["unit"], f.unit)
    return number, None


def _money(number: Decimal, mult: str | None, unit: str | None, field_unit: str) -> Decimal:
    """An amount in the field's unit: "860" is already in it; "1.2亿元", "8600000元", "860万" are converted."""
    if unit == "元" or mult:
        return number / MONEY_UNITS[field_unit]
    return number
