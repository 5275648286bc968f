"""``revsim track`` splits the actual customers by segment when the actuals give them
(``customers_<segment>``, ``arr_<segment>``), not by the plan's mix (issue 26)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example_company.yaml"
ACTUALS = ROOT / "examples" / "company" / "actuals.csv"


def test_the_reforecast_installed_base_is_the_actuals_by_segment(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"extends": str(EXAMPLE), "horizon_months": 12}))
    acts = pd.read_csv(ACTUALS).head(3)
    # a split far from the plan's mix (the plan is mostly SMB): the actuals' must be used
    split = {"smb": 100, "mid_market": 300, "enterprise": 200}
    for seg, n in split.items():
        acts[f"customers_{seg}"] = n
        acts[f"arr_{seg}"] = n * 1000.0
    acts["customers"] = sum(split.values())
    acts.to_csv(tmp_path / "actuals.csv", index=False)
    proc = run_cli("track", plan, "--actuals", "actuals.csv", "--out", "out", "--reps", 2,
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "customers_smb" not in proc.stdout.split("ignored")[-1][:200]  # read, not ignored
    text = (tmp_path / "out" / "reforecast.yaml").read_text()
    refc = yaml.safe_load(text)
    for seg, n in split.items():
        assert refc["segments"][seg]["installed_customers"] == n, seg
    assert "actual customers by segment" in text
    assert "the actual ARR share" in text


def test_a_negative_segment_count_is_one_line_with_its_row(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"extends": str(EXAMPLE), "horizon_months": 12}))
    acts = pd.read_csv(ACTUALS).head(3)
    acts["customers_smb"] = [5, -1, 5]
    acts.to_csv(tmp_path / "actuals.csv", index=False)
    proc = run_cli("track", plan, "--actuals", "actuals.csv", "--out", "out", "--reps", 2,
                   cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "actuals.csv: row 3, column customers_smb: must be >= 0 (got -1.0)"]
