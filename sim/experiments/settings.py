"""How an experiment runs: the six run parameters every experiment takes, as one value.

They change how many replications run, on which streams and where — never what a replication
computes: replication ``r`` of seed ``s`` is the same on every executor and worker count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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
