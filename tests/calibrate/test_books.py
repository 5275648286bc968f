"""The books in (issue 26): a finance file (monthly P&L lines, headcount by role, cash) is
fitted into the scenario's cost lines, headcount, salaries and opening cash at --as-of;
without it the calibrated file says which parts are the template's, and comparing a
calibrated company with its template warns that they are not plan choices of one company."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.cli import run_cli

from sim.calibrate.identity import company_warning
from sim.engine.plan import headcount
from sim.scenario.io import load_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "example_company.yaml"
COMPANY = ROOT / "examples" / "company"
AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The shipped example company (``revsim export``, finance.csv included) calibrated from
    its subscriptions and its books."""
    tmp = tmp_path_factory.mktemp("books")
    proc = run_cli("calibrate", "--base", EXAMPLE, "--subscriptions",
                   COMPANY / "subscriptions.csv", "--finance", COMPANY / "finance.csv",
                   "--as-of", AS_OF, "--history-start", "2023-01-01", "--out", "cal.yaml",
                   cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return tmp / "cal.yaml"


def test_the_books_round_trip_into_cash_heads_salaries_and_cost_lines(calibrated):
    truth = load_scenario(EXAMPLE)
    books = pd.read_csv(COMPANY / "finance.csv")
    text = calibrated.read_text()
    data = yaml.safe_load(text)
    cal = load_scenario(calibrated)
    last = truth.horizon_months  # the books' last closed month is the plan's last month
    # opening cash: the books' closing balance of the last month, to the cent
    assert cal.finance.starting_cash_usd == pytest.approx(books["cash_balance_usd"].iloc[-1])
    # headcount: the plan's heads in that month, per role and per sales team
    for role in ("sdr", "csm", "onboarding", "management"):
        assert data["headcount"][role]["count"] == headcount(getattr(truth.headcount, role), last)
    for name, team in truth.sales.teams.items():
        assert data["sales"]["teams"][name]["count"] == headcount(team, last), name
    # salaries and cost lines: the truth's, within the fits' own tolerance
    for role in ("sdr", "csm", "onboarding"):
        got = cal.headcount.__getattribute__(role).loaded_cost_per_month_usd
        want = getattr(truth.headcount, role).loaded_cost_per_month_usd
        assert got == pytest.approx(want, rel=0.02), role
    for name, team in truth.sales.teams.items():
        assert cal.sales.teams[name].loaded_cost_per_month_usd == pytest.approx(
            team.loaded_cost_per_month_usd, rel=0.02), name
    grown = truth.costs.fixed_opex_per_month_usd * (
        1 + truth.costs.fixed_opex_growth_per_year_frac) ** ((last - 1) // 12)
    assert cal.costs.fixed_opex_per_month_usd == pytest.approx(grown, rel=1e-6)
    assert cal.costs.hosting_support_frac_of_revenue == pytest.approx(
        truth.costs.hosting_support_frac_of_revenue, abs=0.01)
    assert cal.channels.inbound.budget_per_month_usd == pytest.approx(
        truth.channels.inbound.budget_per_month_usd, rel=1e-6)
    assert "FROM THE TEMPLATE" not in text
    assert "# Costs, headcount, salaries and cash: from the books (--finance)." in text


def test_without_books_the_file_says_at_its_top_what_is_the_templates(tmp_path):
    proc = run_cli("calibrate", "--base", EXAMPLE, "--subscriptions",
                   COMPANY / "subscriptions.csv", "--as-of", AS_OF, "--out", "cal.yaml",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    head = (tmp_path / "cal.yaml").read_text().split("\nextends:")[0]
    line = next(x for x in head.splitlines() if "FROM THE TEMPLATE" in x)
    for part in ("opening cash $15,000,000", "headcount", "salaries", "G&A", "cost of revenue"):
        assert part in line, part
    assert "finance.starting_cash_usd" not in yaml.safe_load((tmp_path / "cal.yaml").read_text()
                                                             ).get("finance", {})


def test_a_calibrated_company_against_its_template_is_not_a_plan_choice(calibrated, tmp_path):
    line = company_warning([EXAMPLE, calibrated])
    assert line is not None and "not plan choices of one company" in line
    assert "example_company.yaml is a template" in line
    # a plan choice made on the calibrated company is one company: no warning
    choice = tmp_path / "hire.yaml"
    choice.write_text(f"extends: {calibrated}\nheadcount:\n  csm:\n    count: 14\n")
    assert company_warning([calibrated, choice]) is None
    # the command line says it (revsim compare), and still runs
    proc = run_cli("compare", EXAMPLE, calibrated, "--reps", 2, "--months", 3, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: these scenarios are not plan choices of one company" in proc.stderr


@pytest.mark.parametrize(("cell", "value", "reason"), [
    ("headcount_csm", "-2", "must be >= 0 (got -2.0)"),
    ("cash_balance_usd", "lots", "not a number: 'lots'"),
])
def test_a_bad_books_cell_is_one_line_with_row_and_column_exit_2(tmp_path, cell, value, reason):
    books = pd.read_csv(COMPANY / "finance.csv", dtype=str)
    books.loc[3, cell] = value
    books.to_csv(tmp_path / "books.csv", index=False)
    proc = run_cli("calibrate", "--base", EXAMPLE, "--finance", "books.csv", "--as-of", AS_OF,
                   "--out", "cal.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"books.csv: row 5, column {cell}: {reason}"]
    assert not (tmp_path / "cal.yaml").exists()
