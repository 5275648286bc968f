"""Running replications: chunks of (scenario, seed, replications) summarised in the worker,
and the progress display in simulated months.

Every replication ``r`` of an experiment with seed ``s`` runs ``simulate(scenario, s, r)``, so
two scenarios share their random streams replication by replication (common random numbers)
and the same seed gives identical tables on the serial, process and Dask executors. Work is
cut into chunks whose results are summarised in the worker: event logs never travel back;
where chunks run (serial, process pool, Dask) is :mod:`sim.experiments.executors`' business.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from sim.analysis import metrics
from sim.analysis.targets import target_attainment
from sim.analysis.value import value_kpis
from sim.experiments import cache, executors
from sim.experiments.draws import drawn_scenario
from sim.experiments.replication import simulate
from sim.experiments.settings import RunSettings
from sim.scenario.model import Scenario


def _month_hook(on_months: Callable[[int], None]) -> Callable[[int, int], None]:
    """``simulate``'s progress hook → ``on_months(months newly simulated)``."""
    last = [0]

    def hook(done: int, total: int) -> None:
        if done > last[0]:
            on_months(done - last[0])
            last[0] = done

    return hook


def _replicate(scenario: Scenario, seed: int, reps: Sequence[int], draws: bool = False,
               into: tuple[str, dict[int, str]] | None = None) -> list[dict]:
    """Run replications in a worker and keep only their tables and KPIs (no event logs);
    simulated months go to :func:`sim.experiments.executors.month_sink` for the progress display.
    With ``into`` (the result cache's folder, replication → key) each is also stored there
    from the worker, so encoding runs beside the simulation, not in the parent. With ``draws``
    each replication first draws the scenario's uncertain values (:mod:`sim.experiments.draws`);
    without, they stay at their estimates."""
    store = None
    if into is not None:
        try:
            store = cache.ResultCache(into[0])
        except Exception as exc:  # noqa: BLE001 - the run goes on without it
            cache.warn("could not be opened", exc)
    try:
        return _replications(scenario, seed, reps, draws, into[1] if into else {}, store)
    finally:
        if store is not None:
            store.close()


def _replications(scenario: Scenario, seed: int, reps: Sequence[int], draws: bool,
                  keys: dict[int, str], store: cache.ResultCache | None) -> list[dict]:
    targets = [t.model_dump() for t in scenario.targets]
    rate = scenario.finance.discount_rate_per_year_frac
    on_months = executors.month_sink()
    out = []
    for r in reps:
        sc, values = drawn_scenario(scenario, seed, r) if draws else (scenario, {})
        res = simulate(sc, seed=seed, replication=r,
                       progress=_month_hook(on_months) if on_months else None)
        yearly = metrics.saas_metrics(res.monthly, res.cohorts, res.initial)
        kpis = metrics.headline_kpis(res.monthly, res.cohorts, res.initial, rate, yearly=yearly)
        kpis.update(metrics.cfo_kpis(res.monthly, yearly))
        kpis.update(value_kpis(res.ending_base, sc, kpis["npv_operating_profit"]))
        kpis["replication"] = r
        att = target_attainment(res.monthly, res.cohorts, res.initial, targets,
                                        yearly=yearly) if targets else pd.DataFrame()
        out.append({
            "replication": r,
            "monthly": res.monthly.assign(replication=r),
            "by_segment": res.by_segment.assign(replication=r),
            "by_channel": res.by_channel.assign(replication=r),
            "by_team": res.by_team.assign(replication=r),
            "cohorts": res.cohorts.assign(replication=r),
            "initial": res.initial,
            "kpis": kpis,
            "attainment": att.assign(replication=r) if len(att) else att,
            "simpy_events": res.stats["simpy_events"],
            "parameters": values,
        })
        if store is not None:
            store.put(keys[r], out[-1])
    return out


def _chunks(reps: Sequence[int], workers: int) -> list[list[int]]:
    size = max(1, math.ceil(len(reps) / (workers * 4)))
    return [list(reps[i:i + size]) for i in range(0, len(reps), size)]


def _execute(
    jobs: list[tuple],
    executor: str,
    scheduler: str | None,
    workers: int | None,
    on_done: Callable[[Any, int], None] | None,
    on_months: Callable[[int], None] | None = None,
) -> dict[Any, list[dict]]:
    """Run (key, scenario, seed, reps[, cache keys]) jobs; return results per key sorted by
    replication.
    ``on_done(key, replications)`` follows finished chunks; ``on_months(n)`` follows simulated
    months inside replications (serial and process executors)."""
    results: dict[Any, list[dict]] = {key: [] for key, *_ in jobs}

    def collect(key, chunk):
        results[key].extend(chunk)
        if on_done:
            on_done(key, len(chunk))

    executors.run([(key, _replicate, args) for key, *args in jobs],
                  executor, collect, scheduler, workers, on_months)
    for key in results:
        results[key].sort(key=lambda d: d["replication"])
    return results


PROGRESS_STEP_PERCENT = 10
"""Off a terminal, progress is one plain line on stderr per this many percent."""
PROGRESS_QUIET_SECONDS = 3.0
"""Off a terminal, plain progress lines start only once a run has taken this long, so short
runs (and their one-line errors) stay quiet. ``REVSIM_PROGRESS=always`` / ``never`` override."""


