"""Experiments, by the names they always had: this module re-exports the experiment modules
(runner, results, compare, sweep, sensitivity, programme, writers) so code written against
``sim.experiments.experiment`` keeps working. New code imports from the modules themselves."""

from __future__ import annotations

from sim.experiments.compare import (
    CompareResult,
    Precision,
    compare,
    compare_adaptive,
    compare_of,
    compare_to_precision,
    mean_ci,
    paired_delta,
    paired_deltas,
    t975,
)
from sim.experiments.programme import account_plan_return
from sim.experiments.results import BAND_MEASURES, ExperimentResult, run_experiment
from sim.experiments.runner import PROGRESS_QUIET_SECONDS, PROGRESS_STEP_PERCENT, Progress
from sim.experiments.sensitivity import DEFAULT_LEVERS, KEPT_PROBABILITIES, sensitivity, step_unit
from sim.experiments.settings import RunSettings
from sim.experiments.sweep import (
    PRICING_KPIS,
    SWEEP_KPIS,
    SweepResult,
    pricing_overrides,
    pricing_sweep,
    sweep,
)
from sim.experiments.writers import STATISTICS, write_parquet, write_run_facts
from sim.kpis import COMPARE_KPIS, DECISION_KPI

__all__ = [
    "BAND_MEASURES", "COMPARE_KPIS", "DECISION_KPI", "DEFAULT_LEVERS", "KEPT_PROBABILITIES", "PRICING_KPIS",
    "PROGRESS_QUIET_SECONDS", "PROGRESS_STEP_PERCENT", "STATISTICS", "SWEEP_KPIS",
    "CompareResult", "ExperimentResult", "Precision", "Progress", "RunSettings", "SweepResult",
    "account_plan_return", "compare", "compare_adaptive", "compare_of", "compare_to_precision",
    "mean_ci", "paired_delta", "paired_deltas", "pricing_overrides", "pricing_sweep",
    "run_experiment", "sensitivity", "step_unit", "sweep", "t975", "write_parquet",
    "write_run_facts",
]
