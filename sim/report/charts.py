"""Altair charts of the report. Charts compute nothing: each takes a tidy table (shaped by
``sim.report.tables``) and only encodes it, in one consistent style.

Money axes read ``$1.2M``; fractions read ``45%``; every chart has a title and axis units.
Call :func:`enable_offline_rendering` in notebooks that become HTML: charts are then drawn to
inline SVG by vl-convert, so a report opened with no internet still shows every chart.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

USD = "$,.3~s"
"""d3 format of money axes and labels: $1.23M, -$450k."""
PCT = ".0%"
WIDTH = 620
HEIGHT = 260
PALETTE = ["#1f5f99", "#d1495b", "#2e9e6b", "#edae49", "#6c4f9c", "#00798c", "#8d6a4a",
           "#c05c8b"]
STEP_COLORS = {"total": "#5b6c7d", "increase": "#2e9e6b", "decrease": "#d1495b"}
SIDE_COLORS = {"low": "#d1495b", "high": "#1f5f99"}


def enable_offline_rendering() -> None:
    """Draw charts as inline SVG through vl-convert (no CDN, works offline and in Papermill)."""
    alt.renderers.enable("svg")


def _style(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font="Helvetica, Arial, sans-serif")
        .configure_title(fontSize=15, anchor="start", subtitleColor="#555", subtitleFontSize=12)
        .configure_axis(labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6")
        .configure_legend(labelFontSize=11, titleFontSize=12, orient="bottom")
        .configure_view(stroke=None)
        .configure_header(labelFontSize=12, titleFontSize=12, labelFontWeight="bold")
    )


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text, subtitle=subtitle or "")


def _month_axis() -> alt.X:
    return alt.X("month:Q", title="Month of plan", axis=alt.Axis(tickMinStep=1, format="d"))


def _bands(df: pd.DataFrame, color: str, y_title: str, fmt: str, palette=None) -> alt.LayerChart:
    """P10–P90 area and P50 line per month, one colour per ``color`` value."""
    scale = alt.Scale(range=palette or PALETTE)
    base = alt.Chart(df).encode(x=_month_axis())
    tooltip = [alt.Tooltip(f"{color}:N"), alt.Tooltip("month:Q", title="Month"),
               alt.Tooltip("p10:Q", format=fmt, title="P10"),
               alt.Tooltip("p50:Q", format=fmt, title="P50"),
               alt.Tooltip("p90:Q", format=fmt, title="P90")]
    area = base.mark_area(opacity=0.18).encode(
        y=alt.Y("p10:Q", title=y_title, axis=alt.Axis(format=fmt)),
        y2="p90:Q",
        color=alt.Color(f"{color}:N", scale=scale, title=None),
    )
    line = base.mark_line(strokeWidth=2.2).encode(
        y="p50:Q", color=alt.Color(f"{color}:N", scale=scale, title=None), tooltip=tooltip
    )
    return alt.layer(area, line)


def fan_chart(bands: pd.DataFrame, title: str = "Revenue vs operating profit per month",
              subtitle: str = "Line: P50; band: P10–P90 across replications") -> alt.Chart:
    """Fan chart. ``bands``: month, measure (label), p10, p50, p90 — USD per month."""
    chart = _bands(bands, "measure", "USD per month", USD).properties(
        width=WIDTH, height=HEIGHT, title=_title(title, subtitle))
    return _style(chart)


def scenario_bands(df: pd.DataFrame, title: str = "Scenarios per month",
                   subtitle: str = "Line: P50; band: P10–P90 across replications") -> alt.Chart:
    """P50 line and P10–P90 band per scenario, one panel per measure.

    ``df``: month, scenario, measure (label), p10, p50, p90 — USD per month.
    """
    chart = (
        _bands(df, "scenario", "USD per month", USD)
        .properties(width=WIDTH // 2 - 20, height=HEIGHT - 40)
        .facet(column=alt.Column("measure:N", title=None, sort=None))
        .resolve_scale(y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def arr_bridge_waterfall(bridge: pd.DataFrame, title: str = "ARR bridge by year",
                         subtitle: str = "Mean across replications") -> alt.Chart:
    """Waterfall. ``bridge``: step (label), order, start, end, top (the higher of the two),
    amount, kind (total / increase / decrease) — USD of ARR."""
    x = alt.X("step:N", sort=alt.EncodingSortField("order"), title=None,
              axis=alt.Axis(labelAngle=-40, labelLimit=140))
    base = alt.Chart(bridge).encode(x=x)
    bars = base.mark_bar(size=22).encode(
        y=alt.Y("start:Q", title="ARR (USD)", axis=alt.Axis(format=USD)),
        y2="end:Q",
        color=alt.Color("kind:N", title=None,
                        scale=alt.Scale(domain=list(STEP_COLORS), range=list(STEP_COLORS.values()))),
        tooltip=[alt.Tooltip("step:N", title="Step"),
                 alt.Tooltip("amount:Q", format="$,.0f", title="Amount")],
    )
    labels = base.mark_text(dy=-6, fontSize=10, color="#333").encode(
        y=alt.Y("top:Q"), text=alt.Text("amount:Q", format=USD))
    return _style(alt.layer(bars, labels).properties(width=WIDTH, height=HEIGHT + 40,
                                                      title=_title(title, subtitle)))


def cash_chart(bands: pd.DataFrame, trough: pd.DataFrame,
               title: str = "Cash balance",
               subtitle: str = "Line: P50; band: P10–P90; point: lowest P50 balance") -> alt.Chart:
    """Cash balance band with its trough marked. ``bands``: month, measure, p10, p50, p90;
    ``trough``: month, value, label (one row)."""
    band = _bands(bands, "measure", "Cash balance (USD)", USD, palette=[PALETTE[0]])
    point = alt.Chart(trough).mark_point(size=120, filled=True, color=PALETTE[1]).encode(
        x="month:Q", y="value:Q",
        tooltip=[alt.Tooltip("label:N", title="Trough")])
    text = alt.Chart(trough).mark_text(dy=16, fontSize=11, color=PALETTE[1]).encode(
        x="month:Q", y="value:Q", text="label:N")
    return _style(alt.layer(band, point, text).properties(width=WIDTH, height=HEIGHT,
                                                           title=_title(title, subtitle)))


def utilisation_chart(bands: pd.DataFrame, title: str = "Capacity utilisation",
                      subtitle: str = "Share of capacity in use; line: P50, band: P10–P90"
                      ) -> alt.Chart:
    """Utilisation lines. ``bands``: month, measure (label), p10, p50, p90 — fractions 0–1."""
    chart = _bands(bands, "measure", "Utilisation (% of capacity)", PCT).properties(
        width=WIDTH, height=HEIGHT - 40, title=_title(title, subtitle))
    return _style(chart)


def target_attainment_bars(targets: pd.DataFrame, title: str = "Chance of hitting each target",
                           subtitle: str = "Share of replications that hit the target"
                           ) -> alt.Chart:
    """Horizontal bars. ``targets``: name, probability (0–1)."""
    base = alt.Chart(targets).encode(
        y=alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)))
    bars = base.mark_bar(color=PALETTE[0], size=18).encode(
        x=alt.X("probability:Q", title="Probability of hitting the target",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=PCT)),
        tooltip=[alt.Tooltip("name:N", title="Target"),
                 alt.Tooltip("probability:Q", format=PCT, title="Probability")])
    text = base.mark_text(align="left", dx=4, fontSize=11).encode(
        x="probability:Q", text=alt.Text("probability:Q", format=PCT))
    return _style(alt.layer(bars, text).properties(width=WIDTH - 200, height=alt.Step(28),
                                                    title=_title(title, subtitle)))


def tornado(table: pd.DataFrame, title: str = "What moves the result most",
            subtitle: str = "Mean KPI with each lever moved down and up; base value at the join"
            ) -> alt.Chart:
    """Tornado. ``table`` (long): kpi (label), lever (label), side (low/high), side_label,
    value, base, swing — one panel per KPI, levers sorted by swing."""
    chart = (
        alt.Chart(table)
        .mark_bar(size=14)
        .encode(
            y=alt.Y("lever:N", title=None, sort=alt.EncodingSortField("swing", order="descending"),
                    axis=alt.Axis(labelLimit=300)),
            x=alt.X("value:Q", title="USD", axis=alt.Axis(format=USD),
                    scale=alt.Scale(zero=False)),
            x2="base:Q",
            color=alt.Color("side_label:N", title=None,
                            scale=alt.Scale(range=[SIDE_COLORS["low"], SIDE_COLORS["high"]])),
            tooltip=[alt.Tooltip("lever:N", title="Lever"),
                     alt.Tooltip("side_label:N", title="Move"),
                     alt.Tooltip("value:Q", format="$,.0f", title="KPI"),
                     alt.Tooltip("base:Q", format="$,.0f", title="Base")],
        )
        .properties(width=WIDTH - 180, height=alt.Step(22))
        .facet(row=alt.Row("kpi:N", title=None, sort=None, header=alt.Header(labelAngle=0,
                                                                             labelAlign="left",
                                                                             labelOrient="top")))
        .resolve_scale(x="independent", y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def sweep_curves(table: pd.DataFrame, x: str = "price_change_pct",
                 x_title: str = "List price change (%)", series: str = "series",
                 title: str = "Revenue and profit across prices",
                 subtitle: str = "Mean over replications (band: P10–P90); large point: peak"
                 ) -> alt.Chart:
    """Price/profit curves. ``table`` (long): ``x``, ``series`` (label), measure (label),
    mean, p10, p90, peak (bool) — USD totals over the horizon."""
    scale = alt.Scale(range=PALETTE)
    base = alt.Chart(table).encode(x=alt.X(f"{x}:Q", title=x_title))
    area = base.mark_area(opacity=0.12).encode(
        y=alt.Y("p10:Q", title="USD over the horizon", axis=alt.Axis(format=USD),
                scale=alt.Scale(zero=False)),
        y2="p90:Q", color=alt.Color(f"{series}:N", scale=scale, title=None))
    line = base.mark_line(strokeWidth=2).encode(
        y="mean:Q", color=alt.Color(f"{series}:N", scale=scale, title=None))
    points = base.mark_point(filled=True).encode(
        y="mean:Q",
        color=alt.Color(f"{series}:N", scale=scale, title=None),
        size=alt.Size("peak:N", scale=alt.Scale(domain=[False, True], range=[30, 220]),
                      legend=None),
        tooltip=[alt.Tooltip(f"{series}:N", title="Series"), alt.Tooltip(f"{x}:Q", title=x_title),
                 alt.Tooltip("mean:Q", format="$,.0f", title="Mean"),
                 alt.Tooltip("peak:N", title="Peak")])
    chart = (
        alt.layer(area, line, points)
        .properties(width=WIDTH // 2 - 20, height=HEIGHT)
        .facet(column=alt.Column("measure:N", title=None, sort=None))
        .resolve_scale(y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def scenario_kpi_bars(table: pd.DataFrame, title: str = "Profit next to revenue",
                      subtitle: str = "Bar: P50; whisker: P10–P90 across replications"
                      ) -> alt.Chart:
    """Bars with P10–P90 whiskers. ``table``: scenario, kpi (label), p10, p50, p90 — USD."""
    scale = alt.Scale(range=PALETTE)
    base = alt.Chart(table).encode(x=alt.X("scenario:N", title=None, sort=None,
                                           axis=alt.Axis(labelAngle=-30, labelLimit=160)))
    bars = base.mark_bar(size=26).encode(
        y=alt.Y("p50:Q", title="USD over the horizon", axis=alt.Axis(format=USD)),
        color=alt.Color("scenario:N", scale=scale, legend=None, sort=None),
        tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("p10:Q", format="$,.0f", title="P10"),
                 alt.Tooltip("p50:Q", format="$,.0f", title="P50"),
                 alt.Tooltip("p90:Q", format="$,.0f", title="P90")])
    whiskers = base.mark_errorbar(ticks=True, color="#333").encode(
        y=alt.Y("p10:Q", title="USD over the horizon"), y2="p90:Q")
    chart = (
        alt.layer(bars, whiskers)
        .properties(width=WIDTH // 2 - 20, height=HEIGHT)
        .facet(column=alt.Column("kpi:N", title=None, sort=None))
        .resolve_scale(y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def comparison_bars(deltas: pd.DataFrame, title: str = "Difference from the base scenario",
                    subtitle: str = "Mean paired difference with 95% confidence interval"
                    ) -> alt.Chart:
    """Delta bars with CI error bars. ``deltas``: scenario, kpi (label), mean_delta, ci_low,
    ci_high, prob_better (0–1), direction (better / worse) — USD."""
    base = alt.Chart(deltas).encode(
        y=alt.Y("scenario:N", title=None, sort=None, axis=alt.Axis(labelLimit=200)))
    bars = base.mark_bar(size=16).encode(
        x=alt.X("mean_delta:Q", title="Difference vs base (USD)", axis=alt.Axis(format=USD)),
        color=alt.Color("direction:N", title=None,
                        scale=alt.Scale(domain=["better", "worse"],
                                        range=[STEP_COLORS["increase"], STEP_COLORS["decrease"]])),
        tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("kpi:N", title="KPI"),
                 alt.Tooltip("mean_delta:Q", format="$,.0f", title="Mean difference"),
                 alt.Tooltip("ci_low:Q", format="$,.0f", title="95% CI low"),
                 alt.Tooltip("ci_high:Q", format="$,.0f", title="95% CI high"),
                 alt.Tooltip("prob_better:Q", format=PCT, title="P(better than base)")])
    ci = base.mark_errorbar(ticks=True, color="#222").encode(
        x=alt.X("ci_low:Q", title="Difference vs base (USD)"), x2="ci_high:Q")
    zero = base.mark_rule(color="#888").encode(x=alt.datum(0))
    chart = (
        alt.layer(bars, ci, zero)
        .properties(width=WIDTH - 160, height=alt.Step(24))
        .facet(row=alt.Row("kpi:N", title=None, sort=None,
                           header=alt.Header(labelAngle=0, labelAlign="left",
                                             labelOrient="top")))
        .resolve_scale(x="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def programme_comparison(table: pd.DataFrame,
                         title: str = "Programme accounts with and without the account plan",
                         subtitle: str = "Same accounts, same random streams; mean with 95% CI"
                         ) -> alt.Chart:
    """Paired bars of the programme's accounts with and without it. ``table``: measure
    (label), arm ("with programme" / "without"), mean, ci_low, ci_high — fractions."""
    base = alt.Chart(table).encode(y=alt.Y("arm:N", title=None, sort=None))
    bars = base.mark_bar(size=18).encode(
        x=alt.X("mean:Q", title=None, axis=alt.Axis(format=PCT)),
        color=alt.Color("arm:N", title=None, scale=alt.Scale(range=[PALETTE[0], "#9aa5b1"])),
        tooltip=[alt.Tooltip("measure:N"), alt.Tooltip("arm:N"),
                 alt.Tooltip("mean:Q", format=".1%"), alt.Tooltip("ci_low:Q", format=".1%"),
                 alt.Tooltip("ci_high:Q", format=".1%")])
    ci = base.mark_errorbar(ticks=True, color="#222").encode(x="ci_low:Q", x2="ci_high:Q")
    chart = (
        alt.layer(bars, ci)
        .properties(width=WIDTH - 160, height=alt.Step(26))
        .facet(row=alt.Row("measure:N", title=None, sort=None,
                           header=alt.Header(labelAngle=0, labelAlign="left",
                                             labelOrient="top")))
        .resolve_scale(x="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)
