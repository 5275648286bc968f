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
import hashlib
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


def _command_kind() -> str:
    """The revsim command that is running (``run``, ``report``, ...), else ``folder``."""
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    return words[0] if words and Path(sys.argv[0]).name in ("revsim", "cli.py",
                                                            "__main__.py") else "folder"


def revsim_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("revsim")
    except PackageNotFoundError:
        return "unknown"


def _header(kind: str) -> dict:
    return {"revsim": revsim_version(), "kind": kind, "command": command_line(),
            "created": datetime.now(UTC).isoformat(timespec="seconds")}


_BUILDING = "building"
"""The ``kind`` of the marker a result folder holds while it is being built (a hidden
``.NAME.tmp-*`` folder only; such a folder is never swapped in)."""


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _walk(folder: Path, descend: Callable[[str], bool] = lambda rel: True
          ) -> Iterator[tuple[str, os.DirEntry]]:
    """Every entry under ``folder`` (relative POSIX path, entry), sorted, links not followed,
    sub-folders entered when ``descend(rel)``; the top-level marker is left out."""
    stack = [("", folder)]
    while stack:
        prefix, here = stack.pop()
        with os.scandir(here) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            rel = f"{prefix}{e.name}"
            if rel == MARKER:
                continue
            yield rel, e
            if e.is_dir(follow_symlinks=False) and descend(rel):
                stack.append((f"{rel}/", Path(e.path)))


def write_manifest(folder: Path, kind: str = "folder") -> dict:
    """Write :data:`MARKER` into the finished ``folder``: every file and folder in it, each
    file with its size and SHA-256. Called last, once nothing else will be written there."""
    files, folders = [], []
    for rel, e in _walk(folder):
        if e.is_dir(follow_symlinks=False):
            folders.append(rel)
        elif e.is_file(follow_symlinks=False):
            files.append({"path": rel, "size": e.stat(follow_symlinks=False).st_size,
                          "sha256": _sha256(Path(e.path))})
    manifest = {**_header(kind), "files": sorted(files, key=lambda f: f["path"]),
                "folders": sorted(folders)}
    (folder / MARKER).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def read_marker(folder: Path) -> dict | None:
    """The marker in ``folder`` as JSON (a dict naming ``revsim``), or None."""
    m = folder / MARKER
    if m.is_symlink() or not m.is_file() or m.stat().st_size > 200_000_000:
        return None
    try:
        data = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "revsim" in data else None


def _listing(data: dict) -> tuple[dict[str, tuple[int, str]], set[str]] | None:
    files, folders = data.get("files"), data.get("folders")
    if not isinstance(files, list) or not isinstance(folders, list):
        return None
    listed = {}
    for f in files:
        if not (isinstance(f, dict) and isinstance(f.get("path"), str)
                and isinstance(f.get("size"), int) and isinstance(f.get("sha256"), str)):
            return None
        listed[f["path"]] = (f["size"], f["sha256"])
    if not all(isinstance(d, str) for d in folders):
        return None
    return listed, set(folders)


def _more(names: list[str], what: str) -> str:
    first = names[0]
    return first if len(names) == 1 else f"{first} (and {len(names) - 1} more {what})"


def sidecar(path: Path) -> Path:
    """The manifest of a file output: the hidden sibling ``.NAME.revsim-output``."""
    return path.parent / f".{path.name}{MARKER}"


def _replace_text(path: Path, data: bytes, output: Path) -> None:
    """Write ``data`` to ``path`` through a hidden sibling ``.OUTPUT.tmp-*`` (the pattern
    :func:`recover` cleans after a kill) and an atomic replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if os.environ.get("REVSIM_FAULT") == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_file_output(path: Path, text: str, kind: str) -> None:
    """Replace the file output ``path`` with ``text`` atomically, then record it as revsim's
    in :func:`sidecar`: its kind, size and SHA-256 (of the bytes written, not read back)."""
    data = text.encode("utf-8")
    _replace_text(path, data, path)
    manifest = {**_header(kind), "file": path.name, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
    _replace_text(sidecar(path), json.dumps(manifest, indent=1).encode("utf-8"), path)


def foreign_file(path: Path, kind: str) -> str | None:
    """Why revsim may not replace the existing file ``path`` as a ``kind`` output, as the end
    of a sentence; None when its manifest (:func:`sidecar`) names that kind and the file is
    byte for byte what revsim wrote. A copy (without its manifest), a file of the user's and a
    revsim file edited since are all refused, as for folders."""
    m = sidecar(path)
    data = None
    if m.is_file() and not m.is_symlink() and m.stat().st_size < 100_000:
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    if not isinstance(data, dict) or "revsim" not in data or "sha256" not in data:
        return f"is a file revsim did not write (no {m.name} manifest beside it)"
    if data.get("kind") != kind or data.get("file") != path.name:
        return f"was written by revsim as a {data.get('kind')!s} output, not a {kind} one"
    if path.stat().st_size != data.get("size") or _sha256(path) != data["sha256"]:
        return "was changed since revsim wrote it"
    return None


def foreign(folder: Path) -> str | None:
    """Why revsim may not replace the existing folder ``folder``, as the end of a sentence
    ("holds X, which revsim did not write"); None when it may: the folder is empty, or its
    manifest parses and lists exactly what is there now (no other file or folder, nested
    included; no symbolic link; nothing missing; every file's size and SHA-256 as written)."""
    if not any(folder.iterdir()):
        return None
    data = read_marker(folder)
    if data is None:
        names = [rel for rel, _ in _walk(folder, lambda rel: False)] or [MARKER]
        return (f"holds {_more(names, 'entries')}, which revsim did not write (no {MARKER} "
                f"manifest)")
    if data.get("kind") == _BUILDING:
        return f"is a revsim result that was never finished ({MARKER} lists no files)"
    listing = _listing(data)
    if listing is None:
        return (f"was written by an older revsim: its {MARKER} has no manifest of the files "
                f"it wrote, so revsim cannot tell them from yours")
    listed, folders = listing
    extra, check, seen = [], [], set()
    for rel, e in _walk(folder, lambda rel: rel in folders):  # not into a folder of yours
        if e.is_symlink():
            extra.append(f"{rel} (a symbolic link)")
        elif e.is_dir(follow_symlinks=False):
            if rel not in folders:
                extra.append(f"{rel}/")
            seen.add(rel)
        elif e.is_file(follow_symlinks=False) and rel in listed:
            seen.add(rel)
            check.append((rel, Path(e.path), e.stat(follow_symlinks=False).st_size))
        else:
            extra.append(rel)
    if extra:
        return f"holds {_more(extra, 'entries')}, which revsim did not write"
    missing = sorted((set(listed) | folders) - seen)
    if missing:
        return (f"has lost {_more(missing, 'files')}, which revsim wrote there, so it was "
                f"changed since")
    changed = [rel for rel, path, size in check
               if size != listed[rel][0] or _sha256(path) != listed[rel][1]]
    if changed:
        return f"holds {_more(changed, 'files')}, changed since revsim wrote it"
    return None


# ---------------------------------------------------------------- what a file output may replace




# ---------------------------------------------------------------- checks


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


# ---------------------------------------------------------------- claim: lock, recover, write


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
