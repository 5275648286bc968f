"""The report pipeline (issue 27): a report built from cached replications holds the same data
as one that simulated them; a report that nothing changed since is left as it is; progress
lines fill every gap while notebooks run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest

from sim.experiments import cache
from sim.experiments.compare import compare
from sim.experiments.settings import RunSettings
from sim.report import build, freshness, progress
from sim.report.entries import Entry
from sim.scenario.io import load_scenario

ROOT = Path(__file__).resolve().parents[1]
REVSIM = str(ROOT / ".venv" / "bin" / "revsim")
NAMES = ("baseline.yaml", "price_increase.yaml")
ARGS = ("--reps", "2", "--months", "3", "--executor", "serial")


def _report(folder: Path, out: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([REVSIM, "report", *NAMES, *ARGS, "--out", str(out)], cwd=folder,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, **env})


def _data(report: Path) -> dict[str, bytes]:
    """The saved results, bytes, the run's statistics (timings, cache hits) left out."""
    out = {}
    for f in sorted((report / "data").rglob("*")):
        if f.suffix == ".parquet":
            out[str(f.relative_to(report))] = f.read_bytes()
        elif f.name == "result.json":
            meta = json.loads(f.read_text())
            meta.pop("stats")
            out[str(f.relative_to(report))] = json.dumps(meta).encode()
    return out


def _workbook(report: Path) -> list:
    """Every sheet's values but the time it was made."""
    wb = openpyxl.load_workbook(report / "revsim_report.xlsx")
    return [[row for row in ws.iter_rows(values_only=True) if row[0] != "Generated (UTC)"]
            for ws in wb.worksheets]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An uncached report, then one whose replications all come from a cache filled
    beforehand by an in-process comparison of the same scenarios."""
    folder = tmp_path_factory.mktemp("pipeline")
    for name in NAMES:
        shutil.copy(ROOT / "scenarios" / name, folder / name)
    store = folder / "cache"
    env = {"REVSIM_PROGRESS": "auto", cache.DIR_ENV: str(store)}
    plain = _report(folder, folder / "plain", {**env, cache.OFF_ENV: "1"})
    assert plain.returncode == 0, plain.stderr
    assert not store.exists()
    saved = {k: os.environ.get(k) for k in (cache.DIR_ENV, cache.OFF_ENV)}
    os.environ[cache.DIR_ENV] = str(store)
    os.environ.pop(cache.OFF_ENV, None)
    try:
        scs = [load_scenario(folder / n, {"horizon_months": 3}) for n in NAMES]
        compare(scs[0], scs[1:], settings=RunSettings(2, 0, "serial"))
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    warm = _report(folder, folder / "warm", {**env, cache.OFF_ENV: ""})
    assert warm.returncode == 0, warm.stderr
    return folder, plain, warm


@pytest.mark.e2e
def test_a_report_from_cached_replications_holds_the_same_data(built):
    folder, _, _ = built
    for name in ("baseline", "price_increase"):  # the warm one simulated nothing
        stats = json.loads((folder / "warm" / "data" / name / "result.json").read_text())["stats"]
        assert stats["replications_cached"] == 2
        stats = json.loads((folder / "plain" / "data" / name / "result.json").read_text())["stats"]
        assert stats["replications_cached"] == 0
    assert _data(folder / "warm") == _data(folder / "plain")
    assert _workbook(folder / "warm") == _workbook(folder / "plain")
    assert sorted(p.relative_to(folder / "warm") for p in (folder / "warm").rglob("*")) == \
        sorted(p.relative_to(folder / "plain") for p in (folder / "plain").rglob("*"))


@pytest.mark.e2e
def test_an_unchanged_report_is_left_as_it_is(built):
    folder, _, warm = built
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (folder / "warm").rglob("*")
              if p.is_file()}
    env = {"REVSIM_PROGRESS": "auto", cache.DIR_ENV: str(folder / "cache"), cache.OFF_ENV: ""}
    again = _report(folder, folder / "warm", env)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert again.stdout.strip().endswith("is up to date: nothing changed since it was built "
                                         "(--no-cache builds it again)")
    assert "ran notebook" not in again.stdout
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (folder / "warm").rglob("*")
             if p.is_file()}
    assert after == before


@pytest.mark.e2e
def test_any_change_builds_the_report_again(built, monkeypatch):
    folder, _, _ = built
    monkeypatch.setenv(cache.DIR_ENV, str(folder / "cache"))
    monkeypatch.delenv(cache.OFF_ENV, raising=False)
    settings = {"seed": 0, "reps": 2, "months": 3, "precision": None,
                "initial": build.REPORT_INITIAL_REPS, "max_reps": build.REPORT_MAX_REPS,
                "draws": True}

    def entries(overrides=None):
        out = [Entry(folder / n, n.removesuffix(".yaml")) for n in NAMES]
        for e in out:
            e.scenario = load_scenario(e.path, {"horizon_months": 3, **(overrides or {})})
        return out

    key = freshness.inputs_key(entries(), settings)
    assert freshness.up_to_date(folder / "warm", key)  # the key the build recorded
    assert not freshness.up_to_date(folder / "plain", key)  # built with the cache off
    changed = [freshness.inputs_key(entries({"finance.discount_rate_per_year_frac": 0.111}),
                                    settings),
               freshness.inputs_key(entries(), {**settings, "seed": 1}),
               freshness.inputs_key(entries(), {**settings, "months": 4}),
               freshness.inputs_key(entries(), {**settings, "draws": False})]
    assert all(not freshness.up_to_date(folder / "warm", k) for k in changed)
    monkeypatch.setenv(cache.OFF_ENV, "1")
    assert not freshness.up_to_date(folder / "warm", key)  # --no-cache always builds
    monkeypatch.delenv(cache.OFF_ENV)
    page = folder / "warm" / "html" / "baseline.html"
    page.write_text(page.read_text() + "<!-- edited -->")
    assert not freshness.up_to_date(folder / "warm", key)  # the folder is not what it wrote


@pytest.mark.e2e
def test_the_build_says_what_it_does_as_it_goes(built):
    _, plain, warm = built
    for proc in (plain, warm):
        lines = proc.stdout.splitlines()
        assert lines and all(ln.startswith("report: ") for ln in lines), lines
        assert lines[-1].endswith("(2 scenario(s), 0 failed) in " + lines[-1].split(" in ")[-1])


def test_heartbeat_lines_fill_gaps_with_what_is_left(monkeypatch, capsys):
    monkeypatch.setenv("REVSIM_PROGRESS", "auto")
    pace = progress.Pace(3, 2)
    pace.begin()
    pace.begin()
    with progress.heartbeat(pace.status, time.perf_counter(), every=0.2):
        time.sleep(0.5)
        pace.end()
        time.sleep(0.5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("report: still working: notebooks: 0 of 3 done, 2 running")
    assert "1 of 3 done, 1 running, about" in lines[-1]
    assert "left for the notebooks" in lines[-1]
    monkeypatch.setenv("REVSIM_PROGRESS", "never")
    with progress.heartbeat(pace.status, time.perf_counter(), every=0.2):
        time.sleep(0.5)
    assert capsys.readouterr().out == ""
