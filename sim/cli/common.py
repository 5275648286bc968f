"""What every ``revsim`` command shares: the app, options defined once, flag checks, one way to
refuse bad input (its lines on stderr, exit 2), ``--out`` claimed and written, and printing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sim.outputs.escape import rich_text, terminal_text
from sim.scenario.io import ScenarioError, digits, load_scenario, parse_overrides

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

EXIT_INVALID = 2
"""Exit code for bad input (the same code click uses for usage errors)."""
MAX_REPS = 1_000_000
"""Most replications per scenario a command accepts (the work estimate usually stops far
earlier; see ``sim.experiments.workload``)."""
MAX_SEED = 2**63 - 1
"""Largest seed (seeds are stored as 64-bit integers in the outputs)."""
MAX_MONTHS = 120
"""Longest horizon, the same bound as ``horizon_months`` in scenario files."""

app = typer.Typer(
    name="revsim", add_completion=False, no_args_is_help=True,
    help="Revenue strategy simulator: validate scenarios, run them, compare plans, report.",
    pretty_exceptions_enable=False, rich_markup_mode=None)


Executor = StrEnum("Executor", {name: name for name in ("serial", "process", "dask")})


def opt(kind: Any, *names: str, **kw: Any) -> Any:
    return Annotated[kind, typer.Option(*names, **kw)]  # an option's type, from its flags


RepsOpt = opt(int, "--reps", help=f"Replications per scenario (1 to {MAX_REPS:,}).")
SeedOpt = opt(int, "--seed", help="Seed of the random streams (0 to 2**63 - 1).")
AllowLargeOpt = opt(bool, "--allow-large", help="Run even when the estimated work exceeds the "
                    "limits (see sim/experiments/workload.py); commands that read company files "
                    "also read files beyond the reader limits (sim/calibrate/readers.py).")
ExecutorOpt = opt(Executor | None, "--executor", help="Where replications run (default: "
                  "process, or dask when --scheduler is given).")
SchedulerOpt = opt(str | None, "--scheduler", help="Dask scheduler address, e.g. "
                   "tcp://host:8786.")
SetOpt = opt(list[str] | None, "--set", help="Override a key, e.g. "
             "pricing.segments.smb.list_price_usd=650 (repeatable).")
MonthsOpt = opt(int | None, "--months", help="Override horizon_months (same as --set).")
BaseOpt = opt(str, "--base", help="Scenario the calibrated one extends.")
# the company's data files, as `calibrate` and `backtest` take them (see the README's columns)
SubscriptionsOpt = opt(Path | None, "--subscriptions", help="Subscriptions file (CSV or Excel; "
                       "see the README for the columns).")
OpportunitiesOpt = opt(Path | None, "--opportunities", help="Opportunities file (CSV or Excel).")
LeadsOpt = opt(Path | None, "--leads", help="Monthly leads file (CSV or Excel).")
InvoicesOpt = opt(Path | None, "--invoices", help="Invoices file (CSV or Excel).")
MappingOpt = opt(Path | None, "--mapping", help="Vendor mapping (YAML).")
HistoryStartOpt = opt(str | None, "--history-start", help="First date the files cover (default: "
                      "the first start_date of the subscriptions).")
CORRECTION = "--engine-correction/--no-engine-correction"


# ---------------------------------------------------------------- refusals and checks


class Refusal(ScenarioError):
    """Input problems of the command line (flags), one line each."""


def err(*lines: str) -> None:
    """Lines on stderr, as plain one-line text."""
    for line in lines:
        typer.echo(terminal_text(line), err=True)


def refuse(lines: Sequence[str], code: int = EXIT_INVALID) -> typer.Exit:
    err(*lines)  # then raise the exit returned
    return typer.Exit(code)


@contextlib.contextmanager
def refusing(*kinds: type[Exception]) -> Iterator[None]:
    """An input problem raised inside (a scenario's or a :class:`Refusal`, else one of
    ``kinds``, e.g. ``InputError``) is printed, one line per problem, and exits with 2, or
    with the problem's own ``code`` (an ``OutputError``)."""
    caught = kinds or ScenarioError
    try:
        yield
    except caught as exc:
        if hasattr(exc, "code"):  # an OutputError: its one line and its own exit code
            raise refuse([str(exc)], exc.code) from None
        raise refuse(getattr(exc, "lines", None) or str(exc).splitlines()) from None


