"""The README's examples run: every ```python block executes, and the CLI lines it quotes
name commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:15])
    assert "make report" in first_screen and "make test" in first_screen


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_examples_run(code, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "a README example should show its output"


def test_cli_commands_in_the_readme_exist():
    from typer.main import get_command

    from sim.cli import app

    commands = set(get_command(app).commands)
    quoted = set(re.findall(r"^revsim (\w+)", README, flags=re.M))
    quoted |= set(re.findall(r"\$ revsim (\w+)", README))
    assert quoted and quoted <= commands, quoted - commands


def test_bundled_scenarios_named_in_the_readme_exist():
    for name in re.findall(r"scenarios/(\w+)\.yaml", README):
        assert (ROOT / "scenarios" / f"{name}.yaml").exists() or name == "x", name


def test_output_blocks_hold_real_output():
    """Blocks of real output are written by scripts/regen_readme.py, never by hand."""
    blocks = re.findall(r"<!-- output: (.*?) -->\n```text\n\$ (.*?)\n```\n<!-- /output -->",
                        README, flags=re.S)
    assert len(blocks) >= 3
    for cmd, body in blocks:
        assert cmd.startswith("revsim "), cmd
        assert "P50" in body or "Best for" in body or "P(better)" in body, cmd
