"""The offsite app's state and runs, without a web framework (tested directly).

A lever change gets two answers. First, within a few hundred milliseconds, an **estimate**
from an in-memory bank: plans run before (exactly the same levers: the exact answer at
once), else the base shifted by each moved lever's banked effect, interpolated between the
points run for it and summed (a first-order emulator on common random numbers; levers not
banked yet count as no change, and the label says how many were). Then the **exact** bands:
base and plan on the warm worker pool (:class:`sim.experiments.warm.WarmPool`), replication r
of both on stream (seed, r). Each exact single-lever run joins the bank; a background filler
banks every lever at the ends of its range while nobody is waiting.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import InputError
from sim.experiments.warm import WarmPool
from sim.outputs.atomic import foreign_file, write_file_output
from sim.report.offsite import (
    FANS,
    KPIS,
    OffsiteView,
    Side,
    delta_numbers,
    estimate_side,
    plan_scenario,
    side_of,
)
from sim.scenario.io import load_scenario, scenario_hash
from sim.scenario.levers import GROUPS, LEVERS, Lever, move_overrides
from sim.scenario.model import Scenario

OFFSITE_GROUPS = GROUPS[:4]
"""The app's groups: pricing, go-to-market, capacity, horizon."""
SAVED_KIND = "offsite-scenario"
"""The output kind of a saved what-if (its manifest beside it; see sim.outputs)."""
BANK_REPS = 8
"""Replications per banked lever point (the first of the exact run's streams)."""


def offsite_levers() -> list[Lever]:
    """The catalogue's levers the app shows, by group."""
    return [lv for g in OFFSITE_GROUPS for lv in LEVERS if lv.group == g]


def _whos(scenario: Scenario, lv: Lever) -> list[str | None]:
    if lv.applies_to == "segment":
        return list(scenario.segments)
    if lv.applies_to == "team":
        return list(scenario.sales.teams)
    return [None]


def canonical(moves: Mapping[str, Any]) -> str:
    return json.dumps(moves, sort_keys=True, default=str)


@dataclass
class _Point:
    x: float
    kpi: dict[str, np.ndarray]
    path: pd.DataFrame


@dataclass
class Bank:
    """Banked single-lever effects: (lever, who) → points (value, per-replication KPI
    differences, mean monthly differences), all at one horizon."""

    horizon: int
    points: dict[tuple[str, str | None], list[_Point]] = field(default_factory=dict)

    def add(self, name: str, who: str | None, x: float, base: Side, plan: Side) -> None:
        n = min(len(base.kpis), len(plan.kpis))
        kpi = {k: plan.kpis[k].to_numpy(float)[:n] - base.kpis[k].to_numpy(float)[:n]
               for k in KPIS}
        path = plan.path_means - base.path_means
        pts = [p for p in self.points.get((name, who), []) if p.x != x]
        self.points[(name, who)] = sorted([*pts, _Point(float(x), kpi, path)], key=lambda p: p.x)

    def effect(self, name: str, who: str | None, base_x: float, x: float
               ) -> tuple[dict[str, np.ndarray], pd.DataFrame] | None:
        """Linear interpolation between banked points (the base at zero effect);
        None when nothing is banked for the lever."""
        pts = self.points.get((name, who))
        if not pts:
            return None
        zero = _Point(float(base_x), {k: np.zeros_like(v) for k, v in pts[0].kpi.items()},
                      pts[0].path * 0)
        line = sorted([zero, *[p for p in pts if p.x != base_x]], key=lambda p: p.x)
        if len(line) == 1:
            return None
        i = int(np.clip(np.searchsorted([p.x for p in line], x) - 1, 0, len(line) - 2))
        a, b = line[i], line[i + 1]
        w = (x - a.x) / (b.x - a.x) if b.x != a.x else 0.0
        kpi = {k: a.kpi[k] + w * (b.kpi[k] - a.kpi[k]) for k in a.kpi}
        return kpi, a.path + w * (b.path - a.path)


