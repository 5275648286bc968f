"""revsim: a revenue strategy simulator for CRO/CFO what-if planning.

Data flows scenario → engine (events, ledger) → tables → metrics → experiments → report.
Names load on first use, so ``revsim validate`` does not pay for pandas and SimPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Scenario": "sim.scenario.model",
    "ScenarioError": "sim.scenario.io",
    "load_scenario": "sim.scenario.io",
    "scenario_hash": "sim.scenario.io",
    "scenario_to_yaml": "sim.scenario.io",
    "with_overrides": "sim.scenario.io",
    "SimulationResult": "sim.experiments.replication",
    "simulate": "sim.experiments.replication",
    "CompareResult": "sim.experiments.compare",
    "ExperimentResult": "sim.experiments.results",
    "SweepResult": "sim.experiments.sweep",
    "compare": "sim.experiments.compare",
    "run_experiment": "sim.experiments.results",
    "sensitivity": "sim.experiments.sensitivity",
    "sweep": "sim.experiments.sweep",
    "account_plan_return": "sim.experiments.programme",
    "pricing_sweep": "sim.experiments.sweep",
    "RunSettings": "sim.experiments.settings",
    "build_report": "sim.report.build",
    "load_result": "sim.report.store",
    "save_result": "sim.report.store",
}
__all__ = [
    "account_plan_return",
    "build_report",
    "load_result",
    "pricing_sweep",
    "save_result",
    "CompareResult",
    "ExperimentResult",
    "RunSettings",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "SweepResult",
    "compare",
    "load_scenario",
    "run_experiment",
    "scenario_hash",
    "scenario_to_yaml",
    "sensitivity",
    "simulate",
    "sweep",
    "with_overrides",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from sim.experiments.compare import CompareResult, compare
    from sim.experiments.programme import account_plan_return
    from sim.experiments.replication import SimulationResult, simulate
    from sim.experiments.results import ExperimentResult, run_experiment
    from sim.experiments.sensitivity import sensitivity
    from sim.experiments.settings import RunSettings
    from sim.experiments.sweep import SweepResult, pricing_sweep, sweep
    from sim.report.build import build_report
    from sim.report.store import load_result, save_result
    from sim.scenario.io import (
        ScenarioError,
        load_scenario,
        scenario_hash,
        scenario_to_yaml,
        with_overrides,
    )
    from sim.scenario.model import Scenario
