"""``revsim track``: percentile ranks, the fan against actuals, target probabilities given the
months so far, the re-forecast scenario, and the command end to end (real files, the real
``revsim`` script)."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support import cli

from sim.experiments.experiment import run_experiment
from sim.experiments.replication import simulate
from sim.outputs.atomic import MARKER
from sim.scenario.io import load_scenario
from sim.track.run import (
    TRACKABLE,
    Actuals,
    percentile_rank,
    read_actuals,
    run_track,
    shift_targets,
    track_table,
    write_track,
)

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example_company.yaml"
ACTUALS = ROOT / "examples" / "company" / "actuals.csv"
REPS = 6
HORIZON = 12
MAIN = ["revenue", "arr", "customers", "new_arr", "churned_arr", "operating_profit",
        "cash_balance"]


revsim = partial(cli.revsim, COLUMNS="200", REVSIM_PROGRESS="never")


def plan_file(folder: Path, name: str = "plan.yaml", targets=None, calendar=None) -> Path:
    """A 12-month example company that extends the shipped one."""
    data = {"extends": str(EXAMPLE), "horizon_months": HORIZON, "targets": targets or []}
    if calendar:
        data["calendar"] = {"start_month": calendar}
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def actuals_csv(path: Path, frame: pd.DataFrame, start: str = "2023-01") -> Path:
    """Rows of ``frame`` (index: plan month) as a canonical actuals file from ``start``."""
    first = pd.Period(start, "M")
    out = frame.copy()
    out.insert(0, "month", [str((first + int(k) - 1).start_time.date()) for k in frame.index])
    out.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- ranks and the fan


def test_percentile_rank_mid_rank_on_a_hand_built_case():
    values = [1.0, 2.0, 2.0, 3.0, 4.0]
    assert percentile_rank(values, 2.0) == pytest.approx((1 + 0.5 * 2) / 5)  # ties: half
    assert percentile_rank(values, 2.5) == pytest.approx(3 / 5)
    assert percentile_rank(values, 0.0) == 0.0
    assert percentile_rank(values, 9.0) == 1.0
    assert percentile_rank(values, 4.0) == pytest.approx(4.5 / 5)
    assert math.isnan(percentile_rank([], 1.0))


def test_track_table_on_a_hand_built_plan():
    # 5 replications of 2 months; month 1 revenue 10..50, month 2 revenue 100..500
    plan = pd.DataFrame({"replication": [r for r in range(5) for _ in (1, 2)],
                         "month": [1, 2] * 5,
                         "revenue": [v for r in range(5) for v in (10.0 * (r + 1),
                                                                   100.0 * (r + 1))]})
    acts = Actuals(frame=pd.DataFrame({"revenue": [30.0, 600.0]}, index=pd.Index([1, 2])),
                   metrics=["revenue"], ignored=[], matched="test", start_period=2023 * 12,
                   path="a.csv")
    t = track_table(plan, acts)
    m1, m2 = t.iloc[0], t.iloc[1]
    assert (m1["p10"], m1["p50"], m1["p90"]) == pytest.approx(
        tuple(np.quantile([10, 20, 30, 40, 50], [0.1, 0.5, 0.9])))
    assert m1["percentile_rank"] == pytest.approx(0.5) and not m1["outside_p10_p90"]
    assert m2["percentile_rank"] == 1.0 and m2["side"] == "above" and m2["outside_p10_p90"]
    assert list(t["month_label"]) == ["Jan 2023", "Feb 2023"]


def test_trackable_columns_are_the_engines_monthly_columns():
    sc = load_scenario(EXAMPLE, overrides={"horizon_months": 2})
    monthly = simulate(sc, seed=0).monthly
    assert set(TRACKABLE) == set(monthly.columns) - {"month"}


# ---------------------------------------------------------------- reading and months


def test_months_follow_the_calendar_start_month_or_the_first_row(tmp_path):
    frame = pd.DataFrame({"revenue": [1.0, 2.0, 3.0]}, index=[1, 2, 3])
    path = actuals_csv(tmp_path / "a.csv", frame, start="2023-03")
    plain = load_scenario(plan_file(tmp_path))
    assert list(read_actuals(path, plain).frame.index) == [1, 2, 3]  # first row = month 1
    assert list(read_actuals(path, plain, start_month="2023-01").frame.index) == [3, 4, 5]
    dated = load_scenario(plan_file(tmp_path, "cal.yaml", calendar="2022-12"))
    acts = read_actuals(path, dated)
    assert list(acts.frame.index) == [4, 5, 6] and acts.label(4) == "Mar 2023"
    assert "calendar" in acts.matched
    assert list(read_actuals(path, dated, through="2023-04").frame.index) == [4, 5]
    # month-end dates name the same months
    ends = tmp_path / "ends.csv"
    ends.write_text("month,revenue\n2023-03-31,1\n2023-04-30,2\n")
    assert list(read_actuals(ends, dated).frame.index) == [4, 5]


# ---------------------------------------------------------------- targets cut to the rest


def _acts(months: int) -> Actuals:
    frame = pd.DataFrame({"revenue": 10.0, "operating_profit": -1.0, "arr": 100.0,
                          "cash_balance": 50.0}, index=pd.Index(range(1, months + 1)))
    return Actuals(frame=frame, metrics=list(frame.columns), ignored=[], matched="test",
                   start_period=2023 * 12, path="a.csv")


def test_targets_are_cut_to_the_remaining_months_where_well_defined():
    targets = [
        {"name": "rev y1", "metric": "revenue", "year": 1, "op": ">=", "value": 100.0},
        {"name": "rev y2", "metric": "revenue", "year": 2, "op": ">=", "value": 100.0},
        {"name": "rev all", "metric": "revenue", "year": None, "op": ">=", "value": 500.0},
        {"name": "arr end", "metric": "ending_arr", "year": None, "op": ">=", "value": 9.0},
        {"name": "nrr y2", "metric": "nrr", "year": 2, "op": ">=", "value": 1.0},
    ]
    aligned = {tp.target["name"]: tp for tp in shift_targets(targets, _acts(12), 36)}
    assert aligned["rev y1"].shifted is None and "met" in aligned["rev y1"].note  # 120 >= 100
    assert aligned["rev y2"].shifted["year"] == 1
    assert aligned["nrr y2"].shifted["year"] == 1
    assert aligned["rev all"].shifted["value"] == pytest.approx(500 - 12 * 10.0)
    assert aligned["arr end"].shifted["value"] == 9.0
    mid = {tp.target["name"]: tp for tp in shift_targets(targets, _acts(6), 36)}
    assert mid["rev y2"].shifted is None and "do" in mid["rev y2"].note  # years do not align
    assert mid["nrr y2"].shifted is None
    assert mid["rev all"].shifted["value"] == pytest.approx(500 - 6 * 10.0)


# ---------------------------------------------------------------- against the engine


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory):
    """The 12-month plan without targets: its replications and the medians the targets of
    the direction test sit at."""
    folder = tmp_path_factory.mktemp("plan")
    sc = load_scenario(plan_file(folder))
    res = run_experiment(sc, REPS, seed=0, executor="serial")
    totals = res.monthly.groupby("replication")["revenue"].sum()
    return folder, res, float(totals.median())


def test_a_replication_of_the_plan_ranks_mid_band(plan_run):
    _, res, _ = plan_run
    acts = lambda frame: Actuals(frame=frame, metrics=MAIN, ignored=[], matched="test",  # noqa: E731
                                 start_period=2023 * 12, path="a.csv")
    # the plan's own replication: ties with itself, so never rank 0 or 1 (mid-rank)
    own = res.monthly[res.monthly.replication == 2].set_index("month")[MAIN]
    t = track_table(res.monthly, acts(own))
    assert t["percentile_rank"].between(0.5 / REPS - 1e-9, 1 - 0.5 / REPS + 1e-9).all()
    assert 0.2 < t["percentile_rank"].mean() < 0.8
    # an independent draw of the same plan (another seed) lies in the band mostly
    other = simulate(res.scenario, seed=99, replication=0).monthly.set_index("month")[MAIN]
    t = track_table(res.monthly, acts(other))
    assert 0.2 < t["percentile_rank"].mean() < 0.8
    assert t["outside_p10_p90"].mean() < 0.6
    # a path well below the plan ranks at the bottom, every month
    low = track_table(res.monthly, acts(own * 0.7))
    low = low[low.metric.isin(["revenue", "arr", "customers"])]
    assert (low["percentile_rank"] == 0).all() and (low["side"] == "below").all()


@pytest.fixture(scope="module")
def tracked(plan_run):
    """run_track of a plan whose targets sit at the plan's medians, with three actual months
    at the plan's P50 and three well below it."""
    folder, res, revenue_p50 = plan_run
    ending = float(res.monthly[res.monthly.month == HORIZON]["arr"].median())
    targets = [{"name": "Revenue year 1 at the plan's median", "metric": "revenue", "year": 1,
                "op": ">=", "value": revenue_p50},
               {"name": "Ending ARR at the plan's median", "metric": "ending_arr", "op": ">=",
                "value": ending}]
    path = plan_file(folder, "targets.yaml", targets)
    sc = load_scenario(path)
    p50 = res.monthly[res.monthly.month <= 3].groupby("month")[MAIN].median()
    low = p50.copy()
    for c in ("revenue", "arr", "customers", "new_arr", "cash_balance"):
        low[c] = p50[c] * 0.8
    runs = {}
    for name, frame in (("mid", p50), ("low", low)):
        acts = read_actuals(actuals_csv(folder / f"{name}.csv", frame), sc)
        runs[name] = run_track(path, sc, acts, folder / f"out-{name}", REPS, 0, "serial")
    return runs


