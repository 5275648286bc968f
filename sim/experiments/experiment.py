"""Experiments: replications with seeds, fair comparisons, sweeps, the pricing sweep,
sensitivity and the account-plan return.

Every replication ``r`` of an experiment with seed ``s`` runs ``simulate(scenario, s, r)``, so
two scenarios share their random streams replication by replication (common random numbers)
and the same seed gives identical tables on the serial, process and Dask executors. Work is
cut into chunks whose results are summarised in the worker: event logs never travel back;
where chunks run (serial, process pool, Dask) is :mod:`sim.experiments.executors`' business.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import metrics
from sim.analysis import stats as mc
from sim.analysis.value import value_kpis
from sim.errors import output_errors
from sim.experiments import executors
from sim.experiments.replication import simulate
from sim.kpis import COMPARE_KPIS, DECISION_KPI
from sim.kpis import label as kpi_label
from sim.outputs.atomic import atomic_dir
from sim.outputs.escape import csv_frame
from sim.scenario.io import scenario_hash, scenario_to_dict, scenario_to_yaml, with_overrides
from sim.scenario.model import Scenario

"""The decision metric of comparisons and the verdict: mean NPV of operating profit."""


STATISTICS = {
    "p10": "10th percentile across replications (P10)",
    "p50": "median across replications (P50)",
    "p90": "90th percentile across replications (P90)",
    "mean": "mean across replications",
    "mean_ci_low": "95% Student-t interval of the mean, lower end",
    "mean_ci_high": "95% Student-t interval of the mean, upper end",
    "n": "replications in which the KPI has a value (a month never reached has none)",
    "probability": "share of replications (Monte Carlo estimate)",
    "probability_low": "95% Wilson interval of the probability, lower end",
    "probability_high": "95% Wilson interval of the probability, upper end",
    "mean_delta": "mean of the paired per-replication differences (plan - base)",
    "ci_low": "95% Student-t interval of the mean difference, lower end",
    "ci_high": "95% Student-t interval of the mean difference, upper end",
    "prob_better": "share of paired replications where the plan is higher than the base",
    "prob_better_low": "95% Wilson interval of prob_better, lower end",
    "prob_better_high": "95% Wilson interval of prob_better, upper end",
}
"""What each statistic in summary.json means: every number says which statistic it is."""
BAND_MEASURES = ("revenue", "operating_profit", "arr", "cash_balance", "customers", "gross_profit",
                 "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "billings",
                 "cash_collected", "total_cost", "ae_utilization", "onboarding_utilization")


# ---------------------------------------------------------------- worker


def _month_hook(on_months: Callable[[int], None]) -> Callable[[int, int], None]:
    """``simulate``'s progress hook → ``on_months(months newly simulated)``."""
    last = [0]

    def hook(done: int, total: int) -> None:
        if done > last[0]:
            on_months(done - last[0])
            last[0] = done

    return hook


def _replicate(scenario: Scenario, seed: int, reps: Sequence[int]) -> list[dict]:
    """Run replications in a worker and keep only their tables and KPIs (no event logs);
    simulated months go to :func:`sim.experiments.executors.month_sink` for the progress display."""
    targets = [t.model_dump() for t in scenario.targets]
    rate = scenario.finance.discount_rate_per_year_frac
    on_months = executors.month_sink()
    out = []
    for r in reps:
        res = simulate(scenario, seed=seed, replication=r,
                       progress=_month_hook(on_months) if on_months else None)
        yearly = metrics.saas_metrics(res.monthly, res.cohorts, res.initial)
        kpis = metrics.headline_kpis(res.monthly, res.cohorts, res.initial, rate, yearly=yearly)
        kpis.update(metrics.cfo_kpis(res.monthly, yearly))
        kpis.update(value_kpis(res.ending_base, scenario, kpis["npv_operating_profit"]))
        kpis["replication"] = r
        att = metrics.target_attainment(res.monthly, res.cohorts, res.initial, targets,
                                        yearly=yearly) if targets else pd.DataFrame()
        out.append({
            "replication": r,
            "monthly": res.monthly.assign(replication=r),
            "by_segment": res.by_segment.assign(replication=r),
            "by_channel": res.by_channel.assign(replication=r),
            "by_team": res.by_team.assign(replication=r),
            "cohorts": res.cohorts.assign(replication=r),
            "initial": res.initial,
            "kpis": kpis,
            "attainment": att.assign(replication=r) if len(att) else att,
            "simpy_events": res.stats["simpy_events"],
        })
    return out


