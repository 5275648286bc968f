"""Real exports without pre-cleaning (issue 26): catch-all values, rows dropped by rule and
counted, errors that name the vendor's column, the spreadsheet row and the mapping's date
format; Stripe's currency, status and interval count; Salesforce's report footer."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from support.cli import run_cli

from sim.calibrate.mapping import apply_mapping

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"
MAPS = ROOT / "examples" / "mappings"


def stripe_rows() -> list[list[str]]:
    return list(csv.reader((MAPS / "stripe_subscriptions.csv").open(encoding="utf-8")))


def calibrate(tmp_path, rows, name="stripe.csv", kind="--subscriptions", mapping="stripe.yaml"):
    with (tmp_path / name).open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return run_cli("calibrate", "--base", BASE, kind, name, "--mapping", MAPS / mapping,
                   "--as-of", "2024-12-31", "--out", "cal.yaml", cwd=tmp_path)


def test_catch_alls_map_unlisted_and_blank_values():
    df = pd.DataFrame({"Source": ["Organic Search", "Other", None, "Brand New Source"]})
    spec = {"columns": {"channel": "Source"},
            "values": {"channel": {"Organic Search": "inbound", "*": "outbound", "": "partner"}}}
    assert apply_mapping(df, spec, "x.csv")["channel"].tolist() == [
        "inbound", "outbound", "partner", "outbound"]


def test_stripe_trials_are_dropped_counted_and_said_why(tmp_path):
    rows = stripe_rows()
    trials = sum(r[rows[0].index("Status")] == "trialing" for r in rows[1:])
    assert trials > 0
    proc = calibrate(tmp_path, rows)
    assert proc.returncode == 0, proc.stderr
    assert (f"warning: stripe.csv: dropped {trials} row(s) where Status is one of trialing, "
            "past_due, unpaid") in proc.stderr
    assert "(a trial or an unpaid subscription is not ARR)" in proc.stderr


def test_mixed_currencies_are_one_line_naming_column_and_rows(tmp_path):
    rows = stripe_rows()
    cur = rows[0].index("Currency")
    kept = [k for k, r in enumerate(rows) if k and r[rows[0].index("Status")] != "trialing"]
    rows[kept[3]][cur] = "eur"
    proc = calibrate(tmp_path, rows)
    assert proc.returncode == 2
    # spreadsheet rows (the header is row 1); the first kept row is the reference
    assert proc.stderr.strip().splitlines() == [
        f"stripe.csv: row {kept[3] + 1}, column Currency: currency eur differs from usd on row "
        f"{kept[0] + 1} (mixed currencies: give currency.rates to convert, or export one "
        "currency)"]
    assert not (tmp_path / "cal.yaml").exists()


def test_a_rate_table_converts_to_usd_and_interval_count_divides_the_year():
    df = pd.DataFrame({"Amount": ["100", "100"], "Quantity": ["2", "2"],
                       "Interval": ["year", "year"], "Interval Count": ["1", "3"],
                       "Currency": ["usd", "EUR"]})
    spec = {"columns": {"term_months": "Interval", "per_year": "Interval",
                        "unit": "Amount", "seats": "Quantity"},
            "values": {"term_months": {"year": 12}, "per_year": {"year": 1}},
            "product": {"arr_usd": ["unit", "seats", "per_year", "1/Interval Count"],
                        "term_months": ["term_months", "Interval Count"]},
            "currency": {"column": "Currency", "rates": {"usd": 1, "eur": 1.5}}}
    out = apply_mapping(df, spec, "x.csv")
    assert [float(x) for x in out["arr_usd"]] == [200.0, 100.0]  # 100 x 2 / 3 x 1.5
    assert [float(x) for x in out["term_months"]] == [12.0, 36.0]


def test_a_date_not_in_the_mappings_format_names_it_the_vendor_column_and_row(tmp_path):
    rows = stripe_rows()
    col = rows[0].index("Start Date (UTC)")
    rows[10][col] = "12/03/2022"
    proc = calibrate(tmp_path, rows)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "stripe.csv: row 11, column Start Date (UTC) (start_date): not a date in the mapping's "
        "date_format %Y-%m-%d %H:%M: '12/03/2022'"]


def test_an_unrepresentable_interval_count_names_the_vendor_column(tmp_path):
    rows = stripe_rows()
    h = rows[0]
    i = next(k for k, r in enumerate(rows) if k and r[h.index("Interval")] == "month"
             and r[h.index("Status")] == "active")
    rows[i][h.index("Interval Count")] = "3"  # quarterly: not a term the engine has
    proc = calibrate(tmp_path, rows)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"stripe.csv: row {i + 1}, column Interval (term_months): must be 1, 12, 24 or 36 "
        "(got 3)"]


def test_a_salesforce_report_footer_is_dropped_and_counted(tmp_path):
    text = (MAPS / "salesforce_opportunities.csv").read_text(encoding="utf-8")
    assert "Grand Totals" in text  # the shipped sample has the footer
    (tmp_path / "sf.csv").write_text(text, encoding="utf-8")
    proc = run_cli("calibrate", "--base", BASE, "--opportunities", "sf.csv", "--mapping",
                   MAPS / "salesforce.yaml", "--as-of", "2024-12-31", "--out", "cal.yaml",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("warning: sf.csv: dropped 3 row(s) where Opportunity ID is blank (report footer)"
            in proc.stderr)
