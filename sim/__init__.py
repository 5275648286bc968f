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
