"""Metrics on small hand-built tables, with published worked examples and hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis import metrics as m
from sim.analysis.targets import target_attainment

# --------------------------------------------------------------------------- builders

BASE = {
    "new_customers": 2.0,
    "churned_customers": 1.0,
    "new_arr": 24_000.0,
    "expansion_arr": 6_000.0,
    "contraction_arr": 1_000.0,
    "churned_arr": 10_000.0,
    "revenue": 100_000.0,
    "cogs": 20_000.0,
    "marketing_cost": 30_000.0,
    "sales_cost": 20_000.0,
    "customer_success_cost": 10_000.0,
    "partner_cost": 2_000.0,
    "other_opex": 0.0,
    "cash_collected": None,  # defaults to revenue
}
INITIAL = {"arr": 1_200_000.0, "customers": 100.0, "cash_balance": 100_000.0}


def build_monthly(horizon: int = 24, initial: dict | None = None, **overrides) -> pd.DataFrame:
    """A monthly table whose derived columns obey the contract's identities."""
    initial = dict(INITIAL if initial is None else initial)
    cols = {}
    for name, default in BASE.items():
        value = overrides.pop(name, default)
        if value is None:
            continue
        cols[name] = np.broadcast_to(np.asarray(value, dtype=float), (horizon,)).copy()
    assert not overrides, overrides
    df = pd.DataFrame(cols)
    df.insert(0, "month", np.arange(1, horizon + 1))
    if "cash_collected" not in df:
        df["cash_collected"] = df["revenue"]
    df["billings"] = df["cash_collected"]
    df["deferred_revenue"] = 0.0
    df["sales_commission"] = 0.1 * df["sales_cost"]
    df["gross_profit"] = df["revenue"] - df["cogs"]
    df["total_cost"] = df[
        [
            "cogs",
            "marketing_cost",
            "sales_cost",
            "customer_success_cost",
            "partner_cost",
            "other_opex",
        ]
    ].sum(axis=1)
    df["operating_profit"] = df["revenue"] - df["total_cost"]
    df["customers"] = (
        initial["customers"] + (df["new_customers"] - df["churned_customers"]).cumsum()
    )
    df["arr"] = (
        initial["arr"]
        + (df["new_arr"] + df["expansion_arr"] - df["contraction_arr"] - df["churned_arr"]).cumsum()
    )
    df["cash_balance"] = (
        initial["cash_balance"] + (df["cash_collected"] - df["total_cost"]).cumsum()
    )
    df.attrs["initial"] = initial
    return df


def trough_monthly() -> pd.DataFrame:
    """Months 1-3 lose 82k each (other opex 100k); from month 4 profit is 18k a month.

    Cash: 100k − 3 × 182k + 3 × 100k = −146k at month 3 (the trough), then +18k a month.
    Cumulative profit −246k + 18k·k ≥ 0 first at k = 14, i.e. month 17.
    """
    other = np.where(np.arange(1, 25) <= 3, 100_000.0, 0.0)
    return build_monthly(other_opex=other)


def cohort_frame(spec: dict[int, tuple[float, float]], events: dict, horizon: int, month0=True):
    """Long cohort table from start sizes {cohort: (customers, arr)} and flow events.

    events: {(cohort, month): {"churned_customers": .., "churned_arr": .., ...}}.
    """
    rows = []
    for c, (customers, arr) in spec.items():
        first = 0 if (c == 0 and month0) else max(c, 1)
        for month in range(first, horizon + 1):
            flows = dict.fromkeys(
                ["new_arr", "expansion_arr", "contraction_arr", "churned_arr", "churned_customers"],
                0.0,
            )
            if month == c and c > 0:
                flows["new_arr"] = arr
            if month > c or (c == 0 and month > 0):
                flows.update(events.get((c, month), {}))
                customers -= flows["churned_customers"]
                arr += flows["expansion_arr"] - flows["contraction_arr"] - flows["churned_arr"]
            rows.append(
                {"cohort_month": c, "month": month, "customers": customers, "arr": arr, **flows}
            )
    return pd.DataFrame(rows)


def ev(**kw):
    return kw


