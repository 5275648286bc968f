"""SaaS, P&L, cash and unit-economics metrics as pure functions of the ledger tables.

Inputs follow the table contract in METRICS.md: ``monthly`` (one row per month 1..H),
``cohorts`` (long, by acquisition month), ``by_segment`` / ``by_channel`` (long, by group) and
the month-0 ``initial`` dict ``{"arr", "customers", "cash_balance"}``. Only pandas and numpy:
metrics never import the simulation.

Undefined values (a ratio with a zero or negative base, a payback that never happens) are
reported as ``float("nan")``: never ``inf``, never an exception. Fractions carry ``_frac``
(0.85 = 85 %); Rule of 40 is in percentage points (40 = pass).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.bands import quantile_bands, target_probability  # noqa: F401  (re-exported)

NAN = float("nan")
MONTHS_PER_YEAR = 12
MONTHS_PER_QUARTER = 3
RULE_OF_40_THRESHOLD_PCT = 40.0
RULE_OF_40_BASES = {
    "operating_margin": "growth + operating margin",
    "fcf_margin": "growth + free-cash-flow margin",
}
FREQ_MONTHS = {"month": 1, "quarter": MONTHS_PER_QUARTER, "year": MONTHS_PER_YEAR}
TARGET_METRICS = (
    "net_new_arr",
    "operating_profit",
    "revenue",
    "ending_arr",
    "nrr",
    "grr",
    "cash_floor",
)
INSTALLED_BASE = "installed_base"
INSTALLED_BASE_LABEL = "installed base"

# Flows are summed over a period; stocks are taken at the period's last month.
PNL_FLOWS = (
    "revenue",
    "cogs",
    "gross_profit",
    "marketing_cost",
    "sales_cost",
    "customer_success_cost",
    "partner_cost",
    "other_opex",
    "total_cost",
    "operating_profit",
    "billings",
    "cash_collected",
)
PNL_STOCKS = ("cash_balance", "arr")


# --------------------------------------------------------------------------- helpers


def _num(x: Any) -> float:
    """Float of x, NaN for None/NA/non-finite."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return NAN
    return v if math.isfinite(v) else NAN


def _div(num: Any, den: Any) -> float:
    """num / den, NaN when den is zero, either side is NaN, or the result is not finite."""
    n, d = _num(num), _num(den)
    if math.isnan(n) or math.isnan(d) or d == 0:
        return NAN
    return _num(n / d)


def _div_pos(num: Any, den: Any) -> float:
    """num / den, NaN unless den > 0 (for bases that must be positive: customers, cost, ARR)."""
    d = _num(den)
    return _div(num, d) if d > 0 else NAN


def _sdiv(num: pd.Series, den: pd.Series) -> pd.Series:
    """Element-wise num / den with NaN where den <= 0 or the result is not finite."""
    num = num.astype(float)
    den = den.astype(float)
    out = num / den.where(den > 0)
    return out.where(np.isfinite(out))


def _initial(initial: Mapping[str, float] | None, table: pd.DataFrame) -> dict[str, float]:
    """The month-0 dict: the argument if given, else ``table.attrs['initial']``, else empty."""
    if initial is None:
        initial = table.attrs.get("initial") or {}
    return {k: _num(v) for k, v in initial.items()}


def _period(month: pd.Series, freq: str) -> pd.Series:
    """Period number (1-based) of each month for freq month/quarter/year."""
    if freq not in FREQ_MONTHS:
        raise ValueError(f"freq must be one of {sorted(FREQ_MONTHS)}, got {freq!r}")
    return (month.astype(int) - 1) // FREQ_MONTHS[freq] + 1


def _sorted(monthly: pd.DataFrame) -> pd.DataFrame:
    return monthly.sort_values("month").reset_index(drop=True)


def _net_new_arr(df: pd.DataFrame) -> pd.Series:
    """ARR bridge flows: new + expansion − contraction − churned."""
    return df["new_arr"] + df["expansion_arr"] - df["contraction_arr"] - df["churned_arr"]


