"""Assumption ranges (issue 25): drawn per replication with common random numbers, the
variance split against a nested Monte Carlo, byte-identical outputs with ranges off, the
flip threshold against a dense sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import BASELINE_PATH, one_segment
from support.cli import run_cli

import sim
from sim.analysis.uncertainty import first_order_indices, variance_split
from sim.errors import ScenarioError
from sim.experiments.compare import compare
from sim.experiments.draws import drawn_values
from sim.experiments.results import run_experiment
from sim.experiments.settings import RunSettings
from sim.experiments.uncertainty import flip_threshold, nested, paired_mean
from sim.scenario.io import load_scenario, scenario_hash, with_overrides
from sim.scenario.uncertainty import fixed_parameters

LEADS = "channels.outbound.fresh_leads_per_sdr_per_month.core"
PRICE = "pricing.segments.core.list_price_usd"


def _ranged(tmp_path: Path, spec: str) -> Path:
    path = tmp_path / "ranged.yaml"
    path.write_text(f"extends: {BASELINE_PATH}\nsegments:\n  mid_market:\n"
                    f"    willingness_to_pay_usd:\n      median: {spec}\n")
    return path


def test_an_inline_range_leaves_the_estimate_in_place_and_the_hash_unchanged(tmp_path):
    ranged = load_scenario(_ranged(tmp_path, "{estimate: 960, range: [850, 1100], "
                                             "source: 'assumption; S6'}"))
    plain = load_scenario(_ranged(tmp_path, "960"))
    key = "segments.mid_market.willingness_to_pay_usd.median"
    assert ranged.segments["mid_market"].willingness_to_pay_usd.median == 960
    assert ranged.uncertainty.assumptions[key].range == (850, 1100)
    assert scenario_hash(fixed_parameters(ranged)) == scenario_hash(plain)
    assert scenario_hash(ranged) != scenario_hash(plain)


@pytest.mark.parametrize("spec, why", [
    ("{estimate: 960, range: [1000, 1100], source: x}", "must contain the estimate"),
    ("{estimate: 960, range: [850, 1100]}", "source"),
    ("{estimate: 0.5, range: [-1, 1], source: x}", "range end -1"),
])
def test_a_bad_range_is_one_clear_error(tmp_path, spec, why):
    if "0.5" in spec:  # a range a fraction cannot take
        path = tmp_path / "bad.yaml"
        path.write_text(f"extends: {BASELINE_PATH}\npricing:\n  segments:\n    smb:\n"
                        f"      discount_cap_frac: {spec}\n")
    else:
        path = _ranged(tmp_path, spec)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert why in str(exc.value)


def test_draws_are_shared_by_every_scenario_and_replication_pair(tmp_path):
    sc = load_scenario(_ranged(tmp_path, "{estimate: 960, range: [850, 1100], source: x}"))
    plan = with_overrides(sc, {"pricing.segments.mid_market.list_price_usd": 900}, name="p")
    draws = [drawn_values(sc, 7, r) for r in range(6)]
    assert draws == [drawn_values(plan, 7, r) for r in range(6)]  # common random numbers
    assert draws[0] == draws[1] and draws[2] == draws[3] and draws[0] != draws[2]
    values = [v for d in draws for v in d.values()]
    assert all(850 <= v <= 1100 for v in values)
    # a plan that sets the value itself runs that value: nothing is drawn for it
    pinned = with_overrides(sc, {"segments.mid_market.willingness_to_pay_usd.median": 990})
    assert pinned.uncertainty is None


def test_with_ranges_off_every_number_is_identical(tmp_path):
    """A scenario with ranges, run with fixed parameters, writes the bytes of the same
    scenario without them."""
    plain = with_overrides(sim.load_scenario(BASELINE_PATH), {"horizon_months": 2})
    ranged = with_overrides(load_scenario(_ranged(
        tmp_path, "{estimate: 960, range: [850, 1100], source: x}")),
        {"horizon_months": 2, "description": plain.description}, name=plain.name)
    settings = RunSettings(2, 7, "serial")
    a = run_experiment(plain, settings=settings)
    b = run_experiment(fixed_parameters(ranged), settings=settings.but(parameter_draws=True))
    c = run_experiment(ranged, settings=settings)  # draws off: the estimates
    for r, name in ((a, "a"), (b, "b"), (c, "c")):
        r.write(tmp_path / name)
    same = (tmp_path / "a" / "summary.json").read_bytes()
    assert (tmp_path / "b" / "summary.json").read_bytes() == same
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["kpis"] == \
        json.loads(same)["kpis"]
    assert b.parameters.empty and c.parameters.empty


def test_variance_split_recovers_known_components():
    rng = np.random.default_rng(1)
    outer, inner = 4000, 2
    theta = rng.normal(0, 3.0, outer)  # assumptions: variance 9
    y = np.repeat(theta, inner) + rng.normal(0, 2.0, outer * inner)  # luck: variance 4
    split = variance_split(y, np.repeat(np.arange(outer), inner))
    assert split["assumptions"] == pytest.approx(9, rel=0.2)
    assert split["luck"] == pytest.approx(4, rel=0.15)
    assert split["assumptions_share"] == pytest.approx(9 / 13, abs=0.06)


def test_sobol_indices_rank_the_assumption_that_drives_the_kpi():
    rng = np.random.default_rng(2)
    import pandas as pd

    x = pd.DataFrame({"big": rng.uniform(0, 1, 80), "small": rng.uniform(0, 1, 80)})
    y = 5 * x["big"] + 0.5 * x["small"] + rng.normal(0, 0.2, 80)
    idx = first_order_indices(x, y)
    assert list(idx["assumption"]) == ["big", "small"]
    assert idx["first_order"].iloc[0] > 0.8


@pytest.fixture(scope="module")
def leads_case():
    """One segment whose lead flow is uncertain (2 to 30 fresh leads per SDR a month)."""
    base = one_segment(horizon=4, opps_per_month=12)
    return with_overrides(base, {LEADS: {"estimate": 12, "range": [2, 30], "source": "test"}})


def test_ranges_widen_the_spread_by_what_a_nested_monte_carlo_predicts(leads_case):
    """Constructed case: revenue moves with the drawn lead flow. The run with ranges has
    the variance a nested Monte Carlo (outer draws x inner replications) predicts: luck
    plus the assumptions' part; with ranges off only luck is left."""
    kpi = "revenue_total"
    s = RunSettings(24, 3, "serial")
    drawn = run_experiment(leads_case, settings=s.but(parameter_draws=True)).kpis[kpi]
    fixed = run_experiment(leads_case, settings=s).kpis[kpi]
    split = nested(leads_case, s.but(seed=11), outer=12, inner=3, kpi=kpi)
    predicted = split["assumptions"] + split["luck"]
    assert drawn.var() > 3 * fixed.var()  # the ranges widen the interval
    assert drawn.var() == pytest.approx(predicted, rel=0.5)
    assert split["assumptions_share"] > 0.6