def _numeric(lv: Lever, value: Any, horizon: int) -> float:
    """A move as one number on the lever's axis (a hire: AE-months within the horizon)."""
    if lv.unit == "choice":
        return float(lv.choices.index(value))
    if lv.name == "ae_hires":
        add, month = value
        return float(add) * max(0, horizon - int(month) + 1)
    return float(value)


class OffsiteSession:
    """The base, the warm pool, the bank and the saved what-ifs of one offsite."""

    def __init__(self, base_path: str | Path, replications: int = 20, seed: int = 0,
                 months: int | None = None, workers: int | None = None,
                 saved_dir: str | Path = "offsite", fill_bank: bool = True):
        self.base_path = Path(base_path)
        over = {"horizon_months": months} if months else None
        self.scenario = load_scenario(self.base_path, over)
        self.replications, self.seed = replications, seed
        self.saved_dir = Path(saved_dir)
        self.pool = WarmPool(workers, warm=self.scenario)
        self.bases: dict[int, Side] = {}
        self.exact: dict[str, Side] = {}
        self.bank = Bank(self.scenario.horizon_months)
        self.saved: list[Path] = []
        self._busy = threading.Event()
        self._stop = threading.Event()
        self.base_side(self.scenario.horizon_months)
        self._filler = None
        if fill_bank:
            self._filler = threading.Thread(target=self._fill, daemon=True)
            self._filler.start()

    # ------------------------------------------------------------ values

    def base_value(self, lv: Lever, who: str | None) -> Any:
        """The lever's value in the base, as the app shows it."""
        if lv.name == "ae_hires":
            return (0, 2)
        vals = lv.base_values(self.scenario)
        key = lv.key if who is None else lv.key_for(who)
        return vals[key]

    def controls(self) -> list[dict]:
        """Every control of the app: lever, who, label, unit, base value, range, group."""
        out = []
        for lv in offsite_levers():
            for who in _whos(self.scenario, lv):
                base = self.base_value(lv, who)
                if lv.unit == "choice":
                    lo = hi = None
                elif lv.name == "ae_hires":
                    lo, hi = 0, 10
                elif lv.name in ("inbound_mix", "sdr_mix"):
                    lo, hi = 0.0, 1.0
                else:
                    lo, hi = lv.span(float(base))
                    lo, hi = min(lo, base), max(hi, base)
                out.append({"lever": lv.name, "who": who, "label": lv.label_for(who),
                            "unit": lv.unit, "base": base, "low": lo, "high": hi,
                            "group": lv.group, "choices": lv.choices})
        return out

    def moved(self, moves: Mapping[str, Any]) -> list[tuple[str, str | None, Any]]:
        """(lever, who, value) of every control away from its base value."""
        out = []
        for name, value in moves.items():
            lv = next(x for x in LEVERS if x.name == name)
            per = value if isinstance(value, Mapping) else {None: value}
            for who, v in per.items():
                base = self.base_value(lv, who)
                if lv.name == "ae_hires":
                    if int(v[0]) != 0:
                        out.append((name, who, (int(v[0]), int(v[1]))))
                elif lv.unit == "choice":
                    if v != base:
                        out.append((name, who, v))
                elif not math.isclose(float(v), float(base), rel_tol=1e-9, abs_tol=1e-9):
                    out.append((name, who, v))
        return out

    def normal(self, moves: Mapping[str, Any]) -> dict[str, Any]:
        """Moves with the unmoved controls left out (the key of a plan)."""
        out: dict[str, Any] = {}
        for name, who, v in self.moved(moves):
            if who is None:
                out[name] = v
            else:
                out.setdefault(name, {})[who] = list(v) if isinstance(v, tuple) else v
        return out

    def plan(self, moves: Mapping[str, Any], name: str = "plan") -> Scenario:
        return plan_scenario(self.scenario, self._as_moves(self.normal(moves)), name)

    @staticmethod
    def _as_moves(norm: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(norm)
        if "ae_hires" in out:
            out["ae_hires"] = {t: tuple(v) for t, v in out["ae_hires"].items()}
        return out

    def horizon(self, moves: Mapping[str, Any]) -> int:
        return int(self.normal(moves).get("horizon", self.scenario.horizon_months))

    # ------------------------------------------------------------ runs

    def base_side(self, horizon: int) -> Side:
        if horizon not in self.bases:
            sc = self.scenario if horizon == self.scenario.horizon_months else \
                self.scenario.model_copy(update={"horizon_months": horizon})
            res = self.pool.run([sc], self.replications, self.seed)
            self.bases[horizon] = side_of(res[0], "Base")
        return self.bases[horizon]

    def estimate(self, moves: Mapping[str, Any]) -> OffsiteView | None:
        """The first answer: exact when this plan ran before, else the bank's estimate;
        None when the horizon moved to one not run yet."""
        norm = self.normal(moves)
        key = canonical(norm)
        h = self.horizon(moves)
        if h in self.bases and not norm or norm == {"horizon": h}:
            return OffsiteView(self.bases[h], self.bases[h], True, self._note(h) +
                               "; the plan is the base")
        if key in self.exact and h in self.bases:
            return OffsiteView(self.bases[h], self.exact[key], True, self._note(h))
        if h not in self.bases:
            return None
        base = self.bases[h]
        moved = [(n, w, v) for n, w, v in self.moved(moves) if n != "horizon"]
        n = len(base.kpis)
        kpi = {k: np.zeros(n) for k in KPIS}
        path = pd.DataFrame(0.0, index=base.path_means.index, columns=list(FANS))
        banked = 0
        for name, who, v in moved if h == self.bank.horizon else []:
            lv = next(x for x in LEVERS if x.name == name)
            eff = self.bank.effect(name, who, _numeric(lv, self.base_value(lv, who), h),
                                   _numeric(lv, v, h))
            if eff is None:
                continue
            banked += 1
            d, p = eff
            for k in KPIS:
                kpi[k] += np.resize(d[k], n)
            path = path.add(p.reindex(path.index).fillna(0), fill_value=0)
        side = estimate_side(base, kpi, path)
        note = (f"estimate: {banked} of {len(moved)} moved levers banked; exact bands "
                "follow")
        return OffsiteView(base, side, False, note)

    def run_exact(self, moves: Mapping[str, Any],
                  on_chunk: Callable[[int, int], None] | None = None) -> OffsiteView | None:
        """Base and plan at full precision on the warm pool; None when cancelled by a
        newer change (:meth:`cancel`)."""
        self._busy.set()
        try:
            norm = self.normal(moves)
            key, h = canonical(norm), self.horizon(moves)
            base = self.base_side(h)
            if key not in self.exact:
                res = self.pool.run([self.plan(moves)], self.replications, self.seed,
                                    on_chunk=on_chunk)
                if res is None:
                    return None
                self.exact[key] = side_of(res[0], "Plan")
                moved = self.moved(moves)
                if len(moved) == 1 and moved[0][0] != "horizon" and h == self.bank.horizon:
                    name, who, v = moved[0]
                    lv = next(x for x in LEVERS if x.name == name)
                    self.bank.add(name, who, _numeric(lv, v, h), base, self.exact[key])
            return OffsiteView(base, self.exact[key], True, self._note(h))
        finally:
            self._busy.clear()

    def cancel(self) -> None:
        self.pool.cancel()

    def _note(self, h: int) -> str:
        return (f"{self.replications} replications × {h} months, base and plan on the same "
                "random numbers")

    def _fill(self) -> None:
        """Bank every lever at the ends of its range, one point at a time, while idle."""
        base = self.bases[self.scenario.horizon_months]
        h = self.scenario.horizon_months
        for c in self.controls():
            lv = next(x for x in LEVERS if x.name == c["lever"])
            if lv.name == "horizon":
                continue
            if lv.unit == "choice":
                values = [x for x in lv.choices if x != c["base"]]
            elif lv.name == "ae_hires":
                values = [(4, 2)]
            else:
                values = [v for v in (c["low"], c["high"]) if v != c["base"]]
            for v in values:
                while self._busy.is_set() and not self._stop.is_set():
                    time.sleep(0.2)
                if self._stop.is_set():
                    return
                moves = {c["lever"]: v if c["who"] is None else {c["who"]: v}}
                try:
                    sc = self.plan(moves)
                except Exception:  # a corner the scenario refuses: not banked
                    continue
                res = self.pool.run([sc], BANK_REPS, self.seed)
                if res is None or self._stop.is_set():
                    continue
                side = side_of(res[0], "Plan")
                self.bank.add(c["lever"], c["who"], _numeric(lv, v, h), base, side)

    # ------------------------------------------------------------ save, compare, report

    def save(self, moves: Mapping[str, Any], name: str) -> Path:
        """Write the plan as ``SAVED/NAME.yaml`` that ``extends`` the base with only the
        moved keys, validate it with the scenario loader, and return its path. A file there
        that revsim did not write (or that was edited since) is never replaced."""
        slug = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")[:60]
        if not slug:
            raise InputError("save: give the what-if a name (letters or digits)")
        norm = self.normal(moves)
        over = move_overrides(self.scenario, self._as_moves(
            {k: v for k, v in norm.items() if k != "horizon"}))
        if self.horizon(moves) != load_scenario(self.base_path).horizon_months:
            over["horizon_months"] = self.horizon(moves)  # --months or the horizon lever
        self.saved_dir.mkdir(parents=True, exist_ok=True)
        path = self.saved_dir / f"{slug}.yaml"
        if path.exists():
            why = foreign_file(path, SAVED_KIND)
            if why is not None:
                raise InputError(f"save: {path} {why}; choose another name")
        data: dict[str, Any] = {
            "extends": os.path.relpath(self.base_path.resolve(), self.saved_dir.resolve()),
            "description": f"Offsite what-if {name.strip()[:80]!r} on {self.base_path.name}: "
                           f"{len(over)} keys moved (saved by revsim offsite)"}
        for dotted, value in over.items():
            node = data
            parts = dotted.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        text = "# Saved by revsim offsite; extends the base with only what was moved.\n" + \
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        write_file_output(path, text, SAVED_KIND)
        loaded = load_scenario(path)  # validated as any scenario file
        want = self.plan(moves).model_copy(update={"name": loaded.name,
                                                   "description": loaded.description})
        if scenario_hash(loaded) != scenario_hash(want):
            raise InputError(f"save: {path} does not reproduce the plan on screen")
        if path not in self.saved:
            self.saved.append(path)
        return path

    def compare_saved(self) -> pd.DataFrame:
        """The saved what-ifs side by side against the base (same streams): P50 of each
        total, mean Δ operating profit and P(beats base)."""
        if not self.saved:
            return pd.DataFrame()
        scenarios = [load_scenario(p) for p in self.saved]
        h = self.scenario.horizon_months
        base = self.base_side(h)
        rows = [{"What-if": "Base", **{k: float(base.kpis[k].median()) for k in KPIS},
                 "Δ operating profit": 0.0, "P(beats base)": math.nan}]
        for p, sc in zip(self.saved, scenarios, strict=True):
            if sc.horizon_months != h:
                base_h = self.base_side(sc.horizon_months)
            else:
                base_h = base
            res = self.pool.run([sc], self.replications, self.seed)
            side = side_of(res[0], p.stem)
            d = delta_numbers(base_h, side)["operating_profit_total"]
            rows.append({"What-if": p.stem, **{k: float(side.kpis[k].median()) for k in KPIS},
                         "Δ operating profit": d["mean_delta"],
                         "P(beats base)": d["prob_better"]})
        return pd.DataFrame(rows)

    def report(self, out: str | Path) -> int:
        """The board pack of the base and the saved what-ifs (``revsim report``'s build)."""
        from sim.report.build import build_report

        return build_report([self.base_path, *self.saved], replications=self.replications,
                            seed=self.seed, out_dir=out, executor="process")

    def close(self) -> None:
        self._stop.set()
        self.pool.cancel()
        self.pool.close()