# --------------------------------------------------------------------------- primitives


def cac(sm_cost: float, new_customers: float) -> float:
    """CAC = sales & marketing cost ÷ new customers (NaN when no new customers)."""
    return _div_pos(sm_cost, new_customers)


def cac_payback_months(cac: float, new_mrr_per_customer: float, gross_margin_frac: float) -> float:
    """Payback = CAC ÷ (new MRR per customer × gross margin) (NaN if that margin is ≤ 0)."""
    return _div_pos(cac, _num(new_mrr_per_customer) * _num(gross_margin_frac))


def ltv(
    arpa_monthly: float,
    gross_margin_frac: float,
    monthly_churn_frac: float,
    cap_months: float = 120,
) -> tuple[float, bool]:
    """LTV = ARPA × GM ÷ monthly churn, lifetime capped at cap_months; returns (value, capped)."""
    margin = _num(arpa_monthly) * _num(gross_margin_frac)
    churn = _num(monthly_churn_frac)
    if math.isnan(margin) or math.isnan(churn) or churn < 0:
        return NAN, False
    if churn == 0 or 1.0 / churn > cap_months:
        return _num(margin * cap_months), True
    return _num(margin / churn), False


def grr(start_arr: float, contraction: float, churn: float) -> float:
    """GRR = (start ARR − contraction − churn) ÷ start ARR (NaN if start ARR ≤ 0)."""
    return _div_pos(_num(start_arr) - _num(contraction) - _num(churn), start_arr)


def nrr(start_arr: float, expansion: float, contraction: float, churn: float) -> float:
    """NRR = (start ARR + expansion − contraction − churn) ÷ start ARR (NaN if start ≤ 0)."""
    return _div_pos(_num(start_arr) + _num(expansion) - _num(contraction) - _num(churn), start_arr)


def magic_number(q_revenue_increase: float, prev_q_sm: float) -> float:
    """Magic number = quarter-on-quarter revenue increase × 4 ÷ prior-quarter S&M cost (one
    quarter's measure: the yearly tables read it at each year's last quarter)."""
    return _div_pos(_num(q_revenue_increase) * 4, prev_q_sm)


def burn_multiple(net_burn: float, net_new_arr: float) -> float:
    """Burn multiple = net burn ÷ net new ARR; NaN ("n/m") when it is not meaningful.

    A business that generates cash (net burn ≤ 0) has no burn to divide: its burn multiple
    is not meaningful, and reads "n/m" next to its free-cash-flow margin (a 0.00× would rank
    a plan losing money but collecting cash with the best). A shrinking ARR base makes the
    ratio meaningless too, hence NaN rather than a negative number.
    """
    burn = _num(net_burn)
    if math.isnan(burn) or burn <= 0:
        return NAN
    return _div_pos(burn, net_new_arr)


def rule_of_40(growth_pct: float, margin_pct: float, basis: str = "operating_margin") -> float:
    """Rule of 40 score = revenue growth % + margin % (basis: operating_margin or fcf_margin)."""
    if basis not in RULE_OF_40_BASES:
        raise ValueError(f"basis must be one of {sorted(RULE_OF_40_BASES)}, got {basis!r}")
    return _num(_num(growth_pct) + _num(margin_pct))


def passes_rule_of_40(score_pct: float) -> bool:
    """True when the Rule of 40 score is ≥ 40 (with 1e-9 tolerance for float sums)."""
    s = _num(score_pct)
    return bool(not math.isnan(s) and s >= RULE_OF_40_THRESHOLD_PCT - 1e-9)


# --------------------------------------------------------------------------- P&L and cash


