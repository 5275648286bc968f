"""Fixtures shared across test modules (an expensive artefact that several modules read is
built once per session), and the grouping of tests for ``pytest -n 2 --dist loadgroup``
(pytest-xdist, as ``make test`` runs them)."""

from __future__ import annotations

import pytest
from hostile import build_hostile_report

SHARED = {"test_hostile_html.py": "hostile_report", "test_hostile_excel.py": "hostile_report"}
"""Modules that read one session fixture run on one xdist worker, so it is built once."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` every file is one group: a module fixture is built by one
    worker only, and a file's tests keep their order. First of all such hooks: xdist's worker
    reads the groups in its own (registered later, so otherwise called first)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = SHARED.get(item.path.name, str(item.path.relative_to(config.rootpath)))
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    """``revsim report`` of the two hostile scenarios (tests/hostile.py), read by both
    tests/test_hostile_html.py and tests/test_hostile_excel.py: (report folder, process)."""
    return build_hostile_report(tmp_path_factory.mktemp("hostile-report"))
