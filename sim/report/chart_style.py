"""The one chart style of revsim's pages: colours, fonts, money and percent formats, and the
time axis. Money axes read ``$1.2M`` / ``$450K``; fractions read ``45%``; time axes end at
the plan's last month and, when the scenario has a calendar, read real months ("Feb 2026")."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

USD = "$,.3~s"
"""d3 format of money tooltips and labels: $1.23M, -$450k."""
USD_LABEL = "replace(replace(format(datum.value, '$,.3~s'), 'k', 'K'), 'G', 'B')"
"""Vega expression of money axis labels: $1.2M, $450K, $1.1B (finance's K and B, not SI)."""
PCT = ".0%"
WIDTH = 640
HEIGHT = 260
PALETTE = ["#1f5f99", "#d1495b", "#2e9e6b", "#edae49", "#6c4f9c", "#00798c", "#8d6a4a",
           "#c05c8b"]
STEP_COLORS = {"total": "#5b6c7d", "increase": "#2e9e6b", "decrease": "#d1495b"}
SIDE_COLORS = {"low": "#d1495b", "high": "#1f5f99"}
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
"""DejaVu Sans first: where it is installed, vl-convert lays the chart out with the same
(wide) metrics a Linux browser draws with; elsewhere both use Helvetica/Arial, narrower than
what was measured, so labels never run past the edge. The padding absorbs what is left."""


def style(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT, padding={"left": 16, "top": 6, "right": 16, "bottom": 6})
        .configure_title(fontSize=15, anchor="start", subtitleColor="#555", subtitleFontSize=12)
        .configure_axis(labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6",
                        labelOverlap="greedy", labelSeparation=6, labelLimit=220)
        .configure_axisQuantitative(tickCount=6)
        .configure_legend(labelFontSize=11, titleFontSize=12, orient="bottom", columns=4,
                          labelLimit=220)
        .configure_view(stroke=None)
        .configure_header(labelFontSize=12, titleFontSize=12, labelFontWeight="bold",
                          labelLimit=400)
    )


def money_axis(title: str) -> alt.Axis:
    """A USD axis: labels $1.2M / $450K, the unit in the title."""
    return alt.Axis(title=title, labelExpr=USD_LABEL)


TICK_STEPS = (1, 2, 3, 6, 12, 24)
"""Months between time-axis ticks: the smallest that keeps the labels apart."""


def month_ticks(first: int, last: int, width: int, calendar: bool) -> list[int]:
    """Tick months in ``[first, last]``: multiples of a step (plus the first month), at most
    one label per ~34 px (plain month numbers) or ~70 px (calendar months, "Feb 2026")."""
    room = max(2, width // (70 if calendar else 34))
    step = next((s for s in TICK_STEPS if (last - first) / s + 1 <= room), TICK_STEPS[-1])
    ticks = [m for m in range(first, last + 1) if m % step == 0]
    if not ticks or ticks[0] - first >= step / 2:
        ticks.insert(0, first)
    return ticks


def month_axis(months: Sequence[int] | pd.Series, width: int = WIDTH,
               month_labels: Mapping[int, str] | None = None) -> alt.X:
    """The time axis of a monthly chart: its domain is exactly the months drawn (a 36-month
    plan ends at 36), ticks fit the width, labels are calendar months when given."""
    first, last = int(min(months)), int(max(months))
    ticks = month_ticks(first, last, width, bool(month_labels))
    if month_labels:
        names = [str(month_labels.get(m, "")) for m in range(last + 1)]
        axis = alt.Axis(values=ticks, tickCount=len(ticks), title="Month", grid=True,
                        labelExpr=f"{json.dumps(names)}[datum.value]")
    else:
        axis = alt.Axis(values=ticks, tickCount=len(ticks), format="d", title="Month of plan",
                        grid=True)
    return alt.X("month:Q", axis=axis, scale=alt.Scale(domain=[first, last], nice=False,
                                                       zero=False))


def title_params(text: str, subtitle: str | None = None) -> alt.TitleParams:
    """A chart title with its (grey) subtitle."""
    return alt.TitleParams(text, subtitle=subtitle or "")


def y_axis(title: str, fmt: str) -> alt.Axis:
    """The value axis: money labels for ``USD``, else the d3 format ``fmt``."""
    return money_axis(title) if fmt == USD else alt.Axis(title=title, format=fmt)
