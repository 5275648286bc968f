"""revsim: a revenue strategy simulator for CRO/CFO what-if planning.

Data flows scenario → model → events → ledger → metrics → charts → reports.
"""

from sim.runner import SimulationResult, simulate
from sim.scenario import Scenario
from sim.scenario_io import (
    ScenarioError,
    load_scenario,
    scenario_hash,
    scenario_to_yaml,
    with_overrides,
)

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "load_scenario",
    "scenario_hash",
    "scenario_to_yaml",
    "simulate",
    "with_overrides",
]

from sim.experiment import (  # noqa: E402
    CompareResult,
    ExperimentResult,
    SweepResult,
    compare,
    run_experiment,
    sensitivity,
    sweep,
)

__all__ += [
    "CompareResult",
    "ExperimentResult",
    "SweepResult",
    "compare",
    "run_experiment",
    "sensitivity",
    "sweep",
]
