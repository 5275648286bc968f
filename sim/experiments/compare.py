"""Fair comparisons: several scenarios on the same (seed, replication) streams, their paired
differences against the first, and the one adaptive loop that adds replications until the
decision metric's differences are as precise as asked."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import constraints, metrics
from sim.analysis import stats as mc
from sim.errors import output_errors
from sim.experiments.results import ExperimentResult, assemble
from sim.experiments.runner import run_all
from sim.experiments.settings import RunSettings, settings_of
from sim.experiments.writers import STATISTICS, json_default, records, write_run_facts
from sim.kpis import COMPARE_KPIS, DECISION_KPI, DERIVED_KPIS
from sim.kpis import label as kpi_label
from sim.outputs.atomic import atomic_dir
from sim.outputs.escape import csv_frame
from sim.scenario.model import Scenario


def t975(df: int) -> float:
    """Two-sided 95% Student-t quantile (exact, from scipy; NaN when df <= 0)."""
    return mc.t_quantile(df, 0.95)


def mean_ci(values) -> dict[str, float]:
    """Mean with a 95% t interval (NaN where undefined), ignoring missing values."""
    ci = mc.mean_ci(values)
    return {k: ci[k] for k in ("mean", "ci_low", "ci_high", "sd")}


def paired_delta(base: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Mean per-replication difference with a 95% t interval, and P(other > base) with its
    95% binomial (Wilson) interval."""
    d = np.asarray(other, float) - np.asarray(base, float)
    d = d[~np.isnan(d)]
    ci = mean_ci(d)
    p = mc.proportion_ci(int((d > 0).sum()), len(d))
    return {"mean_delta": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
            "prob_better": p["p"], "sd_delta": ci["sd"],
            "prob_better_low": p["ci_low"], "prob_better_high": p["ci_high"]}


@dataclass
class CompareResult:
    """Several scenarios on the same seeds and replications, against the first."""

    base: ExperimentResult
    others: list[ExperimentResult]
    deltas: pd.DataFrame
    flips: list | None = None
    """Where each decision would flip along each assumption
    (:func:`sim.experiments.uncertainty.flip_thresholds`), when searched."""

    @property
    def results(self) -> list[ExperimentResult]:
        return [self.base, *self.others]

    def annual_pnl_differences(self) -> pd.DataFrame:
        """Mean annual P&L of each scenario minus the base (long: scenario, year, measure)."""
        base = self.base.annual_pnl()
        rows = []
        for o in self.others:
            diff = (o.annual_pnl() - base).assign(scenario=o.name)
            rows.append(diff.reset_index().rename(columns={"period": "year"}))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def investments(self) -> dict:
        """Each plan against the base as an investment: name →
        :class:`sim.analysis.investment.InvestmentView` (payback, NPV and IRR of Δ)."""
        from sim.analysis.investment import investments

        return investments(self)

    def investment_table(self) -> pd.DataFrame:
        """One row per plan: payback P10/P50/P90, P(paid back), NPV and IRR of the Δ cash
        flows, incremental CAC and magic number (see :mod:`sim.analysis.investment`)."""
        from sim.analysis.investment import investment_table

        return investment_table(self.investments())

    def kpi_table(self) -> pd.DataFrame:
        """P50 of each KPI by scenario (columns: scenarios)."""
        parts = []
        for r in self.results:
            parts.append(r.kpi_summary.set_index("kpi")["p50"].rename(r.name))
        return pd.concat(parts, axis=1)

    def write(self, out_dir: str | Path) -> Path:
        """deltas.csv, kpis_p50.csv, verdict.csv, profit_bridge.csv (driver means and 95%
        intervals per plan), investment.csv (one row per plan) and investment_by_month.csv
        (cumulative Δ operating profit and cash, bands per month), summary.json (with the
        verdict's sentences and the investment rows) and run.json."""
        from sim.analysis.bridge import bridges
        from sim.analysis.verdict import verdict

        frame, sentences = verdict(self)
        bridge = pd.concat([b[1].assign(scenario=name) for name, b in bridges(self).items()],
                           ignore_index=True) if self.others else pd.DataFrame()
        views = self.investments()
        invest = pd.DataFrame([v.summary() for v in views.values()])
        by_month = pd.concat([v.monthly.assign(scenario=name) for name, v in views.items()],
                             ignore_index=True) if views else pd.DataFrame()
        with output_errors(out_dir), atomic_dir(out_dir) as tmp:
            # scenario names are text a spreadsheet must not evaluate (OWASP CSV injection)
            csv_frame(self.deltas).to_csv(tmp / "deltas.csv", index=False)
            csv_frame(self.kpi_table()).to_csv(tmp / "kpis_p50.csv")
            csv_frame(frame).to_csv(tmp / "verdict.csv", index=False)
            csv_frame(bridge).to_csv(tmp / "profit_bridge.csv", index=False)
            csv_frame(invest).to_csv(tmp / "investment.csv", index=False)
            csv_frame(by_month).to_csv(tmp / "investment_by_month.csv", index=False)
            summary = {"base": self.base.name, "seed": self.base.seed,
                       "replications": self.base.replications,
                       "scenarios": {r.name: r.hash for r in self.results},
                       "statistics": STATISTICS, "decision_kpi": DECISION_KPI,
                       "verdict": sentences,
                       "binding_constraint": {r.name: constraints.summary_entry(
                           r.constraints()) for r in self.results},
                       "deltas": records(self.deltas),
                       "investment": records(invest)}
            if not self.base.parameters.empty or self.flips:  # only with drawn assumptions
                from sim.experiments.uncertainty import compare_uncertainty

                summary["uncertainty"] = compare_uncertainty(self)
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=json_default))
            write_run_facts(tmp / "run.json", self.base.stats)
        return Path(out_dir)


