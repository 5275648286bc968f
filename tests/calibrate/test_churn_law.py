"""Duration-dependent churn (issue 26): the beta-discrete-Weibull law is fitted beside the
shifted-beta-geometric one and chosen by AIC, the choice stated in the calibrated file; a
company whose accounts churn early (c < 1) is recovered by the new law and not by the sBG,
and sBG data keep the sBG (c = 1 inside the interval)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from support.cli import run_cli

from sim.calibrate.churn_law import bdw_loglik, fit_laws
from sim.calibrate.mle import sbg_loglik

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"


def lifetimes(c: float, a: float = 1.0, b: float = 8.0, n: int = 1500, seed: int = 1,
              horizon: int = 36):
    """Month-to-month lifetimes under the beta-discrete-Weibull law, censored at a random
    observed span of 1..horizon months."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(a, b, n)
    seen = rng.integers(1, horizon + 1, n)
    T = np.maximum(1, np.ceil((np.log(rng.random(n)) / np.log1p(-theta)) ** (1 / c)))
    alive = T > seen
    return np.where(alive, seen, T).astype(float), alive, np.zeros(n)


def test_c_one_is_the_shifted_beta_geometric_likelihood():
    t, alive, d0 = lifetimes(1.0, n=200)
    assert abs(bdw_loglik(0.7, 5.0, 1.0, t, alive, d0)
               - sbg_loglik(0.7, 5.0, t, alive, d0)) < 1e-6


def test_early_churn_is_recovered_by_the_new_law_and_not_by_the_sbg():
    res = fit_laws(*lifetimes(0.5))
    assert res["chosen"] == "beta-discrete-Weibull"
    assert res["c"].covers(0.5) and not res["c"].covers(1.0)
    assert res["aic"]["bdw"] < res["aic"]["sbg"]


def test_sbg_data_keep_the_sbg():
    res = fit_laws(*lifetimes(1.0, seed=2))
    assert res["c"].covers(1.0)
    assert res["aic"]["sbg"] - res["aic"]["bdw"] < 4  # no real gain from the extra parameter


def test_the_calibrated_file_states_the_choice_and_warns(tmp_path):
    t, alive, _ = lifetimes(0.5, n=1200, seed=4)
    as_of = pd.Timestamp("2025-01-01")
    rows = []
    for i, (life, live) in enumerate(zip(t, alive, strict=True)):
        # an open account started `life` months before the cut; a churner some months
        # earlier still, so that its `life` months end before the cut
        start = as_of - pd.DateOffset(months=int(life) + (0 if live else i % 6 + 1))
        end = "" if live else (start + pd.DateOffset(months=int(life))).date()
        rows.append({"customer_id": f"C{i}", "segment": "smb", "start_date": start.date(),
                     "end_date": end, "term_months": 1, "billing": "monthly",
                     "arr_usd": 1200})
    pd.DataFrame(rows).to_csv(tmp_path / "subs.csv", index=False)
    proc = run_cli("calibrate", "--base", BASE, "--subscriptions", "subs.csv", "--as-of",
                   "2025-01-01", "--out", "cal.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    head = (tmp_path / "cal.yaml").read_text().split("\nextends:")[0]
    line = next(x for x in head.splitlines() if x.startswith("# Churn law, smb"))
    assert "the beta-discrete-Weibull fits better by AIC" in line
    assert "warning: smb.churn law: duration-dependent" in proc.stderr
