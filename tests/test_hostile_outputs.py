"""Hostile output paths: ``--out`` never destroys what revsim did not write, replacement is
atomic through kills and concurrent writers, results are byte-reproducible, reports hold no
pickles and finish quietly. Every case runs the real ``revsim`` script on real folders."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest
from support import cli
from support.cli import snapshot

from sim.report import store

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SMALL = ["--months", "6", "--reps", "2", "--executor", "serial"]
RESULT = {".revsim-output", "monthly.parquet", "by_segment.parquet", "by_channel.parquet",
          "by_team.parquet", "kpis.csv", "summary.json", "scenario.resolved.yaml", "run.json"}
REPRODUCIBLE = ("summary.json", "monthly.parquet", "by_segment.parquet", "by_channel.parquet",
                "by_team.parquet", "kpis.csv", "scenario.resolved.yaml")


revsim = partial(cli.revsim, timeout=180, PYTHONPATH=str(ROOT), COLUMNS="120")
start = partial(cli.start, PYTHONPATH=str(ROOT), COLUMNS="120")


def wait_for_pause(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Read the writer's stderr until it reports it paused at the fault point."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if "paused at" in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"writer ended (exit {proc.returncode}) before the pause")
    proc.kill()
    raise AssertionError("writer never reached the pause")


def user_files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.docx").write_bytes(b"four years of work")
    (folder / "photos").mkdir(exist_ok=True)
    (folder / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 meow")
    return folder


def one_line_refusal(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == "", "refused before any simulation: no KPI table printed"
    return lines[0]


# ---------------------------------------------------------------- what --out refuses


@pytest.fixture
def home(tmp_path) -> Path:
    """A home folder full of user files, and a working folder inside it."""
    h = user_files(tmp_path / "home")
    user_files(h / "Documents")
    return h


@pytest.mark.parametrize("out, why", [
    (".", "current folder"),
    ("..", "current folder"),
    ("~", "home folder"),
    ("~/Documents", "revsim did not write"),
    ("../Documents", "revsim did not write"),
    ("thesis.docx", "is a file"),
    ("link", "symbolic link"),
    ("thesis.docx/result", "is a file, so nothing can be written under it"),
    ("sub/..", "current folder"),
])
def test_run_refuses_destinations_it_did_not_write(home, out, why):
    cwd = user_files(home / "work")
    (cwd / "link").symlink_to(home / "Documents")
    before = snapshot(home)
    proc = revsim("run", BASELINE, *SMALL, "--out", out, cwd=cwd, HOME=str(home))
    line = one_line_refusal(proc)
    assert why in line and f"--out {out}" in line, line
    assert snapshot(home) == before  # every user file as it was, nothing added


def test_every_command_with_out_refuses_a_folder_of_user_files(tmp_path):
    docs = user_files(tmp_path / "docs")
    before = snapshot(tmp_path)
    for args in (["run", BASELINE, *SMALL],
                 ["compare", BASELINE, BASELINE, *SMALL],
                 ["report", BASELINE, *SMALL]):
        line = one_line_refusal(revsim(*args, "--out", docs, cwd=tmp_path))
        assert "choose a new folder or delete it yourself" in line
    for args in (["sweep", BASELINE, "--grid", "pricing.segments.smb.list_price_usd=550", *SMALL],
                 ["schema"]):
        line = one_line_refusal(revsim(*args, "--out", docs / "thesis.docx", cwd=tmp_path))
        assert "revsim did not write" in line
    assert snapshot(tmp_path) == before


def test_a_project_root_is_refused_even_with_a_planted_marker(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    (project / ".revsim-output").write_text('{"revsim": "0.1.0"}')
    before = snapshot(project)
    line = one_line_refusal(revsim("run", BASELINE, *SMALL, "--out", project, cwd=tmp_path))
    assert "project folder" in line
    assert snapshot(project) == before


def test_preflight_free_space_is_checked_before_simulating(tmp_path):
    proc = revsim("run", BASELINE, *SMALL, "--out", tmp_path / "r", cwd=tmp_path,
                  REVSIM_MIN_FREE_MB="1e12")
    assert "MiB free" in one_line_refusal(proc, code=1)  # the environment, not the input
    assert list(tmp_path.iterdir()) == []


def test_an_empty_folder_and_a_revsim_folder_are_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert revsim("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path).returncode == 0
    assert {p.name for p in out.iterdir()} == RESULT
    marker = json.loads((out / ".revsim-output").read_text())
    assert marker["revsim"] and "--out" in marker["command"]
    first = snapshot(out)
    proc = revsim("run", BASELINE, *SMALL, "--seed", "1", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(out)["summary.json"] != first["summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no lock, tmp or old left


def test_schema_and_sweep_replace_only_their_own_files(tmp_path):
    schema = tmp_path / "scenario.schema.json"
    assert revsim("schema", "--out", schema, cwd=tmp_path).returncode == 0
    assert revsim("schema", "--out", schema, cwd=tmp_path).returncode == 0  # its own file
    (tmp_path / "other.json").write_text('{"title": "my settings"}')
    assert "did not write" in one_line_refusal(
        revsim("schema", "--out", tmp_path / "other.json", cwd=tmp_path))
    assert json.loads((tmp_path / "other.json").read_text()) == {"title": "my settings"}
    csv = tmp_path / "sweep.csv"
    grid = ["--grid", "pricing.segments.smb.list_price_usd=550,650", *SMALL]
    assert revsim("sweep", BASELINE, *grid, "--out", csv, cwd=tmp_path).returncode == 0
    assert revsim("sweep", BASELINE, *grid, "--out", csv, cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".scenario.schema.json.revsim-output", ".sweep.csv.revsim-output", "other.json",
        "scenario.schema.json", "sweep.csv"]


def test_a_file_output_edited_copied_or_the_users_is_kept(tmp_path):
    """A file output is revsim's only while it matches its manifest: an edited sweep table,
    a copy without its manifest, a user's file with the sweep's columns are all refused."""
    grid = ["--grid", "pricing.segments.smb.list_price_usd=550,650", *SMALL]
    csv = tmp_path / "sweep.csv"
    assert revsim("sweep", BASELINE, *grid, "--out", csv, cwd=tmp_path).returncode == 0
    with csv.open("a") as fh:
        fh.write("board decided X\n")
    edited = csv.read_bytes()
    line = one_line_refusal(revsim("sweep", BASELINE, *grid, "--out", csv, cwd=tmp_path))
    assert "was changed since revsim wrote it" in line
    assert csv.read_bytes() == edited
    copy = tmp_path / "copy.csv"
    copy.write_bytes(edited)
    assert "no .copy.csv.revsim-output manifest" in one_line_refusal(
        revsim("sweep", BASELINE, *grid, "--out", copy, cwd=tmp_path))
    mine = tmp_path / "mine.csv"
    mine.write_text("revenue_total_mean,win_rate_frac,new_arr_per_deal,my_notes\n1,2,3,X\n")
    assert "did not write" in one_line_refusal(
        revsim("sweep", BASELINE, *grid, "--out", mine, cwd=tmp_path))
    assert mine.read_text().endswith("1,2,3,X\n") and copy.read_bytes() == edited
    schema = tmp_path / "s.json"
    assert revsim("schema", "--out", schema, cwd=tmp_path).returncode == 0
    assert "as a schema output, not a sweep one" in one_line_refusal(
        revsim("sweep", BASELINE, *grid, "--out", schema, cwd=tmp_path))


def test_disk_full_while_writing_is_one_line_exit_1_and_keeps_the_earlier_result(tmp_path):
    out = tmp_path / "r"
    assert revsim("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path).returncode == 0
    before = snapshot(out)
    proc = revsim("run", BASELINE, *SMALL, "--seed", "5", "--out", out, cwd=tmp_path,
                  REVSIM_FAULT="enospc")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"revsim: cannot write {out}: no space left on device (disk full); {out} was not changed"]
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# ---------------------------------------------------------------- kills and concurrent writers


@pytest.mark.parametrize("point, no_swap", [("before-swap", ""), ("after-swap", ""),
                                            ("between-renames", "1")])
def test_a_kill_between_the_steps_keeps_or_restores_the_earlier_result(tmp_path, point,
                                                                       no_swap):
    out = tmp_path / "r"
    assert revsim("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path).returncode == 0
    earlier = snapshot(out)
    proc = start("run", BASELINE, *SMALL, "--seed", "9", "--out", out, cwd=tmp_path,
                 REVSIM_FAULT_PAUSE=f"{point}:120", REVSIM_NO_RENAMEAT2=no_swap)
    wait_for_pause(proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "r")
    assert leftovers, "the kill landed mid-replacement"
    if point == "between-renames":  # the only window of the two-rename scheme
        assert not out.exists()
        recovered = revsim("recover", out, cwd=tmp_path)
        assert recovered.returncode == 0, recovered.stderr
        assert "restored" in recovered.stderr
        assert snapshot(out) == earlier
    elif point == "before-swap":
        assert snapshot(out) == earlier  # the earlier result never left the path
    else:  # swapped: the path holds the complete new result
        assert {p.name for p in out.iterdir()} == RESULT
        assert json.loads((out / "summary.json").read_text())["seed"] == 9
    # the next run cleans up whatever the killed one left
    assert revsim("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_the_next_run_restores_a_result_a_kill_left_aside(tmp_path):
    out = tmp_path / "r"
    assert revsim("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path).returncode == 0
    earlier = snapshot(out)
    proc = start("run", BASELINE, *SMALL, "--out", out, cwd=tmp_path,
                 REVSIM_FAULT_PAUSE="between-renames:120", REVSIM_NO_RENAMEAT2="1")
    wait_for_pause(proc)
    proc.kill()
    proc.wait(timeout=60)
    proc.stderr.close()
    assert not out.exists()
    # the next writer puts the earlier result back first (seen while it waits to swap) ...
    release = tmp_path.parent / f"{tmp_path.name}-release"
    nxt = start("run", BASELINE, *SMALL, "--seed", "4", "--out", out, cwd=tmp_path,
                REVSIM_FAULT_PAUSE="before-swap:120", REVSIM_FAULT_RELEASE=str(release))
    wait_for_pause(nxt)
    assert snapshot(out) == earlier
    release.touch()
    assert nxt.wait(timeout=120) == 0
    nxt.stderr.close()
    # ... then replaces it, leaving nothing else behind
    assert json.loads((out / "summary.json").read_text())["seed"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_two_writers_to_one_out_one_wins_the_other_gets_one_line(tmp_path):
    out = tmp_path / "r"
    release = tmp_path / "release"
    first = start("run", BASELINE, *SMALL, "--seed", "1", "--out", out, cwd=tmp_path,
                  REVSIM_FAULT_PAUSE="before-swap:120", REVSIM_FAULT_RELEASE=str(release))
    wait_for_pause(first)  # holds the destination, result built, about to swap
    second = revsim("run", BASELINE, *SMALL, "--seed", "2", "--out", out, cwd=tmp_path)
    line = one_line_refusal(second, code=1)
    assert "another revsim is writing there now" in line
    release.touch()
    assert first.wait(timeout=120) == 0
    first.stderr.close()
    release.unlink()
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_two_writers_started_together_never_race(tmp_path):
    out = tmp_path / "r"
    procs = [start("run", BASELINE, *SMALL, "--seed", str(s), "--out", out, cwd=tmp_path)
             for s in (1, 2)]
    codes, errs = [], []
    for p in procs:
        errs.append(p.stderr.read())
        codes.append(p.wait(timeout=180))
        p.stderr.close()
    assert 0 in codes and set(codes) <= {0, 1}, (codes, errs)
    for code, err in zip(codes, errs, strict=True):
        assert "Traceback" not in err
        if code == 1:
            assert "another revsim is writing there now" in err
    assert {p.name for p in out.iterdir()} == RESULT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# ---------------------------------------------------------------- reproducible bytes


def test_same_seed_same_bytes_on_serial_and_process(tmp_path):
    runs = {}
    for name, executor in (("a", "serial"), ("b", "serial"), ("c", "process")):
        proc = revsim("run", BASELINE, "--months", "6", "--reps", "2", "--seed", "3",
                      "--executor", executor, "--out", tmp_path / name, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs[name] = snapshot(tmp_path / name)
    for f in REPRODUCIBLE:
        assert runs["a"][f] == runs["b"][f] == runs["c"][f], f
    facts = json.loads(runs["c"]["run.json"])
    assert facts["executor"] == "process" and facts["wall_seconds"] > 0
    assert {"python", "revsim", "pandas", "pyarrow"} <= set(facts["versions"])
    summary = json.loads(runs["a"]["summary.json"])
    assert "wall_seconds" not in json.dumps(summary) and "executor" not in summary


# ---------------------------------------------------------------- report: no pickles, quiet


def test_loading_a_saved_result_never_unpickles(tmp_path):
    canary = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (canary,))

    planted = tmp_path / "data" / "baseline"
    planted.mkdir(parents=True)
    (planted / "result.json").write_bytes(pickle.dumps(Evil()))
    (tmp_path / "data" / "old.pkl").write_bytes(pickle.dumps(Evil()))
    for path in (planted, tmp_path / "data" / "old.pkl"):
        with pytest.raises(ValueError, match="not a saved revsim result"):
            store.load_result(path)
    assert not canary.exists()


def test_report_has_no_pickles_is_quiet_and_cleans_after_a_kill(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    what_if = work / "price.yaml"
    what_if.write_text(f"extends: {BASELINE}\nname: price\npricing:\n  segments:\n"
                       "    smb: {list_price_usd: 660}\n")
    args = ["report", BASELINE, what_if, *SMALL, "--out", "r"]
    killed = start(*args, cwd=work, TMPDIR=str(tmpdir))
    end = time.monotonic() + 180
    while not list(tmpdir.glob("revsim-jupyter-*")) and killed.poll() is None:
        assert time.monotonic() < end, "the report never started its notebooks"
        time.sleep(0.05)
    killed.kill()
    killed.wait(timeout=60)
    killed.stderr.close()
    assert list(tmpdir.glob("revsim-jupyter-*")), "the kill left the Jupyter folder behind"
    assert not (work / "r").exists()

    proc = revsim(*args, cwd=work, TMPDIR=str(tmpdir), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no ERROR, no warnings on success
    assert not list(tmpdir.glob("revsim-jupyter-*")), "stale Jupyter folders removed"
    assert sorted(p.name for p in work.iterdir()) == ["price.yaml", "r"]
    out = work / "r"
    assert not [p for p in out.rglob("*") if p.suffix in (".pkl", ".pickle")]
    assert (out / ".revsim-output").is_file()
    for slug in ("baseline", "price"):
        meta = json.loads((out / "data" / slug / "result.json").read_text())
        assert meta["format"] == store.RESULT_FORMAT
        result = store.load_result(out / "data" / slug)
        assert result.replications == 2 and result.scenario.horizon_months == 6
        assert (out / "html" / f"{slug}.html").is_file()
    # re-running the report over its own folder replaces it
    again = revsim(*args, cwd=work, TMPDIR=str(tmpdir), timeout=600)
    assert again.returncode == 0 and "ERROR" not in again.stderr, again.stderr
    assert sorted(p.name for p in work.iterdir()) == ["price.yaml", "r"]