def test_actuals_well_below_the_plan_lower_the_chance_of_its_targets(tracked):
    low = tracked["low"].targets.set_index("target")
    mid = tracked["mid"].targets.set_index("target")
    for name in low.index:
        assert low.at[name, "status"] == "open"
        assert low.at[name, "probability_given_actuals"] < low.at[name, "probability_at_plan"]
        assert low.at[name, "probability_given_actuals"] < \
            mid.at[name, "probability_given_actuals"]
        assert low.at[name, "given_actuals_low"] <= low.at[name, "probability_given_actuals"] \
            <= low.at[name, "given_actuals_high"]


def test_the_reforecast_starts_from_the_actual_state(tracked, plan_run):
    result = tracked["low"]
    acts, refc = result.actuals, result.reforecast
    m = acts.last_month
    assert refc.horizon_months == HORIZON - m
    assert refc.calendar.start_month == "2023-04"
    customers = sum(s.installed_customers for s in refc.segments.values())
    assert customers == round(acts.value("customers", m))
    assert refc.finance.starting_cash_usd == pytest.approx(acts.value("cash_balance", m),
                                                           rel=1e-5)
    # the expected opening ARR is the actual ARR: the re-forecast's replications open near it
    opening = result.refc_result.initial
    assert (opening["customers"] == customers).all()
    assert opening["arr"].mean() == pytest.approx(acts.value("arr", m), rel=0.05)
    # written, it loads from its folder (extends resolves) and every changed value says why
    out = plan_run[0] / "out-low"  # the folder it was written for (extends is relative)
    out.mkdir()
    write_track(result, out)
    again = load_scenario(out / "reforecast.yaml")
    assert again.segments == refc.segments
    text = (out / "reforecast.yaml").read_text()
    for line in text.splitlines():
        if ": " in line and not line.lstrip().startswith(("#", "-", "extends", "description")):
            assert "  # " in line, line
    assert "installed_price_usd" in text and "actual ARR" in text