def pnl(monthly: pd.DataFrame, freq: str = "month") -> pd.DataFrame:
    """P&L by period: flows summed, cash and ARR at period end, margins = profit ÷ revenue."""
    df = _sorted(monthly)
    key = _period(df["month"], freq).rename(freq)
    flows = df[list(PNL_FLOWS)].assign(net_new_arr=_net_new_arr(df)).groupby(key).sum()
    stocks = df[list(PNL_STOCKS)].groupby(key).last()
    months = df["month"].groupby(key).size().rename("months")
    out = pd.concat([flows, stocks, months], axis=1)
    out["gross_margin_frac"] = _sdiv(out["gross_profit"], out["revenue"])
    out["operating_margin_frac"] = _sdiv(out["operating_profit"], out["revenue"])
    order = [
        "months",
        "revenue",
        "cogs",
        "gross_profit",
        "gross_margin_frac",
        "marketing_cost",
        "sales_cost",
        "customer_success_cost",
        "partner_cost",
        "other_opex",
        "total_cost",
        "operating_profit",
        "operating_margin_frac",
        "billings",
        "cash_collected",
        "cash_balance",
        "arr",
        "net_new_arr",
    ]
    return out[order]


def cash_trough(
    monthly: pd.DataFrame, initial: Mapping[str, float] | None = None
) -> dict[str, float | int]:
    """Lowest cash balance over months 0..H and the first month it occurs (0 = the start)."""
    df = _sorted(monthly)
    months = df["month"].astype(int).tolist()
    cash = df["cash_balance"].astype(float).tolist()
    start = _initial(initial, monthly).get("cash_balance", NAN)
    if not math.isnan(start):
        months, cash = [0, *months], [start, *cash]
    series = pd.Series(cash, index=months, dtype=float).dropna()
    if series.empty:
        return {"value": NAN, "month": None}
    return {"value": float(series.min()), "month": int(series.idxmin())}


def break_even(monthly: pd.DataFrame, column: str = "operating_profit") -> dict[str, int | None]:
    """First month with profit > 0, and first month with cumulative profit ≥ 0 (None if never)."""
    df = _sorted(monthly)
    profit = df[column].astype(float)
    first = df.loc[profit > 0, "month"]
    cumulative = df.loc[profit.cumsum() >= 0, "month"]
    return {
        "first_profitable_month": int(first.iloc[0]) if len(first) else None,
        "cumulative_break_even_month": int(cumulative.iloc[0]) if len(cumulative) else None,
    }


def npv(
    monthly: pd.DataFrame, annual_discount_rate_frac: float, column: str = "operating_profit"
) -> float:
    """NPV = Σ cash flow_m ÷ (1 + r)^(m/12), flows at month end (NaN if r ≤ −1)."""
    r = _num(annual_discount_rate_frac)
    if math.isnan(r) or r <= -1:
        return NAN
    m = monthly["month"].astype(float).to_numpy()
    cf = monthly[column].astype(float).to_numpy()
    return _num(np.sum(cf / (1.0 + r) ** (m / MONTHS_PER_YEAR)))


# --------------------------------------------------------------------------- SaaS metrics


def _cohort_panel(cohorts: pd.DataFrame, initial: Mapping[str, float] | None) -> pd.DataFrame:
    """Cohort table with cohort 0's month-0 row added from ``initial`` when it is missing."""
    df = cohorts.copy()
    has_start = ((df["cohort_month"] == 0) & (df["month"] == 0)).any()
    init = _initial(initial, cohorts)
    if not has_start and not math.isnan(init.get("arr", NAN)):
        row = {c: 0.0 for c in df.columns}
        row.update(
            cohort_month=0,
            month=0,
            arr=init["arr"],
            customers=init.get("customers", NAN),
        )
        df = pd.concat([pd.DataFrame([row]), df], ignore_index=True)
    df["cohort_month"] = df["cohort_month"].astype(int)
    df["month"] = df["month"].astype(int)
    return df


