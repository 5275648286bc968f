"""Benchmarks of revsim (``make bench``, ``make bench-engine``, ``make bench-report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(out: str | Path, results: dict[str, Any]) -> int:
    """Write a benchmark's results as JSON (its folder made), say where; exit code 0."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")
    return 0
