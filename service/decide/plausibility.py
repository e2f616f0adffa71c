"""Plausibility, pure: a city's report versions (their rows, oldest first) -> the figures of the latest
one kept out of the totals, each group with a Problem in Chinese.

Three checks per figure (the numeric fields of the config's table template: max_per_row, max_per_city,
jump_floor; [plausibility] max_jump): a figure over the per-row bound; a city total over the per-city
bound; a city total `max_jump` times the total its previous version counted. A doubted
figure stays in the tables (the workbook marks it) but counts in no total until staff confirm it:
`is_counted` is the one place that decides, and staff decisions (issue 12) plug in there.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..config import Config
from ..model import Problem, ReportRow
from ..tables import TableField

NOT_COUNTED_ZH = "未计入汇总，请核实"
FigureKey = tuple[int, int, str]  # (store id of the message, row index within the message, metric)


@dataclass(frozen=True)
class Doubt:
    """Figures of one report version kept out of the totals, and the problem that says why."""

    problem: Problem
    figures: tuple[tuple[int, str], ...]  # (row index within the version, metric)


@dataclass(frozen=True)
class Bound:
    """One figure's bounds and how it is written."""

    key: str
    name_zh: str
    unit: str  # money: 元 | 万元 | 亿元; "" for counts
    row: float
    city: float
    floor: float


@dataclass(frozen=True)
class Bounds:
    figures: tuple[Bound, ...]
    max_jump: float

    def of(self, key: str) -> Bound:
        return next(b for b in self.figures if b.key == key)


def bounds_of(config: Config, rows: Sequence[ReportRow] = ()) -> Bounds:
    """The bounds of the template the rows were read with (the workbook's when unknown)."""
    table = rows[0].table if rows else ""
    template = next((t for t in config.tables if t.id == table), None) or config.template
    return Bounds(tuple(field_bound(f) for f in template.figures), config.plausibility.max_jump)


def field_bound(f: TableField) -> Bound:
    return Bound(f.key, f.name_zh, f.unit if f.kind == "money" else "", f.max_per_row or math.inf,
                 f.max_per_city or math.inf, f.jump_floor)


def is_counted(figure: FigureKey, doubted: Collection[FigureKey], confirmed: Collection[FigureKey] = ()) -> bool:
    """True when a figure counts in the totals: not doubted, or doubted and confirmed by staff.

    The seam for staff decisions: today nothing confirms a figure (`confirmed` is empty), so a doubted
    figure stays out until the city sends a corrected version.
    """
    return figure not in doubted or figure in confirmed


def version_doubts(rows: Sequence[ReportRow], config: Config | Bounds) -> list[Doubt]:
    """Figures of one version over the per-row bound, then per figure its total over the per-city bound."""
    bounds = config if isinstance(config, Bounds) else bounds_of(config, rows)
    doubts = [Doubt(_row_problem(row, b), ((i, b.key),))
              for i, row in enumerate(rows) for b in bounds.figures
              if (value := row.figures.get(b.key)) is not None and not _within(value, b.row)]
    doubted = {f for d in doubts for f in d.figures}
    for b in bounds.figures:
        metric = b.key
        kept = [(i, row.figures[metric]) for i, row in enumerate(rows)
                if row.figures.get(metric) is not None and (i, metric) not in doubted]
        total = sum(value for _, value in kept)
        if kept and total > b.city:
            text = (f"数值异常：{b.name_zh}合计 {figure_text(b, total)} 超出合理范围"
                    f"（全市上限 {bound_text(b, b.city)}），{NOT_COUNTED_ZH}")
            doubts.append(Doubt(Problem("implausible_total", text, detail=f"{metric} total={total}",
                                        file=_common_file(rows)), tuple((i, metric) for i, _ in kept)))
    return doubts


