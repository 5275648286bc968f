"""The verdict of a comparison: what binds in each plan (``sim.analysis.constraints``) first,
then plans ranked by the decision metric, each with its paired difference to the base and
95% interval, P(beats base) with its binomial interval, cash trough (mean, P10–P90) and
P(cash below the floor), every setting that differs (``sim.scenario.describe``, the source
the assumptions sheet uses too), and plain sentences whose verb follows the sign of the mean.

One statistic for decisions: means (of each plan, of paired differences) with 95% intervals,
and P10–P90 beside a mean where the spread of outcomes matters (:data:`STATISTICS_NOTE`).

The numbers are ``CompareResult.deltas`` (what ``revsim compare`` prints and writes), so the
verdict and the command never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import constraints
from sim.analysis import stats as mc
from sim.analysis.constraints import cash_floor
from sim.kpis import DECISION_KPI, fmt_usd
from sim.kpis import label as kpi_label
from sim.scenario import describe

PROSE = {"npv_operating_profit": "NPV of operating profit",
         "operating_profit_total": "operating profit", "revenue_total": "revenue",
         "ending_arr": "ending ARR", "cash_trough": "cash trough"}
"""How a KPI reads inside a sentence."""
SENTENCE_KPI = "operating_profit_total"
"""The sentences speak of operating profit over the horizon (paired runs)."""
VALUE_KPI = "value_created_usd"
"""...and of the value created, which sees past the horizon (``sim.analysis.value``)."""
_TAG_FIELDS = ("mean_delta", "ci_low", "ci_high", "prob_better", "prob_better_low",
               "prob_better_high")


STATISTICS_NOTE = ("Statistics: every plan figure is a mean over the paired runs, with P10–P90 "
                   "(the 10th and 90th percentiles of the runs) beside it where the spread is "
                   "shown; a difference is the "
                   "mean of the paired differences with its 95% Student-t interval; a share of "
                   "runs has its 95% Wilson interval.")
"""The one definition of the statistics a decision page shows (verdict, compare, board pack)."""


def scenario_diff(base, plan) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, plan value) for every setting that differs, name and
    description aside (:func:`sim.scenario.describe.differing`)."""
    return describe.differing(base, plan)


