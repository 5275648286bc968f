"""``revsim`` for tests: in-process (:func:`run_cli`, the default: no second interpreter and
its imports, about a second per call) or as the installed console script (:func:`revsim`, for
what only the real process shows: its exit code and streams as a shell sees them, signals,
resource limits, the environment it starts in).

:func:`run_cli` calls ``sim.cli.main`` with ``sys.argv`` set as the console script sets it,
stdout and stderr captured, and puts back what a command may change in the process: the
environment (``--allow-large`` sets ``REVSIM_ALLOW_LARGE``), the working folder, ``sys.argv``,
the warnings filters and the levels and handlers of every logger.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent))


class CliResult(NamedTuple):
    """A finished command: exit code and what it printed (``str``, or ``bytes`` when asked)."""

    code: int
    stdout: str | bytes
    stderr: str | bytes

    @property
    def returncode(self) -> int:  # read like a subprocess.CompletedProcess
        return self.code


@contextlib.contextmanager
def _process_state(cwd: str | Path | None, env: Mapping[str, str | None] | None,
                   argv: list[str]):
    """Set the working folder, environment (``None``: unset) and ``sys.argv`` for one command;
    restore them, the warnings filters and the loggers afterwards."""
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    loggers = [logging.getLogger(), *(lg for lg in logging.root.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    saved_logs = [(lg, lg.level, list(lg.handlers), lg.disabled, lg.propagate)
                  for lg in loggers]
    try:
        for key, value in (env or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = argv
        with warnings.catch_warnings():
            yield
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for lg, level, handlers, disabled, propagate in saved_logs:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.disabled, lg.propagate = disabled, propagate


def run_cli(*args: str | Path, cwd: str | Path | None = None,
            env: Mapping[str, str | None] | None = None, text: bool = True) -> CliResult:
    """Run ``revsim ARGS`` in this process: (exit code, stdout, stderr). ``env`` adds (or with
    ``None`` removes) environment variables for the command only; ``text=False`` gives bytes
    (UTF-8, as the console script writes them)."""
    from sim.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with _process_state(cwd, env, ["revsim", *argv]), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            main(argv, prog_name="revsim")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if text:
        return CliResult(code, out.getvalue(), err.getvalue())
    return CliResult(code, out.getvalue().encode(), err.getvalue().encode())


def revsim(*args: str | Path, cwd: str | Path = ROOT, env: Mapping[str, str] | None = None,
           timeout: float = 600, text: bool = True, **more_env: str
           ) -> subprocess.CompletedProcess:
    """The installed ``revsim`` console script as a real process (its own interpreter), in this
    process's environment with ``env`` and ``more_env`` (e.g. ``HOME=...``) set."""
    assert REVSIM, "the revsim console script is not installed in this environment"
    return subprocess.run([REVSIM, *map(str, args)], cwd=cwd, capture_output=True, text=text,
                          env={**os.environ, **(env or {}), **more_env}, timeout=timeout)


def start(*args: str | Path, cwd: str | Path, **env: str) -> subprocess.Popen:
    """The console script started in the background, its stderr a text pipe (stdout dropped)."""
    assert REVSIM, "the revsim console script is not installed in this environment"
    return subprocess.Popen([REVSIM, *map(str, args)], cwd=cwd, env={**os.environ, **env},
                            text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def one_line_failure(proc, code: int) -> str:
    """The single stderr line of a failed ``revsim`` (in-process or a real process), after
    checking its exit code and that no traceback leaked."""
    stdout, stderr = (s.decode() if isinstance(s, bytes) else s
                      for s in (proc.stdout, proc.stderr))
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr + stdout
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every path under ``folder`` with its bytes (folders and links as a placeholder)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink()
                                         else b"<dir or link>")
            for p in sorted(folder.rglob("*"))}


def names(folder: Path) -> list[str]:
    """Every path under ``folder`` (hidden ones too), relative and sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
