"""The lever catalogue (sim.scenario.levers) is the one declaration its readers share, and the
experiments' RunSettings and adaptive comparison behave like the keyword forms they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.experiments.compare import compare_adaptive, compare_to_precision
from sim.experiments.sensitivity import DEFAULT_LEVERS
from sim.experiments.settings import RunSettings
from sim.report.tables import levers_table
from sim.scenario.levers import (
    APPLIES_TO,
    LEVERS,
    UNITS,
    apply_lever,
    lever,
    lever_overrides,
    price_change_overrides,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base():
    return sim.load_scenario(ROOT / "scenarios/baseline.yaml")


def test_every_lever_is_well_formed_and_reads_a_number_in_the_baseline(base):
    assert len({lv.name for lv in LEVERS}) == len(LEVERS)
    for lv in LEVERS:
        assert lv.unit in UNITS and lv.applies_to in APPLIES_TO, lv.name
        assert ("*" in lv.key) == (lv.applies_to != "company"), lv.name
        values = lv.base_values(base)
        if lv.unit == "choice":  # a policy: its base is one of its choices
            assert values and all(v in lv.choices for v in values.values()), lv.name
            continue
        assert values and all(isinstance(v, int | float) for v in values.values()), lv.name
        for v in values.values():
            lo, hi = lv.span(v)
            assert lo <= v <= hi, f"{lv.name}: base {v} outside its sensible range {lo}..{hi}"


def test_segment_and_team_levers_expand_to_every_segment_and_team(base):
    assert lever("list_price").keys(base) == [
        f"pricing.segments.{s}.list_price_usd" for s in base.pricing.segments]
    assert lever("ae_count").keys(base) == [f"sales.teams.{t}.count" for t in base.sales.teams]


def test_sensitivity_reads_the_catalogue():
    assert DEFAULT_LEVERS == tuple(lv.key for lv in LEVERS if lv.sensitivity)
    assert "headcount.management.count" not in DEFAULT_LEVERS  # sensitivity=False in the catalogue


def test_applying_a_lever_goes_through_the_validated_overrides(base):
    moved = apply_lever(base, "csm_count", base.headcount.csm.count + 3)
    assert moved.headcount.csm.count == base.headcount.csm.count + 3
    one = apply_lever(base, lever("discount_cap"), {"smb": 0.05})
    assert one.pricing.segments["smb"].discount_cap_frac == 0.05
    others = [s for s in base.pricing.segments if s != "smb"]
    assert all(one.pricing.segments[s].discount_cap_frac ==
               base.pricing.segments[s].discount_cap_frac for s in others)
    assert set(lever_overrides(base, "win_probability", 0.3)) == {
        f"segments.{s}.base_win_prob_frac" for s in base.segments}
    with pytest.raises(sim.ScenarioError):
        apply_lever(base, "discount_cap", 1.7)  # validated like a file: a share above 1
    with pytest.raises(ValueError, match="unknown lever"):
        lever("bogus")


def test_price_change_moves_every_list_price_and_caps_every_cap(base):
    over = price_change_overrides(base, 10, 0.1)
    for seg, p in base.pricing.segments.items():
        assert over[f"pricing.segments.{seg}.list_price_usd"] == round(p.list_price_usd * 1.1, 2)
        assert over[f"pricing.segments.{seg}.discount_cap_frac"] == min(p.discount_cap_frac, 0.1)


def test_offsite_controls_are_catalogue_levers_in_the_four_groups():
    from sim.offsite.session import offsite_levers

    shown = offsite_levers()
    assert shown and all(lv in LEVERS for lv in shown)
    assert {lv.group for lv in shown} == {"pricing", "go_to_market", "capacity", "horizon"}


def test_the_levers_table_shows_each_catalogue_lever_of_the_table(base):
    shown = set(levers_table(base)["Lever"])
    for lv in LEVERS:
        if not lv.in_table:
            continue
        whos = list(lv.base_values(base)) if "*" in lv.key else [None]
        for key in whos:
            who = key.split(".")[-2] if key else None
            assert lv.label_for(who) in shown, f"{lv.name}: {lv.label_for(who)!r} not in {shown}"


@pytest.fixture(scope="module")
def small(base):
    return base.model_copy(update={"horizon_months": 6})


@pytest.mark.slow
def test_run_settings_give_what_the_keywords_give(small):
    kw = sim.run_experiment(small, replications=2, seed=5, executor="serial")
    st = sim.run_experiment(small, settings=RunSettings(replications=2, seed=5,
                                                        executor="serial"))
    assert kw.kpis.equals(st.kpis)
    assert st.replications == 2 and st.seed == 5


@pytest.mark.slow
def test_compare_adaptive_is_a_plain_compare_without_a_precision(small):
    plan = small.model_copy(update={"name": "plan"})
    plan = apply_lever(plan, "marketing_budget",
                       small.channels.inbound.budget_per_month_usd * 1.5)
    settings = RunSettings(replications=2, seed=3, executor="serial")
    fixed, none = compare_adaptive(small, [plan], settings)
    assert none is None
    assert fixed.deltas.equals(sim.compare(small, [plan], settings=settings).deltas)
    adaptive, reached = compare_adaptive(small, [plan], settings, precision=1e12,
                                         max_replications=4)
    direct, want = compare_to_precision(small, [plan], 1e12, initial=2, max_replications=4,
                                        seed=3, executor="serial")
    assert reached == want and adaptive.deltas.equals(direct.deltas)
    alone, nothing = compare_adaptive(small, [], settings, precision=1.0)
    assert nothing is None and alone.others == []