def executor(chosen: Executor | None, scheduler: str | None) -> str:
    if chosen is None:
        return "dask" if scheduler else "process"
    if scheduler and chosen is not Executor.dask:
        raise Refusal([f"--scheduler: needs --executor dask (got --executor {chosen.value})"])
    return chosen.value


def load(path: str, sets: list[str] | None = None, extra: dict[str, Any] | None = None,
         flag: str = "--set") -> Scenario:
    return load_scenario(path, overrides={**parse_overrides(sets or []), **(extra or {})},
                         flag=flag)


def with_months(sets: list[str] | None, months: int | None) -> list[str] | None:
    return [*(sets or []), f"horizon_months={months}"] if months is not None else sets  # same


def load_all(paths: list[str], sets: list[str] | None = None) -> list[Scenario]:
    """Load every file, collecting the problems of all of them before failing."""
    scenarios, problems = [], []
    for p in paths:
        try:
            scenarios.append(load(p, sets))
        except ScenarioError as exc:
            problems.extend(exc.lines)
    if problems:
        raise Refusal(problems)
    return scenarios


def check_flags(reps: int | None, seed: int, months: int | None = None) -> None:
    """Out-of-range numeric flags, one line each (``--months`` of run, compare, sweep and
    sensitivity is checked with the scenario, as ``horizon_months``)."""
    problems = []
    for flag, value, low, high in (("--reps", reps, 1, MAX_REPS), ("--seed", seed, 0, MAX_SEED),
                                   ("--months", months, 1, MAX_MONTHS)):
        if value is not None and not low <= value <= high:
            shown = f"{value}" if abs(value) < 10**15 else f"a number of {digits(value)} digits"
            problems.append(f"{flag}: must be between {low:,} and {high:,} (got {shown})")
    if problems:
        raise Refusal(problems)


def check_work(scenarios: list[tuple[Scenario, float]], reps: int, allow_large: bool,
               reps_flag: str | None = "--reps") -> None:
    """Refuse a run whose estimated work exceeds the limits, unless ``--allow-large``
    (``reps_flag``: the option that set ``reps``, named in the refusal; ``None``: none)."""
    from sim.experiments.workload import check

    problem = None if allow_large else check(scenarios, reps, reps_flag)
    if problem:
        raise Refusal([problem])


def check_charts() -> None:
    """Commands that draw charts (report, track, backtest, calibrate --report) refuse before
    any work when the chart renderer cannot start under the memory limit: one line, exit 1."""
    from sim.report.charts import renderer_problem

    problem = renderer_problem()
    if problem:
        raise refuse([problem], 1)


def lift_reader_limits(allow_large: bool) -> None:
    """``--allow-large`` on a command that reads company files lifts the reader limits too
    (sim/calibrate/readers.py; the same as REVSIM_ALLOW_LARGE=1 for this process and its workers)."""
    if allow_large:
        from sim.calibrate.readers import ALLOW_LARGE_ENV

        os.environ[ALLOW_LARGE_ENV] = "1"


# ---------------------------------------------------------------- --out


def claim(out: Path | None, kind: str = "dir", flag: str = "--out"):
    """Check and lock an ``--out`` (or ``flag``) destination before any work; a context manager
    that does nothing when there is no ``--out``. A refusal is one line and exit 2 (exit 1 when
    another revsim holds it)."""
    from sim.outputs.atomic import OutputError, claim

    with refusing(OutputError):
        return contextlib.nullcontext() if out is None else claim(out, kind, flag)


def write(out: Path, writer, flag: str = "--out") -> None:
    """Run ``writer()``; a destination that fails while writing (disk full, permission changed,
    a folder changed mid-run) is one line and exit 1, and ``out`` keeps what it held."""
    from sim.outputs.atomic import OutputError, written

    with refusing(OutputError):
        written(out, writer, flag)
    err(f"wrote {out}")


def write_folder(out: Path, dest, writer, *args: Any) -> None:
    """:func:`write` of a folder output: ``writer(*args, folder)`` into the claimed ``dest``."""
    def into_folder() -> None:
        with dest.folder() as tmp:
            writer(*args, tmp)
    write(out, into_folder)


# ---------------------------------------------------------------- printing


def show(*items: Any) -> None:
    """Print text lines and ``sim.report.terminal.TextTable``s on standard output through rich;
    off a terminal (a pipe, a file, a CI log) tables keep their natural width, unwrapped."""
    from rich.console import Console

    con = Console(width=None if sys.stdout.isatty() else 10_000, highlight=False, markup=False,
                  emoji=False)
    for item in items:
        con.print(rich_text(item) if isinstance(item, str) else item.rich())
