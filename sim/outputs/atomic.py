"""Safe outputs: ``--out`` replaces only what revsim wrote, atomically, one writer at a time.

A result folder carries a manifest, :data:`MARKER` (JSON: the revsim version, the kind, the
command, the time, and every file revsim wrote there with its size and SHA-256), written last,
once the result is complete. ``--out`` may name an absent path, an empty folder, or a folder
whose manifest parses and matches what is there now exactly — no file or folder it does not
list (nested ones included, symbolic links never), none missing, none changed (see
:func:`foreign`). So a copied result folder with one of the user's files added, or a marker
from an older revsim without the list, is refused: ownership cannot be copied along with the
folder. Anything else (a file, a symbolic link, ``.``, ``..``, the current folder or one of its
parents, the home folder, a project root holding ``pyproject.toml`` or ``.git``) is refused
before any work with :class:`OutputError` (exit code 2), naming the flag (``--out``,
``--report``) and what is foreign. A file output (``sweep --out x.csv``, ``schema --out
x.json``, ``calibrate --out x.yaml``) has its manifest beside it, ``.x.csv.revsim-output``
(kind, size, SHA-256), and replaces only an absent path or a file of its kind that is byte for
byte what revsim wrote (:func:`foreign_file`): a copy, an edit or a user's file is refused.

Before any work :func:`claim` also checks the destination: its nearest existing parent is a
folder, revsim can create a file there, and at least :func:`min_free_bytes` are free. The
claim holds an ``fcntl.flock`` on a sibling ``.NAME.lock`` file until the result is in
place, so a second writer to the same ``--out`` fails at once (exit 1) instead of racing.

The new result is built in a hidden sibling ``.NAME.tmp-*`` folder and swapped in with
``renameat2(RENAME_EXCHANGE)`` (Linux): at every instant the path holds either the earlier
result or the complete new one. Where that call is missing, the earlier result is first
renamed to ``.NAME.old-PID`` and the new one renamed into place; a kill between those two
renames leaves the earlier result there, and the next ``revsim`` writing that ``--out`` (or
``revsim recover NAME``) renames it back. Left-over ``.NAME.tmp-*`` / ``.NAME.old-*`` folders
of a killed run are removed by the next writer.

Test hooks (environment): ``REVSIM_FAULT_PAUSE=point:seconds`` sleeps at ``before-swap``,
``after-swap`` or ``between-renames`` (until the file ``REVSIM_FAULT_RELEASE`` exists); ``REVSIM_FAULT=enospc`` fails the write as a full disk
would; ``REVSIM_NO_RENAMEAT2=1`` forces the two-rename scheme.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sim.errors import EXIT_ENVIRONMENT
from sim.outputs.destination import (  # noqa: F401 - re-exported: the outputs' one entry point
    MIN_FREE_MB,
    OutputError,
    check_apart,
    check_out,
    min_free_bytes,
    resolve_out,
)
from sim.outputs.manifest import (  # noqa: F401 - re-exported
    _BUILDING,
    MARKER,
    _command_kind,
    _header,
    command_line,
    foreign,
    foreign_file,
    read_marker,
    revsim_version,
    sidecar,
    write_file_output,
    write_manifest,
)

_HELD: dict[Path, Claim] = {}


class Claim:
    """A checked, locked destination; write it with :meth:`folder` or :meth:`write_text`.

    ``earlier`` says whether the folder held an earlier result when it was claimed."""

    def __init__(self, out: str | Path, kind: str = "dir", flag: str = "--out"):
        self.kind = kind
        self.flag = flag
        self.shown = f"{flag} {out}"
        self.target = check_out(out, kind, flag)
        self._into: Claim | None = self
        parent = self.target.parent
        self._made = [p for p in (parent, *parent.parents) if not p.exists()]
        parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = parent / f".{self.target.name}.lock"
        self._fd = _lock(self._lock_path, self.shown)
        try:
            self.restored = recover(self.target, kind)
            if self.restored:  # a restored result is checked again
                self.target = check_out(out, kind, flag)
            self.earlier = kind == "dir" and self.target.is_dir() and any(
                self.target.iterdir())
        except BaseException:
            self.close()
            raise
        _HELD[self.target] = self

    def close(self) -> None:
        if self._fd is None:
            return
        _HELD.pop(self.target, None)
        with contextlib.suppress(OSError):
            os.unlink(self._lock_path)  # unlinked while still locked: see _lock
        os.close(self._fd)
        self._fd = None
        if not self.target.exists():  # nothing written: remove the folders made for it
            for p in self._made:
                with contextlib.suppress(OSError):
                    p.rmdir()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def divert(self, other: Claim | None) -> None:
        """Put the result :meth:`folder` is building into ``other`` (a claimed sibling of
        this target, e.g. ``NAME.failed``) instead of this target; None: discard it."""
        if other is not None and other.target.parent != self.target.parent:
            raise ValueError("a result can only be diverted to a sibling folder")
        self._into = other

    @contextlib.contextmanager
    def folder(self, kind: str | None = None) -> Iterator[Path]:
        """Yield an empty hidden folder; on success its manifest (:data:`MARKER`, kind
        ``kind``, by default the revsim command) is written last and it replaces the target
        (or goes where :meth:`divert` says)."""
        target = self.target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        self._into = self
        try:
            tmp.chmod(0o755)  # mkdtemp makes 0700; a report folder is for others to read
            (tmp / MARKER).write_text(json.dumps(_header(_BUILDING)), encoding="utf-8")
            yield tmp
            into = self._into
            if into is None:  # discarded
                raise _Discarded
            write_manifest(tmp, kind or _command_kind())
            if os.environ.get("REVSIM_FAULT") == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
            _fault_pause("before-swap")
            target = into.target
            if target.is_symlink() or target.exists():
                why = ("is a symbolic link" if target.is_symlink() else
                       "is no longer a folder" if not target.is_dir() else foreign(target))
                if why is not None:
                    raise OutputError(f"{into.shown}: changed during the run and {why}; "
                                      f"nothing was written", EXIT_ENVIRONMENT)
                if _exchange(tmp, target):
                    _fault_pause("after-swap")
                else:
                    old = target.parent / f".{target.name}.old-{os.getpid()}"
                    os.rename(target, old)
                    try:
                        _fault_pause("between-renames")
                        os.rename(tmp, target)
                    except BaseException:
                        os.rename(old, target)
                        raise
                    tmp = old
                shutil.rmtree(tmp, ignore_errors=True)  # the earlier result
            else:
                os.rename(tmp, target)
        except _Discarded:
            shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            if tmp.exists() and tmp != target:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            self._into = self

    def write_text(self, text: str) -> None:
        """Write a file output and its manifest, each via a hidden sibling and an atomic
        replace (:func:`write_file_output`)."""
        write_file_output(self.target, text, self.kind)


class _Discarded(Exception):
    """The result being built was discarded on purpose (:meth:`Claim.divert` with None)."""


def claim(out: str | Path, kind: str = "dir", flag: str = "--out") -> Claim:
    """Check and lock ``out`` before any work (see the module docstring); ``flag`` names the
    option in messages."""
    return Claim(out, kind, flag)


def _lock(path: Path, shown: str) -> int:
    """Hold an exclusive lock on ``path``; the holder unlinks the file when done, so a lock
    taken on an unlinked file (a race with that unlink) is detected and retried."""
    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"{shown}: another revsim is writing there now; wait for it to "
                              f"finish or choose another folder", EXIT_ENVIRONMENT) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise OutputError(f"{shown}: could not lock {path}", EXIT_ENVIRONMENT)


def _leftovers(target: Path, what: str) -> list[Path]:
    pattern = f".{glob.escape(target.name)}.{what}-*"
    return sorted(target.parent.glob(pattern), key=lambda p: p.name)


def _ours(p: Path, kind: str, building: bool = False) -> bool:
    """``p`` is revsim's by the same rule as ``--out`` (:func:`foreign`); ``building``: a
    hidden ``.NAME.tmp-*`` folder whose build was killed (its marker says so) counts too."""
    if p.is_symlink():
        return False
    if kind == "dir":
        if not p.is_dir():
            return False
        if building and (read_marker(p) or {}).get("kind") == _BUILDING:
            return True
        return foreign(p) is None
    return p.is_file()


def recover(target: str | Path, kind: str = "dir") -> str | None:
    """Restore an earlier result a killed run left as ``.NAME.old-*`` when ``NAME`` is
    missing, and remove the other leftovers of killed runs. Returns what was restored."""
    target = Path(target)
    restored = None
    olds = [p for p in _leftovers(target, "old") if _ours(p, kind)]
    if olds and not target.exists() and not target.is_symlink():
        newest = max(olds, key=lambda p: p.stat().st_mtime)
        os.rename(newest, target)
        olds.remove(newest)
        restored = newest.name
    rest = [p for p in _leftovers(target, "tmp") if _ours(p, kind, building=True)]
    rest += [p for p in _leftovers(target, "probe") if _ours(p, "file")]
    for p in olds + rest:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return restored


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``target`` atomically.

    Uses this process's :func:`claim` on ``target`` when it holds one, else claims it here
    (raising :class:`OutputError` for a destination revsim may not replace)."""
    held = _HELD.get(resolve_out(target))
    if held is not None and held.kind == "dir":
        with held.folder() as tmp:
            yield tmp
        return
    with Claim(target, "dir") as c, c.folder() as tmp:
        yield tmp


