"""Tables of one scenario's result: headline KPIs, the fans, the ARR bridge, the annual P&L,
cash, cohorts, utilisation, unit economics, break-even, the funnel and the targets. Numbers
stay numbers; the only text is labels and the "P50 (P10 – P90)" column a summary carries on
purpose."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from sim.analysis import metrics
from sim.experiments.experiment import ExperimentResult
from sim.kpis import HEADLINE_KPIS, fmt_usd, fmt_value, reached_note
from sim.report.store import json_safe
from sim.scenario.calendar import labels as period_labels
from sim.scenario.calendar import period_table
from sim.scenario.model import Scenario

PNL_LINES = {
    "revenue": "Revenue",
    "cogs": "Cost of revenue",
    "gross_profit": "Gross profit",
    "gross_margin_frac": "Gross margin",
    "marketing_cost": "Marketing (programmes and partner programme)",
    "sales_cost": "Sales (people + commissions)",
    "customer_success_cost": "Customer success and onboarding",
    "partner_cost": "Partner commissions",
    "other_opex": "R&D, G&A and management",
    "total_cost": "Total cost (incl. cost of revenue)",
    "operating_profit": "Operating profit",
    "operating_margin_frac": "Operating margin",
    "billings": "Billings",
    "cash_collected": "Cash collected",
    "cash_balance": "Cash balance, year end",
    "arr": "ARR, year end",
    "net_new_arr": "Net new ARR",
}


MEASURE_LABELS = {"revenue": "Revenue", "operating_profit": "Operating profit",
                  "cash_balance": "Cash balance", "ae_utilization": "Account executives",
                  "onboarding_utilization": "Onboarding team", "arr": "ARR"}


# ---------------------------------------------------------------- one scenario


def headline_table(result: ExperimentResult, kpis: Sequence[str] = HEADLINE_KPIS) -> pd.DataFrame:
    """kpi, label, p10, p50, p90, mean and the display text "P50 (P10–P90)"."""
    s = result.kpi_summary.set_index("kpi")
    rows = []
    for k in kpis:
        if k not in s.index:
            continue
        r = s.loc[k]
        rows.append({"kpi": k, "label": r["label"], "p10": r["p10"], "p50": r["p50"],
                     "p90": r["p90"], "mean": r["mean"],
                     "text": f"{fmt_value(k, r['p50'])} ({fmt_value(k, r['p10'])} – "
                             f"{fmt_value(k, r['p90'])})"
                             + reached_note(k, r.get("n"), result.replications)})
    return pd.DataFrame(rows)


def kpi_record(result: ExperimentResult) -> dict:
    """All KPI quantiles plus identity (scenario, hash, seed, replications), JSON-safe."""
    s = result.kpi_summary.set_index("kpi")
    return json_safe({
        "scenario": result.name, "scenario_hash": result.hash, "seed": result.seed,
        "replications": result.replications, "months": result.scenario.horizon_months,
        "kpis": {k: {c: s.loc[k, c] for c in ("label", "p10", "p50", "p90", "mean")}
                 for k in s.index},
    })



def kpi_summary_table(result: ExperimentResult) -> pd.DataFrame:
    """KPI (label), P10, P50, P90 and mean of every KPI (numbers, for Excel)."""
    return result.kpi_summary[["label", "p10", "p50", "p90", "mean"]].rename(
        columns={"label": "KPI", "p10": "P10", "p50": "P50", "p90": "P90", "mean": "Mean"})


def month_labels(result_or_scenario: ExperimentResult | Scenario) -> dict[int, str] | None:
    """Calendar label of each plan month ("Feb 2026"; month 0: "Start") when the scenario has
    a calendar, else None (charts then say "Month of plan")."""
    sc = getattr(result_or_scenario, "scenario", result_or_scenario)
    if sc.calendar is None:
        return None
    out = {0: "Start"}
    out.update(period_labels(sc.horizon_months, sc.calendar, "month").to_dict())
    return out


def fan_table(result: ExperimentResult,
              measures: Sequence[str] = ("operating_profit", "revenue")) -> pd.DataFrame:
    """month, measure (label), p10, p50, p90 of the chosen measures, in their order."""
    b = result.bands
    b = b[b["measure"].isin(measures)].copy()
    b["_order"] = b["measure"].map({m: i for i, m in enumerate(measures)})
    b = b.sort_values(["_order", "month"], kind="stable").drop(columns="_order")
    b["measure"] = b["measure"].map(lambda m: MEASURE_LABELS.get(m, m))
    return b.reset_index(drop=True)


def _years(monthly: pd.DataFrame) -> pd.Series:
    return (monthly["month"] - 1) // 12 + 1


def reporting_years(result: ExperimentResult, scenario: Scenario | None = None
                     ) -> tuple[pd.DataFrame, Callable[[int], str]]:
    """The monthly table with its months shifted so that 12-month groups (``_years``,
    ``metrics``' "year") are the scenario's reporting years: plan years, or fiscal years
    when it has a calendar (the first and last may be part-years); and the label of group y
    ("Year 1", "FY2027"). ``scenario``: whose calendar (default: the result's own; a
    comparison groups every plan by the base's)."""
    sc = scenario if scenario is not None else result.scenario
    if sc.calendar is None:
        return result.monthly, lambda y: f"Year {int(y)}"
    first = period_table(1, sc.calendar).iloc[0]
    offset = int((first["calendar_month"] - sc.calendar.fiscal_year_start_month) % 12)
    # labels as far as this result runs (a compared plan may run longer than the base)
    months = max(sc.horizon_months, int(result.monthly["month"].max()))
    fy = period_labels(months + 12, sc.calendar, "year")
    shifted = result.monthly.assign(month=result.monthly["month"] + offset)
    return shifted, lambda y: fy[(int(y) - 1) * 12 - offset + 1 if int(y) > 1 else 1]


def _short(label: str) -> str:
    """"Year 1" → "Y1" for step labels; "FY2027" stays."""
    return label.replace("Year ", "Y")


def arr_bridge_table(result: ExperimentResult) -> pd.DataFrame:
    """Waterfall steps: start ARR, then per year (fiscal year with a calendar) new,
    repricing of the installed base at renewal, expansion (seats), −contraction, −churn and
    the year-end ARR (means across replications). Repricing is the by-channel
    ``repricing_arr`` (part of ``expansion_arr``); a result saved without it shows none."""
    monthly, name = reporting_years(result)
    shift = int(monthly["month"].iloc[0] - result.monthly["month"].iloc[0])  # fiscal years
    ch = result.by_channel
    rep = (ch.groupby(["replication", "month"], as_index=False)["repricing_arr"].sum()
           if "repricing_arr" in ch else monthly[["replication", "month"]].assign(
               repricing_arr=0.0))
    m = monthly.merge(rep.assign(month=rep["month"] + shift), on=["replication", "month"],
                      how="left").fillna({"repricing_arr": 0.0})
    m = m.assign(year=_years(m), expansion_arr=m["expansion_arr"] - m["repricing_arr"])
    flows = m.groupby(["replication", "year"])[
        ["new_arr", "repricing_arr", "expansion_arr", "contraction_arr", "churned_arr"]].sum()
    end = m.sort_values("month").groupby(["replication", "year"])["arr"].last()
    yearly = flows.join(end).groupby("year").mean()
    start = float(result.initial["arr"].mean())
    rows = [{"step": "Start ARR", "start": 0.0, "end": start, "amount": start, "kind": "total"}]
    level = start
    steps = (("new_arr", "new", 1), ("repricing_arr", "repricing", 1),
             ("expansion_arr", "expansion", 1),
             ("contraction_arr", "contraction", -1), ("churned_arr", "churn", -1))
    for year, y in yearly.iterrows():
        for col, label, sign in steps:
            amount = sign * float(y[col])
            rows.append({"step": f"{_short(name(year))} {label}", "start": level,
                         "end": level + amount,
                         "amount": amount, "kind": "increase" if sign > 0 else "decrease"})
            level += amount
        level = float(y["arr"])
        rows.append({"step": f"{_short(name(year))} end ARR", "start": 0.0, "end": level,
                     "amount": level,
                     "kind": "total"})
    df = pd.DataFrame(rows)
    df["order"] = range(len(df))
    df["top"] = df[["start", "end"]].max(axis=1)
    return df


def mean_annual_pnl(result: ExperimentResult, scenario: Scenario | None = None) -> pd.DataFrame:
    """Mean P&L per reporting year (index: group 1, 2, ...; see ``reporting_years``)."""
    monthly, _ = reporting_years(result, scenario)
    p = pd.concat([metrics.pnl(g.drop(columns="replication"), "year")
                   for _, g in monthly.groupby("replication", sort=True)])
    return p.groupby(level=0).mean(numeric_only=True)


def annual_pnl_table(result: ExperimentResult) -> pd.DataFrame:
    """Mean annual P&L: one row per line item, one column per plan year, or per fiscal year
    ("FY2027") when the scenario has a calendar (USD; margins 0–1: the mean P&L's, mean
    profit ÷ mean revenue, as the workbook's ratio formulas compute them)."""
    p = mean_annual_pnl(result)
    revenue = p["revenue"].where(p["revenue"] != 0)
    p["gross_margin_frac"] = p["gross_profit"] / revenue
    p["operating_margin_frac"] = p["operating_profit"] / revenue
    name = reporting_years(result)[1]
    names = {y: name(y) for y in p.index}
    cols = [c for c in PNL_LINES if c in p.columns]
    t = p[cols].T
    t.index = [PNL_LINES[c] for c in cols]
    t.columns = [names[y] + ("" if p.loc[y, "months"] == 12 else
                             f" ({int(p.loc[y, 'months'])} mo)") for y in p.index]
    t.index.name = "USD"
    return t


def cash_tables(result: ExperimentResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bands of the cash balance from month 0, the lowest P50 point with its label)."""
    b = fan_table(result, ["cash_balance"])
    start = float(result.initial["cash_balance"].mean())
    b0 = pd.DataFrame([{"month": 0, "measure": b["measure"].iloc[0], "p10": start, "p50": start,
                        "p90": start, "mean": start}])
    b = pd.concat([b0, b], ignore_index=True)
    # the trough marked is the KPI table's: the P50 of each run's lowest balance, at the
    # median month runs hit it (one cash trough number per page, not the P50 line's low)
    value = float(result.kpi_summary.set_index("kpi").loc["cash_trough", "p50"])
    month = int(round(float(result.kpis["cash_trough_month"].median()))) \
        if "cash_trough_month" in result.kpis else int(b.loc[int(b["p50"].idxmin()), "month"])
    trough = pd.DataFrame([{"month": month, "value": value,
                            "label": f"Cash trough P50 {fmt_usd(value)} (month {month})"}])
    return b, trough


COHORT_MEASURES = {"logo": "Customers (logo retention)", "revenue": "ARR (revenue retention)"}


def cohort_table(result: ExperimentResult) -> pd.DataFrame:
    """Cohort retention by quarter of acquisition, median across replications (long):
    cohort (label; calendar quarter when the scenario has a calendar), cohort_order, age
    (quarters since acquisition), measure (label), value (share of the cohort's customers or
    ARR at acquisition still there)."""
    init = result.initial.set_index("replication")
    parts = []
    for r, c in result.cohorts.groupby("replication", sort=True):
        logo, revenue = metrics.cohort_retention(c.drop(columns="replication"), "quarter",
                                                 init.loc[r].to_dict())
        for key, t in (("logo", logo), ("revenue", revenue)):
            long = t.stack().rename("value").reset_index()
            long.columns = ["cohort", "age", "value"]
            long = long.dropna(subset=["value"])  # ages a cohort has not reached yet
            parts.append(long.assign(measure=COHORT_MEASURES[key]))
    df = pd.concat(parts, ignore_index=True)
    out = df.groupby(["measure", "cohort", "age"], sort=False)["value"].median().reset_index()
    cohorts = list(dict.fromkeys(df["cohort"]))
    out["cohort_order"] = out["cohort"].map({c: i for i, c in enumerate(cohorts)})
    sc = result.scenario
    if sc.calendar is not None:
        quarters = period_labels(sc.horizon_months, sc.calendar, "quarter")
        rename = {c: quarters[3 * int(c[1:]) - 2] for c in cohorts
                  if c.startswith("Q") and c[1:].isdigit() and 3 * int(c[1:]) - 2 in quarters}
        out["cohort"] = out["cohort"].replace(rename)
    out["age"] = out["age"].astype(int)
    return out.sort_values(["cohort_order", "age"], kind="stable").reset_index(drop=True)


def utilisation_table(result: ExperimentResult) -> pd.DataFrame:
    """month, measure (team), p10, p50, p90 of sales and onboarding utilisation."""
    return fan_table(result, ["ae_utilization", "onboarding_utilization"])


def _per_replication(result: ExperimentResult, dim: str | None, fn) -> pd.DataFrame:
    parts = []
    monthly = dict(tuple(result.monthly.groupby("replication")))
    by = dict(tuple(getattr(result, f"by_{dim}").groupby("replication"))) if dim else None
    for r, mon in monthly.items():
        out = fn(mon.drop(columns="replication"),
                 by[r].drop(columns="replication") if by is not None else None)
        parts.append(out)
    return pd.concat(parts)


UNIT_COLUMNS = {"new_customers": "New customers", "new_arr": "New ARR",
                "cac_after_partner_commission": "CAC (incl. partner commission)",
                "cac_payback_months": "CAC payback (months)", "ltv": "LTV",
                "ltv_to_cac": "LTV / CAC", "contribution": "Contribution", "roi": "ROI"}


def unit_economics_table(result: ExperimentResult, dim: str = "segment") -> pd.DataFrame:
    """Per segment or channel (and total): median across replications of CAC, payback,
    LTV/CAC, contribution and ROI."""
    df = _per_replication(result, dim, lambda mon, by: metrics.unit_economics(by, dim, mon))
    cols = list(UNIT_COLUMNS)
    out = df[cols].astype(float).groupby(level=0, sort=False).median()
    return out.rename(columns=UNIT_COLUMNS)


BREAK_EVEN_COLUMNS = {"cac": "CAC", "revenue_per_customer_month": "Revenue per customer-month",
                      "serve_cost_per_customer_month": "Serve cost per customer-month",
                      "cs_cost_per_customer_month": "CS cost per customer-month",
                      "months_to_recover": "Months to recover CAC",
                      "expected_lifetime_months": "Lifetime at the plan's churn rate (months)"}


def break_even_table(result: ExperimentResult) -> pd.DataFrame:
    """Per segment: median months for one customer to repay what it cost to win and serve."""
    df = _per_replication(result, "segment", lambda mon, by: metrics.customer_break_even(by))
    out = df[list(BREAK_EVEN_COLUMNS)].astype(float).groupby(level=0, sort=False).median()
    out["Share of replications that recover"] = df["recovers"].astype(float).groupby(
        level=0, sort=False).mean()
    return out.rename(columns=BREAK_EVEN_COLUMNS)


def implied_retention_table(result_or_scenario: ExperimentResult | Scenario) -> pd.DataFrame:
    """Per segment, from the scenario's churn inputs alone: the share of a new cohort still
    customers after 6-60 months and the expected lifetime (truncated at ten years)."""
    from sim.engine.retention_math import CURVE_MONTHS, LIFETIME_CAP_MONTHS, implied_retention

    sc = getattr(result_or_scenario, "scenario", result_or_scenario)
    t = pd.DataFrame.from_dict(implied_retention(sc), orient="index")
    t.index.name = "segment"
    names = {f"retained_{m}m_frac": f"Retained after {m} months" for m in CURVE_MONTHS}
    names["expected_lifetime_months"] = (
        f"Expected lifetime (months, capped at {LIFETIME_CAP_MONTHS})")
    return t.rename(columns=names)


FUNNEL_COLUMNS = {"leads": "Leads", "opportunities": "Opportunities",
                  "lead_to_opp_frac": "Lead → opportunity", "deals_won": "Deals won",
                  "win_rate_frac": "Win rate", "avg_discount_frac": "Average discount",
                  "avg_sales_cycle_days": "Sales cycle (days)",
                  "leads_lost_waiting": "Leads gone cold", "ae_utilization": "AE utilisation",
                  "onboarding_utilization": "Onboarding utilisation",
                  "onboarding_wait_days": "Onboarding wait (days)"}


def funnel_table(result: ExperimentResult) -> pd.DataFrame:
    """Per year: funnel volumes and conversions, capacity use (means across replications)."""
    monthly, name = reporting_years(result)
    df = pd.concat([metrics.funnel(g.drop(columns="replication"))
                    for _, g in monthly.groupby("replication", sort=True)])
    cols = [c for c in FUNNEL_COLUMNS if c in df.columns]
    out = df[cols].astype(float).groupby(level=0).mean()
    out.index = [name(y) for y in out.index]
    return out.rename(columns=FUNNEL_COLUMNS)


def targets_table(result: ExperimentResult) -> pd.DataFrame:
    """name, metric, probability (0–1) with its 95% interval (probability_low/high), target
    and the P10/P50/P90 of the actual value."""
    cols = ["name", "metric", "probability", "probability_low", "probability_high", "target",
            "p10", "p50", "p90"]
    t = result.target_summary
    if t.empty:
        return pd.DataFrame(columns=cols)
    return t[[c for c in cols if c in t.columns]].reset_index(drop=True)
