"""``build_report``: files, Excel sheets, failed scenarios, atomic output, offline HTML; and
the charts draw offline from the tables the helpers shape."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pytest
import vl_convert as vlc

import sim
from sim import charts, reports
from sim import notebook_helpers as nbh

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "scenarios" / "baseline.yaml"
EVIL = "<script>alert('x')</script> & <b>bold</b>"


def _scenarios(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    evil = folder / "evil_price.yaml"
    evil.write_text(f'extends: {BASE}\ndescription: "{EVIL}"\n'
                    "pricing:\n  segments:\n    smb: {list_price_usd: 660}\n")
    bad = folder / "broken.yaml"
    bad.write_text(f"extends: {BASE}\npricing:\n  annual_uplift_frac: 1.7\n")
    return [BASE, evil, bad]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "out"
    code = reports.build_report([str(p) for p in _scenarios(tmp / "sc")], replications=2,
                                seed=0, out_dir=out, executor="serial", months=6)
    return code, out


def test_files_exist_and_exit_code_is_nonzero_for_a_failed_scenario(built):
    code, out = built
    assert code == reports.EXIT_SCENARIO_FAILED
    for rel in ("index.html", reports.WORKBOOK, "html/baseline.html", "html/evil_price.html",
                "html/compare_scenarios.html", "notebooks/baseline.ipynb",
                "notebooks/evil_price.ipynb", "notebooks/compare_scenarios.ipynb"):
        assert (out / rel).is_file(), rel
    assert not (out / "html/broken.html").exists()
    assert not list(out.parent.glob(".out.tmp-*")), "no temporary folder left behind"


def test_index_marks_failure_escapes_text_and_shows_identity(built):
    _, out = built
    page = (out / "index.html").read_text()
    assert "FAILED" in page and "pricing.annual_uplift_frac" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>bold</b>" not in page
    sc = sim.load_scenario(BASE, {"horizon_months": 6})
    assert sim.scenario_hash(sc) in page
    assert "Seed 0" in page and "P50 (P10 – P90)" in page


def test_executed_notebooks_record_parameters(built):
    _, out = built
    nb = nbformat.read(out / "notebooks/evil_price.ipynb", as_version=4)
    p = nb.metadata.papermill.parameters
    assert p["seed"] == 0 and p["replications"] == 2 and p["months"] == 6
    assert p["results_file"] == "../data/evil_price"
    cmp_nb = nbformat.read(out / "notebooks/compare_scenarios.ipynb", as_version=4)
    assert len(cmp_nb.metadata.papermill.parameters["results_files"]) == 2


def test_excel_workbook_for_finance(built):
    _, out = built
    wb = openpyxl.load_workbook(out / reports.WORKBOOK)
    assert {"About", "baseline", "evil_price", "Comparison", "Assumptions"} <= set(
        wb.sheetnames)
    sheet = wb["baseline"]
    labels = [sheet.cell(row=r, column=1).value for r in range(1, 60)]
    assert "Revenue" in labels and "Operating profit" in labels
    assert "Operating profit, total (USD)" in labels
    rows = {r[0]: r[1:] for r in wb["Assumptions"].iter_rows(values_only=True)}
    assert rows["pricing.segments.smb.list_price_usd"] == (600, 660)
    assert rows["horizon_months"] == (6, 6)
    comp = [c for r in wb["Comparison"].iter_rows(values_only=True) for c in r if c]
    assert "evil_price" in comp


def test_html_is_offline_with_inline_svg_charts(built):
    _, out = built
    for page in (out / "html").glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", text), page.name
        assert "<svg" in text, page.name
    report = (out / "html/baseline.html").read_text()
    assert report.count('class="marks"') >= 5
    assert "nb.experiment(" not in report, "code is hidden"


def test_earlier_report_survives_an_interrupted_build(built, tmp_path, monkeypatch):
    _, out = built
    target = tmp_path / "reports"
    shutil.copytree(out, target)
    before = (target / "index.html").read_bytes()

    def boom(*_a, **_k):
        raise RuntimeError("interrupted mid-build")

    monkeypatch.setattr(reports, "_run_notebooks", boom)
    code = reports.build_report([str(BASE)], replications=1, months=3, out_dir=target,
                                executor="serial")
    assert code != 0
    assert (target / "index.html").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".reports.")]


def test_all_scenarios_invalid_leaves_earlier_report_untouched(built, tmp_path, capsys):
    _, out = built
    target = tmp_path / "reports"
    shutil.copytree(out, target)
    before = (target / "index.html").read_bytes()
    code = reports.build_report([str(tmp_path / "missing.yaml")], out_dir=target)
    assert code == reports.EXIT_INVALID
    assert (target / "index.html").read_bytes() == before
    assert "file not found" in capsys.readouterr().err


def test_slugs_and_sheet_names_are_unique():
    assert reports._slugs([Path("a/x.yaml"), Path("b/x.yaml"), Path("y z.yaml")]) == [
        "x", "x-2", "y_z"]
    used: set[str] = set()
    names = [reports._sheet_name("a" * 40, used) for _ in range(2)]
    assert len(set(names)) == 2 and all(len(n) <= 31 for n in names)


@pytest.fixture(scope="module")
def small():
    sc = sim.load_scenario(BASE, {"horizon_months": 12})
    return sim.compare(sc, [sim.with_overrides(sc, {"pricing.annual_uplift_frac": 0.08})],
                       replications=2, seed=1, executor="serial")


def _svg(chart) -> str:
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.startswith("<svg") and "mark-" in svg
    return svg


def test_every_chart_draws_offline_from_tidy_tables(small):
    r = small.base
    bands, trough = nbh.cash_tables(r)
    sens = sim.sensitivity(r.scenario, ["sales.teams.mid_market.count"], replications=1,
                           executor="serial")
    grid = nbh.pricing_sweep(r.scenario, [0, 10], [0.2], replications=1)
    for chart in (charts.fan_chart(nbh.fan_table(r)),
                  charts.arr_bridge_waterfall(nbh.arr_bridge_table(r)),
                  charts.cash_chart(bands, trough),
                  charts.utilisation_chart(nbh.utilisation_table(r)),
                  charts.target_attainment_bars(nbh.targets_table(r)),
                  charts.tornado(nbh.tornado_table(sens)),
                  charts.sweep_curves(nbh.pricing_curves_table(grid)),
                  charts.scenario_kpi_bars(nbh.compare_kpi_table(small)),
                  charts.comparison_bars(nbh.compare_deltas_table(small)),
                  charts.scenario_bands(nbh.paths_table(small))):
        _svg(chart)
    charts.enable_offline_rendering()
    bundle = charts.fan_chart(nbh.fan_table(r))._repr_mimebundle_()
    assert "image/svg+xml" in (bundle[0] if isinstance(bundle, tuple) else bundle)


def test_arr_bridge_steps_close_to_year_end_arr(small):
    b = nbh.arr_bridge_table(small.base)
    ends = b[b["step"].str.endswith("end ARR")]
    flows = b[b["kind"] != "total"]
    assert flows["end"].iloc[-1] == pytest.approx(ends["end"].iloc[-1], rel=1e-9)
    assert b.loc[0, "end"] == pytest.approx(float(small.base.initial["arr"].mean()))


def test_tables_for_finance(small):
    pnl = nbh.annual_pnl_table(small.base)
    assert list(pnl.columns) == ["Year 1"] and "Operating profit" in pnl.index
    assert pnl.loc["Operating profit", "Year 1"] == pytest.approx(
        pnl.loc["Revenue", "Year 1"] - pnl.loc["Total cost (incl. cost of revenue)", "Year 1"])
    a = nbh.assumptions_table(small.base.scenario).set_index("key")["value"]
    assert a["sales.teams.mid_market.hiring_plan.0.month"] == 7
    assert nbh.fmt_usd(-1_234_567) == "-$1.23M" and nbh.fmt_kpi("nrr_last_year", 0.97) == "97.0%"