def compare_of(results: Sequence[ExperimentResult]) -> CompareResult:
    """A comparison of results already run on the same seed (replication r of each is stream
    (seed, r), so they pair), the first as the base."""
    base, *others = results
    if any(o.seed != base.seed or o.replications != base.replications for o in others):
        raise ValueError("results to compare need the same seed and replications")
    return CompareResult(base=base, others=others, deltas=paired_deltas(base, others))


def decision_values(result: ExperimentResult) -> pd.DataFrame:
    """Each replication's KPIs (``result.kpis``) with the derived decision KPIs
    (:data:`sim.kpis.DERIVED_KPIS`: the last full year's logo churn, from the replication's
    monthly, cohort and opening tables, as ``saas_metrics`` computes it)."""
    kp = result.kpis
    if all(k in kp.columns for k in DERIVED_KPIS):
        return kp
    init = result.initial.set_index("replication") if "replication" in result.initial else None
    monthly = dict(tuple(result.monthly.groupby("replication")))
    cohorts = dict(tuple(result.cohorts.groupby("replication"))) \
        if "replication" in result.cohorts else {}
    churn = []
    for r in kp["replication"]:
        m = monthly[r].drop(columns="replication")
        c = cohorts[r].drop(columns="replication") if r in cohorts else result.cohorts.iloc[:0]
        yearly = metrics.saas_metrics(m, c, None if init is None else init.loc[r].to_dict())
        churn.append(float(yearly.loc[metrics.last_full_year(yearly), "logo_churn_frac"]))
    return kp.assign(logo_churn_last_year=churn)


