"""The ``revsim`` command line: clean one-line errors, exit codes, nothing written on failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from support.cli import snapshot as listing
from test_scenario import BAD_INPUTS, BASELINE, ROOT, SCENARIOS, WHAT_IFS
from typer.testing import CliRunner

import sim
from sim.cli import app

REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent))
FAST = ["--reps", "2", "--months", "2", "--executor", "serial"]
"""Options that keep a real simulation run under a second."""


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_failure(result, expected_lines: list[str] | None = None) -> list[str]:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines
    if expected_lines is not None:
        assert lines == expected_lines
    return lines


# ---------------------------------------------------------------- validate


def test_validate_accepts_every_bundled_scenario():
    paths = [BASELINE, *WHAT_IFS]
    result = invoke("validate", *paths)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines, strict=True):
        assert re.fullmatch(rf"ok  {re.escape(str(path))}  \(hash [0-9a-f]{{12}}\)", line), line


@pytest.mark.slow
@pytest.mark.parametrize(("files", "expected"), [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_validate_prints_one_line_per_problem_and_writes_nothing(here, files, expected):
    for name, text in ({"bad.yaml": files} if isinstance(files, str) else files).items():
        (here / name).write_text(text, encoding="utf-8")
    before = listing(here)
    result = invoke("validate", "bad.yaml")
    assert_clean_failure(result, expected)
    assert result.stdout == ""
    assert listing(here) == before


def test_validate_checks_every_file_and_fails_if_any_fails(here):
    (here / "bad.yaml").write_text("extends: baseline.yaml\nhorizon_months: 0\n")
    result = invoke("validate", "baseline.yaml", "bad.yaml", "missing.yaml")
    assert_clean_failure(result, ["bad.yaml: horizon_months: must be >= 1 (got 0)",
                                  "missing.yaml: (file): file not found"])
    assert result.stdout.startswith("ok  baseline.yaml  (hash ")


def test_validate_never_executes_unsafe_tags(here):
    marker = here / "pwned"
    (here / "bad.yaml").write_text(
        f'horizon_months: !!python/object/apply:os.system ["touch {marker}"]\n')
    lines = assert_clean_failure(invoke("validate", "bad.yaml"))
    assert len(lines) == 1 and "rejected (tags are never executed)" in lines[0]
    assert not marker.exists()


def test_validate_with_overrides(here):
    assert invoke("validate", "baseline.yaml", "--set", "horizon_months=48").exit_code == 0
    assert_clean_failure(
        invoke("validate", "baseline.yaml", "--set", "sales.commission_frac=1.5"),
        ["baseline.yaml (--set): sales.commission_frac: must be <= 1 (got 1.5)"])
    assert_clean_failure(invoke("validate", "baseline.yaml", "--set", "sales"),
                         ["--set sales: (override): expected key.path=value"])


# ---------------------------------------------------------------- schema


def test_schema_writes_json_schema_to_a_file_and_stdout(tmp_path):
    out = tmp_path / "sub" / "scenario.schema.json"
    result = invoke("schema", "--out", out)
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text())
    assert {"segments", "extends", "pricing"} <= set(schema["properties"])
    printed = invoke("schema")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == schema


# ---------------------------------------------------------------- run


def test_run_prints_headline_kpis_and_writes_results(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", BASELINE, *FAST, "--seed", "3", "--out", out, "--events")
    assert result.exit_code == 0, result.output
    assert "Operating profit" in result.stdout and "P10" in result.stdout
    assert "baseline" in result.stdout
    for name in ("monthly.parquet", "summary.json", "scenario.resolved.yaml", "events.parquet"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["replications"] == 2
    resolved = (out / "scenario.resolved.yaml").read_text()
    scenario = sim.load_scenario(BASELINE, overrides={"horizon_months": 2})
    assert resolved.startswith(f"# scenario hash: {sim.scenario_hash(scenario)}\n# seed: 3\n")
    assert yaml.safe_load(resolved)["horizon_months"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize(("args", "expected"), [
    (["--months", "500"], ["baseline.yaml (--set): horizon_months: must be <= 120 (got 500)"]),
    (["--set", "pricing.segments.smb.list_price_usd=-1"],
     ["baseline.yaml (--set): pricing.segments.smb.list_price_usd: money must not be negative "
      "(got -1)"]),
    (["--set", "nokey"], ["--set nokey: (override): expected key.path=value"]),
    (["--scheduler", "tcp://127.0.0.1:1", "--executor", "serial"],
     ["--scheduler: needs --executor dask (got --executor serial)"]),
    (["--events"], ["--events: needs --out DIR"]),
])
def test_run_rejects_bad_input_before_running(here, args, expected):
    result = invoke("run", "baseline.yaml", "--reps", "1", *args)
    assert_clean_failure(result, expected)


def test_a_failing_run_never_touches_an_earlier_result(here):
    out = here / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"earlier": true}')
    (here / "bad.yaml").write_text("extends: baseline.yaml\nfinance: {collection_lag_days: -3}\n")
    before = listing(here)
    assert_clean_failure(invoke("run", "bad.yaml", "--out", out))
    assert listing(here) == before


# ---------------------------------------------------------------- compare, sweep, sensitivity


@pytest.mark.slow
def test_compare_prints_deltas_and_writes_them(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", BASELINE, SCENARIOS / "price_increase.yaml", "--reps", "2",
                    "--set", "horizon_months=2", "--executor", "serial", "--out", out)
    assert result.exit_code == 0, result.output
    assert "price_increase" in result.stdout and "95% interval" in result.stdout
    assert (out / "deltas.csv").is_file()


def test_compare_reports_every_bad_file(here):
    (here / "a.yaml").write_text("extends: baseline.yaml\nhorizon_months: 0\n")
    (here / "b.yaml").write_text("extends: nothere.yaml\n")
    assert_clean_failure(invoke("compare", "baseline.yaml", "a.yaml", "b.yaml"), [
        "a.yaml: horizon_months: must be >= 1 (got 0)",
        "b.yaml: extends: file not found: 'nothere.yaml'",
    ])


def test_sweep_prints_grid_and_best_points():
    result = invoke("sweep", BASELINE, "--grid", "pricing.segments.smb.list_price_usd=550,650",
                    "--reps", "1", "--set", "horizon_months=2", "--executor", "serial")
    assert result.exit_code == 0, result.output
    assert "Best for revenue: List price, smb $" in result.stdout  # the lever in words
    assert "95% interval" in result.stdout and "edge of the grid" in result.stdout
    assert "Best for operating profit: " in result.stdout


@pytest.mark.parametrize(("grid", "expected"), [
    (["horizon_months=3,500"], ["baseline.yaml (--grid): horizon_months: must be <= 120 (got 500)"]),
    (["horizon_months=3,x"], ["--grid horizon_months: (grid): 'x' is not a number"]),
    (["horizon_months"], ["--grid horizon_months: (grid): expected key.path=v1,v2,..."]),
    (["a=1", "b=1", "c=1", "d=1"], ["--grid: (grid): a sweep takes one to three keys (got 4)"]),
])
def test_sweep_rejects_bad_grids(here, grid, expected):
    args = [a for g in grid for a in ("--grid", g)]
    assert_clean_failure(invoke("sweep", "baseline.yaml", *args), expected)


def test_sensitivity_prints_a_tornado_table():
    result = invoke("sensitivity", BASELINE, "--levers", "pricing.annual_uplift_frac",
                    "--reps", "1", "--set", "horizon_months=2", "--executor", "serial")
    assert result.exit_code == 0, result.output
    assert "Annual price uplift at renewal" in result.stdout and "Swing" in result.stdout
    assert "e+" not in result.stdout and "e-0" not in result.stdout  # plain units


def test_sensitivity_rejects_an_unknown_lever(here):
    lines = assert_clean_failure(invoke("sensitivity", "baseline.yaml", "--levers", "nope.x",
                                        "--reps", "1", "--executor", "serial"))
    assert len(lines) == 1 and lines[0].startswith("--levers: nope.x")


# ---------------------------------------------------------------- report


def test_report_hands_the_scenarios_to_the_report_pipeline(tmp_path, monkeypatch):
    calls = []

    def build_report(paths, replications, seed, out_dir, executor, months, scheduler,
                     **adaptive):
        calls.append((paths, replications, seed, out_dir, executor, months, scheduler,
                      adaptive))
        return 3

    monkeypatch.setitem(sys.modules, "sim.report.build",
                        types.SimpleNamespace(build_report=build_report))
    result = invoke("report", BASELINE, SCENARIOS / "discount_cap.yaml", "--reps", "4",
                    "--seed", "9", "--out", tmp_path / "r", "--executor", "serial",
                    "--months", "12")
    assert result.exit_code == 3
    assert calls == [([BASELINE, SCENARIOS / "discount_cap.yaml"], 4, 9, tmp_path / "r",
                      "serial", 12, None, {"precision": None})]
    # without --reps the report is adaptive: no fixed count, the default precision and cap
    calls.clear()
    assert invoke("report", BASELINE, SCENARIOS / "discount_cap.yaml", "--out",
                  tmp_path / "r").exit_code == 3
    assert calls[0][1] is None and calls[0][7] == {"precision": None}
    calls.clear()
    assert invoke("report", BASELINE, SCENARIOS / "discount_cap.yaml", "--precision", "2e5",
                  "--max-reps", "30", "--out", tmp_path / "r").exit_code == 3
    assert calls[0][1] is None
    assert calls[0][7] == {"precision": 200000.0, "max_replications": 30}


@pytest.mark.parametrize(("args", "why"), [
    (["--precision", "0"], "--precision 0.0: must be a positive amount of USD"),
    (["--reps", "5", "--max-reps", "9"], "--max-reps: only with adaptive replications"),
    (["--reps", "50", "--precision", "1e5", "--max-reps", "20"],
     "--max-reps 20: must be between --reps (50) and 100000"),
])
def test_report_refuses_bad_precision_flags(tmp_path, args, why):
    lines = assert_clean_failure(invoke("report", BASELINE, *args, "--out", tmp_path / "r"))
    assert len(lines) == 1 and lines[0].startswith(why), lines
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- the installed console script


def run_script(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    assert REVSIM, "the revsim console script is not installed in this environment"
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([REVSIM, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120)


def test_console_script_validates_the_bundled_scenarios():
    files = sorted(str(p.relative_to(ROOT)) for p in SCENARIOS.glob("*.yaml"))
    proc = run_script("validate", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok  scenarios/") == len(files)


def test_console_script_fails_cleanly(here):
    (here / "bad.yaml").write_text("extends: baseline.yaml\npricing: {segments: {smb: "
                                   "{discount_cap_frac: 1.5}}}\n")
    proc = run_script("validate", "bad.yaml", cwd=here)
    assert proc.returncode == 2
    assert proc.stderr == "bad.yaml: pricing.segments.smb.discount_cap_frac: must be <= 1 " \
        "(got 1.5)\n"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_console_script_help_lists_the_commands():
    proc = run_script("--help")
    assert proc.returncode == 0
    for command in ("validate", "schema", "run", "compare", "sweep", "sensitivity", "report"):
        assert command in proc.stdout


def test_cli_import_stays_light():
    """The CLI module itself adds no heavy import on top of the package (reports, charts and
    notebooks load only inside their commands)."""
    code = ("import sys, sim; before = set(sys.modules); import sim.cli; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
            "('pandas', 'altair', 'papermill', 'nbconvert', 'dask', 'distributed') "
            "or m in ('sim.report.build', 'sim.report.charts', 'sim.report.tables')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_cli_import_does_not_load_pandas():
    code = "import sys, sim.cli; print('pandas' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize("args, expected", [
    (["run", "scenarios/baseline.yaml", "--reps", "abc"], "revsim run: Invalid value for '--reps'"),
    (["nosuch"], "revsim: No such command 'nosuch'"),
    (["run"], "revsim run: Missing argument"),
    (["run", "scenarios/baseline.yaml", "--bogus", "1"], "revsim run: No such option: --bogus"),
])
def test_usage_errors_are_one_line_exit_2(args, expected):
    proc = run_script(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), proc.stderr
    assert "Traceback" not in proc.stderr and "╭" not in proc.stderr
