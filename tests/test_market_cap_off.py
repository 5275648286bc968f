"""``in_market_per_year_frac: null`` turns the in-market cap off (issue 26): every qualified
lead is an opportunity, the textbook market; with the cap on nothing changes."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from support.cli import run_cli

from sim.engine import market

ROOT = Path(__file__).resolve().parents[1]


def test_no_cap_leaves_every_opportunity():
    m = market.in_market_per_month(5000.0, None)
    assert math.isinf(m)
    for raw in (0.5, 40.0, 1e6):
        assert market.capped_opportunities(raw, m) == raw
        assert market.qualify_scale(raw, m) == 1.0
        assert market.raw_opportunities_for(raw, m) == raw
    # with a cap the same raw interest is thinned (the mechanism the switch turns off)
    capped = market.in_market_per_month(5000.0, 0.2)
    assert market.capped_opportunities(40.0, capped) < 40.0


def test_a_scenario_without_the_cap_runs_and_has_more_opportunities(tmp_path):
    off = tmp_path / "off.yaml"
    off.write_text(f"extends: {ROOT / 'scenarios' / 'baseline.yaml'}\nsegments:\n"
                   + "".join(f"  {s}: {{in_market_per_year_frac: null}}\n"
                             for s in ("smb", "mid_market", "enterprise")))
    runs = {}
    for name, path in (("on", ROOT / "scenarios" / "baseline.yaml"), ("off", off)):
        proc = run_cli("run", path, "--reps", 1, "--months", 6, "--seed", 3, "--out", name,
                       cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs[name] = pd.read_parquet(tmp_path / name / "monthly.parquet")
    # same seed and plan; only the cap differs: more opportunities over the months
    assert runs["off"]["opportunities"].sum() > runs["on"]["opportunities"].sum()
