"""A hostile environment through the real `revsim` command: a full disk (a real small tmpfs),
a read-only destination, Ctrl-C, a worker process killed, a bug. Each ends in one line on
stderr with exit 1 (130 for Ctrl-C), no traceback, and never a half-written result."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hostile import BASELINE, REVSIM, one_line_failure

from sim import errors

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "horizon_months=6", "--reps", "2", "--executor", "serial"]


def _env(**extra: str) -> dict[str, str]:
    # no free-space floor: these tests fill the disk during the write, after the preflight
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REVSIM_DEBUG": "", "REVSIM_MIN_FREE_MB": "0"}
    env.update(extra)
    return env


def _revsim(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    # progress lines (after 3 s of a run) are off: the failure must be the only line whatever
    # the machine's load, and the warmed-up pipeline makes even a tiny run take longer
    return subprocess.run([REVSIM, *args], capture_output=True, text=True, timeout=timeout,
                          env=_env(REVSIM_PROGRESS="never"))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def tmpfs(tmp_path):
    """A real 8 MiB tmpfs (needs root; skipped where mounting is not allowed)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(mnt: Path, leave: int) -> None:
    """Fill the file system, then give back ``leave`` bytes."""
    filler = mnt / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to flush at close
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(filler, "r+b") as fh:
        fh.truncate(max(0, filler.stat().st_size - leave))


@pytest.mark.parametrize("leave", [0, 16384])
def test_disk_full_while_writing_keeps_the_previous_result(tmpfs, leave):
    out = tmpfs / "result"
    first = _revsim(["run", str(BASELINE), *TINY, "--out", str(out)])
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    _fill(tmpfs, leave)
    proc = _revsim(["run", str(BASELINE), *TINY, "--seed", "1", "--out", str(out)])
    line = one_line_failure(proc, 1)
    assert "space" in line.lower() and str(out) in line
    assert _snapshot(out) == before  # the previous result, byte for byte
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler.bin", "result"]


def test_read_only_destination_keeps_the_previous_result(tmpfs):
    out = tmpfs / "result"
    first = _revsim(["run", str(BASELINE), *TINY, "--out", str(out)])
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    ro = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True,
                        timeout=30)
    assert ro.returncode == 0, ro.stderr
    proc = _revsim(["run", str(BASELINE), *TINY, "--seed", "1", "--out", str(out)])
    line = one_line_failure(proc, 1)
    assert "read-only" in line and str(out) in line
    assert _snapshot(out) == before


def _loaded(pid: int) -> bool:
    """The command has imported the simulation (pandas' compiled modules are mapped)."""
    try:
        return "pandas/_libs" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (started from any of its threads)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.fixture(autouse=True, scope="module")
def _interactive():
    """Ctrl-C as at a terminal. A shell without job control starts background commands with
    SIGINT ignored, and a test run launched so (``make test &``) would pass "ignore" on to
    every revsim it starts; with a handler here, exec resets it to the default in them."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _start_long_run(out: Path, executor: str, tmpdir: Path) -> subprocess.Popen:
    # a new session, so that the signal goes to the whole group like Ctrl-C in a terminal
    return subprocess.Popen([REVSIM, "run", str(BASELINE), "--reps", "60", "--executor",
                             executor, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(TMPDIR=str(tmpdir)), start_new_session=True)


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("the run did not get going")


@pytest.mark.parametrize("executor", ["serial", "process", "dask"])
def test_ctrl_c_stops_cleanly(tmp_path, tmp_path_factory, executor):
    out = tmp_path / "out"
    tmpdir = tmp_path_factory.mktemp("TMPDIR")
    run = _start_long_run(out, executor, tmpdir)
    try:
        if executor == "serial":
            _wait_for(lambda: _loaded(run.pid), run)
            time.sleep(2)
        else:  # workers started (revsim ignores Ctrl-C only while they start)
            _wait_for(lambda: _children(run.pid) and not _ignores_sigint(run.pid), run)
            time.sleep(2)
        os.killpg(run.pid, signal.SIGINT)
        stdout, stderr = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    assert one_line_failure(proc, 130) == "revsim: interrupted"
    assert list(tmp_path.iterdir()) == []  # no result, no temp folder
    assert _group_gone(run.pid), "worker processes were left behind"
    assert list(tmpdir.iterdir()) == []  # no scratch folders of the workers either


def _group_gone(pgid: int, timeout: float = 30) -> bool:
    """Every process of the group has exited (helpers may take a moment to notice)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def test_killed_worker_process_is_one_line(tmp_path, tmp_path_factory):
    out = tmp_path / "out"
    run = _start_long_run(out, "process", tmp_path_factory.mktemp("TMPDIR"))
    try:
        _wait_for(lambda: len(_children(run.pid)) > 0, run)
        time.sleep(2)
        os.kill(_children(run.pid)[0], signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    assert "worker process died" in one_line_failure(proc, 1)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the guard itself


def _guarded(exc: BaseException, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.delenv(errors.DEBUG_ENV, raising=False)

    def boom():
        raise exc

    with pytest.raises(SystemExit) as ended:
        errors.guard(boom)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("exc", "code", "words"), [
    (MemoryError(), 1, "out of memory"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/x.parquet"), 1,
     "/data/x.parquet: no space left on device"),
    (OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"), 1,
     "no space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "/srv/out"), 1,
     "/srv/out: permission denied"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (errors.InputError("--scheduler 'x': bad"), 2, "--scheduler 'x': bad"),
    (ZeroDivisionError("division by zero\nsecond line"), 1, "internal error (a bug)"),
])
def test_guard_prints_one_line(exc, code, words, capsys, monkeypatch):
    got, err = _guarded(exc, capsys, monkeypatch)
    assert got == code
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_bug_line_says_how_to_see_the_traceback(capsys, monkeypatch):
    _, err = _guarded(RuntimeError("oops"), capsys, monkeypatch)
    assert "REVSIM_DEBUG=1" in err and "RuntimeError: oops" in err


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv(errors.DEBUG_ENV, "1")

    def boom():
        raise RuntimeError("oops")

    with pytest.raises(RuntimeError):
        errors.guard(boom)
