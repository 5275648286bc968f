"""The report's ``index.html``: every scenario with its description, headline KPIs, links, seed
and hash; failures with their error. All scenario text is HTML-escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sim.kpis import INDEX_KPIS
from sim.outputs.escape import html_text
from sim.report.page import document
from sim.report.tables import headline_table
from sim.report.workbook import WORKBOOK

if TYPE_CHECKING:
    from sim.report.entries import Entry


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; font-size: 0.9em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1.2em; margin: 1em 0; }
.card.failed { border-color: #d1495b; background: #fdf1f2; }
.failed-label { color: #d1495b; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.92em; }
td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
code { background: #f3f3f3; padding: 0 3px; }
.verdict table { width: 100%; } .verdict th, .verdict td { padding: 3px 8px 3px 0; }
.verdict td.text { max-width: 18em; } .verdict .note { color: #555; font-size: 0.9em; }
.verdict li { margin-bottom: 0.4em; }
"""


def write_index(path: Path, entries: Sequence[Entry], compare_entry: dict, seed: int,
                replications: int, months: int | None, wall_seconds: float,
                verdict_block: str = "", board_pack: bool = False,
                replications_note: str = "") -> None:
    """index.html: every scenario with its description, headline KPIs, links, seed, hash;
    failures with their error. All scenario text is HTML-escaped."""
    esc = html_text
    cards = []
    for e in entries:
        title = esc(e.scenario.name if e.scenario else e.path.stem)
        if e.error:
            links = "".join(f' · <a href="{esc(href)}">{esc(label)}</a>'
                            for label, href in e.files.items())
            cards.append(
                f'<div class="card failed" id="{esc(e.slug)}"><h2>{title}</h2>'
                f'<p><span class="failed-label">FAILED</span>: <code>{esc(e.error)}</code></p>'
                f"<p class=\"meta\">File {esc(str(e.path))}{links}</p></div>")
            continue
        r = e.result
        kp = headline_table(r, INDEX_KPIS)
        rows = "".join(f"<tr><th>{esc(x.label)}</th><td>{esc(x.text)}</td></tr>"
                       for x in kp.itertuples())
        links = " · ".join(f'<a href="{esc(href)}">{esc(label)}</a>'
                           for label, href in e.files.items())
        cards.append(
            f'<div class="card" id="{esc(e.slug)}"><h2>{title}</h2>'
            f"<p>{esc(e.scenario.description or '')}</p>"
            f"<table><thead><tr><th>Headline KPI</th><th>P50 (P10 – P90)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f'<p>{links}</p><p class="meta">Seed {seed} · {r.replications} replications · '
            f"{r.scenario.horizon_months} months · scenario hash <code>{esc(r.hash)}</code> · "
            f"file {esc(str(e.path))}</p></div>")
    if compare_entry.get("error"):
        comp = (f'<div class="card failed" id="comparison"><h2>Comparison</h2><p>'
                f'<span class="failed-label">FAILED</span>: '
                f'<code>{esc(compare_entry["error"])}</code></p></div>')
    elif compare_entry.get("files"):
        links = " · ".join(f'<a href="{esc(h)}">{esc(label)}</a>'
                           for label, h in compare_entry["files"].items())
        comp = (f'<div class="card" id="comparison"><h2>Comparison against '
                f'{esc(compare_entry["base"])}</h2><p>{links}</p></div>')
    else:
        comp = ""
    failed = sum(1 for e in entries if e.error) + bool(compare_entry.get("error"))
    status = (f'<p class="failed-label">{failed} part(s) failed; see below.</p>'
              if failed else "")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    horizon = f"{months} months (override)" if months else "each scenario's own horizon"
    pack_link = ' · <a href="board_pack.pdf">Board pack (PDF)</a>' if board_pack else ""
    note_html = (f'<p class="meta" id="replications">{esc(replications_note)}</p>'
                 if replications_note else "")
    body = f"""
<h1>Revenue strategy report</h1>
<p class="meta">Generated {when} in {wall_seconds:.0f} s · seed {seed} ·
{replications} replications per scenario · {esc(horizon)} ·
<a href="{WORKBOOK}">Excel workbook for finance</a>{pack_link}</p>
{note_html}
{status}
{verdict_block}
{comp}
{''.join(cards)}
"""
    path.write_text(document("revsim report", body, _CSS), encoding="utf-8")


