"""Commands on scenario files: validate, schema, run, compare, sweep, sensitivity, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sim.cli import common as cli
from sim.experiments import settings as rs
from sim.experiments.grid import load_sweep
from sim.scenario.io import json_schema, parse_overrides, validation


@cli.app.command()
def validate(files: Annotated[list[str], typer.Argument(help="Scenario files to check.")],
             sets: cli.SetOpt = None) -> None:
    """Check scenario files; print one line per problem (file: key.path: reason), exit 2 if
    any fails. Nothing is written."""
    with cli.refusing():
        ok, problems = validation(files, parse_overrides(sets or []))
    cli.say(*ok)
    if problems:
        raise cli.refuse(problems)


@cli.app.command()
def schema(out: cli.opt(Path | None, "--out", help="Write here instead of standard output.")
           = None) -> None:
    """Write the JSON Schema of scenario files (for editor autocompletion)."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    with cli.claim(out, "schema") as dest:
        cli.write(out, lambda: dest.write_text(text))


@cli.app.command()
def run(
    scenario: cli.ScenarioArg, reps: cli.RepsOpt = 20, seed: cli.SeedOpt = 0,
    months: cli.MonthsOpt = None, sets: cli.SetOpt = None, executor: cli.ExecutorOpt = None,
    scheduler: cli.SchedulerOpt = None, allow_large: cli.AllowLargeOpt = False,
    out: cli.OutOpt = None, no_cache: cli.NoCacheOpt = False,
    events: cli.opt(bool, "--events", help="Replication 0's events too (needs --out).") = False,
    fixed_parameters: cli.FixedParametersOpt = False,
) -> None:
    """Run replications of one scenario and print its headline KPIs (P50, P10 – P90). Values
    with a range are drawn in every replication unless --fixed-parameters."""
    with cli.refusing():
        ex = cli.checked(reps, seed, executor, scheduler)
        cli.check("--events: needs --out DIR" if events and out is None else None)
        sc, = cli.load_all([scenario], cli.with_months(sets, months), fixed=fixed_parameters)
        cli.check_work([(sc, 1)], reps, allow_large)
    with cli.claim(out):
        from sim.experiments.experiment import run_experiment
        from sim.experiments.runner import event_log
        from sim.report.terminal import run_items

        settings = rs.RunSettings(reps, seed, ex, scheduler, progress=True,
                                  parameter_draws=not fixed_parameters)
        result = run_experiment(sc, settings=settings)
        cli.show(*run_items(result, reps, seed))
        if out is not None:
            ev = {"events.parquet": event_log(sc, seed, settings.parameter_draws)} if events else {}
            cli.write(out, lambda: result.write(out, extra=ev or None))


@cli.app.command()
def compare(
    base: Annotated[str, typer.Argument(help="The base scenario.")],
    others: Annotated[list[str], typer.Argument(help="Scenarios compared with the base.")],
    reps: cli.RepsOpt = 20, seed: cli.SeedOpt = 0, sets: cli.SetOpt = None,
    months: cli.MonthsOpt = None, executor: cli.ExecutorOpt = None,
    scheduler: cli.SchedulerOpt = None, allow_large: cli.AllowLargeOpt = False,
    out: cli.OutOpt = None, precision: cli.PrecisionOpt = None, no_cache: cli.NoCacheOpt = False,
    max_reps: cli.opt(int, "--max-reps", help="Most replications --precision may run.") = 200,
    fixed_parameters: cli.FixedParametersOpt = False,
) -> None:
    """Run scenarios on the same seeds (common random numbers); deltas against the base.
    --precision adds replications from --reps up to --max-reps (a warning if not reached).
    Values with a range are drawn (the same draw for every scenario in a replication) and
    each verdict names the values at which it would flip, unless --fixed-parameters."""
    with cli.refusing():
        ex = cli.checked(reps, seed, executor, scheduler)
        cli.check(*rs.precision_problems(precision, reps, max_reps, precision is not None))
        base_sc, *other_sc = cli.load_all([base, *others], cli.with_months(sets, months),
                                          fixed=fixed_parameters)
        cli.check_work([(s, 1) for s in (base_sc, *other_sc)], allow_large=allow_large,
                       **rs.adaptive_work(reps, max_reps, precision is not None))
    cli.warn_company([base, *others])
    with cli.claim(out):
        from sim.experiments.compare import compare_adaptive
        from sim.experiments.uncertainty import with_flips
        from sim.report.terminal import compare_items

        settings = rs.RunSettings(reps, seed, ex, scheduler, progress=True,
                                  parameter_draws=not fixed_parameters)
        result, reached = compare_adaptive(base_sc, other_sc, settings, precision,
                                           max_replications=max_reps)
        reps = reached.replications if reached is not None else reps
        cli.show(*compare_items(with_flips(result, settings), reps, seed))
        if reached is not None and reached.reached:
            cli.show(reached.message())
        elif reached is not None:
            cli.err(f"revsim compare: warning: {reached.message()}")
        if out is not None:
            cli.write(out, lambda: result.write(out))


