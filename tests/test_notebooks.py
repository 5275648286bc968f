"""The notebooks: thin and parameterised, and a figure recorded by Papermill reads back equal
to a direct run of the same experiment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
from notebook_rules import assert_thin

import sim
from sim.report import cells, store
from sim.report.build import NOTEBOOKS, execute_notebook, hermetic_jupyter

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["scenario_report", "compare_scenarios", "pricing_whatif", "sensitivity", "offsite",
         "account_plan"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_thin_and_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert_thin(nb)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert "## Summary" in headings and "## Assumptions" in headings
    assert headings.index("## Summary") < headings.index("## Assumptions")


def _kpi_record(nb) -> dict:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if cells.MIME_KPIS in data:
                rec = data[cells.MIME_KPIS]
                return json.loads(rec) if isinstance(rec, str) else rec
    raise AssertionError("no KPI record in the executed notebook")


def test_papermill_scenario_report_records_the_same_kpis_as_a_direct_run(tmp_path):
    out = tmp_path / "report.ipynb"
    params = {"scenario": "scenarios/price_increase.yaml", "project_root": str(ROOT),
              "replications": 2, "seed": 7, "months": 6, "executor": "serial"}
    with hermetic_jupyter(tmp_path / "jupyter"):
        execute_notebook("scenario_report", out, params, cwd=NOTEBOOKS)
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata.papermill.parameters["seed"] == 7
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    svgs = [o for c in nb.cells for o in c.get("outputs", []) if "image/svg+xml" in
            o.get("data", {})]
    assert len(svgs) >= 5, "every chart is rendered offline as SVG"

    rec = _kpi_record(nb)
    sc = sim.load_scenario(ROOT / "scenarios/price_increase.yaml", {"horizon_months": 6})
    direct = sim.run_experiment(sc, replications=2, seed=7, executor="serial")
    assert rec["scenario_hash"] == direct.hash and rec["seed"] == 7
    want = direct.kpi_summary.set_index("kpi")
    for kpi in ("revenue_total", "operating_profit_total", "ending_arr"):
        for q in ("p10", "p50", "p90"):
            assert math.isclose(rec["kpis"][kpi][q], float(want.loc[kpi, q]), rel_tol=1e-12)


def test_relative_scenario_paths_resolve_from_project_root_or_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(NOTEBOOKS)
    assert store.project_path("scenarios/baseline.yaml", "..") == ROOT / "scenarios/baseline.yaml"
    monkeypatch.chdir(ROOT)
    assert store.project_path("scenarios/baseline.yaml", "/nowhere") == \
        ROOT / "scenarios/baseline.yaml"
    assert store.project_path(str(tmp_path / "x.yaml"), "..") == tmp_path / "x.yaml"


def test_papermill_offsite_renders_the_static_view_of_the_plan(tmp_path):
    """Under Papermill the offsite notebook shows the app's view as numbers and an SVG
    chart (no widget repr), and its numbers are those of a direct run of the same plan."""
    out = tmp_path / "offsite.ipynb"
    moves = {"list_price": {"smb": 700}, "ae_hires": {"enterprise": [3, 2]}}
    params = {"scenario": "scenarios/baseline.yaml", "project_root": str(ROOT),
              "moves": moves, "replications": 2, "seed": 3, "months": 6,
              "executor": "serial"}
    with hermetic_jupyter(tmp_path / "jupyter"):
        execute_notebook("offsite", out, params, cwd=NOTEBOOKS)
    nb = nbformat.read(out, as_version=4)
    outs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outs if o.output_type == "error"]
    shown = "".join(o.get("data", {}).get("text/html", "") for o in outs)
    assert "VBox" not in shown and "IntSlider" not in shown
    assert "P(beats base)" in shown and "<svg" in shown and "Cash trough" in shown
    view = cells.offsite_view(ROOT / "scenarios/baseline.yaml", ROOT, moves, 2, 3, 6, "serial")
    assert view.headline() in shown.replace("&#x27;", "'")
    assert view.plan.kpis["operating_profit_total"].tolist() != \
        view.base.kpis["operating_profit_total"].tolist()
