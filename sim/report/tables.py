"""Table shaping: tidy DataFrames from results, shared by the notebook cells, the charts, the
Excel workbook, the index page and the CLI. Numbers stay numbers; the only text is labels and
the "P50 (P10 – P90)" column a summary carries on purpose."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import metrics
from sim.experiments.experiment import CompareResult, ExperimentResult, paired_deltas
from sim.kpis import (
    COMPARE_KPIS,
    HEADLINE_KPIS,
    KPIS,
    decision_rank,
    fmt_lever,
    fmt_usd,
    fmt_value,
    short_label,
)
from sim.kpis import label as kpi_label
from sim.report.store import json_safe
from sim.scenario.calendar import labels as period_labels
from sim.scenario.calendar import period_table
from sim.scenario.io import scenario_to_dict
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
                             f"{fmt_value(k, r['p90'])})"})
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


def _reporting_years(result: ExperimentResult, scenario: Scenario | None = None
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
    expansion, −contraction, −churn and the year-end ARR (means across replications)."""
    monthly, name = _reporting_years(result)
    m = monthly.assign(year=_years(monthly))
    flows = m.groupby(["replication", "year"])[
        ["new_arr", "expansion_arr", "contraction_arr", "churned_arr"]].sum()
    end = m.sort_values("month").groupby(["replication", "year"])["arr"].last()
    yearly = flows.join(end).groupby("year").mean()
    start = float(result.initial["arr"].mean())
    rows = [{"step": "Start ARR", "start": 0.0, "end": start, "amount": start, "kind": "total"}]
    level = start
    steps = (("new_arr", "new", 1), ("expansion_arr", "expansion", 1),
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


def _annual_pnl(result: ExperimentResult, scenario: Scenario | None = None) -> pd.DataFrame:
    """Mean P&L per reporting year (index: group 1, 2, ...; see ``_reporting_years``)."""
    monthly, _ = _reporting_years(result, scenario)
    p = pd.concat([metrics.pnl(g.drop(columns="replication"), "year")
                   for _, g in monthly.groupby("replication", sort=True)])
    return p.groupby(level=0).mean(numeric_only=True)


def annual_pnl_table(result: ExperimentResult) -> pd.DataFrame:
    """Mean annual P&L: one row per line item, one column per plan year, or per fiscal year
    ("FY2027") when the scenario has a calendar (USD; margins 0–1)."""
    p = _annual_pnl(result)
    name = _reporting_years(result)[1]
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
    i = int(b["p50"].idxmin())
    low = b.loc[i]
    trough = pd.DataFrame([{"month": int(low["month"]), "value": float(low["p50"]),
                            "label": f"Trough {fmt_usd(low['p50'])} (month {int(low['month'])})"}])
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
    monthly, name = _reporting_years(result)
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


def assumptions_table(scenario: Scenario) -> pd.DataFrame:
    """The resolved scenario flattened to key/value rows (lists indexed: a.b.0.c)."""
    rows = list(_flatten(scenario_to_dict(scenario)))
    return pd.DataFrame(rows, columns=["key", "value"])


def _flatten(data: Any, prefix: str = ""):
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        if not data:
            yield prefix, ""
        for i, v in enumerate(data):
            yield from _flatten(v, f"{prefix}.{i}")
    else:
        yield prefix, data


def levers_table(scenario: Scenario) -> pd.DataFrame:
    """The levers a CRO/CFO moves most, with their values in this scenario."""
    rows = [("Horizon", f"{scenario.horizon_months} months")]
    for seg, p in scenario.pricing.segments.items():
        rows.append((f"List price, {seg}", f"${p.list_price_usd:,.0f} per seat-year"))
        rows.append((f"Discount cap, {seg}", f"{p.discount_cap_frac:.0%}"))
    rows.append(("Annual price uplift at renewal", f"{scenario.pricing.annual_uplift_frac:.1%}"))
    ch = scenario.channels
    rows.append(("Paid marketing budget", f"${ch.inbound.budget_per_month_usd:,.0f} per month"))
    rows.append(("Active partners", f"{ch.partner.active_partners}"))
    rows.append(("Partner commission", f"{ch.partner.commission_frac:.0%} of revenue"))
    for name, team in scenario.sales.teams.items():
        hires = sum(h.add for h in team.hiring_plan)
        extra = f" ({hires:+d} planned)" if hires else ""
        rows.append((f"AEs, {name} team",
                     f"{team.count}{extra}, {team.concurrent_deals_per_ae} deals each"))
    hc = scenario.headcount
    for role in ("sdr", "csm", "onboarding", "management"):
        team = getattr(hc, role, None)
        if team is not None:
            hires = sum(h.add for h in getattr(team, "hiring_plan", None) or [])
            extra = f" ({hires:+d} planned)" if hires else ""
            rows.append((f"Headcount, {role.upper() if len(role) <= 3 else role}",
                         f"{team.count}{extra}"))
    rows.append(("Starting cash", fmt_usd(scenario.finance.starting_cash_usd)))
    rows.append(("Fixed opex", f"${scenario.costs.fixed_opex_per_month_usd:,.0f} per month"))
    return pd.DataFrame(rows, columns=["Lever", "Value"])


# ---------------------------------------------------------------- comparison


def deltas_table(base: ExperimentResult, others: Sequence[ExperimentResult],
                 kpis: Sequence[str] = COMPARE_KPIS) -> pd.DataFrame:
    """Paired per-replication differences against ``base`` (same columns as ``compare``)."""
    return paired_deltas(base, others, kpis)


def compare_kpi_table(cmp: CompareResult,
                      kpis: Sequence[str] = ("operating_profit_total", "revenue_total")
                      ) -> pd.DataFrame:
    """scenario, kpi (label), p10, p50, p90 per scenario and KPI."""
    rows = []
    for r in cmp.results:
        s = r.kpi_summary.set_index("kpi")
        for k in kpis:
            rows.append({"scenario": r.name, "kpi": kpi_label(k),
                         **{c: float(s.loc[k, c]) for c in ("p10", "p50", "p90", "mean")}})
    return pd.DataFrame(rows)


def compare_deltas_table(cmp: CompareResult) -> pd.DataFrame:
    """Deltas with a readable KPI label and a better/worse direction (from the catalogue),
    KPIs in the catalogue's decision order (operating profit first), scenarios as run."""
    d = cmp.deltas.copy()
    if d.empty:
        return d
    d["kpi_rank"] = d["kpi"].map(decision_rank)
    d = d.sort_values("kpi_rank", kind="stable").reset_index(drop=True)
    d["kpi_name"] = d["kpi"]
    d["kpi"] = d["label"]
    higher = d["kpi_name"].map(lambda k: KPIS[k].higher_is_better if k in KPIS else True)
    better = np.where(higher, d["mean_delta"] >= 0, d["mean_delta"] <= 0)
    d["direction"] = np.where(better, "better", "worse")
    return d


def pnl_differences_table(cmp: CompareResult) -> pd.DataFrame:
    """Mean annual P&L of each scenario minus the base: scenario, year ("Year 1", or the
    fiscal year "FY2027" when the base has a calendar) and main lines."""
    if not cmp.others:
        return pd.DataFrame()
    base = _annual_pnl(cmp.base)
    longest = max(cmp.results, key=lambda r: int(r.monthly["month"].max()))
    name = _reporting_years(longest, cmp.base.scenario)[1]
    parts = []
    for o in cmp.others:
        diff = _annual_pnl(o, cmp.base.scenario) - base
        parts.append(diff.reset_index(names="year").assign(
            scenario=o.name, year=lambda x: [name(y) for y in x["year"]]))
    d = pd.concat(parts, ignore_index=True)
    cols = ["revenue", "gross_profit", "total_cost", "operating_profit", "cash_balance", "arr",
            "net_new_arr"]
    t = d[["scenario", "year", *[c for c in cols if c in d.columns]]]
    return t.rename(columns={c: PNL_LINES[c] for c in cols})


def paths_table(cmp: CompareResult,
                measures: Sequence[str] = ("operating_profit", "revenue")) -> pd.DataFrame:
    """month, scenario, measure (label), p10, p50, p90 for every scenario."""
    return pd.concat([fan_table(r, measures).assign(scenario=r.name) for r in cmp.results],
                     ignore_index=True)



def kpi_p50_table(results: Sequence[ExperimentResult]) -> pd.DataFrame:
    """P50 of every KPI (rows, by label) for each scenario (columns)."""
    table = pd.concat([r.kpi_summary.set_index("label")["p50"].rename(r.name) for r in results],
                      axis=1)
    table.index.name = "KPI (P50)"
    return table


def assumptions_by_scenario(scenarios: Sequence[Scenario], names: Sequence[str]) -> pd.DataFrame:
    """The resolved assumptions as key rows, one value column per scenario (outer join)."""
    table = None
    for sc, name in zip(scenarios, names, strict=True):
        col = assumptions_table(sc).set_index("key")["value"].rename(name)
        table = col.to_frame() if table is None else table.join(col, how="outer", sort=False)
    table.index.name = "key"
    return table


ASSUMPTION_SECTIONS = {
    "name": "General", "description": "General", "horizon_months": "General",
    "calendar": "General", "segments": "Segments", "pricing": "Pricing",
    "channels": "Channels", "sales": "Sales", "headcount": "Headcount",
    "onboarding": "Onboarding", "customer_success": "Customer success", "costs": "Costs",
    "finance": "Finance", "opening": "Opening", "targets": "Targets",
    "account_plan": "Account plan",
}
"""Section of each top-level scenario key, in the order the assumptions sheet shows them."""
_SECTION_ORDER = list(dict.fromkeys(ASSUMPTION_SECTIONS.values()))
_SUFFIXES = ("_usd", "_frac", "_days")


def assumption_unit(field: str, value: Any) -> str:
    """The unit of a scenario field from its name (``_usd``, ``_frac``, ``_days``, months,
    rates per year or month) or its value (whole numbers are counts, text is text)."""
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, str):
        return "text"
    if field.endswith("_usd") or "_usd_" in field:
        per = " per month" if "per_month" in field else " per year" if "per_year" in field \
            else ""
        return "USD" + per
    if "_frac" in field:
        return "%"
    if field.endswith("_days"):
        return "days"
    if field == "month":
        return "plan month"
    if "months" in field:
        return "months"
    if field.endswith("per_year"):
        return "per year"
    if "per_month" in field:
        return "per month"
    if isinstance(value, int):
        return "count"
    return "number"


