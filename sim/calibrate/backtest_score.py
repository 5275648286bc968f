"""The backtest's vocabulary, inputs and scoring: the metrics scored, the actuals file, and
per month and metric the P10/P50/P90 of the replications against what happened."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.mapping import apply_mapping, load_mapping
from sim.calibrate.mle import Fit
from sim.calibrate.schemas import header_check, read_table, validate
from sim.errors import InputError, one_line
from sim.outputs.escape import inline_text

METRICS = ("new_arr", "churned_arr", "customers", "arr", "revenue")
"""Monthly columns scored when the actuals have them (the engine's ``.monthly`` names)."""
LABELS = {"new_arr": "New ARR (USD)", "churned_arr": "Churned ARR (USD)",
          "customers": "Customers", "arr": "ARR (USD, month end)",
          "revenue": "Revenue (USD)"}
CALIBRATED = "calibrated.yaml"
MAX_HOLDOUT = 120


@dataclass
class BacktestResult:
    table: pd.DataFrame  # month, metric, actual, p10, p50, p90, inside, percentile_rank
    summary: dict
    scenario_text: str  # the calibrated scenario (extends the base relative to the output)
    fit: Fit
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- inputs


def read_actuals(path: Path, mapping: Path | None, segments: list[str]) -> pd.DataFrame:
    """The actuals file: ``month`` (a date; the month it falls in) and the scored metrics
    it has, as numbers (an empty cell is a month without that actual)."""
    shown = inline_text(path)
    spec = load_mapping(mapping) if mapping is not None else {}
    check = header_check("actuals", segments, shown, spec.get("actuals"))
    df = validate(apply_mapping(read_table(Path(path), check), spec.get("actuals"), shown),
                  "actuals", segments, shown, spec=spec.get("actuals"))
    have = [m for m in METRICS if m in df.columns]
    if not have:
        raise InputError(f"{shown}: no column to score (needs one of {', '.join(METRICS)})")
    problems = []
    out = pd.DataFrame({"month": df["month"].dt.to_period("M").dt.to_timestamp()})
    for m in have:
        raw = df[m]
        num = pd.to_numeric(raw.astype("str").str.replace(",", "", regex=False)
                            .where(raw.notna()), errors="coerce")
        for i in raw.index[raw.notna() & num.isna()]:
            problems.append(f"{shown}: row {int(i) + 1}, column {m}: not a number: "
                            f"{one_line(raw[i], 40)!r}")
        out[m] = num.astype(float)
    if problems:
        raise InputError("\n".join(problems))
    if out["month"].duplicated().any():
        i = int(np.flatnonzero(out["month"].duplicated().to_numpy())[0])
        raise InputError(f"{shown}: row {i + 1}, column month: a second row for the month "
                         f"{out['month'].iloc[i]:%Y-%m}")
    return out.sort_values("month", kind="mergesort").reset_index(drop=True)


def _first_date(inputs) -> pd.Timestamp | None:
    firsts = []
    for df, col in ((inputs.subscriptions, "start_date"), (inputs.opportunities, "created_date"),
                    (inputs.leads, "month"), (inputs.invoices, "issued_date")):
        if df is not None and len(df):
            firsts.append(df[col].min())
    return min(firsts) if firsts else None


# ---------------------------------------------------------------- scoring


def score(monthly: pd.DataFrame, actuals: pd.DataFrame, months: list[pd.Timestamp],
          metrics: list[str]) -> pd.DataFrame:
    """One row per month and metric: actual, P10/P50/P90 across replications, inside the
    P10–P90 band, percentile rank of the actual among the replications (ties count half)."""
    rows = []
    act = actuals.set_index("month")
    for i, month in enumerate(months, start=1):
        sims = monthly[monthly["month"] == i]
        for m in metrics:
            x = np.sort(sims[m].to_numpy(float))
            a = float(act.at[month, m]) if month in act.index else math.nan
            p10, p50, p90 = (float(v) for v in np.quantile(x, [0.1, 0.5, 0.9]))
            if math.isnan(a):
                inside, rank = math.nan, math.nan
            else:
                inside = float(p10 <= a <= p90)
                rank = float((np.sum(x < a) + 0.5 * np.sum(x == a)) / len(x))
            rows.append({"month": f"{month:%Y-%m}", "metric": m, "actual": a, "p10": p10,
                         "p50": p50, "p90": p90, "inside": inside, "percentile_rank": rank})
    return pd.DataFrame(rows, columns=["month", "metric", "actual", "p10", "p50", "p90",
                                       "inside", "percentile_rank"])


def errors(table: pd.DataFrame) -> dict:
    """Per metric: months scored, P10–P90 coverage, P50 mean absolute % error and bias
    (signed mean of (P50 − actual) / |actual|; positive: the model ran high)."""
    out = {}
    for m, t in table.groupby("metric", sort=False):
        t = t[t["actual"].notna()]
        nz = t[t["actual"] != 0]
        rel = (nz["p50"] - nz["actual"]) / nz["actual"].abs()
        out[m] = {"months": len(t),
                  "coverage_p10_p90": float(t["inside"].mean()) if len(t) else math.nan,
                  "p50_mape": float(rel.abs().mean()) if len(nz) else math.nan,
                  "p50_bias": float(rel.mean()) if len(nz) else math.nan,
                  "mean_percentile_rank": float(t["percentile_rank"].mean())
                  if len(t) else math.nan}
    return out


def model_open_pipeline(scenario, seed: int) -> dict[str, int]:
    """Opportunities in flight at day 0 in one replication (those the warm-up created and
    that close or go cold after day 0), per segment."""
    from sim.experiments.replication import simulate

    ev = simulate(scenario, seed=seed, events=True).events
    closes = ev[ev["kind"].isin(["deal_won", "deal_lost", "lost_waiting"])
                & (ev["time_days"] >= 0)]
    created = closes["note"].str.extract(r"created (-?[0-9.e+-]+)")[0].astype(float)
    before = closes[created < 0]
    counts = before.groupby("segment").size()
    return {seg: int(counts.get(seg, 0)) for seg in scenario.segments}
