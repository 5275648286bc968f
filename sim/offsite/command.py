"""``revsim offsite [SCENARIO]``: the command body (``sim.cli`` registers it). Panel and the
engine are imported only when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.bundled import SCENARIOS
from sim.errors import InputError


def offsite(
    scenario: Annotated[str | None, typer.Argument(
        help="Base scenario file (default: the bundled baseline).")] = None,
    reps: Annotated[int, typer.Option("--reps", help="Replications per answer.")] = 20,
    months: Annotated[int | None, typer.Option(
        "--months", help="Horizon (default: the scenario's).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the common streams.")] = 0,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: a free one).")] = 0,
    saved: Annotated[Path, typer.Option(
        "--saved", help="Folder for saved what-ifs (scenario files).")] = Path("offsite"),
    report: Annotated[Path, typer.Option(
        "--report", help="Folder of the board pack of the saved what-ifs.")]
    = Path("offsite-report"),
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Warm worker processes (default: one per core).")] = None,
) -> None:
    """Serve the offsite dashboard on 127.0.0.1 (levers in the browser, plan against base
    in seconds) and print its address; Ctrl-C stops it."""
    from sim.experiments.settings import MAX_MONTHS, MAX_REPS

    if not 2 <= reps <= MAX_REPS:
        raise InputError(f"--reps {reps}: must be between 2 and {MAX_REPS}")
    if months is not None and not 1 <= months <= MAX_MONTHS:
        raise InputError(f"--months {months}: must be between 1 and {MAX_MONTHS}")
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: must be between 0 and 65535")
    from sim.offsite.app import serve
    from sim.offsite.session import OffsiteSession

    path = Path(scenario) if scenario else SCENARIOS / "baseline.yaml"
    session = OffsiteSession(path, replications=reps, seed=seed, months=months,
                             workers=workers, saved_dir=saved)
    serve(session, port=port, report_dir=report)
