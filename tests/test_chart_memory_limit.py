"""Charts under a virtual-memory limit (``ulimit -v``).

vl-convert embeds V8, whose C++ heap (Oilpan) reserves a fixed cage of address space when it
starts: under a lower RLIMIT_AS it dies with SIGTRAP and a 39-line C stack trace, leaving the
command's temporary folders behind. Nothing shrinks the reservation (vl-convert reads no V8
flags), so the commands that draw charts (report, track, backtest, calibrate --report) probe a
tiny render in a child process once when the limit is finite, and refuse before any work:
one line, exit 1, nothing left behind. Measured (vl-convert 1.9.0): a bare render dies at
``ulimit -v`` 67,000,000 KiB and draws at 67,500,000; ``revsim track`` died up to about
68,000,000; the probe (which holds the command's address space plus 4 GiB) refuses up to
72,000,000 and ``revsim track`` runs at 73,000,000 and above.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import names as listing
from test_cli import REVSIM

import sim.report.render as render

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example_company.yaml"
COMPANY = ROOT / "examples" / "company"
BASELINE = ROOT / "scenarios" / "baseline.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FAILING_KIB = 16_000_000
"""A limit of 16 GB, far above what revsim itself needs, far below V8's reservation."""
PASSING_KIB = 200_000_000


def limited(kib: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (kib * 1024, kib * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def bare_render_dies(kib: int) -> bool:
    """Whether vl-convert, alone, dies by a signal under this limit (the bug's mechanism)."""
    code = ("import vl_convert\nvl_convert.vegalite_to_svg({'mark': 'point', 'data': "
            "{'values': [{'a': 1}]}, 'encoding': {'x': {'field': 'a', 'type': 'quantitative'}}})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300,
                          preexec_fn=limited(kib))
    return proc.returncode < 0


@pytest.fixture(scope="module")
def renderer_dies() -> None:
    if not bare_render_dies(FAILING_KIB):
        pytest.skip(f"this vl-convert draws under ulimit -v {FAILING_KIB}: nothing to refuse")


DATA = ["--subscriptions", str(COMPANY / "subscriptions.csv"), "--as-of", "2024-01-01"]
COMMANDS = {
    "track": ["track", str(EXAMPLE), "--actuals", str(COMPANY / "actuals.csv"),
              "--through", "2023-12", "--reps", "2", "--executor", "serial", "--out", "out"],
    "backtest": ["backtest", "--base", str(EXAMPLE), *DATA, "--holdout-months", "12",
                 "--actuals", str(COMPANY / "actuals.csv"), "--reps", "2", "--out", "out"],
    "calibrate-report": ["calibrate", "--base", str(EXAMPLE), *DATA, "--out", "cal.yaml",
                         "--report", "out"],
    "report": ["report", "baseline.yaml", "--reps", "2", "--months", "2", "--out", "out"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_chart_command_under_a_limit_refuses_in_one_line(here, renderer_dies, command):
    before = listing(here)
    proc = subprocess.run([REVSIM, *COMMANDS[command]], capture_output=True, text=True,
                          timeout=600, env=ENV, cwd=here, preexec_fn=limited(FAILING_KIB))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr == ("environment: the chart renderer needs more virtual memory than the "
                           f"limit allows (ulimit -v {FAILING_KIB}); raise it or unset it\n")
    assert proc.stdout == ""
    assert listing(here) == before  # no output folder, no .tmp-* folder, no lock, no core
    assert not (here / "out").exists()


def test_the_probe_passes_under_a_limit_the_renderer_fits_in():
    """Under a finite but generous limit the probe runs and lets the command draw."""
    code = "import sim.report.render as c; print(c.renderer_problem())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=ENV, preexec_fn=limited(PASSING_KIB))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "None\n"


def test_the_probe_refuses_under_a_limit_the_renderer_does_not_fit_in(renderer_dies):
    code = "import sim.report.render as c; print(c.renderer_problem())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=ENV, preexec_fn=limited(FAILING_KIB))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"(ulimit -v {FAILING_KIB})" in proc.stdout


def test_without_a_limit_nothing_is_probed(monkeypatch):
    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        pytest.skip("this test process runs under a memory limit")

    def no_child(*args, **kwargs):
        raise AssertionError("probed without a limit")
    monkeypatch.setattr(render.subprocess, "run", no_child)
    assert render.renderer_problem() is None


def test_a_probe_that_cannot_even_hold_the_command_refuses():
    """The probe first reserves what the command holds plus the headroom; a limit below that
    is refused without starting V8 (exit 3 of the child)."""
    proc = subprocess.run([sys.executable, "-c", render.RENDER_PROBE, str(1 << 40)],
                          capture_output=True, timeout=300, preexec_fn=limited(PASSING_KIB))
    assert proc.returncode == render.NO_ROOM  # 1 TiB does not fit in the limit
    code = f"import sim.report.render as c; print(c._probe({PASSING_KIB * 1024}, 1 << 40))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=ENV, preexec_fn=limited(PASSING_KIB))
    assert f"(ulimit -v {PASSING_KIB})" in proc.stdout, proc.stderr[-2000:]
