"""A report that nothing has changed since: ``revsim report`` with the same inputs, over a
report folder that is still exactly what the last successful build wrote, leaves it as it is.

After a build with no failure, the result cache (:mod:`sim.experiments.cache`) records, for
that folder, the key of its inputs and the SHA-256 of its manifest (which lists every file
with its SHA-256). The inputs are: each scenario's path, slug and resolved content (every
value, its horizon included), the seed, the replication settings, the month override, the
executor-independent settings the notebooks receive, and a fingerprint of everything that
shapes the pages — every ``sim`` source file, the bundled notebooks, the version of every
installed distribution and Python's. The next build with the same key finds the folder's
manifest unchanged and every file as listed (``sim.outputs.manifest.foreign``), so the
folder is byte for byte the report it would write again, timings aside: it says so and
stops. Any difference, a failed part last time, or the cache off (``--no-cache``) builds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.bundled import NOTEBOOKS
from sim.experiments import cache
from sim.outputs.manifest import MARKER, foreign
from sim.report.entries import Entry


@functools.cache
def _pages_fingerprint() -> str:
    from importlib.metadata import distributions

    h = hashlib.sha256(f"python {platform.python_version()}\n".encode())
    h.update(cache.code_fingerprint().encode())
    root = Path(__file__).resolve().parents[1]
    for folder, pattern in ((root, "*.py"), (Path(NOTEBOOKS), "*.ipynb")):
        for f in sorted(folder.rglob(pattern)):
            h.update(f"{f.relative_to(folder).as_posix()}\n".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    for name, version in sorted({(d.metadata["Name"] or "", d.version)
                                 for d in distributions()}):
        h.update(f"{name} {version}\n".encode())
    return h.hexdigest()


def inputs_key(entries: Sequence[Entry], settings: dict[str, Any]) -> str | None:
    """The key of a build's inputs; None when a scenario did not load (always build)."""
    if not all(e.ok for e in entries):
        return None
    scenarios = [[str(e.path.resolve()), e.slug, cache.scenario_digest(e.scenario)]
                 for e in entries]
    text = json.dumps({"scenarios": scenarios, "settings": settings,
                       "code": _pages_fingerprint()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _record_key(folder: Path) -> str:
    return "report-folder:" + hashlib.sha256(str(folder.resolve()).encode()).hexdigest()


def _manifest_digest(folder: Path) -> str | None:
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    return hashlib.sha256(marker.read_bytes()).hexdigest()


def up_to_date(folder: str | Path, key: str | None) -> bool:
    """True when ``folder`` holds, untouched, the report a build with ``key`` wrote."""
    folder = Path(folder)
    if key is None or not folder.is_dir() or folder.is_symlink():
        return False
    store = cache.open_cache()
    if store is None:
        return False
    try:
        record = store.get_record(_record_key(folder))
    finally:
        store.close()
    if not record or record.get("inputs") != key:
        return False
    try:
        return record.get("manifest") == _manifest_digest(folder) and foreign(folder) is None
    except OSError:
        return False


def remember(folder: str | Path, key: str | None) -> None:
    """Record that ``folder`` now holds the report of ``key`` (after a build with no failure)."""
    folder = Path(folder)
    store = cache.open_cache() if key is not None else None
    if store is None:
        return
    try:
        if (digest := _manifest_digest(folder)) is not None:
            store.put_record(_record_key(folder), {"inputs": key, "manifest": digest})
    finally:
        store.close()
