"""Output ownership that cannot be copied: a result folder is revsim's only while what is in
it is exactly what its ``.revsim-output`` manifest lists (files, sizes, SHA-256). A copy of a
result with the user's own file inside, a changed or missing file, a link, a marker from an
older revsim or a marker shipped in the repository never lets ``--out`` (or ``--report``)
replace the user's files. A failed report keeps the earlier one and puts the partial result in
``NAME.failed``; calibrate refuses overlapping outputs. Real ``revsim`` runs on real folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import cli
from support.cli import snapshot

from sim.outputs.atomic import MARKER, OutputError, check_apart, foreign, recover, write_manifest

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
COMPANY_YAML = ROOT / "examples" / "example_company.yaml"
COMPANY = ROOT / "examples" / "company"
CSVS = {k: COMPANY / f"{k}.csv" for k in ("subscriptions", "opportunities", "leads", "invoices")}
SMALL = ["--months", "6", "--reps", "2", "--executor", "serial"]
HOW = "choose a new folder or delete it yourself"


def revsim(*args, cwd: Path, PYTHONPATH: str | None = None, **extra) -> subprocess.CompletedProcess:
    """The console script with this tree on PYTHONPATH (after a test's own)."""
    path = os.pathsep.join(filter(None, [PYTHONPATH, str(ROOT)]))
    return cli.revsim(*args, cwd=cwd, COLUMNS="120", PYTHONPATH=path, **extra)


def refusal(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """Real results of ``revsim run`` and ``revsim export``, each written once."""
    where = tmp_path_factory.mktemp("outputs")
    made = {"run": ["run", BASELINE, *SMALL], "export": ["export", COMPANY_YAML, "--seed", "3"]}
    for name, args in made.items():
        proc = revsim(*args, "--out", where / name, cwd=where)
        assert proc.returncode == 0, proc.stderr
    return {name: where / name for name in made}


# ---------------------------------------------------------------- nothing shipped is "ours"


def test_no_marker_or_manifest_is_tracked_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True).stdout.decode().split("\0")
    assert len(tracked) > 100, "git ls-files listed the checkout"
    shipped = [p for p in tracked if Path(p).name.endswith(MARKER)]  # folders and file outputs
    assert shipped == [], f"a revsim marker is committed: {shipped}"


def test_the_manifest_lists_every_file_with_its_size_and_hash(outputs, tmp_path):
    for out in (*outputs.values(), _result(tmp_path / "nested")):
        manifest = json.loads((out / MARKER).read_text())
        assert {"revsim", "kind", "command", "created", "files", "folders"} <= set(manifest)
        on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                         if p.is_file() and p.name != MARKER)
        assert manifest["folders"] == sorted(p.relative_to(out).as_posix()
                                             for p in out.rglob("*") if p.is_dir())
        assert [f["path"] for f in manifest["files"]] == on_disk
        for f in manifest["files"]:
            data = (out / f["path"]).read_bytes()
            assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
        assert foreign(out) is None
    assert json.loads((outputs["export"] / MARKER).read_text())["kind"] == "export"


# ---------------------------------------------------------------- copies of results


def _add_file(d: Path) -> str:
    (d / "board_notes.docx").write_bytes(b"memo for the board")
    return "holds board_notes.docx, which revsim did not write"


def _add_nested(d: Path) -> str:
    (d / "mine" / "deep").mkdir(parents=True)
    (d / "mine" / "deep" / "thesis.docx").write_bytes(b"four years")
    return "holds mine/, which revsim did not write"


def _change_same_size(d: Path) -> str:
    f = d / "kpis.csv"
    data = bytearray(f.read_bytes())
    data[-2] = ord("7") if data[-2] != ord("7") else ord("8")  # same size: only the hash tells
    f.write_bytes(bytes(data))
    return "holds kpis.csv, changed since revsim wrote it"


def _remove(d: Path) -> str:
    (d / "kpis.csv").unlink()
    return "has lost kpis.csv, which revsim wrote there"


def _link(d: Path) -> str:
    (d / "kpis.csv").unlink()
    (d / "kpis.csv").symlink_to(d.parent / "elsewhere.csv")
    return "holds kpis.csv (a symbolic link), which revsim did not write"


