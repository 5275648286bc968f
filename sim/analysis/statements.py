"""The three statements of one replication, monthly (or by quarter / fiscal year): income
statement with each cost line named for what it holds, cash flow from operating profit to
cash through receivables and deferred revenue, and a balance sheet that balances.

Pure functions of the monthly table (plus the scenario for the partner programme's cost,
which the tables carry inside marketing). The identities, exact by construction of the
tables (sim/experiments/tables.py), and checked in tests every month of every replication:

- cash flow: Δcash = operating profit − Δreceivables + Δdeferred revenue;
- balance sheet: cash + receivables = deferred revenue + equity, where equity is the
  opening equity (starting cash − opening deferred revenue) plus retained operating profit.

No taxes, interest, capex or payables are modelled: operating profit is the period's result.
"""

from __future__ import annotations

import pandas as pd

from sim.scenario.calendar import labels

INCOME_LINES = {
    "revenue": "Revenue",
    "cogs": "Cost of revenue (serving, hosting, payment fees)",
    "gross_profit": "Gross profit",
    "marketing_programmes": "Marketing programmes (inbound)",
    "partner_programme": "Partner programme (enablement, MDF)",
    "sales_salaries": "Sales team (AEs, SDRs)",
    "sales_commissions": "Sales commissions",
    "customer_success": "Customer success and onboarding",
    "partner_commissions": "Partner commissions",
    "other_opex": "Management and fixed opex",
    "operating_expenses": "Operating expenses",
    "operating_profit": "Operating profit",
}
CASH_FLOW_LINES = {
    "operating_profit": "Operating profit",
    "change_receivables": "Less: increase in receivables",
    "change_deferred_revenue": "Add: increase in deferred revenue",
    "cash_from_operations": "Cash from operations",
    "opening_cash": "Opening cash",
    "closing_cash": "Closing cash",
}
BALANCE_LINES = {
    "cash": "Cash",
    "receivables": "Accounts receivable",
    "total_assets": "Total assets",
    "deferred_revenue": "Deferred revenue",
    "equity": "Equity (opening equity + retained operating profit)",
    "total_liabilities_equity": "Total liabilities and equity",
}
EXPENSE_LINES = ("marketing_programmes", "partner_programme", "sales_salaries",
                 "sales_commissions", "customer_success", "partner_commissions", "other_opex")
FLOW_LINES = set(INCOME_LINES) | {"change_receivables", "change_deferred_revenue",
                                  "cash_from_operations"}


def partner_programme_cost(monthly: pd.DataFrame, scenario) -> pd.Series:
    """The partner programme's monthly cost (active partners × cost per partner); the tables
    book it in ``marketing_cost``."""
    per_partner = scenario.channels.partner.program_cost_per_partner_per_month_usd
    return monthly["active_partners"].astype(float) * per_partner


def income_statement(monthly: pd.DataFrame, scenario) -> pd.DataFrame:
    """Monthly income statement (index: month; columns: ``INCOME_LINES``)."""
    m = monthly.sort_values("month").set_index("month")
    programme = partner_programme_cost(m.reset_index(), scenario).to_numpy()
    out = pd.DataFrame(index=m.index)
    out["revenue"] = m["revenue"]
    out["cogs"] = m["cogs"]
    out["gross_profit"] = m["revenue"] - m["cogs"]
    out["marketing_programmes"] = m["marketing_cost"] - programme
    out["partner_programme"] = programme
    out["sales_salaries"] = m["sales_cost"] - m["sales_commission"]
    out["sales_commissions"] = m["sales_commission"]
    out["customer_success"] = m["customer_success_cost"]
    out["partner_commissions"] = m["partner_cost"]
    out["other_opex"] = m["other_opex"]
    out["operating_expenses"] = out[list(EXPENSE_LINES)].sum(axis=1)
    out["operating_profit"] = out["gross_profit"] - out["operating_expenses"]
    return out


def _opening(monthly: pd.DataFrame, initial: dict | None) -> dict[str, float]:
    init = dict(initial if initial is not None else monthly.attrs.get("initial") or {})
    return {"cash": float(init["cash_balance"]),
            "deferred_revenue": float(init.get("deferred_revenue", 0.0)),
            "receivables": float(init.get("accounts_receivable", 0.0))}


