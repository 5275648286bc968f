"""track.html: the plan's fan with the actual months on it, one chart per metric, the
percentile ranks and the target table. Every text from a file (scenario and target names,
the actuals' path) is escaped (``html_text``); charts are vl-convert SVG (offline)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from sim.kpis import COUNT, FRAC, USD, fmt_unit
from sim.outputs.escape import html_text
from sim.report.chart_style import WIDTH, style, title_params
from sim.report.fan import fan
from sim.report.page import document, figure, table

TRACK_SUBTITLE = ("Band: plan P10–P90; line: plan P50; points: actual months (red: outside "
                  "P10–P90)")


def _axis_format(metric: str) -> str:
    from sim.track.common import metric_unit

    unit = metric_unit(metric)
    return "$,.3~s" if unit == USD else ".0%" if unit == FRAC else ",.0f" if unit == COUNT \
        else ",.4~s"


def fan_chart(bands: pd.DataFrame, points: pd.DataFrame, metric: str,
              month_labels: dict[int, str] | None = None) -> alt.LayerChart:
    """``bands``: month, p10, p50, p90 of the plan; ``points``: month, label, actual, side,
    percentile_rank of the actual months (the report's fan, :func:`sim.report.fan.fan`)."""
    chart = fan(bands, metric, _axis_format(metric), zero=False, month_labels=month_labels,
                actual=points)
    return style(chart.properties(width=WIDTH, height=220,
                                  title=title_params(metric, TRACK_SUBTITLE)))


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
    parts.append(table(["Metric", "Months", "Outside P10–P90", "Share outside",
                        "Mean rank", "Last month", "Actual", "Plan P50", "Rank"], rows,
                       text_cols=(0,)))
    t = result.targets
    parts.append("<h2>Targets</h2>")
    parts.append(f'<p class="note">{html_text(PROBABILITY_METHOD)} Decided: every month of '
                 f"the target is an actual month.</p>")
    rows = [[r["target"], _prob(r["probability_at_plan"], r["at_plan_low"], r["at_plan_high"]),
             _prob(r["probability_given_actuals"], r["given_actuals_low"],
                   r["given_actuals_high"]), r["status"], r["note"], r["in_reforecast"]]
            for _, r in t.iterrows()]
    parts.append(table(["Target", "P(hit) at plan (95%)", "P(hit) given actuals (95%)",
                        "Status", "How", "In reforecast.yaml"], rows,
                       text_cols=(0, 3, 4, 5))
                 if rows else '<p class="note">The plan has no targets.</p>')
    parts.append("<h2>Each metric: the plan's fan and the actual months</h2>")
    from sim.analysis import metrics

    bands = metrics.quantile_bands(result.plan_result.monthly, a.metrics, by="month")
    labels = {int(m): a.label(int(m)) for m in bands["month"].unique()}
    track = result.table
    for metric in a.metrics:
        pts = track[track["metric"] == metric]
        chart = fan_chart(bands[bands["measure"] == metric][["month", "p10", "p50", "p90"]],
                          pts[["month", "month_label", "actual", "side", "percentile_rank"]]
                          .rename(columns={"month_label": "label"}), metric, labels)
        parts.append(figure(chart))
        rows = [[r["month_label"], fmt_metric(metric, r["actual"]), fmt_metric(metric, r["p10"]),
                 fmt_metric(metric, r["p50"]), fmt_metric(metric, r["p90"]),
                 _pct(r["percentile_rank"]), r["side"]] for _, r in pts.iterrows()]
        parts.append(table(["Month", "Actual", "P10", "P50", "P90", "Percentile rank",
                           "Against P10–P90"], rows, text_cols=(0, 6),
                           row_classes={i: "out" for i, r in enumerate(rows) if r[6] != "inside"}))
    return document(f"{plan.name}: plan against actuals", "".join(parts))
