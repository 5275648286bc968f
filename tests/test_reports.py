"""``build_report``: files, Excel sheets, failed scenarios, atomic output, offline HTML; and
the charts draw offline from the tables the helpers shape."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pytest

import sim
from sim.report import build as reports
from sim.report import workbook

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

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
    for rel in ("index.html", workbook.WORKBOOK, "html/baseline.html", "html/evil_price.html",
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
    wb = openpyxl.load_workbook(out / workbook.WORKBOOK)
    assert {"About", "KPIs", "baseline", "evil_price", "Comparison", "KPI P50",
            "Assumptions"} <= set(wb.sheetnames)
    sheet = wb["baseline"]
    labels = [sheet.cell(row=r, column=1).value for r in range(1, 60)]
    assert "Revenue" in labels and "Operating profit" in labels
    kpis = [r[1] for r in wb["KPIs"].iter_rows(min_row=3, values_only=True)]
    assert "Operating profit, total (USD)" in kpis
    header = [c.value for c in wb["Assumptions"][2]]
    key, plans = header.index("Key (for --set)"), [header.index(n) for n in ("baseline",
                                                                           "evil_price")]
    rows = {r[key]: tuple(r[j] for j in plans)
            for r in wb["Assumptions"].iter_rows(min_row=3, values_only=True)}
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
    names = [workbook._sheet_name("a" * 40, used) for _ in range(2)]
    assert len(set(names)) == 2 and all(len(n) <= 31 for n in names)
