"""Failures as one line each: bad input exits 2, the environment (disk, permission, memory,
a lost cluster) exits 1, Ctrl-C exits 130, and a bug exits 1 with a hint. No tracebacks unless
``REVSIM_DEBUG=1`` asks for them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

EXIT_ENVIRONMENT = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
DEBUG_ENV = "REVSIM_DEBUG"


class RevsimError(Exception):
    """A failure already worded for the user (one line); ``exit_code`` says which kind."""

    exit_code = EXIT_ENVIRONMENT


class InputError(RevsimError):
    """Something the user typed is wrong (exit 2)."""

    exit_code = EXIT_INVALID


class EnvironmentFailure(RevsimError):
    """The machine or the cluster failed, not the input (exit 1)."""

    exit_code = EXIT_ENVIRONMENT


def debug() -> bool:
    """``REVSIM_DEBUG=1`` (any value but empty or 0) shows tracebacks instead of one line."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line(text: object, limit: int = 400) -> str:
    """Plain text on one line: no control characters, no line breaks, bounded length."""
    s = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", str(text))
    s = re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


_REASONS = {
    errno.ENOSPC: "no space left on device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
    errno.EEXIST: "already exists",
}


def os_reason(exc: OSError) -> str:
    """The reason of an OSError in words, also for errors that carry the errno only in their
    message (pyarrow's ``[errno 28] No space left on device``)."""
    code = exc.errno
    if code is None:
        m = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(m.group(1)) if m else None
    if code in _REASONS:
        return _REASONS[code]
    if code is not None:
        return os.strerror(code).lower()
    return one_line(exc.strerror or exc) or type(exc).__name__


@contextlib.contextmanager
def output_errors(path: str | Path) -> Iterator[None]:
    """Turn an OSError while writing results to ``path`` into one line naming the path."""
    try:
        yield
    except OSError as exc:
        raise EnvironmentFailure(
            f"cannot write {path}: {os_reason(exc)}; {path} was not changed"
        ) from exc


class ScenarioError(Exception):
    """A scenario could not be loaded; ``lines`` holds one message per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def describe(exc: BaseException) -> tuple[int, list[str]]:
    """Exit code and the line(s) to print for an exception that reached the top."""
    from concurrent.futures.process import BrokenProcessPool


    if isinstance(exc, RevsimError):
        return exc.exit_code, [f"revsim: {one_line(exc)}"]
    if isinstance(exc, ScenarioError):  # raised where no command caught it (e.g. in a worker)
        return EXIT_INVALID, [one_line(line) for line in exc.lines] or [one_line(exc)]
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "Abort":
        return EXIT_INTERRUPTED, ["revsim: interrupted"]
    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click's usage errors
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "revsim"
        return EXIT_INVALID, [f"{one_line(where)}: {one_line(exc.format_message())} "
                              f"(see {one_line(where)} --help)"]
    if isinstance(exc, MemoryError):
        return EXIT_ENVIRONMENT, ["revsim: out of memory; try fewer --reps, a shorter horizon "
                                  "or fewer workers"]
    if isinstance(exc, BrokenProcessPool):
        return EXIT_ENVIRONMENT, ["revsim: a worker process died (killed, or out of memory); "
                                  "try fewer workers or --executor serial"]
    if isinstance(exc, OSError):
        path = exc.filename2 if exc.filename2 is not None else exc.filename  # rename: target
        where = f"{one_line(path)}: " if path is not None else ""
        return EXIT_ENVIRONMENT, [f"revsim: {where}{os_reason(exc)}"]
    return EXIT_ENVIRONMENT, [
        f"revsim: internal error (a bug): {type(exc).__name__}: {one_line(exc, 200)}; "
        f"run again with {DEBUG_ENV}=1 to see the traceback and please report it"
    ]


def guard(entry: Callable[[], object]) -> NoReturn:
    """Run the command line and end the process; anything raised becomes one line."""
    try:
        entry()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into Exit(130), silently
            _print(describe(KeyboardInterrupt())[1])
        raise
    except BaseException as exc:  # noqa: BLE001 - the one place that ends every path
        if debug() and not isinstance(exc, KeyboardInterrupt):
            raise
        code, lines = describe(exc)
        _print(lines)
        sys.exit(code)
    sys.exit(0)


def _print(lines: list[str]) -> None:
    with contextlib.suppress(Exception):
        for line in lines:
            print(line, file=sys.stderr, flush=True)
