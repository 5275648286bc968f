"""Engine 3 draws a deal's negotiation in bulk with its opportunity (``sim.engine.demand``'s
``prospects/<channel>/<segment>/<draw>`` streams) instead of on a ``random.Random`` seeded
per deal (engine 2). Every number moves; the distributions must not.

``tests/data/engine_v2_reference.json`` holds engine 2's KPIs over ``REPS`` replications of
the baseline for two years (frozen from the engine before the change with
``PYTHONPATH=$PWD .venv/bin/python -m tests.engine.test_deal_draws_equivalence``). The test
runs the current engine on the same replications and compares each KPI's distribution with
two-sample tests (Welch's t on the means, Kolmogorov-Smirnov on the shapes). The seeds are
fixed, so the outcome is reproducible; a real shift in a KPI of a few standard errors fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sim
from sim.analysis.metrics import headline_kpis
from tests.engine._scenarios import scenario

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "engine_v2_reference.json"
REPS = 100
HORIZON = 24
SEED = 101
ALPHA = 0.001  # per test; the draws are fixed, so a pass is reproducible


def kpis(result, sc) -> dict[str, float]:
    """One replication's KPIs: the headline ones and the deal and churn counts that the deal
    draws drive."""
    m = result.monthly
    k = headline_kpis(m, result.cohorts, result.initial, sc.finance.discount_rate_per_year_frac)
    won, lost = float(m["deals_won"].sum()), float(m["deals_lost"].sum())
    closed = won + lost
    return {
        "revenue_total": k["revenue_total"],
        "ending_arr": k["ending_arr"],
        "nrr_last_year": k["nrr_last_year"],
        "grr_last_year": k["grr_last_year"],
        "new_arr": float(m["new_arr"].sum()),
        "deals_won": won,
        "win_rate": won / closed if closed else float("nan"),
        "deals_lost_price": float(m["deals_lost_price"].sum()),
        "deals_slipped": float(m["deals_slipped"].sum()),
        "discount_rate": float(m["discount_usd"].sum() / m["list_arr_won"].sum()),
        "rep_discount_usd": float(m["rep_discount_usd"].sum()),
        "quarter_end_discount_usd": float(m["quarter_end_discount_usd"].sum()),
        "price_leak_usd": float(m["price_leak_usd"].sum()),
        "rounds_per_deal": float(m["negotiation_rounds_sum"].sum() / closed),
        "churned_customers": float(m["churned_customers"].sum()),
        "ending_customers": float(m["customers"].iloc[-1]),
    }


def run(reps: int = REPS) -> dict[str, list[float]]:
    sc = scenario(horizon=HORIZON)
    rows = [kpis(sim.simulate(sc, seed=SEED, replication=r), sc) for r in range(reps)]
    return {name: [row[name] for row in rows] for name in rows[0]}


@pytest.mark.slow
def test_kpi_distributions_match_engine_2():
    ref = json.loads(REFERENCE.read_text())
    assert ref["engine_version"] == 2 and ref["reps"] == REPS
    new = run()
    assert set(new) == set(ref["kpis"])
    differs = 0
    for name, old in ref["kpis"].items():
        x, y = np.array(old, float), np.array(new[name], float)
        assert np.isfinite(y).all(), name
        differs += not np.allclose(x, y)
        assert stats.ttest_ind(x, y, equal_var=False).pvalue > ALPHA, name
        assert stats.ks_2samp(x, y).pvalue > ALPHA, name
    assert differs >= len(ref["kpis"]) - 2  # new draws: the samples really are other samples


def freeze() -> None:  # pragma: no cover - run by hand on the engine being replaced
    from sim.engine import ENGINE_VERSION

    REFERENCE.write_text(json.dumps({"engine_version": ENGINE_VERSION, "reps": REPS,
                                     "horizon": HORIZON, "seed": SEED, "kpis": run()},
                                    indent=1) + "\n")
    print(f"written {REFERENCE}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    freeze()
