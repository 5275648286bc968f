"""The price-volume-mix profit bridge (``sim.analysis.bridge``) on cases with known answers:
pure list price, pure discount, pure segment mix, pure volume, a channel shift, churn split
into rate and volume by hand, the exact identity on random tables, and the repricing line
recorded by the engine at renewals."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.analysis import bridge

ROOT = Path(__file__).resolve().parents[2]
NEW_LOGO = ("volume", "segment_mix", "channel_mix", "price_list", "price_discount")


def groups(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """name → (customers, list ARR per customer, discount share): the n / a / ell frame."""
    out = pd.DataFrame({k: {"n": n, "ell": n * lst, "a": n * lst * (1 - d)}
                        for k, (n, lst, d) in rows.items()}).T
    return out[["n", "a", "ell"]].astype(float)


def lines(base_seg, plan_seg, base_ch=None, plan_ch=None) -> dict[str, float]:
    base_ch = base_ch if base_ch is not None else groups({"all": (base_seg["n"].sum(), 1, 0)})
    plan_ch = plan_ch if plan_ch is not None else groups({"all": (plan_seg["n"].sum(), 1, 0)})
    out = bridge.new_logo_lines(base_seg, plan_seg, base_ch, plan_ch)
    total = plan_seg["a"].sum() - base_seg["a"].sum()
    assert sum(out.values()) == pytest.approx(total, abs=1e-6)  # the identity, every case
    return out


BASE = {"smb": (40.0, 12_000.0, 0.10), "mid": (10.0, 60_000.0, 0.15)}


def only(out: dict[str, float], line: str, value: float) -> None:
    assert out[line] == pytest.approx(value, rel=1e-12)
    for other in NEW_LOGO:
        if other != line:
            assert out[other] == pytest.approx(0.0, abs=1e-6), other


def test_pure_list_price_change_is_all_list_price():
    plan = {k: (n, lst * 1.1, d) for k, (n, lst, d) in BASE.items()}
    b, p = groups(BASE), groups(plan)
    only(lines(b, p), "price_list", p["a"].sum() - b["a"].sum())


def test_pure_discount_change_is_all_discount():
    plan = {k: (n, lst, d + 0.05) for k, (n, lst, d) in BASE.items()}
    b, p = groups(BASE), groups(plan)
    out = lines(b, p)
    only(out, "price_discount", p["a"].sum() - b["a"].sum())
    assert out["price_discount"] == pytest.approx(-0.05 * (40 * 12_000 + 10 * 60_000))


def test_pure_segment_mix_at_equal_volume_and_prices_is_all_mix():
    plan = {"smb": (30.0, 12_000.0, 0.10), "mid": (20.0, 60_000.0, 0.15)}  # same 50 customers
    b, p = groups(BASE), groups(plan)
    out = lines(b, p)
    only(out, "segment_mix", 10 * 60_000 * 0.85 - 10 * 12_000 * 0.90)


def test_pure_volume_at_equal_mix_and_prices_is_all_volume():
    k = 1.7  # e.g. every budget x1.7 and the same mix and price per customer
    plan = {s: (n * k, lst, d) for s, (n, lst, d) in BASE.items()}
    b, p = groups(BASE), groups(plan)
    only(lines(b, p, groups({"inbound": (50, 1, 0)}), groups({"inbound": (50 * k, 1, 0)})),
         "volume", (k - 1) * b["a"].sum())


def test_a_segment_new_in_the_plan_is_mix_not_price():
    plan = {**BASE, "ent": (2.0, 150_000.0, 0.2)}
    b, p = groups(BASE), groups(plan)
    out = lines(b, p)
    assert out["price_list"] == 0 and out["price_discount"] == 0
    assert out["volume"] == pytest.approx(2 * b["a"].sum() / 50)


def test_channel_shift_carries_the_mix_it_explains_and_no_more():
    # partners bring the mid-market deals: 10 partner deals at mid prices move to 20
    b_ch = groups({"inbound": (40.0, 12_000 * 0.9, 0.0), "partner": (10.0, 60_000 * 0.85, 0.0)})
    p_ch = groups({"inbound": (30.0, 12_000 * 0.9, 0.0), "partner": (20.0, 60_000 * 0.85, 0.0)})
    plan = {"smb": (30.0, 12_000.0, 0.10), "mid": (20.0, 60_000.0, 0.15)}
    out = lines(groups(BASE), groups(plan), b_ch, p_ch)
    assert out["channel_mix"] == pytest.approx(10 * 60_000 * 0.85 - 10 * 12_000 * 0.90)
    assert out["segment_mix"] == pytest.approx(0.0, abs=1e-6)
    # channels shift but segments do not: no mix to carry, nothing on the channel line
    out = lines(groups(BASE), groups(BASE), b_ch, p_ch)
    assert out["channel_mix"] == 0 and out["segment_mix"] == pytest.approx(0.0, abs=1e-9)


def test_churn_splits_into_rate_and_volume_by_hand():
    # half the ARR at risk churning half the dollars: the same 5% rate, all volume
    rate, volume = bridge.churn_lines(1000.0, 50.0, 500.0, 25.0)
    assert (rate, volume) == (pytest.approx(0.0), pytest.approx(25.0))
    # 800 at risk at 4% instead of 1000 at 5%: 200 less at risk saves 10 (volume), the
    # better rate saves 8 on the 800 (rate); 18 fewer churned dollars in all
    rate, volume = bridge.churn_lines(1000.0, 50.0, 800.0, 32.0)
    assert volume == pytest.approx(10.0) and rate == pytest.approx(8.0)


# ---------------------------------------------------------------- whole tables


def tables(rng, horizon: int, segs, chans, scale: float = 1.0) -> bridge.Tables:
    """Random but consistent one-replication tables: the by-segment and by-channel flows
    add up to the monthly ones, and month-end ARR follows its flows."""
    months = np.arange(1, horizon + 1)
    cells = {c: rng.uniform(0, 5, (horizon, len(segs), len(chans))) * scale
             for c in ("new_customers",)}
    price = rng.uniform(5_000, 80_000, (1, len(segs), 1))
    disc = rng.uniform(0, 0.3, (1, len(segs), len(chans)))
    cells["list_arr_won"] = cells["new_customers"] * price
    cells["new_arr"] = cells["list_arr_won"] * (1 - disc)
    cells["repricing_arr"] = rng.uniform(0, 2_000, (horizon, len(segs), len(chans)))

    def by(axis, key, names):
        parts = []
        for i, name in enumerate(names):
            cols = {"month": months, key: name}
            for c, v in cells.items():
                cols[c] = v.sum(axis=axis)[:, i]
            parts.append(pd.DataFrame(cols))
        return pd.concat(parts, ignore_index=True)

    m = pd.DataFrame({"month": months})
    for c, v in cells.items():
        m[c] = v.sum(axis=(1, 2))
    m["expansion_arr"] = m["repricing_arr"] + rng.uniform(0, 5_000, horizon)
    m["contraction_arr"] = rng.uniform(0, 2_000, horizon)
    m["churned_arr"] = rng.uniform(0, 8_000, horizon)
    m["arr"] = 1e6 + np.cumsum(m["new_arr"] + m["expansion_arr"] - m["contraction_arr"]
                               - m["churned_arr"])
    m["revenue"] = m["arr"] / 12 * rng.uniform(0.98, 1.0, horizon)
    for c in ("cogs", "marketing_cost", "sales_cost", "customer_success_cost", "partner_cost",
              "other_opex"):
        m[c] = rng.uniform(1_000, 50_000, horizon)
    m["sales_commission"] = m["sales_cost"] * rng.uniform(0, 0.3, horizon)
    m["active_partners"] = rng.integers(0, 5, horizon).astype(float)
    m["marketing_cost"] += m["active_partners"] * 500
    total = m[["cogs", "marketing_cost", "sales_cost", "customer_success_cost",
               "partner_cost", "other_opex"]].sum(axis=1)
    m["operating_profit"] = m["revenue"] - total
    return bridge.Tables(m, by(2, "segment", segs), by(1, "channel", chans))


SCENARIO = SimpleNamespace(channels=SimpleNamespace(
    partner=SimpleNamespace(program_cost_per_partner_per_month_usd=500.0)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), horizon=st.integers(1, 36),
       n_seg=st.integers(1, 4), n_ch=st.integers(1, 4), scale=st.floats(0.0, 3.0))
def test_lines_sum_exactly_to_the_profit_difference_on_random_tables(seed, horizon, n_seg,
                                                                     n_ch, scale):
    rng = np.random.default_rng(seed)
    segs, chans = [f"s{i}" for i in range(n_seg)], [f"c{i}" for i in range(n_ch)]
    b = tables(rng, horizon, segs, chans)
    p = tables(rng, horizon, segs[: max(1, n_seg - 1)] if seed % 2 else segs, chans, scale)
    out = bridge.bridge_one(b, p, SCENARIO, SCENARIO)
    assert set(out) == {*bridge.DRIVERS, "total"}
    per_rep = pd.DataFrame([out])
    assert bridge.check_sums(per_rep) < 1e-9
    # every cost line is the statement line's difference, with a minus sign
    assert out["cogs"] == pytest.approx(-(p.monthly["cogs"].sum() - b.monthly["cogs"].sum()))


def test_bridge_one_on_a_hand_built_churn_case():
    """Both plans identical except the plan has half the ARR at risk churning half the
    dollars: the churn saving is all volume."""
    rng = np.random.default_rng(1)
    b = tables(rng, 12, ["smb"], ["inbound"])
    m = b.monthly.copy()
    m["churned_arr"] = m["churned_arr"] / 2
    # the same churn rate on half the opening ARR: halve the ARR path too
    m["arr"] = b.monthly["arr"] / 2
    for c in ("new_arr", "expansion_arr", "contraction_arr"):
        m[c] = b.monthly[c] / 2
    out = bridge._retention(b.monthly, 12), bridge._retention(m, 12)
    assert out[1]["at_risk"] == pytest.approx(out[0]["at_risk"] / 2)
    rate, volume = bridge.churn_lines(out[0]["at_risk"], out[0]["churn"], out[1]["at_risk"],
                                      out[1]["churn"])
    assert rate == pytest.approx(0.0, abs=1e-6) and volume == pytest.approx(out[0]["churn"] / 2)


# ---------------------------------------------------------------- on the simulator


@pytest.fixture(scope="module")
def runs():
    def load(name, uplift=None):
        over = {"horizon_months": 12, "name": name}
        if uplift is not None:
            over["pricing.annual_uplift_frac"] = uplift
        return sim.load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=over)

    base, uplift, flat = load("baseline"), load("uplift_8pct", 0.08), load("no_uplift", 0.0)
    return sim.compare(base, [uplift, flat], replications=2, seed=5, executor="serial")


def test_renewal_uplift_is_repricing_not_expansion(runs):
    b = bridge.bridges(runs)
    more = b["uplift_8pct"][1].set_index("driver")["mean"]
    assert more["repricing"] > 0  # a higher escalator reprices the installed base
    assert bridge.check_sums(b["uplift_8pct"][0]) < 1e-9
    assert bridge.check_sums(b["no_uplift"][0]) < 1e-9
    for res in runs.results:
        ch = res.by_channel
        assert (ch["repricing_arr"] <= ch["expansion_arr"] + 1e-6).all()
    flat = runs.others[1]
    if all(p.installed_price_policy == "grandfather" or
           p.list_price_usd == (p.installed_list_price_usd or p.list_price_usd)
           for p in flat.scenario.pricing.segments.values()):
        assert flat.by_channel["repricing_arr"].sum() == 0  # no escalator, no list change
    assert runs.base.by_channel["repricing_arr"].sum() > 0
