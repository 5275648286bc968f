"""The result of many replications of one scenario: long tables, bands, the KPI distribution
and the targets, and how it is written (summary.json, kpis.csv, Parquet tables)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.analysis import constraints, metrics
from sim.analysis import stats as mc
from sim.errors import output_errors
from sim.experiments.runner import run_all
from sim.experiments.settings import RunSettings, settings_of
from sim.experiments.writers import (
    STATISTICS,
    json_default,
    records,
    write_parquet,
    write_run_facts,
)
from sim.kpis import label as kpi_label
from sim.outputs.atomic import atomic_dir
from sim.outputs.escape import csv_frame
from sim.scenario.io import scenario_hash, scenario_to_yaml
from sim.scenario.model import Scenario

BAND_MEASURES = ("revenue", "operating_profit", "arr", "cash_balance", "customers", "gross_profit",
                 "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "billings",
                 "cash_collected", "total_cost", "ae_utilization", "onboarding_utilization")


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
    parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The assumptions each replication drew (``replication`` and one column per dotted
    key; :mod:`sim.experiments.draws`); empty when every value was fixed."""

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
        interval, and the spread of the actual value; NaN ("n/a", null in summary.json) for
        a target whose plan year starts after the horizon, with 0 replications counted."""
        if self.attainment.empty:
            return pd.DataFrame(columns=["name", "metric", "year", "op", "target", "probability",
                                         "probability_low", "probability_high"])
        out = metrics.target_probability(self.attainment)
        cis = [mc.proportion_ci(int(k), int(n)) for k, n in
               zip(out.pop("hits"), out["replications"], strict=True)]
        out["probability_low"] = [c["ci_low"] for c in cis]
        out["probability_high"] = [c["ci_high"] for c in cis]
        return out

    def constraints(self) -> list:
        """What binds, most pressing first (``sim.analysis.constraints``)."""
        return constraints.of_result(self)

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
                "kpis": records(self.kpi_summary),
                "targets": records(self.target_summary),
                "binding_constraint": constraints.summary_entry(self.constraints()),
                "simpy_events": self.stats.get("simpy_events"),
            }
            if not self.parameters.empty:  # only with drawn assumptions: bytes kept without
                from sim.experiments.uncertainty import uncertainty_summary

                summary["uncertainty"] = uncertainty_summary(self)
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=json_default))
            (tmp / "scenario.resolved.yaml").write_text(scenario_to_yaml(self.scenario, self.seed))
            write_run_facts(tmp / "run.json", self.stats)
        return Path(out_dir)




def assemble(sc: Scenario, seed: int, n: int, parts: list[dict], stats: dict) -> ExperimentResult:
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
        stats={**stats, "simpy_events": int(sum(p["simpy_events"] for p in parts)),
               "replications_cached": sum(bool(p.get("cached")) for p in parts)},
        parameters=(pd.DataFrame([{"replication": p["replication"], **p["parameters"]}
                                  for p in parts])
                    if any(p.get("parameters") for p in parts) else pd.DataFrame()),
    )


def run_experiment(
    scenario: Scenario,
    replications: int = 20,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    *,
    settings: RunSettings | None = None,
) -> ExperimentResult:
    """Run ``replications`` of ``scenario`` (replication r uses streams (seed, r)).
    ``settings``, when given, replaces the six run keywords."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, progress)
    t0 = time.perf_counter()
    res, used = run_all([scenario], s, scenario.name)
    stats = {"executor": used, "wall_seconds": time.perf_counter() - t0}
    return assemble(scenario, s.seed, s.replications, res[0], stats)
