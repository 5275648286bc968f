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


@pytest.mark.slow
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
        assert "P50" in body or "Best for" in body or "P(ahead of base)" in body, cmd


@pytest.mark.slow
def test_api_example_labels_the_variant_by_its_own_name(monkeypatch, capsys):
    """The Python API example compares a variant made with ``with_overrides``: its rows are
    labelled with the variant's name, never the base's ("baseline")."""
    code = next(b for b in BLOCKS if "with_overrides" in b and "sim.compare" in b)
    monkeypatch.chdir(ROOT)
    ns: dict = {"__name__": "__readme__"}
    exec(compile(code, "README.md", "exec"), ns)
    base, variant, cmp = ns["base"], ns["dearer"], ns["cmp"]
    assert variant.name != base.name
    assert set(cmp.deltas["scenario"]) == {variant.name}
    printed = capsys.readouterr().out.splitlines()
    header = max(i for i, line in enumerate(printed) if "prob_better" in line)
    rows = [line for line in printed[header + 1:] if "operating_profit_total" in line]
    assert rows and all(variant.name in line and base.name not in line for line in rows)


def test_with_overrides_keeps_the_name_unless_given_one():
    import sim

    base = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    over = {"pricing.segments.smb.list_price_usd": 660}
    assert sim.with_overrides(base, over).name == base.name
    named = sim.with_overrides(base, over, name="dearer")
    assert named.name == "dearer"
    assert named.pricing.segments["smb"].list_price_usd == 660
    assert sim.with_overrides(base, {**over, "name": "by_key"}).name == "by_key"
