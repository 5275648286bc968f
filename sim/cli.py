"""The ``revsim`` command line: validate, schema, run, compare, sweep, sensitivity, report.

Parse, call ``sim.experiments.experiment`` or ``sim.report``, print through ``sim.kpis`` (the KPI
catalogue and its one formatter). Every scenario problem is printed as ``file: key.path: reason`` on stderr with exit code 2 and
no traceback. Heavy modules (pandas, the experiment runner, the report pipeline) are imported
inside the commands so that ``revsim validate`` and ``revsim --help`` start quickly.
"""

from __future__ import annotations

import json
import math
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sim.kpis import fmt_range, fmt_value, short_label
from sim.outputs.escape import rich_text, terminal_text
from sim.scenario.io import ScenarioError, digits, load_scenario, parse_overrides, scenario_hash

if TYPE_CHECKING:
    from sim.scenario.model import Scenario

EXIT_INVALID = 2
"""Exit code for bad input (the same code click uses for usage errors)."""

app = typer.Typer(
    name="revsim",
    help="Revenue strategy simulator: validate scenarios, run them, compare plans, report.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Executor(StrEnum):
    serial = "serial"
    process = "process"
    dask = "dask"


# ---------------------------------------------------------------- options shared by commands

MAX_REPS = 1_000_000
"""Most replications per scenario a command accepts (the work estimate usually stops far
earlier; see ``sim.experiments.workload``)."""
MAX_SEED = 2**63 - 1
"""Largest seed (seeds are stored as 64-bit integers in the outputs)."""
MAX_MONTHS = 120
"""Longest horizon, the same bound as ``horizon_months`` in scenario files."""
REPORT_MAX_REPS = 100
"""Default cap of an adaptive report (``sim.report.build.REPORT_MAX_REPS``), for the work
estimate made before the report pipeline loads."""

RepsOpt = Annotated[int, typer.Option("--reps", help="Replications per scenario "
                                      f"(1 to {MAX_REPS:,}).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random streams "
                                      "(0 to 2**63 - 1).")]
AllowLargeOpt = Annotated[
    bool,
    typer.Option("--allow-large", help="Run even when the estimated work exceeds the limits "
                 "(see sim/experiments/workload.py); commands that read company files also read files "
                 "beyond the reader limits (sim/calibrate/readers.py)."),
]
ExecutorOpt = Annotated[
    Executor | None,
    typer.Option("--executor", help="Where replications run (default: process, or dask "
                 "when --scheduler is given)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a key, e.g. pricing.segments.smb.list_price_usd=650 "
                 "(repeatable)."),
]
MonthsOpt = Annotated[
    int | None, typer.Option("--months", help="Override horizon_months (same as --set).")
]

# the company's data files, as `calibrate` and `backtest` take them (see the README's columns)
SubscriptionsOpt = Annotated[Path | None, typer.Option(
    "--subscriptions", help="Subscriptions file (CSV or Excel; see the README for the columns).")]
OpportunitiesOpt = Annotated[Path | None, typer.Option(
    "--opportunities", help="Opportunities file (CSV or Excel).")]
LeadsOpt = Annotated[Path | None, typer.Option("--leads", help="Monthly leads file (CSV or Excel).")]
InvoicesOpt = Annotated[Path | None, typer.Option(
    "--invoices", help="Invoices file (CSV or Excel).")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="Vendor mapping (YAML).")]
HistoryStartOpt = Annotated[str | None, typer.Option(
    "--history-start", help="First date the files cover (default: the first start_date of the "
    "subscriptions).")]


class _Fail(Exception):
    """Input problems already formatted as one line each."""

    def __init__(self, lines: list[str]):
        self.lines = lines


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(terminal_text(line), err=True)
    return typer.Exit(EXIT_INVALID)


def _claim(out: Path | None, kind: str = "dir", flag: str = "--out"):
    """Check and lock an ``--out`` (or ``flag``) destination before any work; a context manager
    that does nothing when there is no ``--out``. A refusal is one line and exit 2 (exit 1 when
    another revsim holds it)."""
    import contextlib

    from sim.outputs.atomic import OutputError, claim

    if out is None:
        return contextlib.nullcontext()
    try:
        return claim(out, kind, flag)
    except OutputError as exc:
        typer.echo(terminal_text(str(exc)), err=True)
        raise typer.Exit(exc.code) from None


