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
    new, n = BLOCK.subn(render, text)
    README.write_text(new, encoding="utf-8")
    print(f"re-ran {n} README output block(s)")
