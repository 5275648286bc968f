"""The account lifecycle off the SimPy event loop (``sim.engine.customers``' calendar) against
the process-per-account reference (``sim.engine.model.LIFECYCLE = "processes"``).

Both handle the same life events at the same times with the same per-account streams, so a
replication gives the same tables up to the order of floating-point sums (events at the very
same instant may be handled in another order); across replications the distributions of the
KPIs, churn counts and the installed base's retention curve must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sim
import sim.engine.model as engine_model
from sim.analysis.metrics import headline_kpis
from sim.analysis.value import value_kpis
from tests.engine._scenarios import scenario

REPS = 12
HORIZON = 24  # two years: renewals of annual contracts, NRR/GRR of a full year
KPIS = ("revenue_total", "ending_arr", "nrr_last_year", "grr_last_year", "ending_customers",
        "ending_cash", "customer_equity_usd")
RELATIVE = 1e-9  # floating-point sums in another order


def _run(monkeypatch, lifecycle: str, sc, reps: int = REPS):
    monkeypatch.setattr(engine_model, "LIFECYCLE", lifecycle)
    return [sim.simulate(sc, seed=11, replication=r) for r in range(reps)]


@pytest.fixture(scope="module")
def both():
    """Twelve replications of the baseline (monthly and annual contracts, the account-plan
    model on) for two years, on each path."""
    sc = scenario(horizon=HORIZON)
    with pytest.MonkeyPatch.context() as mp:
        return {mode: _run(mp, mode, sc) for mode in ("processes", "calendar")}


def _kpis(results) -> dict[str, np.ndarray]:
    sc = scenario(horizon=HORIZON)
    rate = sc.finance.discount_rate_per_year_frac
    rows = []
    for r in results:
        kpis = headline_kpis(r.monthly, r.cohorts, r.initial, rate)
        kpis.update(value_kpis(r.ending_base, sc, kpis["npv_operating_profit"]))
        rows.append(kpis)
    return {k: np.array([row[k] for row in rows], dtype=float) for k in KPIS}


def test_replications_agree_where_the_draws_allow(both):
    ref, fast = both["processes"], both["calendar"]
    for a, b in zip(ref, fast, strict=True):
        for table in ("monthly", "by_segment", "cohorts"):
            x, y = getattr(a, table), getattr(b, table)
            cols = [c for c in x.columns if x[c].dtype.kind in "fi"]
            np.testing.assert_allclose(y[cols].to_numpy(float), x[cols].to_numpy(float),
                                       rtol=RELATIVE, atol=1e-6, err_msg=table)


def test_distributions_agree(both):
    """Two-sample Welch tests over the replications: KPIs, churn counts and the installed
    base's retention curve (cohort 0's customers at each half year)."""
    ref, fast = _kpis(both["processes"]), _kpis(both["calendar"])
    for k in KPIS:
        x, y = ref[k], fast[k]
        assert np.isfinite(x).all() and np.isfinite(y).all(), k
        if np.allclose(x, y, rtol=RELATIVE):
            continue  # identical samples: nothing to test further
        assert stats.ttest_ind(x, y, equal_var=False).pvalue > 0.001, k

    def churned(results):
        return np.array([r.monthly["churned_customers"].sum() for r in results])

    def retained(results, month):
        return np.array([r.cohorts.loc[(r.cohorts["cohort_month"] == 0)
                                       & (r.cohorts["month"] == month), "customers"].iloc[0]
                         for r in results])

    samples = [(churned(both["processes"]), churned(both["calendar"]))]
    samples += [(retained(both["processes"], m), retained(both["calendar"], m))
                for m in (6, 12, 18, 24)]
    for x, y in samples:
        assert x.std() > 0  # the replications differ: the test can see a shift
        if not np.array_equal(x, y):
            assert stats.ttest_ind(x, y, equal_var=False).pvalue > 0.001


def test_the_calendar_takes_life_events_off_the_event_loop(both):
    """The mechanism: the reference schedules a SimPy event per life event, the calendar
    none, with the same accounts created."""
    for a, b in zip(both["processes"], both["calendar"], strict=True):
        assert b.stats["accounts_created"] == a.stats["accounts_created"]
        assert b.stats["simpy_events"] < 0.8 * a.stats["simpy_events"]


def test_event_log_is_the_same(monkeypatch):
    """``events=True``: the same records (time, account, kind, amount) on both paths (the
    calendar appends an account's records when it catches up, so only the order of the
    list differs)."""
    sc = scenario(horizon=15)
    logs = {}
    for mode in ("processes", "calendar"):
        monkeypatch.setattr(engine_model, "LIFECYCLE", mode)
        logs[mode] = sim.simulate(sc, seed=4, events=True).events
    ref, fast = logs["processes"], logs["calendar"]
    assert len(ref) == len(fast) > 0
    assert {"renewal", "invoice", "churn", "expansion"} <= set(fast["kind"])
    key = ["account", "time_days", "kind", "amount_usd"]
    x = ref.sort_values(key, kind="stable").reset_index(drop=True)
    y = fast.sort_values(key, kind="stable").reset_index(drop=True)
    assert (x["kind"] == y["kind"]).all() and (x["account"] == y["account"]).all()
    np.testing.assert_allclose(y["time_days"], x["time_days"], rtol=RELATIVE)
    np.testing.assert_allclose(y["amount_usd"], x["amount_usd"], rtol=1e-6, atol=1e-6)
