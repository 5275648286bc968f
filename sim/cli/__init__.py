"""The ``revsim`` command line: parse, call the layer below (``sim.experiments``, ``sim.report``,
``sim.calibrate``, ``sim.track``), print. Every input problem is one line on stderr
(``file: key.path: reason``), exit 2, no traceback. Heavy modules are imported inside the
commands so that ``revsim validate`` and ``revsim --help`` start quickly."""

from __future__ import annotations

from collections.abc import Sequence

# isort: off
from sim.cli import simulate, company  # noqa: F401 - registers the commands, in --help order
# isort: on
from sim.cli.common import app
from sim.offsite.command import offsite

app.command()(offsite)

__all__ = ["app", "main"]


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """The ``revsim`` console script: every failure is one line on stderr, exit 2 for bad
    input, 1 for the environment or a bug, 130 for Ctrl-C (``REVSIM_DEBUG=1``: the traceback).
    Ends the process; ``argv`` and ``prog_name`` default to the process's own."""
    from sim.errors import guard

    def entry() -> None:
        # not standalone: a usage error reaches the guard as one line, not click's usage box
        code = app(args=None if argv is None else list(argv), prog_name=prog_name,
                   standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)

    guard(entry)
