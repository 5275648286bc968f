"""Where the report notebooks and example scenarios shipped with revsim are.

In the repository they sit at the top (``notebooks/``, ``scenarios/``: what ``make lab``, nbval
and users open); a wheel or ``pip install .`` copies them into the package as
``sim/notebooks`` and ``sim/scenarios`` (``[tool.setuptools.package-dir]`` in pyproject.toml).
The installed copy is used when present, else the checkout's: one set of files, found either
way. ``python -m sim.bundled`` prints the bundled scenario files, the baseline first::

    revsim report $(python -m sim.bundled) --reps 20 --out reports
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """``sim/<name>`` in an installed package, else ``<checkout>/<name>``."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


NOTEBOOKS = bundled_dir("notebooks")
"""The report notebooks (``scenario_report.ipynb``, ``compare_scenarios.ipynb``, ...)."""
SCENARIOS = bundled_dir("scenarios")
"""The example scenarios (``baseline.yaml`` and the what-ifs that extend it)."""


def scenario_files() -> list[Path]:
    """The bundled scenario files: ``baseline.yaml`` first, then the others by name."""
    return sorted(SCENARIOS.glob("*.yaml"), key=lambda p: (p.name != "baseline.yaml", p.name))


if __name__ == "__main__":
    print("\n".join(str(p) for p in scenario_files()))
