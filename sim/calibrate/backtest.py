"""``revsim backtest``: calibrate on the data before a cut, simulate from the state at the cut,
and score the forecast against what happened.

The calibrated scenario extends the base with the fits of ``sim.calibrate.fit`` (the opening
state included: installed base, its tenure and ARR, receivables), runs ``--holdout-months``
months from the cut (calendar month 1 = the cut's month) and, when the base's plan started
earlier (``--plan-start`` or the base's ``calendar``), with the plan as it stands at the cut:
hiring steps already taken are in the starting headcounts, later ones move earlier by the same
number of months; budgets and partner counts likewise. Per metric of the actuals file
(``new_arr, churned_arr, customers, arr, revenue``), each held-out month gets the P10/P50/P90
across replications, whether the actual is inside the P10–P90 band, and its percentile rank;
per metric the band's coverage (share of months inside) and the P50's mean absolute
percentage error and bias.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.backtest_page import html_page
from sim.calibrate.backtest_page import terminal_lines as terminal_lines
from sim.calibrate.backtest_score import (
    CALIBRATED,
    MAX_HOLDOUT,
    METRICS,
    BacktestResult,
    _first_date,
    errors,
    model_open_pipeline,
    read_actuals,
    score,
)
from sim.calibrate.fit import calibrate
from sim.calibrate.mle import Fit
from sim.calibrate.opening import open_pipeline
from sim.calibrate.run import announce_fit, cap_warnings, check_window, parse_date, read_inputs
from sim.calibrate.timeline import month_index, shifted_plan
from sim.calibrate.uncertainty import drawn_fit
from sim.calibrate.write import scenario_yaml
from sim.errors import InputError
from sim.outputs.escape import inline_text

# ---------------------------------------------------------------- the run


@dataclass
class Prepared:
    """The calibrated scenario at the cut and what it is scored against."""

    scenario: object  # sim.scenario.model.Scenario
    text: str
    fit: Fit
    actuals: pd.DataFrame
    months: list[pd.Timestamp]
    when: pd.Timestamp
    offset: int
    segments: list[str]
    subscriptions_given: bool
    base: object = None  # the base scenario (the fit's overrides are written against it)
    history: object = None  # the engine correction's scenario: state and plan at the data's start


def prepare(base_path: Path, files: dict[str, Path | None], actuals_path: Path, as_of: str,
            holdout_months: int, out: Path, mapping: Path | None = None,
            history_start: str | None = None, plan_start: str | None = None,
            correct: bool = True, correct_seed: int = 0, reps: int | None = None,
            allow_large: bool = False) -> Prepared:
    """Check the inputs, calibrate on the data before the cut and build the scenario that
    runs the held-out months (InputError: bad input; nothing is written). ``correct``:
    the churn inputs get the engine correction of ``sim.calibrate.correct`` (simulated
    histories with seeds from ``correct_seed``). ``reps``: the replications that will run
    (:func:`work`); their work and the correction's are checked by ``sim.experiments.workload`` before
    either starts (``TooMuchWork`` beyond the limits, unless ``allow_large``)."""
    from sim.experiments.workload import require
    from sim.scenario.io import ScenarioError, load_scenario

    base = load_scenario(base_path)
    when = parse_date(as_of, "--as-of")
    if when != when.normalize() or when.day != 1:
        raise InputError(f"--as-of: the backtest cuts at the start of a month (YYYY-MM-01), "
                         f"got {as_of!r}")
    if not 1 <= holdout_months <= MAX_HOLDOUT:
        raise InputError(f"--holdout-months: must be 1 to {MAX_HOLDOUT} (got {holdout_months})")
    since = parse_date(history_start, "--history-start") if history_start else None
    segments = list(base.segments)
    inputs = read_inputs(files, segments, mapping)
    actuals = read_actuals(Path(actuals_path), mapping, segments)
    first = _first_date(inputs)
    if first is None or first >= when:
        raise InputError(f"--as-of {when.date()}: no data before it (the files start "
                         f"{first.date() if first is not None else 'nowhere'})")
    months = [when + pd.DateOffset(months=i) for i in range(holdout_months)]
    have = set(actuals["month"])
    missing = [m for m in months if m not in have]
    if missing:
        last = actuals["month"].max()
        raise InputError(f"{inline_text(actuals_path)}: --holdout-months {holdout_months} from {when:%Y-%m} "
                         f"needs actuals through {months[-1]:%Y-%m}; month {missing[0]:%Y-%m} "
                         f"is missing (the file ends {last:%Y-%m})")
    if plan_start:
        if not re.fullmatch(r"\d{4}-\d{2}(-01)?", plan_start):
            raise InputError(f"--plan-start: expected a month YYYY-MM, got {plan_start!r}")
        start = parse_date(plan_start[:7] + "-01", "--plan-start")
    elif base.calendar is not None:
        start = pd.Timestamp(base.calendar.start_month + "-01")
    else:
        start = when
    offset = month_index(when) - month_index(start)
    if offset < 0:
        raise InputError(f"--plan-start {start:%Y-%m}: after --as-of {when:%Y-%m}")

    check_window(inputs, when, since)
    announce_fit(inputs)
    fit = calibrate(inputs, base, when, since)
    cap_warnings(fit, base)
    extra = shifted_plan(base, offset)
    extra[0][("horizon_months",)] = holdout_months
    extra[1][("horizon_months",)] = "the held-out months"
    fy = base.calendar.fiscal_year_start_month if base.calendar is not None else 1
    extra[0][("calendar",)] = {"start_month": f"{when:%Y-%m}", "fiscal_year_start_month": fy}
    extra[1][("calendar",)] = "month 1 is the month of the cut"
    shown = [f"{k}={p}" for k, p in files.items() if p is not None]

    def build(fit, extra=extra):
        with tempfile.TemporaryDirectory(prefix="revsim-backtest-") as tmp:
            probe = Path(tmp) / CALIBRATED
            probe.write_text(scenario_yaml(fit, base, base_path, probe, shown, extra),
                             encoding="utf-8")
            try:
                return load_scenario(probe)
            except ScenarioError as exc:
                raise InputError("calibrated scenario is not valid: "
                                 + "; ".join(exc.lines)) from None

    scenario = build(fit)
    runs = work(scenario, reps) if reps is not None else []
    require(runs, 1, allow_large)  # the replications, before the correction's histories
    history = None
    if correct and inputs.subscriptions is not None:  # the engine's realised churn = the data's
        from sim.calibrate.correct import (
            correct_churn,
            correction_label,
            correction_work,
            opening_at,
            window_start,
            with_opening,
        )

        subs = inputs.subscriptions
        start_w = window_start(subs, since, when)
        # simulated from the state and plan at the window's start, as the data ran
        then = shifted_plan(base, month_index(start_w) - month_index(start))
        then[0][("calendar",)] = {"start_month": f"{start_w:%Y-%m}",
                                  "fiscal_year_start_month": fy}
        opening = opening_at(inputs, base, start_w)
        history = build(with_opening(fit, opening), then)
        require([*runs, *correction_work(history, start_w, when)], 1, allow_large,
                what=correction_label(start_w, when) if not runs else "")
        fit = correct_churn(fit, base, history, subs, start_w, when, seed=correct_seed)
        scenario = build(fit)
        history = build(with_opening(fit, opening), then)  # with the corrected churn
    text = scenario_yaml(fit, base, base_path, Path(out) / CALIBRATED, shown, extra)
    return Prepared(scenario, text, fit, actuals, months, when, offset, segments,
                    files.get("subscriptions") is not None, base, history)


def work(scenario, reps: int) -> list[tuple]:
    """The simulations :func:`evaluate` runs, for ``sim.experiments.workload``: ``reps`` replications of
    the held-out months and one more for the model's open pipeline (scenario, count)."""
    return [(scenario, reps + 1)]


