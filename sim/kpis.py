"""The KPI catalogue (name, label, unit, format, which way is better) and the one formatter.

Every KPI the CLI, the notebooks, the Excel workbook and the index show is described once
here; anything else (a lever key, a target metric, a table column) gets its unit from its
name (``_usd``, ``_frac``, ``_months``, ``_days``, counts). No heavy imports: the CLI loads this
before pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

USD, FRAC, MONTHS, DAYS, COUNT, RATIO, NUMBER, TEXT = (
    "usd", "frac", "months", "days", "count", "ratio", "number", "text")
"""The units a value can have; each has one text format and one Excel number format (a
``TEXT`` KPI is a sentence, such as what binds)."""

EXCEL_FORMATS = {USD: "#,##0", FRAC: "0.0%", MONTHS: "0.0", DAYS: "0.0", COUNT: "#,##0",
                 RATIO: "0.00", NUMBER: "#,##0.00", TEXT: "@"}
"""Excel number format per unit (cells stay numbers; only their display changes)."""

MISSING = "—"
"""What a missing or non-finite value shows as."""
NOT_MEANINGFUL = "n/m"
"""What a ratio that has no meaning shows as (the burn multiple of a plan generating cash)."""


@dataclass(frozen=True)
class Kpi:
    """One KPI: its key in the tables, how people read it and which way is better."""

    name: str
    label: str
    """Long label with the unit, as in ``kpi_summary`` and summary.json."""
    short: str
    """Short label for narrow table headers."""
    unit: str
    higher_is_better: bool = True
    format: str | None = None
    """A format spec that overrides the unit's (e.g. a mean count with one decimal)."""
    missing: str = MISSING
    """What a missing value reads as (the burn multiple of a cash-generative year: n/m)."""


def _catalogue(*kpis: Kpi) -> dict[str, Kpi]:
    return {k.name: k for k in kpis}


KPIS = _catalogue(
    # headline KPIs of every replication (sim.analysis.metrics.headline_kpis)
    Kpi("revenue_total", "Revenue, total (USD)", "Revenue", USD),
    Kpi("operating_profit_total", "Operating profit, total (USD)", "Operating profit", USD),
    Kpi("npv_operating_profit", "NPV of operating profit (USD)", "NPV of operating profit", USD),
    Kpi("value_created_usd", "Value created: NPV of profit + customer equity (USD)",
        "Value created", USD),
    Kpi("customer_equity_usd",
        "Customer equity of the ending base, discounted to today (USD)", "Customer equity", USD),
    Kpi("ending_arr", "Ending ARR (USD)", "Ending ARR", USD),
    Kpi("net_new_arr_total", "Net new ARR (USD)", "Net new ARR", USD),
    Kpi("nrr_last_year", "NRR, last full year", "NRR", FRAC),
    Kpi("grr_last_year", "GRR, last full year", "GRR", FRAC),
    Kpi("logo_churn_last_year", "Logo churn, last full year (share of customers at its start)",
        "Logo churn", FRAC, higher_is_better=False),
    Kpi("cash_trough", "Cash trough (USD)", "Cash trough", USD),
    Kpi("ending_cash", "Ending cash (USD)", "Ending cash", USD),
    Kpi("cac_payback_months", "CAC payback (months)", "CAC payback", MONTHS,
        higher_is_better=False),
    Kpi("gross_margin_frac", "Gross margin", "Gross margin", FRAC),
    Kpi("ending_customers", "Ending customers", "Ending customers", COUNT),
    # CFO efficiency metrics of every replication (sim.analysis.metrics.cfo_kpis)
    Kpi("ltv_to_cac_last_year", "LTV/CAC, last full year", "LTV/CAC", RATIO),
    Kpi("burn_multiple_last_year", "Burn multiple, last full year (n/m when cash-generative)",
        "Burn multiple", RATIO, higher_is_better=False, missing=NOT_MEANINGFUL),
    Kpi("fcf_margin_last_year", "Free-cash-flow margin, last full year", "FCF margin", FRAC),
    Kpi("rule_of_40_last_year", "Rule of 40, last full year (points)", "Rule of 40", NUMBER,
        format="{:,.1f}"),
    Kpi("magic_number_last_year",
        "Magic number, last quarter of the last full year (Q-on-Q revenue × 4 ÷ prior S&M)",
        "Magic number (last qtr)", RATIO),
    Kpi("first_profitable_month", "First profitable month", "First profitable month", MONTHS,
        higher_is_better=False),
    Kpi("break_even_month", "Cumulative break-even month", "Break-even month", MONTHS,
        higher_is_better=False),
    # sweep points (sim.experiments.experiment.sweep, pricing_sweep)
    Kpi("win_rate_frac", "Win rate", "Win rate", FRAC),
    Kpi("new_arr_per_deal", "New ARR per deal", "New ARR per deal", USD),
    Kpi("avg_discount_frac", "Average discount off list (deals won)", "Average discount", FRAC,
        higher_is_better=False),
    # account-plan programme (sim.experiments.experiment.account_plan_return)
    Kpi("programme_accounts", "Accounts in the programme (ever)", "Programme accounts", COUNT,
        format="{:,.1f}"),
    Kpi("renewal_rate_programme", "Renewal rate, with programme", "Renewal rate (with)", FRAC),
    Kpi("renewal_rate_without", "Renewal rate, same accounts without", "Renewal rate (without)",
        FRAC),
    Kpi("nrr_programme", "NRR from entry, with programme", "NRR (with)", FRAC),
    Kpi("nrr_without", "NRR from entry, same accounts without", "NRR (without)", FRAC),
    Kpi("new_unit_arr", "New-unit ARR (buy new, other business units)", "New-unit ARR", USD),
    Kpi("programme_cost", "Programme cost", "Programme cost", USD, higher_is_better=False),
    Kpi("incremental_gross_profit", "Incremental gross profit", "Incremental gross profit", USD),
    Kpi("incremental_operating_profit", "Incremental operating profit (after programme cost)",
        "Incremental operating profit", USD),
    Kpi("return_on_cost", "Return: incremental gross profit ÷ programme cost", "Return on cost",
        RATIO),
    # a comparison's words (sim.analysis.constraints): not a number, one sentence per plan
    Kpi("binding_constraint", "What binds (the tightest constraint)", "What binds", TEXT),
)
"""Every KPI by name."""

