"""How an experiment runs: the six run parameters every experiment takes, as one value.

They change how many replications run, on which streams and where — never what a replication
computes (except ``parameter_draws``, which decides whether the assumptions are drawn):
replication ``r`` of seed ``s`` is the same on every executor and worker count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class RunSettings:
    """Replications, seed and where they run, passed together instead of six arguments."""

    replications: int = 20
    """Replications per scenario (replication r uses streams (seed, r))."""
    seed: int = 0
    executor: str = "process"
    """``serial``, ``process`` or ``dask`` (see :mod:`sim.experiments.executors`)."""
    scheduler: str | None = None
    """A Dask scheduler address (``executor="dask"``); None starts a local cluster."""
    workers: int | None = None
    """Worker processes; None uses every core."""
    progress: bool = False
    """Show progress in simulated months on the terminal (stderr)."""
    parameter_draws: bool = False
    """Draw the scenarios' uncertain values (their ranges) in every replication
    (:mod:`sim.experiments.draws`); False runs every value at its estimate, as
    ``--fixed-parameters`` does. The commands draw by default; the Python API when asked."""

    def but(self, **changes) -> RunSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)


def settings_of(settings: RunSettings | None, replications: int, seed: int, executor: str,
                scheduler: str | None, workers: int | None, progress: bool) -> RunSettings:
    """``settings`` when a caller passed one, else the six keyword arguments of the older
    signatures (kept so code written against them keeps working)."""
    if settings is not None:
        return settings
    return RunSettings(replications, seed, executor, scheduler, workers, progress)


MAX_REPS = 1_000_000
"""Most replications per scenario a command accepts (the work estimate usually stops far
earlier; see ``sim.experiments.workload``)."""
MAX_SEED = 2**63 - 1
"""Largest seed (seeds are stored as 64-bit integers in the outputs)."""
MAX_MONTHS = 120
"""Longest horizon, the same bound as ``horizon_months`` in scenario files."""
REPORT_MAX_REPS = 100
"""Default cap of an adaptive report (``sim.report.build`` has the same default)."""
MAX_ADAPTIVE_REPS = 100_000
"""Largest cap of an adaptive run (``--max-reps``)."""


def range_problems(reps: int | None, seed: int, months: int | None = None) -> list[str]:
    """One line per run parameter out of its range (None: not given), named by its flag."""
    from sim.scenario.io import digits

    problems = []
    for flag, value, low, high in (("--reps", reps, 1, MAX_REPS), ("--seed", seed, 0, MAX_SEED),
                                   ("--months", months, 1, MAX_MONTHS)):
        if value is not None and not low <= value <= high:
            shown = f"{value}" if abs(value) < 10**15 else f"a number of {digits(value)} digits"
            problems.append(f"{flag}: must be between {low:,} and {high:,} (got {shown})")
    return problems


def precision_problems(precision: float | None, reps: int, cap: int, adaptive: bool
                       ) -> list[str]:
    """A precision is a positive amount of USD; an adaptive run's cap lies between its first
    round and ``MAX_ADAPTIVE_REPS``."""
    if precision is not None and not (precision > 0 and math.isfinite(precision)):
        return [f"--precision {precision}: must be a positive amount of USD"]
    if adaptive and not reps <= cap <= MAX_ADAPTIVE_REPS:
        return [f"--max-reps {cap}: must be between --reps ({reps}) and {MAX_ADAPTIVE_REPS}"]
    return []


def report_problems(reps: int | None, seed: int, months: int | None, max_reps: int | None,
                    precision: float | None) -> list[str]:
    """``revsim report``'s flags, the first kind of problem found: ranges, ``--max-reps`` only
    when adaptive, the precision and the cap."""
    adaptive = reps is None or precision is not None
    cap = REPORT_MAX_REPS if max_reps is None else max_reps
    return (range_problems(reps, seed, months)
            or (["--max-reps: only with adaptive replications (--precision, or no --reps)"]
                if max_reps is not None and not adaptive else [])
            or precision_problems(precision, reps or 1, cap, adaptive))


def adaptive_work(reps: int | None, cap: int, adaptive: bool) -> dict[str, Any]:
    """The replications a run's work is estimated at (``reps``), and the flag that sets them
    (``reps_flag``)."""
    return ({"reps": cap, "reps_flag": "--max-reps"} if adaptive
            else {"reps": int(reps or 0), "reps_flag": "--reps"})


def report_work(reps: int | None, max_reps: int | None, precision: float | None
                ) -> dict[str, Any]:
    """:func:`adaptive_work` of ``revsim report``: adaptive without ``--reps`` or with
    ``--precision``, capped at ``--max-reps`` (default ``REPORT_MAX_REPS``)."""
    return adaptive_work(reps, REPORT_MAX_REPS if max_reps is None else max_reps,
                         reps is None or precision is not None)
