"""The page kit: what every standalone HTML page revsim writes is made of — the document
with its head and inline stylesheet (nothing fetched: the page reads offline), tables, and
charts as inline SVG. The board pack, the report's index, the track page and the backtest
page are built from these.

Every text that reaches a page through the kit is escaped (``html_text``); markup a caller
writes itself escapes its own texts the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sim.outputs.escape import html_text
from sim.report.render import svg

CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1b1f24;
       max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
p.note { color: #555; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 12.5px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #dde; text-align: right; }
th:first-child, td:first-child { text-align: left; } td.text { text-align: left; }
tr.out td { background: #fdecee; }
.figure svg { max-width: 100%; height: auto; }
"""
"""The screen stylesheet of a standalone page (the board pack brings its print one)."""


def document(title: str, body: str, css: str = CSS) -> str:
    """A whole HTML document: ``title`` (escaped here), the stylesheet inline, ``body`` as
    given (markup the caller built from escaped text)."""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html_text(title)}</title><style>{css}</style></head>"
            f"<body>{body}</body></html>\n")


def table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], caption: str | None = None,
          text_cols: Sequence[int] = (), row_classes: Mapping[int, str] | None = None) -> str:
    """A table with every header and cell escaped; ``text_cols``: columns of prose (left
    aligned, class ``text``); ``row_classes``: the class of some rows, by their index."""
    head = "".join(f"<th>{html_text(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cls = (row_classes or {}).get(i)
        attr = f' class="{cls}"' if cls else ""
        cells = "".join(f'<td{" class=text" if j in text_cols else ""}>{html_text(c)}</td>'
                        for j, c in enumerate(r))
        body.append(f"<tr{attr}>{cells}</tr>")
    cap = "" if caption is None else f"<caption>{html_text(caption)}</caption>"
    return (f"<table>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def figure(chart) -> str:
    """A chart drawn to inline SVG (vl-convert, offline) in a ``figure`` block."""
    return f'<div class="figure">{svg(chart)}</div>'