def _chunks(n: int, workers: int, first: int = 0) -> list[list[int]]:
    size = max(1, math.ceil((n - first) / (workers * 4)))
    return [list(range(i, min(n, i + size))) for i in range(first, n, size)]


def _execute(
    jobs: list[tuple[Any, Scenario, int, list[int]]],
    executor: str,
    scheduler: str | None,
    workers: int | None,
    on_done: Callable[[Any, int], None] | None,
    on_months: Callable[[int], None] | None = None,
) -> dict[Any, list[dict]]:
    """Run (key, scenario, seed, reps) jobs; return results per key sorted by replication.
    ``on_done(key, replications)`` follows finished chunks; ``on_months(n)`` follows simulated
    months inside replications (serial and process executors)."""
    results: dict[Any, list[dict]] = {key: [] for key, *_ in jobs}

    def collect(key, chunk):
        results[key].extend(chunk)
        if on_done:
            on_done(key, len(chunk))

    executors.run([(key, _replicate, (sc, seed, reps)) for key, sc, seed, reps in jobs],
                  executor, collect, scheduler, workers, on_months)
    for key in results:
        results[key].sort(key=lambda d: d["replication"])
    return results


PROGRESS_STEP_PERCENT = 10
"""Off a terminal, progress is one plain line on stderr per this many percent."""
PROGRESS_QUIET_SECONDS = 3.0
"""Off a terminal, plain progress lines start only once a run has taken this long, so short
runs (and their one-line errors) stay quiet. ``REVSIM_PROGRESS=always`` / ``never`` override."""


