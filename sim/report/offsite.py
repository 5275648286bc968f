"""The offsite app: ipywidgets sliders over the main levers; each change re-runs a small
experiment and redraws revenue and operating profit against the baseline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.experiment import ExperimentResult, pricing_overrides, run_experiment
from sim.kpis import fmt_usd
from sim.kpis import label as kpi_label
from sim.outputs.escape import style_table
from sim.report import charts
from sim.report.store import scenario_for
from sim.report.tables import fan_table
from sim.scenario.io import with_overrides
from sim.scenario.model import Scenario


def ae_count_overrides(scenario: Scenario, total: int) -> dict[str, int]:
    """Starting AEs per sales team for a new total, in proportion to today's teams (largest
    remainders; an empty plan gives the first team everything)."""
    teams = scenario.sales.teams
    now = sum(t.count for t in teams.values())
    if now == 0:
        counts = {name: (total if i == 0 else 0) for i, name in enumerate(teams)}
    else:
        exact = {name: total * t.count / now for name, t in teams.items()}
        counts = {name: int(v) for name, v in exact.items()}
        left = total - sum(counts.values())
        for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[:left]:
            counts[name] += 1
    return {f"sales.teams.{name}.count": n for name, n in counts.items()}


class OffsiteWorkbook:
    """Sliders for the main levers; each change re-runs a small experiment (few replications,
    short horizon, serial) and redraws revenue and operating profit against the baseline."""

    LEVERS = ("price_change_pct", "discount_cap_frac", "marketing_budget_usd", "ae_count",
              "csm_count", "onboarding_count", "annual_uplift_frac")

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
        sc = self.scenario
        return {
            "price_change_pct": 0,
            "discount_cap_frac": max(p.discount_cap_frac for p in sc.pricing.segments.values()),
            "marketing_budget_usd": sc.channels.inbound.budget_per_month_usd,
            "ae_count": sum(team.count for team in sc.sales.teams.values()),
            "csm_count": sc.headcount.csm.count,
            "onboarding_count": sc.headcount.onboarding.count,
            "annual_uplift_frac": sc.pricing.annual_uplift_frac,
        }

    def overrides(self, **levers: float) -> dict[str, Any]:
        """Dotted overrides for lever values (missing levers keep the baseline)."""
        unknown = set(levers) - set(self.LEVERS)
        if unknown:
            raise ValueError(f"unknown lever(s): {', '.join(sorted(unknown))}")
        v = {**self.defaults(), **levers}
        over = pricing_overrides(self.scenario, float(v["price_change_pct"]),
                                  float(v["discount_cap_frac"]))
        over["channels.inbound.budget_per_month_usd"] = float(v["marketing_budget_usd"])
        over.update(ae_count_overrides(self.scenario, int(v["ae_count"])))
        over["headcount.csm.count"] = int(v["csm_count"])
        over["headcount.onboarding.count"] = int(v["onboarding_count"])
        over["pricing.annual_uplift_frac"] = float(v["annual_uplift_frac"])
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
        budget = int(d["marketing_budget_usd"])
        sliders = {
            "price_change_pct": w.IntSlider(value=d["price_change_pct"], min=-20, max=30,
                                            description="List price change (%)", **common),
            "discount_cap_frac": w.FloatSlider(value=d["discount_cap_frac"], min=0.0, max=0.5,
                                               step=0.01, description="Discount cap",
                                               readout_format=".0%", **common),
            "marketing_budget_usd": w.IntSlider(value=budget, min=0, max=2 * budget + 10000,
                                                step=5000, description="Marketing $/month",
                                                **common),
            "ae_count": w.IntSlider(value=d["ae_count"], min=1, max=2 * d["ae_count"] + 2,
                                    description="Account executives", **common),
            "csm_count": w.IntSlider(value=d["csm_count"], min=1, max=2 * d["csm_count"] + 2,
                                     description="Customer success managers", **common),
            "onboarding_count": w.IntSlider(value=d["onboarding_count"], min=1,
                                            max=2 * d["onboarding_count"] + 2,
                                            description="Onboarding specialists", **common),
            "annual_uplift_frac": w.FloatSlider(value=d["annual_uplift_frac"], min=0.0,
                                                max=0.15, step=0.005,
                                                description="Annual uplift at renewal",
                                                readout_format=".1%", **common),
        }
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


def offsite_workbook(scenario: str | Path, project_root: str | Path = "..",
                     replications: int = 2, seed: int = 0, months: int | None = 12,
                     executor: str = "serial") -> OffsiteWorkbook:
    """The interactive offsite panel for a scenario file (baseline run once up front)."""
    return OffsiteWorkbook(scenario_for(scenario, project_root, months),
                           replications=replications, seed=seed, executor=executor)
