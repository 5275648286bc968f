"""What the notebooks call: load or run experiments, shape tidy tables, show them.

Notebooks stay thin (one call per cell), so every table-shaping step lives here. Functions
ending in ``_table`` return plain numeric DataFrames (also used for Excel and the index);
the others return something a notebook displays: a chart, a formatted table, a widget.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import charts, metrics
from sim.escape import html_text, style_table
from sim.experiment import (
    COMPARE_KPIS,
    KPI_LABELS,
    CompareResult,
    ExperimentResult,
    compare,
    paired_deltas,
    run_experiment,
)
from sim.fmt import as_float, fmt_dollars, fmt_usd
from sim.scenario import Scenario
from sim.scenario_io import (
    load_scenario,
    scenario_from_dict,
    scenario_hash,
    scenario_to_dict,
    with_overrides,
)

MIME_KPIS = "application/vnd.revsim.kpis+json"
"""Mimetype of the machine-readable KPI record a notebook's KPI cell carries next to its HTML."""
HEADLINE_KPIS = ("revenue_total", "operating_profit_total", "ending_arr", "net_new_arr_total",
                 "nrr_last_year", "cash_trough", "cac_payback_months")
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


# ---------------------------------------------------------------- formatting


def fmt_kpi(kpi: str, x: Any) -> str:
    """A KPI value in its unit: USD, %, months or a count."""
    v = _float(x)
    if math.isnan(v):
        return "—"
    if kpi.endswith("_frac") or kpi.startswith(("nrr", "grr")) or kpi in ("nrr", "grr"):
        return f"{v:.1%}"
    if kpi.endswith("_months"):
        return f"{v:,.1f} months"
    if kpi.endswith("customers"):
        return f"{v:,.0f}"
    return fmt_usd(v)


_float = as_float


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _styled(df: pd.DataFrame, formats: Mapping[str, Any] | None = None, default=fmt_usd,
            caption: str | None = None, hide_index: bool = False):
    """A pandas Styler with per-column formatters (default: USD) and a caption; all text in
    it (caption, labels, cells) is HTML-escaped by :func:`sim.escape.style_table`."""
    sty = style_table(df, formats, default, caption, hide_index)
    return sty.set_table_styles([
        {"selector": "caption", "props": "caption-side: top; font-weight: bold; "
                                         "text-align: left; padding: 4px 0;"},
        {"selector": "td", "props": "text-align: right; padding: 2px 10px;"},
        {"selector": "th", "props": "text-align: left; padding: 2px 10px;"},
    ])


class _Html:
    """A small HTML block with a plain-text fallback (displayed as a cell result)."""

    def __init__(self, body: str, text: str, extra: Mapping[str, Any] | None = None):
        self.body, self.text, self.extra = body, text, dict(extra or {})

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.body, "text/plain": self.text, **self.extra}


# ---------------------------------------------------------------- loading and running


def project_path(path: str | Path, project_root: str | Path = "..") -> Path:
    """An absolute path as is; a relative one under ``project_root`` (itself relative to the
    working folder, which is the notebook's folder under Jupyter and Papermill), else under
    the working folder."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    root = Path(project_root).expanduser()
    for cand in (root / p, Path.cwd() / p):
        if cand.exists():
            return cand.resolve()
    return (root / p).resolve()


def scenario_for(path: str | Path, project_root: str | Path = "..",
                 months: int | None = None) -> Scenario:
    """Load and validate a scenario file; ``months`` overrides its horizon."""
    overrides = {"horizon_months": int(months)} if months else None
    return load_scenario(project_path(path, project_root), overrides)


RESULT_TABLES = ("monthly", "by_segment", "by_channel", "cohorts", "initial", "kpis",
                 "attainment")
"""The tables of an :class:`ExperimentResult`, one Parquet file each in a saved result."""
RESULT_FORMAT = "revsim-result/1"


def save_result(result: ExperimentResult, folder: str | Path) -> Path:
    """Save an experiment result as data for a notebook to load: ``result.json`` (the resolved
    scenario, seed, replications, statistics) and one Parquet file per table. No pickles:
    loading it back (:func:`load_result`) validates data and never runs code."""
    from sim.experiment import write_parquet

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RESULT_TABLES:
        write_parquet(getattr(result, name), folder / f"{name}.parquet")
    meta = {"format": RESULT_FORMAT, "seed": result.seed, "replications": result.replications,
            "stats": _json_safe(result.stats), "scenario": scenario_to_dict(result.scenario)}
    (folder / "result.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder


def load_result(folder: str | Path) -> ExperimentResult:
    """Rebuild a result written by :func:`save_result` from JSON and Parquet only (the
    scenario is validated again; nothing in the folder is executed)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: not a saved revsim result ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != RESULT_FORMAT:
        raise ValueError(f"{folder}: not a saved revsim result (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    tables = {name: pd.read_parquet(folder / f"{name}.parquet", engine="pyarrow")
              for name in RESULT_TABLES}
    return ExperimentResult(scenario=scenario_from_dict(meta["scenario"], str(folder)),
                            seed=int(meta["seed"]), replications=int(meta["replications"]),
                            stats=dict(meta.get("stats") or {}), **tables)


