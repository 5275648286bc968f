"""Market economics in the engine: the simulated leads, opportunities and team queues against
the closed forms of ``sim.engine.market`` (within Monte Carlo error, 4 standard errors), and the
"no free lunch" checks of issue 13: demand costs money per segment, SDRs have diminishing
returns, the in-market share bounds opportunities, and each segment sells with its own team.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from engine_helpers import SEGMENTS, baseline, from_baseline

import sim
from sim.analysis.metrics import unit_economics
from sim.engine import market
from sim.engine.model import Replication
from sim.engine.sales import SalesTeam

HORIZON = 6
REPS = 4

# a market frozen in place: nobody is won or lost, so the open accounts, the contact pool and
# the in-market flow stay constant and the closed forms hold exactly in expectation
FROZEN = {
    **{f"segments.{s}.base_win_prob_frac": 0.0 for s in SEGMENTS},
    **{f"segments.{s}.monthly_logo_retention_12m_frac": 1.0 for s in SEGMENTS},
    **{f"segments.{s}.logo_retention_12m_frac": 1.0 for s in SEGMENTS},
    "account_plan.enabled": False,
    # the closed forms are the channels' alone: AEs do not prospect (tests/test_prospecting.py
    # checks the shared pool and cap)
    **{f"sales.teams.{t}.self_sourced_share_frac": 0.0 for t in SEGMENTS},
}


def expected_demand(sc) -> dict[str, dict[str, float]]:
    """Expected leads and opportunities a month by segment and channel of a frozen market,
    from the scenario's parameters and ``sim.engine.market`` (the engine is not consulted)."""
    ch = sc.channels
    sdrs = sc.headcount.sdr.count
    out = {}
    for name, seg in sc.segments.items():
        open_accounts = seg.market_size_accounts - seg.installed_customers
        spend = ch.inbound.budget_per_month_usd * ch.inbound.segment_mix[name]
        inbound = market.inbound_leads(spend, ch.inbound.cost_per_lead_usd[name],
                                       ch.inbound.reference_spend_per_month_usd[name],
                                       ch.inbound.response_exponent_b[name])
        contacts = ch.outbound.accounts_contacted_per_sdr_per_month[name]
        effort = sdrs * ch.outbound.segment_mix[name]
        outbound = market.steady_state_leads_per_sdr(
            effort, contacts, ch.outbound.fresh_leads_per_sdr_per_month[name], open_accounts,
            ch.outbound.cooldown_months) * effort
        partner = (ch.partner.active_partners * ch.partner.referrals_per_partner_per_month
                   * ch.partner.segment_mix[name])
        leads = {"inbound": inbound, "outbound": outbound, "partner": partner}
        raw = {c: leads[c] * getattr(ch, c).qualify_prob_frac[name] for c in leads}
        scale = market.qualify_scale(sum(raw.values()), market.in_market_per_month(
            open_accounts, seg.in_market_per_year_frac))
        out[name] = {**{f"{c}_leads": v for c, v in leads.items()},
                     **{f"{c}_opps": v * scale for c, v in raw.items()}}
    return out


_RUNS: dict[str, tuple] = {}


def frozen_runs(overrides: dict | None = None) -> tuple:
    """The frozen baseline with ``overrides``: (scenario, replications), computed once."""
    key = repr(sorted((overrides or {}).items()))
    if key not in _RUNS:
        sc = from_baseline({**FROZEN, **(overrides or {})}, horizon=HORIZON)
        _RUNS[key] = sc, tuple(sim.simulate(sc, seed=13, replication=r) for r in range(REPS))
    return _RUNS[key]


def assert_poisson_mean(total_count: float, want_per_month: float, months: int, what: str):
    """A Poisson count over ``months`` x REPS cells: within 4 standard errors of the mean."""
    n = months * REPS
    want = want_per_month * n
    assert abs(total_count - want) < 4 * math.sqrt(want), \
        f"{what}: {total_count / n:.3f} a month vs closed form {want_per_month:.3f}"


def channel_total(runs, channel: str, col: str) -> float:
    return float(sum(r.by_channel.loc[r.by_channel["channel"] == channel, col].sum() for r in runs))


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("channel", ["inbound", "outbound", "partner"])
def test_leads_and_opportunities_match_the_closed_forms(channel):
    sc, runs = frozen_runs()
    want = expected_demand(sc)
    for col in ("leads", "opportunities"):
        key = f"{channel}_{'leads' if col == 'leads' else 'opps'}"
        assert_poisson_mean(channel_total(runs, channel, col),
                            sum(w[key] for w in want.values()), HORIZON, f"{channel} {col}")