HEADLINE_KPIS = ("operating_profit_total", "revenue_total", "ending_arr", "net_new_arr_total",
                 "nrr_last_year", "cash_trough", "cac_payback_months")
"""The KPIs a scenario's summary leads with (profit first)."""
INDEX_KPIS = HEADLINE_KPIS[:-1]
"""The KPIs on each card of the report's index page."""
DECISION_KPI = "npv_operating_profit"
"""The KPI plans are ranked on: NPV of operating profit (verdict, compare, index)."""

DECISION_KPIS = ("operating_profit_total", "npv_operating_profit", "value_created_usd",
                 "revenue_total", "ending_arr", "nrr_last_year", "grr_last_year",
                 "logo_churn_last_year", "ending_cash", "cash_trough", "cac_payback_months",
                 "binding_constraint")
"""Every KPI a decision between plans is taken on, in reading order: ``revsim compare``, the
compare page, the verdict and the board pack all show these (and only from here)."""
COMPARE_KPIS = tuple(k for k in DECISION_KPIS if k != "binding_constraint")
"""The decision KPIs that are numbers: a comparison reports their paired differences (what
binds is a sentence per plan, ``sim.analysis.constraints``)."""
DERIVED_KPIS = ("logo_churn_last_year",)
"""Decision KPIs computed from a result's tables when compared, not stored per replication
(so a run's summary.json keeps its KPIs)."""

DECISION_ORDER = ("operating_profit_total", "npv_operating_profit", "value_created_usd",
                  "customer_equity_usd", "revenue_total",
                  "ending_arr", "net_new_arr_total", "cash_trough", "ending_cash", "nrr_last_year",
                  "grr_last_year", "logo_churn_last_year", "gross_margin_frac", "cac_payback_months",
                  "ltv_to_cac_last_year", "burn_multiple_last_year", "fcf_margin_last_year",
                  "rule_of_40_last_year",
                  "magic_number_last_year", "first_profitable_month", "break_even_month",
                  "ending_customers")
"""The order a CFO reads KPIs in: profit, then growth, cash, retention and efficiency."""


def decision_rank(name: str) -> int:
    """Position of a KPI in :data:`DECISION_ORDER` (then catalogue order, then the rest)."""
    if name in DECISION_ORDER:
        return DECISION_ORDER.index(name)
    names = list(KPIS)
    return len(DECISION_ORDER) + (names.index(name) if name in names else len(names))


