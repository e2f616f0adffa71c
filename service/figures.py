"""Exact figures: the parser's Decimal values, stored as Float and read back exactly, summed exactly.

The rows table keeps its Float columns (no schema change); a figure's scale is at most 6 decimals
(0.01 元 is 0.000001 万元), so below 10^9 a double holds it to within half a unit of that scale and
quantizing the stored float to it gives back the parser's decimal exactly.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Iterable

FIGURE_SCALE = Decimal("0.000001")  # the finest figure the parser produces: 0.01 元 in 万元
EXACT_BELOW = 10 ** 9  # above this a double no longer holds 6 decimals; such figures are implausible anyway


def stored_figure(value: Decimal | float | None) -> float | None:
    """A figure as the Float column takes it."""
    return None if value is None else float(value)


def exact_figure(value: float | Decimal | None) -> Decimal | None:
    """A stored figure back as the parser's decimal (NaN/inf and huge hostile values as they are)."""
    if value is None or isinstance(value, Decimal):
        return value
    if not math.isfinite(value) or abs(value) >= EXACT_BELOW:
        return Decimal(repr(value))
    return Decimal(value).quantize(FIGURE_SCALE)


def figure_sum(values: Iterable[Decimal | float | None]) -> Decimal | None:
    """Exact sum of the known figures; None when none is known (an empty sum is not 0)."""
    known = [v if isinstance(v, Decimal) else exact_figure(v) for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def plain_figure(value: Decimal | float | None) -> int | Decimal | None:
    """A figure as written to files: None for unknown/NaN/inf, int when whole, else without trailing zeros."""
    if value is None:
        return None
    exact = value if isinstance(value, Decimal) else exact_figure(value)
    if not exact.is_finite():
        return None
    if exact == exact.to_integral_value():
        return int(exact)
    return exact.normalize()
