"""Regenerate the golden baseline tables that tests/test_golden.py compares against.

Run only when a change to the model's numbers is intended, and say why in the commit:
    .venv/bin/python scripts/regen_golden.py
"""

from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"

if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    sc = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    res = sim.simulate(sc, seed=0, replication=0)
    res.monthly.to_csv(GOLDEN / "baseline_seed0_rep0_monthly.csv", index=False, float_format="%.6f")
    res.by_segment.to_csv(GOLDEN / "baseline_seed0_rep0_by_segment.csv", index=False,
                          float_format="%.6f")
    (GOLDEN / "baseline.hash").write_text(sim.scenario_hash(sc) + "\n")
    print(f"wrote {GOLDEN} (scenario hash {sim.scenario_hash(sc)})")