def experiment(scenario: str | Path, project_root: str | Path = "..", results_file: str = "",
               replications: int = 4, seed: int = 0, months: int | None = None,
               executor: str = "serial") -> ExperimentResult:
    """The notebook's experiment: loaded from ``results_file`` when the report builder ran it
    already, else run here from the scenario file."""
    if results_file:
        return load_result(project_path(results_file, "."))
    sc = scenario_for(scenario, project_root, months)
    return run_experiment(sc, replications=replications, seed=seed, executor=executor)


def deltas_table(base: ExperimentResult, others: Sequence[ExperimentResult],
                 kpis: Sequence[str] = COMPARE_KPIS) -> pd.DataFrame:
    """Paired per-replication differences against ``base`` (same columns as ``compare``)."""
    return paired_deltas(base, others, kpis)


def comparison(scenarios: Sequence[str], project_root: str | Path = "..",
               results_files: Sequence[str] = (), replications: int = 4, seed: int = 0,
               months: int | None = None, executor: str = "serial") -> CompareResult:
    """Several scenarios against the first, on the same seeds: loaded or run here."""
    if results_files:
        results = [load_result(project_path(f, ".")) for f in results_files]
        return CompareResult(base=results[0], others=results[1:],
                             deltas=deltas_table(results[0], results[1:]))
    scs = [scenario_for(p, project_root, months) for p in scenarios]
    return compare(scs[0], scs[1:], replications=replications, seed=seed, executor=executor)


# ---------------------------------------------------------------- one scenario: tables


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
                     "text": f"{fmt_kpi(k, r['p50'])} ({fmt_kpi(k, r['p10'])} – "
                             f"{fmt_kpi(k, r['p90'])})"})
    return pd.DataFrame(rows)


def kpi_record(result: ExperimentResult) -> dict:
    """All KPI quantiles plus identity (scenario, hash, seed, replications), JSON-safe."""
    s = result.kpi_summary.set_index("kpi")
    return _json_safe({
        "scenario": result.name, "scenario_hash": result.hash, "seed": result.seed,
        "replications": result.replications, "months": result.scenario.horizon_months,
        "kpis": {k: {c: s.loc[k, c] for c in ("label", "p10", "p50", "p90", "mean")}
                 for k in s.index},
    })


def fan_table(result: ExperimentResult,
              measures: Sequence[str] = ("revenue", "operating_profit")) -> pd.DataFrame:
    """month, measure (label), p10, p50, p90 of the chosen measures."""
    b = result.bands
    b = b[b["measure"].isin(measures)].copy()
    b["measure"] = b["measure"].map(lambda m: MEASURE_LABELS.get(m, m))
    return b.reset_index(drop=True)


def _years(monthly: pd.DataFrame) -> pd.Series:
    return (monthly["month"] - 1) // 12 + 1


def arr_bridge_table(result: ExperimentResult) -> pd.DataFrame:
    """Waterfall steps: start ARR, then per year new, expansion, −contraction, −churn and the
    year-end ARR (means across replications)."""
    m = result.monthly.assign(year=_years(result.monthly))
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
            rows.append({"step": f"Y{year} {label}", "start": level, "end": level + amount,
                         "amount": amount, "kind": "increase" if sign > 0 else "decrease"})
            level += amount
        level = float(y["arr"])
        rows.append({"step": f"Y{year} end ARR", "start": 0.0, "end": level, "amount": level,
                     "kind": "total"})
    df = pd.DataFrame(rows)
    df["order"] = range(len(df))
    df["top"] = df[["start", "end"]].max(axis=1)
    return df


