"""The ``revsim`` command line: validate, schema, run, compare, sweep, sensitivity, report.

Every scenario problem is printed as ``file: key.path: reason`` on stderr with exit code 2 and
no traceback. Heavy modules (pandas, the experiment runner, the report pipeline) are imported
inside the commands so that ``revsim validate`` and ``revsim --help`` start quickly.
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sim.fmt import fmt_usd
from sim.scenario_io import ScenarioError, load_scenario, parse_overrides, scenario_hash

if TYPE_CHECKING:
    from sim.scenario import Scenario

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

RepsOpt = Annotated[int, typer.Option("--reps", min=1, help="Replications per scenario.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Seed of the random streams.")]
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


class _Fail(Exception):
    """Input problems already formatted as one line each."""

    def __init__(self, lines: list[str]):
        self.lines = lines


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(EXIT_INVALID)


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


def _progress() -> bool:
    return sys.stderr.isatty()


def _console():
    from rich.console import Console

    # Off a terminal (a pipe, a file, a CI log) tables keep their natural width, unwrapped.
    return Console(width=None if sys.stdout.isatty() else 10_000, highlight=False)


# ---------------------------------------------------------------- number formatting


def _fmt(kpi: str, value: Any) -> str:
    """A KPI value the way a CFO reads it: $ in K/M, fractions in %, months, counts."""
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "-"
    k = kpi.lower()
    if k.endswith("_frac") or k.startswith(("nrr", "grr")) or "margin" in k or "rate" in k:
        return f"{v:.1%}"
    if "months" in k or k.endswith("_month"):
        return f"{v:.1f} mo"
    if "customers" in k or k.endswith("_count"):
        return f"{v:,.0f}"
    if "per_deal" in k or k.endswith("_usd") or any(
        w in k for w in ("revenue", "profit", "arr", "cash", "npv", "cost", "budget", "price")
    ):
        return fmt_usd(v)
    return f"{v:,.4g}"


def _label(row: Any) -> str:
    label = row.get("label") if hasattr(row, "get") else None
    return str(label) if isinstance(label, str) and label else str(row["kpi"])


def _kpi_table(summary, title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column("KPI")
    table.add_column("P50", justify="right")
    table.add_column("P10 – P90", justify="right")
    for _, row in summary.iterrows():
        kpi = str(row["kpi"])
        table.add_row(_label(row), _fmt(kpi, row["p50"]),
                      f"{_fmt(kpi, row['p10'])} – {_fmt(kpi, row['p90'])}")
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
    table = Table(title=title, title_justify="left")
    for col in df.columns:
        head = headers.get(col, str(col))
        table.add_column(head, justify="right" if is_numeric_dtype(df[col]) else "left",
                         overflow="fold")
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            value, kind = row[col], kinds.get(col)
            if kind is not None and kind.startswith("@"):
                kind = str(row[kind[1:]])
            if isinstance(value, str):
                cells.append(_LABELS.get(value, value) if col == "kpi" else value)
            elif kind is not None:
                cells.append(_fmt(kind, value))
            elif isinstance(value, float):
                cells.append(f"{value:,.6g}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table


_LABELS = {
    "revenue_total": "Revenue",
    "operating_profit_total": "Operating profit",
    "npv_operating_profit": "NPV of operating profit",
    "ending_arr": "Ending ARR",
    "cash_trough": "Cash trough",
    "net_new_arr_total": "Net new ARR",
    "win_rate_frac": "Win rate",
    "new_arr_per_deal": "New ARR per deal",
    "avg_discount_frac": "Average discount",
}
"""Short names of the KPIs in sweep and sensitivity tables."""


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
                typer.echo(line, err=True)
            continue
        typer.echo(f"ok  {path}  (hash {scenario_hash(scenario)})")
    if failed:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Write the JSON Schema of scenario files (for editor autocompletion)."""
    from sim.atomic import atomic_write_text
    from sim.scenario_io import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        typer.echo(f"wrote {out}", err=True)


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
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write monthly.parquet, summary.json and "
                     "scenario.resolved.yaml here (atomically)."),
    ] = None,
    events: Annotated[
        bool,
        typer.Option("--events", help="Also write the event log of replication 0 to "
                     "OUT/events.parquet (needs --out)."),
    ] = False,
) -> None:
    """Run replications of one scenario and print its headline KPIs (P50, P10 – P90)."""
    try:
        ex = _executor(executor, scheduler)
        if events and out is None:
            raise _Fail(["--events: needs --out DIR"])
        sc = _load(scenario, sets, {"horizon_months": months} if months is not None else None)
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    except _Fail as exc:
        raise _fail(exc.lines) from None
    from sim.experiment import run_experiment

    result = run_experiment(sc, replications=reps, seed=seed, executor=ex, scheduler=scheduler,
                            progress=_progress())
    title = (f"{sc.name}  (hash {scenario_hash(sc)}, {reps} replications, seed {seed}, "
             f"{sc.horizon_months} months)")
    _console().print(_kpi_table(result.kpi_summary, title))
    if out is not None:
        extra = {"events.parquet": _events(sc, seed)} if events else None
        result.write(out, extra=extra)
        typer.echo(f"wrote {out}", err=True)