def _old_marker(d: Path) -> str:
    (d / MARKER).write_text(json.dumps({"revsim": "0.1.0", "kind": "folder",
                                        "command": "revsim run x", "created": "2025"}))
    return "was written by an older revsim"


def _malformed(d: Path) -> str:
    (d / MARKER).write_text(json.dumps({"revsim": "0.1.0", "files": "all of them",
                                        "folders": []}))
    return "was written by an older revsim"


@pytest.mark.parametrize("change", [_add_file, _add_nested, _change_same_size, _remove, _link,
                                    _old_marker, _malformed])
def test_a_copied_run_result_that_was_changed_is_refused_and_kept(outputs, tmp_path, change):
    copy = tmp_path / "copy"
    shutil.copytree(outputs["run"], copy, symlinks=True)
    (tmp_path / "elsewhere.csv").write_text("the user's own\n")
    why = change(copy)
    before = snapshot(tmp_path)
    line = refusal(revsim("run", BASELINE, *SMALL, "--out", copy, cwd=tmp_path))
    assert line.startswith(f"--out {copy}: {why}") and line.endswith(HOW), line
    assert snapshot(tmp_path) == before


def test_an_unchanged_copy_is_still_a_revsim_result(outputs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(outputs["run"], copy)
    proc = revsim("run", BASELINE, *SMALL, "--seed", "4", "--out", copy, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((copy / "summary.json").read_text())["seed"] == 4
    assert foreign(copy) is None


@pytest.mark.parametrize("marker", ["none", "shipped"])
def test_a_copy_of_the_example_company_with_a_memo_is_never_replaced(tmp_path, marker):
    mycrm = tmp_path / "mycrm"
    shutil.copytree(COMPANY, mycrm)
    if marker == "shipped":  # the marker the repository used to ship in examples/company
        (mycrm / MARKER).write_text(json.dumps({
            "revsim": "0.1.0", "kind": "folder", "created": "2026-11-29T00:20:49+00:00",
            "command": "revsim export examples/example_company.yaml --seed 7 --out "
                       "examples/company"}, indent=1))
    (mycrm / "board_notes.docx").write_text("memo\n")
    before = snapshot(mycrm)
    line = refusal(revsim("export", COMPANY_YAML, "--seed", "3", "--out", "mycrm",
                          cwd=tmp_path))
    assert line.startswith("--out mycrm: ") and line.endswith(HOW), line
    assert ("older revsim" if marker == "shipped" else "which revsim did not write") in line
    assert snapshot(mycrm) == before  # the memo and the CSVs as they were


def test_a_copied_export_with_a_user_file_is_refused(outputs, tmp_path):
    copy = tmp_path / "crm"
    shutil.copytree(outputs["export"], copy)
    why = _add_file(copy)
    before = snapshot(copy)
    line = refusal(revsim("export", COMPANY_YAML, "--seed", "3", "--out", copy, cwd=tmp_path))
    assert f"--out {copy}: {why}" in line
    assert snapshot(copy) == before
    (copy / "board_notes.docx").unlink()  # back to exactly what revsim wrote: replaced
    proc = revsim("export", COMPANY_YAML, "--seed", "4", "--out", copy, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm"]


# ---------------------------------------------------------------- every command's outputs


def _calibrate(out_flag: str, where: Path) -> list:
    args = ["calibrate", "--base", COMPANY_YAML, "--subscriptions", CSVS["subscriptions"],
            "--as-of", "2024-01-01"]
    return args + (["--out", where / "cal.yaml", "--report", "REPORT"] if out_flag == "--report"
                   else ["--out", "OUT"])


COMMANDS = {
    "run": lambda w: ["run", BASELINE, *SMALL, "--out", "OUT"],
    "compare": lambda w: ["compare", BASELINE, BASELINE, *SMALL, "--out", "OUT"],
    "report": lambda w: ["report", BASELINE, *SMALL, "--out", "OUT"],
    "track": lambda w: ["track", COMPANY_YAML, "--actuals", COMPANY / "actuals.csv", "--reps",
                        "2", "--executor", "serial", "--out", "OUT"],
    "backtest": lambda w: ["backtest", "--base", COMPANY_YAML, *sum(
        ([f"--{k}", p] for k, p in CSVS.items()), []), "--as-of", "2024-01-01",
        "--holdout-months", "3", "--actuals", COMPANY / "actuals.csv", "--reps", "2",
        "--out", "OUT"],
    "export": lambda w: ["export", COMPANY_YAML, "--out", "OUT"],
    "calibrate --report": lambda w: _calibrate("--report", w),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_a_copied_result_holding_a_user_file(outputs, tmp_path, command):
    copy = tmp_path / "copy"
    shutil.copytree(outputs["run"], copy)
    why = _add_file(copy)
    before = snapshot(tmp_path)
    args = [copy if a in ("OUT", "REPORT") else a for a in COMMANDS[command](tmp_path)]
    flag = "--report" if "REPORT" in COMMANDS[command](tmp_path) else "--out"
    line = refusal(revsim(*args, cwd=tmp_path))
    assert line == f"{flag} {copy}: {why}; {HOW}", line
    assert snapshot(tmp_path) == before  # refused before any work: nothing written anywhere


# ---------------------------------------------------------------- calibrate's two outputs


@pytest.mark.parametrize("exists", [False, True])
def test_calibrate_refuses_an_out_inside_its_report(tmp_path, exists):
    report = tmp_path / "DIR"
    if exists:
        report.mkdir()
    before = snapshot(tmp_path)
    args = ["calibrate", "--base", COMPANY_YAML, "--subscriptions", CSVS["subscriptions"],
            "--as-of", "2024-01-01"]
    line = refusal(revsim(*args, "--out", "DIR/cal.yaml", "--report", "DIR", cwd=tmp_path))
    assert line.startswith("--out DIR/cal.yaml and --report DIR: one is inside the other"), line
    assert "wrote" not in line
    assert snapshot(tmp_path) == before and report.exists() == exists


def test_check_apart_sees_through_spellings(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(OutputError, match="--out .* and --report .*one is inside the other"):
        check_apart(("--out", tmp_path / "a" / ".." / "a" / "x.yaml"), ("--report", tmp_path / "a"))
    with pytest.raises(OutputError):
        check_apart(("--out", tmp_path / "r"), ("--report", tmp_path / "r"))
    check_apart(("--out", tmp_path / "a" / "x.yaml"), ("--report", tmp_path / "ab"))
    check_apart(("--out", tmp_path / "x.yaml"), ("--report", None))


# ---------------------------------------------------------------- ownership, unit by unit


def _result(folder: Path) -> Path:
    (folder / "html" / "z").mkdir(parents=True)
    (folder / "html" / "a.html").write_text("<p>a</p>")
    (folder / "html" / "z" / "b.html").write_text("<p>b</p>")
    (folder / "data.csv").write_text("x\n1\n")
    (folder / "empty").mkdir()
    write_manifest(folder, "test")
    return folder


def test_foreign_checks_every_entry(tmp_path):
    r = _result(tmp_path / "r")
    assert foreign(r) is None
    (tmp_path / "e").mkdir()
    assert foreign(tmp_path / "e") is None  # empty
    (r / "empty" / "x").mkdir()
    assert foreign(r) == "holds empty/x/, which revsim did not write"
    (r / "empty" / "x").rmdir()
    os.mkfifo(r / "pipe")
    assert "holds pipe, which revsim did not write" in foreign(r)
    (r / "pipe").unlink()
    (r / "empty").rmdir()
    assert foreign(r).startswith("has lost empty")
    (r / "empty").mkdir()
    (r / "html" / "a.html").write_text("<p>b</p>")
    assert foreign(r) == "holds html/a.html, changed since revsim wrote it"


def test_recover_restores_and_removes_only_what_revsim_wrote(tmp_path):
    target = tmp_path / "r"
    old = _result(tmp_path / ".r.old-123")
    assert recover(target) == ".r.old-123" and foreign(target) is None
    # a left-over earlier result with the user's file in it is neither restored nor removed
    shutil.rmtree(target)
    old = _result(tmp_path / ".r.old-456")
    (old / "mine.txt").write_text("mine")
    assert recover(target) is None and (old / "mine.txt").read_text() == "mine"
    shutil.rmtree(old)
    # a build killed midway (its marker says "building") is removed; a foreign one is kept
    building = tmp_path / ".r.tmp-abc"
    building.mkdir()
    (building / MARKER).write_text(json.dumps({"revsim": "0.1.0", "kind": "building"}))
    (building / "half.csv").write_text("x")
    strange = tmp_path / ".r.tmp-def"
    strange.mkdir()
    (strange / "mine.txt").write_text("mine")
    recover(target)
    assert not building.exists() and (strange / "mine.txt").read_text() == "mine"


# ---------------------------------------------------------------- a failed report


KILLER = """import os, sys

def _hook(event, args):  # the notebook kernel dies as it imports the report cells
    if event == "import" and args[0] == "sim.report.cells":
        os._exit(9)

sys.addaudithook(_hook)
"""


@pytest.fixture
def killer(tmp_path) -> str:
    """A PYTHONPATH whose sitecustomize kills every notebook kernel (revsim itself never
    imports ``sim.report.cells``)."""
    d = tmp_path / "killer"
    d.mkdir()
    (d / "sitecustomize.py").write_text(KILLER)
    return str(d)


def test_a_failed_report_keeps_the_earlier_one_and_shows_the_partial_one(tmp_path, killer):
    work = tmp_path / "work"
    work.mkdir()
    args = ["report", BASELINE, *SMALL, "--out", "rep"]
    good = revsim(*args, cwd=work)
    assert good.returncode == 0, good.stderr
    earlier = snapshot(work / "rep")
    assert "html/baseline.html" in earlier and "html/compare_scenarios.html" in earlier

    bad = revsim(*args, cwd=work, PYTHONPATH=killer)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
    assert snapshot(work / "rep") == earlier  # html/, index, every file byte-identical
    lines = bad.stderr.strip().splitlines()
    parts = [ln for ln in lines if "Kernel died" in ln]
    assert len(parts) == 2 and all(ln.endswith("; rep keeps the earlier report")
                                   for ln in parts), lines
    assert lines[-1] == ("revsim report: 2 part(s) failed; rep keeps the earlier report, the "
                         "partial report is in rep.failed/index.html"), lines
    assert len(lines) == 3, lines
    partial = work / "rep.failed"
    assert foreign(partial) is None  # revsim's, by its manifest
    assert "FAILED" in (partial / "index.html").read_text()
    assert not (partial / "html" / "baseline.html").exists()
    assert sorted(p.name for p in work.iterdir()) == ["rep", "rep.failed"]

    # the next failed build replaces the partial one; one holding a user file is left alone
    first = partial.stat().st_ino
    again = revsim(*args, cwd=work, PYTHONPATH=killer)
    assert again.returncode == 1 and "rep.failed/index.html" in again.stderr
    assert partial.stat().st_ino != first and foreign(partial) is None  # a new folder
    (partial / "mine.txt").write_text("mine")
    kept = snapshot(partial)
    third = revsim(*args, cwd=work, PYTHONPATH=killer)
    assert third.returncode == 1
    assert "partial report rep.failed: holds mine.txt, which revsim did not write" in \
        third.stderr
    assert third.stderr.strip().splitlines()[-1].endswith("the partial report was not kept")
    assert snapshot(partial) == kept and snapshot(work / "rep") == earlier
    assert sorted(p.name for p in work.iterdir()) == ["rep", "rep.failed"]


def test_a_failed_report_with_no_earlier_one_is_written_with_its_failures_marked(tmp_path,
                                                                                 killer):
    proc = revsim("report", BASELINE, *SMALL, "--out", "rep", cwd=tmp_path, PYTHONPATH=killer)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "keeps the earlier report" not in proc.stderr
    out = tmp_path / "rep"
    page = (out / "index.html").read_text()
    assert "FAILED" in page and "Kernel died" in page
    assert foreign(out) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killer", "rep"]
