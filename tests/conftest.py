"""Fixtures shared across test modules: an expensive artefact that several modules read is
built once per session (once per xdist worker under ``make test``'s ``-n 2 --dist loadfile``)."""

from __future__ import annotations

import pytest
from hostile import build_hostile_report


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    """``revsim report`` of the two hostile scenarios (tests/hostile.py), read by both
    tests/test_hostile_html.py and tests/test_hostile_excel.py: (report folder, process)."""
    return build_hostile_report(tmp_path_factory.mktemp("hostile-report"))
