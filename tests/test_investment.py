"""The investment view against hand-built cases: known Δ flows give a known payback month,
NPV and IRR; the payback quantiles count runs by hand; and on a real comparison the view's
totals agree with the paired KPI differences."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.analysis.investment import (
    investment,
    irr_of,
    npv_of,
    payback_month,
    payback_quantile,
)

H = 24


def _result(name: str, profit_by_rep: dict[int, dict[int, float]], rate: float = 0.10,
            new_customers: dict[int, float] | None = None, sales: dict[int, float] | None = None):
    """A result whose operating profit and cash flow are the given flows (month → USD)."""
    rows = []
    for r, flows in profit_by_rep.items():
        cash = 1_000_000.0
        for m in range(1, H + 1):
            op = flows.get(m, 0.0)
            cash += op
            rows.append({"replication": r, "month": m, "operating_profit": op,
                         "cash_balance": cash,
                         "marketing_cost": 0.0, "sales_cost": (sales or {}).get(m, 0.0),
                         "new_customers": (new_customers or {}).get(m, 0.0),
                         "new_arr": (new_customers or {}).get(m, 0.0) * 1200.0,
                         "expansion_arr": 0.0, "contraction_arr": 0.0, "churned_arr": 0.0})
    initial = pd.DataFrame([{"replication": r, "cash_balance": 1_000_000.0}
                            for r in profit_by_rep])
    scenario = SimpleNamespace(finance=SimpleNamespace(discount_rate_per_year_frac=rate))
    return SimpleNamespace(name=name, monthly=pd.DataFrame(rows), initial=initial,
                           scenario=scenario)


def test_payback_month_is_where_the_cumulative_difference_turns_and_stays_non_negative():
    assert payback_month([-5, -3, 1, 2]) == 3
    assert payback_month([-5, 1, -1, 2]) == 4  # back below in month 3: not paid back at 2
    assert payback_month([1, 2, 0]) == 0  # never behind the base
    assert payback_month([-5, -3, -1]) is None
    assert payback_month([-5, 0]) == 2  # exactly even counts as paid back


def test_payback_quantiles_count_runs_that_paid_back_by_each_month():
    months = [13, math.nan, 0]
    assert payback_quantile(months, 0.1) == 0  # 1 run of 3 needed
    assert payback_quantile(months, 0.5) == 13  # 2 runs of 3 needed: 0 and 13
    assert math.isnan(payback_quantile(months, 0.9))  # 3 needed, 2 paid back
    assert math.isnan(payback_quantile([math.nan, math.nan, 4], 0.5))


def test_irr_of_known_flows():
    flows = np.zeros(13)
    flows[0], flows[12] = -1000.0, 1100.0  # 10% over one year
    irr, why = irr_of(flows)
    assert irr == pytest.approx(0.10, abs=1e-9) and why == ""
    assert irr_of([-100.0, 110.0])[0] == pytest.approx(1.1**12 - 1, rel=1e-9)
    assert npv_of(flows, 0.10) == pytest.approx(0.0, abs=1e-9)
    assert npv_of(flows, 0.0) == pytest.approx(100.0)


def test_irr_is_missing_when_flows_do_not_change_sign_or_have_several_rates():
    irr, why = irr_of([-100.0, -50.0, 0.0])
    assert math.isnan(irr) and "sign" in why
    # NPV = (x − a)(x − b)(x − c), x = 1/(1 + monthly rate), zero at 1%, 2% and 3% a month:
    # it falls through 0 at 1% and at 3% as the rate rises: no single answer
    a, b, c = 1 / 1.01, 1 / 1.02, 1 / 1.03
    irr, why = irr_of([-a * b * c, a * b + b * c + c * a, -(a + b + c), 1.0])
    assert math.isnan(irr) and "several" in why


def test_of_two_rates_the_irr_is_where_the_npv_falls_through_zero():
    """(x − a)(x − b): zero at 1% and 2% a month; the NPV falls through 0 at 1% (an
    investment there) and rises through it at 2%."""
    a, b = 1 / 1.01, 1 / 1.02
    irr, why = irr_of([a * b, -(a + b), 1.0])
    assert irr == pytest.approx(1.01**12 - 1, rel=1e-9) and "one of 2" in why


def test_investment_view_of_a_hand_built_plan():
    """Δ cash −1,000 in month 1 and +1,100 in month 13: NPV 0 and IRR exactly 10% a year
    (both flows a year apart), payback in month 13; the base earns nothing."""
    base = _result("base", {0: {}, 1: {}})
    plan = _result("plan", {0: {1: -1000.0, 13: 1100.0}, 1: {1: -1000.0, 13: 1100.0}},
                   new_customers={1: 4.0}, sales={1: 200.0})
    view = investment(base, plan)
    s = view.summary()
    assert s["payback_month_p50"] == 13 and s["prob_paid_back"] == 1.0
    assert s["npv_delta_mean"] == pytest.approx(0.0, abs=1e-6)
    assert s["irr_delta_frac"] == pytest.approx(0.10, abs=1e-9)
    assert s["incremental_cac_usd"] == pytest.approx(50.0)  # 200 more S&M for 4 customers
    assert s["incremental_magic_number"] == pytest.approx(4 * 1200.0 / 200.0)
    cum = view.monthly[view.monthly.measure == "cum_delta_operating_profit"].set_index("month")
    assert cum.loc[12, "p50"] == -1000.0 and cum.loc[13, "p50"] == 100.0
    assert cum.loc[H, "ci_low"] == pytest.approx(100.0)  # no spread: the interval closes
    cash = view.monthly[view.monthly.measure == "cum_delta_cash"].set_index("month")
    assert cash.loc[H, "mean"] == pytest.approx(100.0)


def test_investment_view_counts_runs_and_prices_each_one():
    base = _result("base", {0: {}, 1: {}, 2: {}}, rate=0.0)
    plan = _result("plan", {0: {1: -1000.0, 13: 1100.0}, 1: {1: -1000.0, 13: 500.0},
                            2: {1: 10.0}}, rate=0.0)
    view = investment(base, plan)
    per = view.per_rep.set_index("replication")
    assert per.loc[0, "payback_month"] == 13 and per.loc[2, "payback_month"] == 0
    assert math.isnan(per.loc[1, "payback_month"]) and not per.loc[1, "paid_back"]
    assert per["npv_delta"].tolist() == pytest.approx([100.0, -500.0, 10.0])  # rate 0: sums
    assert per.loc[1, "irr_delta"] == pytest.approx(-0.5, abs=1e-9)  # half back after a year
    s = view.summary()
    assert s["prob_paid_back"] == pytest.approx(2 / 3)
    assert s["payback_month_p50"] == 13 and math.isnan(s["payback_month_p90"])
    assert math.isnan(s["incremental_cac_usd"])  # no more customers: n/a


def test_a_plan_with_another_horizon_is_refused():
    base = _result("base", {0: {}})
    plan = _result("plan", {0: {}})
    plan.monthly = plan.monthly[plan.monthly.month <= 12]
    with pytest.raises(ValueError, match="same horizon"):
        investment(base, plan)


@pytest.mark.e2e
def test_on_a_real_comparison_the_view_agrees_with_the_paired_kpis():
    import sim

    base = sim.load_scenario("scenarios/baseline.yaml", overrides={"horizon_months": 12})
    dearer = sim.with_overrides(base, {"channels.inbound.budget_per_month_usd": 200_000},
                                name="more_inbound")
    cmp = sim.compare(base, [dearer], replications=3, seed=0, executor="serial")
    view = investment(cmp.base, cmp.others[0])
    d = cmp.deltas.set_index("kpi").loc["operating_profit_total"]
    assert view.per_rep["delta_operating_profit"].mean() == pytest.approx(d["mean_delta"])
    ending = (cmp.others[0].kpis["ending_cash"] - cmp.base.kpis["ending_cash"]).mean()
    cash = view.monthly[view.monthly.measure == "cum_delta_cash"]
    assert cash[cash.month == 12]["mean"].iloc[0] == pytest.approx(ending)
    assert view.flows["delta_cash_flow"].sum() == pytest.approx(ending)
