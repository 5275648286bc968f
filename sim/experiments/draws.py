"""The assumptions of one replication: a scenario's uncertain values drawn on named streams.

Replication ``r`` of seed ``s`` draws every uncertain value from
``Streams(s, r // REPLICATIONS_PER_DRAW)``, stream ``assumptions/<key>``: two scenarios run on
the same seed draw the same assumptions in the same replication (common random numbers hold
for the assumptions as for the business's own randomness), and every run is also a nested
Monte Carlo — outer draws of the assumptions, ``REPLICATIONS_PER_DRAW`` inner replications
each — from which :mod:`sim.analysis.uncertainty` splits each KPI's spread into what comes
from the assumptions and what from luck, without running anything more.
"""

from __future__ import annotations

from sim.engine.streams import Streams
from sim.scenario.io import scenario_to_dict, with_overrides
from sim.scenario.model import Scenario
from sim.scenario.uncertainty import draw_values, fixed_parameters, read_key

REPLICATIONS_PER_DRAW = 2
"""Consecutive replications sharing one draw of the assumptions (the inner replications)."""


def draw_index(replication: int) -> int:
    """The outer draw of the assumptions that replication ``replication`` runs with."""
    return replication // REPLICATIONS_PER_DRAW


def drawn_values(scenario: Scenario, seed: int, replication: int) -> dict[str, float]:
    """Dotted key → this replication's draw of each uncertain value ({} when none)."""
    if scenario.uncertainty is None:
        return {}
    streams = Streams(seed, draw_index(replication))
    data = scenario_to_dict(scenario)
    return draw_values(scenario.uncertainty, streams.numpy,
                       lambda key: isinstance(read_key(data, key), int))


def drawn_scenario(scenario: Scenario, seed: int, replication: int,
                   values: dict[str, float] | None = None) -> tuple[Scenario, dict[str, float]]:
    """The scenario replication ``replication`` runs (its uncertain values drawn, or set to
    ``values``), and the values; the scenario itself when nothing is uncertain."""
    if scenario.uncertainty is None:
        return scenario, {}
    values = drawn_values(scenario, seed, replication) if values is None else values
    return with_overrides(fixed_parameters(scenario), values), values
