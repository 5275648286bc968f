"""One replication end to end: scenario → engine → ledger → tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from sim.analysis.value import ending_base_frame
from sim.engine.model import Replication
from sim.experiments.tables import accounts_table, build_tables, events_table
from sim.scenario.io import scenario_hash
from sim.scenario.model import Scenario


@dataclass
class SimulationResult:
    """Tables of one replication (see the README for every column)."""

    monthly: pd.DataFrame
    by_segment: pd.DataFrame
    by_channel: pd.DataFrame
    cohorts: pd.DataFrame
    initial: dict
    events: pd.DataFrame | None
    seed: int
    replication: int
    scenario_hash: str
    stats: dict = field(default_factory=dict)
    accounts: pd.DataFrame | None = None
    """Per-account stakeholder outcomes when the account-plan model is on."""
    by_team: pd.DataFrame | None = None
    """Per sales team and month: utilisation, waits, leads lost waiting, quota attainment."""
    ending_base: pd.DataFrame | None = None
    """One row per account alive at the horizon: segment, contract option and term, months
    since its first contract, ARR (``sim.analysis.value.ENDING_BASE_COLUMNS``)."""


def simulate(
    scenario: Scenario, seed: int = 0, replication: int = 0, events: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Run one replication of ``scenario``; same (seed, replication) → identical tables.
    ``progress(months_done, horizon)`` is called at every month boundary and at the end."""
    wall = time.perf_counter()
    model = Replication(scenario, seed=seed, replication=replication, record_events=events,
                        progress=progress)
    model.run()
    if progress is not None:
        progress(scenario.horizon_months, scenario.horizon_months)
    tables = build_tables(model.ledger, scenario, model.plan, model.initial)
    log = events_table(model.log, model.ledger.t_end) if model.log is not None else None
    return SimulationResult(
        monthly=tables["monthly"],
        by_segment=tables["by_segment"],
        by_channel=tables["by_channel"],
        by_team=tables["by_team"],
        cohorts=tables["cohorts"],
        initial=model.initial,
        ending_base=ending_base_frame(
            model.ending_base, model.ledger.segments,
            {n: [o.term_months for o in seg.contracts] for n, seg in scenario.segments.items()}),
        events=log,
        seed=seed,
        replication=replication,
        scenario_hash=scenario_hash(scenario),
        accounts=(accounts_table(model.stakeholders.outcomes)
                  if model.stakeholders is not None else None),
        stats={
            "simpy_events": model.sim_events,
            "wall_seconds": time.perf_counter() - wall,
            "accounts_created": model.customers.created,
        },
    )
