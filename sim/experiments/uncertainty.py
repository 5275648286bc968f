"""What the answers owe to the assumptions: the variance split and sensitivity indices of a
run with drawn assumptions, and the values at which a verdict's decision would flip.

* :func:`uncertainty_summary` — for a run whose replications drew the assumptions
  (:mod:`sim.experiments.draws`): each assumption (estimate, range, source), and per KPI the
  split of its spread into assumptions and luck (:func:`sim.analysis.uncertainty.variance_split`
  on the run's own nested design) and first-order Sobol indices (SALib RBD-FAST).
* :func:`flip_thresholds` — for each plan against the base and each uncertain value, the
  value at which the plan's mean paired difference in the decision KPI crosses zero, found
  by Brent's method (``scipy.optimize.brentq``) on common random numbers: both scenarios run
  the same replications with that value set and the other assumptions drawn as in the run.
  A crossing inside the value's range makes the decision *fragile*.
* :func:`nested` — an explicit nested Monte Carlo (``outer`` draws × ``inner``
  replications), to check what a run with ranges predicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from sim.analysis.uncertainty import first_order_indices, variance_split
from sim.errors import ScenarioError
from sim.experiments.draws import draw_index
from sim.experiments.runner import run_all
from sim.experiments.settings import RunSettings
from sim.kpis import DECISION_KPI
from sim.kpis import label as kpi_label
from sim.scenario.io import scenario_to_dict, with_overrides
from sim.scenario.model import Scenario
from sim.scenario.uncertainty import read_key

SPLIT_KPIS = ("npv_operating_profit", "operating_profit_total", "revenue_total", "ending_arr")
"""KPIs whose spread is split into assumptions and luck."""
FLIP_REPS = 10
"""Most replications per evaluation of a flip search (each is a pair of runs)."""
FLIP_XTOL_FRAC = 0.02
"""A flip threshold is found to within this share of the value's range."""
FLIP_WIDEN = 1.0
"""Outside its range a threshold is looked for up to this many range widths further."""


def assumption_rows(scenario: Scenario) -> list[dict]:
    """Each uncertain value: key, estimate, low and high ends, source."""
    unc = scenario.uncertainty
    if unc is None:
        return []
    ends, est, src = unc.ends(), unc.estimates(), unc.sources()
    return [{"key": k, "estimate": est[k], "low": ends[k][0], "high": ends[k][1],
             "source": src[k]} for k in unc.keys()]


def spread_table(result, kpis: Sequence[str] = SPLIT_KPIS) -> pd.DataFrame:
    """Per KPI: total variance, its part from the assumptions and from luck, and the
    assumptions' share (the run's replications share draws in pairs)."""
    k = result.kpis.set_index("replication")
    groups = [draw_index(int(r)) for r in k.index]
    rows = []
    for kpi in kpis:
        if kpi in k.columns:
            rows.append({"kpi": kpi, "label": kpi_label(kpi),
                         **variance_split(k[kpi].to_numpy(float), groups)})
    return pd.DataFrame(rows)


def index_table(result, kpis: Sequence[str] = (DECISION_KPI,)) -> pd.DataFrame:
    """First-order Sobol indices of each assumption on each KPI (SALib RBD-FAST on the run)."""
    if result.parameters.empty:
        return pd.DataFrame()
    p = result.parameters.set_index("replication").sort_index()
    k = result.kpis.set_index("replication").reindex(p.index)
    bounds = {r["key"]: (r["low"], r["high"]) for r in assumption_rows(result.scenario)}
    parts = [first_order_indices(p, k[kpi].to_numpy(float), bounds, seed=result.seed)
             .assign(kpi=kpi) for kpi in kpis if kpi in k.columns]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def uncertainty_summary(result) -> dict:
    """The ``uncertainty`` block of summary.json for a run with drawn assumptions."""
    return {"parameter_draws": True, "assumptions": assumption_rows(result.scenario),
            "spread": _records(spread_table(result)),
            "sensitivity_indices": _records(index_table(result))}


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


# ---------------------------------------------------------------- flip thresholds


