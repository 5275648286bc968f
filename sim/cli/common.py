"""What every ``revsim`` command shares: the app, options, flag checks, refusals (lines on
stderr, exit 2), ``--out`` claimed and written, printing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sim.experiments.settings import MAX_REPS, range_problems
from sim.outputs.escape import rich_text, terminal_text
from sim.scenario.io import ScenarioError, load_scenarios, parse_overrides

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

EXIT_INVALID = 2
"""Exit code for bad input (the same code click uses for usage errors)."""

app = typer.Typer(name="revsim", add_completion=False, no_args_is_help=True, help="Revenue "
                  "strategy simulator: validate scenarios, run them, compare plans, report.",
                  pretty_exceptions_enable=False, rich_markup_mode=None)
Executor = StrEnum("Executor", {name: name for name in ("serial", "process", "dask")})


def opt(kind: Any, *names: str, **kw: Any) -> Any:
    return Annotated[kind, typer.Option(*names, **kw)]  # an option's type, from its flags


ScenarioArg = Annotated[str, typer.Argument(help="Scenario file.")]
RepsOpt = opt(int, "--reps", help=f"Replications per scenario (1 to {MAX_REPS:,}).")
SeedOpt = opt(int, "--seed", help="Seed of the random streams (0 to 2**63 - 1).")
AllowLargeOpt = opt(bool, "--allow-large", help="Run even when the work or a file exceeds limits.")
ExecutorOpt = opt(Executor | None, "--executor", help="Default: process (dask with --scheduler).")
SchedulerOpt = opt(str | None, "--scheduler", help="Dask scheduler address (tcp://host:8786).")
SetOpt = opt(list[str] | None, "--set", help="Override a key, e.g. "
             "pricing.segments.smb.list_price_usd=650 (repeatable).")
MonthsOpt = opt(int | None, "--months", help="Override horizon_months.")
OutOpt = opt(Path | None, "--out", help="Write the results here (atomically).")
OutDirOpt = opt(Path, "--out", help="Folder for the results (atomically).")
ActualsOpt = opt(Path, "--actuals", help="Monthly actuals (CSV or Excel; see the README).")
PrecisionOpt = opt(float | None, "--precision", help="Add replications until each NPV "
                   "difference's 95% interval is within ± this USD.")
FixedParametersOpt = opt(bool, "--fixed-parameters", help="Point estimates only (no draws).")
BaseOpt = opt(str, "--base", help="Scenario the calibrated one extends.")
SubscriptionsOpt = opt(Path | None, "--subscriptions", help="Subscriptions (CSV or Excel).")
OpportunitiesOpt = opt(Path | None, "--opportunities", help="Opportunities (CSV or Excel).")
LeadsOpt = opt(Path | None, "--leads", help="Monthly leads (CSV or Excel).")
InvoicesOpt = opt(Path | None, "--invoices", help="Invoices (CSV or Excel).")
FinanceOpt = opt(Path | None, "--finance", help="Books: P&L, headcount, cash (CSV or Excel).")
MappingOpt = opt(Path | None, "--mapping", help="Vendor mapping (YAML).")
HistoryStartOpt = opt(str | None, "--history-start", help="First date the files cover.")
CORRECTION = "--engine-correction/--no-engine-correction"
NoCacheOpt = opt(bool, "--no-cache", help="Run every replication (result cache off).",
                 callback=lambda on: on and os.environ.update(REVSIM_NO_CACHE="1"))


class Refusal(ScenarioError):
    """Input problems of the command line (flags), one line each."""


def say(*lines: str, err: bool = False) -> None:
    """Lines on standard output (``err``: on stderr), as plain one-line text."""
    for line in lines:
        typer.echo(terminal_text(line), err=err)


def err(*lines: str) -> None:
    say(*lines, err=True)


def refuse(lines: Sequence[str], code: int = EXIT_INVALID) -> typer.Exit:
    err(*lines)  # then raise the exit returned
    return typer.Exit(code)


@contextlib.contextmanager
def refusing(*kinds: type[Exception]) -> Iterator[None]:
    """An input problem raised inside (a ``ScenarioError``, else one of ``kinds``) is printed,
    one line each, and exits with 2 or with its own ``code`` (an ``OutputError``)."""
    caught = kinds or ScenarioError
    try:
        yield
    except caught as exc:
        if hasattr(exc, "code"):  # an OutputError: its one line and its own exit code
            raise refuse([str(exc)], exc.code) from None
        raise refuse(getattr(exc, "lines", None) or str(exc).splitlines()) from None


def check(*problems: str | None) -> None:
    """Refuse with the problems found, one line each (exit 2); a ``None`` is no problem."""
    if found := [p for p in problems if p]:
        raise Refusal(found)


def check_flags(reps: int | None, seed: int, months: int | None = None) -> None:
    """Flags out of range (most commands check ``--months`` as the scenario's horizon)."""
    check(*range_problems(reps, seed, months))


def executor(chosen: Executor | None, scheduler: str | None) -> str:
    if chosen is None:
        return "dask" if scheduler else "process"
    check(f"--scheduler: needs --executor dask (got --executor {chosen.value})"
          if scheduler and chosen is not Executor.dask else None)
    return chosen.value


def checked(reps: int | None, seed: int, chosen: Executor | None, scheduler: str | None,
            months: int | None = None) -> str:
    check_flags(reps, seed, months)  # then the executor's name
    return executor(chosen, scheduler)


def load(path: str, sets: list[str] | None = None, extra: dict | None = None) -> Scenario:
    return load_all([path], sets, extra)[0]


def load_all(paths: list[str], sets: list[str] | None = None, extra: dict[str, Any] | None = None,
             strict: bool = True, fixed: bool = False) -> list[Scenario]:
    """Every file loaded with ``--set`` and ``extra`` overrides (``sim.scenario.io``); ``fixed``:
    at their estimates (``--fixed-parameters``)."""
    return load_scenarios(paths, {**parse_overrides(sets or []), **(extra or {})}, strict, fixed)


def with_months(sets: list[str] | None, months: int | None) -> list[str] | None:
    return [*(sets or []), f"horizon_months={months}"] if months is not None else sets  # same


def check_work(scenarios: list[tuple[Scenario, float]], reps: int, allow_large: bool,
               reps_flag: str | None = "--reps") -> None:
    """Refuse work over the limits unless ``--allow-large`` (``reps_flag`` set ``reps``)."""
    from sim.experiments.workload import check as work_problem

    check(None if allow_large else work_problem(scenarios, reps, reps_flag))


def prepare(path: str, reps: int, seed: int, chosen: Executor | None, scheduler: str | None,
            sets: list[str] | None, allow_large: bool, weight: float = 1) -> tuple[Scenario, str]:
    """Flags, executor, scenario and work (``weight`` runs) checked; the scenario, executor."""
    ex = checked(reps, seed, chosen, scheduler)
    sc = load(path, sets)
    check_work([(sc, weight)], reps, allow_large)
    return sc, ex


def check_charts() -> None:
    """Refuse (exit 1) before any work when the chart renderer cannot start."""
    from sim.report.charts import renderer_problem

    if problem := renderer_problem():
        raise refuse([problem], 1)


def warn_company(paths: list[str]) -> None:
    """One warning line when the scenarios are not plan choices of one company."""
    from sim.calibrate.identity import company_warning

    err(*filter(None, [company_warning(paths)]))


def company_files(allow_large: bool, reps: int, seed: int, base: str, **files: Path | None
                  ) -> dict[str, Path | None]:
    """Reader limits lifted on request (``--allow-large``, as REVSIM_ALLOW_LARGE=1), flags and
    the base checked; the files by name."""
    if allow_large:
        from sim.calibrate.readers import ALLOW_LARGE_ENV

        os.environ[ALLOW_LARGE_ENV] = "1"
    with refusing():
        check_flags(reps, seed)
        load(base)
    return files


# ---------------------------------------------------------------- --out and printing


def claim(out: Path | None, kind: str = "dir", flag: str = "--out"):
    """Check and lock a destination before any work (a context manager; a no-op for None);
    refused in one line, exit 2 (1 when another revsim holds it)."""
    from sim.outputs.atomic import OutputError, claim

    with refusing(OutputError):
        return contextlib.nullcontext() if out is None else claim(out, kind, flag)


def write(out: Path, writer, flag: str = "--out") -> None:
    """Run ``writer()``; a destination that fails while writing (disk full, permission) is one
    line and exit 1, and ``out`` keeps what it held."""
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


def show(*items: Any) -> None:
    """Lines and ``TextTable``s on standard output (off a terminal, tables unwrapped)."""
    from rich.console import Console

    con = Console(width=None if sys.stdout.isatty() else 10_000, highlight=False, markup=False,
                  emoji=False)
    for item in items:
        con.print(rich_text(item) if isinstance(item, str) else item.rich())