# Cohort 0: 100 customers / 1.2M at month 0. Cohort 5: 10 / 100k. Cohort 14: 5 / 60k.
COHORT_SPEC = {0: (100.0, 1_200_000.0), 5: (10.0, 100_000.0), 14: (5.0, 60_000.0)}
COHORT_EVENTS = {
    (0, 6): ev(churned_customers=10.0, churned_arr=120_000.0),
    (0, 9): ev(expansion_arr=60_000.0),
    (0, 12): ev(contraction_arr=30_000.0),
    (0, 18): ev(churned_customers=5.0, churned_arr=55_000.0),
    (5, 15): ev(expansion_arr=50_000.0),
    (5, 20): ev(churned_customers=2.0, churned_arr=30_000.0),
    (14, 20): ev(expansion_arr=40_000.0),  # not a start-of-year-2 customer: must not count
}


@pytest.fixture
def cohorts() -> pd.DataFrame:
    return cohort_frame(COHORT_SPEC, COHORT_EVENTS, 24)


# --------------------------------------------------------------------------- worked examples


def test_cac_payback_worked_example():
    assert m.cac_payback_months(6_000, 500, 0.8) == pytest.approx(15.0)


def test_ltv_worked_example():
    value, capped = m.ltv(500, 0.8, 0.02)
    assert value == pytest.approx(20_000.0)
    assert capped is False


def test_grr_nrr_worked_example():
    assert m.grr(10.0e6, 0.6e6, 0.9e6) == pytest.approx(0.85)
    assert m.nrr(10.0e6, 1.8e6, 0.6e6, 0.9e6) == pytest.approx(1.03)


def test_magic_number_worked_example():
    assert m.magic_number(480_000, 1_800_000) == pytest.approx(1.0667, abs=1e-4)


def test_burn_multiple_worked_example():
    assert m.burn_multiple(3e6, 1e6) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("growth", "margin", "passes"),
    [(20, 20, True), (40, 0, True), (50, -10, True), (30, 5, False)],
)
def test_rule_of_40_cases(growth, margin, passes):
    score = m.rule_of_40(growth, margin)
    assert score == pytest.approx(growth + margin)
    assert m.passes_rule_of_40(score) is passes


def test_cac_simple():
    assert m.cac(120_000, 20) == pytest.approx(6_000)


# --------------------------------------------------------------------------- edge cases


def test_no_new_customers_gives_nan_cac_and_payback():
    c = m.cac(50_000, 0)
    assert math.isnan(c)
    assert math.isnan(m.cac_payback_months(c, 500, 0.8))


def test_zero_churn_ltv_is_capped_and_flagged():
    value, capped = m.ltv(500, 0.8, 0.0, cap_months=120)
    assert value == pytest.approx(500 * 0.8 * 120)
    assert capped is True


def test_tiny_churn_ltv_is_capped_too():
    # 0.5 % a month is a 200-month lifetime, longer than the 120-month cap.
    value, capped = m.ltv(500, 0.8, 0.005, cap_months=120)
    assert (value, capped) == (pytest.approx(48_000), True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: m.cac(1.0, 1e-320),  # would overflow to inf
        lambda: m.cac_payback_months(6_000, 500, 0.0),
        lambda: m.cac_payback_months(6_000, 500, -0.2),
        lambda: m.grr(0, 1, 1),
        lambda: m.nrr(0, 1, 1, 1),
        lambda: m.magic_number(1e5, 0),
        lambda: m.burn_multiple(3e6, 0),
        lambda: m.burn_multiple(3e6, -1e6),
        lambda: m.ltv(500, 0.8, -0.01)[0],
        lambda: m.ltv(500, 0.8, float("nan"))[0],
        lambda: m.cac(None, 3),
    ],
)
def test_undefined_values_are_nan_not_inf_or_errors(call):
    assert math.isnan(call())


def test_burn_multiple_is_not_meaningful_when_not_burning():
    # issue 23: a cash-generative year used to read 0.00x, the best possible burn multiple,
    # even in plans losing money; it is now "n/m" (NaN), with the FCF margin beside it
    assert math.isnan(m.burn_multiple(-2e6, 1e6))
    assert math.isnan(m.burn_multiple(0.0, 1e6))