def atomic_write_text(path: str | Path, text: str, kind: str = "schema") -> None:
    """Write a file output of ``kind`` safely and atomically, with its manifest (:func:`sidecar`)."""
    held = _HELD.get(resolve_out(path))
    if held is not None and held.kind != "dir":
        held.write_text(text)
        return
    with Claim(path, kind) as c:
        c.write_text(text)


def written(out: str | Path, writer: Callable[[], object], flag: str = "--out") -> None:
    """Run ``writer()``, which writes ``out`` (through a claim); an ``OSError`` while it writes
    (disk full, permission changed) becomes one :class:`OutputError` line, exit 1: the swap
    never happened, so ``out`` keeps what it held."""
    try:
        writer()
    except OSError as exc:
        raise OutputError(f"{flag} {out}: could not write ({exc.strerror or str(exc)}); nothing "
                          "was written there, an earlier result is unchanged",
                          EXIT_ENVIRONMENT) from None


# ---------------------------------------------------------------- the swap


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is not available."""
    if os.environ.get("REVSIM_NO_RENAMEAT2") or not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fault_pause(point: str) -> None:
    spec = os.environ.get("REVSIM_FAULT_PAUSE", "")
    name, _, seconds = spec.partition(":")
    if name == point:
        sys.stderr.write(f"revsim: paused at {point}\n")
        sys.stderr.flush()
        release = os.environ.get("REVSIM_FAULT_RELEASE")
        end = time.monotonic() + float(seconds or 30)
        while time.monotonic() < end and not (release and os.path.exists(release)):
            time.sleep(0.05)
