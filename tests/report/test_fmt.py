"""The KPI catalogue covers every KPI revsim reports, and each unit has one format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import sim
from sim import kpis as fmt

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def result():
    sc = sim.load_scenario(BASE, {"horizon_months": 3})
    return sim.run_experiment(sc, replications=1, seed=0, executor="serial")


def test_catalogue_covers_every_kpi_in_the_summary(result):
    summary = result.kpi_summary
    missing = set(summary["kpi"]) - set(fmt.KPIS)
    assert not missing, f"add these KPIs to sim.kpis.KPIS: {sorted(missing)}"
    for row in summary.itertuples():
        assert row.label == fmt.KPIS[row.kpi].label


def test_catalogue_covers_the_sweep_and_account_plan_measures():
    from sim.report.tables import ACCOUNT_PLAN_MEASURES, SWEEP_EXTRA

    sc = sim.load_scenario(BASE, {"horizon_months": 2})
    table = sim.sweep(sc, {"sales.teams.mid_market.count": [6]}, replications=1, executor="serial").table
    kpis = {c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")}
    assert kpis | set(SWEEP_EXTRA) <= set(fmt.KPIS)
    assert set(ACCOUNT_PLAN_MEASURES) <= set(fmt.KPIS)


def test_every_kpi_is_complete():
    for name, k in fmt.KPIS.items():
        assert k.name == name and k.label and k.short
        assert k.unit in fmt.EXCEL_FORMATS, name
        assert isinstance(k.higher_is_better, bool)
    for group in (fmt.HEADLINE_KPIS, fmt.INDEX_KPIS, fmt.COMPARE_KPIS):
        assert set(group) <= set(fmt.KPIS)
    assert not fmt.KPIS["cac_payback_months"].higher_is_better
    assert not fmt.KPIS["programme_cost"].higher_is_better


@pytest.mark.parametrize(("unit", "value", "text"), [
    (fmt.USD, 58_840_000, "$58.84M"),
    (fmt.USD, -1_234_567, "-$1.23M"),
    (fmt.USD, 450_000, "$450K"),
    (fmt.USD, 2_500_000_000, "$2.50B"),
    (fmt.USD, -726, "-$726"),
    (fmt.FRAC, 0.97, "97.0%"),
    (fmt.FRAC, 1.011, "101.1%"),
    (fmt.MONTHS, 17.06, "17.1 mo"),
    (fmt.DAYS, 12.25, "12.2 days"),
    (fmt.COUNT, 1480.4, "1,480"),
    (fmt.RATIO, 1.254, "1.25×"),
    (fmt.NUMBER, 0.012345, "0.01235"),
])
def test_one_format_per_unit(unit, value, text):
    assert fmt.fmt_unit(unit, value) == text


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, "n/a"])
@pytest.mark.parametrize("unit", sorted(fmt.EXCEL_FORMATS))
def test_missing_values_show_as_a_dash_in_every_unit(unit, missing):
    assert fmt.fmt_unit(unit, missing) == fmt.MISSING


@pytest.mark.parametrize(("name", "unit"), [
    ("revenue_total", fmt.USD),                          # from the catalogue
    ("cac_payback_months", fmt.MONTHS),
    ("ending_customers", fmt.COUNT),
    ("pricing.segments.smb.list_price_usd", fmt.USD),    # from the name
    ("costs.fixed_opex_per_month_usd", fmt.USD),
    ("pricing.segments.smb.discount_cap_frac", fmt.FRAC),
    ("nrr", fmt.FRAC),
    ("gross_margin", fmt.FRAC),
    ("avg_sales_cycle_days", fmt.DAYS),
    ("sales.teams.mid_market.count", fmt.COUNT),
    ("net_new_arr", fmt.USD),
    ("cash_floor", fmt.USD),
    ("channels.partner.active_partners", fmt.NUMBER),
])
def test_unit_from_the_catalogue_or_the_name(name, unit):
    assert fmt.unit_of(name) == unit


def test_the_formatter_uses_the_catalogue():
    assert fmt.fmt_value("nrr_last_year", 0.97) == "97.0%"
    assert fmt.fmt_value("ending_arr", 41_860_000) == "$41.86M"
    assert fmt.fmt_value("programme_accounts", 12.25) == "12.2"   # a mean count
    assert fmt.fmt_value("return_on_cost", 2) == "2.00×"
    assert fmt.fmt_range("cac_payback_months", 15.8, 18.9) == "15.8 mo – 18.9 mo"
    assert fmt.excel_format("gross_margin_frac") == "0.0%"
    assert fmt.excel_format("revenue_total") == "#,##0"
    assert fmt.label("unknown_kpi") == fmt.short_label("unknown_kpi") == "unknown_kpi"


def test_lever_values_read_as_written():
    assert fmt.fmt_lever(True) == "True"
    assert fmt.fmt_lever(12000) == "12,000"
    assert fmt.fmt_lever(0.123456) == "0.123"
    assert fmt.fmt_lever(650.0) == "650"
    assert fmt.fmt_lever("x") == "x"
