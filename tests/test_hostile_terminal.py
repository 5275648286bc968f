"""Scenario text is data on the terminal: ``revsim`` prints names with rich markup and
terminal escape sequences literally (no markup error after the simulation, no link, no escape
byte reaching the terminal)."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest
from hostile import ESCAPE_NAME, MARKUP_NAME, REVSIM, write_scenario
from support.cli import run_cli

from sim.outputs.escape import terminal_text

FAST = ("--reps", "2", "--months", "2", "--executor", "serial")


@pytest.mark.slow
@pytest.mark.parametrize("name", [MARKUP_NAME, ESCAPE_NAME, "[bold red]x[/] [/bold] plan"])
def test_run_prints_the_name_literally(tmp_path, name):
    path = write_scenario(tmp_path, "hostile.yaml", name, description=name, targets=[name])
    proc = run_cli("run", path, *FAST, cwd=tmp_path, text=False)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert b"\x1b" not in proc.stdout and b"\x1b" not in proc.stderr
    assert b"\x07" not in proc.stdout and "\x9b" not in out and "\u202e" not in out
    assert terminal_text(name) in out
    assert "Traceback" not in proc.stderr.decode()


@pytest.mark.slow
def test_compare_and_sweep_print_names_literally(tmp_path):
    base = write_scenario(tmp_path, "a.yaml", MARKUP_NAME)
    other = write_scenario(tmp_path, "b.yaml", ESCAPE_NAME)
    proc = run_cli("compare", base, other, *FAST, cwd=tmp_path, text=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"\x1b" not in proc.stdout
    out = proc.stdout.decode()
    assert MARKUP_NAME in out and terminal_text(ESCAPE_NAME) in out
    proc = run_cli("sweep", base, "--grid", "sales.teams.smb.count=2,3", *FAST, cwd=tmp_path,
                   text=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert MARKUP_NAME in proc.stdout.decode()


@pytest.mark.slow
def test_progress_bar_on_a_terminal_takes_the_name_literally(tmp_path):
    """On a terminal the progress bar shows the scenario name: markup in it must not crash."""
    path = write_scenario(tmp_path, "hostile.yaml", MARKUP_NAME + " " + ESCAPE_NAME)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([REVSIM, "run", str(path), *FAST], cwd=tmp_path, stdin=follower,
                              stdout=subprocess.PIPE, stderr=follower, timeout=300,
                              env={**os.environ, "COLUMNS": "200"})
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"MarkupError" not in seen and b"Traceback" not in seen
    assert b"evil.example\x07" not in seen and b"\x1b[2J" not in seen


def test_terminal_text_keeps_ordinary_unicode():
    assert terminal_text("Zürich – 東京 ✓ $1.2M\tok\n") == "Zürich – 東京 ✓ $1.2M\tok\n"
    assert terminal_text("a\x1b[31mb\x1b]8;;http://x\x07c\x1b]8;;\x07d\x00e\x9b31mf\x9b") == \
        "abcd\ufffdef\ufffd"