# ---------------------------------------------------------------- the command


def test_track_end_to_end(tmp_path):
    targets = [{"name": "<script>alert(1)</script>", "metric": "revenue", "year": 1,
                "op": ">=", "value": 1.0},
               {"name": "=HYPERLINK(\"http://x\")", "metric": "ending_arr", "op": ">=",
                "value": 1.0}]
    plan = plan_file(tmp_path, targets=targets)
    src = pd.read_csv(ACTUALS).head(3)
    src["notes"] = "board view"  # a column the engine does not report: named, ignored
    src.to_csv(tmp_path / "actuals.csv", index=False)
    out = tmp_path / "out"
    proc = revsim("track", plan, "--actuals", "actuals.csv", "--reps", "3", "--executor",
                  "serial", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "plan month 1 = Jan 2023" in proc.stdout and "notes" in proc.stdout
    assert (out / MARKER).is_file()
    for name in ("track.csv", "targets.csv", "reforecast.yaml", "track.html"):
        assert (out / name).is_file(), name
    track = pd.read_csv(out / "track.csv")
    assert set(track["metric"]) == set(src.columns) - {"month", "notes"}
    assert set(track["month"]) == {1, 2, 3}
    assert track["percentile_rank"].between(0, 1).all()
    targets_csv = (out / "targets.csv").read_text()
    assert "'=HYPERLINK" in targets_csv  # a formula is text in a spreadsheet
    html = (out / "track.html").read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    assert html.count("<svg") == track["metric"].nunique()
    refc = load_scenario(out / "reforecast.yaml")
    assert refc.horizon_months == HORIZON - 3


BAD = [
    ("missing month column", "revenue\n1\n", [], "column month: missing column"),
    ("months outside the plan", "month,revenue\n2023-01-01,1\n2024-06-01,2\n", [],
     "row 3, column month: 2024-06 is outside the plan (Jan 2023 – Dec 2023, 12 months"),
    ("ambiguous day", "month,revenue\n2023-01-15,1\n", [],
     "row 2, column month: 2023-01-15 is neither the first nor the last day of a month"),
    ("same month twice", "month,revenue\n2023-01-01,1\n2023-01-31,2\n", [],
     "row 3, column month: 2023-01 also on row 2"),
    ("not a number", "month,revenue\n2023-01-01,lots\n", [],
     "row 2, column revenue: not a number: 'lots'"),
    ("negative customers", "month,customers\n2023-01-01,-4\n", [],
     "row 2, column customers: must be >= 0"),
    ("no engine column", "month,bookings\n2023-01-01,4\n", [],
     "no column the engine reports monthly"),
    ("the whole plan", "month,revenue\n" + "".join(f"2023-{k:02d}-01,1\n" for k in range(1, 13)),
     [], "nothing is left to re-forecast"),
    ("bad --through", "month,revenue\n2023-01-01,1\n", ["--through", "June"],
     "--through: expected a month as YYYY-MM"),
]


@pytest.mark.parametrize("case,text,flags,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_actuals_are_one_line_exit_2_nothing_written(tmp_path, case, text, flags, expected):
    plan = plan_file(tmp_path)
    (tmp_path / "a.csv").write_text(text)
    out = tmp_path / "out"
    proc = revsim("track", plan, "--actuals", "a.csv", "--reps", "2", "--executor", "serial",
                  "--out", out, *flags, cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_track_refuses_a_calendar_conflict_and_a_user_folder(tmp_path):
    plan = plan_file(tmp_path, calendar="2023-01")
    (tmp_path / "a.csv").write_text("month,revenue\n2023-01-01,1\n")
    proc = revsim("track", plan, "--actuals", "a.csv", "--start-month", "2022-06", "--out",
                  tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2 and "--start-month" in proc.stderr
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("user data")
    proc = revsim("track", plan, "--actuals", "a.csv", "--reps", "2", "--out", mine,
                  cwd=tmp_path)
    assert proc.returncode == 2
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
    assert (mine / "keep.txt").read_text() == "user data"