def _retention(panel: pd.DataFrame, start_month: int, end_month: int) -> dict[str, float]:
    """NRR, GRR, logo and dollar churn of cohorts acquired by start_month, over (start, end]."""
    base = panel[panel["cohort_month"] <= start_month]
    at_start = base[base["month"] == start_month]
    at_end = base[base["month"] == end_month]
    window = base[(base["month"] > start_month) & (base["month"] <= end_month)]
    start_arr = float(at_start["arr"].sum()) if len(at_start) else NAN
    start_customers = float(at_start["customers"].sum()) if len(at_start) else NAN
    contraction = float(window["contraction_arr"].sum())
    churned = float(window["churned_arr"].sum())
    g = grr(start_arr, contraction, churned)
    return {
        "start_arr": start_arr,
        "nrr": _div_pos(float(at_end["arr"].sum()), start_arr),
        # Flows of customers who expanded and then churned can exceed their start ARR.
        "grr": max(g, 0.0) if not math.isnan(g) else NAN,
        "logo_churn_frac": _div_pos(float(window["churned_customers"].sum()), start_customers),
        "dollar_churn_frac": _div_pos(churned, start_arr),
    }


def _magic_number_at(df: pd.DataFrame, last_month: int) -> float:
    """Magic number of the last complete calendar quarter ending at or before last_month."""
    q_end = (last_month // MONTHS_PER_QUARTER) * MONTHS_PER_QUARTER
    if q_end < 2 * MONTHS_PER_QUARTER:
        return NAN
    rev = df.set_index("month")["revenue"]
    sm = df.set_index("month")["marketing_cost"] + df.set_index("month")["sales_cost"]
    this_q = list(range(q_end - 2, q_end + 1))
    prev_q = list(range(q_end - 5, q_end - 2))
    if not set(this_q + prev_q) <= set(rev.index):
        return NAN
    increase = rev.loc[this_q].sum() - rev.loc[prev_q].sum()
    return magic_number(increase, sm.loc[prev_q].sum())


def saas_metrics(
    monthly: pd.DataFrame,
    cohorts: pd.DataFrame,
    initial: Mapping[str, float] | None = None,
    rule_of_40_basis: str = "operating_margin",
    ltv_cap_months: float = 120,
) -> pd.DataFrame:
    """Yearly SaaS metrics: ARR, TTM NRR/GRR of start-of-year customers, CAC, LTV, efficiency."""
    if rule_of_40_basis not in RULE_OF_40_BASES:
        raise ValueError(f"basis must be one of {sorted(RULE_OF_40_BASES)}")
    df = _sorted(monthly)
    init = _initial(initial, monthly)
    panel = _cohort_panel(cohorts, init)
    year = _period(df["month"], "year")
    rows = []
    prev_revenue_annualised = init.get("arr", NAN)
    prev_arr = init.get("arr", NAN)
    prev_cash = init.get("cash_balance", NAN)
    for y, g in df.groupby(year):
        y = int(y)
        start_month = (y - 1) * MONTHS_PER_YEAR
        end_month = int(g["month"].max())
        n_months = len(g)
        revenue = float(g["revenue"].sum())
        gross_profit = float(g["gross_profit"].sum())
        operating_profit = float(g["operating_profit"].sum())
        sm_cost = float(g["marketing_cost"].sum() + g["sales_cost"].sum())
        new_customers = float(g["new_customers"].sum())
        new_arr = float(g["new_arr"].sum())
        net_new = float(_net_new_arr(g).sum())
        arr_end = float(g["arr"].iloc[-1])
        cash_end = float(g["cash_balance"].iloc[-1])
        customer_months = float(g["customers"].sum())
        gm = _div_pos(gross_profit, revenue)
        op_margin = _div_pos(operating_profit, revenue)
        y_cac = cac(sm_cost, new_customers)
        payback = cac_payback_months(y_cac, _div_pos(new_arr / 12, new_customers), gm)
        monthly_churn = _div_pos(float(g["churned_customers"].sum()), customer_months)
        y_ltv, capped = ltv(_div_pos(revenue, customer_months), gm, monthly_churn, ltv_cap_months)
        cash_change = cash_end - prev_cash
        net_burn = max(-cash_change, 0.0) if not math.isnan(cash_change) else NAN
        revenue_annualised = revenue * MONTHS_PER_YEAR / n_months
        growth = _div_pos(revenue_annualised, prev_revenue_annualised) - 1.0
        fcf_margin = _div_pos(float(g["cash_collected"].sum() - g["total_cost"].sum()), revenue)
        if rule_of_40_basis == "fcf_margin":
            margin = fcf_margin
        else:
            margin = op_margin
        ret = _retention(panel, start_month, end_month)
        rows.append(
            {
                "year": y,
                "months": n_months,
                "arr_start": prev_arr,
                "arr_end": arr_end,
                "mrr_end": arr_end / MONTHS_PER_YEAR,
                "net_new_arr": net_new,
                "nrr": ret["nrr"],
                "grr": ret["grr"],
                "logo_churn_frac": ret["logo_churn_frac"],
                "dollar_churn_frac": ret["dollar_churn_frac"],
                "revenue": revenue,
                "gross_margin_frac": gm,
                "sm_cost": sm_cost,
                "new_customers": new_customers,
                "cac": y_cac,
                "cac_payback_months": payback,
                "monthly_churn_frac": monthly_churn,
                "ltv": y_ltv,
                "ltv_to_cac": _div_pos(y_ltv, y_cac),
                "ltv_capped": capped,
                "magic_number": _magic_number_at(df, end_month),
                "net_burn": net_burn,
                "burn_multiple": burn_multiple(net_burn, net_new),
                "fcf_margin_frac": fcf_margin,
                "revenue_growth_frac": growth,
                "operating_margin_frac": op_margin,
                "rule_of_40": rule_of_40(growth * 100, margin * 100, basis=rule_of_40_basis),
                "rule_of_40_basis": RULE_OF_40_BASES[rule_of_40_basis],
            }
        )
        prev_revenue_annualised = revenue_annualised
        prev_arr = arr_end
        prev_cash = cash_end
    return pd.DataFrame(rows).set_index("year")


# --------------------------------------------------------------------------- unit economics


def unit_economics(
    by_dim: pd.DataFrame,
    dim: str,
    monthly: pd.DataFrame | None = None,
    ltv_cap_months: float = 120,
) -> pd.DataFrame:
    """Per segment/channel over the horizon: CAC, payback, LTV/CAC, contribution and ROI."""
    if dim not in ("segment", "channel"):
        raise ValueError(f"dim must be 'segment' or 'channel', got {dim!r}")
    cols = [
        "new_customers",
        "new_arr",
        "churned_customers",
        "customers",
        "revenue",
        "cogs",
        "gross_profit",
        "marketing_cost",
        "sales_cost",
        "customer_success_cost",
        "partner_cost",
    ]
    sums = by_dim.groupby(dim, sort=True)[cols].sum()
    if monthly is not None:
        sums.loc["total"] = monthly[cols].sum()
    rows = []
    for name, s in sums.iterrows():
        customer_months = s["customers"]
        sm = s["marketing_cost"] + s["sales_cost"]
        acquisition = sm + s["partner_cost"]
        serve_costs = acquisition + s["customer_success_cost"]
        contribution = s["gross_profit"] - serve_costs
        gm = _div_pos(s["gross_profit"], s["revenue"])
        churn = _div_pos(s["churned_customers"], customer_months)
        value, capped = ltv(_div_pos(s["revenue"], customer_months), gm, churn, ltv_cap_months)
        # The installed base was not acquired in the horizon: no acquisition ratios for it.
        acquired = name != INSTALLED_BASE
        full_cac = cac(acquisition, s["new_customers"]) if acquired else NAN
        row = {
            dim: name,
            "new_customers": s["new_customers"],
            "new_arr": s["new_arr"],
            "acquisition_cost": acquisition,
            "cac": cac(sm, s["new_customers"]) if acquired else NAN,
            "cac_after_partner_commission": full_cac,
            "cac_payback_months": cac_payback_months(
                full_cac, _div_pos(s["new_arr"] / 12, s["new_customers"]), gm
            ),
            "gross_margin_frac": gm,
            "monthly_churn_frac": churn,
            "ltv": value,
            "ltv_capped": capped,
            "ltv_to_cac": _div_pos(value, full_cac),
            "contribution": contribution,
            "roi": _div_pos(contribution, serve_costs),
        }
        rows.append(row)
    return pd.DataFrame(rows).set_index(dim)


def segment_economics(
    by_segment: pd.DataFrame,
    by_team: pd.DataFrame,
    team_segments: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """Per segment over the horizon (pooled over whatever replications the tables hold):
    CAC and CAC payback (after partner commission), win rate of deals decided, average
    discount off list of deals won, and its sales team's new ARR per ramped AE-year and
    quota attainment. ``team_segments`` maps each team to the segments it covers."""
    cols = ["new_customers", "new_arr", "deals_won", "deals_lost", "list_arr_won",
            "discount_usd", "leads_lost_waiting", "opportunities"]
    econ = unit_economics(by_segment, "segment")
    sums = by_segment.groupby("segment", sort=True)[cols].sum()
    teams = by_team.groupby("team", sort=True)[["new_arr", "ramped_ae", "quota_usd"]].sum()
    rows = []
    for name, s in sums.iterrows():
        team = next((t for t, segs in team_segments.items() if name in segs), None)
        t = teams.loc[team] if team in teams.index else None
        rows.append({
            "segment": name,
            "team": team,
            "new_customers": s["new_customers"],
            "cac": econ.loc[name, "cac_after_partner_commission"],
            "cac_payback_months": econ.loc[name, "cac_payback_months"],
            "win_rate_frac": _div_pos(s["deals_won"], s["deals_won"] + s["deals_lost"]),
            "discount_frac": _div_pos(s["discount_usd"], s["list_arr_won"]),
            "lost_waiting_frac": _div_pos(s["leads_lost_waiting"], s["opportunities"]),
            "new_arr_per_ramped_ae_year": (_div_pos(t["new_arr"], t["ramped_ae"] / MONTHS_PER_YEAR)
                                           if t is not None else NAN),
            "quota_attainment_frac": (_div_pos(t["new_arr"], t["quota_usd"])
                                      if t is not None else NAN),
        })
    return pd.DataFrame(rows).set_index("segment")


def customer_break_even(by_segment: pd.DataFrame) -> pd.DataFrame:
    """Per segment: months for one customer's margin after serve and CS costs to repay its CAC."""
    cols = [
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
    sums = by_segment.groupby("segment", sort=True)[cols].sum()
    rows = []
    for name, s in sums.iterrows():
        cm = s["customers"]
        acquisition = cac(
            s["marketing_cost"] + s["sales_cost"] + s["partner_cost"], s["new_customers"]
        )
        revenue_pcm = _div_pos(s["revenue"], cm)
        serve_pcm = _div_pos(s["cogs"], cm)
        cs_pcm = _div_pos(s["customer_success_cost"], cm)
        churn = _div_pos(s["churned_customers"], cm)
        unbounded = churn == 0
        lifetime = NAN if unbounded else _div_pos(1.0, churn)
        recover = _div_pos(acquisition, revenue_pcm - serve_pcm - cs_pcm)
        if math.isnan(recover):
            recovers = False
        else:
            recovers = bool(unbounded or (not math.isnan(lifetime) and lifetime > recover))
        rows.append(
            {
                "segment": name,
                "cac": acquisition,
                "cs_cost_per_customer_month": cs_pcm,
                "serve_cost_per_customer_month": serve_pcm,
                "revenue_per_customer_month": revenue_pcm,
                "months_to_recover": recover,
                "monthly_churn_frac": churn,
                "expected_lifetime_months": lifetime,
                "lifetime_unbounded": bool(unbounded),
                "recovers": recovers,
            }
        )
    return pd.DataFrame(rows).set_index("segment")


# --------------------------------------------------------------------------- cohorts and funnel


def cohort_retention(
    cohorts: pd.DataFrame,
    by: str = "quarter",
    initial: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(logo, revenue) retention: cohort customers/ARR at each age ÷ at end of acquisition month.

    ``by="month"``: one row per acquisition month, columns months since acquisition.
    ``by="quarter"``: acquisition months pooled by calendar quarter, columns quarters since
    acquisition (each member measured 3q months after its own acquisition month). An age is
    reported only when every member cohort has been observed that long.
    """
    if by not in ("month", "quarter"):
        raise ValueError(f"by must be 'month' or 'quarter', got {by!r}")
    panel = _cohort_panel(cohorts, initial)
    step = 1 if by == "month" else MONTHS_PER_QUARTER
    last_month = int(panel["month"].max())
    panel = panel.assign(age_months=panel["month"] - panel["cohort_month"])
    panel = panel[panel["age_months"] % step == 0]
    panel = panel.assign(age=panel["age_months"] // step)

    def label(c: int) -> str:
        if c == 0:
            return INSTALLED_BASE_LABEL
        if by == "month":
            return f"M{c}"
        return f"Q{(c - 1) // MONTHS_PER_QUARTER + 1}"

    members: dict[str, list[int]] = {}
    for c in sorted(panel["cohort_month"].unique()):
        members.setdefault(label(int(c)), []).append(int(c))
    logo_rows, rev_rows = {}, {}
    for name, cs in members.items():
        sub = panel[panel["cohort_month"].isin(cs)]
        start = sub[sub["age"] == 0]
        start_customers, start_arr = start["customers"].sum(), start["arr"].sum()
        max_age = (last_month - max(cs)) // step
        totals = sub[sub["age"] <= max_age].groupby("age")[["customers", "arr"]].sum()
        totals = totals.reindex(range(max_age + 1), fill_value=0.0)
        logo_rows[name] = _sdiv(totals["customers"], pd.Series(start_customers, totals.index))
        rev_rows[name] = _sdiv(totals["arr"], pd.Series(start_arr, totals.index))
    col_name = "months_since_acquisition" if by == "month" else "quarters_since_acquisition"
    logo = pd.DataFrame(logo_rows).T
    revenue = pd.DataFrame(rev_rows).T
    for t in (logo, revenue):
        t.index.name = "cohort"
        t.columns.name = col_name
    return logo, revenue


def funnel(monthly: pd.DataFrame) -> pd.DataFrame:
    """Yearly funnel: volumes summed, conversion = later stage ÷ earlier, capacity means."""
    df = _sorted(monthly)
    year = _period(df["month"], "year").rename("year")
    sums = (
        df[
            [
                "leads",
                "opportunities",
                "deals_won",
                "deals_lost",
                "leads_lost_waiting",
                "list_arr_won",
                "discount_usd",
                "sales_cycle_days_sum",
            ]
        ]
        .groupby(year)
        .sum()
    )
    means = (
        df[["ae_utilization", "ae_wait_days", "onboarding_utilization", "onboarding_wait_days"]]
        .groupby(year)
        .mean()
    )
    # waits per start: total wait over starts of the year (a mean of monthly means would
    # give a quiet month the weight of a busy one); tables without the counts keep the mean
    for wait, total, starts in (("ae_wait_days", "ae_wait_days_total", "ae_starts"),
                                ("onboarding_wait_days", "onboarding_wait_days_total",
                                 "onboardings_started")):
        if total in df.columns and starts in df.columns:
            sums_w = df[[total, starts]].groupby(year).sum()
            means[wait] = _sdiv(sums_w[total], sums_w[starts])
    closed = sums["deals_won"] + sums["deals_lost"]
    out = pd.DataFrame(
        {
            "leads": sums["leads"],
            "opportunities": sums["opportunities"],
            "lead_to_opp_frac": _sdiv(sums["opportunities"], sums["leads"]),
            "deals_won": sums["deals_won"],
            "deals_lost": sums["deals_lost"],
            "win_rate_frac": _sdiv(sums["deals_won"], closed),
            "avg_discount_frac": _sdiv(sums["discount_usd"], sums["list_arr_won"]),
            "avg_sales_cycle_days": _sdiv(sums["sales_cycle_days_sum"], closed),
            "leads_lost_waiting": sums["leads_lost_waiting"],
        }
    )
    return out.join(means)


# --------------------------------------------------------------------------- headline and targets


def last_full_year(table: pd.DataFrame) -> int:
    """Last year with 12 months in a saas_metrics table, else its last (partial) year."""
    full = table.index[table["months"] == MONTHS_PER_YEAR]
    return int(full.max()) if len(full) else int(table.index.max())


_last_full_year = last_full_year


def headline_kpis(
    monthly: pd.DataFrame,
    cohorts: pd.DataFrame,
    initial: Mapping[str, float] | None,
    annual_discount_rate_frac: float,
    yearly: pd.DataFrame | None = None,
) -> dict[str, float | int | None]:
    """One replication's headline scalars: totals, ending stocks, last-year NRR/GRR, trough, NPV.
    ``yearly``: ``saas_metrics`` of the same tables when already computed."""
    df = _sorted(monthly)
    init = _initial(initial, monthly)
    if yearly is None:
        yearly = saas_metrics(df, cohorts, init)
    last = yearly.loc[_last_full_year(yearly)]
    trough = cash_trough(df, init)
    new_customers = float(df["new_customers"].sum())
    horizon_cac = cac(float(df["marketing_cost"].sum() + df["sales_cost"].sum()), new_customers)
    gm = _div_pos(float(df["gross_profit"].sum()), float(df["revenue"].sum()))
    return {
        "revenue_total": float(df["revenue"].sum()),
        "operating_profit_total": float(df["operating_profit"].sum()),
        "ending_arr": float(df["arr"].iloc[-1]),
        "net_new_arr_total": float(_net_new_arr(df).sum()),
        "nrr_last_year": float(last["nrr"]),
        "grr_last_year": float(last["grr"]),
        "cash_trough": trough["value"],
        "cash_trough_month": trough["month"],
        "ending_cash": float(df["cash_balance"].iloc[-1]),
        "npv_operating_profit": npv(df, annual_discount_rate_frac),
        "cac_payback_months": cac_payback_months(
            horizon_cac, _div_pos(float(df["new_arr"].sum()) / 12, new_customers), gm
        ),
        "ending_customers": float(df["customers"].iloc[-1]),
        "gross_margin_frac": gm,
    }


CFO_KPIS = ("ltv_to_cac_last_year", "burn_multiple_last_year", "fcf_margin_last_year",
            "rule_of_40_last_year", "magic_number_last_year", "first_profitable_month",
            "break_even_month")


def cfo_kpis(monthly: pd.DataFrame, yearly: pd.DataFrame) -> dict[str, float]:
    """One replication's efficiency scalars: LTV/CAC, burn multiple (NaN when the year
    generates cash), free-cash-flow margin and Rule of 40 (points) of the last full year, the
    magic number of that year's last quarter, and the first profitable and cumulative
    break-even months (NaN when never reached)."""
    last = yearly.loc[_last_full_year(yearly)]
    even = break_even(monthly)

    def month(v: int | None) -> float:
        return NAN if v is None else float(v)

    return {
        "ltv_to_cac_last_year": _num(last["ltv_to_cac"]),
        "burn_multiple_last_year": _num(last["burn_multiple"]),
        "fcf_margin_last_year": _num(last["fcf_margin_frac"]),
        "rule_of_40_last_year": _num(last["rule_of_40"]),
        "magic_number_last_year": _num(last["magic_number"]),
        "first_profitable_month": month(even["first_profitable_month"]),
        "break_even_month": month(even["cumulative_break_even_month"]),
    }