def _events(sc: Scenario, seed: int):
    """Event log of replication 0 (the same streams as replication 0 of the run)."""
    from sim.runner import simulate

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
    out: Annotated[Path | None, typer.Option("--out", help="Write deltas here.")] = None,
) -> None:
    """Run scenarios on the same seeds (common random numbers); deltas against the base."""
    try:
        ex = _executor(executor, scheduler)
        base_sc, *other_sc = _load_all([base, *others], _with_months(sets, months))
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    from sim.experiment import compare as run_compare

    result = run_compare(base_sc, other_sc, replications=reps, seed=seed, executor=ex,
                         scheduler=scheduler, progress=_progress())
    df = result.deltas.copy()
    df["kpi"] = [_label(r) for _, r in df.iterrows()] if "label" in df else df["kpi"]
    kinds = result.deltas["kpi"].tolist()
    from rich.table import Table

    table = Table(title=f"Against {base_sc.name}  ({reps} replications, seed {seed}, "
                  "same random streams)", title_justify="left")
    for col in ("Scenario", "KPI", "Base mean", "Scenario mean", "Mean delta", "95% interval",
                "P(better)"):
        table.add_column(col, justify="left" if col in ("Scenario", "KPI") else "right")
    for kind, (_, row) in zip(kinds, df.iterrows(), strict=True):
        table.add_row(str(row["scenario"]), str(row["kpi"]), _fmt(kind, row["base_mean"]),
                      _fmt(kind, row["other_mean"]), _fmt(kind, row["mean_delta"]),
                      f"{_fmt(kind, row['ci_low'])} to {_fmt(kind, row['ci_high'])}",
                      _fmt("prob_frac", row["prob_better"]))
    _console().print(table)
    if out is not None:
        result.write(out)
        typer.echo(f"wrote {out}", err=True)


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
    out: Annotated[Path | None, typer.Option("--out", help="Write the table as CSV here.")] = None,
) -> None:
    """Run a grid over one to three keys; print the table and the best points."""
    try:
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
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    from sim.experiment import sweep as run_sweep

    try:
        result = run_sweep(sc, points, replications=reps, seed=seed, executor=ex,
                           scheduler=scheduler, progress=_progress())
    except ScenarioError as exc:  # a combination of grid values is not a valid scenario
        raise _fail(exc.lines) from None
    table = result.table
    kpi_cols = [c for c in table.columns if c.endswith("_mean")]
    kpi_cols += [c for c in ("win_rate_frac", "new_arr_per_deal", "avg_discount_frac")
                 if c in table.columns]
    cols = [*points, *kpi_cols]
    headers = {k: _short_key(k) for k in points}
    headers.update({c: _LABELS.get(c.removesuffix("_mean"), c) for c in kpi_cols})
    kinds = {k: k for k in [*points, *kpi_cols]}
    console = _console()
    console.print(_frame_table(table[cols], f"Sweep of {sc.name}: means over {reps} "
                               f"replications, seed {seed}", headers, kinds))
    for kpi, point in result.best.items():
        where = ", ".join(f"{k}={v:g}" for k, v in point.items() if k in points)
        value = next((v for k, v in point.items() if k not in points), None)
        console.print(f"Best for {_LABELS.get(kpi, kpi).lower()}: {where}  "
                      f"(mean {_fmt(kpi, value)})")
    if out is not None:
        from sim.atomic import atomic_write_text

        atomic_write_text(out, result.table.to_csv(index=False))
        typer.echo(f"wrote {out}", err=True)


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
) -> None:
    """One lever at a time, ± a step: a tornado table for operating profit and ending ARR."""
    try:
        ex = _executor(executor, scheduler)
        sc = _load(scenario, _with_months(sets, months))
    except _Fail as exc:
        raise _fail(exc.lines) from None
    except ScenarioError as exc:
        raise _fail(exc.lines) from None
    names = [s.strip() for s in levers.split(",") if s.strip()] if levers else None
    from sim.experiment import sensitivity as run_sensitivity

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
    reps: RepsOpt = 20,
    seed: SeedOpt = 0,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    months: Annotated[
        int | None, typer.Option("--months", help="Override horizon_months of every scenario.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("reports"),
) -> None:
    """Execute the report notebooks for the scenarios: HTML, Excel and an index page."""
    try:
        ex = _executor(executor, scheduler)
    except _Fail as exc:
        raise _fail(exc.lines) from None
    try:
        from sim.reports import build_report
    except ModuleNotFoundError as exc:
        if exc.name != "sim.reports":
            raise
        raise _fail(["revsim report: the report pipeline (sim.reports) is not installed"]) from None

    code = build_report([Path(p) for p in scenarios], replications=reps, seed=seed,
                        out_dir=out, executor=ex, months=months, scheduler=scheduler)
    raise typer.Exit(int(code))


def main() -> None:
    """Console-script entry point (``revsim``)."""
    app()


if __name__ == "__main__":
    main()
