"""Charts a CFO reads at a glance: time axes end at the horizon and read calendar months,
operating profit comes first, several scenarios are small multiples, money axes say $K/$M,
the cohort chart and the notes under unit economics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import vl_convert as vlc

import sim
from sim import kpis as fmt
from sim.report import cells, chart_style, charts, tables
from sim.scenario.model import Calendar

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"
HORIZON = 7  # odd on purpose: a "nice" axis would round it up to 8 or 10
OP = fmt.label("operating_profit_total")


@pytest.fixture(scope="module")
def cmp():
    sc = sim.load_scenario(BASE, {"horizon_months": HORIZON})
    others = [sim.with_overrides(sc, {"pricing.annual_uplift_frac": 0.08}).model_copy(
                  update={"name": "uplift"}),
              sim.with_overrides(sc, {"channels.inbound.budget_per_month_usd": 90000}).model_copy(
                  update={"name": "less marketing"})]
    return sim.compare(sc, others, replications=2, seed=3, executor="serial")


@pytest.fixture(scope="module")
def calendar_result():
    sc = sim.load_scenario(BASE, {"horizon_months": 14}).model_copy(
        update={"calendar": Calendar(start_month="2026-02", fiscal_year_start_month=4)})
    return sim.run_experiment(sc, replications=2, seed=1, executor="serial")


def _x_domains(spec) -> list:
    """Every x scale domain in a Vega-Lite spec (any depth)."""
    found = []
    if isinstance(spec, dict):
        x = spec.get("encoding", {}).get("x") if isinstance(spec.get("encoding"), dict) else None
        if isinstance(x, dict) and "domain" in x.get("scale", {}):
            found.append(x["scale"]["domain"])
        for v in spec.values():
            found += _x_domains(v)
    elif isinstance(spec, list):
        for v in spec:
            found += _x_domains(v)
    return found


def _axis_labels(svg: str) -> list[str]:
    groups = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
    return [t for g in groups for t in re.findall(r"<text[^>]*>([^<]*)</text>", g)]


@pytest.mark.slow
def test_time_axes_end_at_the_horizon(cmp):
    r = cmp.base
    bands, trough = tables.cash_tables(r)
    for chart, first in ((charts.fan_chart(tables.fan_table(r)), 1),
                         (charts.cash_chart(bands, trough), 0),
                         (charts.utilisation_chart(tables.utilisation_table(r)), 1),
                         (charts.scenario_panels(tables.paths_table(cmp)), 1),
                         (charts.scenario_bands(tables.paths_table(cmp)), 1)):
        spec = chart.to_dict()
        domains = _x_domains(spec)
        assert domains and all(d == [first, HORIZON] for d in domains), domains
        svg = vlc.vegalite_to_svg(spec)
        months = [int(t) for t in _axis_labels(svg) if t.isdigit()]
        assert max(months) == HORIZON and min(months) >= first


@pytest.mark.parametrize(("first", "last", "width", "calendar"),
                         [(1, 36, 640, False), (0, 36, 640, True), (1, 12, 250, True),
                          (1, 120, 640, False), (1, 7, 640, False)])
def test_month_ticks_fit_the_axis(first, last, width, calendar):
    ticks = chart_style.month_ticks(first, last, width, calendar)
    assert ticks[0] == first and ticks[-1] <= last and ticks == sorted(set(ticks))
    assert len(ticks) <= max(2, width // (70 if calendar else 34)) + 1


def test_calendar_months_on_time_axes_and_fiscal_years_in_the_annual_pnl(calendar_result):
    labels = tables.month_labels(calendar_result)
    assert labels[1] == "Feb 2026" and labels[14] == "Mar 2027" and labels[0] == "Start"
    svg = vlc.vegalite_to_svg(cells.revenue_profit_fan(calendar_result).to_dict())
    shown = _axis_labels(svg)
    assert "Feb 2026" in shown and not any(t.isdigit() and int(t) > 14 for t in shown)
    pnl = tables.annual_pnl_table(calendar_result)
    # fiscal years start in April: Feb-Mar 2026 close FY2026, Apr 2026-Mar 2027 is FY2027
    assert list(pnl.columns) == ["FY2026 (2 mo)", "FY2027"]
    monthly = calendar_result.monthly
    rev = monthly[monthly["month"] <= 2].groupby("replication")["revenue"].sum().mean()
    assert pnl.loc["Revenue", "FY2026 (2 mo)"] == pytest.approx(rev, rel=1e-12)
    assert tables.month_labels(sim.load_scenario(BASE)) is None


def test_delta_panels_and_kpi_orderings_put_operating_profit_first(cmp):
    d = tables.compare_deltas_table(cmp)
    assert d["kpi"].iloc[0] == OP
    ranks = [fmt.decision_rank(k) for k in d["kpi_name"]]
    assert ranks == sorted(ranks)
    spec = charts.comparison_bars(d).to_dict()
    assert spec["facet"]["sort"][0] == OP
    svg = vlc.vegalite_to_svg(spec)
    # each panel's header is a title drawn in panel order; the chart's own title comes last
    headers = re.findall(r'class="mark-text role-title-text".*?<text[^>]*>([^<]*)</text>', svg,
                         re.S)
    assert headers[0] == OP and headers[:-1] == list(dict.fromkeys(d["kpi"])), headers
    assert charts.scenario_kpi_bars(tables.compare_kpi_table(cmp)).to_dict()[
        "facet"]["column"]["sort"][0] == OP
    assert tables.fan_table(cmp.base)["measure"].iloc[0] == "Operating profit"
    assert fmt.HEADLINE_KPIS[0] == "operating_profit_total"
    summary = cells.summary(cmp.base)._repr_mimebundle_()
    # what binds leads the summary (issue 24), then the KPIs, operating profit first
    lines = summary["text/plain"].splitlines()
    assert lines[1].startswith(("What binds", "Nothing binds")) and lines[2].startswith(OP)
    assert cells.MIME_KPIS in summary


def test_scenarios_are_small_multiples_with_the_base_in_every_panel(cmp):
    paths = tables.paths_table(cmp)
    spec = charts.scenario_panels(paths).to_dict()
    panels = spec["vconcat"]
    assert [p["title"]["text"] for p in panels] == ["Operating profit per month",
                                                    "Revenue per month"]
    for p in panels:
        assert p["facet"]["field"] == "scenario"
        assert p["facet"]["sort"] == [r.name for r in cmp.results]
        layers = p["spec"]["layer"]
        assert any(layer["mark"].get("strokeDash") for layer in layers)  # the base, dashed
    svg = vlc.vegalite_to_svg(spec)
    assert svg.count('class="mark-line role-mark') >= 2 * 2 * len(cmp.results)


def test_money_axes_read_k_and_m():
    import pandas as pd

    df = pd.DataFrame({"month": [1, 2, 3], "measure": "Revenue", "p10": [-4e5, 1.5e6, 2e6],
                       "p50": [-2e5, 1.6e6, 2.5e6], "p90": [0.0, 1.7e6, 3e6]})
    labels = _axis_labels(vlc.vegalite_to_svg(charts.fan_chart(df).to_dict()))
    money = [t for t in labels if "$" in t]
    assert money and any(t.endswith("M") for t in money) and any(t.endswith("K") for t in money)
    assert not any(t.endswith(("k", "G")) for t in money)


def test_cohort_retention_starts_whole_and_is_drawn(cmp):
    t = tables.cohort_table(cmp.base)
    assert set(t["measure"]) == set(tables.COHORT_MEASURES.values())
    start = t[t["age"] == 0]
    assert start["value"].to_numpy() == pytest.approx(1.0)
    logo = t[t["measure"] == tables.COHORT_MEASURES["logo"]]
    assert (logo["value"] >= 0).all() and (logo["value"] <= 1 + 1e-12).all()
    assert t.sort_values("cohort_order")["cohort"].iloc[0] == "installed base"
    svg = vlc.vegalite_to_svg(cells.cohort_retention(cmp.base).to_dict())
    assert svg.count('class="mark-line role-mark') >= 2


@pytest.mark.parametrize("dim", ["segment", "channel"])
def test_unit_economics_notes(cmp, dim):
    out = cells.unit_economics(cmp.base, dim)._repr_mimebundle_()
    t = tables.unit_economics_table(cmp.base, dim)
    assert "need not add up to the total row" in out["text/html"]
    both = bool(((t["ROI"] < 0) & (t["LTV / CAC"] > 1)).any())
    assert ("LTV / CAC and ROI measure different things" in out["text/html"]) == both


def test_lever_table_lists_only_what_differs(cmp):
    html = cells.compare_levers(cmp).to_html()
    assert "Annual price uplift at renewal" in html and "Paid marketing budget" in html
    assert "Starting cash" not in html and "List price, smb" not in html
