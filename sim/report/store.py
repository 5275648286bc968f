"""Saved results and scenario paths: an experiment as JSON + Parquet (never pickles), loaded
back without running any code; relative scenario paths resolved the way notebooks need."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.experiment import ExperimentResult, write_parquet
from sim.scenario.io import load_scenario, scenario_from_dict, scenario_to_dict
from sim.scenario.model import Scenario


def json_safe(x: Any) -> Any:
    """Plain JSON data: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def project_path(path: str | Path, project_root: str | Path = "..") -> Path:
    """An absolute path as is; a relative one under ``project_root`` (itself relative to the
    working folder, which is the notebook's folder under Jupyter and Papermill), else under
    the working folder."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    root = Path(project_root).expanduser()
    for cand in (root / p, Path.cwd() / p):
        if cand.exists():
            return cand.resolve()
    return (root / p).resolve()

def scenario_for(path: str | Path, project_root: str | Path = "..",
                 months: int | None = None) -> Scenario:
    """Load and validate a scenario file; ``months`` overrides its horizon."""
    overrides = {"horizon_months": int(months)} if months else None
    return load_scenario(project_path(path, project_root), overrides)

RESULT_TABLES = ("monthly", "by_segment", "by_channel", "cohorts", "initial", "kpis",
                 "attainment")
"""The tables of an :class:`ExperimentResult`, one Parquet file each in a saved result."""

RESULT_FORMAT = "revsim-result/1"

def save_result(result: ExperimentResult, folder: str | Path) -> Path:
    """Save an experiment result as data for a notebook to load: ``result.json`` (the resolved
    scenario, seed, replications, statistics) and one Parquet file per table. No pickles:
    loading it back (:func:`load_result`) validates data and never runs code."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RESULT_TABLES:
        write_parquet(getattr(result, name), folder / f"{name}.parquet")
    if not result.parameters.empty:  # the assumptions each replication drew
        write_parquet(result.parameters, folder / "parameters.parquet")
    meta = {"format": RESULT_FORMAT, "seed": result.seed, "replications": result.replications,
            "stats": json_safe(result.stats), "scenario": scenario_to_dict(result.scenario)}
    (folder / "result.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder

def load_result(folder: str | Path) -> ExperimentResult:
    """Rebuild a result written by :func:`save_result` from JSON and Parquet only (the
    scenario is validated again; nothing in the folder is executed)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: not a saved revsim result ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != RESULT_FORMAT:
        raise ValueError(f"{folder}: not a saved revsim result (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    tables = {name: pd.read_parquet(folder / f"{name}.parquet", engine="pyarrow")
              for name in RESULT_TABLES}
    if (folder / "parameters.parquet").is_file():
        tables["parameters"] = pd.read_parquet(folder / "parameters.parquet", engine="pyarrow")
    return ExperimentResult(scenario=scenario_from_dict(meta["scenario"], str(folder)),
                            seed=int(meta["seed"]), replications=int(meta["replications"]),
                            stats=dict(meta.get("stats") or {}), **tables)
