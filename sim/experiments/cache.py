"""The result cache: each replication's tables and KPIs kept on disk, keyed by what decides
them, so a run, a comparison or a report that asks for a replication already made reads it
instead of simulating it again.

A replication ``r`` of seed ``s`` depends only on the resolved scenario (its horizon
included), ``s`` and ``r`` — never on the executor, the worker count or how many replications
run around it (see :mod:`sim.experiments.runner`) — and on the code that computes it. The key
is therefore a hash of: the resolved scenario's canonical JSON (every value), the seed, the
replication, the horizon, ``sim.engine.ENGINE_VERSION``, revsim's version, a fingerprint of
the source files of every layer a replication runs through (``sim/*.py``, ``outputs``,
``scenario``, ``engine``, ``analysis``, ``experiments``: an edited checkout never reads what
older code made), the numerical libraries' versions and Python's. A change to any of them is
a miss; 30 replications after 20 reuse the first 20.

Entries are data, never pickles: Arrow IPC tables and tagged JSON scalars behind a SHA-256
of their bytes; the store (`diskcache <https://grantjenks.com/docs/diskcache/>`_: SQLite plus
files, safe for several processes at once, bounded in size with least-recently-used
eviction) is only ever handed bytes, and a stored entry in any other form is refused. A
damaged or unreadable entry is a miss (then rewritten); a cache that cannot be opened or
written turns itself off for the run with one line on stderr; the run never fails for it.

Where: ``REVSIM_CACHE_DIR``, else the user cache folder (``platformdirs``: ``XDG_CACHE_HOME``
on Linux) ``/revsim/results``. ``REVSIM_NO_CACHE=1`` (``--no-cache``) turns it off;
``REVSIM_CACHE_MAX_MB`` bounds its size (default ``DEFAULT_MAX_MB``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.scenario.io import scenario_to_dict
from sim.scenario.model import Scenario

DIR_ENV, OFF_ENV, SIZE_ENV = "REVSIM_CACHE_DIR", "REVSIM_NO_CACHE", "REVSIM_CACHE_MAX_MB"
DEFAULT_MAX_MB = 2048
"""Default size bound; the least recently used entries go first beyond it."""
FORMAT = b"revsim-rep/2\n"
TABLES = ("monthly", "by_segment", "by_channel", "by_team", "cohorts", "attainment")
"""A replication's tables (see ``sim.experiments.runner._replicate``)."""
SCALARS, MAPPINGS = ("replication", "simpy_events"), ("initial", "kpis", "parameters")
LAYERS = ("outputs", "scenario", "engine", "analysis", "experiments")
"""Packages under ``sim/`` whose code can change a replication (the layers below
``experiments`` and itself; ``tests/test_layers.py`` keeps the rest out of them)."""
LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "simpy", "pydantic")
"""Their versions are in the key (a new numpy may draw other numbers)."""


