"""A sweep's grid as the command line gives it (``key.path=v1,v2,...``, one to three keys)
and its scenarios for the work estimate made before the sweep runs."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from sim.scenario.io import ScenarioError, with_overrides

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

MAX_GRID_ESTIMATED = 2_000
"""Grids up to this many points are estimated point by point; larger ones from the base."""


def parse_grid(items: list[str]) -> dict[str, list[float]]:
    """``["k=1,2", ...]`` → ``{"k": [1, 2]}``; every problem of every item, one line each, as
    a :class:`ScenarioError` naming ``--grid``."""
    grid: dict[str, list[float]] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            problems.append(f"--grid {item}: (grid): expected key.path=v1,v2,...")
            continue
        values = []
        for part in text.split(","):
            try:
                values.append(float(part))
            except ValueError:
                problems.append(f"--grid {key}: (grid): {part.strip()!r} is not a number")
        if key in grid:
            problems.append(f"--grid {key}: (grid): given twice")
        grid[key] = [int(v) if v.is_integer() else v for v in values]
    if not problems and not 1 <= len(grid) <= 3:
        problems.append(f"--grid: (grid): a sweep takes one to three keys (got {len(grid)})")
    if problems:
        raise ScenarioError(problems)
    return grid


def grid_work(sc: Scenario, points: dict[str, list[float]]) -> list[tuple[Scenario, float]]:
    """The scenarios of a grid for ``sim.experiments.workload.check``: each point, or the base
    times the number of points when there are more than ``MAX_GRID_ESTIMATED``."""
    combos = list(itertools.islice(itertools.product(*points.values()), MAX_GRID_ESTIMATED + 1))
    if len(combos) > MAX_GRID_ESTIMATED:
        return [(sc, float(math.prod(len(v) for v in points.values())))]
    try:
        return [(with_overrides(sc, dict(zip(points, c, strict=True))), 1) for c in combos]
    except ScenarioError:  # a combination is invalid: the sweep itself will say which
        return [(sc, float(len(combos)))]


def check_grid_values(path: str, overrides: dict, points: dict[str, list[float]]) -> None:
    """Every value of the grid makes a valid scenario of ``path`` with ``overrides`` (the
    ``--set`` values, already loaded, so a problem is the grid's): every problem once, as a
    :class:`ScenarioError` naming ``--grid``."""
    from sim.scenario.io import load_scenario

    problems: list[str] = []
    for key, values in points.items():
        for v in values:
            try:
                load_scenario(path, overrides={**overrides, key: v}, flag="--grid")
            except ScenarioError as exc:
                problems.extend(exc.lines)
    if problems:
        raise ScenarioError(list(dict.fromkeys(problems)))


def load_sweep(path: str, sets: list[str], grid: list[str]
               ) -> tuple[Scenario, dict[str, list[float]], list[tuple[Scenario, float]]]:
    """The grid, the scenario of ``path`` with the ``--set`` values ``sets`` and the grid's
    work, checked in that order (every problem as a :class:`ScenarioError`)."""
    from sim.scenario.io import load_scenario, parse_overrides

    points = parse_grid(grid)
    overrides = parse_overrides(sets)
    sc = load_scenario(path, overrides)
    check_grid_values(path, overrides, points)
    return sc, points, grid_work(sc, points)
