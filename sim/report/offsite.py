"""The offsite app: ipywidgets sliders over the main levers; each change re-runs a small
experiment and redraws revenue and operating profit against the baseline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.results import ExperimentResult, run_experiment
from sim.kpis import fmt_usd
from sim.kpis import label as kpi_label
from sim.outputs.escape import style_table
from sim.report import charts
from sim.report.store import scenario_for
from sim.report.tables import fan_table
from sim.scenario.io import with_overrides
from sim.scenario.levers import Lever, lever, price_change_overrides, team_total_overrides
from sim.scenario.model import Scenario


def ae_count_overrides(scenario: Scenario, total: int) -> dict[str, int]:
    """Starting AEs per sales team for a new total, in proportion to today's teams (see
    :func:`sim.scenario.levers.team_total_overrides`)."""
    return team_total_overrides(scenario, total)


SLIDERS: dict[str, str] = {
    "price_change_pct": "list_price",
    "discount_cap_frac": "discount_cap",
    "marketing_budget_usd": "marketing_budget",
    "ae_count": "ae_count",
    "csm_count": "csm_count",
    "onboarding_count": "onboarding_count",
    "annual_uplift_frac": "annual_uplift",
}
"""Each slider and the catalogue lever it moves (:data:`sim.scenario.levers.LEVERS`): one
slider per lever, for every segment or team at once (a price change in percent, a cap on every
segment's discount cap, a total of AEs split like today's teams)."""


class OffsiteWorkbook:
    """Sliders for the main levers; each change re-runs a small experiment (few replications,
    short horizon, serial) and redraws revenue and operating profit against the baseline."""

    LEVERS = tuple(SLIDERS)

    def __init__(self, scenario: Scenario, replications: int = 2, seed: int = 0,
                 executor: str = "serial"):
        self.scenario = scenario
        self.replications, self.seed, self.executor = replications, seed, executor
        self.baseline = run_experiment(scenario, replications=replications, seed=seed,
                                       executor=executor)
        self.result = self.baseline
        self.last_seconds = 0.0
        self._widgets = None

    def defaults(self) -> dict[str, float]:
        """Each slider's value today: the lever's base value (its largest over segments for
        the discount cap, its total over teams for AEs; a price change of 0)."""
        out: dict[str, float] = {}
        for slider, name in SLIDERS.items():
            values = list(lever(name).base_values(self.scenario).values())
            out[slider] = (0 if slider == "price_change_pct" else sum(values)
                           if lever(name).unit == "count" else max(values))
        return out

    def overrides(self, **levers: float) -> dict[str, Any]:
        """Dotted overrides for lever values (missing levers keep the baseline)."""
        unknown = set(levers) - set(self.LEVERS)
        if unknown:
            raise ValueError(f"unknown lever(s): {', '.join(sorted(unknown))}")
        v = {**self.defaults(), **levers}
        over = price_change_overrides(self.scenario, float(v["price_change_pct"]),
                                      float(v["discount_cap_frac"]))
        for slider, name in SLIDERS.items():
            lv = lever(name)
            if lv.applies_to == "company":
                value = int(v[slider]) if lv.unit == "count" else float(v[slider])
                over[lv.key] = value
        over.update(ae_count_overrides(self.scenario, int(v["ae_count"])))
        return over

    def run(self, **levers: float) -> ExperimentResult:
        """Re-run the what-if for these lever values; returns it and records the time taken."""
        t0 = time.perf_counter()
        sc = with_overrides(self.scenario, self.overrides(**levers))
        sc = sc.model_copy(update={"name": "what-if"})
        self.result = run_experiment(sc, replications=self.replications, seed=self.seed,
                                     executor=self.executor)
        self.last_seconds = time.perf_counter() - t0
        return self.result

    def paths_table(self) -> pd.DataFrame:
        parts = [fan_table(self.baseline).assign(scenario="Baseline"),
                 fan_table(self.result).assign(scenario="What-if")]
        return pd.concat(parts, ignore_index=True)

    def delta_table(self) -> pd.DataFrame:
        rows = []
        for k in ("revenue_total", "operating_profit_total", "ending_arr", "cash_trough"):
            b = float(self.baseline.kpis[k].mean())
            w = float(self.result.kpis[k].mean())
            rows.append({"KPI": kpi_label(k), "Baseline": fmt_usd(b), "What-if": fmt_usd(w),
                         "Difference": fmt_usd(w - b)})
        return pd.DataFrame(rows)

    def chart(self):
        return charts.scenario_bands(self.paths_table(), title="What-if vs baseline",
                                     subtitle=f"{self.replications} replications, "
                                              f"{self.scenario.horizon_months} months; "
                                              "line: P50, band: P10–P90")

    def update(self, **levers: float) -> float:
        """Run and redraw (used by the sliders); returns the seconds taken."""
        t0 = time.perf_counter()
        self.run(**levers)
        self._draw()
        return time.perf_counter() - t0

    def _draw(self) -> None:
        if self._widgets is None:
            return
        from IPython.display import display

        out, status = self._widgets["out"], self._widgets["status"]
        with out:
            out.clear_output(wait=True)
            display(self.chart())
            display(style_table(self.delta_table(), hide_index=True))
        status.value = f"<small>Re-ran in {self.last_seconds:.1f} s</small>"

    def widget(self):
        """The slider panel with its output area (built once)."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        d = self.defaults()
        style = {"description_width": "220px"}
        layout = w.Layout(width="520px")
        common = {"continuous_update": False, "style": style, "layout": layout}
        sliders = {slider: _slider(w, lever(name), slider, d[slider], common)
                   for slider, name in SLIDERS.items()}
        out, status = w.Output(), w.HTML()

        def changed(_change):
            self.update(**{k: s.value for k, s in sliders.items()})

        for s in sliders.values():
            s.observe(changed, names="value")
        box = w.VBox([*sliders.values(), status, out])
        self._widgets = {"box": box, "out": out, "status": status, "sliders": sliders}
        self._draw()
        return box

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())


def _slider(w, lv: Lever, slider: str, value: float, common: dict):
    """An ipywidgets slider over the lever's sensible range (:meth:`Lever.span`)."""
    if slider == "price_change_pct":  # the list price, moved in percent in every segment
        lo, hi = lv.span(100.0)
        return w.IntSlider(value=int(value), min=round(lo - 100), max=round(hi - 100),
                           description="List price change (%)", **common)
    label = lv.label_for()
    lo, hi = lv.span(value)
    if lv.unit == "count":
        return w.IntSlider(value=int(value), min=max(1, int(lo)), max=max(int(hi), int(value) + 2),
                           description=label, **common)
    if lv.unit == "frac":
        return w.FloatSlider(value=value, min=lo, max=hi, step=0.005, description=label,
                             readout_format=".1%", **common)
    return w.IntSlider(value=int(value), min=int(lo), max=max(int(hi), int(value) + 10_000),
                       step=5000, description=label, **common)


def offsite_workbook(scenario: str | Path, project_root: str | Path = "..",
                     replications: int = 2, seed: int = 0, months: int | None = 12,
                     executor: str = "serial") -> OffsiteWorkbook:
    """The interactive offsite panel for a scenario file (baseline run once up front)."""
    return OffsiteWorkbook(scenario_for(scenario, project_root, months),
                           replications=replications, seed=seed, executor=executor)