PARAMETER_STREAM = "backtest_parameters"


def run_replications(prep: Prepared, reps: int, seed: int, overrides: dict | None,
                     parameter_uncertainty: bool, progress: bool = False
                     ) -> tuple[pd.DataFrame, object]:
    """Monthly tables of ``reps`` replications (replication r: streams (seed, r)). With
    parameter uncertainty each replication first draws the fitted parameters
    (:func:`drawn_fit`, stream ``backtest_parameters``), so the band holds both what the
    data could not pin down and the business's own randomness."""
    from sim.calibrate.write import to_scenario_overrides
    from sim.engine.streams import Streams
    from sim.experiments.experiment import Progress
    from sim.experiments.replication import simulate
    from sim.scenario.io import with_overrides

    scenario = prep.scenario
    if overrides:
        scenario = with_overrides(scenario, overrides)
    parts = []
    bar = Progress(reps * scenario.horizon_months, "backtest", progress)
    for r in range(reps):
        sc = scenario
        if parameter_uncertainty:
            rng = Streams(seed, r).numpy(PARAMETER_STREAM)
            values, _ = to_scenario_overrides(drawn_fit(prep.fit, rng), prep.base)
            drawn = {".".join(path): v for path, v in values.items()}
            sc = with_overrides(sc, {**drawn, **(overrides or {})})
        parts.append(simulate(sc, seed=seed, replication=r).monthly.assign(replication=r))
        bar.advance(scenario.horizon_months)
    bar.close()
    return pd.concat(parts, ignore_index=True), scenario


