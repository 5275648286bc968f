"""The house rule, written once: ``sim``'s layers in order, each importing only from the layers
below it. Every import is read with ``ast`` — module-level, inside functions and under
``TYPE_CHECKING`` alike — so a circle cannot hide inside a function. The engine never reaches
pandas, and the vocabulary at the bottom imports nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

LAYERS = (
    ("sim.units", "sim.errors", "sim.kpis", "sim.bundled"),  # vocabulary, failures, files
    ("sim.outputs",),      # output safety: atomic --out, user text as data
    ("sim.scenario",),     # the input language
    ("sim.engine",),       # one replication (SimPy), never pandas
    ("sim.analysis",),     # pure functions of result tables
    ("sim.experiments",),  # many replications -> result frames
    ("sim.report",),       # presentation
    ("sim.offsite",),      # the offsite app: a web page over report's view
    ("sim.calibrate",),    # company data -> calibrated scenario, backtest
    ("sim.track",),        # plan against actual months
    ("sim.cli",),          # parse, call, print
)
"""Bottom first. A module may import its own layer and any layer before it, never a later one.
``sim/__init__.py`` (the lazy public facade) stands above them all."""


def layer_of(module: str) -> int | None:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a ``sim`` module or of pandas, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "sim":  # from sim import x: each x is a module of ours
                found += [(node.lineno, f"sim.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(n, m) for n, m in found
            if m == "sim" or m.startswith("sim.") or m.split(".")[0] == "pandas"]


MODULES = sorted(p for p in SIM.rglob("*.py") if p != SIM / "__init__.py")


def violations(path: Path) -> list[str]:
    me = module_name(path)
    mine = layer_of(me)
    bad = []
    for line, target in imports(path):
        if target.split(".")[0] == "pandas":
            if me.startswith("sim.engine"):
                bad.append(f"{path.name}:{line}: the engine imports {target}")
            continue
        theirs = layer_of(target)
        if mine is None:
            bad.append(f"{me} is in no layer (add it to LAYERS)")
        elif theirs is None:
            bad.append(f"{path.name}:{line}: {me} imports {target}, which is in no layer")
        elif theirs > mine:
            bad.append(f"{path.name}:{line}: {me} ({LAYERS[mine][0]}) imports {target} "
                       f"({LAYERS[theirs][0]}), a layer above it")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_only_from_layers_below(path):
    assert violations(path) == []


def test_the_vocabulary_at_the_bottom_imports_nothing_of_ours():
    for name in ("units", "kpis"):
        assert [m for _, m in imports(SIM / f"{name}.py")] == []


def test_every_module_is_in_a_layer():
    assert [module_name(p) for p in MODULES if layer_of(module_name(p)) is None] == []


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path, monkeypatch):
    fake = tmp_path / "sim" / "engine" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    import pandas as pd\n    from sim.report.build import x\n"
                    "    from sim import metrics\n")
    monkeypatch.setattr(__import__(__name__), "SIM", tmp_path / "sim")
    found = violations(fake)
    assert len(found) == 3
    assert "imports pandas" in found[0]
    assert "sim.report.build (sim.report), a layer above" in found[1]
    assert "sim.metrics, which is in no layer" in found[2]  # the old flat name is refused


def _graph() -> dict[str, set[str]]:
    names = {module_name(p) for p in MODULES}
    graph: dict[str, set[str]] = {}
    for p in MODULES:
        targets = set()
        for _, t in imports(p):
            while t and t not in names:  # from sim.x import name: the module is sim.x
                t = t.rpartition(".")[0]
            if t:
                targets.add(t)
        graph[module_name(p)] = targets - {module_name(p)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_even_inside_a_layer():
    assert circles(_graph()) == []


def test_the_circle_check_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
