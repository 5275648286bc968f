"""Decision-grade outputs on real runs of the bundled plans: three statements that balance,
profit bridges that sum to the difference, a verdict equal to ``revsim compare``, and
adaptive replications that stop at the precision asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.cli import run_cli

import sim
from sim.analysis import bridge, statements
from sim.analysis import stats as mc
from sim.analysis.verdict import verdict
from sim.experiments.experiment import compare_to_precision

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
MONTHS = 24
REPS = 3


@pytest.fixture(scope="module")
def plans():
    """The baseline and every bundled what-if, 24 months, 3 paired replications."""
    over = {"horizon_months": MONTHS}
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=over)
    others = [sim.load_scenario(p, overrides=over) for p in sorted(SCENARIOS.glob("*.yaml"))
              if p.name != "baseline.yaml"]
    return sim.compare(base, others, replications=REPS, seed=3, executor="serial")


# ---------------------------------------------------------------- three statements


@pytest.mark.slow
def test_statements_hold_their_identities_every_month_of_every_replication(plans):
    checked = 0
    for res in plans.results:
        for r, monthly in res.monthly.groupby("replication"):
            monthly = monthly.drop(columns="replication")
            init = statements._initial_of(res, r)
            inc = statements.income_statement(monthly, res.scenario)
            cf = statements.cash_flow(monthly, init)
            bs = statements.balance_sheet(monthly, init)
            scale = float(bs["total_assets"].abs().max())
            # the balance sheet balances every month
            assert statements.imbalance(bs).abs().max() <= 1e-9 * scale
            # cash flow: opening cash + cash from operations = closing cash = the table's cash
            np.testing.assert_allclose(cf["opening_cash"] + cf["cash_from_operations"],
                                       cf["closing_cash"], rtol=0, atol=1e-9 * scale)
            np.testing.assert_allclose(cf["closing_cash"], monthly["cash_balance"])
            # the income statement's lines add to the tables' operating profit and costs
            np.testing.assert_allclose(inc["operating_profit"], monthly["operating_profit"],
                                       rtol=0, atol=1e-6)
            np.testing.assert_allclose(inc["cogs"] + inc["operating_expenses"],
                                       monthly["total_cost"], rtol=1e-12)
            assert (inc[list(statements.EXPENSE_LINES)] >= -1e-9).all().all()
            checked += 1
    assert checked == len(plans.results) * REPS


def test_partner_programme_and_commissions_are_separate_lines(plans):
    partner = next(r for r in plans.others if r.name == "partner_push")
    monthly = partner.monthly[partner.monthly.replication == 0].drop(columns="replication")
    inc = statements.income_statement(monthly, partner.scenario)
    per_partner = partner.scenario.channels.partner.program_cost_per_partner_per_month_usd
    assert per_partner > 0
    np.testing.assert_allclose(inc["partner_programme"],
                               monthly["active_partners"].to_numpy() * per_partner)
    # commissions are what the tables call partner_cost; programme cost came out of marketing
    np.testing.assert_allclose(inc["partner_commissions"], monthly["partner_cost"])
    np.testing.assert_allclose(inc["marketing_programmes"] + inc["partner_programme"],
                               monthly["marketing_cost"])
    assert statements.INCOME_LINES["partner_commissions"] == "Partner commissions"


def test_statements_by_quarter_and_fiscal_year_add_up_and_balance(plans):
    sc = sim.with_overrides(plans.base.scenario,
                            {"calendar": {"start_month": "2026-07", "fiscal_year_start_month": 2}})
    monthly = plans.base.monthly[plans.base.monthly.replication == 1].drop(columns="replication")
    init = statements._initial_of(plans.base, 1)
    month = statements.statements(monthly, sc, init, "month")
    for freq in ("quarter", "year"):
        st = statements.statements(monthly, sc, init, freq)
        assert st["income"]["revenue"].sum() == pytest.approx(month["income"]["revenue"].sum())
        assert statements.imbalance(st["balance_sheet"]).abs().max() < 1e-6
        cf = st["cash_flow"]
        np.testing.assert_allclose(cf["opening_cash"] + cf["cash_from_operations"],
                                   cf["closing_cash"], rtol=1e-12)
    years = statements.statements(monthly, sc, init, "year")["income"].index.tolist()
    assert years == ["FY2027", "FY2028", "FY2029"]  # Jul 2026 - Jun 2028 across Feb year ends
    assert month["income"].index[0] == "Jul 2026"
    mean = statements.mean_statements(plans.base, "year")
    assert statements.imbalance(mean["balance_sheet"]).abs().max() < 1e-6


# ---------------------------------------------------------------- profit bridge


def test_each_profit_bridge_sums_to_its_difference_in_every_replication(plans):
    all_bridges = bridge.bridges(plans)
    assert set(all_bridges) == {o.name for o in plans.others}
    for other in plans.others:
        per_rep, summary = all_bridges[other.name]
        assert len(per_rep) == REPS
        assert bridge.check_sums(per_rep) < 1e-9
        # the total is the paired operating-profit difference that compare reports
        d = other.kpis["operating_profit_total"].to_numpy() - \
            plans.base.kpis["operating_profit_total"].to_numpy()
        np.testing.assert_allclose(per_rep["total"].to_numpy(), d, rtol=1e-9, atol=1e-3)
        row = summary.set_index("driver").loc["total"]
        assert row["mean"] == pytest.approx(d.mean())
        assert (summary["ci_low"] <= summary["mean"] + 1e-6).all()
        # timing is what the mid-month convention leaves over: small against the gross
        # movement of the other lines (measured against the sum of |lines|, not the largest
        # line: the price-volume-mix bridge splits costs and revenue into finer lines, so its
        # largest line is smaller while timing, the same residual, is unchanged)
        gross = per_rep.drop(columns=["total", "timing"]).abs().sum(axis=1).clip(lower=1.0)
        assert (per_rep["timing"].abs() <= 0.1 * gross).all()


def test_bridge_puts_a_price_rise_into_price_and_volume(plans):
    price = next(r for r in plans.others if r.name == "price_increase")
    summary = bridge.bridges(plans)["price_increase"][1].set_index("driver")["mean"]
    assert summary["price_list"] > 0  # higher list ARR per deal
    assert summary["volume"] < 0  # fewer deals at the higher price
    # lines the plan does not touch stay exactly zero (the cost lines are now the income
    # statement's own lines, so the management and inbound-programme lines are named as there)
    assert summary["other_opex"] == 0 and summary["marketing_programmes"] == 0
    assert price.scenario.pricing.segments["smb"].list_price_usd > \
        plans.base.scenario.pricing.segments["smb"].list_price_usd


# ---------------------------------------------------------------- verdict


def test_verdict_ranks_plans_and_states_intervals(plans):
    frame, sentences = verdict(plans)
    assert len(frame) == len(plans.results)
    assert frame["decision_mean"].is_monotonic_decreasing
    assert frame["rank"].tolist() == list(range(1, len(frame) + 1))
    means = {r.name: r.kpis["npv_operating_profit"].mean() for r in plans.results}
    for _, row in frame.iterrows():
        assert row["decision_mean"] == pytest.approx(means[row["scenario"]])
        p = mc.probability(plans.results[[r.name for r in plans.results].index(
            row["scenario"])].kpis["cash_trough"] < 5_000_000)
        assert row["prob_breach"] == p["p"]
        if not row["is_base"]:
            assert row["profit_ci_low"] <= row["profit_delta"] <= row["profit_ci_high"]
            assert row["profit_prob_low"] <= row["profit_prob_better"] <= row["profit_prob_high"]
            assert row["levers_changed"] > 0
    # the verdict leads with what binds (issue 24): the base's statement, then each plan's,
    # then the ranking and one sentence per plan
    k = len(plans.others) + 1
    assert sentences[0].startswith(f"{plans.base.name}: ")
    assert all(("What binds" in s or "Nothing binds" in s) for s in sentences[:k])
    assert sentences[k].startswith("Ranked by the mean NPV of operating profit")
    assert len(sentences) == 2 * len(plans.others) + 2
    price = next(s for s in sentences if s.startswith("price_increase "))
    assert "95% interval" in price and "paired runs" in price
    assert "List price, enterprise $1,200 → $1,296 a seat a year" in price  # plain words


@pytest.mark.slow
def test_verdict_numbers_equal_revsim_compare(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "scenarios/baseline.yaml", "scenarios/price_increase.yaml",
            "scenarios/partner_push.yaml", "--reps", "3", "--seed", "5", "--months", "12",
            "--executor", "serial", "--out", str(out)]
    proc = run_cli(*args, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    deltas = pd.read_csv(out / "deltas.csv").set_index(["scenario", "kpi"])
    written = pd.read_csv(out / "verdict.csv")
    bridge_csv = pd.read_csv(out / "profit_bridge.csv")
    assert set(bridge_csv["scenario"]) == {"price_increase", "partner_push"}
    summary = __import__("json").loads((out / "summary.json").read_text())
    assert summary["verdict"][3].startswith("Ranked by the mean NPV of operating profit")
    assert "binding_constraint" in summary and set(summary["binding_constraint"]) == {
        "baseline", "price_increase", "partner_push"}
    over = {"horizon_months": 12}
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=over)
    others = [sim.load_scenario(SCENARIOS / f, overrides=over)
              for f in ("price_increase.yaml", "partner_push.yaml")]
    frame, _ = verdict(sim.compare(base, others, replications=3, seed=5, executor="serial"))
    assert written["scenario"].tolist() == frame["scenario"].tolist()
    np.testing.assert_allclose(written["decision_mean"], frame["decision_mean"], rtol=1e-12)
    for _, row in frame[~frame["is_base"]].iterrows():
        for kpi, tag in (("npv_operating_profit", "decision"),
                         ("operating_profit_total", "profit")):
            d = deltas.loc[(row["scenario"], kpi)]
            assert row[f"{tag}_delta"] == pytest.approx(d["mean_delta"], rel=1e-12)
            assert row[f"{tag}_ci_low"] == pytest.approx(d["ci_low"], rel=1e-12)
            assert row[f"{tag}_ci_high"] == pytest.approx(d["ci_high"], rel=1e-12)
            assert row[f"{tag}_prob_better"] == pytest.approx(d["prob_better"])
            assert row[f"{tag}_prob_low"] == pytest.approx(d["prob_better_low"])


# ---------------------------------------------------------------- precision


@pytest.mark.slow
def test_adaptive_replications_stop_at_the_precision_and_equal_a_fixed_run():
    small = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides={"horizon_months": 6})
    dearer = sim.with_overrides(small, {"pricing.segments.smb.list_price_usd": 700})
    pilot = sim.compare(small, [dearer], replications=3, seed=1, executor="serial")
    d = pilot.deltas.set_index("kpi").loc["npv_operating_profit"]
    target = (d["ci_high"] - d["ci_low"]) / 2 / 2  # half the pilot's half-width
    result, precision = compare_to_precision(small, [dearer], target, initial=3,
                                             max_replications=40, seed=1, executor="serial")
    assert precision.replications > 3
    assert precision.reached == (precision.half_width <= target)
    if precision.reached:
        assert "reached" in precision.message()
    fixed = sim.compare(small, [dearer], replications=precision.replications, seed=1,
                        executor="serial")
    pd.testing.assert_frame_equal(result.deltas, fixed.deltas)
    pd.testing.assert_frame_equal(result.base.kpis, fixed.base.kpis)
    # a target it cannot reach stops at the cap and says so
    _, capped = compare_to_precision(small, [dearer], 1e-6, initial=2, max_replications=4,
                                     seed=1, executor="serial")
    assert capped.replications == 4 and not capped.reached
    assert "NOT reached" in capped.message()


# ---------------------------------------------------------------- machine-readable outputs


@pytest.mark.slow
def test_summary_and_kpis_csv_carry_every_cfo_metric_with_quantiles(tmp_path):
    import json

    sc = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides={"horizon_months": 24})
    res = sim.run_experiment(sc, replications=3, seed=2, executor="serial")
    res.write(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    kpis = {k["kpi"]: k for k in summary["kpis"]}
    csv = pd.read_csv(tmp_path / "run" / "kpis.csv")
    for name in ("ltv_to_cac_last_year", "burn_multiple_last_year", "rule_of_40_last_year",
                 "magic_number_last_year", "first_profitable_month", "break_even_month",
                 "cac_payback_months"):
        assert name in csv.columns
        assert {"p10", "p50", "p90", "mean", "mean_ci_low", "mean_ci_high", "n"} <= set(
            kpis[name])
        assert kpis[name]["label"] != name  # a human label
    # the values are those of the yearly metrics of each replication
    one = sim.simulate(sc, seed=2, replication=0)
    from sim.analysis import metrics

    yearly = metrics.saas_metrics(one.monthly, one.cohorts, one.initial)
    assert csv.loc[0, "ltv_to_cac_last_year"] == pytest.approx(yearly.loc[2, "ltv_to_cac"])
    assert csv.loc[0, "rule_of_40_last_year"] == pytest.approx(yearly.loc[2, "rule_of_40"])
    assert "p50" in summary["statistics"] and "probability_low" in summary["statistics"]


@pytest.mark.slow
def test_revsim_compare_precision_warns_when_not_reached_and_refuses_a_bad_target(tmp_path):
    args = ["compare", "scenarios/baseline.yaml", "scenarios/price_increase.yaml", "--reps",
            "2", "--months", "6", "--executor", "serial"]
    proc = run_cli(*args, "--precision", "1", "--max-reps", "3", "--out", tmp_path / "c",
                   cwd=ROOT, env={"REVSIM_PROGRESS": "never"})
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "precision NOT reached" in line]
    assert len(warnings) == 1 and warnings[0].startswith("revsim compare: warning:")
    assert "Traceback" not in proc.stderr
    assert "after 3 replications" in proc.stderr
    import json

    assert json.loads((tmp_path / "c" / "summary.json").read_text())["replications"] == 3
    bad = run_cli(*args, "--precision", "-5", cwd=ROOT)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == ["--precision -5.0: must be a positive amount of USD"]