class Progress:
    """Progress in simulated months (replications x horizon): a rich bar on a terminal, a
    plain line per ``PROGRESS_STEP_PERCENT`` on stderr otherwise, nothing when disabled."""

    def __init__(self, total: int, label: str, enabled: bool):
        import sys

        self.bar = None
        label = "".join(ch if ch.isprintable() else "?" for ch in label)  # names are data
        self.total, self.label, self.done, self.shown = max(1, total), label, 0, 0
        mode = os.environ.get("REVSIM_PROGRESS", "auto")
        enabled = enabled and mode != "never"
        self.enabled = enabled
        self.lines = enabled and not sys.stderr.isatty()
        # a wall clock for the display only; the model never reads it
        self.quiet_until = (time.monotonic() + PROGRESS_QUIET_SECONDS
                            if mode != "always" else -math.inf)
        if enabled and not self.lines:
            from rich.progress import Progress

            from sim.outputs.escape import markup_text

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task(markup_text(label), total=total)
            self.bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.advance(self.task, n)
        elif self.lines:
            step = PROGRESS_STEP_PERCENT
            percent = min(100, self.done * 100 // self.total) // step * step
            if percent > self.shown and time.monotonic() >= self.quiet_until:
                self.shown = percent
                import sys

                print(f"{self.label}: {percent}% ({min(self.done, self.total):,} of "
                      f"{self.total:,} months simulated)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _run_all(
    scenarios: Sequence[Scenario], replications: int, seed: int, executor: str,
    scheduler: str | None, workers: int | None, progress: bool, label: str, first: int = 0,
) -> tuple[dict[int, list[dict]], str]:
    """Replications first..n-1 (default 0..n-1) of every scenario on the same seed, chunked
    over the workers; results per scenario index, and the executor actually used."""
    if replications < 1:
        raise ValueError("replications must be >= 1")
    if executor == "process" and (replications - first) * len(scenarios) < 2:
        executor = "serial"  # a pool costs more than it saves for one replication
    n_workers = workers or os.cpu_count() or 1
    jobs = [(i, sc, seed, reps) for i, sc in enumerate(scenarios)
            for reps in _chunks(replications, n_workers, first)]
    horizon = {i: sc.horizon_months for i, sc in enumerate(scenarios)}
    bar = Progress((replications - first) * sum(horizon.values()), label, progress)
    live = executor in ("serial", "process")  # months tick inside replications
    try:
        return _execute(jobs, executor, scheduler, workers,
                        None if live else lambda key, n: bar.advance(n * horizon[key]),
                        bar.advance if live and progress else None), executor
    finally:
        bar.close()


# ---------------------------------------------------------------- results


def _summary(values: pd.DataFrame) -> pd.DataFrame:
    """Per KPI: P10, P50, P90, mean with its 95% t interval, and n, the replications where
    the KPI has a value (a break-even month that never comes has none)."""
    rows = []
    for kpi in values.columns:
        if kpi == "replication":
            continue
        v = pd.to_numeric(values[kpi], errors="coerce").to_numpy(dtype=float)
        q, ci = mc.quantiles(v), mc.mean_ci(v)
        rows.append((kpi, kpi_label(kpi), q["p10"], q["p50"], q["p90"], q["mean"],
                     ci["ci_low"], ci["ci_high"], ci["n"]))
    return pd.DataFrame(rows, columns=["kpi", "label", "p10", "p50", "p90", "mean",
                                       "mean_ci_low", "mean_ci_high", "n"])


@dataclass
class ExperimentResult:
    """Replications of one scenario: long tables, bands, KPI distribution, targets."""

    scenario: Scenario
    seed: int
    replications: int
    monthly: pd.DataFrame
    by_segment: pd.DataFrame
    by_channel: pd.DataFrame
    cohorts: pd.DataFrame
    initial: pd.DataFrame
    kpis: pd.DataFrame
    attainment: pd.DataFrame
    stats: dict = field(default_factory=dict)
    by_team: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per sales team, month and replication (see ``SimulationResult.by_team``)."""

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def hash(self) -> str:
        return scenario_hash(self.scenario)

    @property
    def bands(self) -> pd.DataFrame:
        """P10/P50/P90 and mean per month of the main measures."""
        return metrics.quantile_bands(self.monthly, list(BAND_MEASURES), by="month")

    @property
    def kpi_summary(self) -> pd.DataFrame:
        """P10/P50/P90 and mean of each headline KPI across replications."""
        return _summary(self.kpis.drop(columns=["cash_trough_month"], errors="ignore"))

    @property
    def target_summary(self) -> pd.DataFrame:
        """Probability of hitting each scenario target with its 95% binomial (Wilson)
        interval, and the spread of the actual value."""
        if self.attainment.empty:
            return pd.DataFrame(columns=["name", "metric", "year", "op", "target", "probability",
                                         "probability_low", "probability_high"])
        out = metrics.target_probability(self.attainment)
        hits = self.attainment.groupby(["name", "metric", "year", "op", "target"], dropna=False,
                                       sort=False)["hit"].sum().to_numpy()
        cis = [mc.proportion_ci(int(k), int(n)) for k, n in
               zip(hits, out["replications"], strict=True)]
        out["probability_low"] = [c["ci_low"] for c in cis]
        out["probability_high"] = [c["ci_high"] for c in cis]
        return out

    def segment_economics(self) -> pd.DataFrame:
        """Per segment over all replications: CAC, payback, win rate, discount, and its
        team's new ARR per ramped AE-year and quota attainment."""
        teams = {name: team.segments for name, team in self.scenario.sales.teams.items()}
        return metrics.segment_economics(self.by_segment, self.by_team, teams)

    def annual_pnl(self) -> pd.DataFrame:
        """Mean annual P&L across replications."""
        parts = [metrics.pnl(self.monthly[self.monthly.replication == r].drop(columns="replication"),
                             "year").assign(replication=r)
                 for r in self.kpis["replication"]]
        df = pd.concat(parts)
        return df.groupby(level=0).mean(numeric_only=True).drop(columns="replication")

    def write(self, out_dir: str | Path, extra: Mapping[str, pd.DataFrame] | None = None) -> Path:
        """Write monthly.parquet, by_segment/by_channel/by_team parquet, kpis.csv, summary.json and
        scenario.resolved.yaml (plus ``extra`` parquet files) into ``out_dir`` atomically.

        These bytes depend only on the scenario, seed and replications (not the executor);
        how the run went (executor, wall time, versions, host, command) goes to run.json.
        ``out_dir`` must be absent, empty or an earlier revsim result (see sim.outputs.atomic)."""
        with output_errors(out_dir), atomic_dir(out_dir) as tmp:
            for name, frame in (extra or {}).items():
                write_parquet(frame, tmp / name)
            write_parquet(self.monthly, tmp / "monthly.parquet")
            write_parquet(self.by_segment, tmp / "by_segment.parquet")
            write_parquet(self.by_channel, tmp / "by_channel.parquet")
            write_parquet(self.by_team, tmp / "by_team.parquet")
            csv_frame(self.kpis).to_csv(tmp / "kpis.csv", index=False)
            summary = {
                "scenario": self.name,
                "scenario_hash": self.hash,
                "seed": self.seed,
                "replications": self.replications,
                "statistics": STATISTICS,
                "kpis": _records(self.kpi_summary),
                "targets": _records(self.target_summary),
                "simpy_events": self.stats.get("simpy_events"),
            }
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json))
            (tmp / "scenario.resolved.yaml").write_text(scenario_to_yaml(self.scenario, self.seed))
            write_run_facts(tmp / "run.json", self.stats)
        return Path(out_dir)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet whose bytes depend only on the table (and the library versions): no index, no
    statistics that vary, one row group, fixed compression."""
    frame.to_parquet(path, index=False, engine="pyarrow", compression="snappy",
                     row_group_size=max(1, len(frame)))


def write_run_facts(path: Path, stats: Mapping[str, Any]) -> None:
    """run.json: how this result was made (varies between runs; summary.json does not)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from sim.outputs.atomic import command_line

    versions = {"python": platform.python_version()}
    for pkg in ("revsim", "numpy", "pandas", "pyarrow", "simpy", "dask"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    facts = {"command": command_line(), "executor": stats.get("executor"),
             "wall_seconds": stats.get("wall_seconds"), "host": platform.node(),
             "platform": platform.platform(), "versions": versions,
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(facts, indent=2, default=_json) + "\n")


def _json(x):
    if isinstance(x, np.integer | np.bool_):
        return x.item()
    if isinstance(x, np.floating):
        return None if math.isnan(x) else float(x)
    return str(x)


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def _assemble(sc: Scenario, seed: int, n: int, parts: list[dict], stats: dict) -> ExperimentResult:
    att = [p["attainment"] for p in parts if len(p["attainment"])]
    return ExperimentResult(
        scenario=sc,
        seed=seed,
        replications=n,
        monthly=pd.concat([p["monthly"] for p in parts], ignore_index=True),
        by_segment=pd.concat([p["by_segment"] for p in parts], ignore_index=True),
        by_channel=pd.concat([p["by_channel"] for p in parts], ignore_index=True),
        by_team=pd.concat([p["by_team"] for p in parts], ignore_index=True),
        cohorts=pd.concat([p["cohorts"] for p in parts], ignore_index=True),
        initial=pd.DataFrame([{**p["initial"], "replication": p["replication"]} for p in parts]),
        kpis=pd.DataFrame([p["kpis"] for p in parts]),
        attainment=pd.concat(att, ignore_index=True) if att else pd.DataFrame(),
        stats={**stats, "simpy_events": int(sum(p["simpy_events"] for p in parts))},
    )


def run_experiment(
    scenario: Scenario,
    replications: int = 20,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> ExperimentResult:
    """Run ``replications`` of ``scenario`` (replication r uses streams (seed, r))."""
    t0 = time.perf_counter()
    res, used = _run_all([scenario], replications, seed, executor, scheduler, workers,
                         progress, scenario.name)
    stats = {"executor": used, "wall_seconds": time.perf_counter() - t0}
    return _assemble(scenario, seed, replications, res[0], stats)


# ---------------------------------------------------------------- comparison


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

    def kpi_table(self) -> pd.DataFrame:
        """P50 of each KPI by scenario (columns: scenarios)."""
        parts = []
        for r in self.results:
            parts.append(r.kpi_summary.set_index("kpi")["p50"].rename(r.name))
        return pd.concat(parts, axis=1)

    def write(self, out_dir: str | Path) -> Path:
        """deltas.csv, kpis_p50.csv, verdict.csv, profit_bridge.csv (driver means and 95%
        intervals per plan), summary.json (with the verdict's sentences) and run.json."""
        from sim.analysis.bridge import bridges
        from sim.analysis.verdict import verdict

        frame, sentences = verdict(self)
        bridge = pd.concat([b[1].assign(scenario=name) for name, b in bridges(self).items()],
                           ignore_index=True) if self.others else pd.DataFrame()
        with output_errors(out_dir), atomic_dir(out_dir) as tmp:
            # scenario names are text a spreadsheet must not evaluate (OWASP CSV injection)
            csv_frame(self.deltas).to_csv(tmp / "deltas.csv", index=False)
            csv_frame(self.kpi_table()).to_csv(tmp / "kpis_p50.csv")
            csv_frame(frame).to_csv(tmp / "verdict.csv", index=False)
            csv_frame(bridge).to_csv(tmp / "profit_bridge.csv", index=False)
            summary = {"base": self.base.name, "seed": self.base.seed,
                       "replications": self.base.replications,
                       "scenarios": {r.name: r.hash for r in self.results},
                       "statistics": STATISTICS, "decision_kpi": DECISION_KPI,
                       "verdict": sentences,
                       "deltas": _records(self.deltas)}
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json))
            write_run_facts(tmp / "run.json", self.base.stats)
        return Path(out_dir)


