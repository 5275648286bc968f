"""A warm worker pool for interactive use: processes started once, the engine imported and
exercised in each, so a lever change pays no process start-up (issue 27, "Interactive").

Replication r of every scenario is stream (seed, r), exactly as in
:func:`sim.experiments.runner.run_all`, so a warm run gives the tables of a cold one and two
scenarios run here pair replication by replication (common random numbers). Work is cut in
small chunks handed back as they finish, so a caller can show partial bands and then the
exact ones. Workers are spawned (not forked): the caller may be a threaded web server.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from sim.experiments.executors import _init_worker
from sim.experiments.results import ExperimentResult, assemble
from sim.experiments.runner import _replicate
from sim.scenario.model import Scenario


def _warm_up(scenario: Scenario) -> int:
    """Import and exercise the engine in a worker (one month of one replication)."""
    _replicate(scenario.model_copy(update={"horizon_months": 1}), 0, [0])
    return os.getpid()


class WarmPool:
    """Worker processes kept alive between runs. ``run`` is thread-safe: a newer call does not
    wait for an older one's chunks once ``cancel`` was called for it."""

    def __init__(self, workers: int | None = None, warm: Scenario | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(None,))
        self._lock = threading.Lock()
        self._generation = 0
        if warm is not None:
            self.warm(warm)

    def warm(self, scenario: Scenario) -> float:
        """Start every worker and run one short replication in each; seconds taken."""
        t0 = time.perf_counter()
        futures = [self._pool.submit(_warm_up, scenario) for _ in range(self.workers)]
        for f in futures:
            f.result()
        return time.perf_counter() - t0

    def cancel(self) -> None:
        """Drop the queued chunks of runs started before now (running chunks finish)."""
        with self._lock:
            self._generation += 1

    def run(self, scenarios: Sequence[Scenario], replications: int, seed: int = 0,
            chunk: int | None = None,
            on_chunk: Callable[[int, int], None] | None = None) -> list[ExperimentResult] | None:
        """``replications`` of each scenario on the same streams; None when cancelled.
        ``on_chunk(done, total)`` follows finished replications (all scenarios counted)."""
        with self._lock:
            gen = self._generation
        size = chunk or max(1, replications // (2 * self.workers))
        futures: dict[Future, int] = {}
        for lo in range(0, replications, size):
            reps = list(range(lo, min(replications, lo + size)))
            for i, sc in enumerate(scenarios):
                futures[self._pool.submit(_replicate, sc, seed, reps)] = i
        parts: dict[int, list[dict]] = {i: [] for i in range(len(scenarios))}
        pending, done_n, total = set(futures), 0, replications * len(scenarios)
        t0 = time.perf_counter()
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if self._generation != gen:
                for f in pending:
                    f.cancel()
                return None
            for f in done:
                chunk_parts = f.result()
                parts[futures[f]].extend(chunk_parts)
                done_n += len(chunk_parts)
            if done and on_chunk is not None:
                on_chunk(done_n, total)
        stats = {"executor": "warm-pool", "wall_seconds": time.perf_counter() - t0}
        out = []
        for i, sc in enumerate(scenarios):
            parts[i].sort(key=lambda d: d["replication"])
            out.append(assemble(sc, seed, replications, parts[i], stats))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