def test_doubling_sdrs_gives_less_than_twice_the_outbound_opportunities():
    """5 -> 10 SDRs on the baseline's segment mix: the contact pool (6-month cool-down) and
    the in-market cap give less than twice the outbound opportunities, as the closed form
    says, within Monte Carlo error."""
    sc5, runs5 = frozen_runs()
    sc10, runs10 = frozen_runs({"headcount.sdr.count": 10})
    got5 = channel_total(runs5, "outbound", "opportunities")
    got10 = channel_total(runs10, "outbound", "opportunities")
    want5 = sum(w["outbound_opps"] for w in expected_demand(sc5).values())
    want10 = sum(w["outbound_opps"] for w in expected_demand(sc10).values())
    assert_poisson_mean(got5, want5, HORIZON, "5 SDRs")
    assert_poisson_mean(got10, want10, HORIZON, "10 SDRs")
    assert want10 < 1.8 * want5
    ratio = got10 / got5
    se = ratio * math.sqrt(1 / got5 + 1 / got10)
    assert ratio + 4 * se < 2.0, f"10 SDRs give {ratio:.2f}x the outbound opportunities of 5"
    assert ratio > 1.2


@pytest.mark.slow
def test_moving_spend_to_the_dearer_segment_at_the_same_budget_gives_fewer_leads():
    mixes = [{"smb": 0.6, "mid_market": 0.3, "enterprise": 0.1},
             {"smb": 0.25, "mid_market": 0.42, "enterprise": 0.33},
             {"smb": 0.1, "mid_market": 0.3, "enterprise": 0.6}]
    leads = [channel_total(frozen_runs({"channels.inbound.segment_mix": m})[1], "inbound",
                           "leads") for m in mixes]
    assert leads[0] > leads[1] > leads[2], leads


def test_the_in_market_share_bounds_opportunities_whatever_the_spend():
    """Ten times the budget, all on enterprise, and every SDR there: enterprise opportunities
    stay below the in-market accounts a month (share x open accounts / 12)."""
    ent = {"smb": 0.0, "mid_market": 0.0, "enterprise": 1.0}
    sc, runs = frozen_runs({"channels.inbound.budget_per_month_usd": 1_500_000.0,
                            "channels.inbound.segment_mix": ent,
                            "channels.outbound.segment_mix": ent, "headcount.sdr.count": 40})
    seg = sc.segments["enterprise"]
    cap = market.in_market_per_month(seg.market_size_accounts - seg.installed_customers,
                                      seg.in_market_per_year_frac)
    opps = sum(r.by_segment.loc[r.by_segment["segment"] == "enterprise", "opportunities"].sum()
               for r in runs)
    leads = sum(r.by_segment.loc[r.by_segment["segment"] == "enterprise", "leads"].sum()
                for r in runs)
    n = HORIZON * REPS
    assert opps / n < cap, f"{opps / n:.1f} enterprise opportunities a month, cap {cap:.1f}"
    assert opps / n > 0.8 * cap  # saturated: the cap binds, not the spend
    assert opps / leads < 0.5 * sc.channels.inbound.qualify_prob_frac["enterprise"]


# ------------------------------------------------------------------------- teams


def test_a_segments_deals_never_use_another_teams_aes(monkeypatch):
    """Every opportunity queues at the team covering its segment; with no enterprise AEs,
    enterprise opportunities all go cold while the other teams sell as usual."""
    seen: list[tuple[str, str]] = []
    arrive = SalesTeam.arrive

    def spy(self, event):
        seen.append((self.name, self.ctx.seg_names[event.value.seg]))
        return arrive(self, event)

    monkeypatch.setattr(SalesTeam, "arrive", spy)
    sc = from_baseline({"sales.teams.enterprise.count": 0,
                        "sales.teams.enterprise.hiring_plan": []}, horizon=HORIZON)
    model = Replication(sc, seed=3)
    model.run()
    assert seen and all(team == seg for team, seg in seen)
    res = sim.simulate(sc, seed=3)
    ent = res.by_segment[res.by_segment["segment"] == "enterprise"]
    assert ent["deals_won"].sum() == 0 and ent["opportunities"].sum() > 0
    team = res.by_team[res.by_team["team"] == "enterprise"]
    assert team["capacity_slots"].sum() == 0
    assert team["leads_lost_waiting"].sum() > 0
    others = res.by_team[res.by_team["team"] != "enterprise"]
    assert others["deals_won"].sum() > 0 and (others["ae_utilization"] <= 1 + 1e-9).all()


