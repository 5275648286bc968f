"""The compare page shows the price-volume-mix bridge (issue 24): one chart per plan with a bar
per line, and a table whose lines add up to each plan's operating-profit difference."""

from __future__ import annotations

import json

import pytest

import sim
from sim.analysis.bridge import TOTAL_LABEL, bridges
from sim.report import cells as nb


@pytest.fixture(scope="module")
def cmp():
    from pathlib import Path

    scen = Path(__file__).resolve().parents[2] / "scenarios"
    sc = [sim.load_scenario(scen / f"{n}.yaml", overrides={"horizon_months": 6})
          for n in ("baseline", "price_increase", "discount_cap")]
    return sim.compare(sc[0], sc[1:], replications=2, seed=1, executor="serial")


def test_the_table_lists_every_line_and_they_add_up_to_the_difference(cmp):
    table = nb.profit_bridge_detail(cmp).data
    assert set(table["plan"]) == {"price_increase", "discount_cap"}
    for plan, rows in table.groupby("plan"):
        total = rows.loc[rows["line"] == TOTAL_LABEL, "mean"]
        assert len(total) == 1
        lines = rows.loc[rows["line"] != TOTAL_LABEL, "mean"].sum()
        assert lines == pytest.approx(float(total.iloc[0]), rel=1e-9, abs=1e-6), plan
        assert (rows["95% low"] <= rows["mean"]).all() and (rows["mean"] <= rows["95% high"]).all()


def test_the_chart_has_one_panel_per_plan_and_a_bar_per_line(cmp):
    spec = json.loads(nb.profit_bridge(cmp).to_json())
    assert len(spec["vconcat"]) == 2
    summaries = {name: s for name, (_, s) in bridges(cmp).items()}
    for panel, (name, summary) in zip(spec["vconcat"], summaries.items(), strict=True):
        assert panel["title"] == f"{name} against baseline"
        assert panel["height"] == 16 * int((summary["driver"] != "total").sum())  # a bar a line
        assert [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
                for layer in panel["layer"]] == ["bar", "rule"]  # and its 95% interval


def test_the_compare_notebook_calls_the_bridge_cells():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "notebooks" / "compare_scenarios.ipynb"
    sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    assert "nb.profit_bridge(cmp)" in sources and "nb.profit_bridge_detail(cmp)" in sources


def test_the_arr_bridge_by_year_shows_repricing_apart_from_expansion(cmp):
    """The scenario page's ARR bridge: repricing at renewal is its own step, and repricing
    plus expansion (seats) is the expansion the ledger books."""
    from sim.report import tables

    plan = next(r for r in cmp.results if r.name == "price_increase")
    steps = tables.arr_bridge_table(plan).set_index("step")["amount"]
    assert list(steps.index[1:7]) == ["Y1 new", "Y1 repricing", "Y1 expansion",
                                      "Y1 contraction", "Y1 churn", "Y1 end ARR"]
    booked = plan.monthly.groupby("replication")["expansion_arr"].sum().mean()
    assert steps["Y1 repricing"] + steps["Y1 expansion"] == pytest.approx(booked, rel=1e-9)
    repriced = plan.by_channel.groupby("replication")["repricing_arr"].sum().mean()
    assert steps["Y1 repricing"] == pytest.approx(repriced, rel=1e-9)
