"""Plausibility, pure: a city's report versions (their rows, oldest first) -> the figures of the latest
one kept out of the totals, each group with a Problem in Chinese.

Three checks per metric ([plausibility] in the config): a figure over the per-row bound; a city total
over the per-city bound; a city total `max_jump` times the total its previous version counted. A doubted
figure stays in the tables (the workbook marks it) but counts in no total until staff confirm it:
`is_counted` is the one place that decides, and staff decisions (issue 12) plug in there.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..config import PlausibilitySection
from ..model import Problem, ReportRow

METRICS = ("participants", "products", "sales_wan")
METRIC_ZH = {"participants": "参与主体数量", "products": "商品数量", "sales_wan": "销售额"}
NOT_COUNTED_ZH = "未计入汇总，请核实"
FigureKey = tuple[int, int, str]  # (store id of the message, row index within the message, metric)


@dataclass(frozen=True)
class Doubt:
    """Figures of one report version kept out of the totals, and the problem that says why."""

    problem: Problem
    figures: tuple[tuple[int, str], ...]  # (row index within the version, metric)


def is_counted(figure: FigureKey, doubted: Collection[FigureKey], confirmed: Collection[FigureKey] = ()) -> bool:
    """True when a figure counts in the totals: not doubted, or doubted and confirmed by staff.

    The seam for staff decisions: today nothing confirms a figure (`confirmed` is empty), so a doubted
    figure stays out until the city sends a corrected version.
    """
    return figure not in doubted or figure in confirmed


def version_doubts(rows: Sequence[ReportRow], bounds: PlausibilitySection) -> list[Doubt]:
    """Figures of one version over the per-row bound, then per metric its total over the per-city bound."""
    limits = [(metric, bounds.row_bound(metric)) for metric in METRICS]  # looked up once: 3 per row otherwise
    doubts = [Doubt(_row_problem(row, metric, bounds), ((i, metric),))
              for i, row in enumerate(rows) for metric, limit in limits
              if getattr(row, metric) is not None and not _within(getattr(row, metric), limit)]
    doubted = {f for d in doubts for f in d.figures}
    for metric in METRICS:
        kept = [(i, getattr(row, metric)) for i, row in enumerate(rows)
                if getattr(row, metric) is not None and (i, metric) not in doubted]
        total = sum(value for _, value in kept)
        if kept and total > bounds.city_bound(metric):
            text = (f"数值异常：{METRIC_ZH[metric]}合计 {figure_text(metric, total)} 超出合理范围"
                    f"（全市上限 {bound_text(metric, bounds.city_bound(metric))}），{NOT_COUNTED_ZH}")
            doubts.append(Doubt(Problem("implausible_total", text, detail=f"{metric} total={total}",
                                        file=_common_file(rows)), tuple((i, metric) for i, _ in kept)))
    return doubts


def city_doubts(versions: Sequence[Sequence[ReportRow]], bounds: PlausibilitySection) -> list[Doubt]:
    """Doubts about the latest of one city's versions for one deadline (oldest first, each its rows).

    A version's total is compared with the last total that counted: a planted version does not become
    the baseline the next one is measured against.
    """
    baseline: dict[str, float] = {}
    doubts: list[Doubt] = []
    for rows in versions:
        doubts = version_doubts(rows, bounds)
        for metric, total in counted_totals(rows, doubts).items():
            before = baseline.get(metric)
            if total is None:
                continue
            # float: a threshold, where the figures are exact Decimal and the bounds config floats
            if before is not None and float(total) > bounds.max_jump * max(float(before), bounds.jump_floor(metric)):
                doubts.append(_jump_doubt(rows, metric, total, before, bounds))
            else:
                baseline[metric] = total
    return doubts


def counted_totals(rows: Sequence[ReportRow], doubts: Sequence[Doubt]) -> dict[str, float | None]:
    """Per metric the sum of the figures not doubted; None when none was written."""
    doubted = {f for d in doubts for f in d.figures}
    totals: dict[str, float | None] = {}
    for metric in METRICS:
        values = [getattr(row, metric) for i, row in enumerate(rows)
                  if getattr(row, metric) is not None and (i, metric) not in doubted]
        totals[metric] = sum(values) if values else None
    return totals


def figure_text(metric: str, value: float) -> str:
    """A figure as people write it: 9999999亿元, 4500万元, 120."""
    if metric == "sales_wan":
        return f"{plain(value / 10000)}亿元" if abs(value) >= 10000 else f"{plain(value)}万元"
    return plain(value)


def bound_text(metric: str, value: float) -> str:
    """A bound as configured: 1000000 万元, 100000."""
    return f"{plain(value)} 万元" if metric == "sales_wan" else plain(value)


def plain(value: float) -> str:
    """No exponent, no float noise: 9999999, 1.2, 0.35."""
    if not math.isfinite(value):
        return str(value)
    rounded = round(float(value), 2)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.2f}".rstrip("0")


def _within(value: float, bound: float) -> bool:
    return math.isfinite(value) and 0 <= value <= bound


def _row_problem(row: ReportRow, metric: str, bounds: PlausibilitySection) -> Problem:
    value, line = getattr(row, metric), row.source_row
    where = f"第 {line} 行 " if line else ""
    reason = ("不应为负数" if value < 0 else
              f"超出合理范围（单行上限 {bound_text(metric, bounds.row_bound(metric))}）")
    return Problem("implausible_figure", f"数值异常：{where}{METRIC_ZH[metric]} {figure_text(metric, value)} "
                                         f"{reason}，{NOT_COUNTED_ZH}",
                   detail=f"{metric}={value}", file=row.filename, row=line or None)


def _jump_doubt(rows: Sequence[ReportRow], metric: str, total: float, before: float,
                bounds: PlausibilitySection) -> Doubt:
    factor = total / before if before > 0 else math.inf
    times = f"的 {plain(factor)} 倍" if math.isfinite(factor) else "的许多倍"
    text = (f"数值异常：{METRIC_ZH[metric]}合计 {figure_text(metric, total)} 为上一版"
            f"（{figure_text(metric, before)}）{times}（超过 {plain(bounds.max_jump)} 倍），{NOT_COUNTED_ZH}")
    figures = tuple((i, metric) for i, row in enumerate(rows) if getattr(row, metric) is not None
                    and _within(getattr(row, metric), bounds.row_bound(metric)))
    return Doubt(Problem("implausible_jump", text, detail=f"{metric} total={total} previous={before}",
                         file=_common_file(rows)), figures)


def _common_file(rows: Sequence[ReportRow]) -> str:
    """The file a city total comes from, when it is one file."""
    files = {row.filename for row in rows}
    return files.pop() if len(files) == 1 else ""