@cli.app.command()
def sweep(scenario: cli.ScenarioArg,
    grid: cli.opt(list[str], "--grid", help="key.path=v1,v2,... (one to three, repeatable)."),
    reps: cli.RepsOpt = 10, seed: cli.SeedOpt = 0, sets: cli.SetOpt = None,
    months: cli.MonthsOpt = None, executor: cli.ExecutorOpt = None,
    scheduler: cli.SchedulerOpt = None, allow_large: cli.AllowLargeOpt = False,
    out: cli.OutOpt = None, no_cache: cli.NoCacheOpt = False,
) -> None:
    """Run a grid over one to three keys; print the table and the best points."""
    with cli.refusing():
        ex = cli.checked(reps, seed, executor, scheduler)
        sc, points, work = load_sweep(scenario, cli.with_months(sets, months) or [], grid)
        cli.check_work(work, reps, allow_large)
    from sim.experiments.experiment import sweep
    from sim.report.terminal import sweep_tables

    with cli.claim(out, "sweep") as dest:
        with cli.refusing():  # a combination of grid values is not a valid scenario
            result = sweep(sc, points, replications=reps, seed=seed, executor=ex,
                           scheduler=scheduler, progress=True)
        table, best = sweep_tables(result, points, f"Sweep of {sc.name}: means over {reps} "
                                   f"replications, seed {seed}")
        cli.show(table, *best)
        if out is not None:
            cli.write(out, lambda: dest.write_text(result.csv_text()))


@cli.app.command()
def sensitivity(
    scenario: cli.ScenarioArg,
    levers: cli.opt(str | None, "--levers", help="Keys, comma-separated (segments.*.x).") = None,
    step: cli.opt(float, "--step", min=0.0, max=1.0, help="Relative step, 0.1 = ±10%.") = 0.1,
    reps: cli.RepsOpt = 10, seed: cli.SeedOpt = 0, sets: cli.SetOpt = None,
    months: cli.MonthsOpt = None, executor: cli.ExecutorOpt = None,
    scheduler: cli.SchedulerOpt = None, allow_large: cli.AllowLargeOpt = False,
) -> None:
    """One lever at a time, ± a step: a tornado table for operating profit and ending ARR."""
    names = [s.strip() for s in levers.split(",") if s.strip()] if levers else None
    from sim.experiments.experiment import DEFAULT_LEVERS, sensitivity
    from sim.report.terminal import sensitivity_table

    with cli.refusing():  # the base and two variants per lever, each (1 + step) times the work
        sc, ex = cli.prepare(scenario, reps, seed, executor, scheduler,
                             cli.with_months(sets, months), allow_large,
                             (1 + 2 * len(names or DEFAULT_LEVERS)) * (1 + step))
        try:  # a lever moved out of its valid range is a ScenarioError
            df = sensitivity(sc, levers=names, step=step, replications=reps, seed=seed,
                             executor=ex, scheduler=scheduler, progress=True)
        except ValueError as exc:  # an unknown or non-numeric lever
            raise cli.Refusal([f"--levers: {exc}"]) from None
    cli.show(sensitivity_table(df, f"Sensitivity of {sc.name}: ±{step:.0%} one lever at a "
                               f"time, means over {reps} replications, seed {seed}"))


@cli.app.command()
def report(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files; the first is the base.")],
    reps: cli.opt(int | None, "--reps", help="Replications (default: adaptive).") = None,
    seed: cli.SeedOpt = 0, executor: cli.ExecutorOpt = None, scheduler: cli.SchedulerOpt = None,
    months: cli.MonthsOpt = None, allow_large: cli.AllowLargeOpt = False,
    out: cli.opt(Path, "--out", help="Report folder.") = Path("reports"),
    precision: cli.PrecisionOpt = None, no_cache: cli.NoCacheOpt = False,
    max_reps: cli.opt(int | None, "--max-reps", help="Most replications (default 100).") = None,
    fixed_parameters: cli.FixedParametersOpt = False,
) -> None:
    """Execute the report notebooks for the scenarios: HTML, Excel and an index page. Without
    --reps, replications are added (10 first) until every plan's NPV difference is within
    ±10% of the base's NPV (or --precision USD), at most --max-reps, with a warning."""
    with cli.refusing():
        cli.check(*rs.report_problems(reps, seed, months, max_reps, precision))
        ex = cli.executor(executor, scheduler)
        loaded = cli.load_all(scenarios, None, {"horizon_months": months} if months else None,
                              strict=False)  # the report itself reports a file that fails
        cli.check_work([(s, 1) for s in loaded], allow_large=allow_large,
                       **rs.report_work(reps, max_reps, precision))
    cli.check_charts()
    cli.warn_company(scenarios)
    from sim.report.build import build_report

    code = build_report([Path(p) for p in scenarios], replications=reps, seed=seed, out_dir=out,
                        executor=ex, months=months, scheduler=scheduler, precision=precision,
                        **({"fixed_parameters": True} if fixed_parameters else {}),
                        **({"max_replications": max_reps} if max_reps is not None else {}))
    raise typer.Exit(int(code))
