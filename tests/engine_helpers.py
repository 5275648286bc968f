"""Builders of small scenarios and the engine contract's checks, shared by the engine tests.

Scenarios are built from ``scenarios/baseline.yaml`` with dotted overrides, or as a single
neutral segment (``one_segment``) whose behaviour has a closed form: no expansion, no
contraction, no uplift, health factors pinned to 1, willingness to pay far above the price.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim.scenario.io import scenario_from_dict, scenario_to_dict
from sim.scenario.model import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"
BASELINE_PATH = SCENARIO_DIR / "baseline.yaml"
MONTH_DAYS = 365.25 / 12

CENT = 0.01
"""Identities must close to a cent (money) — and to 1e-9 for counts."""

MONTHLY_COLUMNS = (
    "month customers new_customers churned_customers arr new_arr expansion_arr "
    "contraction_arr churned_arr revenue billings cash_collected cogs gross_profit "
    "marketing_cost sales_cost customer_success_cost partner_cost other_opex total_cost "
    "operating_profit cash_balance leads opportunities deals_won leads_lost_waiting "
    "ae_utilization onboarding_wait_days"
).split()
"""The columns the engine contract (issue 3) promises in ``.monthly``."""

SEGMENTS = ("smb", "mid_market", "enterprise")


# --------------------------------------------------------------------------- builders


@lru_cache(maxsize=1)
def baseline() -> Scenario:
    return sim.load_scenario(BASELINE_PATH)


def bundled_scenarios() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def from_baseline(overrides: dict[str, Any] | None = None, horizon: int = 12) -> Scenario:
    """The baseline with a short horizon and dotted overrides."""
    return sim.with_overrides(baseline(), {"horizon_months": horizon, **(overrides or {})})


def scaled_down(
    overrides: dict[str, Any] | None = None, horizon: int = 12, factor: float = 0.25
) -> Scenario:
    """The baseline shrunk by ``factor``: market, installed base, lead flow and teams, so a
    run takes a fraction of the time while every mechanism stays switched on."""
    b = baseline()
    ov: dict[str, Any] = {"horizon_months": horizon}
    for name, seg in b.segments.items():
        ov[f"segments.{name}.market_size_accounts"] = max(1, round(seg.market_size_accounts * factor))
        ov[f"segments.{name}.installed_customers"] = round(seg.installed_customers * factor)
    inbound, outbound = b.channels.inbound, b.channels.outbound
    ov["channels.inbound.cost_per_lead_usd"] = {
        n: v / factor for n, v in inbound.cost_per_lead_usd.items()}
    # the outbound pool shrinks with the market: fewer contacts and leads per SDR alike
    ov["channels.outbound.fresh_leads_per_sdr_per_month"] = {
        n: v * factor for n, v in outbound.fresh_leads_per_sdr_per_month.items()}
    ov["channels.outbound.accounts_contacted_per_sdr_per_month"] = {
        n: v * factor for n, v in outbound.accounts_contacted_per_sdr_per_month.items()}
    ov["channels.partner.referrals_per_partner_per_month"] = (
        b.channels.partner.referrals_per_partner_per_month * factor
    )
    for name, team in b.sales.teams.items():
        ov[f"sales.teams.{name}.count"] = max(1, round(team.count * factor))
        ov[f"sales.teams.{name}.hiring_plan"] = []
    for role in ("csm", "onboarding"):
        count = getattr(b.headcount, role).count
        ov[f"headcount.{role}.count"] = max(1, round(count * factor))
        ov[f"headcount.{role}.hiring_plan"] = []
    ov.update(overrides or {})
    return sim.with_overrides(b, ov)


def one_segment(
    *,
    horizon: int = 24,
    opps_per_month: float = 100.0,
    term_months: int = 1,
    billing: str = "monthly",
    monthly_churn: float = 0.05,
    renewal_prob: float = 0.9,
    churn_concentration: float | None = None,
    win_prob: float = 1.0,
    sales_cycle_days: Any = 0.0,
    patience_days: Any = 1e7,
    ae_count: int = 1,
    deals_per_ae: int = 200,
    installed: int = 0,
    list_price: float = 1000.0,
    seats: Any = 1.0,
    market: int = 10**9,
    installed_age_months: Any = None,
    opening: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Scenario:
    """One segment ``core`` fed by Poisson opportunities at ``opps_per_month`` (one SDR whose
    leads all qualify, on a market so large that neither the contact pool nor the in-market
    cap binds: both take less than 1e-6 of the flow), one pooled sales team whose AEs do not
    prospect, with every health, price and expansion effect neutralised.

    ``monthly_churn`` is the churn probability per monthly renewal and ``renewal_prob`` the
    renewal probability at each term end of a 12+ month contract (with no heterogeneity these
    are exact: the scenario's 12-month retention is set to (1 - c)^12, resp. r^(12/T))."""
    d = copy.deepcopy(scenario_to_dict(baseline()))
    seg = copy.deepcopy(d["segments"]["smb"])
    seg.update(
        market_size_accounts=market,
        installed_customers=installed,
        seats=seats,
        willingness_to_pay_usd=list_price * 1000.0,
        installed_price_usd=list_price,
        installed_seats=seats,
        installed_willingness_to_pay_usd=list_price * 1000.0,
        wtp_growth_per_year_frac=0.0,
        base_win_prob_frac=win_prob,
        sales_cycle_days=sales_cycle_days,
        patience_days=patience_days,
        onboarding_days=0.0,
        onboarding_target_days=30.0,
        contracts=[{"term_months": term_months, "billing": billing, "share_frac": 1.0}],
        logo_retention_12m_frac=renewal_prob ** (12 / max(12, term_months)),
        monthly_logo_retention_12m_frac=(1.0 - monthly_churn) ** 12,
        churn_concentration=churn_concentration,
        installed_age_months=installed_age_months,
        expansion={
            "upsell_rate_per_year": 0.0,
            "upsell_seats_frac": 0.0,
            "cross_sell_rate_per_year": 0.0,
            "cross_sell_arr_frac": 0.0,
        },
        contraction_prob_frac=0.0,
        contraction_frac=0.0,
        in_market_per_year_frac=1.0,
    )
    d["name"] = "one_segment"
    d["horizon_months"] = horizon
    d["segments"] = {"core": seg}
    d["pricing"]["segments"] = {"core": {"list_price_usd": list_price, "discount_cap_frac": 0.0}}
    d["pricing"]["annual_uplift_frac"] = 0.0
    ch = d["channels"]
    ch["inbound"].update(
        budget_per_month_usd=0.0, budget_plan=[], segment_mix={"core": 1.0},
        cost_per_lead_usd={"core": 1.0}, reference_spend_per_month_usd={"core": 1.0},
        response_exponent_b={"core": 1.0}, qualify_prob_frac={"core": 1.0},
    )
    ch["outbound"].update(
        fresh_leads_per_sdr_per_month={"core": opps_per_month},
        accounts_contacted_per_sdr_per_month={"core": max(1.0, opps_per_month)},
        cooldown_months=0, segment_mix={"core": 1.0}, qualify_prob_frac={"core": 1.0},
    )
    ch["partner"].update(
        active_partners=0, partner_plan=[], segment_mix={"core": 1.0},
        qualify_prob_frac={"core": 1.0},
    )
    hc = d["headcount"]
    for role in hc.values():
        role.update(ramp_months=0.0, hiring_plan=[])
    hc["sdr"]["count"] = 1
    hc["onboarding"]["count"] = 10
    d["sales"]["teams"] = {"all": {
        "segments": ["core"], "count": ae_count, "loaded_cost_per_month_usd": 24000.0,
        "ramp_months": 0.0, "concurrent_deals_per_ae": deals_per_ae,
        "attrition_per_year_frac": 0.0, "fail_to_ramp_frac": 0.0,
        "self_sourced_share_frac": 0.0,  # AEs do not prospect: the flow is the SDR's alone
    }}
    d["onboarding"].update(concurrent_projects_per_specialist=100, late_churn_uplift_frac=0.0)
    d["customer_success"].update(coverage_churn_elasticity=0.0, min_factor=1.0, max_factor=1.0)
    d["account_plan"].update(enabled=False, segments=[])
    d["targets"] = []
    d["opening"] = {**d.get("opening", {}), **(opening or {})}
    for key, value in (extra or {}).items():
        node = d
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    return scenario_from_dict(d)


# --------------------------------------------------------------------------- checks


def _close(a, b, what: str, atol: float) -> None:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    bad = ~np.isclose(a, b, rtol=1e-9, atol=atol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AssertionError(f"{what}: month {i + 1}: {a.flat[i]!r} != {b.flat[i]!r}")


def check_identities(res) -> None:
    """Every accounting identity of the contract, every month, to a cent."""
    m = res.monthly
    init = res.initial
    missing = [c for c in MONTHLY_COLUMNS if c not in m.columns]
    assert not missing, f"missing monthly columns {missing}"
    assert list(m["month"]) == list(range(1, len(m) + 1))

    prev_arr = np.r_[init["arr"], m["arr"].to_numpy()[:-1]]
    _close(m["arr"], prev_arr + m["new_arr"] + m["expansion_arr"] - m["contraction_arr"]
           - m["churned_arr"], "ARR bridge", CENT)
    prev_cust = np.r_[init["customers"], m["customers"].to_numpy()[:-1]]
    _close(m["customers"], prev_cust + m["new_customers"] - m["churned_customers"],
           "customers bridge", 1e-9)
    _close(m["gross_profit"], m["revenue"] - m["cogs"], "gross_profit", CENT)
    _close(m["total_cost"], m["cogs"] + m["marketing_cost"] + m["sales_cost"]
           + m["customer_success_cost"] + m["partner_cost"] + m["other_opex"],
           "total_cost", CENT)
    _close(m["operating_profit"], m["revenue"] - m["total_cost"], "operating_profit", CENT)
    prev_cash = np.r_[init["cash_balance"], m["cash_balance"].to_numpy()[:-1]]
    _close(m["cash_balance"], prev_cash + m["cash_collected"] - m["total_cost"],
           "cash_balance", CENT)

    money = ("arr new_arr expansion_arr contraction_arr churned_arr revenue billings "
             "cash_collected cogs marketing_cost sales_cost customer_success_cost "
             "partner_cost other_opex").split()
    counts = ("customers new_customers churned_customers leads opportunities deals_won "
              "leads_lost_waiting").split()
    for col in money + counts:
        assert (m[col] >= -CENT).all(), f"{col} negative: {m[col].min()}"
    assert (m["opportunities"] <= m["leads"]).all(), "more opportunities than leads"

    check_breakdowns(res)
    check_cohorts(res)


def check_breakdowns(res) -> None:
    """by_segment and by_channel add up to the monthly totals for every shared measure."""
    m = res.monthly.set_index("month")
    for table, key in ((res.by_segment, "segment"), (res.by_channel, "channel")):
        shared = [c for c in table.columns if c in m.columns and c not in ("month", key)]
        assert {"customers", "arr", "revenue", "cogs", "new_arr", "marketing_cost",
                "sales_cost", "customer_success_cost", "partner_cost"} <= set(shared), shared
        sums = table.groupby("month")[shared].sum()
        for col in shared:
            atol = 1e-9 if col in ("customers", "leads", "opportunities", "deals_won",
                                   "new_customers", "churned_customers") else CENT
            _close(sums[col].reindex(m.index), m[col], f"{key} sum of {col}", atol)


def check_cohorts(res) -> None:
    """Cohorts add up to the monthly ARR and customers."""
    m = res.monthly.set_index("month")
    sums = res.cohorts.groupby("month")[["arr", "customers"]].sum().reindex(m.index)
    _close(sums["arr"], m["arr"], "cohort sum of arr", CENT)
    _close(sums["customers"], m["customers"], "cohort sum of customers", 1e-9)


def check_waits_and_utilization(res, no_reductions: bool) -> None:
    m = res.monthly
    for col in ("ae_wait_days", "onboarding_wait_days"):
        w = m[col].dropna()
        assert (w >= 0).all(), f"{col} negative: {w.min()}"
    if no_reductions:
        for col in ("ae_utilization", "onboarding_utilization"):
            u = m[col].dropna()
            assert ((u >= 0) & (u <= 1 + 1e-9)).all(), f"{col} outside [0, 1]: {u.describe()}"


def check_events(res) -> None:
    """The event log reconciles with the monthly table; nobody is created or lost."""
    ev = res.events
    m = res.monthly.set_index("month")
    months = m.index

    def by_month(kind: str, how: str = "sum") -> pd.Series:
        sel = ev[ev["kind"] == kind].groupby("month")["amount_usd"]
        s = sel.sum() if how == "sum" else sel.size()
        return s.reindex(months, fill_value=0).astype(float)

    for kind, col in (("expansion", "expansion_arr"), ("contraction", "contraction_arr"),
                      ("churn", "churned_arr"), ("deal_won", "new_arr"), ("leads", "leads")):
        _close(by_month(kind), m[col], f"events '{kind}' vs {col}", CENT)
    for kind, col in (("deal_won", "deals_won"), ("deal_won", "new_customers"),
                      ("churn", "churned_customers"), ("lost_waiting", "leads_lost_waiting"),
                      ("deal_lost", "deals_lost")):
        _close(by_month(kind, "count"), m[col], f"count of '{kind}' vs {col}", 1e-9)
    leads = ev[ev["kind"] == "leads"]
    qualified = leads["note"].str.extract(r"^(\d+) qualified")[0].astype(float)
    opps = qualified.groupby(leads["month"]).sum().reindex(months, fill_value=0)
    _close(opps, m["opportunities"], "events 'leads' qualified vs opportunities", 1e-9)
    # the AEs' own leads (issue 24) are lead batches of their own, all qualified
    own = leads[leads["note"].str.endswith("self-sourced by AEs")]
    _close(own.groupby("month")["amount_usd"].sum().reindex(months, fill_value=0),
           m["opportunities_self_sourced"], "self-sourced lead events vs column", 1e-9)

    installed = int(res.initial["customers"])
    won = ev.loc[ev["kind"] == "deal_won", "account"]
    churned = ev.loc[ev["kind"] == "churn", "account"]
    assert won.is_unique, "an account was won twice"
    assert churned.is_unique, "an account churned twice"
    assert (won >= installed).all(), "a new account reused an installed-base id"
    known = set(won) | set(range(installed))
    assert set(churned) <= known, "an account churned that never existed"
    alive = installed + len(won) - len(churned)
    final = m["customers"].iloc[-1]
    assert final == installed + m["new_customers"].sum() - m["churned_customers"].sum()
    assert final == alive, f"final customers {final} != accounts alive in the log {alive}"
    for kind in ("expansion", "contraction", "renewal", "invoice"):
        ids = ev.loc[ev["kind"] == kind, "account"]
        assert set(ids) <= known, f"'{kind}' for an account that never existed"
    # Nothing happens to an account after it churned.
    churn_t = ev[ev["kind"] == "churn"].set_index("account")["time_days"]
    later = ev[ev["account"].isin(churn_t.index) & ev["kind"].isin(
        ["expansion", "contraction", "renewal", "invoice", "churn"])]
    after = later["time_days"] > later["account"].map(churn_t)
    assert not after.any(), f"events after churn:\n{later[after].head()}"


# -- the pricing tests' prospect: lognormal willingness to pay, Beta(1, b) rep concessions ----

LIST = 1000.0
WTP_MEDIAN, WTP_SIGMA = 1050.0, 0.3  # lognormal willingness to pay
REP_B = 5.0  # conceded discount ~ Beta(1, 5): mean 1/6, CDF 1 - (1 - x)^5


def wtp_sf(x):
    """P(willingness to pay > x) of the lognormal prospect."""
    x = np.maximum(np.asarray(x, float), 1e-300)
    z = (np.log(x) - math.log(WTP_MEDIAN)) / WTP_SIGMA
    return 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2))


def rep_cdf(x):
    """P(a rep concedes at most x)."""
    return 1.0 - (1.0 - np.clip(np.asarray(x, float), 0, 1)) ** REP_B