@dataclass
class Flip:
    """Where one plan's decision against the base would flip along one assumption."""

    plan: str
    key: str
    kpi: str
    decision_delta: float
    """The plan's mean paired difference in ``kpi`` in the run (the decision's sign)."""
    estimate: float
    low: float
    high: float
    threshold: float | None
    """The value at which the mean paired difference crosses zero; None when it does not
    within the searched span."""
    searched: tuple[float, float]
    fragile: bool
    """The crossing lies inside the assumption's range."""
    replications: int
    flips_above: bool | None = None
    """The decision flips above the threshold (else below); None without a threshold."""

    def sentence(self, base: str) -> str:
        ahead = self.decision_delta >= 0
        stays = f"{self.plan} stays {'ahead of' if ahead else 'behind'} {base}"
        what = kpi_label(self.kpi)
        if self.threshold is None:
            return (f"{stays} on {what} for every {self.key} from {self.searched[0]:,.4g} to "
                    f"{self.searched[1]:,.4g} (its range {self.low:,.4g}–{self.high:,.4g}).")
        above = (self.threshold > self.estimate if self.flips_above is None
                 else self.flips_above)
        side = "above" if above else "below"
        tag = ("FRAGILE: the flip lies inside the range" if self.fragile
               else "robust within the range")
        return (f"{stays} on {what} unless {self.key} is {side} {self.threshold:,.4g} "
                f"(estimate {self.estimate:,.4g}, range {self.low:,.4g}–{self.high:,.4g}); "
                f"{tag}.")

    @classmethod
    def from_record(cls, r: dict) -> Flip:
        """Back from :meth:`record` (a saved report's data)."""
        return cls(r["plan"], r["assumption"], r["kpi"], float(r["decision_delta"]),
                   float(r["estimate"]), float(r["low"]), float(r["high"]),
                   None if r["threshold"] is None else float(r["threshold"]),
                   (float(r["searched_low"]), float(r["searched_high"])), bool(r["fragile"]),
                   int(r["replications"]), r.get("flips_above"))

    def record(self) -> dict:
        return {"plan": self.plan, "assumption": self.key, "kpi": self.kpi,
                "decision_delta": self.decision_delta, "estimate": self.estimate,
                "low": self.low, "high": self.high, "threshold": self.threshold,
                "searched_low": self.searched[0], "searched_high": self.searched[1],
                "fragile": self.fragile, "replications": self.replications,
                "flips_above": self.flips_above}


def paired_mean(base: Scenario, plan: Scenario, key: str, value: float,
                settings: RunSettings, kpi: str = DECISION_KPI) -> float:
    """Mean over replications of plan − base in ``kpi`` with ``key`` set to ``value`` in
    both (the other assumptions drawn as in the run, the same streams)."""
    pair = [with_overrides(sc, {key: value}) for sc in (base, plan)]
    # a few small runs per step: a process pool (or a local Dask cluster) would cost more to
    # start than it saves; a running Dask scheduler is used as given
    executor = "dask" if settings.executor == "dask" and settings.scheduler else "serial"
    res, _ = run_all(pair, settings.but(progress=False, parameter_draws=True,
                                        executor=executor), "flip")
    b = np.array([d["kpis"][kpi] for d in res[0]], float)
    p = np.array([d["kpis"][kpi] for d in res[1]], float)
    return float(np.nanmean(p - b))


def flip_threshold(base: Scenario, plan: Scenario, key: str, settings: RunSettings,
                   decision_delta: float, kpi: str = DECISION_KPI) -> Flip:
    """The value of ``key`` (uncertain in ``base``) at which ``plan``'s mean paired
    difference to ``base`` in ``kpi`` crosses zero: the range's ends first, then Brent's
    method inside a sign change; without one inside, up to ``FLIP_WIDEN`` range widths
    either side (values the scenario refuses end the search there)."""
    row = {r["key"]: r for r in assumption_rows(base)}[key]
    est, lo, hi = row["estimate"], row["low"], row["high"]
    width = hi - lo
    cache: dict[float, float] = {}

    def f(x: float) -> float:
        if x not in cache:
            cache[x] = paired_mean(base, plan, key, x, settings, kpi)
        return cache[x]

    def ok(x: float) -> bool:
        try:
            f(x)
        except ScenarioError:
            return False
        return True

    def root(a: float, b: float) -> tuple[float, bool]:
        """The crossing in [a, b], and whether the decision flips above it (it holds at a)."""
        x = float(brentq(f, a, b, xtol=FLIP_XTOL_FRAC * width, maxiter=30))
        return x, bool(np.sign(f(a)) == np.sign(decision_delta))

    n = settings.replications
    flo, fhi = f(lo), f(hi)
    if np.sign(flo) != np.sign(fhi):
        x, above = root(lo, hi)
        return Flip(plan.name, key, kpi, decision_delta, est, lo, hi, x, (lo, hi), True, n,
                    above)
    searched = [lo, hi]
    for a, b in ((lo - FLIP_WIDEN * width, lo), (hi, hi + FLIP_WIDEN * width)):
        end = a if b == lo else b
        if not ok(end):
            continue
        searched = [min(searched[0], end), max(searched[1], end)]
        if np.sign(f(a)) != np.sign(f(b)):
            x, above = root(a, b)
            return Flip(plan.name, key, kpi, decision_delta, est, lo, hi, x, tuple(searched),
                        False, n, above)
    return Flip(plan.name, key, kpi, decision_delta, est, lo, hi, None, tuple(searched), False,
                n)