def _write(out: Path, write, flag: str = "--out") -> None:
    """Run ``write()``; a destination that fails while writing (disk full, permission changed,
    a folder changed mid-run) is one line and exit 1, and ``out`` keeps what it held."""
    from sim.outputs.atomic import OutputError

    try:
        write()
    except OutputError as exc:
        typer.echo(terminal_text(str(exc)), err=True)
        raise typer.Exit(exc.code) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        typer.echo(terminal_text(f"{flag} {out}: could not write ({reason}); nothing was "
                                 f"written there, an earlier result is unchanged"), err=True)
        raise typer.Exit(1) from None
    typer.echo(terminal_text(f"wrote {out}"), err=True)


def _executor(executor: Executor | None, scheduler: str | None) -> str:
    if executor is None:
        return "dask" if scheduler else "process"
    if scheduler and executor is not Executor.dask:
        raise _Fail([f"--scheduler: needs --executor dask (got --executor {executor.value})"])
    return executor.value


def _load(path: str, sets: list[str] | None = None, extra: dict[str, Any] | None = None,
          flag: str = "--set"):
    overrides = parse_overrides(sets or [])
    overrides.update(extra or {})
    return load_scenario(path, overrides=overrides, flag=flag)


def _with_months(sets: list[str] | None, months: int | None) -> list[str] | None:
    """``--months M`` is ``--set horizon_months=M``."""
    return [*(sets or []), f"horizon_months={months}"] if months is not None else sets


def _load_all(paths: list[str], sets: list[str] | None = None) -> list[Scenario]:
    """Load every file, collecting the problems of all of them before failing."""
    scenarios, problems = [], []
    for p in paths:
        try:
            scenarios.append(_load(p, sets))
        except ScenarioError as exc:
            problems.extend(exc.lines)
    if problems:
        raise _Fail(problems)
    return scenarios


def _check_flags(reps: int, seed: int, months: int | None = None) -> None:
    """Out-of-range numeric flags, one line each (``--months`` of run, compare, sweep and
    sensitivity is checked with the scenario, as ``horizon_months``)."""
    problems = []
    for flag, value, low, high in (("--reps", reps, 1, MAX_REPS), ("--seed", seed, 0, MAX_SEED),
                                   ("--months", months, 1, MAX_MONTHS)):
        if value is not None and not low <= value <= high:
            shown = f"{value}" if abs(value) < 10**15 else f"a number of {digits(value)} digits"
            problems.append(f"{flag}: must be between {low:,} and {high:,} (got {shown})")
    if problems:
        raise _Fail(problems)


def _check_work(scenarios: list[tuple[Scenario, float]], reps: int, allow_large: bool,
                reps_flag: str | None = "--reps") -> None:
    """Refuse a run whose estimated work exceeds the limits, unless ``--allow-large``
    (``reps_flag``: the option that set ``reps``, named in the refusal; ``None``: none)."""
    from sim.experiments.workload import check

    problem = None if allow_large else check(scenarios, reps, reps_flag)
    if problem:
        raise _Fail([problem])


def _check_charts() -> None:
    """Commands that draw charts (report, track, backtest, calibrate --report) refuse before
    any work when the chart renderer cannot start under the memory limit: one line, exit 1."""
    from sim.report.charts import renderer_problem

    problem = renderer_problem()
    if problem:
        typer.echo(terminal_text(problem), err=True)
        raise typer.Exit(1)


def _lift_reader_limits(allow_large: bool) -> None:
    """``--allow-large`` on a command that reads company files lifts the reader limits too
    (sim/calibrate/readers.py; the same as REVSIM_ALLOW_LARGE=1 for this process and its workers)."""
    if allow_large:
        from sim.calibrate.readers import ALLOW_LARGE_ENV

        os.environ[ALLOW_LARGE_ENV] = "1"


def _progress() -> bool:
    """Commands always show progress: a bar on a terminal, plain stderr lines elsewhere."""
    return True


def _console():
    """Rich console for tables. Every text printed through it is a ``rich_text`` (scenario
    names, keys, values): rich never reads markup in it and no control character passes."""
    from rich.console import Console

    # Off a terminal (a pipe, a file, a CI log) tables keep their natural width, unwrapped.
    return Console(width=None if sys.stdout.isatty() else 10_000, highlight=False,
                   markup=False, emoji=False)


# ---------------------------------------------------------------- tables


def _label(row: Any) -> str:
    label = row.get("label") if hasattr(row, "get") else None
    return str(label) if isinstance(label, str) and label else str(row["kpi"])


def _kpi_table(summary, title: str):
    from rich.table import Table

    title = rich_text(title)
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column("KPI")
    table.add_column("P50", justify="right")
    table.add_column("P10 – P90", justify="right")
    for _, row in summary.iterrows():
        kpi = str(row["kpi"])
        table.add_row(rich_text(_label(row)), rich_text(fmt_value(kpi, row["p50"])),
                      rich_text(fmt_range(kpi, row["p10"], row["p90"])))
    return table