def test_flip_threshold_matches_a_dense_sweep():
    """The plan (a second AE and a far higher price) loses while leads are scarce and wins
    when they are plentiful: the crossing Brent's method finds lies between the two sweep
    points where the paired difference changes sign."""
    base = with_overrides(one_segment(horizon=6, opps_per_month=12),
                          {LEADS: {"estimate": 12, "range": [2, 40], "source": "test"}})
    team = next(iter(base.sales.teams))
    plan = with_overrides(base, {f"sales.teams.{team}.count": 2, PRICE: 20000}, name="plan")
    s = RunSettings(4, 5, "serial", parameter_draws=True)
    flip = flip_threshold(base, plan, LEADS, s, decision_delta=-1.0)  # behind at few leads
    grid = np.linspace(2, 40, 11)
    f = np.array([paired_mean(base, plan, LEADS, x, s) for x in grid])
    change = np.nonzero(np.diff(np.sign(f)))[0]
    assert len(change) == 1, f  # one known crossing
    lo, hi = grid[change[0]], grid[change[0] + 1]
    assert flip.fragile and lo <= flip.threshold <= hi
    assert f[0] < 0 < f[-1] and flip.flips_above  # behind with few leads, ahead with many
    assert "stays behind base" in flip.sentence("base")
    assert f"is above {flip.threshold:,.4g}" in flip.sentence("base")
    assert "FRAGILE" in flip.sentence("base")