def paired_deltas(base: ExperimentResult, others: Iterable[ExperimentResult],
                  kpis: Sequence[str] = COMPARE_KPIS) -> pd.DataFrame:
    """Per-replication differences of each KPI against ``base``: mean, 95% CI, P(better)
    (the derived decision KPIs too, :func:`decision_values`)."""
    others = list(others)
    if not others:
        return pd.DataFrame()
    rows = []
    derive = any(k in DERIVED_KPIS for k in kpis)
    b = (decision_values(base) if derive else base.kpis).set_index("replication")
    for o in others:
        ok = (decision_values(o) if derive else o.kpis).set_index("replication").reindex(b.index)
        for kpi in kpis:
            stats = paired_delta(b[kpi].to_numpy(float), ok[kpi].to_numpy(float))
            rows.append({"scenario": o.name, "kpi": kpi, "label": kpi_label(kpi),
                         "base_mean": float(b[kpi].mean()), "other_mean": float(ok[kpi].mean()),
                         **stats})
    return pd.DataFrame(rows)


def compare(
    base: Scenario,
    others: Sequence[Scenario],
    replications: int = 20,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    *,
    settings: RunSettings | None = None,
) -> CompareResult:
    """Run every scenario on the same (seed, replication) streams; deltas against ``base``.
    ``settings``, when given, replaces the six run keywords."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, progress)
    scenarios = [base, *others]
    t0 = time.perf_counter()
    res, used = run_all(scenarios, s, "compare")
    stats = {"executor": used, "wall_seconds": time.perf_counter() - t0}
    results = [assemble(sc, s.seed, s.replications, res[i], stats)
               for i, sc in enumerate(scenarios)]
    return CompareResult(base=results[0], others=results[1:],
                         deltas=paired_deltas(results[0], results[1:]))


PRECISION_FLOOR_OF_REVENUE = 0.005
"""A relative precision target never asks for less than this share of the base's mean total
revenue over the horizon: a base whose NPV is near zero would otherwise ask for an interval
near zero wide, which no number of replications reaches."""


@dataclass
class Precision:
    """How precise a comparison came out: the widest half-width of the decision metric's 95%
    interval on a paired difference, against the target."""

    kpi: str
    target_half_width: float
    half_width: float
    replications: int
    reached: bool
    target_frac: float | None = None
    """The target as a share of the base's mean ``kpi`` when it was asked for that way."""
    max_replications: int | None = None
    """The cap the run stopped at (or would have)."""
    floor: bool = False
    """Whether the relative target came from the revenue floor
    (:data:`PRECISION_FLOOR_OF_REVENUE`) because the base's mean was near zero."""

    def message(self) -> str:
        state = "reached" if self.reached else "NOT reached"
        share = (f" = {self.target_frac:.0%} of the base's mean" if self.target_frac is not None
                 else "")
        if self.floor:
            share = (f" = {PRECISION_FLOOR_OF_REVENUE:.1%} of the base's mean revenue, the "
                     f"floor, as {self.target_frac:.0%} of the base's mean is smaller")
        cap = (f" (the cap, --max-reps {self.max_replications})"
               if not self.reached and self.max_replications == self.replications else "")
        return (f"precision {state}: 95% interval half-width of the {kpi_label(self.kpi)}"
                f" difference {self.half_width:,.0f} (target {self.target_half_width:,.0f}"
                f"{share}) after {self.replications} replications{cap}")


def _widest_half_width(results: list[list[dict]], kpi: str) -> float:
    """Largest half-width of the paired difference's interval of ``kpi``, plan by plan."""
    base = np.array([d["kpis"][kpi] for d in results[0]], float)
    widths = [mc.mean_ci(np.array([d["kpis"][kpi] for d in other], float) - base)["half_width"]
              for other in results[1:]]
    widths = [w for w in widths if not math.isnan(w)]
    return max(widths) if widths else math.nan


