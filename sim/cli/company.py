"""Commands on a company's own data: recover, export, calibrate, track, backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli import common as cli
from sim.errors import InputError


@cli.app.command()
def recover(out: Annotated[Path, typer.Argument(help="The --out folder of a killed run.")]
            ) -> None:
    """Put back the result a killed run left as a hidden .OUT.old-* folder when OUT is missing;
    remove the hidden leftovers of killed runs."""
    with cli.claim(out) as dest:  # claiming restores and cleans (sim.outputs.atomic.recover)
        restored = dest.restored
    cli.err(f"restored {out} from {restored}" if restored else f"{out}: nothing to recover")


@cli.app.command()
def export(
    scenario: Annotated[str, typer.Argument(help="Scenario file of the simulated company.")],
    seed: cli.SeedOpt = 0,
    out: cli.opt(Path, "--out", help="Folder for the canonical CSV files.") = Path("company"),
    allow_large: cli.AllowLargeOpt = False,
) -> None:
    """Write a simulated company's history (one replication) as the canonical input files."""
    with cli.refusing():
        cli.check_flags(1, seed)
        sc = cli.load(scenario)
        cli.check_work([(sc, 1)], 1, allow_large, None)  # one replication, with its event log
    from sim.calibrate.export import export_history, write_history

    with cli.claim(out) as dest:
        cli.write_folder(out, dest, write_history, export_history(sc, seed=seed))


@cli.app.command()
def calibrate(
    base: cli.BaseOpt, as_of: cli.opt(str, "--as-of", help="Date the data runs to (YYYY-MM-DD)."),
    out: cli.opt(Path, "--out", help="Calibrated scenario file (.yaml)."),
    subscriptions: cli.SubscriptionsOpt = None, opportunities: cli.OpportunitiesOpt = None,
    leads: cli.LeadsOpt = None, invoices: cli.InvoicesOpt = None, mapping: cli.MappingOpt = None,
    history_start: cli.HistoryStartOpt = None, finance: cli.FinanceOpt = None,
    report: cli.opt(Path | None, "--report", help="Also write the calibration report (HTML) "
                    "into this folder.") = None,
    engine_correction: cli.opt(bool, cli.CORRECTION, help="Scale the churn inputs until the "
                               "engine's realised churn equals the data's.") = False,
    seed: cli.SeedOpt = 0, allow_large: cli.AllowLargeOpt = False,
) -> None:
    """Fit the parameters per segment from the company's own data; write a scenario extending
    --base, each value commented with its estimate, 95% interval, n and method."""
    data = cli.company_files(allow_large, 1, seed, base, subscriptions=subscriptions,
                             opportunities=opportunities, leads=leads, invoices=invoices,
                             finance=finance)
    from sim.calibrate.report import build_report
    from sim.calibrate.run import calibrate_files
    from sim.outputs.atomic import OutputError, check_apart

    with cli.refusing(OutputError):  # a refusal of the pair is bad input: exit 2
        check_apart(("--out", out), ("--report", report))
    if report is not None:
        cli.check_charts()
    with cli.claim(out, "calibrated") as dest, cli.claim(report, flag="--report") as folder:
        with cli.refusing(InputError):
            text, fit = calibrate_files(Path(base), data, as_of, out, mapping, history_start,
                                        correct=engine_correction, seed=seed,
                                        allow_large=allow_large)
        cli.err(*(f"warning: {w}" for w in fit.warnings))
        cli.write(out, lambda: dest.write_text(text))
        if report is not None:
            cli.write(report, lambda: build_report(folder, Path(base), data, as_of,
                                                   history_start, mapping, out, fit), "--report")


@cli.app.command()
def track(
    scenario: Annotated[str, typer.Argument(help="The plan (scenario file).")],
    actuals: cli.ActualsOpt, out: cli.OutDirOpt,
    reps: cli.RepsOpt = 20, seed: cli.SeedOpt = 0,
    start_month: cli.opt(str | None, "--start-month", help="Calendar month (YYYY-MM) of plan "
                         "month 1 without a calendar (default: the first actual).") = None,
    through: cli.opt(str | None, "--through", help="Last actual month used (YYYY-MM).") = None,
    executor: cli.ExecutorOpt = None, scheduler: cli.SchedulerOpt = None,
    allow_large: cli.AllowLargeOpt = False,
) -> None:
    """The plan's fan with the actual months on it and their percentile ranks, each target's
    chance given the months so far, and a re-forecast from the last actual month."""
    cli.company_files(allow_large, reps, seed, scenario)  # reader limits, flags, the plan
    with cli.refusing():
        sc, ex = cli.prepare(scenario, reps, seed, executor, scheduler, None, allow_large, 2)
    cli.check_charts()
    from sim.track.run import read_actuals, run_track, terminal_tables, write_track

    with cli.claim(out) as dest:
        with cli.refusing(InputError):  # the actuals first: a bad file writes nothing
            acts = read_actuals(actuals, sc, start_month, through)
            result = run_track(Path(scenario), sc, acts, dest.target, reps, seed, ex,
                               scheduler, progress=True)
        cli.write_folder(out, dest, write_track, result)
    lines, tables = terminal_tables(result)
    cli.say(*lines)
    cli.show(*tables)


@cli.app.command()
def backtest(
    base: cli.BaseOpt, as_of: cli.opt(str, "--as-of", help="The cut: calibrate on the data "
                                      "before it, forecast from it (YYYY-MM-01)."),
    holdout_months: cli.opt(int, "--holdout-months", help="Months after the cut to forecast."),
    actuals: cli.ActualsOpt, out: cli.OutDirOpt,
    subscriptions: cli.SubscriptionsOpt = None, opportunities: cli.OpportunitiesOpt = None,
    leads: cli.LeadsOpt = None, invoices: cli.InvoicesOpt = None, mapping: cli.MappingOpt = None,
    history_start: cli.HistoryStartOpt = None,
    plan_start: cli.opt(str | None, "--plan-start", help="Calendar month (YYYY-MM) of the base's "
                        "month 1 (default: its calendar, else the cut).") = None,
    fixed_parameters: cli.opt(bool, "--fixed-parameters", help="Every replication uses the "
                              "point estimates (no parameter uncertainty in the band).") = False,
    engine_correction: cli.opt(bool, cli.CORRECTION, help="Correct the churn inputs to the "
                               "data's realised churn (see revsim calibrate).") = True,
    reps: cli.RepsOpt = 20, seed: cli.SeedOpt = 0, allow_large: cli.AllowLargeOpt = False,
) -> None:
    """Calibrate on the data before --as-of, simulate the next --holdout-months from the state
    at the cut, and score the P10-P90 band and the P50 against the actuals."""
    data = cli.company_files(allow_large, reps, seed, base, subscriptions=subscriptions,
                             opportunities=opportunities, leads=leads, invoices=invoices)
    from sim.experiments.workload import check_floor  # the full estimate needs the fit

    with cli.refusing():
        cli.check(None if allow_large else check_floor(holdout_months, reps))
    cli.check_charts()
    from sim.calibrate.backtest import backtest, terminal_lines, write_outputs

    with cli.claim(out) as dest:
        with cli.refusing(InputError):
            res = backtest(Path(base), data, actuals, as_of, holdout_months, out, reps=reps,
                           seed=seed, mapping=mapping, history_start=history_start,
                           plan_start=plan_start, parameter_uncertainty=not fixed_parameters,
                           correct=engine_correction, allow_large=allow_large, progress=True)
        cli.err(*(f"warning: {w}" for w in res.warnings))
        cli.write_folder(out, dest, write_outputs, res)
    cli.say(*terminal_lines(res))