def test_compare_writes_the_uncertainty_block_only_with_draws(leads_case, tmp_path):
    team = next(iter(leads_case.sales.teams))
    plan = with_overrides(leads_case, {f"sales.teams.{team}.count": 2}, name="plan")
    s = RunSettings(4, 5, "serial")
    off = compare(leads_case, [plan], settings=s)
    off.write(tmp_path / "off")
    assert "uncertainty" not in json.loads((tmp_path / "off" / "summary.json").read_text())
    on = compare(leads_case, [plan], settings=s.but(parameter_draws=True))
    on.write(tmp_path / "on")
    block = json.loads((tmp_path / "on" / "summary.json").read_text())["uncertainty"]
    assert block["assumptions"][0]["key"] == LEADS
    assert {r["kpi"] for r in block["spread"]} >= {"npv_operating_profit"}


def test_the_commands_draw_by_default_and_fixed_parameters_keeps_todays_bytes(tmp_path):
    """``revsim run`` of a file with a range: drawn (summary.json has an uncertainty block,
    the terminal the split); with --fixed-parameters the bytes of the file without it."""
    ranged = _ranged(tmp_path, "{estimate: 960, range: [850, 1100], source: x}")
    plain = tmp_path / "plain" / "ranged.yaml"  # the same name, so the same scenario name
    plain.parent.mkdir()
    plain.write_text(f"extends: {BASELINE_PATH}\n")
    args = ("--reps", "2", "--months", "1", "--seed", "7", "--executor", "serial")
    drawn = run_cli("run", ranged, *args, "--out", tmp_path / "drawn")
    assert drawn.code == 0, drawn.stderr
    assert "assumptions" in drawn.stdout and "luck" in drawn.stdout
    assert "uncertainty" in json.loads((tmp_path / "drawn" / "summary.json").read_text())
    fixed = run_cli("run", ranged, *args, "--fixed-parameters", "--out", tmp_path / "fixed")
    today = run_cli("run", plain, *args, "--out", tmp_path / "today")
    assert fixed.code == today.code == 0
    assert (tmp_path / "fixed" / "summary.json").read_bytes() == \
        (tmp_path / "today" / "summary.json").read_bytes()


def test_the_report_pages_show_the_ranges_and_the_flips(leads_case, tmp_path):
    """The scenario page's summary carries the assumption section; a saved result keeps
    its draws and the base's flips, and the comparison's summary names them."""
    from sim.experiments.uncertainty import flip_thresholds
    from sim.report import cells
    from sim.report.store import load_result, save_result

    team = next(iter(leads_case.sales.teams))
    plan = with_overrides(leads_case, {f"sales.teams.{team}.count": 2, PRICE: 20000},
                          name="plan")
    s = RunSettings(4, 5, "serial", parameter_draws=True)
    cmp = compare(leads_case, [plan], settings=s)
    cmp.base.stats["flips"] = [f.record() for f in flip_thresholds(cmp, s, replications=2)]
    page = cells.summary(cmp.base).body
    assert "assumption ranges" in page and LEADS in page and "luck" in page
    folders = [save_result(r, tmp_path / r.name) for r in cmp.results]
    back = load_result(folders[0])
    assert back.parameters.equals(cmp.base.parameters)
    loaded = cells.comparison([], results_files=[str(f) for f in folders])
    assert [f.key for f in loaded.flips] == [LEADS]
    assert "What would flip the verdict" in cells.compare_summary(loaded).body
