"""The ledger: levels crossing month boundaries, flows at a boundary, spread busy time."""

from __future__ import annotations

import numpy as np
import pytest
from _scenarios import scenario

from sim.engine.ledger import Ledger, Level
from sim.engine.model import Replication
from sim.units import MONTH_DAYS


def test_a_level_crossing_a_month_boundary_is_integrated_into_both_months():
    arr = Level(horizon=3)
    arr.add(0.5 * MONTH_DAYS, 120.0)  # signs mid-month 1
    arr.add(1.5 * MONTH_DAYS, 60.0)  # expands mid-month 2
    arr.advance(3 * MONTH_DAYS)
    assert arr.integral == pytest.approx([60.0 * MONTH_DAYS, 150.0 * MONTH_DAYS,
                                          180.0 * MONTH_DAYS])
    assert arr.end == [120.0, 180.0, 180.0]


def test_a_change_exactly_at_a_boundary_belongs_to_the_next_month():
    customers = Level(horizon=2)
    customers.add(MONTH_DAYS, 1)
    customers.advance(2 * MONTH_DAYS)
    assert customers.end == [0.0, 1.0]
    assert customers.integral == pytest.approx([0.0, MONTH_DAYS])


def test_set_replaces_the_value_from_then_on():
    heads = Level(horizon=2, value=4)
    heads.set(MONTH_DAYS, 6)
    heads.advance(2 * MONTH_DAYS)
    assert heads.integral == pytest.approx([4 * MONTH_DAYS, 6 * MONTH_DAYS])


def test_flows_and_spread_land_in_the_month_of_their_time():
    ledger = Ledger(3, ["smb"])
    ledger.flow(MONTH_DAYS - 1e-9, "new_customers", 0, 0, 1)
    ledger.flow(MONTH_DAYS, "new_customers", 0, 0, 1)
    ledger.flow(3 * MONTH_DAYS, "new_customers", 0, 0, 1)  # past the horizon: dropped
    ledger.spread(0.75 * MONTH_DAYS, 2.25 * MONTH_DAYS, "ae_busy_days", 0, 1)
    flows = ledger.flows
    assert flows["new_customers"][:, 0, 0].tolist() == [1.0, 1.0, 0.0]
    assert flows["ae_busy_days"][:, 0, 1] == pytest.approx(
        [0.25 * MONTH_DAYS, MONTH_DAYS, 0.25 * MONTH_DAYS])


def test_ae_capacity_is_booked_to_the_month_it_holds_in():
    """Capacity changes at each month start (restaffing): every month's integral is that
    month's capacity for a whole month, never a neighbour's."""
    team = {"hiring_plan": [{"month": 2, "add": 3}, {"month": 4, "add": 2}],
            "ramp_months": 0, "attrition_per_year_frac": 0.0, "fail_to_ramp_frac": 0.0}
    over = {f"sales.teams.{t}.attrition_per_year_frac": 0.0 for t in ("smb", "enterprise")}
    over.update({f"sales.teams.mid_market.{k}": v for k, v in team.items()})
    sc = scenario(over, horizon=5)
    model = Replication(sc)
    model.run()
    slots = np.asarray(model.ledger.ae_capacity_slots)
    assert len(set(slots)) == 3  # the plan changes capacity twice
    assert model.ledger.ae_capacity.integral == pytest.approx(slots * MONTH_DAYS)
    assert model.ledger.ae_capacity.end == pytest.approx(slots)


def test_arr_level_end_values_match_the_bookings():
    """End-of-month ARR equals the starting ARR plus every month's ARR flows so far."""
    model = Replication(scenario(horizon=6))
    model.run()
    ledger = model.ledger
    f = ledger.flows
    net = (f["new_arr"] + f["expansion_arr"] - f["contraction_arr"] - f["churned_arr"]).sum(
        axis=(1, 2))
    end = ledger.end_values("arr").sum(axis=(1, 2))
    assert end == pytest.approx(model.initial["arr"] + np.cumsum(net), rel=1e-12)