REACHED_KPIS = ("first_profitable_month", "break_even_month")
"""KPIs a run may never reach (no value in that run): their statistics are over the runs that
reached them, so they are shown with the share of runs that did (:func:`reached_note`)."""


def reached_note(name: str, reached: Any, runs: Any, short: bool = False) -> str:
    """`` (reached in 7 of 10 runs, 70%)`` for a KPI of :data:`REACHED_KPIS` (its statistics
    are over those runs), else ``""``;
    ``short``: `` (7 of 10 runs)``."""
    if name not in REACHED_KPIS:
        return ""
    k, n = as_float(reached), as_float(runs)
    if math.isnan(k) or math.isnan(n) or n <= 0:
        return ""
    if short:
        return f" ({k:,.0f} of {n:,.0f} runs)"
    return f" (reached in {k:,.0f} of {n:,.0f} runs, {k / n:.0%})"


_MONEY_WORDS = ("revenue", "profit", "arr", "cash", "npv", "cost", "budget", "price")


def label(name: str) -> str:
    """The long label of a KPI (its name when it is not in the catalogue)."""
    k = KPIS.get(name)
    return k.label if k else name


def short_label(name: str) -> str:
    """The short label of a KPI (its name when it is not in the catalogue)."""
    k = KPIS.get(name)
    return k.short if k else name


def unit_of(name: str) -> str:
    """The unit of a KPI, or of any other value from its name: ``x_frac``, ``nrr``/``grr``,
    margins and rates are fractions; ``_months``, ``_days``, customers and counts; ``_usd``
    and money words are dollars."""
    if name in KPIS:
        return KPIS[name].unit
    k = name.lower()
    if k.endswith("_frac") or k.startswith(("nrr", "grr")) or "margin" in k or "rate" in k:
        return FRAC
    if "months" in k or k.endswith("_month"):
        return MONTHS
    if k.endswith("_days"):
        return DAYS
    if "customers" in k or k.endswith(("_count", ".count")):
        return COUNT
    if "per_deal" in k or k.endswith("_usd") or any(w in k for w in _MONEY_WORDS):
        return USD
    return NUMBER


def as_float(x: Any) -> float:
    """A finite float, or NaN for anything missing or not a number."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def fmt_usd(x: Any) -> str:
    """$58.84M, $450K, -$1.20M; an em dash for missing values."""
    v = as_float(x)
    if math.isnan(v):
        return MISSING
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{sign}${a / 1e3:,.0f}K"
    return f"{sign}${a:,.0f}"


def fmt_dollars(x: Any) -> str:
    """Whole dollars with the sign first: -$2,730,091; an em dash for missing values."""
    v = as_float(x)
    if math.isnan(v):
        return MISSING
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


def fmt_unit(unit: str, x: Any) -> str:
    """A value in a unit: $1.23M, 45.0%, 17.1 mo, 12.5 days, 1,480, 1.25×, 0.0123."""
    v = as_float(x)
    if math.isnan(v):
        return MISSING
    if unit == USD:
        return fmt_usd(v)
    if unit == FRAC:
        return f"{v:.1%}"
    if unit == MONTHS:
        return f"{v:,.1f} mo"
    if unit == DAYS:
        return f"{v:,.1f} days"
    if unit == COUNT:
        return f"{v:,.0f}"
    if unit == RATIO:
        return f"{v:.2f}×"
    return f"{v:,.4g}"


def fmt_value(name: str, x: Any) -> str:
    """A KPI (or any named value) the way a CFO reads it: the one formatter of revsim."""
    k = KPIS.get(name)
    if k is not None and math.isnan(as_float(x)):
        return k.missing
    if k is not None and k.format is not None:
        return k.format.format(as_float(x))
    return fmt_unit(unit_of(name), x)


def fmt_range(name: str, low: Any, high: Any, sep: str = " – ") -> str:
    """``low – high`` of a KPI, each in its unit."""
    return f"{fmt_value(name, low)}{sep}{fmt_value(name, high)}"


def excel_format(name: str) -> str:
    """The Excel number format of a KPI or named value."""
    return EXCEL_FORMATS[unit_of(name)]


def fmt_lever(value: Any) -> str:
    """A lever's value as written in a scenario, shortened: 1,234 · 0.123 · True."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    f = as_float(value)
    if math.isnan(f):
        return str(value)
    if abs(f) < 1:
        return f"{f:.3g}"
    return f"{f:,.0f}"
