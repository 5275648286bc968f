"""The house rules every bundled notebook keeps (STYLE.md: notebooks are thin), shared by
tests/test_notebooks.py and tests/calibrate/test_report.py."""

from __future__ import annotations

import ast

import nbformat


def assert_thin(nb: nbformat.NotebookNode) -> None:
    """Committed without outputs; one ``parameters`` cell of plain assignments; every other
    code cell an import or one call, with no def, lambda, loop, comprehension or class."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    for c in code:
        assert c.outputs == [] and c.execution_count is None, "commit without outputs"
        tree = ast.parse(c.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.Lambda | ast.For | ast.While |
                                  ast.ListComp | ast.DictComp | ast.ClassDef), c.source
        if c is params[0]:
            assert all(isinstance(n, ast.Assign) for n in tree.body)
        elif not c.source.startswith("import"):
            assert len(tree.body) == 1, f"one call per cell: {c.source!r}"
