"""Safe outputs: ``--out`` replaces only what revsim wrote, atomically, one writer at a time.

A result folder carries a marker file, :data:`MARKER` (JSON: the command, the revsim version,
the time). ``--out`` may name an absent path, an empty folder, or a folder with that marker;
anything else (a non-empty folder without the marker, a file, a symbolic link, ``.``, ``..``,
the current folder or one of its parents, the home folder, a project root holding
``pyproject.toml`` or ``.git``) is refused before any work with :class:`OutputError`
(exit code 2). A file output (``sweep --out x.csv``, ``schema --out x.json``) replaces only
an absent path or a file revsim recognisably wrote (a sweep table, the scenario schema).

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
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sim.errors import EXIT_ENVIRONMENT, EXIT_INVALID, RevsimError, os_reason

MARKER = ".revsim-output"
"""Name of the marker file in every folder revsim writes."""
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


def command_line() -> str:
    """The command that is running, as a shell would show it."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("revsim", "cli.py", "__main__.py"):
        argv[0] = "revsim"
    return shlex.join(argv)


def revsim_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("revsim")
    except PackageNotFoundError:
        return "unknown"


def marker_text(kind: str) -> str:
    return json.dumps({"revsim": revsim_version(), "kind": kind, "command": command_line(),
                       "created": datetime.now(UTC).isoformat(timespec="seconds")}, indent=1)


def has_marker(folder: Path) -> bool:
    """``folder`` holds a regular marker file that reads as revsim's JSON."""
    m = folder / MARKER
    if m.is_symlink() or not m.is_file():
        return False
    try:
        data = json.loads(m.read_text(encoding="utf-8")[:10_000])
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "revsim" in data


# ---------------------------------------------------------------- what a file output may replace


def _is_sweep_csv(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.readline(65_536).decode("utf-8", "replace").strip().split(",")
    return {"revenue_total_mean", "win_rate_frac", "new_arr_per_deal"} <= set(head)


def _is_schema_json(path: Path) -> bool:
    if path.stat().st_size > 5_000_000:
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("title") == "revsim scenario"


FILE_KINDS: dict[str, Callable[[Path], bool]] = {"sweep": _is_sweep_csv,
                                                 "schema": _is_schema_json}
"""File outputs and how revsim recognises a file it wrote earlier."""


# ---------------------------------------------------------------- checks


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or inside it."""
    return a == b or b in a.parents


def resolve_out(out: str | Path) -> Path:
    """The absolute destination: the parent resolved (symbolic links, ``..``), the last name
    kept as given so that a link there is seen, not followed."""
    p = Path(os.path.expanduser(str(out)))
    if p.name in ("", "..") or str(out).rstrip("/").endswith(("/.", "/..")) or \
            str(out).strip() in (".", "..", "./", "../"):
        raise OutputError(f"--out {out}: is the current folder or a parent; {_HOW}")
    return p.absolute().parent.resolve() / p.name


def check_out(out: str | Path, kind: str = "dir") -> Path:
    """Refuse (:class:`OutputError`) a destination revsim may not replace; return it resolved.

    ``kind`` is ``"dir"`` for a result folder or a key of :data:`FILE_KINDS` for a file."""
    try:
        return _check_out(out, kind)
    except OSError as exc:  # e.g. a folder revsim may not list
        raise OutputError(f"--out {out}: cannot inspect it ({exc.strerror or exc}); choose "
                          f"another folder") from None


def _check_out(out: str | Path, kind: str) -> Path:
    target = resolve_out(out)
    shown = f"--out {out}"
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
            if not has_marker(target) and any(target.iterdir()):
                raise OutputError(f"{shown}: is a folder revsim did not write (no {MARKER} "
                                  f"marker) and it is not empty; {_HOW}")
    else:
        if target.is_dir():
            raise OutputError(f"{shown}: is a folder; give a file name")
        if target.exists() and not (target.is_file() and FILE_KINDS[kind](target)):
            raise OutputError(f"{shown}: is a file revsim did not write; choose a new file "
                              f"name or delete it yourself")
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


# ---------------------------------------------------------------- claim: lock, recover, write


_HELD: dict[Path, Claim] = {}


class Claim:
    """A checked, locked destination; write it with :meth:`folder` or :meth:`write_text`."""

    def __init__(self, out: str | Path, kind: str = "dir"):
        self.kind = kind
        self.shown = f"--out {out}"
        self.target = check_out(out, kind)
        parent = self.target.parent
        self._made = [p for p in (parent, *parent.parents) if not p.exists()]
        parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = parent / f".{self.target.name}.lock"
        self._fd = _lock(self._lock_path, self.shown)
        try:
            self.restored = recover(self.target, kind)
            self.target = check_out(out, kind)  # a restored result is checked again
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

    @contextlib.contextmanager
    def folder(self) -> Iterator[Path]:
        """Yield an empty hidden folder (with the marker); on success it replaces the target."""
        target = self.target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes 0700; a report folder is for others to read
            (tmp / MARKER).write_text(marker_text("folder"), encoding="utf-8")
            yield tmp
            if os.environ.get("REVSIM_FAULT") == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
            _fault_pause("before-swap")
            if target.is_symlink() or target.exists():
                if target.is_symlink() or not target.is_dir() or not (
                        has_marker(target) or not any(target.iterdir())):
                    raise OutputError(f"{self.shown}: changed during the run and is no longer "
                                      f"a revsim result; nothing was written", EXIT_ENVIRONMENT)
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
        except BaseException:
            if tmp.exists() and tmp != target:
                shutil.rmtree(tmp, ignore_errors=True)
            raise

    def write_text(self, text: str) -> None:
        """Write a file output via a hidden sibling and an atomic replace."""
        target = self.target
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                if os.environ.get("REVSIM_FAULT") == "enospc":
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def claim(out: str | Path, kind: str = "dir") -> Claim:
    """Check and lock ``out`` before any work (see the module docstring)."""
    return Claim(out, kind)


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


def _ours(p: Path, kind: str) -> bool:
    if p.is_symlink():
        return False
    if kind == "dir":
        return p.is_dir() and (has_marker(p) or not any(p.iterdir()))
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
    rest = [p for p in _leftovers(target, "tmp") if _ours(p, kind)]
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
    """Write a file output of ``kind`` (see :data:`FILE_KINDS`) safely and atomically."""
    held = _HELD.get(resolve_out(path))
    if held is not None and held.kind != "dir":
        held.write_text(text)
        return
    with Claim(path, kind) as c:
        c.write_text(text)


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
