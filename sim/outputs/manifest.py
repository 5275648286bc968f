"""Ownership of outputs: the manifest revsim writes last into a result folder (:data:`MARKER`)
or beside a file output (:func:`sidecar`), and the rule that says whether an existing folder or
file is revsim's to replace (:func:`foreign`, :func:`foreign_file`): exactly what the manifest
lists, byte for byte (see ``sim.outputs.atomic``)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

MARKER = ".revsim-output"
"""Name of the marker file in every folder revsim writes."""


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
