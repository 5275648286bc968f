"""Plan months → calendar: month labels, calendar quarters and fiscal years.

Without a scenario calendar, periods are plan-relative ("Month 1", "Q1", "Year 1"), as
before calendars existed. With one (``Scenario.calendar``), plan month 1 is ``start_month``
and a fiscal year, starting in ``fiscal_year_start_month``, is named by the calendar year it
ends in (the US convention: FY2027 runs Feb 2026 – Jan 2027 when it starts in February).
"""

from __future__ import annotations

import pandas as pd

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FREQS = ("month", "quarter", "year")


def period_table(horizon_months: int, calendar=None) -> pd.DataFrame:
    """One row per plan month 1..H: ``month``, ``month_label``, ``quarter`` and ``year``
    (labels used to group by quarter and fiscal year), and, with a calendar,
    ``calendar_year``, ``calendar_month`` (1-12) and ``calendar_quarter``."""
    months = list(range(1, horizon_months + 1))
    if calendar is None:
        return pd.DataFrame({
            "month": months,
            "month_label": [f"Month {m}" for m in months],
            "quarter": [f"Q{(m - 1) // 3 + 1}" for m in months],
            "year": [f"Year {(m - 1) // 12 + 1}" for m in months],
        })
    start_year, start_month = (int(x) for x in calendar.start_month.split("-"))
    fy_start = calendar.fiscal_year_start_month
    rows = []
    for m in months:
        index = start_year * 12 + (start_month - 1) + (m - 1)
        year, month = divmod(index, 12)
        month += 1
        # months into the fiscal year (0..11) and the calendar year the fiscal year ends in
        into_fy = (month - fy_start) % 12
        fy = year + (1 if fy_start > 1 and month >= fy_start else 0)
        rows.append({
            "month": m,
            "month_label": f"{MONTH_NAMES[month - 1]} {year}",
            "quarter": f"FY{fy} Q{into_fy // 3 + 1}",
            "year": f"FY{fy}",
            "calendar_year": year,
            "calendar_month": month,
            "calendar_quarter": f"{year} Q{(month - 1) // 3 + 1}",
        })
    return pd.DataFrame(rows)


def labels(horizon_months: int, calendar, freq: str) -> pd.Series:
    """The period label of each plan month (index: month) for freq month/quarter/year."""
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {FREQS}, got {freq!r}")
    table = period_table(horizon_months, calendar).set_index("month")
    return table["month_label" if freq == "month" else freq]
