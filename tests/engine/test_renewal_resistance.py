"""Renewal pricing that meets resistance, buyers' preferred contract terms and the multi-year
retention effect (issue 23): the closed forms of the new laws, and the consequences they must
have in paired (common random numbers) runs of the baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _scenarios import scenario
from engine_helpers import one_segment

import sim
from sim.engine.demand import offered_option, term_walk_probability
from sim.engine.retention import (
    over_wtp_churn_probability,
    price_churn_probability,
    step_churn_probability,
)
from sim.engine.retention_math import multi_year_retention, segment_laws
from sim.scenario.model import ContractOption, Pricing

DEFAULTS = Pricing(segments={}, annual_uplift_frac=0.04)


# --------------------------------------------------------------------------- closed forms


def test_step_hazard_closed_form():
    """1 - (1 - q_ref)^((u / u_ref)^k): 0 at no rise, q_ref at the reference, smooth."""
    q_ref, u_ref, k = 0.135, 0.2, 2.0
    assert step_churn_probability(0.0, q_ref, u_ref, k) == 0.0
    assert step_churn_probability(-0.05, q_ref, u_ref, k) == 0.0  # a cut costs nothing
    assert step_churn_probability(u_ref, q_ref, u_ref, k) == pytest.approx(q_ref)
    for u in (0.02, 0.04, 0.1, 0.3, 0.5):
        assert step_churn_probability(u, q_ref, u_ref, k) == pytest.approx(
            1 - (1 - q_ref) ** ((u / u_ref) ** k))
    qs = [step_churn_probability(u, q_ref, u_ref, k) for u in np.linspace(0, 1, 41)]
    assert all(b > a for a, b in zip(qs, qs[1:], strict=False))


def test_step_hazard_defaults_follow_s7():
    """S7: a planned escalator costs under 3 points, an unplanned rise +12-15 points."""
    def q(u):
        return step_churn_probability(u, DEFAULTS.uplift_churn_at_reference_frac,
                                      DEFAULTS.uplift_churn_reference_frac,
                                      DEFAULTS.uplift_churn_shape)
    assert q(0.04) < 0.03
    assert 0.12 <= q(DEFAULTS.uplift_churn_reference_frac) <= 0.15


def test_far_above_willingness_to_pay_plus_switching_cost_leaves_almost_surely():
    scale = DEFAULTS.over_reference_churn_scale_frac
    # wtp 100, switching cost 10: reference 110
    assert over_wtp_churn_probability(110.0, 100.0, 10.0, scale) == 0.0
    assert over_wtp_churn_probability(110.0 * 1.3, 100.0, 10.0, scale) > 0.99
    near = [over_wtp_churn_probability(110.0 * (1 + x), 100.0, 10.0, scale)
            for x in (0.01, 0.05, 0.1, 0.15)]
    assert near == sorted(near) and near[0] < 0.02


def test_switching_cost_shields_a_price_above_willingness_to_pay():
    """Priced 8% above its willingness to pay: a customer with no switching cost may leave,
    one with a 25% switching cost does not (on price; the step hazard remains)."""
    q_none = price_churn_probability(100.0, 0.08, 100.0, 0.0, DEFAULTS)
    q_sticky = price_churn_probability(100.0, 0.08, 100.0, 0.25, DEFAULTS)
    step = step_churn_probability(0.08, DEFAULTS.uplift_churn_at_reference_frac,
                                  DEFAULTS.uplift_churn_reference_frac,
                                  DEFAULTS.uplift_churn_shape)
    assert q_sticky == pytest.approx(step)
    assert q_none > step + 0.2


@pytest.mark.slow
def test_engine_renewal_churn_is_the_step_hazard():
    """Every installed account renews at month 1 with no churn of its own and a willingness
    to pay far above its price: the share that leaves is the step hazard of the uplift."""
    n, u = 20_000, 0.15
    scn = one_segment(horizon=2, opps_per_month=0.0, installed=n, term_months=12,
                      billing="annual", monthly_churn=0.0, renewal_prob=1.0, seats=12.0,
                      installed_age_months=11.5, extra={"pricing.annual_uplift_frac": u})
    res = sim.simulate(scn, seed=3)
    p = scn.pricing
    q = step_churn_probability(u, p.uplift_churn_at_reference_frac,
                               p.uplift_churn_reference_frac, p.uplift_churn_shape)
    got = res.monthly["churned_customers"].iloc[0] / n
    assert abs(got - q) < 4 * math.sqrt(q * (1 - q) / n), (got, q)


def test_term_choice_closed_forms():
    opts = [ContractOption(term_months=1, billing="monthly", share_frac=0.6, offered=False),
            ContractOption(term_months=12, billing="annual", share_frac=0.3),
            ContractOption(term_months=36, billing="annual", share_frac=0.1)]
    assert offered_option(opts, 0) == 1  # the shortest offered term at least as long
    assert offered_option(opts, 2) == 2
    only_monthly = [opts[0].model_copy(update={"offered": True}),
                    opts[1].model_copy(update={"offered": False})]
    assert offered_option(only_monthly, 1) == 0  # no longer term offered: the longest shorter
    assert term_walk_probability(1, 12, 0.35) == pytest.approx(1 - 0.65 ** (11 / 12))
    assert term_walk_probability(12, 36, 0.1) == pytest.approx(1 - 0.9 ** 2)
    assert term_walk_probability(12, 1, 0.35) == 0.0  # a shorter term loses nobody
    assert term_walk_probability(1, 12, 0.0) == 0.0


def test_multi_year_terms_churn_less_each_year():
    r, f = 0.9, 0.75
    assert multi_year_retention(r, 12, f) == r
    assert multi_year_retention(r, 24, f) == pytest.approx(1 - 0.1 * 0.75)
    assert multi_year_retention(r, 36, f) == pytest.approx(1 - 0.1 * 0.75 ** 2)
    assert multi_year_retention(r, 36, 1.0) == pytest.approx(r)
    ent = scenario().segments["enterprise"]
    laws = segment_laws(ent)
    by_term = {o.term_months: law for o, law in zip(ent.contracts, laws.laws, strict=True)}
    # 36 months on one 3-year contract keeps more than on three annual ones
    assert by_term[36].survival_months(36) > by_term[12].survival_months(36)


# --------------------------------------------------------------------------- consequences

REPS = 6
FEW_REPS = 4
"""For the long paired runs below: on seed 0 their paired t is 5.2 or more with 4
replications (3.8 to 58 for any of 3 to 6), above the 2 these tests ask and above Student's
3.18 for 3 degrees of freedom; 6 replications cost half as much again."""


def _op(scn, reps: int = REPS) -> np.ndarray:
    res = sim.run_experiment(scn, replications=reps, seed=0, executor="serial")
    return res.kpis.sort_values("replication")["operating_profit_total"].to_numpy()


@pytest.fixture(scope="module")
def uplift_profits():
    return {u: _op(scenario({"pricing.annual_uplift_frac": u}, horizon=36), FEW_REPS)
            for u in (0.04, 0.1, 0.5)}


def _paired_gt(a: np.ndarray, b: np.ndarray) -> bool:
    """a beats b: the paired mean difference exceeds twice its standard error."""
    d = a - b
    return d.mean() > 2 * d.std(ddof=1) / math.sqrt(len(d))


@pytest.mark.slow
def test_renewal_uplift_has_an_interior_optimum(uplift_profits):
    """A moderate uplift beats the 4% escalator, and 50%/yr loses to both (S7)."""
    p = uplift_profits
    assert _paired_gt(p[0.1], p[0.04])
    assert _paired_gt(p[0.04], p[0.5])
    assert _paired_gt(p[0.1], p[0.5])


@pytest.mark.slow
def test_a_large_step_to_list_churns_more_than_a_small_one():
    """The installed base signed at a list 30% lower: stepping to list 30% at once loses more
    customers of the installed base than 5% steps."""
    churned = {}
    for cap in (0.05, 0.30):
        over = {"pricing.annual_uplift_frac": 0.0}
        for s in ("smb", "mid_market", "enterprise"):
            p = f"pricing.segments.{s}"
            over[f"{p}.installed_list_price_usd"] = (
                scenario().pricing.segments[s].list_price_usd / 1.3)
            over[f"{p}.installed_price_policy"] = "step_to_list"
            over[f"{p}.installed_price_step_cap_frac"] = cap
        res = sim.run_experiment(scenario(over, horizon=24), replications=REPS, seed=0,
                                 executor="serial")
        ib = res.by_channel[res.by_channel["channel"] == "installed_base"]
        churned[cap] = ib.groupby("replication")["churned_customers"].sum().to_numpy()
    assert _paired_gt(churned[0.30], churned[0.05])


def _smb_new_accounts(scn, rep: int) -> tuple[int, int]:
    """SMB accounts won in the plan and how many of them churned (from the event log)."""
    ev = sim.simulate(scn, seed=0, replication=rep, events=True).events
    smb = ev[ev["segment"] == "smb"]
    won = set(smb.loc[smb["kind"] == "deal_won", "account"])
    churned = set(smb.loc[smb["kind"] == "churn", "account"]) & won
    return len(won), len(churned)


@pytest.mark.slow
def test_smb_offered_annual_terms_only_wins_fewer_deals_that_churn_less():
    """70-80% of SMBs prefer monthly (S4): offering annual terms only loses deals (today's
    engine gave +6%), and the customers won churn less."""
    base = scenario(horizon=24)
    annual_only = scenario({"segments.smb.contracts": [
        {"term_months": 1, "billing": "monthly", "share_frac": 0.6, "offered": False},
        {"term_months": 12, "billing": "annual", "share_frac": 0.4,
         "term_discount_frac": 0.1}]}, horizon=24)
    got = {name: np.array([_smb_new_accounts(scn, r) for r in range(REPS)])
           for name, scn in (("base", base), ("annual", annual_only))}
    assert _paired_gt(got["base"][:, 0], got["annual"][:, 0])  # fewer SMB deals
    rate = {k: v[:, 1].sum() / v[:, 0].sum() for k, v in got.items()}
    assert rate["annual"] < 0.7 * rate["base"], rate  # those won churn less


@pytest.mark.slow
def test_multi_year_is_a_trade_off():
    """New enterprise deals all on 36-month terms against all on annual terms (the other
    option not offered, so the installed base is the same draw in both; no buyer walks), over
    five years: with a small term discount the retention benefit wins, with a large one the
    discount costs more than the retention brings."""
    def ent(offer: int, discount: float):
        contracts = [{"term_months": 12, "billing": "annual", "share_frac": 0.65,
                      "offered": offer == 12},
                     {"term_months": 36, "billing": "annual", "share_frac": 0.35,
                      "term_discount_frac": discount, "offered": offer == 36}]
        # AEs do not prospect here: their utilisation-driven pipeline (issue 24) adds noise
        # to the paired difference (six runs: +$0.87M ± $0.48M with it) that says nothing
        # about the terms' economics
        return _op(scenario({"segments.enterprise.contracts": contracts,
                             "segments.enterprise.longer_term_walk_per_year_frac": 0.0,
                             **{f"sales.teams.{t}.self_sourced_share_frac": 0.0
                                for t in ("smb", "mid_market", "enterprise")}},
                            horizon=60), FEW_REPS)
    assert _paired_gt(ent(36, 0.02), ent(12, 0.02))
    assert _paired_gt(ent(12, 0.30), ent(36, 0.30))
