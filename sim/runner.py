"""One replication end to end: scenario → model → ledger → tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from sim.ledger import build_tables
from sim.model import Model
from sim.scenario import Scenario
from sim.scenario_io import scenario_hash


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


def simulate(
    scenario: Scenario, seed: int = 0, replication: int = 0, events: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Run one replication of ``scenario``; same (seed, replication) → identical tables.
    ``progress(months_done, horizon)`` is called at every month boundary and at the end."""
    wall = time.perf_counter()
    model = Model(scenario, seed=seed, replication=replication, record_events=events,
                  progress=progress)
    model.run()
    if progress is not None:
        progress(scenario.horizon_months, scenario.horizon_months)
    params = {
        "serve_cost_per_month": [s.cost_to_serve_per_month_usd for s in model.segs],
        "accounts_per_csm_target": [s.accounts_per_csm_target for s in model.segs],
        "hosting_frac": scenario.costs.hosting_support_frac_of_revenue,
        "payment_fee_frac": scenario.costs.payment_fee_frac_of_billings,
        "partner_commission_frac": scenario.channels.partner.commission_frac,
    }
    tables = build_tables(model.ledger, params, model.initial)
    log = model.log.frame(model.ledger.t_end) if model.log is not None else None
    return SimulationResult(
        monthly=tables["monthly"],
        by_segment=tables["by_segment"],
        by_channel=tables["by_channel"],
        cohorts=tables["cohorts"],
        initial=model.initial,
        events=log,
        seed=seed,
        replication=replication,
        scenario_hash=scenario_hash(scenario),
        accounts=model.stakeholders.table() if model.stakeholders is not None else None,
        stats={
            "simpy_events": model.sim_events,
            "wall_seconds": time.perf_counter() - wall,
            "accounts_created": model.next_id,
        },
    )
