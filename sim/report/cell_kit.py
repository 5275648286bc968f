"""The two shapes a notebook cell returns besides a chart: a styled table and a small HTML
block with a plain-text fallback (every text HTML-escaped by :mod:`sim.outputs.escape`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sim.kpis import fmt_usd
from sim.outputs.escape import style_table

MIME_KPIS = "application/vnd.revsim.kpis+json"
"""Mimetype of the machine-readable KPI record a notebook's KPI cell carries next to its HTML."""


def styled(df: pd.DataFrame, formats: Mapping[str, Any] | None = None, default=fmt_usd,
            caption: str | None = None, hide_index: bool = False):
    """A pandas Styler with per-column formatters (default: USD) and a caption; all text in
    it (caption, labels, cells) is HTML-escaped by :func:`sim.outputs.escape.style_table`."""
    sty = style_table(df, formats, default, caption, hide_index)
    return sty.set_table_styles([
        {"selector": "caption", "props": "caption-side: top; font-weight: bold; "
                                         "text-align: left; padding: 4px 0;"},
        {"selector": "td", "props": "text-align: right; padding: 2px 10px;"},
        {"selector": "th", "props": "text-align: left; padding: 2px 10px;"},
    ])


class Html:
    """A small HTML block with a plain-text fallback (displayed as a cell result)."""

    def __init__(self, body: str, text: str, extra: Mapping[str, Any] | None = None):
        self.body, self.text, self.extra = body, text, dict(extra or {})

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.body, "text/plain": self.text, **self.extra}