def compare_of(results: Sequence[ExperimentResult]) -> CompareResult:
    """A comparison of results already run on the same seed (replication r of each is stream
    (seed, r), so they pair), the first as the base."""
    base, *others = results
    if any(o.seed != base.seed or o.replications != base.replications for o in others):
        raise ValueError("results to compare need the same seed and replications")
    return CompareResult(base=base, others=others, deltas=paired_deltas(base, others))


def paired_deltas(base: ExperimentResult, others: Iterable[ExperimentResult],
                  kpis: Sequence[str] = COMPARE_KPIS) -> pd.DataFrame:
    """Per-replication differences of each KPI against ``base``: mean, 95% CI, P(better)."""
    rows = []
    b = base.kpis.set_index("replication")
    for o in others:
        ok = o.kpis.set_index("replication").reindex(b.index)
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
) -> CompareResult:
    """Run every scenario on the same (seed, replication) streams; deltas against ``base``."""
    scenarios = [base, *others]
    t0 = time.perf_counter()
    res, used = _run_all(scenarios, replications, seed, executor, scheduler, workers,
                         progress, "compare")
    stats = {"executor": used, "wall_seconds": time.perf_counter() - t0}
    results = [_assemble(sc, seed, replications, res[i], stats) for i, sc in enumerate(scenarios)]
    return CompareResult(base=results[0], others=results[1:],
                         deltas=paired_deltas(results[0], results[1:]))


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

    def message(self) -> str:
        state = "reached" if self.reached else "NOT reached"
        share = (f" = {self.target_frac:.0%} of the base's mean" if self.target_frac is not None
                 else "")
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
) -> tuple[CompareResult, Precision]:
    """``compare`` with an adaptive number of replications: start with ``initial``, estimate
    from the paired differences' spread how many make every plan's 95% interval of ``kpi``
    no wider than ±``half_width``, run the missing ones (replication r is always stream
    (seed, r), so the result equals ``compare`` at the final count), stop at
    ``max_replications`` with ``Precision.reached`` False. With ``relative``, ``half_width``
    is a share of the base's mean ``kpi`` (its absolute value, re-estimated from the
    replications run so far), so the target scales with the business. The count depends
    only on the scenarios, the seed and the targets: the same on every executor.
    ``on_round(replications, widest half-width, target)`` follows each finished round."""
    if not others:
        raise ValueError("precision needs at least one plan to compare with the base")
    if not half_width > 0:
        raise ValueError("the precision target must be a positive half-width")
    share = half_width if relative else None
    scenarios = [base, *others]
    t0 = time.perf_counter()
    n, done = min(max(2, initial), max_replications), 0
    parts: dict[int, list[dict]] = {i: [] for i in range(len(scenarios))}
    used = executor
    while True:
        res, used = _run_all(scenarios, n, seed, executor, scheduler, workers, progress,
                             "compare", first=done)
        for i in parts:
            parts[i].extend(res[i])
        done = n
        if share is not None:
            base_mean = abs(float(np.nanmean([d["kpis"][kpi] for d in parts[0]])))
            half_width = share * base_mean if math.isfinite(base_mean) else math.nan
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
    results = [_assemble(sc, seed, n, parts[i], stats) for i, sc in enumerate(scenarios)]
    result = CompareResult(base=results[0], others=results[1:],
                           deltas=paired_deltas(results[0], results[1:]))
    return result, Precision(kpi, float(half_width), float(widest), n,
                             bool(widest <= half_width), share, max_replications)


