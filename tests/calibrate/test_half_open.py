"""Dates as billing systems mean them (issue 26): a subscription is ``[start_date,
end_date)``, so one that ends on the ``--as-of`` date is a churn known at the cut, not an
active customer; and a fit that failed (a flat likelihood, a parameter at its bound) is
listed and warned about, never written as a value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from support.cli import run_cli

from sim.calibrate.mle import Fit, sbg_fit

ROOT = Path(__file__).resolve().parents[2]

BASE = ROOT / "scenarios" / "baseline.yaml"
AS_OF = pd.Timestamp("2025-01-01")
HAZARD = 0.06  # monthly churn of every account (homogeneous)


def snapshot(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    """Month-to-month customers started on month starts over three years; each churns after
    a geometric number of months, ending on a month start, so many end exactly on the
    snapshot date (a snapshot taken on a month start)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = AS_OF - pd.DateOffset(months=int(rng.integers(1, 37)))
        end = start + pd.DateOffset(months=int(rng.geometric(HAZARD)))
        rows.append({"customer_id": f"C{i}", "segment": "smb", "start_date": start.date(),
                     "end_date": end.date() if end <= AS_OF else "", "term_months": 1,
                     "billing": "monthly", "arr_usd": 1200})
    return pd.DataFrame(rows)


def test_a_snapshot_whose_churners_end_on_the_cut_calibrates_to_its_churn_and_base(tmp_path):
    df = snapshot()
    on_cut = int((df["end_date"].astype(str) == AS_OF.date().isoformat()).sum())
    live = int((df["end_date"] == "").sum())
    assert on_cut > 20  # the case under test is in the data
    df.to_csv(tmp_path / "subs.csv", index=False)
    proc = run_cli("calibrate", "--base", BASE, "--subscriptions", "subs.csv", "--as-of",
                   "2025-01-01", "--out", "cal.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    smb = yaml.safe_load((tmp_path / "cal.yaml").read_text())["segments"]["smb"]
    # the churners on the cut are not in the installed base
    assert smb["installed_customers"] == live
    r12 = smb["monthly_logo_retention_12m_frac"]
    assert abs(r12 - (1 - HAZARD) ** 12) < 0.05, r12


def test_a_flat_likelihood_is_listed_as_failed_and_never_written():
    # no churn at all in three years: the churn mean's interval is [0, 1]
    t = np.arange(1, 37.0).repeat(5)
    out, _ = sbg_fit({"monthly": (t, np.ones(len(t), bool), np.zeros(len(t)))})
    fit = Fit(as_of="2025-01-01")
    fit.add("smb.monthly_churn_mean", out["monthly"])
    fit.add("smb.churn_concentration", out["concentration"])
    assert "smb.monthly_churn_mean" not in fit.estimates
    assert "smb.monthly_churn_mean" in fit.failed
    assert any(w.startswith("smb.monthly_churn_mean: fit failed") for w in fit.warnings)


def test_a_concentration_at_its_bound_is_kept_from_the_base_and_flagged(tmp_path):
    # two accounts churn at once, three never: the concentration runs to its lower bound
    rows = [("C1", "2023-01-01", "2023-02-01"), ("C2", "2023-01-01", "2023-02-01")]
    rows += [(f"K{i}", "2023-01-01", "") for i in range(3)]
    df = pd.DataFrame([{"customer_id": c, "segment": "smb", "start_date": s, "end_date": e,
                        "term_months": 1, "billing": "monthly", "arr_usd": 1200}
                       for c, s, e in rows])
    df.to_csv(tmp_path / "subs.csv", index=False)
    proc = run_cli("calibrate", "--base", BASE, "--subscriptions", "subs.csv", "--as-of",
                   "2025-01-01", "--out", "cal.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: smb.churn_concentration: fit failed, kept from the base" in proc.stderr
    text = (tmp_path / "cal.yaml").read_text()
    assert "#   - FAILED smb.churn_concentration: at its lower bound" in text
    smb = yaml.safe_load(text)["segments"]["smb"]
    assert "churn_concentration" not in smb