PROGRESS_EVERY_SECONDS = 10.0
"""Off a terminal, a plain line also comes after this long without one (no silent gaps), and
a line says how long is left once that is at least this long."""


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 5 s``: a wall-clock estimate for a progress line."""
    s = max(0, round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60} s"


class Progress:
    """Progress in simulated months (replications x horizon): a rich bar on a terminal, a
    plain line per ``PROGRESS_STEP_PERCENT`` (or ``PROGRESS_EVERY_SECONDS``) on stderr
    otherwise, with the time left, nothing when disabled. ``Progress.stream`` and
    ``Progress.label_as`` send the plain lines elsewhere under another label (a report's
    steps on stdout)."""

    stream = None
    label_as: str | None = None

    def __init__(self, total: int, label: str, enabled: bool):
        import sys

        self.bar = None
        label = "".join(ch if ch.isprintable() else "?" for ch in label)  # names are data
        self.total, self.label, self.done, self.shown = max(1, total), label, 0, 0
        mode = os.environ.get("REVSIM_PROGRESS", "auto")
        enabled = enabled and mode != "never"
        self.enabled = enabled
        self.lines = enabled and not sys.stderr.isatty()
        # a wall clock for the display only; the model never reads it
        self.started = self.last = time.monotonic()
        self.quiet_until = (self.started + PROGRESS_QUIET_SECONDS
                            if mode != "always" else -math.inf)
        if enabled and not self.lines:
            from rich.progress import Progress

            from sim.outputs.escape import markup_text

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task(markup_text(label), total=total)
            self.bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.advance(self.task, n)
        elif self.lines:
            step = PROGRESS_STEP_PERCENT
            percent = min(100, self.done * 100 // self.total) // step * step
            now = time.monotonic()
            due = percent > self.shown or (now - self.last >= PROGRESS_EVERY_SECONDS
                                           and self.done < self.total)
            if due and now >= self.quiet_until:
                import sys

                self.shown, self.last = max(percent, self.shown), now
                percent = min(100, self.done * 100 // self.total)
                print(f"{Progress.label_as or self.label}: {percent}% "
                      f"({min(self.done, self.total):,} of {self.total:,} months simulated"
                      f"{self._left(now)})", file=Progress.stream or sys.stderr, flush=True)

    def _left(self, now: float) -> str:
        """``, about 1 min 10 s left`` from the pace so far, when at least 10 s are left."""
        left = (now - self.started) / max(1, self.done) * (self.total - self.done)
        return f", about {duration(left)} left" if left >= PROGRESS_EVERY_SECONDS else ""

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_all(scenarios: Sequence[Scenario], settings: RunSettings, label: str,
            first: int = 0) -> tuple[dict[int, list[dict]], str]:
    """Replications first..n-1 (default 0..n-1) of every scenario on the same seed, chunked
    over the workers; results per scenario index, and the executor actually used. Replications
    in the result cache (:mod:`sim.experiments.cache`) are read, not run (marked ``cached``);
    the others are run and stored."""
    replications, seed, executor = settings.replications, settings.seed, settings.executor
    scheduler, workers, progress = settings.scheduler, settings.workers, settings.progress
    if replications < 1:
        raise ValueError("replications must be >= 1")
    store = cache.open_cache()
    draws = [settings.parameter_draws and sc.uncertainty is not None for sc in scenarios]
    keys = {i: cache.keys(sc, seed, range(first, replications), draws[i]) if store else {}
            for i, sc in enumerate(scenarios)}
    hits: dict[int, list[dict]] = {i: [] for i in keys}
    for i, by_rep in keys.items():
        for r, key in by_rep.items():
            if (part := store.get(key)) is not None and part["replication"] == r:
                hits[i].append({**part, "cached": True})
    todo = {i: [r for r in range(first, replications)
                if r not in {p["replication"] for p in hits[i]}] for i in keys}
    if executor == "process" and sum(map(len, todo.values())) < 2:
        executor = "serial"  # a pool costs more than it saves for one replication
    n_workers = workers or os.cpu_count() or 1
    local = store is not None and executor != "dask"  # Dask workers may be other machines
    jobs = [(i, scenarios[i], seed, reps, draws[i],
             (str(store.directory), {r: keys[i][r] for r in reps}) if local else None)
            for i in todo for reps in _chunks(todo[i], n_workers)]
    horizon = {i: sc.horizon_months for i, sc in enumerate(scenarios)}
    bar = Progress(sum(len(todo[i]) * horizon[i] for i in todo), label, progress and bool(jobs))
    live = executor in ("serial", "process")  # months tick inside replications
    res: dict[int, list[dict]] = {}
    try:
        if jobs:
            res = _execute(jobs, executor, scheduler, workers,
                           None if live else lambda key, n: bar.advance(n * horizon[key]),
                           bar.advance if live and progress else None)
        for i, parts in res.items() if store is not None and not local else ():
            for part in parts:
                store.put(keys[i][part["replication"]], part)
    finally:
        bar.close()
        if store is not None:
            store.close()
    return {i: sorted([*hits[i], *res.get(i, [])], key=lambda d: d["replication"])
            for i in keys}, executor


def event_log(scenario: Scenario, seed: int, draws: bool = False) -> pd.DataFrame:
    """Replication 0's events on the same streams as replication 0 of a run (``draws``: with
    the uncertain values drawn as that run drew them)."""
    first = drawn_scenario(scenario, seed, 0)[0] if draws else scenario
    return simulate(first, seed=seed, replication=0, events=True).events