# ---------------------------------------------------------------- sweeps

SWEEP_KPIS = ("revenue_total", "operating_profit_total", "ending_arr", "npv_operating_profit",
              "cash_trough")
"""KPIs of each sweep point (mean and P10/P50/P90), next to win rate and new ARR per deal."""


def _grid_table(points: Sequence[Mapping[str, Any]], scenarios: Sequence[Scenario],
                kpis: Sequence[str], replications: int, seed: int, executor: str,
                scheduler: str | None, workers: int | None, progress: bool,
                label: str) -> pd.DataFrame:
    """Run every point's scenario on the same seeds; one row per point: its values, the mean
    and P10/P50/P90 of each KPI, the win rate, the new ARR per deal won and the average
    discount off list of the deals won."""
    res, _ = _run_all(scenarios, replications, seed, executor, scheduler, workers, progress,
                      label)
    rows = []
    for i, point in enumerate(points):
        kp = pd.DataFrame([d["kpis"] for d in res[i]])
        row = dict(point)
        for kpi in kpis:
            v = kp[kpi].to_numpy(float)
            row[f"{kpi}_mean"] = float(np.nanmean(v))
            row[f"{kpi}_p10"], row[f"{kpi}_p50"], row[f"{kpi}_p90"] = np.nanquantile(
                v, [0.1, 0.5, 0.9])
        monthly = pd.concat([d["monthly"] for d in res[i]])
        won, lost = monthly["deals_won"].sum(), monthly["deals_lost"].sum()
        row["win_rate_frac"] = float(won / (won + lost)) if won + lost else math.nan
        row["new_arr_per_deal"] = float(monthly["new_arr"].sum() / won) if won else math.nan
        listed = monthly["list_arr_won"].sum()
        row["avg_discount_frac"] = float(monthly["discount_usd"].sum() / listed) if listed \
            else math.nan
        rows.append(row)
    return pd.DataFrame(rows)