def test_one_pooled_team_in_one_line_sells_every_segment():
    sc = from_baseline({"sales.teams": {"all": {
        "segments": list(SEGMENTS), "count": 14, "loaded_cost_per_month_usd": 24000,
        "concurrent_deals_per_ae": 16}}}, horizon=HORIZON)
    res = sim.simulate(sc, seed=1)
    assert set(res.by_team["team"]) == {"all"}
    team = res.by_team
    m = res.monthly
    np.testing.assert_allclose(team["ae_utilization"], m["ae_utilization"], rtol=1e-12)
    np.testing.assert_allclose(team["leads_lost_waiting"], m["leads_lost_waiting"])
    np.testing.assert_allclose(team["new_arr"], m["new_arr"], rtol=1e-12)


def test_team_table_adds_up_to_the_monthly_table():
    res = sim.simulate(from_baseline(horizon=12), seed=4)
    t = res.by_team.groupby("month")
    m = res.monthly.set_index("month")
    for col in ("leads_lost_waiting", "deals_won", "new_arr", "opportunities"):
        np.testing.assert_allclose(t[col].sum(), m[col], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(t["headcount_ae"].sum(), m["headcount_ae"])
    q = res.by_team
    ok = q["quota_usd"] > 0
    np.testing.assert_allclose(q.loc[ok, "quota_attainment"],
                               q.loc[ok, "new_arr"] / q.loc[ok, "quota_usd"])


# ------------------------------------------------------------------- no free lunch


def test_no_free_lunch_all_demand_on_enterprise_costs_what_the_parameters_say():
    """All inbound spend and SDR effort on enterprise at the same budget and headcount:
    enterprise cost per inbound lead is the response curve's, the opportunities (and so the
    cost per opportunity) are the closed form's under the contact pool and in-market cap,
    and the enterprise team's utilisation and leads lost waiting rise."""
    ent = {"smb": 0.0, "mid_market": 0.0, "enterprise": 1.0}
    base_sc, base_runs = frozen_runs()
    sc, runs = frozen_runs({"channels.inbound.segment_mix": ent,
                            "channels.outbound.segment_mix": ent})
    inbound = sc.channels.inbound
    budget = inbound.budget_per_month_usd
    want_cpl = market.inbound_cost_per_lead(budget, inbound.cost_per_lead_usd["enterprise"],
                                            inbound.reference_spend_per_month_usd["enterprise"],
                                            inbound.response_exponent_b["enterprise"])
    leads = channel_total(runs, "inbound", "leads")
    n = HORIZON * REPS
    got_cpl = budget * n / leads
    assert abs(got_cpl / want_cpl - 1) < 4 / math.sqrt(leads), (got_cpl, want_cpl)
    # cost per opportunity: the money is the same, the opportunities are the closed form's
    want = expected_demand(sc)["enterprise"]
    opps = sum(channel_total(runs, c, "opportunities") for c in ("inbound", "outbound"))
    assert_poisson_mean(opps, want["inbound_opps"] + want["outbound_opps"], HORIZON,
                        "enterprise opportunities")
    base_want = expected_demand(base_sc)
    base_opps = sum(w["inbound_opps"] + w["outbound_opps"] for w in base_want.values())
    cost = budget + sc.headcount.sdr.count * sc.headcount.sdr.loaded_cost_per_month_usd
    assert cost / (want["inbound_opps"] + want["outbound_opps"]) > 2 * cost / base_opps
    # capacity use of the enterprise team

    def team(runs, col):
        return np.mean([r.by_team.loc[r.by_team["team"] == "enterprise", col].mean()
                        for r in runs])

    assert team(runs, "ae_utilization") > team(base_runs, "ae_utilization")
    assert team(runs, "leads_lost_waiting") > team(base_runs, "leads_lost_waiting")


# ------------------------------------------------------------------ benchmarks S2


@cache
def baseline_36_months() -> pd.DataFrame:
    sc = baseline()
    runs = [sim.simulate(sc, seed=21, replication=r) for r in range(3)]
    return unit_economics(pd.concat([r.by_segment for r in runs]), "segment")


@pytest.mark.slow
def test_cac_payback_rises_with_acv_on_the_baseline():
    """Benchmarks S2: CAC payback rises with ACV (SMB ~12, mid-market 12-18, enterprise 18-24
    months)."""
    pay = baseline_36_months()["cac_payback_months"]
    assert pay["smb"] < pay["mid_market"] < pay["enterprise"], pay.to_dict()
    assert 8 < pay["smb"] and pay["enterprise"] < 30, pay.to_dict()