def city_doubts(versions: Sequence[Sequence[ReportRow]], config: Config | Bounds) -> list[Doubt]:
    """Doubts about the latest of one city's versions for one deadline (oldest first, each its rows).

    A version's total is compared with the last total that counted: a planted version does not become
    the baseline the next one is measured against.
    """
    baseline: dict[str, float] = {}
    doubts: list[Doubt] = []
    bounds = config if isinstance(config, Bounds) else bounds_of(config, next((rows for rows in versions if rows), ()))
    for rows in versions:
        doubts = version_doubts(rows, bounds)
        for metric, total in counted_totals(rows, doubts, bounds).items():
            before = baseline.get(metric)
            if total is None:
                continue
            # float: a threshold, where the figures are exact Decimal and the bounds config floats
            if before is not None and float(total) > bounds.max_jump * max(float(before), bounds.of(metric).floor):
                doubts.append(_jump_doubt(rows, bounds.of(metric), total, before, bounds))
            else:
                baseline[metric] = total
    return doubts


def counted_totals(rows: Sequence[ReportRow], doubts: Sequence[Doubt], bounds: Bounds) -> dict[str, float | None]:
    """Per figure the sum of the figures not doubted; None when none was written."""
    doubted = {f for d in doubts for f in d.figures}
    totals: dict[str, float | None] = {}
    for b in bounds.figures:
        values = [row.figures[b.key] for i, row in enumerate(rows)
                  if row.figures.get(b.key) is not None and (i, b.key) not in doubted]
        totals[b.key] = sum(values) if values else None
    return totals


def figure_text(b: Bound, value: float) -> str:
    """A figure as people write it: 9999999亿元, 4500万元, 120."""
    if b.unit == "万元":
        return f"{plain(value / 10000)}亿元" if abs(value) >= 10000 else f"{plain(value)}万元"
    return f"{plain(value)}{b.unit}"


def bound_text(b: Bound, value: float) -> str:
    """A bound as configured: 1000000 万元, 100000."""
    return f"{plain(value)} {b.unit}" if b.unit else plain(value)


def plain(value: float) -> str:
    """No exponent, no float noise: 9999999, 1.2, 0.35."""
    if not math.isfinite(value):
        return str(value)
    rounded = round(float(value), 2)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.2f}".rstrip("0")


def _within(value: float, bound: float) -> bool:
    return math.isfinite(value) and 0 <= value <= bound


def _row_problem(row: ReportRow, b: Bound) -> Problem:
    value, line = row.figures[b.key], row.source_row
    where = f"第 {line} 行 " if line else ""
    reason = ("不应为负数" if value < 0 else f"超出合理范围（单行上限 {bound_text(b, b.row)}）")
    return Problem("implausible_figure", f"数值异常：{where}{b.name_zh} {figure_text(b, value)} "
                                         f"{reason}，{NOT_COUNTED_ZH}",
                   detail=f"{b.key}={value}", file=row.filename, row=line or None)


def _jump_doubt(rows: Sequence[ReportRow], b: Bound, total: float, before: float, bounds: Bounds) -> Doubt:
    metric = b.key
    factor = total / before if before > 0 else math.inf
    times = f"的 {plain(factor)} 倍" if math.isfinite(factor) else "的许多倍"
    text = (f"数值异常：{b.name_zh}合计 {figure_text(b, total)} 为上一版"
            f"（{figure_text(b, before)}）{times}（超过 {plain(bounds.max_jump)} 倍），{NOT_COUNTED_ZH}")
    figures = tuple((i, metric) for i, row in enumerate(rows) if row.figures.get(metric) is not None
                    and _within(row.figures[metric], b.row))
    return Doubt(Problem("implausible_jump", text, detail=f"{metric} total={total} previous={before}",
                         file=_common_file(rows)), figures)


def _common_file(rows: Sequence[ReportRow]) -> str:
    """The file a city total comes from, when it is one file."""
    files = {row.filename for row in rows}
    return files.pop() if len(files) == 1 else ""
