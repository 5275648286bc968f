"""Small scenarios for the engine's unit tests (the baseline with overrides)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sim

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


@lru_cache(maxsize=1)
def _baseline():
    return sim.load_scenario(BASELINE)


def scenario(overrides: dict | None = None, horizon: int = 6):
    return sim.with_overrides(_baseline(), {"horizon_months": horizon, **(overrides or {})})