def enabled() -> bool:
    return os.environ.get(OFF_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    if chosen := os.environ.get(DIR_ENV):
        return Path(chosen).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("revsim", appauthor=False) / "results"


def size_limit() -> int:
    try:
        mb = float(os.environ.get(SIZE_ENV, DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return max(1, int(mb * 2**20))


@functools.cache
def code_fingerprint() -> str:
    """What, besides the scenario, seed and replication, decides a replication's numbers:
    the engine version, revsim's, the layers' source, the libraries' and Python's versions."""
    from importlib.metadata import PackageNotFoundError, version

    from sim.engine import ENGINE_VERSION

    h = hashlib.sha256(f"engine {ENGINE_VERSION}\npython {platform.python_version()}\n".encode())
    for pkg in ("revsim", *LIBRARIES):
        try:
            h.update(f"{pkg} {version(pkg)}\n".encode())
        except PackageNotFoundError:
            h.update(f"{pkg} -\n".encode())
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("*.py")) + sorted(f for d in LAYERS for f in (root / d).rglob("*.py"))
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\n".encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def scenario_digest(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON (``scenario_hash`` is its first 12
    hex digits; the key uses all 64)."""
    canonical = json.dumps(scenario_to_dict(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def keys(scenario: Scenario, seed: int, replications: Iterable[int], draws: bool = False
         ) -> dict[int, str]:
    """The cache key of each replication of ``scenario`` on ``seed`` (``draws``: its uncertain
    values drawn per replication, :mod:`sim.experiments.draws`)."""
    head = json.dumps({"scenario": scenario_digest(scenario), "seed": int(seed),
                       "draws": bool(draws),
                       "months": scenario.horizon_months, "code": code_fingerprint()},
                      sort_keys=True)
    return {r: hashlib.sha256(f"{head}\nreplication {int(r)}".encode()).hexdigest()
            for r in replications}


# ---------------------------------------------------------------- entries as bytes (no pickles)


def _tag(x: Any) -> Any:
    """A scalar as JSON that comes back as the same Python or numpy type."""
    import numpy as np

    if x is None or type(x) in (bool, int, float, str):
        return x if type(x) is not float else {"f": x.hex()}  # exact, NaN and inf included
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return {"np": x.dtype.str, "v": _tag(x.item())}
    raise TypeError(f"not cacheable: {type(x).__name__}")


def _untag(x: Any) -> Any:
    import numpy as np

    if isinstance(x, dict):
        if "f" in x:
            return float.fromhex(x["f"])
        return np.dtype(x["np"]).type(_untag(x["v"]))
    return x


def encode(part: Mapping[str, Any]) -> bytes:
    """One replication's results as bytes: a JSON head (scalars, table lengths) and an Arrow
    IPC stream per table, behind the SHA-256 of all of it."""
    import pyarrow as pa

    blobs = []
    for name in TABLES:
        sink = io.BytesIO()
        table = pa.Table.from_pandas(part[name], preserve_index=None)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        blobs.append(sink.getvalue())
    head = json.dumps({"scalars": {k: _tag(part[k]) for k in SCALARS},
                       "mappings": {k: {str(kk): _tag(v) for kk, v in part[k].items()}
                                    for k in MAPPINGS},
                       "tables": [len(b) for b in blobs]}).encode()  # key order kept
    body = FORMAT + len(head).to_bytes(8, "big") + head + b"".join(blobs)
    return hashlib.sha256(body).digest() + body


def decode(blob: bytes) -> dict[str, Any]:
    """:func:`encode` undone; ``ValueError`` for anything else (damaged, foreign, old)."""
    import pyarrow as pa

    if not isinstance(blob, bytes) or hashlib.sha256(blob[32:]).digest() != blob[:32]:
        raise ValueError("damaged entry")
    body = memoryview(blob)[32:]
    if bytes(body[:len(FORMAT)]) != FORMAT:
        raise ValueError("unknown entry format")
    at = len(FORMAT) + 8
    n = int.from_bytes(body[len(FORMAT):at], "big")
    head = json.loads(bytes(body[at:at + n]))
    at += n
    part = {k: _untag(head["scalars"][k]) for k in SCALARS}
    part.update({k: {kk: _untag(v) for kk, v in head["mappings"][k].items()} for k in MAPPINGS})
    for name, size in zip(TABLES, head["tables"], strict=True):
        with pa.ipc.open_stream(pa.py_buffer(body[at:at + size])) as reader:
            part[name] = reader.read_all().to_pandas()
        at += size
    if at != len(body):
        raise ValueError("entry length mismatch")
    return part


# ---------------------------------------------------------------- the store


def pa_errors() -> type[Exception]:
    import pyarrow as pa

    return pa.ArrowException


def warn(what: str, exc: BaseException) -> None:
    from sim.outputs.escape import terminal_text

    print(terminal_text(f"revsim: result cache {what} ({type(exc).__name__}: {exc}); "
                        f"running without it"), file=sys.stderr, flush=True)


class ResultCache:
    """Replications by key in a ``diskcache.Cache`` that holds bytes only."""

    def __init__(self, directory: str | Path, max_bytes: int | None = None):
        import diskcache

        class BytesOnly(diskcache.Disk):
            """Values are stored and read as bytes; an entry stored any other way (a pickle)
            is refused, never loaded."""

            def store(self, value, read, key=diskcache.UNKNOWN):
                if type(value) is not bytes:
                    raise TypeError("the result cache stores bytes only")
                return super().store(value, read, key)

            def fetch(self, mode, filename, value, read):
                if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY) or read:
                    raise ValueError("not a bytes entry")
                return super().fetch(mode, filename, value, read)

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = diskcache.Cache(str(self.directory), disk=BytesOnly, timeout=60,
                                     size_limit=max_bytes or size_limit(),
                                     eviction_policy="least-recently-used")
        self.failed = False

    def get(self, key: str) -> dict[str, Any] | None:
        """The replication stored under ``key``; None when absent or unreadable (a damaged
        entry is deleted, so the next run writes it again)."""
        if self.failed:
            return None
        try:
            blob = self.store.get(key)
        except Exception:  # noqa: BLE001 - an entry stored another way, a file gone
            blob = b""
        if blob is None:
            return None
        try:
            return decode(blob)
        except Exception:  # noqa: BLE001 - damaged: a miss, and gone
            self._forget(key)
            return None

    def put(self, key: str, part: Mapping[str, Any]) -> None:
        if self.failed:
            return
        try:
            blob = encode(part)
        except (TypeError, ValueError, OverflowError, ImportError, pa_errors()):
            return  # a value the format does not hold: not cached
        try:
            self.store.set(key, blob)
        except Exception as exc:  # noqa: BLE001 - disk full, read-only, locked too long
            self.failed = True
            warn("could not be written", exc)

    def get_record(self, key: str) -> dict | None:
        """A small JSON record (e.g. a report folder's inputs), None when absent or unreadable."""
        try:
            blob = self.store.get(key) if not self.failed else None
            record = json.loads(blob) if blob is not None else None
        except Exception:  # noqa: BLE001 - damaged: absent
            return None
        return record if isinstance(record, dict) else None

    def put_record(self, key: str, record: Mapping[str, Any]) -> None:
        if self.failed:
            return
        try:
            self.store.set(key, json.dumps(record, sort_keys=True).encode())
        except Exception as exc:  # noqa: BLE001 - disk full, read-only, locked too long
            self.failed = True
            warn("could not be written", exc)

    def _forget(self, key: str) -> None:
        try:
            self.store.delete(key)
        except Exception:  # noqa: BLE001 - it will be overwritten instead
            pass

    def close(self) -> None:
        self.store.close()


def open_cache() -> ResultCache | None:
    """The user's result cache, or None when it is off or cannot be opened (one line)."""
    if not enabled():
        return None
    try:
        return ResultCache(cache_dir())
    except Exception as exc:  # noqa: BLE001 - unwritable folder, a damaged database
        warn(f"at {cache_dir()} could not be opened", exc)
        return None
