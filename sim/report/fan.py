"""The fan chart, one for every page that draws one: the P10–P90 band and the P50 line of
each month across replications, and, where there are actual months (``revsim track``,
``revsim backtest``), those months as points on it: dark inside the band, red triangles
pointing the way they left it. The report's fans, the board pack's cash panels, the track
page and the backtest page all draw through :func:`fan`."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from sim.report.chart_style import PALETTE, USD, WIDTH, month_axis, y_axis

INSIDE_COLOR, OUTSIDE_COLOR = "#222222", PALETTE[1]
SIDES = ("inside", "below", "above")
"""Where an actual month stands against the plan's P10–P90 band."""


def fan(df: pd.DataFrame, y_title: str, fmt: str = USD, *, color: str | None = None,
        palette=None, width: int = WIDTH, month_labels: Mapping[int, str] | None = None,
        zero: bool = True, actual: pd.DataFrame | None = None) -> alt.LayerChart:
    """P10–P90 area and P50 line per month. ``df``: month, p10, p50, p90 and, with ``color``,
    that column: one colour per value (in table order, from ``palette``); without it one
    series in the first palette colour. ``zero=False`` lets the value axis start near the
    band (a level such as ARR); ``actual``: month, actual, side (``SIDES``), and for the
    tooltip label (the month's name) and percentile_rank when known."""
    base = alt.Chart(df).encode(x=month_axis(df["month"], width, month_labels))
    tooltip = [alt.Tooltip("month:Q", title="Month"),
               alt.Tooltip("p10:Q", format=fmt, title="P10"),
               alt.Tooltip("p50:Q", format=fmt, title="P50"),
               alt.Tooltip("p90:Q", format=fmt, title="P90")]
    y = (alt.Y("p10:Q", axis=y_axis(y_title, fmt)) if zero else
         alt.Y("p10:Q", axis=y_axis(y_title, fmt), scale=alt.Scale(zero=False)))
    if color is None:
        area = base.mark_area(opacity=0.18, color=PALETTE[0]).encode(y=y, y2="p90:Q")
        line = base.mark_line(strokeWidth=2.2, color=PALETTE[0]).encode(y="p50:Q",
                                                                        tooltip=tooltip)
    else:
        order = list(dict.fromkeys(df[color]))
        scale = alt.Scale(domain=order, range=(palette or PALETTE)[:len(order)] or PALETTE)
        area = base.mark_area(opacity=0.18).encode(
            y=y,
            y2="p90:Q",
            color=alt.Color(f"{color}:N", scale=scale, title=None, sort=order),
        )
        line = base.mark_line(strokeWidth=2.2).encode(
            y="p50:Q", color=alt.Color(f"{color}:N", scale=scale, title=None, sort=order),
            tooltip=[alt.Tooltip(f"{color}:N"), *tooltip]
        )
    if actual is None:
        return alt.layer(area, line)
    return alt.layer(area, line, actual_points(actual, fmt))


def actual_points(actual: pd.DataFrame, fmt: str) -> alt.Chart:
    """The actual months: month, actual, side; label and percentile_rank in the tooltip."""
    tooltip = [alt.Tooltip("label:N", title="Month")] if "label" in actual else []
    tooltip.append(alt.Tooltip("actual:Q", format=fmt, title="Actual"))
    if "percentile_rank" in actual:
        tooltip.append(alt.Tooltip("percentile_rank:Q", format=".0%", title="Percentile rank"))
    return alt.Chart(actual).mark_point(filled=True, size=55).encode(
        x="month:Q", y="actual:Q",
        color=alt.Color("side:N", title="Actual month",
                        scale=alt.Scale(domain=list(SIDES),
                                        range=[INSIDE_COLOR, OUTSIDE_COLOR, OUTSIDE_COLOR])),
        shape=alt.Shape("side:N", scale=alt.Scale(domain=list(SIDES),
                                                  range=["circle", "triangle-down",
                                                         "triangle-up"]), legend=None),
        tooltip=tooltip)
