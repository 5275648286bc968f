"""Adaptive replications, the report's default: the stop rule (precision reached or the cap),
the same count and numbers on every executor for a seed; ``revsim report`` says how many ran
and the precision reached, warns in one line at the cap, and its verdict equals
``revsim compare``'s numbers for the same scenarios, seed and replications."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import sim
from sim.experiments.experiment import DECISION_KPI, compare_to_precision

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent)) or shutil.which("revsim")


@pytest.fixture(scope="module")
def small():
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides={"horizon_months": 6})
    plan = sim.with_overrides(base, {"pricing.segments.smb.list_price_usd": 700},
                              name="smb_700")
    return base, plan


def test_relative_precision_stops_when_reached_and_is_the_same_on_every_executor(small):
    base, plan = small
    runs = {ex: compare_to_precision(base, [plan], 0.5, initial=3, max_replications=12,
                                     seed=4, executor=ex, relative=True)
            for ex in ("serial", "process")}
    (serial, p), (pooled, q) = runs["serial"], runs["process"]
    assert (p.replications, p.reached, p.half_width, p.target_half_width) == \
        (q.replications, q.reached, q.half_width, q.target_half_width)
    pd.testing.assert_frame_equal(serial.deltas, pooled.deltas)
    pd.testing.assert_frame_equal(serial.base.kpis, pooled.base.kpis)
    # the target is the share of the base's mean NPV over the replications run
    npv = serial.base.kpis[DECISION_KPI].to_numpy(float)
    assert p.target_half_width == pytest.approx(0.5 * abs(np.mean(npv)))
    assert p.target_frac == 0.5 and len(npv) == p.replications
    d = serial.deltas.set_index("kpi").loc[DECISION_KPI]
    assert p.half_width == pytest.approx((d["ci_high"] - d["ci_low"]) / 2)
    # stop rule: reached means within the target, and then no more runs than needed
    assert p.reached == (p.half_width <= p.target_half_width)
    assert p.reached or p.replications == 12


def test_an_unreachable_precision_stops_at_the_cap_and_says_so(small):
    base, plan = small
    # an absolute target of $0.01 (a relative one is floored at a share of the base's revenue
    # since issue 24, so it can always be reached; tests/test_plain_words.py)
    result, p = compare_to_precision(base, [plan], 0.01, initial=2, max_replications=5,
                                     seed=4, executor="serial")
    assert p.replications == 5 and result.base.replications == 5 and not p.reached
    assert "NOT reached" in p.message() and "--max-reps 5" in p.message()
    again, p2 = compare_to_precision(base, [plan], 0.01, initial=2, max_replications=5,
                                     seed=4, executor="serial")
    assert p2 == p
    pd.testing.assert_frame_equal(result.deltas, again.deltas)


# ---------------------------------------------------------------- through the command line


def _revsim(*args, cwd: Path = ROOT, **env) -> subprocess.CompletedProcess:
    return subprocess.run([REVSIM, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**os.environ, **env})


@pytest.fixture(scope="module")
def report_and_compare(tmp_path_factory):
    """``revsim report`` (adaptive, a target it cannot reach, cap 3, process pool) and
    ``revsim compare`` (fixed 3 replications, serial) of the same scenarios and seed."""
    tmp = tmp_path_factory.mktemp("verdict")
    scenarios = ["scenarios/baseline.yaml", "scenarios/price_increase.yaml"]
    report = _revsim("report", *scenarios, "--months", "6", "--seed", "5", "--precision", "1",
                     "--max-reps", "3", "--executor", "process", "--out", tmp / "report")
    compare = _revsim("compare", *scenarios, "--months", "6", "--seed", "5", "--reps", "3",
                      "--executor", "serial", "--out", tmp / "compare",
                      REVSIM_PROGRESS="never")
    return tmp, report, compare


def test_report_says_how_many_ran_and_warns_once_at_the_cap(report_and_compare):
    tmp, report, _ = report_and_compare
    assert report.returncode == 0, report.stderr
    lines = [ln for ln in report.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines  # the warning alone: no Jupyter noise
    assert lines[0].startswith("revsim report: warning: precision NOT reached")
    assert "after 3 replications (the cap, --max-reps 3)" in lines[0]
    steps = report.stdout.splitlines()
    assert any("simulated 2 scenario(s), 3 replications each" in ln for ln in steps)
    rounds = [ln for ln in steps if "ran 3 replications of each scenario" in ln]
    assert len(rounds) == 1 and "(target $1)" in rounds[0], steps  # one line per round
    index = (tmp / "report" / "index.html").read_text()
    assert "3 replications per scenario, chosen adaptively (at most 3)" in index
    assert "precision NOT reached" in index
    about = {r[0]: r[1] for r in openpyxl.load_workbook(tmp / "report" / "revsim_report.xlsx")
             ["About"].iter_rows(min_row=3, values_only=True)}
    assert about["Replications per scenario"] == 3
    assert "chosen adaptively" in about["How replications were chosen"]


def test_verdict_numbers_equal_revsim_compare(report_and_compare):
    tmp, report, compare = report_and_compare
    assert report.returncode == 0 and compare.returncode == 0, compare.stderr
    deltas = {(r["scenario"], r["kpi"]): r for r in
              csv.DictReader((tmp / "compare" / "deltas.csv").open(encoding="utf-8"))}
    wb = openpyxl.load_workbook(tmp / "report" / "revsim_report.xlsx")
    verdict = wb["Verdict"]
    header = [c.value for c in verdict[2]]
    plans = {r[header.index("Plan")]: r for r in verdict.iter_rows(min_row=3, values_only=True)
             if isinstance(r[0], int | float)}
    row = plans["price_increase"]
    for column, kpi, stat in (
            ("Δ NPV vs base, mean of paired differences (USD)", "npv_operating_profit",
             "mean_delta"),
            ("Δ NPV, 95% interval low (USD)", "npv_operating_profit", "ci_low"),
            ("Δ NPV, 95% interval high (USD)", "npv_operating_profit", "ci_high"),
            ("Δ operating profit vs base, mean (USD)", "operating_profit_total", "mean_delta"),
            ("Δ operating profit, 95% interval low (USD)", "operating_profit_total", "ci_low"),
            ("P(beats base on operating profit)", "operating_profit_total", "prob_better"),
            ("P(beats base), 95% interval high", "operating_profit_total",
             "prob_better_high")):
        expected = float(deltas[("price_increase", kpi)][stat])
        assert row[header.index(column)] == pytest.approx(expected, rel=1e-12, abs=1e-9), column
    # the comparison sheet carries every compared KPI as compare wrote it
    comp = wb["Comparison"]
    header = [c.value for c in comp[2]]
    rows = [r for r in comp.iter_rows(min_row=3, values_only=True) if r[0] is not None]
    assert len(rows) == len(deltas)
    for r in rows:
        (key,) = [k for k, d in deltas.items() if d["label"] == r[1]]
        assert r[header.index("Difference, mean of paired runs")] == pytest.approx(
            float(deltas[key]["mean_delta"]), rel=1e-12, abs=1e-9)
        assert r[header.index("P(plan higher than base)")] == pytest.approx(
            float(deltas[key]["prob_better"]))
    # and the compare command's own verdict file ranks the same way
    ranked = list(csv.DictReader((tmp / "compare" / "verdict.csv").open(encoding="utf-8")))
    assert [r["scenario"] for r in ranked] == [
        r[1] for r in wb["Verdict"].iter_rows(min_row=3, values_only=True)
        if isinstance(r[0], int | float)]


def test_report_shows_a_progress_bar_on_a_terminal(tmp_path):
    """Under a pseudo-terminal the steps are a (transient) bar, not one line each; the last
    line still names the report."""
    import pty
    import select

    out = tmp_path / "r"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([REVSIM, "report", "scenarios/baseline.yaml", "--reps", "1",
                             "--months", "3", "--executor", "serial", "--out", str(out)],
                            cwd=ROOT, stdin=follower, stdout=follower, stderr=follower,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 600)
        if not ready:
            proc.kill()
            pytest.fail("revsim report hung under a terminal")
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command finished
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in text  # the bar was drawn (and cleared)
    assert "report: ran notebook baseline (" not in text  # no plain step lines
    assert "report: " + str(out / "index.html") in text.replace("\r\n", "\n")
    assert "KeyboardInterrupt" not in text and "Traceback" not in text
