"""The pocket-price waterfall: steps that add up to the pocket price exactly, the discount
split used when the ledger records it, and the table in the report and the workbook."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import sim
from sim.analysis.waterfall import LIST, POCKET, pocket_price_waterfall
from sim.report.entries import Entry
from sim.report.waterfall import waterfall_html
from sim.report.workbook import write_workbook

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def result():
    sc = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml",
                           overrides={"horizon_months": 12})
    return sim.run_experiment(sc, replications=2, seed=0, executor="serial")


def _check_sums(t: pd.DataFrame) -> None:
    for _seg, g in t.groupby("segment"):
        steps = g[~g["step"].isin([LIST, POCKET]) & ~g["memo"]]["usd"]
        list_usd = g.loc[g["step"] == LIST, "usd"].item()
        pocket = g.loc[g["step"] == POCKET, "usd"].item()
        assert list_usd + steps.sum() == pytest.approx(pocket, rel=1e-12, abs=1e-6)
        assert (g["pct_of_list"] * list_usd).to_numpy() == pytest.approx(g["usd"].to_numpy())


def test_engine_waterfall_steps_sum_to_the_pocket_price(result):
    t = pocket_price_waterfall(result.by_segment)
    _check_sums(t)
    assert set(t["segment"]) == set(result.scenario.segments)
    # pocket price from independent ledger columns: net new ARR won less commissions
    bs = result.by_segment.groupby("segment")[["new_arr", "sales_commission",
                                               "partner_cost"]].sum() / 2
    pocket = t[t["step"] == POCKET].set_index("segment")["usd"]
    expected = bs["new_arr"] - bs["sales_commission"] - bs["partner_cost"]
    assert pocket.to_dict() == pytest.approx(expected.to_dict(), rel=1e-9)
    # the engine splits the discount: term, rep and quarter-end explain all of it, and the
    # price leak is a memo inside them
    assert {"Term discount", "Rep discount", "Quarter-end extra"} <= set(t["step"])
    assert "Other discount" not in set(t["step"])
    leak = t[t["memo"]]
    assert len(leak) == t["segment"].nunique()
    disc = t[t["step"].isin(["Rep discount", "Quarter-end extra"])].groupby("segment")["usd"].sum()
    assert (leak.set_index("segment")["usd"] >= disc - 1e-6).all()  # leak within them


def test_without_the_split_the_discount_is_one_step():
    bs = pd.DataFrame({"segment": ["smb"], "month": [1], "list_arr_won": [1000.0],
                       "discount_usd": [200.0], "sales_commission": [80.0]})
    t = pocket_price_waterfall(bs)
    assert list(t["step"]) == [LIST, "Discount", "Sales commission", POCKET]
    _check_sums(t)


def test_split_discount_flows_are_steps_and_the_rest_is_other_discount():
    bs = pd.DataFrame({"segment": ["smb", "smb"], "month": [1, 2],
                       "list_arr_won": [1000.0, 500.0], "discount_usd": [200.0, 100.0],
                       "term_discount_usd": [50.0, 20.0], "rep_discount_usd": [100.0, 40.0],
                       "quarter_end_discount_usd": [10.0, 0.0], "price_leak_usd": [0.0, 30.0],
                       "sales_commission": [80.0, 40.0], "partner_cost": [5.0, 5.0]})
    t = pocket_price_waterfall(bs).set_index("step")["usd"]
    assert list(t.index) == [LIST, "Term discount", "Rep discount", "Quarter-end extra",
                             "Other discount", "Sales commission", "Partner commission", POCKET,
                             "Memo: price leak (inside the discounts above)"]
    assert t["Term discount"] == -70.0
    assert t["Other discount"] == pytest.approx(-(300.0 - 220.0))
    assert t["Memo: price leak (inside the discounts above)"] == -30.0
    assert t[POCKET] == pytest.approx(1500 - 300 - 120 - 10)
    _check_sums(pocket_price_waterfall(bs))


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def test_waterfall_renders_in_html_and_the_report_notebook(result):
    html = waterfall_html(result)
    p = _Cells()
    p.feed(html)
    assert LIST in p.text and POCKET in p.text and "Sales commission" in p.text
    assert any(t.endswith("%") for t in p.text)
    nb = json.loads((ROOT / "notebooks" / "scenario_report.ipynb").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert "nb.pocket_price(result)" in sources
    assert "nb.pocket_price_chart(result)" in sources
    from sim.report import cells

    assert cells.pocket_price(result)._repr_mimebundle_()["text/html"] == html
    cells.pocket_price_chart(result).to_dict()  # a valid Vega-Lite spec


def test_waterfall_sheet_in_the_workbook(result, tmp_path):
    path = tmp_path / "revsim_report.xlsx"
    p = ROOT / "scenarios" / "baseline.yaml"
    write_workbook(path, [Entry(p, "baseline", result.scenario, result)], 0, 2)
    ws = openpyxl.load_workbook(path)["Pocket price"]
    header = [c.value for c in ws[2]]
    assert header == ["Plan", "Segment", "Step", "USD", "% of list"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3) if r[0].value is not None]
    t = pocket_price_waterfall(result.by_segment)
    assert len(rows) == len(t)
    assert [r[3] for r in rows] == pytest.approx(t["usd"].tolist())
    assert ws.cell(row=3, column=5).number_format == "0.0%"
