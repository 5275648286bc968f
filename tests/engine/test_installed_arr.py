"""``segments.<seg>.installed_arr_usd``: the installed base opens at the books' ARR, exactly.

The engine prices the installed accounts so that each segment's ARR at day 0 is the given
amount; without the key nothing changes (the golden backtest pins that).
"""

from __future__ import annotations

import pytest
from engine_helpers import CENT, from_baseline

import sim
from sim.scenario.io import ScenarioError

BOOKS = {"smb": 5_432_109.87, "mid_market": 9_876_543.21, "enterprise": 3_210_987.65}


def _opening_arr(res) -> dict[str, float]:
    ev = res.events
    inst = ev[ev["kind"] == "installed"]
    return inst.groupby("segment")["amount_usd"].sum().to_dict()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_opening_arr_equals_the_books_to_the_cent(seed):
    sc = from_baseline({f"segments.{s}.installed_arr_usd": v for s, v in BOOKS.items()},
                       horizon=1)
    res = sim.simulate(sc, seed=seed, events=True)
    got = _opening_arr(res)
    for seg, books in BOOKS.items():
        assert abs(got[seg] - books) < CENT, (seg, got[seg], books)
    assert abs(res.initial["arr"] - sum(BOOKS.values())) < CENT
    # without the key the opening ARR is a random amount, different per seed and not the books
    free = _opening_arr(sim.simulate(from_baseline(horizon=1), seed=seed, events=True))
    assert all(abs(free[s] - BOOKS[s]) > 1000 for s in BOOKS)


def test_scaling_keeps_everything_but_the_price():
    """Same seats, terms, ages and account count: only prices move, by one factor per
    segment."""
    sc = from_baseline({"segments.smb.installed_arr_usd": 7_000_000.0}, horizon=1)
    a = sim.simulate(from_baseline(horizon=1), seed=5, events=True).events
    b = sim.simulate(sc, seed=5, events=True).events
    a, b = a[a["kind"] == "installed"], b[b["kind"] == "installed"]
    assert len(a) == len(b)
    smb_a, smb_b = a[a["segment"] == "smb"], b[b["segment"] == "smb"]
    ratio = smb_b["amount_usd"].to_numpy() / smb_a["amount_usd"].to_numpy()
    assert ratio.max() - ratio.min() < 1e-9
    assert abs(ratio[0] * smb_a["amount_usd"].sum() - 7_000_000.0) < CENT
    other_a, other_b = a[a["segment"] != "smb"], b[b["segment"] != "smb"]
    assert other_a["amount_usd"].tolist() == other_b["amount_usd"].tolist()


def test_installed_arr_needs_installed_customers():
    with pytest.raises(ScenarioError, match="installed_arr_usd: needs installed_customers"):
        from_baseline({"segments.smb.installed_customers": 0,
                       "segments.smb.installed_arr_usd": 1000.0})
