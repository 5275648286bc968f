"""``revsim track``: the plan against the company's actual months, and a re-forecast.

The plan's replications give each month's fan (P10/P50/P90). Each actual month gets its
percentile rank within the plan's replications of that month, with the mid-rank convention
for ties (``scipy.stats.percentileofscore(kind="mean")``: share below plus half the share
equal), and a flag when it lies outside P10–P90.

The re-forecast starts from the state at the last actual month: a scenario that ``extends``
the plan (installed customers and their prices set to the actual customers and ARR, cash to
the actual balance, the calendar moved on, the remaining months, the plan's time steps
shifted, the targets cut to the remaining part where that is well defined), written with a
comment on every changed value. Its replications give the probability of each target given
the months so far: each replication's path is the actual months 1..m followed by its own
months m+1..H, and the target is measured on it as :mod:`sim.analysis.metrics` measures it on a plan.

Months are matched through the scenario's ``calendar``; without one, plan month 1 is
``--start-month`` or else the first month of the actuals file.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import InputError
from sim.track.actuals import (  # noqa: F401 - the track's public names, imported from here
    TRACKABLE,
    Actuals,
    period_label,
    period_text,
    read_actuals,
)
from sim.track.reforecast import _target_item, reforecast_values, reforecast_yaml
from sim.track.targets import (  # noqa: F401
    metric_summary,
    percentile_rank,
    shift_targets,
    target_table,
    track_table,
)

# ---------------------------------------------------------------- end to end


@dataclass
class TrackResult:
    plan: Any
    actuals: Actuals
    table: pd.DataFrame
    summary: pd.DataFrame
    targets: pd.DataFrame
    reforecast_text: str
    reforecast: Any
    plan_result: Any
    refc_result: Any
    seed: int
    replications: int
    notes: list[str] = field(default_factory=list)


def load_checked(text: str, target: Path):
    """Load the re-forecast text as a scenario from a hidden sibling of ``target`` (so its
    relative ``extends`` resolves as it will in ``target``); one line when it is not valid."""
    from sim.scenario.io import ScenarioError, load_scenario

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        path = tmp / "reforecast.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_scenario(path)
        except ScenarioError as exc:
            raise InputError("the re-forecast scenario is not valid: "
                             + "; ".join(exc.lines)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_track(plan_path: Path, plan, actuals: Actuals, out_dir: Path, replications: int = 20,
              seed: int = 0, executor: str = "process", scheduler: str | None = None,
              workers: int | None = None, progress: bool = False) -> TrackResult:
    """The plan's replications, the track table, the re-forecast (written, checked by loading,
    run on the same seed) and the target probabilities at plan and given the actuals."""
    from sim.experiments.experiment import run_experiment

    m, horizon = actuals.last_month, plan.horizon_months
    if m >= horizon:
        raise InputError(f"{actuals.path}: the actuals reach plan month {m}, the plan's last; "
                         f"nothing is left to re-forecast (give the months so far, e.g. "
                         f"--through {period_text(actuals.start_period + horizon - 2)})")
    plan_result = run_experiment(plan, replications, seed, executor, scheduler, workers,
                                 progress)
    table = track_table(plan_result.monthly, actuals)
    targets = [t.model_dump() for t in plan.targets]
    plans = shift_targets(targets, actuals, horizon)
    for tp in plans:
        if tp.shifted is not None:
            tp.shifted = _target_item(tp.shifted)
    values, notes = reforecast_values(plan, plan_result, actuals, plans)
    dropped = [(tp.target["name"], tp.note) for tp in plans if tp.shifted is None]
    text = reforecast_yaml(plan, plan_path, out_dir, actuals, values, notes, dropped)
    refc = load_checked(text, out_dir)
    refc_result = run_experiment(refc, replications, seed, executor, scheduler, workers,
                                 progress)
    return TrackResult(plan=plan, actuals=actuals, table=table, summary=metric_summary(table),
                       targets=target_table(plan_result, refc_result, actuals, plans),
                       reforecast_text=text, reforecast=refc, plan_result=plan_result,
                       refc_result=refc_result, seed=seed, replications=replications)


def write_track(result: TrackResult, folder: Path) -> None:
    """track.csv, targets.csv, reforecast.yaml and track.html into ``folder``."""
    from sim.outputs.escape import csv_frame

    csv_frame(result.table).to_csv(folder / "track.csv", index=False)
    csv_frame(result.targets).to_csv(folder / "targets.csv", index=False)
    (folder / "reforecast.yaml").write_text(result.reforecast_text, encoding="utf-8")
    from sim.track.page import track_html

    (folder / "track.html").write_text(track_html(result), encoding="utf-8")


def terminal_tables(result: TrackResult) -> tuple[list[str], list]:
    """What ``revsim track`` prints: lines (months matched, columns ignored) and text tables
    (each metric against its fan; each target's P(hit) at plan and given the actuals)."""
    import math

    from sim.kpis import FRAC, fmt_unit
    from sim.report.terminal import TextTable
    from sim.track.common import fmt_metric

    a = result.actuals
    lines = [f"months matched: {a.matched}"]
    if a.ignored:
        lines.append(f"columns ignored: {', '.join(map(str, a.ignored))}")
    rows = [(r["metric"], str(r["months"]), f"{r['outside']} ({fmt_unit(FRAC, r['outside_share'])})",
             fmt_unit(FRAC, r["mean_rank"]), str(r["last_month"]),
             fmt_metric(r["metric"], r["last_actual"]), fmt_metric(r["metric"], r["last_p50"]),
             fmt_unit(FRAC, r["last_rank"])) for _, r in result.summary.iterrows()]
    tables = [TextTable(f"{result.plan.name} against {a.path}: {a.last_month} month(s) through "
                        f"{a.label(a.last_month)}, plan {result.replications} replications, seed "
                        f"{result.seed}", ("Metric", "Months", "Outside P10–P90", "Mean rank",
                                           "Last month", "Actual", "Plan P50", "Rank"),
                        rows, ("Metric", "Last month"))]

    def prob(p, lo, hi) -> str:
        if math.isnan(p):
            return "—"
        return f"{p:.0%}" if lo == hi else f"{p:.0%} ({lo:.0%}–{hi:.0%})"
    if len(result.targets):
        rows = [(r["target"], prob(r["probability_at_plan"], r["at_plan_low"], r["at_plan_high"]),
                 prob(r["probability_given_actuals"], r["given_actuals_low"],
                      r["given_actuals_high"]), r["status"])
                for _, r in result.targets.iterrows()]
        tables.append(TextTable("Targets: P(hit) with 95% Wilson interval",
                                ("Target", "At plan", "Given actuals", "Status"), rows,
                                ("Target", "Status")))
    return lines, tables
