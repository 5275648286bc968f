"""The account-plan programme's return: its accounts against the same accounts without it,
replication by replication on the same streams."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.experiments import executors
from sim.experiments.compare import mean_ci
from sim.experiments.replication import simulate
from sim.experiments.settings import RunSettings, settings_of
from sim.scenario.io import with_overrides
from sim.scenario.model import Scenario


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
    *,
    settings: RunSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The programme's accounts against the same accounts without it (common random numbers):
    per-replication table and a summary with means and 95% intervals. ``settings``, when given,
    replaces the run keywords (``progress`` is not shown here)."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, False)
    if scenario.account_plan.programme_top_n <= 0 or not scenario.account_plan.enabled:
        raise ValueError("account_plan.enabled and programme_top_n > 0 are needed")
    cf = with_overrides(scenario, {"account_plan.programme_top_n": 0})
    tasks = [(r, _programme_rep, (scenario, cf, s.seed, r)) for r in range(s.replications)]
    rows: dict[int, dict] = {}
    executors.run(tasks, "serial" if s.replications < 2 else s.executor, rows.__setitem__,
                  s.scheduler, s.workers)
    per_rep = pd.DataFrame([rows[r] for r in sorted(rows)])
    summary = [{"measure": col, **{k: v for k, v in mean_ci(per_rep[col]).items() if k != "sd"}}
               for col in per_rep.columns if col != "replication"]
    return per_rep, pd.DataFrame(summary)
