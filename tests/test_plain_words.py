"""Issue 24, plain words and complete comparisons: every decision KPI of the one catalogue in
``revsim compare`` and on the compare page; levers in labels and units from one source of
"what differs" (the assumptions sheet's too); verdict verbs that follow the sign; the sweep's
optimum with its interval and an edge-of-grid warning; sensitivity in plain units with the
retention step in points; break-even with the share of runs; one cash trough statistic; and
an adaptive precision rule that ends when the base's NPV is near zero."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim import kpis
from sim.analysis import verdict as verdict_mod
from sim.experiments import compare as compare_mod
from sim.experiments.experiment import compare
from sim.experiments.sweep import optimum
from sim.report import cells, tables, terminal
from sim.scenario import describe

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    return sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")


@pytest.fixture(scope="module")
def cmp():
    base = load("baseline").model_copy(update={"horizon_months": 12})
    other = load("efficient_growth").model_copy(update={"horizon_months": 12})
    return compare(base, [other], replications=2, seed=3, executor="serial")


# ---------------------------------------------------------------- one catalogue


def test_every_decision_kpi_is_in_compare_output_and_on_the_page(cmp):
    assert {"operating_profit_total", "value_created_usd", "nrr_last_year", "grr_last_year",
            "logo_churn_last_year", "ending_cash", "cash_trough", "cac_payback_months",
            "binding_constraint"} <= set(kpis.DECISION_KPIS)
    text = terminal.compare_table(cmp, "t")
    shown = {row[1] for row in text.rows}
    page = cells.deltas_detail(cmp).body
    for k in kpis.DECISION_KPIS:
        assert kpis.KPIS[k].short in shown, k
        assert kpis.KPIS[k].short in page, k
    assert set(cmp.deltas["kpi"]) == set(kpis.COMPARE_KPIS)  # written too (deltas.csv)
    binds = next(r for r in text.rows if r[1] == kpis.KPIS["binding_constraint"].short)
    assert binds[2] and binds[3]  # what binds in the base and in the plan
    assert "Statistics:" in page and "mean" in page and "P10–P90" in page


def test_logo_churn_is_the_last_full_years_of_each_run(cmp):
    from sim.analysis import metrics

    values = compare_mod.decision_values(cmp.base)
    r = cmp.base
    rep = int(r.kpis["replication"].iloc[0])
    m = r.monthly[r.monthly.replication == rep].drop(columns="replication")
    c = r.cohorts[r.cohorts.replication == rep].drop(columns="replication")
    init = r.initial.set_index("replication").loc[rep].to_dict()
    yearly = metrics.saas_metrics(m, c, init)
    want = yearly.loc[metrics.last_full_year(yearly), "logo_churn_frac"]
    assert values.set_index("replication").loc[rep, "logo_churn_last_year"] == pytest.approx(want)
    assert 0 < want < 1
    assert "logo_churn_last_year" not in r.kpis  # a run's summary.json keeps its KPIs


def test_a_lower_is_better_kpi_counts_runs_with_a_lower_value_as_ahead(cmp):
    t = tables.decision_table(cmp).set_index("KPI")
    payback = t.loc[kpis.KPIS["cac_payback_months"].short]
    b = compare_mod.decision_values(cmp.base)["cac_payback_months"].to_numpy(float)
    o = compare_mod.decision_values(cmp.others[0])["cac_payback_months"].to_numpy(float)
    assert payback["P(ahead of base)"] == kpis.fmt_value("prob_frac", float(np.mean(o < b)))
    nrr = t.loc["NRR"]
    assert nrr["Difference, mean"].endswith(" pts")  # a difference of shares in points


# ---------------------------------------------------------------- what differs, in words


def test_levers_read_with_label_and_unit_and_none_is_hidden():
    base = load("baseline")
    assert describe.changes_text(base, load("efficient_growth")) == \
        "Paid marketing budget $150K → $120K a month"
    price = describe.changes_text(base, load("price_increase"))
    assert "List price, smb $600 → $648 a seat a year" in price
    assert "Installed base at renewal, smb grandfather → step to list" in price
    assert "more" not in price and "pricing." not in price
    assert "Partner plan (active partners) none → 45 from month 4, 60 from month 10" in \
        describe.changes_text(base, load("partner_push"))
    mix = describe.changes(base, load("enterprise_focus"))
    assert "Inbound segment mix, enterprise 33% → 45%" in map(str, mix)
    assert len(mix) == len(verdict_mod.scenario_diff(base, load("enterprise_focus"))) == 7


def test_any_list_reads_in_words_targets_included():
    base = load("baseline")
    plan = sim.with_overrides(base, {"targets": [
        {"name": "t", "metric": "ending_arr", "op": ">=", "value": 5e7, "year": 3},
        {"name": "j", "all": [{"metric": "cash_floor", "op": ">=", "value": 1e7},
                              {"metric": "ending_arr", "op": ">=", "value": 1e7}]}]})
    text = describe.changes_text(base, plan)
    assert text.startswith("Targets (") and " → (" in text  # a list of targets, no KeyError


def test_what_differs_is_the_assumption_sheets_source():
    base, plans = load("baseline"), [load(n) for n in ("price_increase", "partner_push",
                                                        "account_plan_top_accounts")]
    grouped = tables.assumptions_grouped([base, *plans], ["b", "p", "q", "r"])
    marked = set(grouped.loc[grouped["differs"] == "yes", "key"])
    found = {k for p in plans for k, _a, _b in describe.differing(base, p)}
    # every differing setting is marked, and every marked row lies in one
    assert all(any(describe.covers(k, key) for key in marked) for k in found)
    assert all(any(describe.covers(k, key) for k in found) for key in marked)
    assert "channels.partner.partner_plan.0.value" in marked  # a whole plan added
    assert "account_plan.programme_top_n" in marked


def test_the_compare_page_lists_every_setting_that_differs(cmp):
    html = cells.compare_levers(cmp).to_html()
    assert "Paid marketing budget" in html and "$120K a month" in html


# ---------------------------------------------------------------- the verdict's words


def _frame(delta: float, prob: float) -> pd.DataFrame:
    row = {"is_base": False, "scenario": "plan", "decision_mean": 1.0, "levers": "x",
           "profit_delta": delta, "profit_ci_low": delta - 1e5, "profit_ci_high": delta + 1e5,
           "profit_prob_better": prob, "profit_prob_low": 0.3, "profit_prob_high": 0.6,
           "decision_delta": delta, "decision_ci_low": -1.0, "decision_ci_high": 1.0,
           "cash_trough_mean": 1e6, "cash_trough_p10": 9e5, "cash_trough_p90": 1.1e6,
           "prob_breach": 0.0, "prob_breach_low": 0.0, "prob_breach_high": 0.1}
    base = {**row, "is_base": True, "scenario": "base"}
    return pd.DataFrame([row, base])


@pytest.mark.parametrize(("delta", "prob", "verb"), [
    (47_000, 0.43, "is ahead of"), (-47_000, 0.57, "trails"), (47_000, 0.57, "is ahead of"),
    (-47_000, 0.43, "trails")])
def test_the_verb_follows_the_sign_of_the_mean_difference(delta, prob, verb):
    s = verdict_mod.sentences(_frame(delta, prob), "base", 20, kpis.DECISION_KPI, 5e6)[1]
    assert s.startswith(f"plan {verb} base on operating profit by {kpis.fmt_usd(abs(delta))} "
                        "on average")
    assert f"comes out ahead in {prob:.0%} of them" in s
    assert "loses to" not in s and "beats" not in s
    assert "Cash trough mean $1.00M (P10–P90 $900K to $1.10M)" in s


def test_the_verdict_states_one_statistic(cmp):
    frame, _ = verdict_mod.verdict(cmp)
    assert "cash_trough_mean" in frame and "cash_trough_p50" not in frame
    trough = cmp.base.kpis["cash_trough"].to_numpy(float)
    base = frame[frame["is_base"]].iloc[0]
    assert base["cash_trough_mean"] == pytest.approx(trough.mean())


# ---------------------------------------------------------------- one number per page


def test_the_cash_chart_marks_the_kpi_tables_trough(cmp):
    r = cmp.base
    _bands, trough = tables.cash_tables(r)
    p50 = r.kpi_summary.set_index("kpi").loc["cash_trough", "p50"]
    assert trough["value"].iloc[0] == p50
    assert kpis.fmt_usd(p50) in trough["label"].iloc[0]
    assert kpis.fmt_usd(p50) in tables.headline_table(r, ["cash_trough"])["text"].iloc[0]


def test_break_even_says_the_share_of_runs_that_reached_it():
    assert kpis.reached_note("break_even_month", 7, 10) == " (reached in 7 of 10 runs, 70%)"
    assert kpis.reached_note("revenue_total", 7, 10) == ""
    summary = pd.DataFrame([{"kpi": "break_even_month", "label": "Break-even", "p10": 20.0,
                             "p50": 22.0, "p90": 30.0, "n": 3},
                            {"kpi": "revenue_total", "label": "Revenue", "p10": 1.0,
                             "p50": 2.0, "p90": 3.0, "n": 4}])
    rows = terminal.kpi_table(summary, "t").rows
    assert "reached in 3 of 4 runs, 75%" in rows[0][2]


# ---------------------------------------------------------------- sweep and sensitivity


def _grid(means: list[float]) -> pd.DataFrame:
    values = [100.0, 200.0, 300.0, 400.0][: len(means)]
    return pd.DataFrame({"channels.inbound.budget_per_month_usd": values,
                         "operating_profit_total_mean": means,
                         "operating_profit_total_ci_low": [m - 15 for m in means],
                         "operating_profit_total_ci_high": [m + 15 for m in means]})


def test_a_sweep_optimum_on_the_edge_of_the_grid_is_warned():
    key = "channels.inbound.budget_per_month_usd"
    edge = optimum(_grid([1.0, 2.0, 3.0, 40.0]), [key], "operating_profit_total")
    assert edge["at_edge"] == [key] and edge["edge_side"][key] == "highest"
    lines = terminal.optimum_lines("operating_profit_total", edge, [key])
    assert lines[0].startswith("Best for operating profit: Paid marketing budget $400 a month")
    assert "95% interval" in lines[0]
    assert lines[1].startswith("warning:") and "above it" in lines[1]
    inside = optimum(_grid([1.0, 50.0, 40.0, 3.0]), [key], "operating_profit_total")
    assert inside["at_edge"] == [] and inside["near"] == 2  # 40 lies in 50 ± 15
    lines = terminal.optimum_lines("operating_profit_total", inside, [key])
    assert len(lines) == 1 and "2 points are as good within the noise" in lines[0]
    # with the runs (same seeds), ties come from paired differences: 300's runs trail the
    # best (200) by exactly 1 in every run, so it is distinguishable though its mean is close
    runs = [np.array([1.0, 2.0, 3.0]), np.array([50.0, 60.0, 70.0]),
            np.array([49.0, 59.0, 69.0]), np.array([48.0, 62.0, 66.0])]
    paired = optimum(_grid([2.0, 60.0, 59.0, 58.7]), [key], "operating_profit_total", runs)
    assert paired["near"] == 2 and paired["paired"]  # itself and 400 (its differences change sign)
    assert "not distinguishable" in terminal.optimum_lines("operating_profit_total", paired,
                                                           [key])[0]


def test_sensitivity_reads_in_plain_units_and_retention_in_points():
    df = pd.DataFrame([
        {"lever": "segments.*.logo_retention_12m_frac", "kpi": "operating_profit_total",
         "base_value": 0.89, "low_value": 0.879, "high_value": 0.901, "base": -1.7e6,
         "low": -1.71e6, "high": -1.66e6, "swing": 5.2e4, "swing_ci_low": -2.2e5,
         "swing_ci_high": 3.2e5, "step_unit": "churn (1 - p), relative",
         "base_values": "smb 0.89; enterprise 0.945"},
        {"lever": "channels.inbound.budget_per_month_usd", "kpi": "ending_arr",
         "base_value": 150_000.0, "low_value": 135_000.0, "high_value": 165_000.0,
         "base": 2.93e7, "low": 2.95e7, "high": 2.99e7, "swing": 4.0e5,
         "swing_ci_low": -2.98e6, "swing_ci_high": 3.78e6, "step_unit": "relative",
         "base_values": "1.5e+05"}])
    rows = terminal.sensitivity_table(df, "t").rows
    text = " ".join(" ".join(r) for r in rows)
    assert "e+" not in text and "e-0" not in text
    assert rows[0][0] == "Logo retention over 12 months"
    assert "89% → 87.9% / 90.1%" in rows[0][2] and "±1.1 pts" in rows[0][2]
    assert "enterprise 94.5%" in rows[0][2]
    assert rows[1][2] == "$150K → $135K / $165K a month"


# ---------------------------------------------------------------- precision near zero


def test_the_precision_rule_ends_when_the_base_npv_is_near_zero(monkeypatch):
    """The base's NPV averages about zero, so 10% of it asks for an interval about zero wide;
    the revenue floor makes the target reachable and the loop stops well before the cap."""
    rng = np.random.default_rng(0)

    def fake_run_all(scenarios, settings, label, first=0):
        out = {}
        for i in range(len(scenarios)):
            reps = range(first, settings.replications)
            out[i] = [{"kpis": {"npv_operating_profit": float(rng.normal(0, 2e5))
                                + (1e4 if i else 0.0), "revenue_total": 2e7},
                       "replication": r} for r in reps]
        return out, "serial"

    def same_noise(parts):  # pair the plan's runs with the base's, as the same streams do
        for a, b in zip(parts[0], parts[1], strict=True):
            b["kpis"]["npv_operating_profit"] = a["kpis"]["npv_operating_profit"] \
                + float(rng.normal(1e4, 1e5))

    real = compare_mod.run_all

    def paired(scenarios, settings, label, first=0):
        res, used = fake_run_all(scenarios, settings, label, first)
        same_noise(res)
        return res, used

    monkeypatch.setattr(compare_mod, "run_all", paired)
    monkeypatch.setattr(compare_mod, "assemble", lambda sc, seed, n, parts, stats: sc)
    monkeypatch.setattr(compare_mod, "paired_deltas", lambda b, o: pd.DataFrame())
    base = load("baseline")
    _res, p = compare_mod.compare_to_precision(base, [base], 0.10, relative=True,
                                               max_replications=400, executor="serial")
    assert real is not compare_mod.run_all
    assert p.reached and p.floor and p.replications < 400
    assert p.target_half_width == pytest.approx(compare_mod.PRECISION_FLOOR_OF_REVENUE * 2e7)
    assert "floor" in p.message() and "mean revenue" in p.message()
    assert not math.isnan(p.half_width)
