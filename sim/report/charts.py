"""Altair charts of the report. Charts compute nothing: each takes a tidy table (shaped by
``sim.report.tables``) and only encodes it, in one consistent style
(:mod:`sim.report.chart_style`); every fan is :func:`sim.report.fan.fan`.

Money axes read ``$1.2M`` / ``$450K``; fractions read ``45%``; every chart has a title and
axis units. Time axes end at the plan's last month and, when the scenario has a calendar,
read real months ("Feb 2026"). Several scenarios are drawn as small multiples (one panel each,
the base as a dashed reference), never as overlapping bands.

Call :func:`enable_offline_rendering` in notebooks that become HTML: charts are then drawn to
inline SVG by vl-convert, so a report opened with no internet still shows every chart.
Commands that draw charts first call :func:`renderer_problem` (:mod:`sim.report.render`).
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from sim.report.chart_style import (
    HEIGHT,
    PALETTE,
    PCT,
    SIDE_COLORS,
    STEP_COLORS,
    USD,
    USD_LABEL,
    WIDTH,
    money_axis,
    month_axis,
    style,
    title_params,
)
from sim.report.fan import fan
from sim.report.render import enable_offline_rendering as enable_offline_rendering
from sim.report.render import renderer_problem as renderer_problem


def fan_chart(bands: pd.DataFrame, title: str = "Operating profit and revenue per month",
              subtitle: str = "Line: P50; band: P10–P90 across replications",
              month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Fan chart. ``bands``: month, measure (label), p10, p50, p90 — USD per month."""
    chart = fan(bands, "USD per month ($K / $M)", USD, color="measure",
                month_labels=month_labels).properties(
        width=WIDTH, height=HEIGHT, title=title_params(title, subtitle))
    return style(chart)


