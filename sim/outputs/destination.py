"""Where an output may go, checked before any work: not a link, the current folder, the home
folder or a project root; a folder or file revsim wrote (``sim.outputs.manifest``); a writable
parent with enough free space. A refusal is one :class:`OutputError` line naming the flag."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sim.errors import EXIT_ENVIRONMENT, EXIT_INVALID, RevsimError, os_reason
from sim.outputs.manifest import foreign, foreign_file

MIN_FREE_MB = 64
"""Default free space (MiB) an output destination needs; ``REVSIM_MIN_FREE_MB`` overrides."""
_PROJECT_FILES = ("pyproject.toml", ".git")
_HOW = "choose a new folder or delete it yourself"


class OutputError(RevsimError):
    """An output path revsim will not write, as one line; ``code`` is the exit code
    (2: the path the user chose, 1: the environment, e.g. another run holds it)."""

    def __init__(self, message: str, code: int = EXIT_INVALID):
        super().__init__(message)
        self.code = self.exit_code = code


def min_free_bytes() -> int:
    try:
        mb = float(os.environ.get("REVSIM_MIN_FREE_MB", MIN_FREE_MB))
    except ValueError:
        mb = MIN_FREE_MB
    return int(mb * 2**20)


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or inside it."""
    return a == b or b in a.parents


def resolve_out(out: str | Path, flag: str = "--out") -> Path:
    """The absolute destination: the parent resolved (symbolic links, ``..``), the last name
    kept as given so that a link there is seen, not followed."""
    p = Path(os.path.expanduser(str(out)))
    if p.name in ("", "..") or str(out).rstrip("/").endswith(("/.", "/..")) or \
            str(out).strip() in (".", "..", "./", "../"):
        raise OutputError(f"{flag} {out}: is the current folder or a parent; {_HOW}")
    return p.absolute().parent.resolve() / p.name


def check_out(out: str | Path, kind: str = "dir", flag: str = "--out") -> Path:
    """Refuse (:class:`OutputError`) a destination revsim may not replace; return it resolved.

    ``kind`` is ``"dir"`` for a result folder or the kind of a file output (``sweep``, ``schema``, ``calibrated``);
    ``flag`` is the option that named it, for the message."""
    try:
        return _check_out(out, kind, flag)
    except OSError as exc:  # e.g. a folder revsim may not list
        raise OutputError(f"{flag} {out}: cannot inspect it ({exc.strerror or exc}); choose "
                          f"another folder") from None


def check_apart(*outputs: tuple[str, str | Path | None]) -> None:
    """Refuse two outputs of one command (``(flag, path)`` pairs) when one is the other or
    inside it: writing the second would replace or swallow the first."""
    given = [(flag, out, resolve_out(out, flag)) for flag, out in outputs if out is not None]
    for i, (fa, a, pa) in enumerate(given):
        for fb, b, pb in given[i + 1:]:
            if _inside(pa, pb) or _inside(pb, pa):
                raise OutputError(f"{fa} {a} and {fb} {b}: one is inside the other, so writing "
                                  f"one would replace the other; give them separate places")


def _check_out(out: str | Path, kind: str, flag: str = "--out") -> Path:
    target = resolve_out(out, flag)
    shown = f"{flag} {out}"
    here = Path.cwd().resolve()
    home = Path.home().resolve()
    if _inside(home, target):
        raise OutputError(f"{shown}: is your home folder or one of its parents; {_HOW}")
    if _inside(here, target):
        raise OutputError(f"{shown}: is the current folder or one of its parents; {_HOW}")
    if target.is_symlink():
        raise OutputError(f"{shown}: is a symbolic link; revsim does not replace links "
                          f"(choose another name or remove the link yourself)")
    if kind == "dir":
        if target.exists() and not target.is_dir():
            raise OutputError(f"{shown}: is a file, not a revsim result folder; {_HOW}")
        if target.is_dir():
            if any((target / f).exists() for f in _PROJECT_FILES):
                raise OutputError(f"{shown}: is a project folder (holds pyproject.toml or "
                                  f".git); choose a new folder")
            why = foreign(target)
            if why is not None:
                raise OutputError(f"{shown}: {why}; {_HOW}")
    else:
        if target.is_dir():
            raise OutputError(f"{shown}: is a folder; give a file name")
        if target.exists():
            why = ("is not a regular file" if not target.is_file()
                   else foreign_file(target, kind))
            if why is not None:
                raise OutputError(f"{shown}: {why}; choose a new file name or delete it "
                                  f"yourself")
    _check_parent(target, shown)
    return target


def _check_parent(target: Path, shown: str) -> None:
    anc = target.parent
    while not anc.exists() and not anc.is_symlink():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"{shown}: {anc} is a file, so nothing can be written under it")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.probe-", dir=anc)
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {anc} ({os_reason(exc)}); choose a "
                          f"writable folder", EXIT_ENVIRONMENT) from None
    os.close(fd)
    os.unlink(probe)
    free, need = shutil.disk_usage(anc).free, min_free_bytes()
    if free < need:
        raise OutputError(f"{shown}: only {free / 2**20:.0f} MiB free in {anc}; revsim needs "
                          f"at least {need / 2**20:.0f} MiB (REVSIM_MIN_FREE_MB); free some "
                          f"space or choose another disk", EXIT_ENVIRONMENT)
