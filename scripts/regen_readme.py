"""Re-run the commands whose real output the README shows and put the output in place.

Each block sits between ``<!-- output: COMMAND -->`` and ``<!-- /output -->``. Run it after a
change to the model's numbers:  .venv/bin/python scripts/regen_readme.py
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- output: (?P<cmd>.*?) -->\n.*?<!-- /output -->", re.S)
PROSE = re.compile(r"<!-- prose: compare -->\n.*?<!-- /prose -->", re.S)
"""A paragraph written from the compare table just above it (same run, same numbers)."""
ROW = re.compile(r"^│ (?P<plan>\S+)\s+│ (?P<kpi>[^│]+?)\s+│[^│]+│[^│]+│\s+(?P<delta>\S+) │"
                 r"\s+(?P<low>\S+) to (?P<high>\S+) │\s+(?P<p>[\d.]+%) │$", re.M)


def compare_rows(table: str) -> dict[tuple[str, str], dict[str, str]]:
    """(plan, KPI label) → mean delta, 95% interval ends and P(better), as the table prints
    them."""
    return {(m["plan"], m["kpi"]): m.groupdict() for m in ROW.finditer(table)}


def _verb(delta: str, up: str, down: str) -> str:
    return down if delta.startswith("-") else up


def compare_prose(table: str) -> str:
    """The CFO's reading of the compare table, every number taken from it."""
    r = compare_rows(table)
    op, arr, rev = ("Operating profit", "Ending ARR", "Revenue")
    value = next((k for _, k in r if k.startswith("Value created")), None)
    pi, dc, cs = (r[("price_increase", op)], r[("discount_cap", op)],
                  r[("cs_investment", op)])

    def amount(d: dict) -> str:
        return d["delta"].lstrip("+-")

    text = (
        f"Read it as a CFO would: the 8% price rise {_verb(pi['delta'], 'adds', 'costs')} "
        f"about {amount(pi)} operating profit over three years (95% interval {pi['low']} to "
        f"{pi['high']}) and comes out ahead of the baseline in {pi['p']} of paired "
        f"replications; capping discounts at 15% {_verb(dc['delta'], 'adds', 'loses')} about "
        f"{amount(dc)} (ahead of the baseline in {dc['p']}); the customer-success investment "
        f"{_verb(r[('cs_investment', rev)]['delta'], 'grows', 'shrinks')} revenue by "
        f"{amount(r[('cs_investment', rev)])} and ending ARR by "
        f"{amount(r[('cs_investment', arr)])}, and {_verb(cs['delta'], 'adds', 'costs')} "
        f"{amount(cs)} of operating profit within three years")
    if value is not None:
        v = r[("cs_investment", value)]
        text += (f"; counting the ending customers' equity, its value created "
                 f"{_verb(v['delta'], 'rises', 'falls')} by {amount(v)} (95% interval "
                 f"{v['low']} to {v['high']})")
    return text + (". This paragraph and the table above come from the same run of "
                   "`scripts/regen_readme.py`.")


def render_prose(text: str) -> str:
    """Each prose block rewritten from the compare output block before it."""
    out, last = [], 0
    for m in PROSE.finditer(text):
        before = BLOCK.findall(text[:m.start()]) and list(BLOCK.finditer(text[:m.start()]))[-1]
        para = compare_prose(before.group(0))
        out += [text[last:m.start()], f"<!-- prose: compare -->\n{para}\n<!-- /prose -->"]
        last = m.end()
    return "".join([*out, text[last:]])


def render(match: re.Match) -> str:
    cmd = match["cmd"]
    exe = Path(sys.executable).parent / "revsim"
    args = shlex.split(cmd)
    env = {**os.environ, "COLUMNS": "118"}
    out = subprocess.run([str(exe), *args[1:]], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout.rstrip()
    shown = " \\\n      ".join(_wrap(cmd))
    return f"<!-- output: {cmd} -->\n```text\n$ {shown}\n{out}\n```\n<!-- /output -->"


def _wrap(cmd: str, width: int = 80) -> list[str]:
    lines, line = [], ""
    for word in cmd.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    only = sys.argv[1:]  # words a block's command must contain to be re-run (default: all)
    new, n = BLOCK.subn(lambda m: render(m) if all(w in m["cmd"] for w in only)
                        else m.group(0), text)
    new = render_prose(new)
    README.write_text(new, encoding="utf-8")
    print(f"re-ran {n} README output block(s)")
