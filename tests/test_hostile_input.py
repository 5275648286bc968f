"""Hostile input: bounded work on every input, one line (exit 2) for anything out of bounds.

YAML bombs, deep nesting and endless ``extends`` chains are refused before any value is built;
numbers outside their documented range and booleans posing as numbers are refused by the
scenario schema; a run whose estimated work is too large is refused before simulating unless
``--allow-large`` is given; long runs show progress within replications.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import run_cli
from test_cli import REVSIM, invoke
from test_scenario import BASELINE, ROOT, SCENARIOS, WHAT_IFS

import sim
import sim.experiments.workload
from sim.experiments.replication import simulate
from sim.scenario.io import (
    MAX_EXTENDS_DEPTH,
    MAX_FILE_BYTES,
    MAX_NESTING_DEPTH,
    ScenarioError,
    load_scenario,
    with_overrides,
)

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ONE_LINE = re.compile(r"^[^\n]+\n?$")


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_error(path: str | Path, overrides=None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value.lines


def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """Nested mapping aliases: ``width ** levels`` values once expanded, under 1 KB of text."""
    lines = ["a0: &a0 {x: 1, y: 2}"]
    for i in range(1, levels):
        items = ", ".join(f"k{j}: *a{i - 1}" for j in range(width))
        lines.append(f"a{i}: &a{i} {{{items}}}")
    return "\n".join(lines) + "\n"


def _limit_memory() -> None:
    one_gb = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (one_gb, one_gb))


# ---------------------------------------------------------------- YAML limits


def test_alias_bomb_is_refused_fast_in_bounded_memory(here):
    text = alias_bomb()
    assert len(text) < 1000
    (here / "bomb.yaml").write_text(text)
    proc = subprocess.run([REVSIM, "validate", "bomb.yaml"], capture_output=True, text=True,
                          timeout=60, env=ENV, cwd=here, preexec_fn=_limit_memory)
    assert proc.returncode == 2, proc.stderr
    assert ONE_LINE.match(proc.stderr), proc.stderr
    assert proc.stderr.startswith("bomb.yaml: line ")
    assert "once aliases are expanded (limit MAX_EXPANDED_NODES)" in proc.stderr
    assert proc.stdout == ""


def test_alias_bomb_in_an_override_value_is_refused():
    bomb = "{" + alias_bomb().strip().replace("\n", ", ") + "}"
    lines = load_error(BASELINE, [f"description={bomb}"])
    assert lines == [f"--set description: (override): value {bomb!r} is not valid"]


def test_recursive_alias_is_refused(here):
    (here / "bad.yaml").write_text("extends: baseline.yaml\ntargets: &t [*t]\n")
    assert load_error("bad.yaml") == [
        "bad.yaml: line 2, column 10: an alias refers to itself (recursive structure)"]


@pytest.mark.parametrize("style", ["block", "flow"])
def test_deep_nesting_is_one_line(here, style):
    depth = 200
    if style == "flow":
        text = "description: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "x: 1\n"
    (here / "deep.yaml").write_text(text)
    lines = load_error("deep.yaml")
    assert len(lines) == 1
    assert lines[0].startswith("deep.yaml: line ")
    assert lines[0].endswith(f"nested deeper than {MAX_NESTING_DEPTH} levels "
                             "(limit MAX_NESTING_DEPTH)")


def test_nesting_through_aliases_counts_expanded_depth(here):
    # each level is shallow on the page, but the aliases stack up to 40 levels
    lines = ["l0: &l0 {x: 1}"] + [f"l{i}: &l{i} {{n: *l{i - 1}}}" for i in range(1, 40)]
    (here / "deep.yaml").write_text("\n".join(lines) + "\n")
    lines = load_error("deep.yaml")
    assert len(lines) == 1 and lines[0].endswith("once aliases are expanded "
                                                 "(limit MAX_NESTING_DEPTH)")


def test_long_extends_chain_is_one_line(here):
    n = 1500
    for i in range(n - 1):
        (here / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
    (here / f"c{n - 1}.yaml").write_text("extends: baseline.yaml\n")
    assert load_error("c0.yaml") == [
        f"c0.yaml: extends: chain longer than {MAX_EXTENDS_DEPTH} files "
        "(limit MAX_EXTENDS_DEPTH)"]
    # a chain within the limit loads
    assert load_scenario(here / f"c{n - MAX_EXTENDS_DEPTH + 1}.yaml").horizon_months == 36


def test_oversized_file_is_refused_without_parsing(here):
    with open(here / "big.yaml", "w") as fh:
        fh.write("extends: baseline.yaml\n")
        fh.write(("# " + "x" * 98 + "\n") * (MAX_FILE_BYTES // 100 + 1))
    assert load_error("big.yaml") == [
        f"big.yaml: (file): larger than {MAX_FILE_BYTES:,} bytes (limit MAX_FILE_BYTES)"]


def test_limits_leave_room_for_every_bundled_scenario():
    for path in [BASELINE, *WHAT_IFS]:
        load_scenario(path)


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(("line", "expected"), [
    ("sales: {teams: {smb: {count: yes}}}",
     "sales.teams.smb.count: expected a number, not true (YAML reads yes/no/on/off as "
     "true/false)"),
    ("headcount: {sdr: {count: on}}",
     "headcount.sdr.count: expected a number, not true (YAML reads yes/no/on/off as true/false)"),
    ("horizon_months: off",
     "horizon_months: expected a number, not false (YAML reads yes/no/on/off as true/false)"),
    ("segments: {smb: {patience_days: {mean: yes}}}",
     "segments.smb.patience_days.mean: expected a number, not true (YAML reads yes/no/on/off "
     "as true/false)"),
    ("segments: {smb: {onboarding_target_days: true}}",
     "segments.smb.onboarding_target_days: expected a number, not true (YAML reads "
     "yes/no/on/off as true/false)"),
    ("sales: {teams: {smb: {count: " + "1" + "0" * 400 + "}}}",
     "sales.teams.smb.count: must be <= 1000000 (got a number of 401 digits)"),
    ("channels: {inbound: {budget_per_month_usd: " + "1" + "0" * 400 + "}}",
     "channels.inbound.budget_per_month_usd: number too large (got a number of 401 digits)"),
    ("channels: {inbound: {budget_per_month_usd: 1.0e+308}}",
     "channels.inbound.budget_per_month_usd: must be <= 1000000000000 (got 1e+308)"),
    ("channels: {inbound: {budget_per_month_usd: 1e308}}",  # YAML 1.1 reads this as text
     "channels.inbound.budget_per_month_usd: must be <= 1000000000000 (got '1e308')"),
    ("finance: {starting_cash_usd: -1.0e+308}",
     "finance.starting_cash_usd: must be >= -1000000000000 (got -1e+308)"),
    ("segments: {smb: {seats: {dist: lognormal, median: 1.0e+9, sigma: 0.5}}}",
     "segments.smb.seats: mean or highest value must be <= 1,000,000 (got 1.13315e+09, "
     "limit MAX_SEATS)"),
    ("segments: {smb: {installed_customers: 2000000000}}",
     "segments.smb.installed_customers: must be <= 1000000000 (got 2000000000)"),
    ("channels: {inbound: {cost_per_lead_usd: {smb: 1.0e+13}}}",
     "channels.inbound.cost_per_lead_usd.smb: must be <= 1000000000000 (got 10000000000000)"),
    ("channels: {outbound: {accounts_contacted_per_sdr_per_month: {enterprise: 0}}}",
     "channels.outbound.accounts_contacted_per_sdr_per_month.enterprise: must be > 0 (got 0)"),
    ("channels: {partner: {partner_plan: [{month: 2, value: 1.0e+9}]}}",
     "channels.partner.partner_plan.0.value: must be <= 1000000 partners (got 1e+09)"),
])
def test_numbers_out_of_range_are_one_line(here, line, expected):
    (here / "bad.yaml").write_text(f"extends: baseline.yaml\n{line}\n")
    assert load_error("bad.yaml") == [f"bad.yaml: {expected}"]


def test_whole_numbers_written_with_a_point_are_accepted(here):
    (here / "ok.yaml").write_text("extends: baseline.yaml\nheadcount: {sdr: {count: 5.0}}\n")
    assert load_scenario("ok.yaml").headcount == load_scenario("baseline.yaml").headcount
    assert load_scenario("ok.yaml").headcount.sdr.count == 5


def test_booleans_stay_booleans_where_a_boolean_belongs(here):
    (here / "ok.yaml").write_text("extends: baseline.yaml\naccount_plan: {enabled: yes}\n")
    assert load_scenario("ok.yaml").account_plan.enabled is True


def test_cli_prints_huge_integer_as_one_line(here):
    (here / "bad.yaml").write_text("extends: baseline.yaml\nheadcount: {sdr: {count: "
                                   + "9" * 4000 + "}}\n")
    proc = run_cli("validate", "bad.yaml", cwd=here)
    assert proc.returncode == 2
    assert proc.stderr == ("bad.yaml: headcount.sdr.count: must be <= 1000000 "
                           "(got a number of 4000 digits)\n")


# ---------------------------------------------------------------- work estimate


def test_bundled_scenarios_pass_the_work_limits_with_margin():
    for path in [BASELINE, *WHAT_IFS]:
        sc = load_scenario(path)
        assert sim.experiments.workload.check([(sc, 1)], 20 * 10) is None, path  # 10x the default reps


def test_estimate_follows_the_simulation():
    sc = load_scenario(BASELINE)
    res = simulate(sc.model_copy(update={"horizon_months": 12}), seed=0)
    est = sim.experiments.workload.estimate(sc.model_copy(update={"horizon_months": 12}))
    opps = res.monthly["opportunities"].sum()
    assert 0.7 * opps <= est.opportunities <= 1.5 * opps
    assert res.stats["simpy_events"] <= est.events <= 3 * res.stats["simpy_events"]


# a huge budget on a huge market: the in-market share no longer bounds the opportunities
HUGE_BUDGET = ("extends: baseline.yaml\nchannels: {inbound: {budget_per_month_usd: 1.0e+12}}\n"
               "segments: {smb: {market_size_accounts: 1000000000}}\n")


@pytest.mark.parametrize("args", [
    ["run", "big.yaml"],
    ["compare", "baseline.yaml", "big.yaml"],
    ["sweep", "big.yaml", "--grid", "channels.inbound.budget_per_month_usd=1e5,1e12"],
    ["sensitivity", "big.yaml"],
    ["report", "big.yaml", "--out", "rep"],
], ids=lambda a: a[0])
def test_huge_work_is_refused_before_simulating(here, args):
    (here / "big.yaml").write_text(HUGE_BUDGET)
    before = sorted(p.name for p in here.iterdir())
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large" \
        in result.stderr
    assert "opportunities" in result.stderr
    assert sorted(p.name for p in here.iterdir()) == before  # nothing written


def test_allow_large_lets_a_refused_run_through(here, monkeypatch):
    monkeypatch.setattr(sim.experiments.workload, "MAX_EVENTS_PER_RUN", 1000)
    args = ["run", "baseline.yaml", "--reps", "2", "--months", "2", "--executor", "serial"]
    refused = invoke(*args)
    assert refused.exit_code == 2
    assert "exceed the limit of 1e+03 (MAX_EVENTS_PER_RUN); lower --reps or pass --allow-large" \
        in refused.stderr
    accepted = invoke(*args, "--allow-large")
    assert accepted.exit_code == 0, accepted.output
    assert "Revenue" in accepted.stdout


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "baseline.yaml", "--months", "0"],
     ["baseline.yaml (--set): horizon_months: must be >= 1 (got 0)"]),
    (["report", "baseline.yaml", "--months", "0", "--out", "rep"],
     ["--months: must be between 1 and 120 (got 0)"]),
    (["report", "baseline.yaml", "--months", "121", "--out", "rep"],
     ["--months: must be between 1 and 120 (got 121)"]),
    (["run", "baseline.yaml", "--reps", "-2"], ["--reps: must be between 1 and 1,000,000 (got -2)"]),
    (["compare", "baseline.yaml", "baseline.yaml", "--reps", "0"],
     ["--reps: must be between 1 and 1,000,000 (got 0)"]),
    (["sweep", "baseline.yaml", "--grid", "horizon_months=2", "--seed", "-1"],
     ["--seed: must be between 0 and 9,223,372,036,854,775,807 (got -1)"]),
    (["sensitivity", "baseline.yaml", "--seed", "1" + "0" * 30],
     ["--seed: must be between 0 and 9,223,372,036,854,775,807 (got a number of 31 digits)"]),
])
def test_out_of_range_flags_are_one_line(here, args, expected):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == expected
    assert sorted(p.name for p in here.iterdir()) == ["baseline.yaml"]


# ---------------------------------------------------------------- progress


def test_progress_hook_is_called_every_month_and_changes_nothing():
    sc = load_scenario(BASELINE).model_copy(update={"horizon_months": 4})
    calls: list[tuple[int, int]] = []
    with_hook = simulate(sc, seed=1, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    plain = simulate(sc, seed=1)
    assert with_hook.monthly.equals(plain.monthly)
    assert with_hook.stats["simpy_events"] == plain.stats["simpy_events"]


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_progress_lines_off_a_terminal(here, executor):
    proc = run_cli("run", "baseline.yaml", "--reps", "2", "--months", "5", "--executor",
                   executor, env={"REVSIM_PROGRESS": "always"}, cwd=here)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1] == "baseline: 100% (10 of 10 months simulated)"
    # a slow machine's line also says how long is left (issue 27): ", about 12 s left"
    pattern = r"baseline: (\d+)% \(\d+ of 10 months simulated(, about [0-9a-z ]+ left)?\)$"
    percents = [int(re.match(pattern, ln).group(1)) for ln in lines]
    assert percents == sorted(set(percents)) and len(percents) >= 5  # within replications
    assert "\x1b" not in proc.stderr


def test_short_runs_print_no_progress_lines(here):
    proc = run_cli("run", "baseline.yaml", "--reps", "1", "--months", "2", "--executor",
                   "serial", cwd=here)
    assert proc.returncode == 0 and "months simulated" not in proc.stderr, proc.stderr


def test_progress_names_are_printed_as_data(here):
    (here / "odd.yaml").write_text('extends: baseline.yaml\nname: "[/bold] \\e[31mred"\n')
    proc = run_cli("run", "odd.yaml", "--reps", "1", "--months", "1", "--executor", "serial",
                   env={"REVSIM_PROGRESS": "always"}, cwd=here)
    progress = [ln for ln in proc.stderr.splitlines() if "months simulated" in ln]
    assert progress == ["[/bold] ?[31mred: 100% (1 of 1 months simulated)"]


def test_with_overrides_keeps_ranges():
    with pytest.raises(ScenarioError):
        with_overrides(load_scenario(SCENARIOS / "baseline.yaml"),
                       {"channels.inbound.budget_per_month_usd": 1e13})


@pytest.mark.parametrize(("args", "flag"), [
    (["report", "baseline.yaml", "--out", "rep", "--months", "2"], "--max-reps"),
    (["report", "baseline.yaml", "--out", "rep", "--months", "2", "--reps", "2"], "--reps"),
    (["compare", "baseline.yaml", "baseline.yaml", "--months", "2", "--precision", "1000"],
     "--max-reps"),
], ids=["adaptive-report", "fixed-report", "compare-precision"])
def test_a_refusal_names_the_option_that_set_the_replications(here, monkeypatch, args, flag):
    """An adaptive run is checked at its cap, so the line names --max-reps, not --reps."""
    monkeypatch.setattr(sim.experiments.workload, "MAX_EVENTS_PER_RUN", 1000)
    before = sorted(p.name for p in here.iterdir())
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert f"(MAX_EVENTS_PER_RUN); lower {flag} or pass --allow-large" in result.stderr
    assert sorted(p.name for p in here.iterdir()) == before