def test_rule_of_40_rejects_unknown_basis():
    assert m.rule_of_40(20, 20, basis="fcf_margin") == 40
    with pytest.raises(ValueError, match="basis"):
        m.rule_of_40(20, 20, basis="ebitda")


def test_negative_cash_trough_reported_with_its_month():
    trough = m.cash_trough(trough_monthly(), INITIAL)
    assert trough == {"value": pytest.approx(-146_000.0), "month": 3}


def test_cash_trough_month_zero_when_start_is_lowest():
    df = build_monthly(horizon=6)  # +18k of cash every month
    assert m.cash_trough(df, INITIAL) == {"value": 100_000.0, "month": 0}


def test_cash_trough_reads_initial_from_attrs():
    df = build_monthly(horizon=6)
    assert m.cash_trough(df)["month"] == 0


# --------------------------------------------------------------------------- P&L and cash


def test_pnl_year_hand_numbers():
    p = m.pnl(trough_monthly(), "year")
    assert list(p.index) == [1, 2]
    assert p.index.name == "year"
    assert p.loc[1, "revenue"] == pytest.approx(1_200_000)
    assert p.loc[1, "operating_profit"] == pytest.approx(-246_000 + 9 * 18_000)
    assert p.loc[2, "operating_profit"] == pytest.approx(12 * 18_000)
    assert p.loc[1, "gross_margin_frac"] == pytest.approx(0.8)
    assert p.loc[2, "operating_margin_frac"] == pytest.approx(0.18)
    assert p.loc[1, "cash_balance"] == pytest.approx(100_000 - 84_000)  # end of year, not sum
    assert p.loc[2, "arr"] == pytest.approx(1_200_000 + 24 * 19_000)
    assert p.loc[2, "net_new_arr"] == pytest.approx(12 * 19_000)


def test_pnl_quarter_periods_and_stocks():
    df = trough_monthly()
    p = m.pnl(df, "quarter")
    assert len(p) == 8
    assert p.loc[1, "operating_profit"] == pytest.approx(-246_000)
    assert p.loc[1, "cash_balance"] == pytest.approx(-146_000)
    assert p.loc[3, "arr"] == pytest.approx(df.loc[df["month"] == 9, "arr"].item())


def test_pnl_rejects_unknown_freq():
    with pytest.raises(ValueError, match="freq"):
        m.pnl(build_monthly(horizon=3), "week")


def test_pnl_margin_nan_when_no_revenue():
    p = m.pnl(build_monthly(horizon=3, revenue=0.0, cogs=0.0), "month")
    assert p["gross_margin_frac"].isna().all()


flow = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    horizon=st.integers(min_value=1, max_value=40),
    freq=st.sampled_from(["month", "quarter", "year"]),
    data=st.data(),
)
def test_pnl_conserves_totals_for_any_freq(horizon, freq, data):
    series = {
        k: data.draw(st.lists(flow, min_size=horizon, max_size=horizon))
        for k in ["revenue", "cogs", "marketing_cost", "new_arr", "churned_arr", "cash_collected"]
    }
    df = build_monthly(horizon=horizon, **series)
    p = m.pnl(df, freq)
    months_per = {"month": 1, "quarter": 3, "year": 12}[freq]
    assert len(p) == math.ceil(horizon / months_per)
    assert p["months"].sum() == horizon
    for col in ["revenue", "cogs", "gross_profit", "total_cost", "operating_profit"]:
        assert p[col].sum() == pytest.approx(df[col].sum(), rel=1e-9, abs=1e-3)
    assert p["cash_balance"].iloc[-1] == pytest.approx(df["cash_balance"].iloc[-1])
    assert p["net_new_arr"].sum() == pytest.approx(df["arr"].iloc[-1] - INITIAL["arr"], abs=1e-3)


def test_break_even_months():
    assert m.break_even(trough_monthly()) == {
        "first_profitable_month": 4,
        "cumulative_break_even_month": 17,
    }


def test_break_even_never():
    df = build_monthly(horizon=12, other_opex=50_000.0)  # −32k every month
    assert m.break_even(df) == {"first_profitable_month": None, "cumulative_break_even_month": None}


def test_npv_at_zero_rate_is_the_sum():
    assert m.npv(trough_monthly(), 0.0) == pytest.approx(-246_000 + 21 * 18_000)