def scenario_bands(df: pd.DataFrame, title: str = "Scenarios per month",
                   subtitle: str = "Line: P50; band: P10–P90 across replications",
                   month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Two or three series overlaid (e.g. a what-if against its baseline), one panel per
    measure in table order. ``df``: month, scenario, measure (label), p10, p50, p90 — USD."""
    width = WIDTH // 2 - 20
    chart = (
        fan(df, "USD per month ($K / $M)", USD, color="scenario", width=width,
            month_labels=month_labels)
        .properties(width=width, height=HEIGHT - 40)
        .facet(column=alt.Column("measure:N", title=None,
                                 sort=list(dict.fromkeys(df["measure"]))))
        .resolve_scale(y="independent")
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def scenario_panels(df: pd.DataFrame, month_labels: Mapping[int, str] | None = None,
                    columns: int = 3) -> alt.VConcatChart:
    """Small multiples: for each measure (table order, profit first), one panel per scenario
    with its P50 line and P10–P90 band, the base scenario's P50 dashed in every panel, the
    same y axis in all panels. ``df``: month, scenario (base first), measure (label), p10,
    p50, p90 — USD per month."""
    scenarios = list(dict.fromkeys(df["scenario"]))
    base = scenarios[0]
    cols = min(columns, len(scenarios))
    width = min(300, (WIDTH + 200) // cols - 40)
    rows = []
    for measure in dict.fromkeys(df["measure"]):
        d = df[df["measure"] == measure]
        ref = d.loc[d["scenario"] == base, ["month", "p50"]].rename(columns={"p50": "base_p50"})
        d = d.merge(ref, on="month", how="left")
        x = month_axis(d["month"], width, month_labels)
        enc = alt.Chart().encode(x=x)
        area = enc.mark_area(opacity=0.2, color=PALETTE[0]).encode(
            y=alt.Y("p10:Q", axis=money_axis("USD per month")), y2="p90:Q")
        ref_line = enc.mark_line(strokeDash=[4, 3], color="#777", strokeWidth=1.5).encode(
            y="base_p50:Q")
        line = enc.mark_line(color=PALETTE[0], strokeWidth=2.2).encode(
            y="p50:Q", tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("month:Q", title="Month"),
                                alt.Tooltip("p10:Q", format=USD, title="P10"),
                                alt.Tooltip("p50:Q", format=USD, title="P50"),
                                alt.Tooltip("p90:Q", format=USD, title="P90")])
        rows.append(
            alt.layer(area, ref_line, line, data=d)
            .properties(width=width, height=160)
            .facet(facet=alt.Facet("scenario:N", title=None, sort=scenarios), columns=cols)
            .properties(title=title_params(f"{measure} per month",
                                     f"Line: P50; band: P10–P90; dashed: {base} (base) P50"))
        )
    return style(alt.vconcat(*rows, spacing=36))


def investment_chart(df: pd.DataFrame, title: str = "The plan as an investment",
                     subtitle: str = "Plan minus base in the same replication, cumulative; "
                                     "line: P50; band: P10–P90; dashed: mean",
                     month_labels: Mapping[int, str] | None = None) -> alt.HConcatChart:
    """One panel per measure (cumulative Δ operating profit, cumulative Δ cash), one colour
    per plan, the zero line marked: where the P50 crosses it for good is the payback month.
    ``df``: month, scenario, measure (label), p10, p50, p90, mean — USD."""
    width = WIDTH // 2 - 20
    panels = []
    for measure in dict.fromkeys(df["measure"]):
        d = df[df["measure"] == measure]
        order = list(dict.fromkeys(d["scenario"]))
        scale = alt.Scale(domain=order, range=PALETTE[:len(order)] or PALETTE)
        mean = alt.Chart(d).mark_line(strokeDash=[4, 3], strokeWidth=1.5).encode(
            x="month:Q", y="mean:Q",
            color=alt.Color("scenario:N", scale=scale, title=None, sort=order))
        zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#777").encode(y="y:Q")
        panels.append(alt.layer(fan(d, "USD, cumulative", USD, color="scenario",
                                    width=width, month_labels=month_labels), mean, zero)
                      .properties(width=width, height=HEIGHT - 40, title=measure))
    return style(alt.hconcat(*panels).properties(title=title_params(title, subtitle)))


def arr_bridge_waterfall(bridge: pd.DataFrame, title: str = "ARR bridge by year",
                         subtitle: str = "Mean across replications; USD of ARR") -> alt.Chart:
    """Waterfall. ``bridge``: step (label), order, start, end, top (the higher of the two),
    amount, kind (total / increase / decrease) — USD of ARR. Value labels alternate between
    two heights so neighbours never overlap."""
    steps = len(bridge)
    x = alt.X("step:N", sort=alt.EncodingSortField("order"), title=None,
              axis=alt.Axis(labelAngle=-40, labelLimit=140, labelOverlap=False))
    base = alt.Chart(bridge).encode(x=x)
    bars = base.mark_bar(size=22).encode(
        y=alt.Y("start:Q", axis=money_axis("ARR (USD)")),
        y2="end:Q",
        color=alt.Color("kind:N", title=None,
                        scale=alt.Scale(domain=list(STEP_COLORS), range=list(STEP_COLORS.values()))),
        tooltip=[alt.Tooltip("step:N", title="Step"),
                 alt.Tooltip("amount:Q", format="$,.0f", title="Amount")],
    )
    labels = [base.transform_filter(f"datum.order % 2 == {parity}")
              .mark_text(dy=dy, fontSize=10, color="#333")
              .transform_calculate(label=USD_LABEL.replace("datum.value", "datum.amount"))
              .encode(y=alt.Y("top:Q"), text=alt.Text("label:N"))
              for parity, dy in ((0, -6), (1, -19))]
    return style(alt.layer(bars, *labels).properties(
        width=max(WIDTH, 44 * steps), height=HEIGHT + 40, title=title_params(title, subtitle)))


def cash_chart(bands: pd.DataFrame, trough: pd.DataFrame,
               title: str = "Cash balance",
               subtitle: str = ("Line: P50; band: P10–P90; point: the cash trough, P50 of each "
                                "run's lowest balance (as in the KPI table)"),
               month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Cash balance band with its trough marked. ``bands``: month, measure, p10, p50, p90;
    ``trough``: month, value, label (one row). The label sits on the side of the point that
    has room (right in the first half of the plan, left in the second)."""
    band = fan(bands, "Cash balance (USD)", USD, color="measure", palette=[PALETTE[0]],
               month_labels=month_labels)
    point = alt.Chart(trough).mark_point(size=120, filled=True, color=PALETTE[1]).encode(
        x="month:Q", y="value:Q",
        tooltip=[alt.Tooltip("label:N", title="Trough")])
    first, last = int(bands["month"].min()), int(bands["month"].max())
    left = bool(len(trough)) and float(trough["month"].iloc[0]) > (first + last) / 2
    text = alt.Chart(trough).mark_text(
        dy=16, dx=-8 if left else 8, align="right" if left else "left", fontSize=11,
        color=PALETTE[1]).encode(x="month:Q", y="value:Q", text="label:N")
    return style(alt.layer(band, point, text).properties(width=WIDTH, height=HEIGHT,
                                                           title=title_params(title, subtitle)))


def utilisation_chart(bands: pd.DataFrame, title: str = "Capacity utilisation",
                      subtitle: str = "Share of capacity in use; line: P50, band: P10–P90",
                      month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Utilisation lines. ``bands``: month, measure (label), p10, p50, p90 — fractions 0–1."""
    chart = fan(bands, "Utilisation (% of capacity)", PCT, color="measure",
                month_labels=month_labels).properties(
        width=WIDTH, height=HEIGHT - 40, title=title_params(title, subtitle))
    return style(chart)


def target_attainment_bars(targets: pd.DataFrame, title: str = "Chance of hitting each target",
                           subtitle: str = "Share of replications that hit the target; "
                                           "whisker: 95% interval"
                           ) -> alt.Chart:
    """Horizontal bars. ``targets``: name, probability (0–1) and, when known, its 95%
    interval probability_low / probability_high. Percent labels sit inside long bars and
    after short ones, so none runs past the axis end; a target with no probability (NaN:
    its year starts after the horizon) reads "n/a: beyond the horizon", never 0%."""
    base = alt.Chart(targets).encode(
        y=alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)))
    bars = base.mark_bar(color=PALETTE[0], size=18).encode(
        x=alt.X("probability:Q", title="Probability of hitting the target (%)",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=PCT)),
        tooltip=[alt.Tooltip("name:N", title="Target"),
                 alt.Tooltip("probability:Q", format=PCT, title="Probability")])
    inside = base.transform_filter("datum.probability >= 0.2").mark_text(
        align="right", dx=-4, fontSize=11, color="white").encode(
        x="probability:Q", text=alt.Text("probability:Q", format=PCT))
    outside = base.transform_filter(
        "isValid(datum.probability) && datum.probability < 0.2").mark_text(
        align="left", dx=4, fontSize=11).encode(
        x="probability:Q", text=alt.Text("probability:Q", format=PCT))
    na = base.transform_filter("!isValid(datum.probability)").mark_text(
        align="left", dx=4, fontSize=11, color="#555", text="n/a: beyond the horizon").encode(
        x=alt.datum(0))
    layers = [bars, inside, outside, na]
    if {"probability_low", "probability_high"} <= set(targets.columns):
        layers.append(base.mark_errorbar(ticks=True, color="#222").encode(
            x=alt.X("probability_low:Q", title="Probability of hitting the target (%)"),
            x2="probability_high:Q"))
    return style(alt.layer(*layers).properties(width=WIDTH - 200, height=alt.Step(28),
                                                 title=title_params(title, subtitle)))


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
            x=alt.X("value:Q", axis=money_axis("Mean KPI (USD)"),
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
        .facet(row=alt.Row("kpi:N", title=None, sort=list(dict.fromkeys(table["kpi"])),
                           header=alt.Header(labelAngle=0, labelAlign="left",
                                             labelOrient="top")))
        .resolve_scale(x="independent", y="independent")
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


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
        y=alt.Y("p10:Q", axis=money_axis("USD over the horizon"),
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
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def scenario_kpi_bars(table: pd.DataFrame, title: str = "Profit next to revenue",
                      subtitle: str = "Bar: P50; whisker: P10–P90 across replications; "
                                      "USD over the horizon"
                      ) -> alt.Chart:
    """Horizontal bars with P10–P90 whiskers, one panel per KPI in table order (profit
    first), scenarios top to bottom in table order (base first).
    ``table``: scenario, kpi (label), p10, p50, p90 — USD."""
    scenarios = list(dict.fromkeys(table["scenario"]))
    scale = alt.Scale(domain=scenarios, range=PALETTE * (len(scenarios) // len(PALETTE) + 1))
    base = alt.Chart().encode(y=alt.Y("scenario:N", title=None, sort=scenarios,
                                      axis=alt.Axis(labelLimit=180)))
    bars = base.mark_bar(size=16).encode(
        x=alt.X("p50:Q", axis=money_axis("USD over the horizon")),
        color=alt.Color("scenario:N", scale=scale, legend=None, sort=scenarios),
        tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("p10:Q", format="$,.0f", title="P10"),
                 alt.Tooltip("p50:Q", format="$,.0f", title="P50"),
                 alt.Tooltip("p90:Q", format="$,.0f", title="P90")])
    whiskers = base.mark_errorbar(ticks=True, color="#333").encode(
        x=alt.X("p10:Q", title="USD over the horizon"), x2="p90:Q")
    chart = (
        alt.layer(bars, whiskers, data=table)
        .properties(width=WIDTH // 2 - 40, height=alt.Step(24))
        .facet(column=alt.Column("kpi:N", title=None, sort=list(dict.fromkeys(table["kpi"]))))
        .resolve_scale(x="independent")
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def comparison_bars(deltas: pd.DataFrame, title: str = "Difference from the base scenario",
                    subtitle: str = "Mean paired difference with 95% confidence interval"
                    ) -> alt.Chart:
    """Delta bars with CI error bars, one panel per KPI in table order (the caller sorts by
    the KPI catalogue's decision order: operating profit first). ``deltas``: scenario, kpi
    (label), mean_delta, ci_low, ci_high, prob_better (0–1), direction (better / worse) —
    USD."""
    scenarios = list(dict.fromkeys(deltas["scenario"]))
    base = alt.Chart().encode(
        y=alt.Y("scenario:N", title=None, sort=scenarios, axis=alt.Axis(labelLimit=200)))
    bars = base.mark_bar(size=16).encode(
        x=alt.X("mean_delta:Q", axis=money_axis("Difference vs base (USD)")),
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
        alt.layer(bars, ci, zero, data=deltas)
        .properties(width=WIDTH // 2 - 40, height=alt.Step(22))
        .facet(facet=alt.Facet("kpi:N", title=None, sort=list(dict.fromkeys(deltas["kpi"])),
                               header=alt.Header(labelAnchor="start")),
               columns=2)
        .resolve_scale(x="independent")
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def cohort_retention_chart(table: pd.DataFrame,
                           title: str = "Cohort retention by quarter of acquisition",
                           subtitle: str = "Share of each cohort's customers (logos) and ARR "
                                           "still there; median across replications"
                           ) -> alt.Chart:
    """One line per acquisition cohort (the installed base dark), one panel per measure.
    ``table``: cohort (label), cohort_order, age (quarters since acquisition), measure
    (label), value (0–1+)."""
    cohorts = list(dict.fromkeys(table.sort_values("cohort_order")["cohort"]))
    colours = ["#333333", *_ramp(len(cohorts) - 1)]
    chart = (
        alt.Chart(table)
        .mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.6)
        .encode(
            x=alt.X("age:Q", title="Quarters since acquisition",
                    axis=alt.Axis(tickMinStep=1, format="d"),
                    scale=alt.Scale(domain=[0, int(table["age"].max()) if len(table) else 1],
                                    nice=False)),
            y=alt.Y("value:Q", title="Retained (%)",
                    axis=alt.Axis(format=PCT)),
            color=alt.Color("cohort:N", sort=cohorts, title="Acquired in",
                            scale=alt.Scale(domain=cohorts, range=colours),
                            legend=alt.Legend(columns=6)),
            tooltip=[alt.Tooltip("cohort:N", title="Cohort"),
                     alt.Tooltip("age:Q", title="Quarters since acquisition"),
                     alt.Tooltip("value:Q", format=".1%", title="Retained")])
        .properties(width=WIDTH // 2 - 20, height=HEIGHT - 40)
        .facet(column=alt.Column("measure:N", title=None,
                                 sort=list(dict.fromkeys(table["measure"]))))
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def _ramp(n: int) -> list[str]:
    """``n`` blues from light (first cohort) to dark (latest), for ordered cohorts."""
    light, dark = (158, 202, 225), (8, 48, 107)
    if n <= 0:
        return []
    out = []
    for i in range(n):
        t = i / max(1, n - 1)
        rgb = [round(a + (b - a) * t) for a, b in zip(light, dark, strict=True)]
        out.append("#" + "".join(f"{v:02x}" for v in rgb))
    return out


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
        .properties(title=title_params(title, subtitle))
    )
    return style(chart)


def profit_bridge(summary: pd.DataFrame, width: int = 380, label_limit: int = 280):
    """One plan's price-volume-mix bridge (``sim.analysis.bridge.bridge_summary``): a bar per
    line (mean contribution to the paired operating-profit difference, green up, red down) with
    its 95% interval, in the bridge's order; the total is left to the table."""
    lines = summary[summary["driver"] != "total"].assign(order=range(
        int((summary["driver"] != "total").sum())))
    y = alt.Y("label:N", sort=alt.SortField("order"), title=None,
              axis=alt.Axis(labelLimit=label_limit))
    bars = alt.Chart(lines).mark_bar().encode(
        y=y, x=alt.X("mean:Q", title="Contribution to Δ operating profit (USD, mean)",
                     axis=alt.Axis(format="~s", tickCount=5, labelOverlap="greedy")),
        color=alt.condition("datum.mean >= 0", alt.value("#2e7d32"), alt.value("#c62828")))
    rules = alt.Chart(lines).mark_rule().encode(y=y, x="ci_low:Q", x2="ci_high:Q")
    return (bars + rules).properties(width=width, height=16 * len(lines))


def profit_bridges(summaries: Mapping[str, pd.DataFrame], base: str):
    """:func:`profit_bridge` of every plan, one under the other, each titled against ``base``."""
    return alt.vconcat(*[profit_bridge(summary, width=520, label_limit=440).properties(
                         title=f"{name} against {base}")
                         for name, summary in summaries.items()]).properties(
        padding={"left": 80, "right": 10, "top": 5, "bottom": 5})  # long labels: browser fonts