def _human(field: str) -> str:
    for suffix in _SUFFIXES:
        if field.endswith(suffix):
            field = field[: -len(suffix)]
    text = field.replace("_frac_of_", "_share_of_").replace("_", " ").strip()
    for short, up in (("sdr", "SDR"), ("csm", "CSM"), ("arr", "ARR"), ("wtp", "WTP"),
                      ("ae", "AE"), ("b", "b (response exponent)")):
        text = " ".join(up if w == short else w for w in text.split(" "))
    return text[:1].upper() + text[1:]


def _model_of(annotation: Any):
    """The pydantic model class inside an annotation (Optional, Annotated), if any."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (dict, list):
        return None
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _item_type(annotation: Any) -> Any:
    """The value type of a ``dict[str, X]`` or ``list[X]`` annotation (through Optional)."""
    import typing

    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return typing.get_args(annotation)[-1]
    for arg in typing.get_args(annotation):
        found = _item_type(arg)
        if found is not None:
            return found
    return None


def _dist_text(value: Mapping) -> str:
    params = ", ".join(f"{k} {fmt_lever(v)}" for k, v in value.items() if k != "dist")
    return f"{value['dist']}({params})"


def _described(value: Any, annotation: Any, field: str, doc: str, keys: list[str],
               labels: list[str]):
    """(dotted key, label, unit, value, note) rows of one scenario value."""
    if isinstance(value, Mapping) and "dist" in value:
        yield ".".join(keys), " › ".join(labels), assumption_unit(field, 0.0), \
            _dist_text(value), doc
        return
    if isinstance(value, Mapping):
        model = _model_of(annotation)
        if model is not None:
            for name, v in value.items():
                info = model.model_fields.get(name)
                yield from _described(v, info.annotation if info else None, name,
                                      " ".join((info.description or "").split()) if info else "",
                                      [*keys, name], [*labels, _human(name)])
            return
        item = _item_type(annotation)
        head = labels[:-1] if field == "segments" else labels  # "smb › List price"
        for k, v in value.items():
            yield from _described(v, item, field, doc, [*keys, str(k)], [*head, str(k)])
        return
    if isinstance(value, list):
        if not value or not all(isinstance(v, Mapping) for v in value):
            text = ", ".join(map(str, value)) if value else "none"
            yield ".".join(keys), " › ".join(labels), "text", text, doc
            return
        item = _item_type(annotation)
        head = labels[-1] if labels else _human(field)
        for i, v in enumerate(value):
            yield from _described(v, item, field, doc, [*keys, str(i)],
                                  [*labels[:-1], f"{head} {i + 1}"])
        return
    yield ".".join(keys), " › ".join(labels), assumption_unit(field, value), value, doc


def assumption_rows(scenario: Scenario) -> pd.DataFrame:
    """The resolved scenario as one row per setting, grouped by section (segments, pricing,
    channels, sales, headcount, onboarding, customer success, costs, finance, opening,
    targets, account plan) in the scenario's own order: section, a readable label
    (``smb › List price``), unit, value (a distribution as ``lognormal(median 60, …)``), the
    field's source or assumption note (its docstring in ``sim.scenario.model``) and the dotted key
    ``--set`` takes."""
    rows = []
    data = scenario_to_dict(scenario)
    for name, value in data.items():
        info = Scenario.model_fields.get(name)
        section = ASSUMPTION_SECTIONS.get(name, "Other")
        doc = " ".join((info.description or "").split()) if info else ""
        labels = [] if section != "General" else [_human(name)]
        for key, label, unit, v, note in _described(value, info.annotation if info else None,
                                                     name, doc, [name], labels):
            rows.append({"section": section, "label": label or _human(name), "unit": unit,
                         "value": v, "note": note, "key": key})
    frame = pd.DataFrame(rows, columns=["section", "label", "unit", "value", "note", "key"])
    order = {s: i for i, s in enumerate([*_SECTION_ORDER, "Other"])}
    frame["_o"] = frame["section"].map(order)
    return frame.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def _same(a: Any, b: Any) -> bool:
    missing = [x is None or (isinstance(x, float) and np.isnan(x)) for x in (a, b)]
    return all(missing) or (not any(missing) and a == b)


def assumptions_grouped(scenarios: Sequence[Scenario], names: Sequence[str]) -> pd.DataFrame:
    """The assumptions of several scenarios side by side: section, label, unit, one value
    column per scenario (outer join on the key, the base's order first), whether any differs
    from the base, the note and the key."""
    frames = [assumption_rows(sc) for sc in scenarios]
    info: dict[str, dict] = {}
    for f in frames:
        for rec in f.to_dict("records"):
            info.setdefault(rec["key"], rec)
    table = pd.DataFrame(list(info.values()))[["section", "label", "unit", "key", "note"]]
    values = [f.set_index("key")["value"] for f in frames]
    for name, v in zip(names, values, strict=True):
        table[name] = table["key"].map(v.to_dict()).astype(object)
    cols = list(names)
    table["differs"] = [
        "yes" if any(not _same(table.at[i, c], table.at[i, cols[0]]) for c in cols[1:]) else ""
        for i in table.index]
    order = {s: i for i, s in enumerate([*_SECTION_ORDER, "Other"])}
    table["_o"] = table["section"].map(order)
    table = table.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    return table[["section", "label", "unit", *cols, "differs", "note", "key"]]


SWEEP_EXTRA = ("win_rate_frac", "new_arr_per_deal", "avg_discount_frac")


def sweep_means_table(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The grid keys, the mean of each KPI (column named by KPI) and win rate / deal size."""
    kpis = [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]
    out = table[[*keys, *(f"{k}_mean" for k in kpis),
                 *(c for c in SWEEP_EXTRA if c in table.columns)]]
    return out.rename(columns={f"{k}_mean": k for k in kpis})



# ---------------------------------------------------------------- pricing what-if


def pricing_curves_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Long table for the curves: price_change_pct, series (cap), measure, mean, p10, p90,
    peak (the best point of each measure over the whole grid)."""
    parts = []
    for kpi in ("revenue_total", "operating_profit_total"):
        label = short_label(kpi)
        best = sweep[f"{kpi}_mean"].idxmax()
        parts.append(pd.DataFrame({
            "price_change_pct": sweep["price_change_pct"],
            "series": [f"Discount cap {c:.0%}" for c in sweep["discount_cap_frac"]],
            "measure": label, "mean": sweep[f"{kpi}_mean"], "p10": sweep[f"{kpi}_p10"],
            "p90": sweep[f"{kpi}_p90"], "peak": sweep.index == best}))
    return pd.concat(parts, ignore_index=True)


def discount_tradeoff_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The discount cap's trade-off at today's list price (or the change nearest 0): per cap,
    win rate, average discount off list, new ARR per deal and operating profit."""
    at = sweep.loc[(sweep["price_change_pct"].abs() == sweep["price_change_pct"].abs().min())]
    rows = []
    for r in at.sort_values("discount_cap_frac").itertuples():
        rows.append({"Discount cap": f"{r.discount_cap_frac:.0%}",
                     "List price change": f"{r.price_change_pct:+.0f}%",
                     "Win rate": f"{r.win_rate_frac:.1%}",
                     "Average discount": f"{r.avg_discount_frac:.1%}",
                     "New ARR per deal": f"${r.new_arr_per_deal:,.0f}",
                     "Operating profit (mean)": fmt_usd(r.operating_profit_total_mean)})
    return pd.DataFrame(rows)


def pricing_peaks_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Where revenue and where operating profit peak on the grid."""
    rows = []
    for kpi in ("revenue_total", "operating_profit_total"):
        label = short_label(kpi)
        r = sweep.loc[sweep[f"{kpi}_mean"].idxmax()]
        rows.append({"Maximises": label, "List price change": f"{r['price_change_pct']:+.0f}%",
                     "Discount cap": f"{r['discount_cap_frac']:.0%}",
                     "Revenue (mean)": fmt_usd(r["revenue_total_mean"]),
                     "Operating profit (mean)": fmt_usd(r["operating_profit_total_mean"]),
                     "Win rate": fmt_value("win_rate_frac", r["win_rate_frac"])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- sensitivity


def tornado_table(table: pd.DataFrame) -> pd.DataFrame:
    """Long tornado rows from a ``sensitivity()`` table: kpi, lever, side, value, base, swing;
    KPIs in the catalogue's decision order (operating profit first)."""
    rows = []
    table = table.sort_values("kpi", key=lambda k: k.map(decision_rank), kind="stable")
    for r in table.itertuples():
        lever = f"{r.lever} ({fmt_lever(r.base_value)} → {fmt_lever(r.low_value)} / " \
                f"{fmt_lever(r.high_value)})"
        for side, value, vlabel in (("low", r.low, "Lever down"), ("high", r.high, "Lever up")):
            rows.append({"kpi": kpi_label(r.kpi), "lever": lever, "side": side,
                         "side_label": vlabel, "value": float(value), "base": float(r.base),
                         "swing": float(r.swing)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- account plans


ACCOUNT_PLAN_MEASURES = (
    "programme_accounts", "renewal_rate_programme", "renewal_rate_without", "nrr_programme",
    "nrr_without", "new_unit_arr", "programme_cost", "incremental_gross_profit",
    "incremental_operating_profit", "return_on_cost")
"""The measures of ``account_plan_return``, all in the KPI catalogue."""


def account_plan_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The programme evaluation summary with readable labels."""
    t = summary.copy()
    t.insert(0, "label", [kpi_label(m) for m in t["measure"]])
    return t


def account_plan_chart_table(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.set_index("measure")
    rows = []
    for label, on, off in (("Renewal rate", "renewal_rate_programme", "renewal_rate_without"),
                           ("NRR from entry", "nrr_programme", "nrr_without")):
        for arm, key in (("with programme", on), ("without", off)):
            rows.append({"measure": label, "arm": arm, "mean": s.loc[key, "mean"],
                         "ci_low": s.loc[key, "ci_low"], "ci_high": s.loc[key, "ci_high"]})
    return pd.DataFrame(rows)