def test_npv_discounts_monthly_at_month_end():
    df = build_monthly(horizon=24)
    df["operating_profit"] = 0.0
    df.loc[df["month"] == 12, "operating_profit"] = 110.0
    df.loc[df["month"] == 24, "operating_profit"] = 121.0
    assert m.npv(df, 0.10) == pytest.approx(200.0)
    assert math.isnan(m.npv(df, -1.0))


# --------------------------------------------------------------------------- SaaS metrics


@pytest.mark.parametrize("month0_rows", [True, False])
def test_saas_metrics_nrr_grr_from_hand_built_cohorts(month0_rows):
    cohorts = cohort_frame(COHORT_SPEC, COHORT_EVENTS, 24, month0=month0_rows)
    s = m.saas_metrics(trough_monthly(), cohorts, INITIAL)
    # Year 1: cohort 0 only. 1.2M − 120k churn + 60k expansion − 30k contraction = 1.11M.
    assert s.loc[1, "nrr"] == pytest.approx(1_110_000 / 1_200_000)
    assert s.loc[1, "grr"] == pytest.approx((1_200_000 - 30_000 - 120_000) / 1_200_000)
    assert s.loc[1, "logo_churn_frac"] == pytest.approx(10 / 100)
    assert s.loc[1, "dollar_churn_frac"] == pytest.approx(120_000 / 1_200_000)
    # Year 2: cohorts 0 and 5 (1.11M + 100k); cohort 14 excluded.
    assert s.loc[2, "nrr"] == pytest.approx((1_055_000 + 120_000) / 1_210_000)
    assert s.loc[2, "grr"] == pytest.approx((1_210_000 - 55_000 - 30_000) / 1_210_000)
    assert s.loc[2, "logo_churn_frac"] == pytest.approx(7 / 100)


def test_saas_metrics_efficiency_hand_numbers(cohorts):
    s = m.saas_metrics(trough_monthly(), cohorts, INITIAL)
    assert s.loc[1, "arr_end"] == pytest.approx(1_200_000 + 12 * 19_000)
    assert s.loc[1, "mrr_end"] == pytest.approx((1_200_000 + 12 * 19_000) / 12)
    assert s.loc[2, "net_new_arr"] == pytest.approx(12 * 19_000)
    assert s.loc[1, "cac"] == pytest.approx(600_000 / 24)
    assert s.loc[1, "cac_payback_months"] == pytest.approx(25_000 / (1_000 * 0.8))
    # ARPA × GM ÷ churn: customer-months cancel, leaving revenue × GM ÷ churned customers.
    assert s.loc[1, "ltv"] == pytest.approx(1_200_000 * 0.8 / 12)
    assert not s.loc[1, "ltv_capped"]
    assert s.loc[1, "ltv_to_cac"] == pytest.approx(80_000 / 25_000)
    # Year 1 burns 84k of cash for 228k of net new ARR; year 2 generates cash.
    assert s.loc[1, "burn_multiple"] == pytest.approx(84_000 / 228_000)
    assert math.isnan(s.loc[2, "burn_multiple"])  # cash-generative: n/m (issue 23)
    assert s.loc[1, "revenue_growth_frac"] == pytest.approx(0.0)
    assert s.loc[1, "rule_of_40"] == pytest.approx(-7.0)
    assert s.loc[2, "rule_of_40"] == pytest.approx(18.0)
    assert s.loc[2, "rule_of_40_basis"] == "growth + operating margin"


def test_saas_metrics_magic_number_last_quarter_vs_prior():
    revenue = np.full(12, 100_000.0)
    revenue[9:12] = 140_000.0  # Q4 revenue up 120k on Q3; Q3 S&M = 3 × 50k
    s = m.saas_metrics(
        build_monthly(horizon=12, revenue=revenue),
        cohort_frame({0: (100.0, 1_200_000.0)}, {}, 12),
        INITIAL,
    )
    assert s.loc[1, "magic_number"] == pytest.approx(120_000 * 4 / 150_000)


