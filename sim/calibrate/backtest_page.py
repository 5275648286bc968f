"""What ``revsim backtest`` shows: ``backtest.html`` (the scores, then each metric's fan with
the held-out months on it, built from the page kit of :mod:`sim.report.page` and the fan of
:mod:`sim.report.fan`) and the short table it prints. ``res`` is a ``BacktestResult`` of
:mod:`sim.calibrate.backtest`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.calibrate.backtest_score import LABELS
from sim.kpis import fmt_value
from sim.outputs.escape import html_text
from sim.report import page
from sim.report.chart_style import USD, style, title_params
from sim.report.fan import fan

WIDTH = 560


def fan_chart(t: pd.DataFrame, metric: str, coverage: float | None):
    """The P10–P90 band, the P50 and the actual months of one metric by calendar month
    (``t``: its rows of ``backtest.csv``)."""
    order = {m: i for i, m in enumerate(dict.fromkeys(t["month"]), start=1)}
    labels = {i: f"{pd.Period(m, 'M'):%b %Y}" for m, i in order.items()}
    df = t.assign(month=t["month"].map(order))
    seen = df[df["actual"].notna()]
    side = np.where(seen["inside"] == 1, "inside",
                    np.where(seen["actual"] < seen["p10"], "below", "above"))
    points = seen.assign(side=side, label=seen["month"].map(labels))
    y_title = LABELS.get(metric, metric)
    cov = "" if coverage is None else f"; {coverage:.0%} of months inside the band"
    chart = fan(df[["month", "p10", "p50", "p90"]], y_title,
                ",.0f" if metric == "customers" else USD, width=WIDTH, month_labels=labels,
                zero=False,
                actual=points[["month", "label", "actual", "side", "percentile_rank"]])
    return style(chart.properties(width=WIDTH, height=220, title=title_params(
        y_title, f"Band: P10–P90; line: P50; points: actual months (red: outside P10–P90)"
                 f"{cov}")))


def html_page(res) -> str:
    """A static page: the scores, then each metric's fan with the actuals (inline SVG)."""
    s = res.summary
    rows = [[LABELS.get(m, m), e["months"], _pct(e["coverage_p10_p90"]), _pct(e["p50_mape"]),
             _pct(e["p50_bias"], signed=True)] for m, e in s["metrics"].items()]
    charts = [page.figure(fan_chart(t, m, s["metrics"][m]["coverage_p10_p90"]))
              for m, t in res.table.groupby("metric", sort=False)]
    op = s["opening"]
    opening = []
    if op["arr_from_subscriptions_usd"] is not None:
        opening.append(f"Opening ARR from the subscriptions: "
                       f"{fmt_value('arr', op['arr_from_subscriptions_usd'])}")
    if op["actual_arr_month_before_cut_usd"] is not None:
        opening.append("Actual ARR at the end of the month before the cut: "
                       f"{fmt_value('arr', op['actual_arr_month_before_cut_usd'])}")
    if op["open_pipeline_observed"]:
        model = op["open_pipeline_model"] or {}
        opening += [f"Open opportunities at the cut, {seg}: {n} observed, "
                    f"{model.get(seg, '—')} in the model's warm-up"
                    for seg, n in op["open_pipeline_observed"].items()]
    cov = s["overall_coverage_p10_p90"]
    head = (f"Backtest from {s['as_of']}: {s['holdout_months']} held-out months, "
            f"{s['replications']} replications, seed {s['seed']}")
    return page.document(head, "".join([
        f"<h1>{html_text(head)}</h1>",
        f"<p>Calibrated on the data before the cut "
        f"(<code>{html_text(s['calibrated_scenario'])}</code>), simulated from the state at "
        f"the cut and compared with the actuals. Overall P10–P90 coverage: "
        f"<b>{html_text(_pct(cov))}</b> of {html_text(s['cells_scored'])} month × metric "
        "cells (a calibrated forecast covers about 80%).</p>",
        page.table(["Metric", "Months", "P10–P90 coverage", "P50 mean abs. error", "P50 bias"],
                   rows),
        "<ul>" + "".join(f"<li>{html_text(x)}</li>" for x in opening) + "</ul>",
        *charts]))


def _pct(x, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def terminal_lines(res) -> list[str]:
    """The short plain table printed by ``revsim backtest``."""
    s = res.summary
    lines = [f"backtest from {s['as_of']}: {s['holdout_months']} months held out, "
             f"{s['replications']} replications, seed {s['seed']}",
             f"{'metric':<14}{'months':>7}{'P10-P90 cover':>15}{'P50 MAPE':>10}{'P50 bias':>10}"]
    for m, e in s["metrics"].items():
        lines.append(f"{m:<14}{e['months']:>7}{_pct(e['coverage_p10_p90']):>15}"
                     f"{_pct(e['p50_mape']):>10}{_pct(e['p50_bias'], True):>10}")
    lines.append(f"{'overall':<14}{s['cells_scored']:>7}{_pct(s['overall_coverage_p10_p90']):>15}")
    op = s["opening"]
    if op["arr_from_subscriptions_usd"] is not None:
        act = op["actual_arr_month_before_cut_usd"]
        lines.append(f"opening ARR {fmt_value('arr', op['arr_from_subscriptions_usd'])} from "
                     "the subscriptions" + ("" if act is None else
                                            f"; actual ARR at the cut {fmt_value('arr', act)}"))
    if op["open_pipeline_observed"]:
        model = op["open_pipeline_model"] or {}
        lines.append("open pipeline at the cut (observed / model): " + ", ".join(
            f"{seg} {n} / {model.get(seg, '-')}" for seg, n in op["open_pipeline_observed"].items()))
    return lines
