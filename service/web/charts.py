"""Two pictures drawn on the server as SVG (no charting script): reports per day against each
deadline's due day, and one summary figure per city. Pure: values in, SVG text out (escaped)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from html import escape
from typing import Sequence

WIDTH, HEIGHT, PAD = 640, 220, 30
LABEL = 135  # room for the longest city name (湘西土家族苗族自治州) left of the bars


def reports_per_day(counts: dict[date, int], due_days: Sequence[tuple[date, str]]) -> str:
    """Bars: reports received per day; red lines: each deadline's due day, labelled."""
    days = sorted(set(counts) | {d for d, _ in due_days})
    if not days:
        return _empty("尚未收到报送")
    first, last = days[0], days[-1]
    span = (last - first).days + 1
    step = (WIDTH - 2 * PAD) / span
    top = max(counts.values(), default=1) or 1
    parts = [_axis()]
    for i in range(span):
        day = first + timedelta(days=i)
        n = counts.get(day, 0)
        if n:
            h = (HEIGHT - 2 * PAD) * n / top
            parts.append(f'<rect class="bar" x="{PAD + i * step:.1f}" y="{HEIGHT - PAD - h:.1f}" '
                         f'width="{max(step - 1, 1):.1f}" height="{h:.1f}"><title>{day:%m-%d}：{n} 份</title></rect>')
    for i, (day, title) in enumerate(due_days):
        x = PAD + ((day - first).days + 0.5) * step
        y = PAD / 2 + 10 + 13 * i  # one line per deadline: close due days do not overwrite each other
        anchor = "end" if x > WIDTH / 2 else "start"
        parts.append(f'<line class="due" x1="{x:.1f}" y1="{PAD / 2}" x2="{x:.1f}" y2="{HEIGHT - PAD}"/>'
                     f'<text class="due-label" x="{x + (-3 if anchor == "end" else 3):.1f}" y="{y:.0f}" '
                     f'text-anchor="{anchor}">{escape(title)} {day:%m-%d}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}">{first:%Y-%m-%d}</text>'
                 f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{last:%Y-%m-%d}</text>'
                 f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end">{top}</text>')
    return _svg("每日收到的报送与各节点截止日", parts)


def per_city(values: Sequence[tuple[str, Decimal | int | None]], unit: str, title: str) -> str:
    """Horizontal bars, one per city, labelled with the exact figure."""
    if not values:
        return _empty("尚无数据")
    top = max((v or 0 for _, v in values), default=0) or 1
    row = 18
    height = row * len(values) + 10
    parts = []
    for i, (city, value) in enumerate(values):
        w = (WIDTH - 260) * float(value or 0) / float(top)
        y = 5 + i * row
        parts.append(f'<text x="{LABEL - 5}" y="{y + 13}" text-anchor="end">{escape(city)}</text>'
                     f'<rect class="bar" x="{LABEL}" y="{y + 2}" width="{w:.1f}" height="{row - 5}"/>'
                     f'<text x="{LABEL + 5 + w:.1f}" y="{y + 13}">{_figure(value)}{escape(unit)}</text>')
    return _svg(title, parts, height)


def _figure(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if value != int(value) else f"{int(value):,}"


def _axis() -> str:
    return f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'


def _svg(title: str, parts: Sequence[str], height: int = HEIGHT) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(parts)}</svg>')


def _empty(text: str) -> str:
    return _svg(text, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(text)}</text>'])
