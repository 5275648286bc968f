"""Across replications: quantile bands of long tables and the probability of each target,
pure functions of result tables (re-exported by :mod:`sim.analysis.metrics`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def target_probability(attainment_long: pd.DataFrame) -> pd.DataFrame:
    """Per target across replications: P(hit) = share of the replications hitting among those
    where the target's year is within the horizon (NaN, "n/a", when in none: never 0), the
    number of those replications and the actual value's P10/P50/P90 (``in_horizon`` absent:
    every replication counts)."""
    keys = ["name", "metric", "year", "op", "target"]
    df = attainment_long
    if "in_horizon" not in df.columns:
        df = df.assign(in_horizon=True)
    df = df.assign(counted=df["hit"].astype(float).where(df["in_horizon"].astype(bool)))
    grouped = df.groupby(keys, dropna=False, sort=False)
    out = grouped.agg(
        replications=("counted", "count"),
        hits=("counted", "sum"),
        probability=("counted", "mean"),
        p10=("actual", lambda s: s.quantile(0.1)),
        p50=("actual", lambda s: s.quantile(0.5)),
        p90=("actual", lambda s: s.quantile(0.9)),
    )
    out["hits"] = out["hits"].astype(int)
    return out.reset_index()


def quantile_bands(
    long_df: pd.DataFrame,
    measures: Iterable[str],
    by: str | Sequence[str] = "month",
    q: Sequence[float] = (0.1, 0.5, 0.9),
) -> pd.DataFrame:
    """Across replications, per ``by`` and measure: quantiles (columns p10, p50, …) and mean."""
    by_cols = [by] if isinstance(by, str) else list(by)
    measures = list(measures)
    melted = long_df.melt(id_vars=by_cols, value_vars=measures, var_name="measure")
    melted["value"] = melted["value"].astype(float)
    grouped = melted.groupby([*by_cols, "measure"], sort=True)["value"]
    parts = {f"p{round(p * 100):g}": grouped.quantile(p) for p in q}
    parts["mean"] = grouped.mean()
    out = pd.DataFrame(parts).reset_index()
    order = {m: i for i, m in enumerate(measures)}
    return out.sort_values(
        [*by_cols, "measure"], key=lambda s: s.map(order) if s.name == "measure" else s
    ).reset_index(drop=True)
