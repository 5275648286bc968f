"""Hostile scenario text shared by the tests/test_hostile_*.py modules: real scenario files
whose name, description and target names carry HTML, formula, rich-markup and terminal-escape
payloads, and the ``revsim`` console script that must treat all of it as data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent))

# Each payload leaves a trace only a running script can leave: a body attribute, an element
# with a known id, or the page title set to XSS-RAN.
HTML_NAME = ("<script>document.title='XSS-RAN'</script>"
             "<img src=x onerror=\"document.body.setAttribute('data-pwned','name')\">")
HTML_DESCRIPTION = ("=HYPERLINK(\"http://evil.example\") <script>window.__pwned=1;"
                    "document.body.insertAdjacentHTML('beforeend','<p id=pwned>x</p>')</script>")
HTML_TARGET = ("<img src=x onerror=\"document.body.insertAdjacentHTML('beforeend',"
               "'<p id=pwned-target>x</p>')\">")
SVG_NAME = "</svg><script>document.title='XSS-RAN'</script> [/bold] plan"
FORMULA_DESCRIPTION = "@SUM(1) \x1b[31mred\x07 +cmd|' /C calc'!A0"
FORMULA_TARGET = "=1+1"
MARKUP_NAME = "[/bold] plan [link=https://evil.example]click[/link]"
ESCAPE_NAME = "esc \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b[2J\x1b[31mred\u202eevil \x9b31m"
# A file name that would run code if a notebook parameter were pasted into the kernel as code.
INJECTION_FILE = 'x"; import os; os.system("touch pwned-marker") #.yaml'


def write_scenario(folder: Path, filename: str, name: str, description: str = "",
                   targets: list[str] | None = None) -> Path:
    """A what-if of the bundled baseline with hostile text (JSON is valid YAML, so every
    character is written exactly)."""
    if not (folder / "baseline.yaml").exists():
        shutil.copy(BASELINE, folder / "baseline.yaml")
    data: dict = {"extends": "baseline.yaml", "name": name, "description": description}
    if targets:
        data["targets"] = [{"name": t, "metric": "revenue", "op": ">=", "value": 1000}
                           for t in targets]
    path = folder / filename
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def revsim(*args: str | Path, cwd: Path = ROOT, timeout: int = 600, **kw
           ) -> subprocess.CompletedProcess:
    assert REVSIM, "the revsim console script is not installed in this environment"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([REVSIM, *map(str, args)], cwd=cwd, capture_output=True, env=env,
                          timeout=timeout, **kw)


def build_hostile_report(folder: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """``revsim report`` of two hostile scenarios (the second in INJECTION_FILE)."""
    base = write_scenario(folder, "evil.yaml", HTML_NAME, HTML_DESCRIPTION,
                          [HTML_TARGET, FORMULA_TARGET])
    other = write_scenario(folder, INJECTION_FILE, SVG_NAME, FORMULA_DESCRIPTION,
                           ["-1 + 2", "@cmd"])
    out = folder / "report"
    proc = revsim("report", base, other, "--reps", "2", "--months", "6", "--executor",
                  "serial", "--out", out, cwd=folder)
    return out, proc


def one_line_failure(proc: subprocess.CompletedProcess, code: int) -> str:
    """The single stderr line of a failed ``revsim`` run, after checking its exit code and
    that no traceback leaked."""
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]