def evaluate(prep: Prepared, reps: int = 20, seed: int = 0, overrides: dict | None = None,
             parameter_uncertainty: bool = True, progress: bool = False) -> BacktestResult:
    """Run the held-out months and score them. ``overrides`` (dotted keys) change the
    calibrated scenario first: the tests break a fit on purpose with it."""
    fit, segments, actuals, when = prep.fit, prep.segments, prep.actuals, prep.when
    monthly, scenario = run_replications(prep, reps, seed, overrides, parameter_uncertainty,
                                         progress)
    metrics = [m for m in METRICS if m in actuals.columns]
    table = score(monthly, actuals, prep.months, metrics)
    per_metric = errors(table)
    scored = table[table["actual"].notna()]
    cut = when - pd.DateOffset(months=1)
    actual_arr = (float(actuals.loc[actuals["month"] == cut, "arr"].iloc[0])
                  if "arr" in actuals.columns and (actuals["month"] == cut).any() else None)
    opening_arr = {seg: fit.estimates[f"{seg}.installed_arr_usd"].value for seg in segments
                   if f"{seg}.installed_arr_usd" in fit.estimates}
    observed = open_pipeline(fit, segments)
    summary = {
        "as_of": f"{when.date()}", "holdout_months": len(prep.months),
        "months": [f"{m:%Y-%m}" for m in prep.months], "replications": reps, "seed": seed,
        "plan_shift_months": prep.offset,
        "parameter_uncertainty": parameter_uncertainty,
        "calibrated_scenario": CALIBRATED,
        "overall_coverage_p10_p90": float(scored["inside"].mean()) if len(scored) else None,
        "cells_scored": len(scored),
        "metrics": per_metric,
        "opening": {
            "arr_from_subscriptions_usd": sum(opening_arr.values()) if opening_arr else None,
            "arr_by_segment_usd": opening_arr,
            "actual_arr_month_before_cut_usd": actual_arr,
            "customers": int(sum(fit.estimates[f"{s}.installed_customers"].value
                                 for s in segments if f"{s}.installed_customers"
                                 in fit.estimates)) if prep.subscriptions_given else None,
            "receivables_usd": (fit.estimates["receivables_usd"].value
                                if "receivables_usd" in fit.estimates else None),
            "open_pipeline_observed": {s: n for s, (n, _usd) in observed.items()},
            "open_pipeline_model": (model_open_pipeline(scenario, seed)
                                    if observed and scenario.opening.pipeline == "steady_state"
                                    else None),
        },
    }
    return BacktestResult(table, _jsonable(summary), prep.text, fit, list(fit.warnings))


def backtest(base_path: Path, files: dict[str, Path | None], actuals_path: Path, as_of: str,
             holdout_months: int, out: Path, reps: int = 20, seed: int = 0,
             mapping: Path | None = None, history_start: str | None = None,
             plan_start: str | None = None,
             parameter_uncertainty: bool = True, correct: bool = True,
             allow_large: bool = False, progress: bool = False) -> BacktestResult:
    """Everything ``revsim backtest`` computes; nothing is written (InputError: bad input,
    or work beyond the limits of ``sim.experiments.workload`` without ``allow_large``;
    ``progress``: the replications' progress on stderr, as ``revsim run`` shows it)."""
    prep = prepare(base_path, files, actuals_path, as_of, holdout_months, out, mapping,
                   history_start, plan_start, correct, seed, reps=reps,
                   allow_large=allow_large)
    return evaluate(prep, reps, seed, parameter_uncertainty=parameter_uncertainty,
                    progress=progress)


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


# ---------------------------------------------------------------- outputs


def write_outputs(res: BacktestResult, folder: Path) -> None:
    """backtest.csv, backtest.json, the calibrated scenario and backtest.html in ``folder``."""
    from sim.outputs.escape import csv_frame

    (folder / CALIBRATED).write_text(res.scenario_text, encoding="utf-8")
    csv_frame(res.table).to_csv(folder / "backtest.csv", index=False, lineterminator="\n")
    (folder / "backtest.json").write_text(json.dumps(res.summary, indent=2, allow_nan=False)
                                          + "\n", encoding="utf-8")
    (folder / "backtest.html").write_text(html_page(res), encoding="utf-8")
