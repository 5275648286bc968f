"""The shipped example company is what ``revsim export`` makes (same seed → same bytes), and
``revsim export`` refuses bad input with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REVSIM = shutil.which("revsim") or str(Path(os.sys.executable).parent / "revsim")
FILES = ("subscriptions.csv", "opportunities.csv", "leads.csv", "invoices.csv", "actuals.csv",
         "company.json")


def run(*args, cwd):
    return subprocess.run([REVSIM, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


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
