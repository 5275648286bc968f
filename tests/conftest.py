"""Fixtures shared across test modules: an expensive artefact that several modules read is
built once per session (once per xdist worker under ``make test``'s ``-n 2 --dist loadfile``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hostile import build_hostile_report

# The suite runs every simulation it asks for: the result cache (sim/experiments/cache.py) is
# off unless a test turns it on with its own folder (tests/test_cache.py).
os.environ["REVSIM_NO_CACHE"] = "1"

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """A scratch folder holding a copy of the baseline, made the working directory so that
    messages show short relative file names (a module may define its own ``here``)."""
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    """``revsim report`` of the two hostile scenarios (tests/hostile.py), read by both
    tests/test_hostile_html.py and tests/test_hostile_excel.py: (report folder, process)."""
    return build_hostile_report(tmp_path_factory.mktemp("hostile-report"))
