"""What an experiment writes and how: the statistics vocabulary of summary.json, Parquet with
stable bytes, and run.json (the facts of a run that vary between runs)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STATISTICS = {
    "p10": "10th percentile across replications (P10)",
    "p50": "median across replications (P50)",
    "p90": "90th percentile across replications (P90)",
    "mean": "mean across replications",
    "mean_ci_low": "95% Student-t interval of the mean, lower end",
    "mean_ci_high": "95% Student-t interval of the mean, upper end",
    "n": "replications in which the KPI has a value (a month never reached has none)",
    "probability": "share of replications (Monte Carlo estimate)",
    "probability_low": "95% Wilson interval of the probability, lower end",
    "probability_high": "95% Wilson interval of the probability, upper end",
    "mean_delta": "mean of the paired per-replication differences (plan - base)",
    "ci_low": "95% Student-t interval of the mean difference, lower end",
    "ci_high": "95% Student-t interval of the mean difference, upper end",
    "prob_better": "share of paired replications where the plan is higher than the base",
    "prob_better_low": "95% Wilson interval of prob_better, lower end",
    "prob_better_high": "95% Wilson interval of prob_better, upper end",
}
"""What each statistic in summary.json means: every number says which statistic it is."""


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet whose bytes depend only on the table (and the library versions): no index, no
    statistics that vary, one row group, fixed compression."""
    frame.to_parquet(path, index=False, engine="pyarrow", compression="snappy",
                     row_group_size=max(1, len(frame)))


def write_run_facts(path: Path, stats: Mapping[str, Any]) -> None:
    """run.json: how this result was made (varies between runs; summary.json does not)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from sim.outputs.atomic import command_line

    versions = {"python": platform.python_version()}
    for pkg in ("revsim", "numpy", "pandas", "pyarrow", "simpy", "dask"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    facts = {"command": command_line(), "executor": stats.get("executor"),
             "wall_seconds": stats.get("wall_seconds"),
             "replications_cached": stats.get("replications_cached"), "host": platform.node(),
             "platform": platform.platform(), "versions": versions,
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(facts, indent=2, default=json_default) + "\n")


def json_default(x):
    if isinstance(x, np.integer | np.bool_):
        return x.item()
    if isinstance(x, np.floating):
        return None if math.isnan(x) else float(x)
    return str(x)


def records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))