def verdict(compare_result, decision_kpi: str = DECISION_KPI,
            floor: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One row per plan (the base included), best first by the mean of ``decision_kpi``:
    its mean, the paired difference to the base with 95% t interval, P(beats base) with 95%
    Wilson interval, the operating-profit difference likewise, cash trough (mean, P10, P90),
    P(cash trough < floor) with its interval and the levers that differ; and the sentences."""
    base = compare_result.base
    floor = cash_floor(base.scenario) if floor is None else float(floor)
    deltas = compare_result.deltas
    if not deltas.empty:  # a base alone has no differences (a report of one scenario)
        deltas = deltas.set_index(["scenario", "kpi"])
    n = base.replications
    findings = {r.name: constraints.of_result(r, floor) for r in compare_result.results}
    rows = []
    for r in compare_result.results:
        is_base = r is base
        kp = r.kpis
        trough = kp["cash_trough"].to_numpy(float)
        breach = mc.probability(trough < floor)
        q = mc.quantiles(trough)
        row = {"scenario": r.name, "is_base": is_base,
               "decision_mean": float(np.nanmean(kp[decision_kpi].to_numpy(float))),
               "cash_trough_mean": float(np.nanmean(trough)), "cash_trough_p10": q["p10"],
               "cash_trough_p90": q["p90"],
               "prob_breach": breach["p"], "prob_breach_low": breach["ci_low"],
               "prob_breach_high": breach["ci_high"]}
        for kpi, tag in ((decision_kpi, "decision"), (SENTENCE_KPI, "profit"),
                         (VALUE_KPI, "value")):
            if is_base or (r.name, kpi) not in deltas.index:
                d = dict.fromkeys(_TAG_FIELDS, math.nan)
            else:
                d = deltas.loc[(r.name, kpi)]
            row.update({f"{tag}_delta": d["mean_delta"], f"{tag}_ci_low": d["ci_low"],
                        f"{tag}_ci_high": d["ci_high"], f"{tag}_prob_better": d["prob_better"],
                        f"{tag}_prob_low": d["prob_better_low"],
                        f"{tag}_prob_high": d["prob_better_high"]})
        diff = [] if is_base else scenario_diff(base.scenario, r.scenario)
        row["binding_constraint"] = constraints.statement(findings[r.name], limit=1)
        row["levers"] = "base plan" if is_base else describe.changes_text(base.scenario,
                                                                          r.scenario)
        row["levers_changed"] = len(diff)
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("decision_mean", ascending=False, kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame = frame.reset_index(drop=True)
    return frame, (binding_sentences(findings, base.name)
                   + sentences(frame, base.name, n, decision_kpi, floor))


def binding_sentences(findings: Mapping[str, list], base_name: str) -> list[str]:
    """What binds, first: in the base, then in each plan (and where its limit moved)."""
    out = [f"{base_name}: {constraints.statement(findings[base_name])}"]
    for name, f in findings.items():
        if name != base_name:
            out.append(constraints.compare_statement(findings[base_name], f, name, base_name))
    return out


def _pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.0%}"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + fmt_usd(x)


def _value_clause(r) -> str:
    """"; value created …": the horizon's NPV plus the ending base's customer equity."""
    if "value_delta" not in r or math.isnan(r["value_delta"]):
        return ""
    return (f"; value created (NPV of profit plus the ending customers' equity) "
            f"{_signed(r['value_delta'])} (95% interval {fmt_usd(r['value_ci_low'])} to "
            f"{fmt_usd(r['value_ci_high'])})")


def _standing(delta: float) -> str:
    """The verb of a plan against the base, from the sign of the mean paired difference."""
    if math.isnan(delta):
        return "cannot be compared with"
    return "is ahead of" if delta > 0 else "trails" if delta < 0 else "ties with"


def sentences(frame: pd.DataFrame, base_name: str, n: int, decision_kpi: str,
              floor: float) -> list[str]:
    """Plain sentences a CFO reads: the winner, then each plan against the base. The verb
    ("is ahead of", "trails") follows the sign of the mean paired difference in operating
    profit, and the share of runs in which the plan came out ahead is said apart from it, so
    the two never contradict each other."""
    label = PROSE.get(decision_kpi, kpi_label(decision_kpi))
    top = frame.iloc[0]
    out = [f"Ranked by the mean {label} over {n} paired runs: "
           f"{top['scenario']} comes first ({fmt_usd(top['decision_mean'])})."]
    for _, r in frame.iterrows():
        if r["is_base"]:
            continue
        unsure = r["profit_ci_low"] <= 0 <= r["profit_ci_high"]
        out.append(
            f"{r['scenario']} {_standing(r['profit_delta'])} {base_name} on operating profit "
            f"by {fmt_usd(abs(r['profit_delta']))} on average over {n} paired runs (95% "
            f"interval "
            f"{fmt_usd(r['profit_ci_low'])} to {fmt_usd(r['profit_ci_high'])}) and comes out "
            f"ahead in {_pct(r['profit_prob_better'])} of them (95% interval "
            f"{_pct(r['profit_prob_low'])}–{_pct(r['profit_prob_high'])})"
            + ("; the interval includes zero, so more runs are needed to be sure" if unsure
               else "")
            + f"; mean {label} "
            f"{_signed(r['decision_delta'])} (95% interval {fmt_usd(r['decision_ci_low'])} to "
            f"{fmt_usd(r['decision_ci_high'])})" + _value_clause(r) + ". Cash trough mean "
            f"{fmt_usd(r['cash_trough_mean'])} (P10–P90 {fmt_usd(r['cash_trough_p10'])} to "
            f"{fmt_usd(r['cash_trough_p90'])}); P(cash below {fmt_usd(floor)}) "
            f"{_pct(r['prob_breach'])} (95% interval {_pct(r['prob_breach_low'])}–"
            f"{_pct(r['prob_breach_high'])}). Changes: {r['levers']}.")
    return out
