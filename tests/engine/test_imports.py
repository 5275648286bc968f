"""The engine's import rules: each module imports alone (no cycles), ``sim.units`` imports
nothing, and nothing in ``sim/engine/`` reaches pandas, experiments, reports or the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[2] / "sim"
ENGINE_MODULES = sorted(f"sim.engine.{p.stem}" for p in (SIM / "engine").glob("*.py")
                        if p.stem != "__init__")
FORBIDDEN = ("pandas", "sim.experiment", "sim.executors", "sim.cli",
             "sim.tables", "sim.metrics", "sim.report")


def _imports(path: Path) -> set[str]:
    """Every module a file names in an import statement, wherever it stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("module", ["sim.units", "sim.tables", "sim.runner", *ENGINE_MODULES])
def test_each_module_imports_alone(module):
    out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("path", sorted((SIM / "engine").glob("*.py")), ids=lambda p: p.name)
def test_no_engine_file_names_a_forbidden_module(path):
    assert not {n for n in _imports(path) if _forbidden(n)}


def test_units_imports_nothing_of_ours():
    assert _imports(SIM / "units.py") <= {"__future__", "enum"}


def test_importing_the_whole_engine_loads_none_of_them():
    code = ("import sys; import " + ", ".join(ENGINE_MODULES) + "; "
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    loaded = [m for m in out.stdout.split() if _forbidden(m)]
    assert loaded == []


def test_the_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import pandas as pd\n    from sim.report.build import x\n")
    assert {n for n in _imports(bad) if _forbidden(n)} == {"pandas", "sim.report.build"}
