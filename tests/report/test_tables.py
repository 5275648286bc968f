"""sim.report.tables and sim.report.charts: tidy tables from real results, every chart drawn
offline from them, and the tables finance reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import vl_convert as vlc

import sim
from sim import kpis as fmt
from sim.experiments.experiment import pricing_sweep
from sim.report import charts, tables

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def small():
    sc = sim.load_scenario(BASE, {"horizon_months": 12})
    return sim.compare(sc, [sim.with_overrides(sc, {"pricing.annual_uplift_frac": 0.08})],
                       replications=2, seed=1, executor="serial")


def _svg(chart) -> str:
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.startswith("<svg") and "mark-" in svg
    return svg


@pytest.mark.slow
def test_every_chart_draws_offline_from_tidy_tables(small):
    r = small.base
    bands, trough = tables.cash_tables(r)
    sens = sim.sensitivity(r.scenario, ["sales.teams.mid_market.count"], replications=1,
                           executor="serial")
    grid = pricing_sweep(r.scenario, [0, 10], [0.2], replications=1)
    for chart in (charts.fan_chart(tables.fan_table(r)),
                  charts.arr_bridge_waterfall(tables.arr_bridge_table(r)),
                  charts.cash_chart(bands, trough),
                  charts.utilisation_chart(tables.utilisation_table(r)),
                  charts.target_attainment_bars(tables.targets_table(r)),
                  charts.tornado(tables.tornado_table(sens)),
                  charts.sweep_curves(tables.pricing_curves_table(grid)),
                  charts.scenario_kpi_bars(tables.compare_kpi_table(small)),
                  charts.comparison_bars(tables.compare_deltas_table(small)),
                  charts.scenario_bands(tables.paths_table(small))):
        _svg(chart)
    charts.enable_offline_rendering()
    bundle = charts.fan_chart(tables.fan_table(r))._repr_mimebundle_()
    assert "image/svg+xml" in (bundle[0] if isinstance(bundle, tuple) else bundle)


def test_arr_bridge_steps_close_to_year_end_arr(small):
    b = tables.arr_bridge_table(small.base)
    ends = b[b["step"].str.endswith("end ARR")]
    flows = b[b["kind"] != "total"]
    assert flows["end"].iloc[-1] == pytest.approx(ends["end"].iloc[-1], rel=1e-9)
    assert b.loc[0, "end"] == pytest.approx(float(small.base.initial["arr"].mean()))


def test_tables_for_finance(small):
    pnl = tables.annual_pnl_table(small.base)
    assert list(pnl.columns) == ["Year 1"] and "Operating profit" in pnl.index
    assert pnl.loc["Operating profit", "Year 1"] == pytest.approx(
        pnl.loc["Revenue", "Year 1"] - pnl.loc["Total cost (incl. cost of revenue)", "Year 1"])
    a = tables.assumptions_table(small.base.scenario).set_index("key")["value"]
    assert a["sales.teams.mid_market.hiring_plan.0.month"] == 7
    assert fmt.fmt_usd(-1_234_567) == "-$1.23M"
    assert fmt.fmt_value("nrr_last_year", 0.97) == "97.0%"


def test_deltas_carry_the_catalogue_direction(small):
    d = tables.compare_deltas_table(small)
    assert set(d["kpi_name"]) == set(fmt.COMPARE_KPIS)
    assert list(d["kpi"]) == [fmt.label(k) for k in d["kpi_name"]]
    for row in d.itertuples():  # lower is better for churn and payback (the catalogue says)
        up = fmt.KPIS[row.kpi_name].higher_is_better
        better = row.mean_delta >= 0 if up else row.mean_delta <= 0
        assert row.direction == ("better" if better else "worse")


def test_kpi_tables_shared_by_excel_and_the_index(small):
    p50 = tables.kpi_p50_table(small.results)
    assert list(p50.columns) == [r.name for r in small.results]
    assert p50.iloc[:, 0]["Revenue, total (USD)"] == pytest.approx(
        float(small.base.kpi_summary.set_index("kpi").loc["revenue_total", "p50"]))
    head = tables.headline_table(small.base, fmt.INDEX_KPIS)
    assert list(head["kpi"]) == list(fmt.INDEX_KPIS)
    assert all(" (" in t and " – " in t for t in head["text"])


@pytest.fixture(scope="module")
def fiscal():
    """20 months from Nov 2026 with a fiscal year from February: FY2027 is Nov 2026 – Jan
    2027 (3 months), FY2028 12 months, FY2029 Feb – Jun 2028 (5 months)."""
    sc = sim.load_scenario(BASE, {"horizon_months": 20, "calendar": {
        "start_month": "2026-11", "fiscal_year_start_month": 2}})
    return sim.compare(sc, [sim.with_overrides(sc, {"pricing.annual_uplift_frac": 0.08})],
                       replications=2, seed=1, executor="serial")


@pytest.mark.slow
def test_with_a_calendar_the_year_tables_are_fiscal_years(fiscal, small):
    """ARR bridge, funnel and the compare page's P&L differences group by fiscal year, as the
    annual P&L does; the groups add up to the whole horizon. Without a calendar they stay
    plan years."""
    r = fiscal.base
    years = ["FY2027", "FY2028", "FY2029"]
    steps = tables.arr_bridge_table(r)["step"].tolist()
    assert [s for s in steps if s.endswith("end ARR")] == [f"{y} end ARR" for y in years]
    assert "FY2027 new" in steps and not any(s.startswith("Y1") for s in steps)
    funnel = tables.funnel_table(r)
    assert list(funnel.index) == years
    assert funnel["Leads"].sum() == pytest.approx(
        r.monthly.groupby("replication")["leads"].sum().mean())
    diffs = tables.pnl_differences_table(fiscal)
    assert diffs["year"].tolist() == years
    other = fiscal.others[0]
    whole = (other.monthly.groupby("replication")["revenue"].sum().mean()
             - r.monthly.groupby("replication")["revenue"].sum().mean())
    assert diffs["Revenue"].sum() == pytest.approx(whole, rel=1e-9, abs=1e-6)
    assert list(tables.annual_pnl_table(r).columns) == [
        "FY2027 (3 mo)", "FY2028", "FY2029 (5 mo)"]
    # no calendar: plan years, as before
    assert tables.arr_bridge_table(small.base)["step"].iloc[1] == "Y1 new"
    assert list(tables.funnel_table(small.base).index) == ["Year 1"]
    assert tables.pnl_differences_table(small)["year"].tolist() == ["Year 1"]


def test_a_compared_plan_longer_than_the_base_gets_fiscal_years_too():
    """Plans in a comparison need not share a horizon: the longer plan's extra fiscal years
    are named (differences there are empty, as the base has none)."""
    cal = {"start_month": "2026-11", "fiscal_year_start_month": 2}
    short = sim.load_scenario(BASE, {"horizon_months": 3, "calendar": cal})
    long = sim.with_overrides(short, {"horizon_months": 16}, name="long")
    cmp = sim.compare(short, [long], replications=1, seed=1, executor="serial")
    diffs = tables.pnl_differences_table(cmp)
    assert diffs["year"].tolist() == ["FY2027", "FY2028", "FY2029"]
    assert diffs.set_index("year").loc["FY2029"].drop("scenario").isna().all()