@dataclass
class SweepResult:
    """A grid of lever values: one row per point, KPIs mean and P10/P50/P90."""

    table: pd.DataFrame
    keys: list[str]
    best: dict[str, dict]


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    replications: int = 10,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> SweepResult:
    """Run every point of a grid over one to three dotted keys on the same seeds."""
    keys = list(grid)
    if not 1 <= len(keys) <= 3:
        raise ValueError("a sweep takes one to three keys")
    points = [dict(zip(keys, p, strict=True))
              for p in itertools.product(*(grid[k] for k in keys))]
    scenarios = [with_overrides(scenario, p) for p in points]
    table = _grid_table(points, scenarios, SWEEP_KPIS, replications, seed, executor, scheduler,
                        workers, progress, "sweep")
    best = {}
    for kpi in ("revenue_total", "operating_profit_total"):
        i = int(table[f"{kpi}_mean"].idxmax())
        best[kpi] = {**{k: table.loc[i, k] for k in keys},
                     f"{kpi}_mean": float(table.loc[i, f"{kpi}_mean"])}
    return SweepResult(table=table, keys=keys, best=best)


PRICING_KPIS = ("revenue_total", "operating_profit_total", "ending_arr")


def pricing_overrides(scenario: Scenario, price_change_pct: float,
                      discount_cap_frac: float | None) -> dict[str, Any]:
    """Dotted overrides moving every segment's list price by ``price_change_pct`` percent and
    capping its discount cap at ``discount_cap_frac`` (None keeps the caps)."""
    over: dict[str, Any] = {}
    for seg, p in scenario.pricing.segments.items():
        over[f"pricing.segments.{seg}.list_price_usd"] = round(
            p.list_price_usd * (1 + price_change_pct / 100), 2)
        if discount_cap_frac is not None:
            over[f"pricing.segments.{seg}.discount_cap_frac"] = min(p.discount_cap_frac,
                                                                    discount_cap_frac)
    return over