def flip_thresholds(compare_result, settings: RunSettings, kpi: str = DECISION_KPI,
                    keys: Sequence[str] | None = None, replications: int | None = None
                    ) -> list[Flip]:
    """Every plan × every uncertain value of the base (``keys``: only these) that the plan
    does not set itself; ``replications`` per evaluation (default the run's, at most
    ``FLIP_REPS``)."""
    base = compare_result.base.scenario
    if base.uncertainty is None:
        return []
    n = replications or min(compare_result.base.replications, FLIP_REPS)
    s = settings.but(replications=n)
    deltas = compare_result.deltas.set_index(["scenario", "kpi"])
    out = []
    data = scenario_to_dict(base)
    for other in compare_result.others:
        plan = other.scenario
        pdata = scenario_to_dict(plan)
        plan_keys = set(plan.uncertainty.keys()) if plan.uncertainty else set()
        for key in keys or base.uncertainty.keys():
            if key not in plan_keys or read_key(pdata, key) != read_key(data, key):
                continue  # the plan sets this value: its own lever, not an assumption
            delta = float(deltas.loc[(other.name, kpi), "mean_delta"])
            out.append(flip_threshold(base, plan, key, s, delta, kpi))
    return out


# ---------------------------------------------------------------- nested Monte Carlo


def nested(scenario: Scenario, settings: RunSettings, outer: int, inner: int,
           kpi: str = DECISION_KPI) -> dict[str, float]:
    """An explicit nested Monte Carlo of ``kpi``: ``outer`` draws of the assumptions (draw
    ``i`` from streams ``(seed, i)``), ``inner`` replications of each on their own streams
    (replications ``i * inner .. i * inner + inner - 1`` of the fixed, drawn scenario);
    the :func:`sim.analysis.uncertainty.variance_split` of the results."""
    from sim.experiments.draws import REPLICATIONS_PER_DRAW, drawn_scenario
    from sim.experiments.runner import _execute

    jobs = []
    for i in range(outer):
        sc, _ = drawn_scenario(scenario, settings.seed, i * REPLICATIONS_PER_DRAW)  # draw i
        jobs.append((i, sc, settings.seed, list(range(i * inner, (i + 1) * inner)), False))
    res = _execute(jobs, settings.executor, settings.scheduler, settings.workers, None)
    values, groups = [], []
    for i, parts in res.items():
        for d in parts:
            values.append(d["kpis"][kpi])
            groups.append(i)
    return variance_split(values, groups)


def compare_uncertainty(result) -> dict:
    """The ``uncertainty`` block of a comparison's summary.json: the base's assumptions and
    spread, the split of each plan's paired difference, the flip thresholds and whether any
    decision is fragile."""
    out = uncertainty_summary(result.base) if not result.base.parameters.empty else {}
    b = result.base.kpis.set_index("replication")
    groups = [draw_index(int(r)) for r in b.index]
    diff = []
    for o in result.others:
        ok = o.kpis.set_index("replication").reindex(b.index)
        d = (ok[DECISION_KPI] - b[DECISION_KPI]).to_numpy(float)
        diff.append({"plan": o.name, "kpi": DECISION_KPI, **variance_split(d, groups)})
    flips = [f.record() for f in result.flips or ()]
    return {**out, "paired_difference_spread": _records(pd.DataFrame(diff)), "flips": flips,
            "fragile": sorted({f["plan"] for f in flips if f["fragile"]}),
            "flip_sentences": [f.sentence(result.base.name) for f in result.flips or ()]}


def with_flips(compare_result, settings: RunSettings):
    """``compare_result`` with its ``flips`` found when its base carries drawn ranges."""
    if settings.parameter_draws and compare_result.base.scenario.uncertainty is not None:
        compare_result.flips = flip_thresholds(compare_result, settings)
    return compare_result