def test_saas_metrics_growth_and_fcf_basis(cohorts):
    revenue = np.r_[np.full(12, 100_000.0), np.full(12, 150_000.0)]
    df = build_monthly(revenue=revenue, cash_collected=0.9 * revenue)
    op = m.saas_metrics(df, cohorts, INITIAL)
    fcf = m.saas_metrics(df, cohorts, INITIAL, rule_of_40_basis="fcf_margin")
    assert op.loc[2, "revenue_growth_frac"] == pytest.approx(0.5)
    # Year 2: operating profit 12 × (150k − 82k) on 1.8M revenue; cash 12 × (135k − 82k).
    assert op.loc[2, "rule_of_40"] == pytest.approx(50 + 100 * 816_000 / 1_800_000)
    assert fcf.loc[2, "rule_of_40"] == pytest.approx(50 + 100 * 636_000 / 1_800_000)
    assert fcf.loc[2, "rule_of_40_basis"] == "growth + free-cash-flow margin"


def test_saas_metrics_partial_year_growth_is_annualised(cohorts):
    s = m.saas_metrics(build_monthly(horizon=18), cohorts, INITIAL)
    assert s.loc[2, "months"] == 6
    assert s.loc[2, "revenue_growth_frac"] == pytest.approx(0.0)


def test_grr_never_below_zero_when_expanded_customers_churn():
    # 1 customer at 100 expands to 300 then churns: flows 300 > start 100.
    cohorts = cohort_frame(
        {0: (1.0, 100.0)},
        {(0, 2): ev(expansion_arr=200.0), (0, 5): ev(churned_customers=1.0, churned_arr=300.0)},
        12,
    )
    s = m.saas_metrics(build_monthly(horizon=12), cohorts, {**INITIAL, "arr": 100.0})
    assert s.loc[1, "grr"] == 0.0
    assert s.loc[1, "nrr"] == 0.0


# --------------------------------------------------------------------------- unit economics