def pricing_sweep(scenario: Scenario, price_changes_pct: Sequence[float] = (-10, 0, 10, 20),
                  discount_caps_frac: Sequence[float] = (0.15, 0.35), replications: int = 2,
                  seed: int = 0, executor: str = "serial", scheduler: str | None = None,
                  workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Every list-price change × discount cap (a cap on each segment's cap) on the same seeds:
    one row per point with revenue, profit and ARR mean and P10/P50/P90, win rate, deal size."""
    points = [{"price_change_pct": p, "discount_cap_frac": c}
              for c in discount_caps_frac for p in price_changes_pct]
    scenarios = [with_overrides(scenario, pricing_overrides(scenario, p["price_change_pct"],
                                                            p["discount_cap_frac"]))
                 for p in points]
    return _grid_table(points, scenarios, PRICING_KPIS, replications, seed, executor, scheduler,
                       workers, progress, "pricing sweep")


# ---------------------------------------------------------------- sensitivity

DEFAULT_LEVERS = (
    "pricing.segments.*.list_price_usd",
    "pricing.segments.*.discount_cap_frac",
    "pricing.annual_uplift_frac",
    "channels.inbound.budget_per_month_usd",
    "channels.partner.active_partners",
    "channels.partner.commission_frac",
    "sales.teams.*.count",
    "headcount.sdr.count",
    "headcount.csm.count",
    "headcount.onboarding.count",
    "segments.*.logo_retention_12m_frac",
    "segments.*.base_win_prob_frac",
    "costs.fixed_opex_per_month_usd",
)


def _get(data: Mapping, dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _expand(data: Mapping, lever: str) -> list[str]:
    """``segments.*.x`` → one dotted key per segment."""
    if "*" not in lever:
        return [lever]
    head, _, tail = lever.partition(".*.")
    return [f"{head}.{k}.{tail}" for k in _get(data, head)]


KEPT_PROBABILITIES = ("logo_retention_12m_frac",)
"""Levers that are the probability of keeping a customer (also matches
``monthly_logo_retention_12m_frac``): a step moves the churn (1 − p), the quantity finance
reasons in, so ±10% of a 0.85 retention is ±1.5 points, not ±8.5."""


def step_unit(key: str, value: Any) -> str:
    """What a sensitivity step of ``key`` moves: the value, its churn, or whole units."""
    if key.endswith(KEPT_PROBABILITIES):
        return "churn (1 - p), relative"
    if isinstance(value, int) and not isinstance(value, bool):
        return "whole units (at least 1)"
    return "relative"


def _scaled(value: Any, factor: float, key: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{key}: not a numeric lever")
    if key.endswith(KEPT_PROBABILITIES):
        return min(1.0, max(0.0, 1.0 - (1.0 - value) * (2.0 - factor)))
    if isinstance(value, int):
        step = max(1, round(abs(value) * abs(factor - 1)))
        return max(0, value + (step if factor > 1 else -step))
    new = value * factor
    if key.endswith("_frac") or key.endswith("_prob_frac"):
        new = min(1.0, max(0.0, new))
    return new


def sensitivity(
    scenario: Scenario,
    levers: Sequence[str] | None = None,
    step: float = 0.1,
    replications: int = 10,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    kpis: Sequence[str] = ("operating_profit_total", "ending_arr"),
) -> pd.DataFrame:
    """One lever at a time, -step and +step (a ``*`` moves every segment together): a tornado
    table of mean KPI at low and high against the base, sorted by swing. Each row also says
    what a step moves (``step_unit``: relative, churn of a renewal probability, whole heads),
    the lever's base value per segment (``base_values``), the relative change actually made
    (``low_change_frac``, ``high_change_frac``), the elasticity (% KPI per % lever) and 95%
    intervals of the paired differences (low − base, high − base, and the swing high − low)."""
    data = scenario_to_dict(scenario)
    levers = list(levers or DEFAULT_LEVERS)
    variants: list[tuple[str, str, Any, Scenario]] = []
    for lever in levers:
        keys = _expand(data, lever)
        for side, factor in (("low", 1 - step), ("high", 1 + step)):
            over = {}
            for k in keys:
                try:
                    over[k] = _scaled(_get(data, k), factor, k)
                except (KeyError, TypeError):
                    raise ValueError(f"{lever}: no such numeric key in the scenario") from None
            first = _get(data, keys[0])
            variants.append((lever, side, (first, over[keys[0]]), with_overrides(scenario, over)))
    all_sc = [scenario] + [v[3] for v in variants]
    res, _ = _run_all(all_sc, replications, seed, executor, scheduler, workers, progress,
                      "sensitivity")
    per_rep = {i: pd.DataFrame([d["kpis"] for d in res[i]])[list(kpis)] for i in res}
    mean = {i: per_rep[i].mean() for i in res}
    rows = []
    for lever in levers:
        idx = {side: i + 1 for i, v in enumerate(variants) if v[0] == lever for side in [v[1]]}
        (base_value, low_value) = variants[idx["low"] - 1][2]
        high_value = variants[idx["high"] - 1][2][1]
        keys = _expand(data, lever)
        values = {k: _get(data, k) for k in keys}
        lows = {k: _get(scenario_to_dict(variants[idx["low"] - 1][3]), k) for k in keys}
        highs = {k: _get(scenario_to_dict(variants[idx["high"] - 1][3]), k) for k in keys}
        change = {side: float(np.mean([(moved[k] - values[k]) / values[k] if values[k] else
                                       math.nan for k in keys]))
                  for side, moved in (("low", lows), ("high", highs))}
        base_values = "; ".join(f"{k.split('.')[-2]} {values[k]:,.4g}" for k in keys) \
            if len(keys) > 1 else f"{values[keys[0]]:,.4g}"
        for kpi in kpis:
            lo, hi, b = mean[idx["low"]][kpi], mean[idx["high"]][kpi], mean[0][kpi]
            b_r = per_rep[0][kpi].to_numpy(float)
            lo_r = per_rep[idx["low"]][kpi].to_numpy(float)
            hi_r = per_rep[idx["high"]][kpi].to_numpy(float)
            d_lo, d_hi, d_sw = mc.mean_ci(lo_r - b_r), mc.mean_ci(hi_r - b_r), \
                mc.mean_ci(hi_r - lo_r)
            span = change["high"] - change["low"]
            elasticity = (hi - lo) / b / span if b > 0 and span and not math.isnan(span) else \
                math.nan
            rows.append({"lever": lever, "kpi": kpi, "base_value": base_value,
                         "low_value": low_value, "high_value": high_value, "base": b,
                         "low": lo, "high": hi, "swing": abs(hi - lo),
                         "base_values": base_values, "step_unit": step_unit(keys[0], base_value),
                         "low_change_frac": change["low"], "high_change_frac": change["high"],
                         "elasticity": elasticity,
                         "low_delta_ci_low": d_lo["ci_low"], "low_delta_ci_high": d_lo["ci_high"],
                         "high_delta_ci_low": d_hi["ci_low"],
                         "high_delta_ci_high": d_hi["ci_high"],
                         "swing_ci_low": d_sw["ci_low"], "swing_ci_high": d_sw["ci_high"]})
    df = pd.DataFrame(rows)
    return df.sort_values(["kpi", "swing"], ascending=[True, False], ignore_index=True)


# ---------------------------------------------------------------- account-plan programme


def _programme_rep(scenario: Scenario, counterfactual: Scenario, seed: int, r: int) -> dict:
    """One replication of the programme and of the same plan without it (same streams)."""
    on = simulate(scenario, seed=seed, replication=r)
    off = simulate(counterfactual, seed=seed, replication=r)
    acc_on, acc_off = on.accounts, off.accounts
    chosen = acc_on[acc_on["entry_month"].notna()]
    base = acc_off.set_index("account").reindex(chosen["account"])
    start_on = chosen["arr_at_entry"].to_numpy(float)
    # the same accounts without the programme, from the same month on
    start_off = np.array([
        _arr_at(off, int(a), int(m)) for a, m in zip(chosen["account"], chosen["entry_month"],
                                                     strict=True)
    ])
    cost = float(on.monthly["account_plan_cost"].sum())
    d_gp = float(on.monthly["gross_profit"].sum() - off.monthly["gross_profit"].sum())
    d_op = float(on.monthly["operating_profit"].sum() - off.monthly["operating_profit"].sum())
    return {
        "replication": r,
        "programme_accounts": len(chosen),
        "renewal_rate_programme": _ratio(chosen["renewed"].sum(), chosen["renewals"].sum()),
        "renewal_rate_without": _ratio(base["renewed"].sum(), base["renewals"].sum()),
        "nrr_programme": _ratio(chosen["arr_end"].sum(), start_on.sum()),
        "nrr_without": _ratio(base["arr_end"].sum(), np.nansum(start_off)),
        "new_unit_arr": float(chosen["new_unit_arr"].sum()),
        "programme_cost": cost,
        "incremental_gross_profit": d_gp,
        "incremental_operating_profit": d_op,
        "return_on_cost": d_gp / cost if cost > 0 else math.nan,
    }


def _arr_at(result, account: int, month: int) -> float:
    acc = result.accounts
    row = acc[acc["account"] == account]
    if row.empty:
        return math.nan
    # ARR at the start of the entry month, as the programme run records it
    return float(row["arr_by_month"].iloc[0].get(month, math.nan))


def _ratio(a, b) -> float:
    return float(a) / float(b) if b else math.nan


def account_plan_return(
    scenario: Scenario,
    replications: int = 20,
    seed: int = 0,
    executor: str = "process",
    workers: int | None = None,
    scheduler: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The programme's accounts against the same accounts without it (common random numbers):
    per-replication table and a summary with means and 95% intervals."""
    if scenario.account_plan.programme_top_n <= 0 or not scenario.account_plan.enabled:
        raise ValueError("account_plan.enabled and programme_top_n > 0 are needed")
    cf = with_overrides(scenario, {"account_plan.programme_top_n": 0})
    tasks = [(r, _programme_rep, (scenario, cf, seed, r)) for r in range(replications)]
    rows: dict[int, dict] = {}
    executors.run(tasks, "serial" if replications < 2 else executor, rows.__setitem__,
                  scheduler, workers)
    per_rep = pd.DataFrame([rows[r] for r in sorted(rows)])
    summary = [{"measure": col, **{k: v for k, v in mean_ci(per_rep[col]).items() if k != "sd"}}
               for col in per_rep.columns if col != "replication"]
    return per_rep, pd.DataFrame(summary)