def _frame_table(df, title: str, headers: dict[str, str] | None = None,
                 kinds: dict[str, str] | None = None):
    """A DataFrame as a rich table.

    ``headers`` renames columns; ``kinds`` gives the KPI kind that decides a column's number
    format, or ``"@col"`` to take the kind from that column of the same row (e.g. the lever).
    """
    from pandas.api.types import is_numeric_dtype
    from rich.table import Table

    headers, kinds = headers or {}, kinds or {}
    table = Table(title=rich_text(title), title_justify="left")
    for col in df.columns:
        head = rich_text(headers.get(col, str(col)))
        table.add_column(head, justify="right" if is_numeric_dtype(df[col]) else "left",
                         overflow="fold")
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            value, kind = row[col], kinds.get(col)
            if kind is not None and kind.startswith("@"):
                kind = str(row[kind[1:]])
            if isinstance(value, str):
                cells.append(short_label(value) if col == "kpi" else value)
            elif kind is not None:
                cells.append(fmt_value(kind, value))
            elif isinstance(value, float):
                cells.append(f"{value:,.6g}")
            else:
                cells.append(str(value))
        table.add_row(*map(rich_text, cells))
    return table


# ---------------------------------------------------------------- commands


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Scenario files to check.")],
    sets: SetOpt = None,
) -> None:
    """Check scenario files; print one line per problem (file: key.path: reason).

    Exit code 2 if any file fails, 0 otherwise. Nothing is written.
    """
    failed = False
    for path in files:
        try:
            scenario = _load(path, sets)
        except ScenarioError as exc:
            failed = True
            for line in exc.lines:
                typer.echo(terminal_text(line), err=True)
            continue
        typer.echo(terminal_text(f"ok  {path}  (hash {scenario_hash(scenario)})"))
    if failed:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Write the JSON Schema of scenario files (for editor autocompletion)."""
    from sim.scenario.io import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    with _claim(out, "schema") as dest:
        _write(out, lambda: dest.write_text(text))


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Scenario file.")],
    reps: RepsOpt = 20,
    seed: SeedOpt = 0,
    months: Annotated[
        int | None, typer.Option("--months", help="Override horizon_months.")
    ] = None,
    sets: SetOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    allow_large: AllowLargeOpt = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write monthly.parquet, summary.json, run.json and "
                     "scenario.resolved.yaml here (atomically; replaces only a folder revsim "
                     "wrote)."),
    ] = None,
    events: Annotated[
        bool,
        typer.Option("--events", help="Also write the event log of replication 0 to "
                     "OUT/events.parquet (needs --out)."),
    ] = False,
) -> None:
    """Run replications of one scenario and print its headline KPIs (P50, P10 – P90)."""
    try:
        _check_flags(reps, seed)
        ex = _executor(executor, scheduler)
        if events and out is None:
            raise _Fail(["--events: needs --out DIR"])
        sc = _load(scenario, sets, {"horizon_months": months} if months is not None else None)
        _check_work([(sc, 1)], reps, allow_large)
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    with _claim(out):
        from sim.experiments.experiment import run_experiment

        result = run_experiment(sc, replications=reps, seed=seed, executor=ex,
                                scheduler=scheduler, progress=_progress())
        title = (f"{sc.name}  (hash {scenario_hash(sc)}, {reps} replications, seed {seed}, "
                 f"{sc.horizon_months} months)")
        _console().print(_kpi_table(result.kpi_summary, title))
        if out is not None:
            extra = {"events.parquet": _events(sc, seed)} if events else None
            _write(out, lambda: result.write(out, extra=extra))


def _events(sc: Scenario, seed: int):
    """Event log of replication 0 (the same streams as replication 0 of the run)."""
    from sim.experiments.replication import simulate

    return simulate(sc, seed=seed, replication=0, events=True).events


@app.command()
def compare(
    base: Annotated[str, typer.Argument(help="The base scenario.")],
    others: Annotated[list[str], typer.Argument(help="Scenarios compared with the base.")],
    reps: RepsOpt = 20,
    seed: SeedOpt = 0,
    sets: SetOpt = None,
    months: MonthsOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    allow_large: AllowLargeOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write deltas here.")] = None,
    precision: Annotated[float | None, typer.Option(
        "--precision", help="Add replications (from --reps up to --max-reps) until the 95% "
        "interval of every plan's NPV-of-operating-profit difference is within ± this many "
        "USD; warns when it is not reached.")] = None,
    max_reps: Annotated[int, typer.Option(
        "--max-reps", help="Most replications --precision may run.")] = 200,
) -> None:
    """Run scenarios on the same seeds (common random numbers); deltas against the base."""
    try:
        _check_flags(reps, seed)
        if precision is not None and not (precision > 0 and math.isfinite(precision)):
            raise _Fail([f"--precision {precision}: must be a positive amount of USD"])
        if precision is not None and not reps <= max_reps <= 100_000:
            raise _Fail([f"--max-reps {max_reps}: must be between --reps ({reps}) and 100000"])
        ex = _executor(executor, scheduler)
        base_sc, *other_sc = _load_all([base, *others], _with_months(sets, months))
        _check_work([(s, 1) for s in (base_sc, *other_sc)],
                    max_reps if precision is not None else reps, allow_large,
                    "--max-reps" if precision is not None else "--reps")
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    with _claim(out):
        _compare(base_sc, other_sc, reps, seed, ex, scheduler, out, precision, max_reps)


def _compare(base_sc, other_sc, reps, seed, ex, scheduler, out, precision=None,
             max_reps=200) -> None:
    from rich.table import Table

    from sim.experiments.compare import compare_adaptive
    from sim.experiments.settings import RunSettings
    from sim.report.tables import compare_deltas_table

    result, reached = compare_adaptive(
        base_sc, other_sc, RunSettings(reps, seed, ex, scheduler, progress=_progress()),
        precision, max_replications=max_reps)
    reps = reached.replications if reached is not None else reps
    df = compare_deltas_table(result)  # kpi: the label, kpi_name: the key

    table = Table(title=rich_text(f"Against {base_sc.name}  ({reps} replications, seed {seed}, "
                                  "same random streams)"), title_justify="left")
    for col in ("Scenario", "KPI", "Base mean", "Scenario mean", "Mean delta", "95% interval",
                "P(better)"):
        table.add_column(col, justify="left" if col in ("Scenario", "KPI") else "right")
    for _, row in df.iterrows():
        kind = row["kpi_name"]
        table.add_row(*map(rich_text, (
            str(row["scenario"]), str(row["kpi"]), fmt_value(kind, row["base_mean"]),
            fmt_value(kind, row["other_mean"]), fmt_value(kind, row["mean_delta"]),
            fmt_range(kind, row["ci_low"], row["ci_high"], " to "),
            fmt_value("prob_frac", row["prob_better"]))))
    _console().print(table)
    if reached is not None:
        if reached.reached:
            _console().print(rich_text(reached.message()))
        else:
            import sys

            print(terminal_text(f"revsim compare: warning: {reached.message()}"),
                  file=sys.stderr)
    if out is not None:
        _write(out, lambda: result.write(out))


def _short_key(key: str) -> str:
    """``pricing.segments.smb.list_price_usd`` → ``smb.list_price_usd`` for narrow headers."""
    return ".".join(key.split(".")[-2:])


def _parse_grid(items: list[str]) -> dict[str, list[float]]:
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
        raise _Fail(problems)
    return grid


MAX_GRID_ESTIMATED = 2_000
"""Grids up to this many points are estimated point by point; larger ones from the base."""


def _grid_points(sc: Scenario, points: dict[str, list[float]]) -> list[tuple[Scenario, float]]:
    """The scenarios of a grid for the work estimate (each point, or the base times the count)."""
    import itertools

    from sim.scenario.io import with_overrides

    combos = list(itertools.islice(itertools.product(*points.values()), MAX_GRID_ESTIMATED + 1))
    if len(combos) > MAX_GRID_ESTIMATED:
        return [(sc, float(math.prod(len(v) for v in points.values())))]
    try:
        return [(with_overrides(sc, dict(zip(points, c, strict=True))), 1) for c in combos]
    except ScenarioError:  # a combination is invalid: the sweep itself will say which
        return [(sc, float(len(combos)))]


@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="Scenario file.")],
    grid: Annotated[
        list[str],
        typer.Option("--grid", help="key.path=v1,v2,... (one to three, repeatable)."),
    ],
    reps: RepsOpt = 10,
    seed: SeedOpt = 0,
    sets: SetOpt = None,
    months: MonthsOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    allow_large: AllowLargeOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the table as CSV here.")] = None,
) -> None:
    """Run a grid over one to three keys; print the table and the best points."""
    try:
        _check_flags(reps, seed)
        ex = _executor(executor, scheduler)
        points = _parse_grid(grid)
        sets = _with_months(sets, months)
        sc = _load(scenario, sets)
        problems: list[str] = []
        for key, values in points.items():  # every grid value must make a valid scenario
            for v in values:
                try:  # the --set values loaded above, so a problem here is the grid's
                    _load(scenario, sets, {key: v}, flag="--grid")
                except ScenarioError as exc:
                    problems.extend(exc.lines)
        if problems:
            raise _Fail(list(dict.fromkeys(problems)))
        _check_work(_grid_points(sc, points), reps, allow_large)
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    from sim.experiments.experiment import sweep as run_sweep

    with _claim(out, "sweep") as dest:
        try:
            result = run_sweep(sc, points, replications=reps, seed=seed, executor=ex,
                               scheduler=scheduler, progress=_progress())
        except ScenarioError as exc:  # a combination of grid values is not a valid scenario
            raise _fail(exc.lines) from None
        _sweep_print(sc, points, result, reps, seed)
        if out is not None:
            from sim.outputs.escape import csv_frame

            _write(out, lambda: dest.write_text(csv_frame(result.table).to_csv(index=False)))


def _sweep_print(sc, points, result, reps, seed) -> None:
    from sim.report.tables import sweep_means_table

    table = sweep_means_table(result.table, list(points))
    headers = {c: _short_key(c) if c in points else short_label(c) for c in table.columns}
    kinds = {c: c for c in table.columns}
    console = _console()
    console.print(_frame_table(table, f"Sweep of {sc.name}: means over {reps} "
                               f"replications, seed {seed}", headers, kinds))
    for kpi, point in result.best.items():
        where = ", ".join(f"{k}={v:g}" for k, v in point.items() if k in points)
        value = next((v for k, v in point.items() if k not in points), None)
        console.print(rich_text(f"Best for {short_label(kpi).lower()}: {where}  "
                                f"(mean {fmt_value(kpi, value)})"))


@app.command()
def sensitivity(
    scenario: Annotated[str, typer.Argument(help="Scenario file.")],
    levers: Annotated[
        str | None,
        typer.Option("--levers", help="Comma-separated dotted keys (segments.*.x moves every "
                     "segment); default: the main pricing, channel and headcount levers."),
    ] = None,
    step: Annotated[
        float, typer.Option("--step", min=0.0, max=1.0, help="Relative step, 0.1 = ±10%.")
    ] = 0.1,
    reps: RepsOpt = 10,
    seed: SeedOpt = 0,
    sets: SetOpt = None,
    months: MonthsOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    allow_large: AllowLargeOpt = False,
) -> None:
    """One lever at a time, ± a step: a tornado table for operating profit and ending ARR."""
    try:
        _check_flags(reps, seed)
        ex = _executor(executor, scheduler)
        sc = _load(scenario, _with_months(sets, months))
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    names = [s.strip() for s in levers.split(",") if s.strip()] if levers else None
    from sim.experiments.experiment import DEFAULT_LEVERS
    from sim.experiments.experiment import sensitivity as run_sensitivity

    try:  # the base and two variants per lever, each up to (1 + step) times the base's work
        n_runs = 1 + 2 * len(names or DEFAULT_LEVERS)
        _check_work([(sc, n_runs * (1 + step))], reps, allow_large)
    except _Fail as exc:
        raise _fail(exc.lines) from None

    try:
        df = run_sensitivity(sc, levers=names, step=step, replications=reps, seed=seed,
                             executor=ex, scheduler=scheduler, progress=_progress())
    except ScenarioError as exc:  # a lever moved out of its valid range
        raise _fail(exc.lines) from None
    except ValueError as exc:  # an unknown or non-numeric lever
        raise _fail([f"--levers: {exc}"]) from None
    kinds = {c: "@kpi" for c in ("base", "low", "high", "swing")}
    kinds.update({c: "@lever" for c in ("base_value", "low_value", "high_value")})
    headers = {"lever": "Lever", "kpi": "KPI", "base_value": "Base value",
               "low_value": "Low value", "high_value": "High value", "base": "KPI at base",
               "low": "KPI at low", "high": "KPI at high", "swing": "Swing"}
    _console().print(_frame_table(df, f"Sensitivity of {sc.name}: ±{step:.0%} one lever at a "
                                  f"time, means over {reps} replications, seed {seed}",
                                  headers, kinds))


@app.command()
def report(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files; the first is the base.")],
    reps: Annotated[int | None, typer.Option(
        "--reps", help="Run exactly this many replications per scenario (default: adaptive, "
        "see --precision); with --precision, the first round.")] = None,
    seed: SeedOpt = 0,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    months: Annotated[
        int | None, typer.Option("--months", help="Override horizon_months of every scenario.")
    ] = None,
    allow_large: AllowLargeOpt = False,
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("reports"),
    precision: Annotated[float | None, typer.Option(
        "--precision", help="Add replications until the 95% interval of every plan's "
        "NPV-of-operating-profit difference to the base is within ± this many USD (default "
        "without --reps: ±10% of the base's NPV).")] = None,
    max_reps: Annotated[int | None, typer.Option(
        "--max-reps", help="Most replications an adaptive report runs (default 100); a "
        "warning says when it stops there before the precision.")] = None,
) -> None:
    """Execute the report notebooks for the scenarios: HTML, Excel and an index page.

    Replications are adaptive by default: added (10 first) until every plan's 95% interval on
    its NPV difference to the base is within ±10% of the base's NPV, or --precision USD, at
    most --max-reps (100). --reps N alone runs exactly N."""
    try:
        _check_flags(reps, seed, months)
        adaptive = reps is None or precision is not None
        cap = REPORT_MAX_REPS if max_reps is None else max_reps
        if precision is not None and not (precision > 0 and math.isfinite(precision)):
            raise _Fail([f"--precision {precision}: must be a positive amount of USD"])
        if max_reps is not None and not adaptive:
            raise _Fail(["--max-reps: only with adaptive replications (--precision, or no "
                         "--reps)"])
        if adaptive and not (reps or 1) <= cap <= 100_000:
            raise _Fail([f"--max-reps {cap}: must be between --reps ({reps or 1}) and 100000"])
        ex = _executor(executor, scheduler)
        loaded = []  # scenarios that fail to load are reported by the report itself
        for p in scenarios:
            try:
                loaded.append((_load(p, None, {"horizon_months": months} if months else None), 1))
            except ScenarioError:
                pass
        _check_work(loaded, cap if adaptive else reps, allow_large,
                    "--max-reps" if adaptive else "--reps")
    except _Fail as exc:
        raise _fail(exc.lines) from None
    _check_charts()
    try:
        from sim.report.build import build_report
    except ModuleNotFoundError as exc:
        if exc.name != "sim.report.build":
            raise
        raise _fail(["revsim report: the report pipeline (sim.report.build) is not installed"]
                    ) from None

    code = build_report([Path(p) for p in scenarios], replications=reps, seed=seed,
                        out_dir=out, executor=ex, months=months, scheduler=scheduler,
                        precision=precision,
                        **({"max_replications": max_reps} if max_reps is not None else {}))
    raise typer.Exit(int(code))


@app.command()
def recover(
    out: Annotated[Path, typer.Argument(help="The --out folder of a run that was killed.")],
) -> None:
    """Put back the earlier result a killed run left next to OUT (as a hidden .OUT.old-*
    folder) when OUT is missing, and remove the hidden leftovers of killed runs."""
    with _claim(out) as dest:  # claiming restores and cleans (sim.outputs.atomic.recover)
        restored = dest.restored
    typer.echo(f"restored {out} from {restored}" if restored else f"{out}: nothing to recover",
               err=True)


@app.command()
def export(
    scenario: Annotated[str, typer.Argument(help="Scenario file of the simulated company.")],
    seed: SeedOpt = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder for the canonical CSV files.")] = (
        Path("company")),
    allow_large: AllowLargeOpt = False,
) -> None:
    """Write a simulated company's history (one replication) in the canonical input format:
    subscriptions, opportunities, leads, invoices and actuals CSV files, and company.json."""
    try:
        _check_flags(1, seed)
        sc = _load(scenario)
        _check_work([(sc, 1)], 1, allow_large, None)  # one replication, with its event log
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    from sim.calibrate.export import export_history, write_history

    with _claim(out) as dest:
        history = export_history(sc, seed=seed)

        def write() -> None:
            with dest.folder() as tmp:
                write_history(history, tmp)
        _write(out, write)


@app.command()
def calibrate(
    base: Annotated[str, typer.Option("--base", help="Scenario the calibrated one extends.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Date the data runs to (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", help="Calibrated scenario file (.yaml).")],
    subscriptions: SubscriptionsOpt = None,
    opportunities: OpportunitiesOpt = None,
    leads: LeadsOpt = None,
    invoices: InvoicesOpt = None,
    mapping: MappingOpt = None,
    history_start: HistoryStartOpt = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write the calibration report (observed vs fitted, offline "
        "HTML) into this folder.")] = None,
    engine_correction: Annotated[bool, typer.Option(
        "--engine-correction/--no-engine-correction", help="Scale the churn inputs so "
        "that the engine's realised churn per account-year (health and stakeholder "
        "multipliers applied) equals the data's: a few simulated histories (seeds from "
        "--seed), about ten seconds. Off by default: it also absorbs other differences "
        "between the calibrated scenario and the company.")] = False,
    seed: SeedOpt = 0,
    allow_large: AllowLargeOpt = False,
) -> None:
    """Fit the scenario's parameters per segment from the company's own data and write a
    scenario that extends --base, each fitted value commented with its estimate, 95%
    interval, n and method."""
    _lift_reader_limits(allow_large)
    from sim.errors import InputError

    try:
        _check_flags(1, seed)
        _load(base)
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    from sim.calibrate.run import calibrate_files
    from sim.outputs.atomic import OutputError, check_apart

    try:
        check_apart(("--out", out), ("--report", report))
    except OutputError as exc:
        raise _fail([str(exc)]) from None
    if report is not None:
        _check_charts()
    with _claim(out, "calibrated") as dest, _claim(report, flag="--report") as report_dest:
        files = {"subscriptions": subscriptions, "opportunities": opportunities,
                 "leads": leads, "invoices": invoices}
        try:
            text, fit = calibrate_files(Path(base), files, as_of, out, mapping, history_start,
                                        correct=engine_correction, seed=seed,
                                        allow_large=allow_large)
        except InputError as exc:
            raise _fail(str(exc).splitlines()) from None
        for w in fit.warnings:
            typer.echo(terminal_text(f"warning: {w}"), err=True)
        _write(out, lambda: dest.write_text(text))
        if report is not None:
            from sim.calibrate.report import build_report

            _write(report, lambda: build_report(report_dest, Path(base), files, as_of,
                                                history_start, mapping, out, fit), "--report")


@app.command()
def track(
    scenario: Annotated[str, typer.Argument(help="The plan (scenario file).")],
    actuals: Annotated[Path, typer.Option("--actuals", help="Monthly actuals (CSV or Excel): "
                                          "month plus any of the engine's monthly columns.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for track.csv, targets.csv, "
                                      "reforecast.yaml and track.html.")],
    reps: RepsOpt = 20,
    seed: SeedOpt = 0,
    start_month: Annotated[str | None, typer.Option(
        "--start-month", help="Calendar month (YYYY-MM) of plan month 1 when the scenario has "
        "no calendar (default: the first month of the actuals).")] = None,
    through: Annotated[str | None, typer.Option(
        "--through", help="Use the actual months up to this one (YYYY-MM).")] = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    allow_large: AllowLargeOpt = False,
) -> None:
    """The plan's fan with the actual months on it, each month's percentile rank, the chance
    of each target given the months so far, and a re-forecast scenario from the state at the
    last actual month."""
    _lift_reader_limits(allow_large)
    from sim.errors import InputError

    try:
        _check_flags(reps, seed)
        ex = _executor(executor, scheduler)
        sc = _load(scenario)
        _check_work([(sc, 2)], reps, allow_large)
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    _check_charts()
    from sim.track.run import read_actuals, run_track, write_track

    try:
        acts = read_actuals(actuals, sc, start_month, through)
    except InputError as exc:
        raise _fail(str(exc).splitlines()) from None
    with _claim(out) as dest:
        try:
            result = run_track(Path(scenario), sc, acts, dest.target, reps, seed, ex,
                               scheduler, progress=_progress())
        except InputError as exc:
            raise _fail(str(exc).splitlines()) from None

        def write() -> None:
            with dest.folder() as tmp:
                write_track(result, tmp)
        _write(out, write)
    _print_track(result)


def _print_track(result) -> None:
    from sim.kpis import FRAC, fmt_unit
    from sim.track.common import fmt_metric

    a = result.actuals
    typer.echo(terminal_text(f"months matched: {a.matched}"))
    if a.ignored:
        typer.echo(terminal_text(f"columns ignored: {', '.join(map(str, a.ignored))}"))
    s = result.summary
    con = _console()
    from rich.table import Table

    table = Table(title=rich_text(f"{result.plan.name} against {a.path}: {a.last_month} "
                                  f"month(s) through {a.label(a.last_month)}, plan "
                                  f"{result.replications} replications, seed {result.seed}"),
                  title_justify="left")
    for head in ("Metric", "Months", "Outside P10–P90", "Mean rank", "Last month", "Actual",
                 "Plan P50", "Rank"):
        table.add_column(rich_text(head), justify="left" if head in ("Metric", "Last month")
                         else "right")
    for _, r in s.iterrows():
        table.add_row(*map(rich_text, [
            r["metric"], str(r["months"]), f"{r['outside']} ({fmt_unit(FRAC, r['outside_share'])})",
            fmt_unit(FRAC, r["mean_rank"]), str(r["last_month"]),
            fmt_metric(r["metric"], r["last_actual"]), fmt_metric(r["metric"], r["last_p50"]),
            fmt_unit(FRAC, r["last_rank"])]))
    con.print(table)
    t = result.targets
    if len(t):
        table = Table(title=rich_text("Targets: P(hit) with 95% Wilson interval"),
                      title_justify="left")
        for head in ("Target", "At plan", "Given actuals", "Status"):
            table.add_column(rich_text(head), justify="left" if head in ("Target", "Status")
                             else "right")

        def prob(p, lo, hi) -> str:
            if math.isnan(p):
                return "—"
            return f"{p:.0%}" if lo == hi else f"{p:.0%} ({lo:.0%}–{hi:.0%})"
        for _, r in t.iterrows():
            table.add_row(*map(rich_text, [
                r["target"], prob(r["probability_at_plan"], r["at_plan_low"], r["at_plan_high"]),
                prob(r["probability_given_actuals"], r["given_actuals_low"],
                     r["given_actuals_high"]), r["status"]]))
        con.print(table)


@app.command()
def backtest(
    base: Annotated[str, typer.Option("--base", help="Scenario the calibrated one extends.")],
    as_of: Annotated[str, typer.Option("--as-of", help="The cut: calibrate on the data "
                                       "before it, forecast from it (YYYY-MM-01).")],
    holdout_months: Annotated[int, typer.Option("--holdout-months", help="Months after the "
                                                "cut to forecast and score.")],
    actuals: Annotated[Path, typer.Option("--actuals", help="Monthly actuals (CSV or Excel): "
                                          "month and any of new_arr, churned_arr, customers, "
                                          "arr, revenue.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for backtest.csv, backtest.json, "
                                      "backtest.html and the calibrated scenario.")],
    subscriptions: SubscriptionsOpt = None,
    opportunities: OpportunitiesOpt = None,
    leads: LeadsOpt = None,
    invoices: InvoicesOpt = None,
    mapping: MappingOpt = None,
    history_start: HistoryStartOpt = None,
    plan_start: Annotated[str | None, typer.Option(
        "--plan-start", help="Calendar month (YYYY-MM) of month 1 of the base's plan "
        "(default: its calendar; else the cut). The plan is moved to the cut.")] = None,
    fixed_parameters: Annotated[bool, typer.Option(
        "--fixed-parameters", help="Every replication uses the point estimates (the band "
        "then shows only the business's own randomness, not what the data left "
        "uncertain).")] = False,
    engine_correction: Annotated[bool, typer.Option(
        "--engine-correction/--no-engine-correction", help="Correct the churn inputs so "
        "that the engine's realised churn equals the data's (see revsim calibrate); on "
        "by default here: it makes the held-out churn match.")] = True,
    reps: RepsOpt = 20,
    seed: SeedOpt = 0,
    allow_large: AllowLargeOpt = False,
) -> None:
    """Calibrate on the data before --as-of, simulate the next --holdout-months from the state
    at the cut, and score the P10-P90 band and the P50 against the actuals."""
    _lift_reader_limits(allow_large)
    from sim.errors import InputError

    try:
        _check_flags(reps, seed)
        _load(base)
        from sim.experiments.workload import check_floor

        # the full estimate needs the calibrated scenario (after the fit); this floor
        # refuses an absurd --reps at once
        floor = None if allow_large else check_floor(holdout_months, reps)
        if floor:
            raise _Fail([floor])
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    _check_charts()
    from sim.calibrate.backtest import backtest as run_backtest
    from sim.calibrate.backtest import terminal_lines, write_outputs

    with _claim(out) as dest:
        files = {"subscriptions": subscriptions, "opportunities": opportunities,
                 "leads": leads, "invoices": invoices}
        try:
            res = run_backtest(Path(base), files, actuals, as_of, holdout_months, out,
                               reps=reps, seed=seed, mapping=mapping,
                               history_start=history_start, plan_start=plan_start,
                               parameter_uncertainty=not fixed_parameters,
                               correct=engine_correction, allow_large=allow_large,
                               progress=_progress())
        except InputError as exc:
            raise _fail(str(exc).splitlines()) from None
        for w in res.warnings:
            typer.echo(terminal_text(f"warning: {w}"), err=True)

        def write() -> None:
            with dest.folder() as tmp:
                write_outputs(res, tmp)
        _write(out, write)
    for line in terminal_lines(res):
        typer.echo(terminal_text(line))


def main() -> None:
    """Console-script entry point (``revsim``): every failure ends in one line on stderr —
    exit 2 for bad input, 1 for the environment (disk, permission, memory, lost cluster) or a
    bug, 130 for Ctrl-C; ``REVSIM_DEBUG=1`` shows the traceback instead."""
    from sim.errors import guard

    def entry() -> None:
        # not standalone: a usage error (a flag that is not a number, an unknown command)
        # reaches the guard and is one line, instead of click's boxed usage message
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)

    guard(entry)


if __name__ == "__main__":
    main()