def annual_pnl_table(result: ExperimentResult) -> pd.DataFrame:
    """Mean annual P&L: one row per line item, one column per year (USD; margins 0–1)."""
    p = result.annual_pnl()
    cols = [c for c in PNL_LINES if c in p.columns]
    t = p[cols].T
    t.index = [PNL_LINES[c] for c in cols]
    t.columns = [f"Year {int(y)}" + ("" if p.loc[y, "months"] == 12 else
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
                      "expected_lifetime_months": "Expected lifetime (months)"}


def break_even_table(result: ExperimentResult) -> pd.DataFrame:
    """Per segment: median months for one customer to repay what it cost to win and serve."""
    df = _per_replication(result, "segment", lambda mon, by: metrics.customer_break_even(by))
    out = df[list(BREAK_EVEN_COLUMNS)].astype(float).groupby(level=0, sort=False).median()
    out["Share of replications that recover"] = df["recovers"].astype(float).groupby(
        level=0, sort=False).mean()
    return out.rename(columns=BREAK_EVEN_COLUMNS)


FUNNEL_COLUMNS = {"leads": "Leads", "opportunities": "Opportunities",
                  "lead_to_opp_frac": "Lead → opportunity", "deals_won": "Deals won",
                  "win_rate_frac": "Win rate", "avg_discount_frac": "Average discount",
                  "avg_sales_cycle_days": "Sales cycle (days)",
                  "leads_lost_waiting": "Leads gone cold", "ae_utilization": "AE utilisation",
                  "onboarding_utilization": "Onboarding utilisation",
                  "onboarding_wait_days": "Onboarding wait (days)"}


def funnel_table(result: ExperimentResult) -> pd.DataFrame:
    """Per year: funnel volumes and conversions, capacity use (means across replications)."""
    df = _per_replication(result, None, lambda mon, _: metrics.funnel(mon))
    cols = [c for c in FUNNEL_COLUMNS if c in df.columns]
    out = df[cols].astype(float).groupby(level=0).mean()
    out.index = [f"Year {int(y)}" for y in out.index]
    return out.rename(columns=FUNNEL_COLUMNS)


def targets_table(result: ExperimentResult) -> pd.DataFrame:
    """name, metric, probability (0–1), target and the P10/P50/P90 of the actual value."""
    t = result.target_summary
    if t.empty:
        return pd.DataFrame(columns=["name", "metric", "probability", "target", "p10", "p50",
                                     "p90"])
    return t[["name", "metric", "probability", "target", "p10", "p50", "p90"]].reset_index(
        drop=True)


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
        extra = f" (+{hires} planned)" if hires else ""
        rows.append((f"AEs, {name} team",
                     f"{team.count}{extra}, {team.concurrent_deals_per_ae} deals each"))
    hc = scenario.headcount
    for role in ("sdr", "csm", "onboarding", "management"):
        team = getattr(hc, role, None)
        if team is not None:
            hires = sum(h.add for h in getattr(team, "hiring_plan", None) or [])
            extra = f" (+{hires} planned)" if hires else ""
            rows.append((f"Headcount, {role.upper() if len(role) <= 3 else role}",
                         f"{team.count}{extra}"))
    rows.append(("Starting cash", fmt_usd(scenario.finance.starting_cash_usd)))
    rows.append(("Fixed opex", f"${scenario.costs.fixed_opex_per_month_usd:,.0f} per month"))
    return pd.DataFrame(rows, columns=["Lever", "Value"])


# ---------------------------------------------------------------- one scenario: display


def summary(result: ExperimentResult) -> _Html:
    """Scenario name, description, run identity (seed, replications, hash) and headline KPIs."""
    sc = result.scenario
    kp = headline_table(result)
    rows = "".join(f"<tr><th>{html_text(r.label)}</th><td>{html_text(r.text)}</td></tr>"
                   for r in kp.itertuples())
    body = (
        f"<h3>{html_text(sc.name)}</h3><p>{html_text(sc.description or '')}</p>"
        f"<p><small>{result.replications} replications · seed {result.seed} · "
        f"{sc.horizon_months} months · scenario hash <code>{html_text(result.hash)}</code>"
        "</small></p>"
        "<table><thead><tr><th>Headline KPI</th><th>P50 (P10 – P90)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    text = "\n".join([f"{sc.name} (seed {result.seed}, {result.replications} reps, hash "
                      f"{result.hash})", *(f"{r.label}: {r.text}" for r in kp.itertuples())])
    return _Html(body, text)


def kpis(result: ExperimentResult):
    """All headline KPIs, P50 with P10–P90, carrying a machine-readable record (MIME_KPIS)
    that tests and tools can read back from the executed notebook."""
    s = result.kpi_summary
    disp = pd.DataFrame({
        "KPI": s["label"],
        "P10": [fmt_kpi(k, v) for k, v in zip(s["kpi"], s["p10"], strict=True)],
        "P50": [fmt_kpi(k, v) for k, v in zip(s["kpi"], s["p50"], strict=True)],
        "P90": [fmt_kpi(k, v) for k, v in zip(s["kpi"], s["p90"], strict=True)],
    })
    body = disp.to_html(index=False, border=0, classes="revsim-kpis", escape=True)
    return _Html(body, disp.to_string(index=False), {MIME_KPIS: kpi_record(result)})


def assumptions(result_or_scenario: ExperimentResult | Scenario):
    """Key levers of the scenario (the full resolved list is in the Excel workbook)."""
    sc = getattr(result_or_scenario, "scenario", result_or_scenario)
    return style_table(levers_table(sc), caption=f"Levers of {sc.name} (hash {scenario_hash(sc)})",
                       hide_index=True)


def revenue_profit_fan(result: ExperimentResult):
    return charts.fan_chart(fan_table(result))


def arr_bridge(result: ExperimentResult):
    return charts.arr_bridge_waterfall(arr_bridge_table(result))


def annual_pnl(result: ExperimentResult):
    t = annual_pnl_table(result)
    pct = [i for i in t.index if "margin" in i.lower()]
    sty = style_table(t, default=fmt_dollars,
                      caption="Annual P&L, mean across replications (USD)")
    return sty.format("{:.1%}", subset=pd.IndexSlice[pct, :], escape="html")


def cash(result: ExperimentResult):
    bands, trough = cash_tables(result)
    return charts.cash_chart(bands, trough)


def unit_economics(result: ExperimentResult, dim: str = "segment"):
    t = unit_economics_table(result, dim)
    formats = {"New customers": "{:,.0f}", "CAC payback (months)": "{:,.1f}",
               "LTV / CAC": "{:,.1f}", "ROI": "{:.0%}"}
    return _styled(t, formats, caption=f"Unit economics by {dim} (median across replications)")


def break_even(result: ExperimentResult):
    t = break_even_table(result)
    formats = {"Months to recover CAC": "{:,.1f}", "Expected lifetime (months)": "{:,.0f}",
               "Share of replications that recover": "{:.0%}",
               "Revenue per customer-month": fmt_dollars,
               "Serve cost per customer-month": fmt_dollars,
               "CS cost per customer-month": fmt_dollars}
    return _styled(t, formats, caption="Customer break-even: months to repay acquisition cost")


def funnel(result: ExperimentResult):
    t = funnel_table(result)
    pct = {c: "{:.1%}" for c in t.columns if c in ("Lead → opportunity", "Win rate",
                                                   "Average discount", "AE utilisation",
                                                   "Onboarding utilisation")}
    return _styled(t, pct, default="{:,.0f}", caption="Funnel and capacity per year (means)")


def utilisation(result: ExperimentResult):
    return charts.utilisation_chart(utilisation_table(result))


def targets(result: ExperimentResult):
    t = targets_table(result)
    if t.empty:
        return _Html("<p>This scenario sets no targets.</p>", "No targets.")
    return charts.target_attainment_bars(t)


def targets_detail(result: ExperimentResult):
    t = targets_table(result)
    rows = [{"Target": r.name, "Probability": r.probability,
             "Actual P10": fmt_kpi(r.metric, r.p10), "Actual P50": fmt_kpi(r.metric, r.p50),
             "Actual P90": fmt_kpi(r.metric, r.p90)} for r in t.itertuples()]
    df = pd.DataFrame(rows, columns=["Target", "Probability", "Actual P10", "Actual P50",
                                     "Actual P90"])
    return style_table(df, {"Probability": "{:.0%}"}, hide_index=True,
                       caption="Target attainment across replications")


# ---------------------------------------------------------------- comparison


def compare_summary(cmp: CompareResult) -> _Html:
    items = "".join(
        f"<li><b>{html_text(r.name)}</b>{' (base)' if i == 0 else ''}: "
        f"{html_text(r.scenario.description or '')} "
        f"<small>hash <code>{html_text(r.hash)}</code></small>"
        "</li>" for i, r in enumerate(cmp.results))
    b = cmp.base
    body = (f"<p>{len(cmp.others)} scenario(s) against <b>{html_text(b.name)}</b>, "
            f"{b.replications} replications each on the same random streams (seed {b.seed}), "
            f"{b.scenario.horizon_months} months.</p><ul>{items}</ul>")
    return _Html(body, f"{len(cmp.results)} scenarios, base {b.name}, seed {b.seed}")


def compare_levers(cmp: CompareResult):
    """The main levers side by side, one column per scenario."""
    parts = [levers_table(r.scenario).set_index("Lever")["Value"].rename(r.name)
             for r in cmp.results]
    return style_table(pd.concat(parts, axis=1), caption="Levers by scenario")


def compare_kpi_table(cmp: CompareResult,
                      kpis: Sequence[str] = ("revenue_total", "operating_profit_total")
                      ) -> pd.DataFrame:
    """scenario, kpi (label), p10, p50, p90 per scenario and KPI."""
    rows = []
    for r in cmp.results:
        s = r.kpi_summary.set_index("kpi")
        for k in kpis:
            rows.append({"scenario": r.name, "kpi": KPI_LABELS.get(k, k),
                         **{c: float(s.loc[k, c]) for c in ("p10", "p50", "p90", "mean")}})
    return pd.DataFrame(rows)


def compare_deltas_table(cmp: CompareResult) -> pd.DataFrame:
    """Deltas with a readable KPI label and a better/worse direction (higher is better)."""
    d = cmp.deltas.copy()
    if d.empty:
        return d
    d["kpi_name"] = d["kpi"]
    d["kpi"] = d["label"]
    d["direction"] = np.where(d["mean_delta"] >= 0, "better", "worse")
    return d


def profit_vs_revenue(cmp: CompareResult):
    return charts.scenario_kpi_bars(compare_kpi_table(cmp))


def deltas(cmp: CompareResult):
    d = compare_deltas_table(cmp)
    if d.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No deltas.")
    return charts.comparison_bars(d)


def deltas_detail(cmp: CompareResult):
    d = compare_deltas_table(cmp)
    if d.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No deltas.")
    t = d[["scenario", "kpi", "base_mean", "other_mean", "mean_delta", "ci_low", "ci_high",
           "prob_better"]].rename(columns={
               "scenario": "Scenario", "kpi": "KPI", "base_mean": "Base (mean)",
               "other_mean": "Scenario (mean)", "mean_delta": "Difference",
               "ci_low": "95% CI low", "ci_high": "95% CI high",
               "prob_better": "P(beats base)"})
    return _styled(t, {"Scenario": str, "KPI": str, "P(beats base)": "{:.0%}"}, hide_index=True,
                   caption="Difference from the base, paired by replication")


def pnl_differences_table(cmp: CompareResult) -> pd.DataFrame:
    """Mean annual P&L of each scenario minus the base: scenario, year and main lines."""
    d = cmp.annual_pnl_differences()
    if d.empty:
        return d
    cols = ["revenue", "gross_profit", "total_cost", "operating_profit", "cash_balance", "arr",
            "net_new_arr"]
    t = d[["scenario", "year", *[c for c in cols if c in d.columns]]]
    return t.rename(columns={c: PNL_LINES[c] for c in cols})


def pnl_differences(cmp: CompareResult):
    t = pnl_differences_table(cmp)
    if t.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No differences.")
    return _styled(t, {"scenario": str, "year": "Year {:.0f}"}, default=fmt_dollars,
                   caption=f"Annual P&L minus {cmp.base.name} (means, USD)", hide_index=True)


def paths_table(cmp: CompareResult,
                measures: Sequence[str] = ("revenue", "operating_profit")) -> pd.DataFrame:
    """month, scenario, measure (label), p10, p50, p90 for every scenario."""
    return pd.concat([fan_table(r, measures).assign(scenario=r.name) for r in cmp.results],
                     ignore_index=True)


def profit_paths(cmp: CompareResult):
    return charts.scenario_bands(paths_table(cmp), title="Revenue and operating profit per month")


# ---------------------------------------------------------------- pricing what-if


def _ae_count_overrides(scenario, total: int) -> dict[str, int]:
    """Starting AEs per sales team for a new total, in proportion to today's teams (largest
    remainders; an empty plan gives the first team everything)."""
    teams = scenario.sales.teams
    now = sum(t.count for t in teams.values())
    if now == 0:
        counts = {name: (total if i == 0 else 0) for i, name in enumerate(teams)}
    else:
        exact = {name: total * t.count / now for name, t in teams.items()}
        counts = {name: int(v) for name, v in exact.items()}
        left = total - sum(counts.values())
        for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[:left]:
            counts[name] += 1
    return {f"sales.teams.{name}.count": n for name, n in counts.items()}


def _pricing_overrides(sc: Scenario, price_change_pct: float, discount_cap_frac: float | None
                       ) -> dict[str, Any]:
    over: dict[str, Any] = {}
    for seg, p in sc.pricing.segments.items():
        over[f"pricing.segments.{seg}.list_price_usd"] = round(
            p.list_price_usd * (1 + price_change_pct / 100), 2)
        if discount_cap_frac is not None:
            over[f"pricing.segments.{seg}.discount_cap_frac"] = min(p.discount_cap_frac,
                                                                    discount_cap_frac)
    return over


def pricing_sweep(scenario: Scenario, price_changes_pct: Sequence[float] = (-10, 0, 10, 20),
                  discount_caps_frac: Sequence[float] = (0.15, 0.35), replications: int = 2,
                  seed: int = 0, executor: str = "serial") -> pd.DataFrame:
    """Every list-price change × discount cap (a cap on each segment's cap) on the same seeds:
    one row per point with revenue and profit mean and P10/P50/P90, win rate, deal size."""
    points = [(p, c) for c in discount_caps_frac for p in price_changes_pct]
    variants = [with_overrides(scenario, _pricing_overrides(scenario, p, c)) for p, c in points]
    cmp = compare(variants[0], variants[1:], replications=replications, seed=seed,
                  executor=executor)
    rows = []
    for (p, c), r in zip(points, cmp.results, strict=True):
        row: dict[str, Any] = {"price_change_pct": p, "discount_cap_frac": c}
        for kpi in ("revenue_total", "operating_profit_total", "ending_arr"):
            v = r.kpis[kpi].to_numpy(float)
            row[f"{kpi}_mean"] = float(np.nanmean(v))
            row[f"{kpi}_p10"], row[f"{kpi}_p50"], row[f"{kpi}_p90"] = np.nanquantile(
                v, [0.1, 0.5, 0.9])
        won, lost = r.monthly["deals_won"].sum(), r.monthly["deals_lost"].sum()
        row["win_rate_frac"] = float(won / (won + lost)) if won + lost else math.nan
        row["new_arr_per_deal"] = float(r.monthly["new_arr"].sum() / won) if won else math.nan
        listed = r.monthly["list_arr_won"].sum()
        row["avg_discount_frac"] = float(r.monthly["discount_usd"].sum() / listed) if listed \
            else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def pricing_curves_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Long table for the curves: price_change_pct, series (cap), measure, mean, p10, p90,
    peak (the best point of each measure over the whole grid)."""
    parts = []
    for kpi, label in (("revenue_total", "Revenue"), ("operating_profit_total",
                                                      "Operating profit")):
        best = sweep[f"{kpi}_mean"].idxmax()
        parts.append(pd.DataFrame({
            "price_change_pct": sweep["price_change_pct"],
            "series": [f"Discount cap {c:.0%}" for c in sweep["discount_cap_frac"]],
            "measure": label, "mean": sweep[f"{kpi}_mean"], "p10": sweep[f"{kpi}_p10"],
            "p90": sweep[f"{kpi}_p90"], "peak": sweep.index == best}))
    return pd.concat(parts, ignore_index=True)


def pricing_curves(sweep: pd.DataFrame):
    return charts.sweep_curves(pricing_curves_table(sweep))


def pricing_peaks_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Where revenue and where operating profit peak on the grid."""
    rows = []
    for kpi, label in (("revenue_total", "Revenue"), ("operating_profit_total",
                                                      "Operating profit")):
        r = sweep.loc[sweep[f"{kpi}_mean"].idxmax()]
        rows.append({"Maximises": label, "List price change": f"{r['price_change_pct']:+.0f}%",
                     "Discount cap": f"{r['discount_cap_frac']:.0%}",
                     "Revenue (mean)": fmt_usd(r["revenue_total_mean"]),
                     "Operating profit (mean)": fmt_usd(r["operating_profit_total_mean"]),
                     "Win rate": f"{r['win_rate_frac']:.1%}"})
    return pd.DataFrame(rows)


def pricing_peaks(sweep: pd.DataFrame):
    return style_table(pricing_peaks_table(sweep), caption="Where each measure peaks",
                       hide_index=True)


def pricing_grid(sweep: pd.DataFrame):
    t = sweep[["price_change_pct", "discount_cap_frac", "revenue_total_mean",
               "operating_profit_total_mean", "win_rate_frac", "avg_discount_frac",
               "new_arr_per_deal"]].rename(
        columns={"price_change_pct": "List price change (%)",
                 "discount_cap_frac": "Discount cap", "revenue_total_mean": "Revenue (mean)",
                 "operating_profit_total_mean": "Operating profit (mean)",
                 "win_rate_frac": "Win rate", "avg_discount_frac": "Average discount",
                 "new_arr_per_deal": "New ARR per deal"})
    return _styled(t, {"List price change (%)": "{:+.0f}%", "Discount cap": "{:.0%}",
                       "Win rate": "{:.1%}", "Average discount": "{:.1%}"},
                   caption="The whole grid", hide_index=True)


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


def discount_tradeoff(sweep: pd.DataFrame):
    return style_table(discount_tradeoff_table(sweep),
                       caption="A tighter cap loses deals and raises the price of those won",
                       hide_index=True)


# ---------------------------------------------------------------- sensitivity


def tornado_table(table: pd.DataFrame) -> pd.DataFrame:
    """Long tornado rows from a ``sensitivity()`` table: kpi, lever, side, value, base, swing."""
    rows = []
    for r in table.itertuples():
        lever = f"{r.lever} ({_short(r.base_value)} → {_short(r.low_value)} / " \
                f"{_short(r.high_value)})"
        for side, value, vlabel in (("low", r.low, "Lever down"), ("high", r.high, "Lever up")):
            rows.append({"kpi": KPI_LABELS.get(r.kpi, r.kpi), "lever": lever, "side": side,
                         "side_label": vlabel, "value": float(value), "base": float(r.base),
                         "swing": float(r.swing)})
    return pd.DataFrame(rows)


def _short(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    f = _float(v)
    if math.isnan(f):
        return str(v)
    if abs(f) < 1:
        return f"{f:.3g}"
    return f"{f:,.0f}"


def tornado(table: pd.DataFrame):
    return charts.tornado(tornado_table(table))


def sensitivity_detail(table: pd.DataFrame):
    t = table.assign(kpi=table["kpi"].map(lambda k: KPI_LABELS.get(k, k)),
                     base_value=table["base_value"].map(_short),
                     low_value=table["low_value"].map(_short),
                     high_value=table["high_value"].map(_short))
    t = t[["kpi", "lever", "base_value", "low_value", "high_value", "low", "base", "high",
           "swing"]].rename(columns={"kpi": "KPI", "lever": "Lever", "base_value": "Base value",
                                     "low_value": "Low value", "high_value": "High value",
                                     "low": "KPI at low", "base": "KPI at base",
                                     "high": "KPI at high", "swing": "Swing"})
    return _styled(t, {c: str for c in ("KPI", "Lever", "Base value", "Low value",
                                        "High value")}, hide_index=True,
                   caption="Mean KPI with each lever moved one step down and up")


# ---------------------------------------------------------------- offsite workbook


class OffsiteWorkbook:
    """Sliders for the main levers; each change re-runs a small experiment (few replications,
    short horizon, serial) and redraws revenue and operating profit against the baseline."""

    LEVERS = ("price_change_pct", "discount_cap_frac", "marketing_budget_usd", "ae_count",
              "csm_count", "onboarding_count", "annual_uplift_frac")

    def __init__(self, scenario: Scenario, replications: int = 2, seed: int = 0,
                 executor: str = "serial"):
        self.scenario = scenario
        self.replications, self.seed, self.executor = replications, seed, executor
        self.baseline = run_experiment(scenario, replications=replications, seed=seed,
                                       executor=executor)
        self.result = self.baseline
        self.last_seconds = 0.0
        self._widgets = None

    def defaults(self) -> dict[str, float]:
        sc = self.scenario
        return {
            "price_change_pct": 0,
            "discount_cap_frac": max(p.discount_cap_frac for p in sc.pricing.segments.values()),
            "marketing_budget_usd": sc.channels.inbound.budget_per_month_usd,
            "ae_count": sum(team.count for team in sc.sales.teams.values()),
            "csm_count": sc.headcount.csm.count,
            "onboarding_count": sc.headcount.onboarding.count,
            "annual_uplift_frac": sc.pricing.annual_uplift_frac,
        }

    def overrides(self, **levers: float) -> dict[str, Any]:
        """Dotted overrides for lever values (missing levers keep the baseline)."""
        unknown = set(levers) - set(self.LEVERS)
        if unknown:
            raise ValueError(f"unknown lever(s): {', '.join(sorted(unknown))}")
        v = {**self.defaults(), **levers}
        over = _pricing_overrides(self.scenario, float(v["price_change_pct"]),
                                  float(v["discount_cap_frac"]))
        over["channels.inbound.budget_per_month_usd"] = float(v["marketing_budget_usd"])
        over.update(_ae_count_overrides(self.scenario, int(v["ae_count"])))
        over["headcount.csm.count"] = int(v["csm_count"])
        over["headcount.onboarding.count"] = int(v["onboarding_count"])
        over["pricing.annual_uplift_frac"] = float(v["annual_uplift_frac"])
        return over

    def run(self, **levers: float) -> ExperimentResult:
        """Re-run the what-if for these lever values; returns it and records the time taken."""
        t0 = time.perf_counter()
        sc = with_overrides(self.scenario, self.overrides(**levers))
        sc = sc.model_copy(update={"name": "what-if"})
        self.result = run_experiment(sc, replications=self.replications, seed=self.seed,
                                     executor=self.executor)
        self.last_seconds = time.perf_counter() - t0
        return self.result

    def paths_table(self) -> pd.DataFrame:
        parts = [fan_table(self.baseline).assign(scenario="Baseline"),
                 fan_table(self.result).assign(scenario="What-if")]
        return pd.concat(parts, ignore_index=True)

    def delta_table(self) -> pd.DataFrame:
        rows = []
        for k in ("revenue_total", "operating_profit_total", "ending_arr", "cash_trough"):
            b = float(self.baseline.kpis[k].mean())
            w = float(self.result.kpis[k].mean())
            rows.append({"KPI": KPI_LABELS[k], "Baseline": fmt_usd(b), "What-if": fmt_usd(w),
                         "Difference": fmt_usd(w - b)})
        return pd.DataFrame(rows)

    def chart(self):
        return charts.scenario_bands(self.paths_table(), title="What-if vs baseline",
                                     subtitle=f"{self.replications} replications, "
                                              f"{self.scenario.horizon_months} months; "
                                              "line: P50, band: P10–P90")

    def update(self, **levers: float) -> float:
        """Run and redraw (used by the sliders); returns the seconds taken."""
        t0 = time.perf_counter()
        self.run(**levers)
        self._draw()
        return time.perf_counter() - t0

    def _draw(self) -> None:
        if self._widgets is None:
            return
        from IPython.display import display

        out, status = self._widgets["out"], self._widgets["status"]
        with out:
            out.clear_output(wait=True)
            display(self.chart())
            display(style_table(self.delta_table(), hide_index=True))
        status.value = f"<small>Re-ran in {self.last_seconds:.1f} s</small>"

    def widget(self):
        """The slider panel with its output area (built once)."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        d = self.defaults()
        style = {"description_width": "220px"}
        layout = w.Layout(width="520px")
        common = {"continuous_update": False, "style": style, "layout": layout}
        budget = int(d["marketing_budget_usd"])
        sliders = {
            "price_change_pct": w.IntSlider(value=d["price_change_pct"], min=-20, max=30,
                                            description="List price change (%)", **common),
            "discount_cap_frac": w.FloatSlider(value=d["discount_cap_frac"], min=0.0, max=0.5,
                                               step=0.01, description="Discount cap",
                                               readout_format=".0%", **common),
            "marketing_budget_usd": w.IntSlider(value=budget, min=0, max=2 * budget + 10000,
                                                step=5000, description="Marketing $/month",
                                                **common),
            "ae_count": w.IntSlider(value=d["ae_count"], min=1, max=2 * d["ae_count"] + 2,
                                    description="Account executives", **common),
            "csm_count": w.IntSlider(value=d["csm_count"], min=1, max=2 * d["csm_count"] + 2,
                                     description="Customer success managers", **common),
            "onboarding_count": w.IntSlider(value=d["onboarding_count"], min=1,
                                            max=2 * d["onboarding_count"] + 2,
                                            description="Onboarding specialists", **common),
            "annual_uplift_frac": w.FloatSlider(value=d["annual_uplift_frac"], min=0.0,
                                                max=0.15, step=0.005,
                                                description="Annual uplift at renewal",
                                                readout_format=".1%", **common),
        }
        out, status = w.Output(), w.HTML()

        def changed(_change):
            self.update(**{k: s.value for k, s in sliders.items()})

        for s in sliders.values():
            s.observe(changed, names="value")
        box = w.VBox([*sliders.values(), status, out])
        self._widgets = {"box": box, "out": out, "status": status, "sliders": sliders}
        self._draw()
        return box

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())


def offsite_workbook(scenario: str | Path, project_root: str | Path = "..",
                     replications: int = 2, seed: int = 0, months: int | None = 12,
                     executor: str = "serial") -> OffsiteWorkbook:
    """The interactive offsite panel for a scenario file (baseline run once up front)."""
    return OffsiteWorkbook(scenario_for(scenario, project_root, months),
                           replications=replications, seed=seed, executor=executor)


def record_json(data: Any) -> str:
    """JSON text of a record (NaN → null), for tools that read executed notebooks."""
    return json.dumps(_json_safe(data))


# ---------------------------------------------------------------- account plans

ACCOUNT_PLAN_LABELS = {
    "programme_accounts": "Accounts in the programme (ever)",
    "renewal_rate_programme": "Renewal rate, with programme",
    "renewal_rate_without": "Renewal rate, same accounts without",
    "nrr_programme": "NRR from entry, with programme",
    "nrr_without": "NRR from entry, same accounts without",
    "new_unit_arr": "New-unit ARR (buy new, other business units)",
    "programme_cost": "Programme cost",
    "incremental_gross_profit": "Incremental gross profit",
    "incremental_operating_profit": "Incremental operating profit (after programme cost)",
    "return_on_cost": "Return: incremental gross profit ÷ programme cost",
}


def account_plan_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The programme evaluation summary with readable labels."""
    t = summary.copy()
    t.insert(0, "label", [ACCOUNT_PLAN_LABELS.get(m, m) for m in t["measure"]])
    return t


def _ap_fmt(measure: str, x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if measure.startswith(("renewal_rate", "nrr")):
        return f"{x:.1%}"
    if measure == "return_on_cost":
        return f"{x:.2f}×"
    if measure == "programme_accounts":
        return f"{x:.1f}"
    return fmt_usd(x)


def account_plan_summary(scenario: Scenario, summary: pd.DataFrame) -> _Html:
    """Headline of the programme: who is in it, what it costs, what it returns."""
    t = account_plan_table(summary)
    rows = "".join(
        f"<tr><th>{html_text(r.label)}</th><td>{_ap_fmt(r.measure, r.mean)}</td>"
        f"<td>{_ap_fmt(r.measure, r.ci_low)} – {_ap_fmt(r.measure, r.ci_high)}</td></tr>"
        for r in t.itertuples())
    ap = scenario.account_plan
    body = (f"<h3>{html_text(scenario.name)}</h3><p>{html_text(scenario.description)}</p>"
            f"<p>Top {ap.programme_top_n} accounts by ARR, "
            f"{fmt_usd(ap.programme_cost_per_account_per_month_usd)} per account per month; "
            f"compared with the same plan without the programme on the same random streams."
            "</p><table><thead><tr><th>Measure</th><th>Mean</th><th>95% interval</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")
    text = "\n".join(f"{r.label}: {_ap_fmt(r.measure, r.mean)}" for r in t.itertuples())
    return _Html(body, text)


def account_plan_assumptions(scenario: Scenario):
    """The account-plan keys of the scenario."""
    data = scenario_to_dict(scenario)["account_plan"]
    rows = [(f"account_plan.{k}", json.dumps(v) if isinstance(v, dict | list) else v)
            for k, v in data.items()]
    return style_table(pd.DataFrame(rows, columns=["key", "value"]), hide_index=True,
                       caption=f"Account-plan assumptions of {scenario.name} "
                               f"(hash {scenario_hash(scenario)})")


def account_plan_chart_table(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.set_index("measure")
    rows = []
    for label, on, off in (("Renewal rate", "renewal_rate_programme", "renewal_rate_without"),
                           ("NRR from entry", "nrr_programme", "nrr_without")):
        for arm, key in (("with programme", on), ("without", off)):
            rows.append({"measure": label, "arm": arm, "mean": s.loc[key, "mean"],
                         "ci_low": s.loc[key, "ci_low"], "ci_high": s.loc[key, "ci_high"]})
    return pd.DataFrame(rows)


def account_plan_chart(summary: pd.DataFrame):
    return charts.programme_comparison(account_plan_chart_table(summary))


def account_plan_detail(per_rep: pd.DataFrame):
    """One row per replication."""
    t = per_rep.rename(columns={k: v for k, v in ACCOUNT_PLAN_LABELS.items()})
    fm = {c: "{:.1%}" for c in t.columns if "Renewal" in c or "NRR" in c}
    fm.update({"replication": "{:d}", ACCOUNT_PLAN_LABELS["programme_accounts"]: "{:.0f}",
               ACCOUNT_PLAN_LABELS["return_on_cost"]: "{:.2f}"})
    return _styled(t, fm, caption="Per replication", hide_index=True)
