"""The README's prose about the compare table is written from that table (same run): its
numbers are the table's, and rewriting it from the table changes nothing."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _regen():
    spec = importlib.util.spec_from_file_location("regen_readme",
                                                  ROOT / "scripts" / "regen_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_prose_is_generated_from_the_table_above_it():
    regen = _regen()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert regen.PROSE.search(text), "the compare prose is a generated block"
    assert regen.render_prose(text) == text


def test_every_amount_in_the_prose_is_in_its_table():
    regen = _regen()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    prose = regen.PROSE.search(text)
    table = list(regen.BLOCK.finditer(text[:prose.start()]))[-1].group(0)
    amounts = re.findall(r"\$[\d.,]+[KMB]?", prose.group(0))
    assert len(amounts) >= 6
    for a in amounts:
        assert a in table, a
    rows = regen.compare_rows(table)
    assert rows[("price_increase", "Operating profit")]["delta"].lstrip("+-") in (
        prose.group(0))


def test_prose_follows_the_sign_of_the_table():
    regen = _regen()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    prose = regen.PROSE.search(text)
    table = list(regen.BLOCK.finditer(text[:prose.start()]))[-1].group(0)
    row = next(line for line in table.splitlines()
               if line.startswith("│ price_increase │ Operating profit"))
    cells = row.split("│")
    delta = cells[5].strip()
    flipped = row.replace(f" {delta} │", f" -{delta} │", 1) if not delta.startswith("-") else \
        row.replace(f" {delta} │", f" {delta[1:]} │", 1)
    out = regen.compare_prose(table.replace(row, flipped))
    assert ("costs about" in out) != ("costs about" in regen.compare_prose(table))