def compare_to_precision(
    base: Scenario,
    others: Sequence[Scenario],
    half_width: float,
    kpi: str = DECISION_KPI,
    initial: int = 10,
    max_replications: int = 200,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    relative: bool = False,
    on_round: Callable[[int, float, float], None] | None = None,
    *,
    settings: RunSettings | None = None,
) -> tuple[CompareResult, Precision]:
    """``compare`` with an adaptive number of replications: start with ``initial``, estimate
    from the paired differences' spread how many make every plan's 95% interval of ``kpi``
    no wider than ±``half_width``, run the missing ones (replication r is always stream
    (seed, r), so the result equals ``compare`` at the final count), stop at
    ``max_replications`` with ``Precision.reached`` False. With ``relative``, ``half_width``
    is a share of the base's mean ``kpi`` (its absolute value, re-estimated from the
    replications run so far), so the target scales with the business, and never less than
    :data:`PRECISION_FLOOR_OF_REVENUE` of the base's mean revenue (a base whose NPV is near
    zero would otherwise never be precise enough). The count depends
    only on the scenarios, the seed and the targets: the same on every executor.
    ``on_round(replications, widest half-width, target)`` follows each finished round.
    ``settings``, when given, replaces the run keywords (its ``replications`` is ``initial``)."""
    s = settings_of(settings, initial, seed, executor, scheduler, workers, progress)
    if not others:
        raise ValueError("precision needs at least one plan to compare with the base")
    if not half_width > 0:
        raise ValueError("the precision target must be a positive half-width")
    share = half_width if relative else None
    scenarios = [base, *others]
    t0 = time.perf_counter()
    n, done = min(max(2, s.replications), max_replications), 0
    parts: dict[int, list[dict]] = {i: [] for i in range(len(scenarios))}
    used = s.executor
    floor = False
    while True:
        res, used = run_all(scenarios, s.but(replications=n), "compare", first=done)
        for i in parts:
            parts[i].extend(res[i])
        done = n
        if share is not None:
            base_mean = abs(float(np.nanmean([d["kpis"][kpi] for d in parts[0]])))
            half_width = share * base_mean if math.isfinite(base_mean) else math.nan
            revenue = abs(float(np.nanmean([d["kpis"]["revenue_total"] for d in parts[0]])))
            least = PRECISION_FLOOR_OF_REVENUE * revenue
            floor = bool(math.isfinite(least) and not half_width >= least)
            half_width = least if floor else half_width
        widest = _widest_half_width([parts[i] for i in sorted(parts)], kpi)
        if on_round is not None:
            on_round(n, widest, half_width)
        if not widest > half_width or n >= max_replications:
            break
        sd = max(np.std(np.array([d["kpis"][kpi] for d in parts[i]], float)
                        - np.array([d["kpis"][kpi] for d in parts[0]], float), ddof=1)
                 for i in parts if i)
        n = min(max_replications, max(n + 1, mc.replications_for(half_width, sd))) \
            if half_width > 0 else max_replications
    stats = {"executor": used, "wall_seconds": time.perf_counter() - t0}
    results = [assemble(sc, s.seed, n, parts[i], stats) for i, sc in enumerate(scenarios)]
    result = CompareResult(base=results[0], others=results[1:],
                           deltas=paired_deltas(results[0], results[1:]))
    return result, Precision(kpi, float(half_width), float(widest), n,
                             bool(widest <= half_width), share, max_replications, floor)


def compare_adaptive(
    base: Scenario,
    others: Sequence[Scenario],
    settings: RunSettings,
    precision: float | None = None,
    max_replications: int = 200,
    relative: bool = False,
    on_round: Callable[[int, float, float], None] | None = None,
) -> tuple[CompareResult, Precision | None]:
    """The one choice between a fixed and an adaptive comparison (``revsim compare`` and
    ``revsim report`` both make it here): with a ``precision`` and at least one plan, replications
    are added from ``settings.replications`` up to ``max_replications`` until every plan's 95%
    interval of the decision metric's difference is within ±``precision`` (a share of the
    base's mean with ``relative``), see :func:`compare_to_precision`; otherwise exactly
    ``settings.replications`` run and the precision is None."""
    if precision is None or not others:
        return compare(base, others, settings=settings), None
    return compare_to_precision(base, others, precision, max_replications=max_replications,
                                relative=relative, on_round=on_round, settings=settings)
