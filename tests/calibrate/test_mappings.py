"""Vendor mappings: each sample in its vendor's own column layout calibrates to the same
numbers as its canonical twin (``scripts/make_examples.py`` writes both)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
MAPS = EX / "mappings"
BASE = EX / "example_company.yaml"
REVSIM = shutil.which("revsim") or str(Path(os.sys.executable).parent / "revsim")

CASES = [("salesforce", "salesforce_opportunities", "opportunities"),
         ("hubspot", "hubspot_deals", "opportunities"),
         ("stripe", "stripe_subscriptions", "subscriptions")]


def calibrate(tmp_path, name, kind, sample, mapping=None):
    args = ["calibrate", "--base", BASE, f"--{kind}", sample, "--as-of", "2024-12-31",
            "--out", tmp_path / f"{name}.yaml"]
    if mapping is not None:
        args += ["--mapping", mapping]
    proc = subprocess.run([REVSIM, *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / f"{name}.yaml").read_text()
    return yaml.safe_load(text), text


@pytest.mark.parametrize(("vendor", "sample", "kind"), CASES, ids=[c[0] for c in CASES])
def test_a_vendor_export_calibrates_to_the_numbers_of_its_canonical_twin(tmp_path, vendor,
                                                                          sample, kind):
    raw = (MAPS / f"{sample}.csv").read_text().splitlines()[0]
    assert "customer_id" not in raw and "opportunity_id" not in raw  # really the vendor's layout
    got, got_text = calibrate(tmp_path, "vendor", kind, MAPS / f"{sample}.csv",
                              MAPS / f"{vendor}.yaml")
    want, want_text = calibrate(tmp_path, "twin", kind, MAPS / f"{sample}.canonical.csv")
    assert got["segments"] == want["segments"]
    assert got.get("channels") == want.get("channels")
    # the comments (estimates, intervals, n) agree too, line by line below the header
    body = [line for line in got_text.splitlines() if not line.startswith("#")]
    assert body == [line for line in want_text.splitlines() if not line.startswith("#")]
    assert len(got["segments"]) == 3  # every segment of the sample was fitted


def test_a_mapped_file_with_a_bad_value_names_the_vendor_file_row_and_column(tmp_path):
    rows = (MAPS / "salesforce_opportunities.csv").read_text().splitlines()
    rows[3] = rows[3].replace("Closed Lost", "Closed Maybe", 1)
    bad = tmp_path / "sf.csv"
    bad.write_text("\n".join(rows) + "\n")
    proc = subprocess.run([REVSIM, "calibrate", "--base", str(BASE), "--opportunities",
                           str(bad), "--mapping", str(MAPS / "salesforce.yaml"), "--as-of",
                           "2024-12-31", "--out", "c.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{bad}: row 4, column Stage (outcome): must be won, lost or open (got Closed Maybe)"]
    assert not (tmp_path / "c.yaml").exists()