def channel_frame() -> pd.DataFrame:
    rows = [
        # channel, month, new, new_arr, customers, churned, revenue, cogs, mkt, sales, cs, partner
        ("inbound", 1, 2, 24_000, 2, 0, 2_000, 400, 10_000, 8_000, 200, 0),
        ("inbound", 2, 2, 24_000, 4, 0, 4_000, 800, 10_000, 8_000, 400, 0),
        ("partner", 1, 1, 12_000, 1, 0, 1_000, 200, 1_000, 2_000, 100, 1_500),
        ("partner", 2, 1, 12_000, 1, 1, 1_000, 200, 1_000, 2_000, 100, 1_500),
        ("installed_base", 1, 0, 0, 100, 0, 50_000, 10_000, 0, 0, 5_000, 0),
        ("installed_base", 2, 0, 0, 100, 0, 50_000, 10_000, 0, 0, 5_000, 0),
    ]
    cols = [
        "channel",
        "month",
        "new_customers",
        "new_arr",
        "customers",
        "churned_customers",
        "revenue",
        "cogs",
        "marketing_cost",
        "sales_cost",
        "customer_success_cost",
        "partner_cost",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["gross_profit"] = df["revenue"] - df["cogs"]
    return df


def test_unit_economics_by_channel_hand_numbers():
    u = m.unit_economics(channel_frame(), "channel")
    inbound, partner, base = u.loc["inbound"], u.loc["partner"], u.loc["installed_base"]
    assert inbound["cac"] == pytest.approx(36_000 / 4)
    assert inbound["cac_after_partner_commission"] == pytest.approx(9_000)
    assert inbound["cac_payback_months"] == pytest.approx(9_000 / (1_000 * 0.8))
    assert inbound["ltv"] == pytest.approx(1_000 * 0.8 * 120)  # no churn: capped
    assert inbound["ltv_capped"]
    assert inbound["contribution"] == pytest.approx(4_800 - 36_000 - 600)
    assert inbound["roi"] == pytest.approx(-31_800 / 36_600)
    # Partner: commission 3k on top of 6k S&M for 2 customers.
    assert partner["cac"] == pytest.approx(3_000)
    assert partner["cac_after_partner_commission"] == pytest.approx(4_500)
    assert partner["acquisition_cost"] == pytest.approx(9_000)
    assert partner["cac_payback_months"] == pytest.approx(4_500 / 800)
    assert partner["monthly_churn_frac"] == pytest.approx(0.5)
    assert partner["ltv"] == pytest.approx(800 / 0.5)
    assert partner["ltv_to_cac"] == pytest.approx(1_600 / 4_500)
    assert partner["contribution"] == pytest.approx(1_600 - 6_000 - 200 - 3_000)
    # Installed base: no acquisition ratios, contribution kept.
    assert math.isnan(base["cac"]) and math.isnan(base["ltv_to_cac"])
    assert base["ltv"] == pytest.approx(500 * 0.8 * 120)  # ARPA 100k ÷ 200; no churn: capped
    assert base["contribution"] == pytest.approx(70_000)
    assert base["roi"] == pytest.approx(7.0)


def test_unit_economics_total_row_from_monthly():
    ch = channel_frame()
    monthly = ch.drop(columns="channel").groupby("month").sum().reset_index()
    u = m.unit_economics(ch, "channel", monthly=monthly)
    assert u.loc["total", "new_customers"] == 6
    assert u.loc["total", "contribution"] == pytest.approx(-31_800 - 7_600 + 70_000)


def test_unit_economics_rejects_unknown_dim():
    with pytest.raises(ValueError, match="dim"):
        m.unit_economics(channel_frame(), "region")


def test_customer_break_even_by_segment():
    rows = [
        # segment, new, churned, customer-months, revenue, cogs, mkt, sales, cs, partner
        ("smb", 10, 5, 100, 50_000, 10_000, 10_000, 8_000, 10_000, 2_000),
        ("enterprise", 1, 0, 20, 40_000, 8_000, 40_000, 60_000, 12_000, 0),
        ("mid_market", 1, 2, 20, 40_000, 10_000, 10_000, 20_000, 10_000, 0),
        ("loss", 1, 1, 10, 1_000, 1_000, 1_000, 1_000, 1_000, 0),
    ]
    cols = [
        "segment",
        "new_customers",
        "churned_customers",
        "customers",
        "revenue",
        "cogs",
        "marketing_cost",
        "sales_cost",
        "customer_success_cost",
        "partner_cost",
    ]
    b = m.customer_break_even(pd.DataFrame(rows, columns=cols).assign(month=1))
    smb = b.loc["smb"]
    assert smb["cac"] == pytest.approx(2_000)
    assert smb["revenue_per_customer_month"] == pytest.approx(500)
    assert smb["serve_cost_per_customer_month"] == pytest.approx(100)
    assert smb["cs_cost_per_customer_month"] == pytest.approx(100)
    assert smb["months_to_recover"] == pytest.approx(2_000 / 300)
    assert smb["expected_lifetime_months"] == pytest.approx(20)
    assert smb["recovers"]
    ent = b.loc["enterprise"]  # 100 months to recover, no churn observed
    assert ent["months_to_recover"] == pytest.approx(100)
    assert math.isnan(ent["expected_lifetime_months"]) and ent["lifetime_unbounded"]
    assert ent["recovers"]
    mid = b.loc["mid_market"]  # 30 months to recover, 10-month lifetime
    assert mid["months_to_recover"] == pytest.approx(30)
    assert mid["expected_lifetime_months"] == pytest.approx(10)
    assert not mid["recovers"]
    loss = b.loc["loss"]  # margin per customer-month is negative: never recovers
    assert math.isnan(loss["months_to_recover"]) and not loss["recovers"]


# --------------------------------------------------------------------------- cohorts and funnel


def test_cohort_retention_by_quarter(cohorts):
    logo, revenue = m.cohort_retention(cohorts, by="quarter")
    assert list(logo.index) == ["installed base", "Q2", "Q5"]
    assert logo.columns.name == "quarters_since_acquisition"
    assert logo.loc["installed base", 0] == 1.0
    assert logo.loc["installed base", 2] == pytest.approx(0.9)  # month 6
    assert revenue.loc["installed base", 4] == pytest.approx(1_110_000 / 1_200_000)  # month 12
    assert revenue.loc["Q2", 4] == pytest.approx(1.5)  # month 17: +50k on 100k
    assert logo.loc["Q2", 5] == pytest.approx(0.8)  # month 20
    assert revenue.loc["Q2", 5] == pytest.approx(1.2)
    # Cohort 14 is observed for 10 months: ages 0..3 only.
    assert logo.loc["Q5"].notna().sum() == 4


def test_cohort_retention_pools_a_quarter_by_age():
    cohorts = cohort_frame(
        {1: (10.0, 100.0), 2: (20.0, 400.0)},
        {
            (1, 3): ev(churned_customers=1.0, churned_arr=10.0),
            (2, 4): ev(churned_customers=4.0, churned_arr=100.0),
        },
        5,
    )
    logo, revenue = m.cohort_retention(cohorts, by="quarter")
    # Age 1 = cohort 1 at month 4 (9) + cohort 2 at month 5 (16), of 30 at start.
    assert logo.loc["Q1", 1] == pytest.approx(25 / 30)
    assert revenue.loc["Q1", 1] == pytest.approx((90 + 300) / 500)
    logo_m, _ = m.cohort_retention(cohorts, by="month")
    assert list(logo_m.index) == ["M1", "M2"]
    assert logo_m.loc["M1", 2] == pytest.approx(0.9)
    assert logo_m.loc["M2", 2] == pytest.approx(0.8)
    assert math.isnan(logo_m.loc["M2", 4])  # not observed that long


def test_funnel_yearly():
    df = build_monthly()
    df["leads"] = 100.0
    df["opportunities"] = 25.0
    df["deals_won"] = 5.0
    df["deals_lost"] = 10.0
    df["leads_lost_waiting"] = 2.0
    df["list_arr_won"] = 60_000.0
    df["discount_usd"] = 6_000.0
    df["sales_cycle_days_sum"] = 900.0
    df["ae_utilization"] = np.where(df["month"] <= 12, 0.5, 0.9)
    df["ae_wait_days"] = 4.0
    df.loc[df["month"] == 1, "ae_wait_days"] = np.nan
    df["onboarding_utilization"] = 0.3
    df["onboarding_wait_days"] = 1.0
    f = m.funnel(df)
    assert list(f.index) == [1, 2]
    assert f.loc[1, "leads"] == 1_200
    assert f.loc[1, "lead_to_opp_frac"] == pytest.approx(0.25)
    assert f.loc[1, "win_rate_frac"] == pytest.approx(1 / 3)
    assert f.loc[1, "avg_discount_frac"] == pytest.approx(0.1)
    assert f.loc[1, "avg_sales_cycle_days"] == pytest.approx(60)
    assert f.loc[2, "ae_utilization"] == pytest.approx(0.9)
    assert f.loc[1, "ae_wait_days"] == pytest.approx(4.0)
    assert f.loc[2, "leads_lost_waiting"] == 24


# --------------------------------------------------------------------------- headline and targets


def test_headline_kpis(cohorts):
    k = m.headline_kpis(trough_monthly(), cohorts, INITIAL, 0.0)
    assert k["revenue_total"] == pytest.approx(2_400_000)
    assert k["operating_profit_total"] == pytest.approx(132_000)
    assert k["npv_operating_profit"] == pytest.approx(132_000)
    assert k["ending_cash"] == pytest.approx(232_000)
    assert (k["cash_trough"], k["cash_trough_month"]) == (pytest.approx(-146_000), 3)
    assert k["ending_arr"] == pytest.approx(1_200_000 + 24 * 19_000)
    assert k["net_new_arr_total"] == pytest.approx(24 * 19_000)
    assert k["nrr_last_year"] == pytest.approx(1_175_000 / 1_210_000)
    assert k["grr_last_year"] == pytest.approx(1_125_000 / 1_210_000)
    assert k["cac_payback_months"] == pytest.approx(25_000 / 800)
    assert k["ending_customers"] == 124
    assert k["gross_margin_frac"] == pytest.approx(0.8)


TARGETS = [
    {"name": "NNARR y1", "metric": "net_new_arr", "year": 1, "op": ">=", "value": 200_000},
    {"name": "Profit", "metric": "operating_profit", "year": None, "op": ">=", "value": 150_000},
    {"name": "Loss cap y1", "metric": "operating_profit", "year": 1, "op": "<=", "value": 0},
    {"name": "Rev y2", "metric": "revenue", "year": 2, "op": ">=", "value": 1_200_000},
    {"name": "ARR", "metric": "ending_arr", "year": None, "op": ">=", "value": 1_700_000},
    {"name": "NRR y2", "metric": "nrr", "year": 2, "op": ">=", "value": 0.95},
    {"name": "GRR y1", "metric": "grr", "year": 1, "op": ">=", "value": 0.9},
    {"name": "Cash", "metric": "cash_floor", "year": None, "op": ">=", "value": 0},
    {"name": "Cash y2", "metric": "cash_floor", "year": 2, "op": ">=", "value": 0},
    {"name": "Beyond", "metric": "revenue", "year": 3, "op": ">=", "value": 0},
]


def test_target_attainment(cohorts):
    a = target_attainment(trough_monthly(), cohorts, INITIAL, TARGETS).set_index("name")
    expected = {
        "NNARR y1": (228_000, True),
        "Profit": (132_000, False),
        "Loss cap y1": (-84_000, True),
        "Rev y2": (1_200_000, True),  # equality counts as hit
        "ARR": (1_656_000, False),
        "NRR y2": (1_175_000 / 1_210_000, True),
        "GRR y1": (0.875, False),
        "Cash": (-146_000, False),
        "Cash y2": (16_000 + 18_000, True),  # month 13
    }
    for name, (actual, hit) in expected.items():
        assert a.loc[name, "actual"] == pytest.approx(actual), name
        assert a.loc[name, "hit"] == hit, name
    assert math.isnan(a.loc["Beyond", "actual"]) and not a.loc["Beyond", "hit"]
    assert pd.isna(a.loc["Profit", "year"])


def test_target_attainment_rejects_unknown_metric(cohorts):
    bad = [{"name": "x", "metric": "ebitda", "year": None, "op": ">=", "value": 0}]
    with pytest.raises(ValueError, match="ebitda"):
        target_attainment(trough_monthly(), cohorts, INITIAL, bad)


def test_target_probability():
    frames = []
    for rep, (arr, cash) in enumerate([(10, -5), (20, 5), (30, 15), (40, 25), (50, 35)]):
        frames.append(
            pd.DataFrame(
                {
                    "name": ["ARR", "Cash"],
                    "metric": ["ending_arr", "cash_floor"],
                    "year": pd.array([2, None], dtype="Int64"),
                    "op": [">=", ">="],
                    "target": [25.0, 0.0],
                    "actual": [float(arr), float(cash)],
                    "hit": [arr >= 25, cash >= 0],
                    "replication": rep,
                }
            )
        )
    p = m.target_probability(pd.concat(frames, ignore_index=True)).set_index("name")
    assert p.loc["ARR", "probability"] == pytest.approx(0.6)
    assert p.loc["Cash", "probability"] == pytest.approx(0.8)
    assert p.loc["ARR", "p50"] == pytest.approx(30)
    assert p.loc["ARR", "p10"] == pytest.approx(14)  # linear interpolation
    assert p.loc["Cash", "p90"] == pytest.approx(31)
    assert p.loc["Cash", "replications"] == 5
    assert pd.isna(p.loc["Cash", "year"])


def test_quantile_bands():
    reps = np.arange(11)
    long_df = pd.concat(
        [
            pd.DataFrame(
                {
                    "replication": reps,
                    "month": mo,
                    "arr": 100.0 * mo + reps,
                    "cash_balance": -reps.astype(float),
                }
            )
            for mo in (1, 2)
        ],
        ignore_index=True,
    )
    b = m.quantile_bands(long_df, ["arr", "cash_balance"])
    assert list(b.columns) == ["month", "measure", "p10", "p50", "p90", "mean"]
    assert list(b["measure"]) == ["arr", "cash_balance", "arr", "cash_balance"]
    row = b[(b["month"] == 2) & (b["measure"] == "arr")].iloc[0]
    assert (row["p10"], row["p50"], row["p90"], row["mean"]) == (201, 205, 209, 205)
    cash = b[(b["month"] == 1) & (b["measure"] == "cash_balance")].iloc[0]
    assert (cash["p10"], cash["p90"]) == (pytest.approx(-9), pytest.approx(-1))
