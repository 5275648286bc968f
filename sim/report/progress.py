"""What ``revsim report`` says while it works: the simulation's progress lines, a bar or one
line per finished step, and a heartbeat line so that no gap is silent (used by
:mod:`sim.report.build`)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

from sim.outputs.escape import terminal_text


def progress_mode() -> str:
    return os.environ.get("REVSIM_PROGRESS", "auto")


@contextlib.contextmanager
def simulation_lines():
    """The simulation's progress: a bar on a terminal; off one, ``report: simulating: 40%
    (... months simulated, about 1 min left)`` lines on stdout with the finished steps (at
    least every ``PROGRESS_EVERY_SECONDS``; stderr keeps to the one-line errors)."""
    from sim.experiments.runner import Progress

    saved = Progress.stream, Progress.label_as
    Progress.stream, Progress.label_as = sys.stdout, "report: simulating"
    try:
        yield
    finally:
        Progress.stream, Progress.label_as = saved


class StepBar:
    """The steps after the simulation (notebooks, workbook, board pack, index) as a transient
    rich bar on a terminal; off a terminal ``step`` prints one line per finished step."""

    active: StepBar | None = None

    def __init__(self, total: int):
        import threading

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.lock = threading.Lock()
        self.bar = Progress(TextColumn("report: {task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True),
                            transient=True)
        self.task = self.bar.add_task("running notebooks", total=total)

    def __enter__(self) -> StepBar:
        if progress_mode() != "never" and sys.stdout.isatty() and sys.stderr.isatty():
            self.bar.start()
            StepBar.active = self
        return self

    def __exit__(self, *exc) -> None:
        if StepBar.active is self:
            StepBar.active = None
            self.bar.stop()

    def done(self, what: str) -> None:
        from sim.outputs.escape import markup_text

        with self.lock:
            self.bar.update(self.task, advance=1, description=markup_text(what))


_LAST_LINE = [0.0]
"""When the last plain step line was printed (``time.monotonic``)."""
_PRINTING = threading.Lock()


def step(what: str, t0: float) -> None:
    """A finished step of the build: it advances the bar on a terminal, else it is one plain
    line on stdout (errors stay on stderr)."""
    bar = StepBar.active
    if bar is not None:
        bar.done(terminal_text(what))
    elif progress_mode() != "never":
        line = terminal_text(f"report: {what} ({time.perf_counter() - t0:.0f} s)") + "\n"
        with _PRINTING:  # threads print here too: whole lines only
            _LAST_LINE[0] = time.monotonic()
            sys.stdout.write(line)
            sys.stdout.flush()


class Pace:
    """What is left of the steps after the simulation, for :func:`heartbeat`'s lines."""

    def __init__(self, notebooks: int, workers: int):
        self.total, self.workers, self.done, self.running = notebooks, workers, 0, 0
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def begin(self) -> None:
        with self.lock:
            self.running += 1

    def end(self) -> None:
        with self.lock:
            self.running, self.done = self.running - 1, self.done + 1

    def status(self) -> str:
        from sim.experiments.runner import duration

        with self.lock:
            done, running, total = self.done, self.running, self.total
        if done >= total:
            return "writing the workbook, the board pack and the index"
        left = ""
        if done:  # notebooks finish at the pace so far; then the workbook and board pack
            pace = (time.monotonic() - self.started) / done
            left = f", about {duration(pace * (total - done))} left for the notebooks"
        return f"notebooks: {done} of {total} done, {running} running{left}"


@contextlib.contextmanager
def heartbeat(status, t0: float, every: float | None = None):
    """Off a terminal, a ``report: still working: <status()>`` line whenever no step line
    came for ``PROGRESS_EVERY_SECONDS``: no silent gaps while notebooks run."""
    from sim.experiments.runner import PROGRESS_EVERY_SECONDS

    every = every or PROGRESS_EVERY_SECONDS
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(min(1.0, every)):
            if (StepBar.active is None and progress_mode() != "never"
                    and time.monotonic() - _LAST_LINE[0] >= every):
                step(f"still working: {status()}", t0)

    _LAST_LINE[0] = time.monotonic()
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
