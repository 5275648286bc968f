"""Text revsim writes into CSV is never a live spreadsheet formula, and reads back as written.

A real ``revsim export`` of a small scenario whose segment is named like a DDE payload: every
cell of every CSV is checked with the csv module (nothing starts with ``=``, ``+``, ``-``,
``@``, tab or CR unless it is a number or carries the quote), and calibrate's reader gives
the original name back.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sim.outputs.escape import csv_frame, csv_text, csv_untext

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
REVSIM = shutil.which("revsim") or str(Path(os.sys.executable).parent / "revsim")
EVIL = "@SUM(1+9)*cmd|' /C calc'!A0"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rename(node, old: str, new: str):
    if isinstance(node, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename(v, old, new) for v in node]
    return new if node == old else node


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``revsim export`` of the baseline over 6 months with ``smb`` renamed to EVIL."""
    from sim.scenario.io import load_scenario, scenario_to_dict

    folder = tmp_path_factory.mktemp("evil")
    data = _rename(scenario_to_dict(load_scenario(ROOT / "scenarios" / "baseline.yaml")),
                   "smb", EVIL)
    data["horizon_months"] = 6
    (folder / "evil.yaml").write_text(json.dumps(data), encoding="utf-8")
    proc = subprocess.run([REVSIM, "export", "evil.yaml", "--seed", "3", "--out", "co"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return folder / "co", [s for s in data["segments"]]


def test_no_exported_cell_is_a_live_formula(exported):
    out, _ = exported
    quoted = 0
    for path in sorted(out.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell.startswith(FORMULA_START):
                        assert _number(cell), f"{path.name}: live formula {cell!r}"
                    quoted += cell == "'" + EVIL
    assert quoted > 0  # the name was written, as text


def test_calibrate_reads_the_original_name_back(exported):
    from sim.calibrate.run import read_inputs

    out, segments = exported
    files = {k: out / f"{k}.csv" for k in ("subscriptions", "opportunities", "leads",
                                          "invoices")}
    inputs = read_inputs(files, segments)
    for kind in ("subscriptions", "opportunities", "leads"):
        names = set(getattr(inputs, kind)["segment"])
        assert EVIL in names, kind
        assert "'" + EVIL not in names, kind


def test_negative_numbers_stay_numbers_and_text_round_trips():
    df = pd.DataFrame({"name": ["=1+1", "-x", "'=quoted", "''@two", "plain", "'plain", None],
                       "value": [-1.5, -2, 3, 4, 5, 6, 7]})
    out = csv_frame(df)
    assert out["value"].tolist() == df["value"].tolist()
    assert out["name"].tolist()[:6] == ["'=1+1", "'-x", "''=quoted", "'''@two", "plain",
                                       "'plain"]
    back = [csv_untext(v) for v in out["name"]]
    assert back[:6] == df["name"].tolist()[:6]
    assert csv_text(-3) == -3


def test_every_csv_revsim_writes_goes_through_csv_frame():
    """Every ``to_csv`` under sim/ writes a frame that went through ``csv_frame``."""
    offenders = []
    for path in (ROOT / "sim").rglob("*.py"):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ".to_csv(" in line and "csv_frame(" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["plan\r=1+2", "t\r-1+cmd|' /C calc'!A0", "\r=1+1", "a\r\n@x"])
def test_a_carriage_return_cannot_start_a_row_of_formulas(tmp_path, name):
    """A bare CR is a row break to a spreadsheet but not quoted by the CSV writer: after
    csv_frame the cell holds a line feed instead, so it is quoted and stays one cell."""
    import csv

    path = tmp_path / "t.csv"
    csv_frame(pd.DataFrame({"name": [name], "value": [1.0]})).to_csv(path, index=False)
    raw = path.read_bytes()
    assert b"\r" not in raw
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 2 and len(rows[1]) == 2  # the header and one row of two cells
    cell = rows[1][0]
    assert cell.replace("\n", "") == csv_text(name).replace("\r", "").replace("\n", "")