def cash_flow(monthly: pd.DataFrame, initial: dict | None = None) -> pd.DataFrame:
    """Monthly indirect cash flow: operating profit, working-capital changes, cash."""
    m = monthly.sort_values("month").set_index("month")
    o = _opening(monthly, initial)
    out = pd.DataFrame(index=m.index)
    out["operating_profit"] = m["operating_profit"]
    ar = m["accounts_receivable"]
    dr = m["deferred_revenue"]
    out["change_receivables"] = -(ar - ar.shift(1, fill_value=o["receivables"]))
    out["change_deferred_revenue"] = dr - dr.shift(1, fill_value=o["deferred_revenue"])
    out["cash_from_operations"] = out[["operating_profit", "change_receivables",
                                       "change_deferred_revenue"]].sum(axis=1)
    out["closing_cash"] = m["cash_balance"]
    out["opening_cash"] = out["closing_cash"].shift(1, fill_value=o["cash"])
    return out[list(CASH_FLOW_LINES)]


def balance_sheet(monthly: pd.DataFrame, initial: dict | None = None) -> pd.DataFrame:
    """Month-end balance sheet: cash and receivables against deferred revenue and equity."""
    m = monthly.sort_values("month").set_index("month")
    o = _opening(monthly, initial)
    out = pd.DataFrame(index=m.index)
    out["cash"] = m["cash_balance"]
    out["receivables"] = m["accounts_receivable"]
    out["total_assets"] = out["cash"] + out["receivables"]
    out["deferred_revenue"] = m["deferred_revenue"]
    opening_equity = o["cash"] + o["receivables"] - o["deferred_revenue"]
    out["equity"] = opening_equity + m["operating_profit"].cumsum()
    out["total_liabilities_equity"] = out["deferred_revenue"] + out["equity"]
    return out


def imbalance(sheet: pd.DataFrame) -> pd.Series:
    """Total assets − total liabilities and equity, per month (zero up to rounding)."""
    return sheet["total_assets"] - sheet["total_liabilities_equity"]


def by_period(statement: pd.DataFrame, horizon_months: int, calendar=None,
              freq: str = "month") -> pd.DataFrame:
    """A monthly statement by month, quarter or fiscal year: flows summed, balances and
    closing cash at the period's end, opening cash at its start; index = period labels."""
    key = labels(horizon_months, calendar, freq).reindex(statement.index)
    grouped = statement.groupby(key, sort=False)
    parts = {}
    for col in statement.columns:
        if col in FLOW_LINES:
            parts[col] = grouped[col].sum()
        elif col == "opening_cash":
            parts[col] = grouped[col].first()
        else:
            parts[col] = grouped[col].last()
    out = pd.DataFrame(parts)[list(statement.columns)]
    out.index.name = freq
    return out


def statements(monthly: pd.DataFrame, scenario, initial: dict | None = None,
               freq: str = "month") -> dict[str, pd.DataFrame]:
    """The three statements of one replication by ``freq``, periods labelled with the
    scenario's calendar: ``{"income": …, "cash_flow": …, "balance_sheet": …}``."""
    h, cal = scenario.horizon_months, scenario.calendar
    return {
        "income": by_period(income_statement(monthly, scenario), h, cal, freq),
        "cash_flow": by_period(cash_flow(monthly, initial), h, cal, freq),
        "balance_sheet": by_period(balance_sheet(monthly, initial), h, cal, freq),
    }


def mean_statements(result, freq: str = "month") -> dict[str, pd.DataFrame]:
    """Mean of each statement line across an experiment's replications (means of
    identities are identities: the mean balance sheet balances too). Periods are sums, firsts
    and lasts of months, so the mean by period is the period of the monthly mean: each
    replication's monthly statements are built once."""
    monthly = _mean_monthly_statements(result)
    h, cal = result.scenario.horizon_months, result.scenario.calendar
    return {name: by_period(st, h, cal, freq) for name, st in monthly.items()}


def _mean_monthly_statements(result) -> dict[str, pd.DataFrame]:
    cached = getattr(result, "_mean_monthly_statements", None)
    if cached is not None and cached[0] is result.monthly:
        return cached[1]
    sc = result.scenario
    total: dict[str, pd.DataFrame] = {}
    n = 0
    for r, g in result.monthly.groupby("replication", sort=True):
        m, init = g.drop(columns="replication"), _initial_of(result, r)
        one = {"income": income_statement(m, sc), "cash_flow": cash_flow(m, init),
               "balance_sheet": balance_sheet(m, init)}
        total = one if not total else {k: total[k] + one[k] for k in total}
        n += 1
    out = {k: v / n for k, v in total.items()}
    try:  # a cache for the three period views of one result (month, quarter, fiscal year)
        object.__setattr__(result, "_mean_monthly_statements", (result.monthly, out))
    except (AttributeError, TypeError):
        pass
    return out


def _initial_of(result, replication: int) -> dict:
    rows = result.initial[result.initial["replication"] == replication]
    return rows.drop(columns="replication").iloc[0].to_dict()
