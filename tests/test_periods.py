"""Plan months on the calendar: months, quarters and fiscal years."""

from __future__ import annotations

import pytest

import sim
from sim.scenario.calendar import labels, period_table
from sim.scenario.io import scenario_to_dict
from sim.scenario.model import Calendar


def test_without_a_calendar_periods_are_plan_relative():
    t = period_table(14)
    assert t["month_label"].iloc[0] == "Month 1"
    assert t["quarter"].tolist()[:4] == ["Q1", "Q1", "Q1", "Q2"]
    assert t["year"].iloc[12] == "Year 2"


def test_fiscal_year_is_named_by_the_year_it_ends_in():
    cal = Calendar(start_month="2026-11", fiscal_year_start_month=2)
    t = period_table(16, cal).set_index("month")
    assert t.loc[1, "month_label"] == "Nov 2026"
    assert t.loc[3, "month_label"] == "Jan 2027"
    # FY2027 runs Feb 2026 - Jan 2027; Nov 2026 is its fourth quarter
    assert t.loc[1, "year"] == "FY2027" and t.loc[1, "quarter"] == "FY2027 Q4"
    assert t.loc[3, "year"] == "FY2027" and t.loc[4, "year"] == "FY2028"
    assert t.loc[4, "quarter"] == "FY2028 Q1"
    assert t.loc[1, "calendar_quarter"] == "2026 Q4" and t.loc[3, "calendar_quarter"] == "2027 Q1"
    cal_jan = Calendar(start_month="2026-01")
    assert labels(24, cal_jan, "year").tolist() == ["FY2026"] * 12 + ["FY2027"] * 12
    with pytest.raises(ValueError):
        labels(3, None, "week")


def test_a_calendar_does_not_change_the_hash_of_scenarios_without_one(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sc = sim.load_scenario(root / "scenarios" / "baseline.yaml")
    assert sc.calendar is None
    assert "calendar" not in scenario_to_dict(sc)
    dated = sim.with_overrides(sc, {"calendar": {"start_month": "2026-04",
                                                 "fiscal_year_start_month": 4}})
    assert dated.calendar.start_month == "2026-04"
    assert sim.scenario_hash(dated) != sim.scenario_hash(sc)
    with pytest.raises(sim.ScenarioError):
        sim.with_overrides(sc, {"calendar": {"start_month": "2026-13"}})
