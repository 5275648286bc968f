"""One replication end to end: scenario → model → ledger → tables."""

from __future__ import annotations

import time
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
    by_team: pd.DataFrame | None = None
    """Per sales team and month: utilisation, waits, leads lost waiting, quota attainment."""


def simulate(
    scenario: Scenario, seed: int = 0, replication: int = 0, events: bool = False
) -> SimulationResult:
    """Run one replication of ``scenario``; same (seed, replication) → identical tables."""
    wall = time.perf_counter()
    model = Model(scenario, seed=seed, replication=replication, record_events=events)
    model.run()
    params = {
        "serve_cost_per_month": [s.cost_to_serve_per_month_usd for s in model.segs],
        "accounts_per_csm_target": [s.accounts_per_csm_target for s in model.segs],
        "hosting_frac": scenario.costs.hosting_support_frac_of_revenue,
        "payment_fee_frac": scenario.costs.payment_fee_frac_of_billings,
        "partner_commission_frac": scenario.channels.partner.commission_frac,
        "team_segments": [[model.seg_names.index(n) for n in t.segments] for t in model.teams],
        "quota_per_year": [t.quota_new_arr_per_year_usd for t in model.teams],
    }
    tables = build_tables(model.ledger, params, model.initial)
    log = model.log.frame(model.ledger.t_end) if model.log is not None else None
    return SimulationResult(
        monthly=tables["monthly"],
        by_segment=tables["by_segment"],
        by_channel=tables["by_channel"],
        by_team=tables["by_team"],
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
