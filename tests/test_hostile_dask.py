"""Hostile Dask situations through the real `revsim` command and a real loopback scheduler:
every failure is one line on stderr, a non-zero exit, no traceback and nothing at --out."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import BASELINE, REVSIM, one_line_failure

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))
TINY = ["--set", "horizon_months=6", "--reps", "2"]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REVSIM_DEBUG": ""}
    env.update(extra)
    return env


def _revsim(args: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([REVSIM, *args], capture_output=True, text=True, timeout=timeout,
                          env=_env(**env))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, "the scheduler exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the scheduler did not start")


@pytest.fixture
def scheduler():
    """A real `dask scheduler` on 127.0.0.1 with no workers; yields (address, process)."""
    port = _free_port()
    proc = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                             "--dashboard-address", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        _wait_port(port, proc)
        yield f"tcp://127.0.0.1:{port}", proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _start_worker(address: str, space: Path) -> subprocess.Popen:
    return subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                             "--no-dashboard", "--local-directory", str(space)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
                            start_new_session=True)


def _wait_until_processing(address: str, run: subprocess.Popen, timeout: float = 90) -> None:
    """Until the scheduler has a revsim task running on a worker."""
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as c:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert run.poll() is None, run.communicate()
            if any(c.processing().values()):
                return
            time.sleep(0.3)
    raise AssertionError("no task started")


def test_unreachable_scheduler_is_one_line_quickly(tmp_path):
    port = _free_port()  # closed: nothing listens there
    out = tmp_path / "out"
    proc = _revsim(["run", str(BASELINE), *TINY, "--scheduler", f"tcp://127.0.0.1:{port}",
                    "--out", str(out)], timeout=90, REVSIM_DASK_CONNECT_TIMEOUT="3")
    line = one_line_failure(proc, 1)
    assert "cannot reach" in line and f"127.0.0.1:{port}" in line
    assert not out.exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:notaport", "foo://host:8786",
                                     "127.0.0.1", "tcp://127.0.0.1:99999", "tcp://a b:1"])
def test_malformed_address_is_bad_input(tmp_path, address):
    out = tmp_path / "out"
    proc = _revsim(["run", str(BASELINE), *TINY, "--scheduler", address, "--out", str(out)],
                   timeout=60)
    line = one_line_failure(proc, 2)
    assert "--scheduler" in line and "not a Dask scheduler address" in line
    assert not out.exists()


def test_scheduler_without_workers_times_out(tmp_path, scheduler):
    address, _ = scheduler
    out = tmp_path / "out"
    proc = _revsim(["run", str(BASELINE), *TINY, "--scheduler", address, "--out", str(out)],
                   timeout=90, REVSIM_DASK_WORKER_TIMEOUT="3")
    line = one_line_failure(proc, 1)
    assert "has no workers" in line and "waited 3 s" in line
    assert "REVSIM_DASK_WORKER_TIMEOUT" in line
    assert not out.exists()


def test_bad_worker_timeout_is_bad_input(tmp_path, scheduler):
    address, _ = scheduler
    proc = _revsim(["run", str(BASELINE), *TINY, "--scheduler", address], timeout=60,
                   REVSIM_DASK_WORKER_TIMEOUT="soon")
    assert "REVSIM_DASK_WORKER_TIMEOUT" in one_line_failure(proc, 2)


def _long_run(address: str, out: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([REVSIM, "run", str(BASELINE), "--reps", "40", "--scheduler",
                             address, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(**env))


def test_scheduler_killed_mid_run(tmp_path, tmp_path_factory, scheduler):
    address, sched = scheduler
    out = tmp_path / "out"
    worker = _start_worker(address, tmp_path_factory.mktemp("worker"))
    run = _long_run(address, out)
    try:
        _wait_until_processing(address, run)
        sched.kill()
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    line = one_line_failure(proc, 1)
    assert "lost the connection" in line and address in line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp folders either


def test_all_workers_lost_mid_run(tmp_path, tmp_path_factory, scheduler):
    address, _ = scheduler
    out = tmp_path / "out"
    worker = _start_worker(address, tmp_path_factory.mktemp("worker"))
    run = _long_run(address, out, REVSIM_DASK_WORKER_TIMEOUT="3")
    try:
        _wait_until_processing(address, run)
        os.killpg(worker.pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    line = one_line_failure(proc, 1)
    assert "lost all its workers" in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_report_with_malformed_address_is_bad_input(tmp_path):
    out = tmp_path / "report"
    proc = _revsim(["report", str(BASELINE), "--reps", "2", "--months", "6", "--scheduler",
                    "tcp://127.0.0.1:notaport", "--out", str(out)], timeout=120)
    assert "not a Dask scheduler address" in one_line_failure(proc, 2)
    assert list(tmp_path.iterdir()) == []
