"""What binds (issue 24): the rules of sim.analysis.constraints on hand-built tables at their
thresholds, and the constraint named correctly in a pipeline-bound and a capacity-bound
scenario built for it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.analysis import constraints as C

ROOT = Path(__file__).resolve().parent.parent


def baseline(overrides: dict):
    return sim.with_overrides(sim.load_scenario(ROOT / "scenarios" / "baseline.yaml"),
                              overrides)


def _team_rows(util: float, opps: float, lost: float, months: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"month": range(1, months + 1), "team": "t", "replication": 0,
                         "capacity_slots": 10.0, "ae_utilization": util,
                         "opportunities": opps, "leads_lost_waiting": lost,
                         "opportunities_self_sourced": 0.0, "ramped_ae": 2.0})


@pytest.mark.parametrize("util, lost, kind, binds", [
    (C.CAPACITY_UTIL, 0.0, "sales_capacity", True),
    (C.CAPACITY_UTIL - 0.01, 0.0, "sales_capacity", False),
    (0.8, C.LOST_WAITING_SHARE * 100, "sales_capacity", True),
    (C.IDLE_UTIL, 0.0, "pipeline", True),
    (C.IDLE_UTIL + 0.01, 0.0, "sales_capacity", False),
    (0.3, 0.0, "pipeline", True),
])
def test_team_rule_at_its_thresholds(util, lost, kind, binds):
    (f,) = C.team_findings(_team_rows(util, 100.0, lost))
    assert (f.kind, f.binds) == (kind, binds)
    assert f.evidence["utilisation"] == pytest.approx(util)


def test_cash_binds_from_the_share_of_runs_below_the_floor():
    rows = [(r, m, 100.0 if r >= 2 else -5.0) for r in range(20) for m in (1, 2)]
    monthly = pd.DataFrame(rows, columns=["replication", "month", "cash_balance"])
    f = C.cash_finding(monthly, 0.0)
    assert f.evidence["prob_below_floor"] == pytest.approx(0.10) and f.binds
    assert not C.cash_finding(monthly, -10.0).binds


def test_market_onboarding_and_cs_rules():
    seg = pd.DataFrame({"segment": "ent", "month": [1, 2], "customers": [100.0, 100.0],
                        "opportunities": [8.0, 8.0]})
    # 1000 accounts, 100 customers, 20% a year: 15 in market a month; 8/15 > 0.5 binds
    (m,) = C.market_findings(seg, {"ent": (1000, 0.2)})
    assert m.evidence["in_market_saturation"] == pytest.approx(8 / 15) and m.binds
    (m,) = C.market_findings(seg.assign(opportunities=7.0), {"ent": (1000, 0.2)})
    assert not m.binds
    monthly = pd.DataFrame({"onboarding_utilization": [0.5], "onboarding_wait_days": [20.0],
                            "cs_coverage_factor": [1.15]})
    assert C.onboarding_finding(monthly).binds
    assert C.cs_finding(monthly).binds
    assert not C.cs_finding(monthly.assign(cs_coverage_factor=1.05)).binds


def test_cash_leads_when_it_binds_else_the_highest_pressure():
    f = [C.Finding("sales_capacity", "t", 3.0, "a"), C.Finding("cash", "", 1.0, "b")]
    monthly = pd.DataFrame({"replication": [0, 1], "cash_balance": [-1.0, -1.0]})
    out = C.assess(monthly, _team_rows(0.99, 10, 0), pd.DataFrame(), None,
                   baseline({"horizon_months": 3}))
    assert out[0].kind == "cash" and out[1].kind == "sales_capacity"
    assert C.statement(f).startswith("What binds: sales capacity (a)")


def _assess(sc, reps=2):
    r = sim.run_experiment(sc, replications=reps, seed=4, executor="serial")
    return r, C.of_result(r)


def test_pipeline_bound_scenario_names_pipeline():
    """Few leads and many AEs: every team idles, pipeline binds, not AEs."""
    sc = baseline({"horizon_months": 12, "channels.inbound.budget_per_month_usd": 15000,
                   "headcount.sdr.count": 1, "channels.partner.active_partners": 2,
                   "sales.teams.smb.count": 6, "sales.teams.mid_market.count": 14,
                   "sales.teams.enterprise.count": 14})
    r, found = _assess(sc)
    top = C.binding(found)
    assert top.kind == "pipeline" and top.binds
    assert top.evidence["utilisation"] < C.IDLE_UTIL
    assert not any(f.kind == "sales_capacity" and f.binds for f in found)
    assert "pipeline" in C.statement(found)
    entry = C.summary_entry(found)
    assert entry["kind"] == "pipeline" and entry["where"] == top.where


def test_capacity_bound_scenario_names_the_busy_team():
    """One SMB AE under a flood of inbound: that team's capacity binds, with leads lost."""
    sc = baseline({"horizon_months": 12, "sales.teams.smb.count": 1,
                   "channels.inbound.budget_per_month_usd": 400000})
    r, found = _assess(sc)
    top = C.binding(found)
    assert (top.kind, top.where) == ("sales_capacity", "smb")
    assert top.evidence["utilisation"] > 0.95
    assert top.evidence["leads_lost_waiting_per_month"] > 1
    assert "smb AEs" in C.statement(found)


def test_summary_json_and_the_run_command_carry_the_constraint(tmp_path):
    import json

    from support.cli import run_cli

    out = tmp_path / "run"
    proc = run_cli("run", "scenarios/baseline.yaml", "--reps", "2", "--months", "6",
                   "--executor", "serial", "--out", str(out), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((out / "summary.json").read_text())["binding_constraint"]
    assert entry["kind"] in C.KINDS and entry["statement"] in proc.stdout
