"""Number formats shared by the CLI tables and the reports (no heavy imports)."""

from __future__ import annotations

import math
from typing import Any


def as_float(x: Any) -> float:
    """A finite float, or NaN for anything missing or not a number."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def fmt_usd(x: Any) -> str:
    """$58.84M, $450K, -$1.20M; an em dash for missing values."""
    v = as_float(x)
    if math.isnan(v):
        return "—"
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{sign}${a / 1e3:,.0f}K"
    return f"{sign}${a:,.0f}"


def fmt_dollars(x: Any) -> str:
    """Whole dollars with the sign first: -$2,730,091; an em dash for missing values."""
    v = as_float(x)
    if math.isnan(v):
        return "—"
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"
