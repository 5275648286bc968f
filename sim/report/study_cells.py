"""Notebook cells of the studies: the pricing what-if, the sensitivity tornado and the
account plan (see :mod:`sim.report.cells`, which re-exports them for the notebooks)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from sim.kpis import fmt_lever, fmt_usd, fmt_value
from sim.kpis import label as kpi_label
from sim.outputs.escape import html_text, style_table
from sim.report import charts
from sim.report.cell_kit import Html as _Html
from sim.report.cell_kit import styled as _styled
from sim.report.tables import (
    ACCOUNT_PLAN_MEASURES,
    account_plan_chart_table,
    account_plan_table,
    discount_tradeoff_table,
    pricing_curves_table,
    pricing_peaks_table,
    tornado_table,
)
from sim.scenario.io import scenario_hash, scenario_to_dict
from sim.scenario.model import Scenario

# ---------------------------------------------------------------- pricing what-if


def pricing_curves(sweep: pd.DataFrame):
    return charts.sweep_curves(pricing_curves_table(sweep))


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


def discount_tradeoff(sweep: pd.DataFrame):
    return style_table(discount_tradeoff_table(sweep),
                       caption="A tighter cap loses deals and raises the price of those won",
                       hide_index=True)


# ---------------------------------------------------------------- sensitivity


def tornado(table: pd.DataFrame):
    return charts.tornado(tornado_table(table))


def sensitivity_detail(table: pd.DataFrame):
    t = table.assign(kpi=table["kpi"].map(kpi_label),
                     base_value=table["base_value"].map(fmt_lever),
                     low_value=table["low_value"].map(fmt_lever),
                     high_value=table["high_value"].map(fmt_lever))
    t = t[["kpi", "lever", "base_value", "low_value", "high_value", "low", "base", "high",
           "swing"]].rename(columns={"kpi": "KPI", "lever": "Lever", "base_value": "Base value",
                                     "low_value": "Low value", "high_value": "High value",
                                     "low": "KPI at low", "base": "KPI at base",
                                     "high": "KPI at high", "swing": "Swing"})
    return _styled(t, {c: str for c in ("KPI", "Lever", "Base value", "Low value",
                                        "High value")}, hide_index=True,
                   caption="Mean KPI with each lever moved one step down and up")


# ---------------------------------------------------------------- account plans


def account_plan_summary(scenario: Scenario, summary: pd.DataFrame) -> _Html:
    """Headline of the programme: who is in it, what it costs, what it returns."""
    t = account_plan_table(summary)
    rows = "".join(
        f"<tr><th>{html_text(r.label)}</th><td>{fmt_value(r.measure, r.mean)}</td>"
        f"<td>{fmt_value(r.measure, r.ci_low)} – {fmt_value(r.measure, r.ci_high)}</td></tr>"
        for r in t.itertuples())
    ap = scenario.account_plan
    body = (f"<h3>{html_text(scenario.name)}</h3><p>{html_text(scenario.description)}</p>"
            f"<p>Top {ap.programme_top_n} accounts by ARR, "
            f"{fmt_usd(ap.programme_cost_per_account_per_month_usd)} per account per month; "
            f"compared with the same plan without the programme on the same random streams."
            "</p><table><thead><tr><th>Measure</th><th>Mean</th><th>95% interval</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")
    text = "\n".join(f"{r.label}: {fmt_value(r.measure, r.mean)}" for r in t.itertuples())
    return _Html(body, text)


def account_plan_assumptions(scenario: Scenario):
    """The account-plan keys of the scenario."""
    data = scenario_to_dict(scenario)["account_plan"]
    rows = [(f"account_plan.{k}", json.dumps(v) if isinstance(v, dict | list) else v)
            for k, v in data.items()]
    return style_table(pd.DataFrame(rows, columns=["key", "value"]), hide_index=True,
                       caption=f"Account-plan assumptions of {scenario.name} "
                               f"(hash {scenario_hash(scenario)})")


def account_plan_chart(summary: pd.DataFrame):
    return charts.programme_comparison(account_plan_chart_table(summary))


def account_plan_detail(per_rep: pd.DataFrame):
    """One row per replication."""
    t = per_rep.rename(columns={m: kpi_label(m) for m in ACCOUNT_PLAN_MEASURES})
    fm: dict[str, Any] = {kpi_label(m): (lambda x, m=m: fmt_value(m, x))
                          for m in ACCOUNT_PLAN_MEASURES}
    fm["replication"] = "{:d}"
    return _styled(t, fm, caption="Per replication", hide_index=True)
