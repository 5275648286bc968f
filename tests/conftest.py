"""Fixtures shared across test modules (each expensive artefact is built once per session),
and the grouping of tests for ``pytest -n 2`` (pytest-xdist, ``--dist loadgroup``)."""

from __future__ import annotations

import pytest
from hostile import build_hostile_report

# Modules that share a session fixture run on one xdist worker, so it is built once.
SHARED = {"test_hostile_html.py": "hostile_report", "test_hostile_excel.py": "hostile_report"}


def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` every file (notebooks too) is one group: a module fixture is
    built by one worker only, and the cells of a notebook share one kernel, in order."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            name = item.path.name
            group = SHARED.get(name, str(item.path.relative_to(config.rootpath)))
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    """``revsim report`` of the two hostile scenarios (tests/hostile.py), read by both
    tests/test_hostile_html.py and tests/test_hostile_excel.py: (report folder, process)."""
    return build_hostile_report(tmp_path_factory.mktemp("hostile-report"))
