"""track.html: the plan's fan with the actual months on it, one chart per metric, the
percentile ranks and the target table. Every text from a file (scenario and target names,
the actuals' path) is escaped (``html_text``); charts are vl-convert SVG (offline)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from sim.kpis import COUNT, FRAC, USD, fmt_unit
from sim.outputs.escape import html_text, svg_html

CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1b1f24;
       max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
p.note { color: #555; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 12.5px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #dde; text-align: right; }
th:first-child, td:first-child { text-align: left; } td.text { text-align: left; }
tr.out td { background: #fdecee; }
.figure svg { max-width: 100%; height: auto; }
"""
BAND_COLOR, LINE_COLOR, IN_COLOR, OUT_COLOR = "#1f5f99", "#1f5f99", "#222222", "#d1495b"


def _svg(chart) -> str:
    import vl_convert as vlc

    return svg_html(vlc.vegalite_to_svg(chart.to_dict()))


def _axis_format(metric: str) -> str:
    from sim.track.common import metric_unit

    unit = metric_unit(metric)
    return "$,.3~s" if unit == USD else ".0%" if unit == FRAC else ",.0f" if unit == COUNT \
        else ",.4~s"


def fan_chart(bands: pd.DataFrame, points: pd.DataFrame, metric: str) -> alt.LayerChart:
    """``bands``: month, p10, p50, p90 of the plan; ``points``: month, actual, side."""
    fmt = _axis_format(metric)
    x = alt.X("month:Q", title="Plan month", axis=alt.Axis(tickMinStep=1, format="d"))
    base = alt.Chart(bands).encode(x=x)
    area = base.mark_area(opacity=0.18, color=BAND_COLOR).encode(
        y=alt.Y("p10:Q", title=metric, axis=alt.Axis(format=fmt),
                scale=alt.Scale(zero=False)), y2="p90:Q")
    line = base.mark_line(strokeWidth=2, color=LINE_COLOR).encode(
        y="p50:Q", tooltip=[alt.Tooltip("month:Q", title="Plan month"),
                            alt.Tooltip("p10:Q", format=fmt, title="P10"),
                            alt.Tooltip("p50:Q", format=fmt, title="P50"),
                            alt.Tooltip("p90:Q", format=fmt, title="P90")])
    dots = alt.Chart(points).mark_point(filled=True, size=55).encode(
        x="month:Q", y="actual:Q",
        color=alt.Color("side:N", title="Actual month",
                        scale=alt.Scale(domain=["inside", "below", "above"],
                                        range=[IN_COLOR, OUT_COLOR, OUT_COLOR])),
        shape=alt.Shape("side:N", scale=alt.Scale(domain=["inside", "below", "above"],
                                                  range=["circle", "triangle-down",
                                                         "triangle-up"]), legend=None),
        tooltip=[alt.Tooltip("month_label:N", title="Month"),
                 alt.Tooltip("actual:Q", format=fmt, title="Actual"),
                 alt.Tooltip("percentile_rank:Q", format=".0%", title="Percentile rank")])
    return alt.layer(area, line, dots).properties(
        width=640, height=220,
        title=alt.TitleParams(metric, subtitle="Band: plan P10–P90; line: plan P50; points: "
                                               "actual months (red: outside P10–P90)"))


def _table(headers: list[str], rows: list[list[str]], text_cols=(), row_classes=None) -> str:
    head = "".join(f"<th>{html_text(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(f'<td{" class=text" if j in text_cols else ""}>{html_text(c)}</td>'
                        for j, c in enumerate(r))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pct(v) -> str:
    return fmt_unit(FRAC, v)


def _prob(p, low, high) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    if low == high:
        return f"{p:.0%}"
    return f"{p:.0%} ({low:.0%}–{high:.0%})"


def track_html(result) -> str:
    from sim.track.common import PROBABILITY_METHOD, RANK_METHOD, fmt_metric

    a, plan = result.actuals, result.plan
    m = a.last_month
    parts = [f"<h1>{html_text(plan.name)}: plan against actuals</h1>",
             f'<p class="note">Actuals: {html_text(a.path)}, {m} month(s) through '
             f"{html_text(a.label(m))}; {html_text(a.matched)}. Plan: {result.replications} "
             f"replications, seed {result.seed}.</p>"]
    if a.ignored:
        parts.append(f'<p class="note">Columns ignored (not engine monthly columns, or empty): '
                     f"{html_text(', '.join(map(str, a.ignored)))}.</p>")
    s = result.summary
    rows = [[r["metric"], str(r["months"]), f"{r['outside']} ({r['below']} below, "
             f"{r['above']} above)", _pct(r["outside_share"]), _pct(r["mean_rank"]),
             str(r["last_month"]), fmt_metric(r["metric"], r["last_actual"]),
             fmt_metric(r["metric"], r["last_p50"]), _pct(r["last_rank"])]
            for _, r in s.iterrows()]
    total = int(s["months"].sum())
    share = s["outside"].sum() / total if total else math.nan
    parts.append("<h2>Summary</h2>")
    parts.append(f'<p class="note">Percentile rank of an actual month among the plan\'s '
                 f"replications of that month: {html_text(RANK_METHOD)}. About 20% of months "
                 f"fall outside P10–P90 when the plan describes the business well; "
                 f"here {_pct(share)} of {total} metric-months.</p>")
    parts.append(_table(["Metric", "Months", "Outside P10–P90", "Share outside",
                         "Mean rank", "Last month", "Actual", "Plan P50", "Rank"], rows, (0,)))
    t = result.targets
    parts.append("<h2>Targets</h2>")
    parts.append(f'<p class="note">{html_text(PROBABILITY_METHOD)} Decided: every month of '
                 f"the target is an actual month.</p>")
    rows = [[r["target"], _prob(r["probability_at_plan"], r["at_plan_low"], r["at_plan_high"]),
             _prob(r["probability_given_actuals"], r["given_actuals_low"],
                   r["given_actuals_high"]), r["status"], r["note"], r["in_reforecast"]]
            for _, r in t.iterrows()]
    parts.append(_table(["Target", "P(hit) at plan (95%)", "P(hit) given actuals (95%)",
                         "Status", "How", "In reforecast.yaml"], rows, (0, 3, 4, 5))
                 if rows else '<p class="note">The plan has no targets.</p>')
    parts.append("<h2>Each metric: the plan's fan and the actual months</h2>")
    bands = result.plan_result.monthly
    from sim.analysis import metrics

    fan = metrics.quantile_bands(bands, a.metrics, by="month")
    table = result.table
    for metric in a.metrics:
        pts = table[table["metric"] == metric]
        chart = fan_chart(fan[fan["measure"] == metric][["month", "p10", "p50", "p90"]],
                          pts[["month", "month_label", "actual", "side", "percentile_rank"]],
                          metric)
        parts.append(f'<div class="figure">{_svg(chart)}</div>')
        rows = [[r["month_label"], fmt_metric(metric, r["actual"]), fmt_metric(metric, r["p10"]),
                 fmt_metric(metric, r["p50"]), fmt_metric(metric, r["p90"]),
                 _pct(r["percentile_rank"]), r["side"]] for _, r in pts.iterrows()]
        parts.append(_table(["Month", "Actual", "P10", "P50", "P90", "Percentile rank",
                             "Against P10–P90"], rows, (0, 6),
                            ["out" if r[6] != "inside" else "" for r in rows]))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html_text(plan.name)}: plan against actuals</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")
