"""Scenario text is data, never code: the one place that makes user text safe for each output.

Every string that comes from a scenario or the command line (names, descriptions, segment,
channel and target names, lever keys, file paths) passes through one of these before it
reaches an output that could interpret it:

- HTML (reports, notebooks): :func:`html_text` and :func:`style_table` (pandas Stylers escape
  the caption, index and column labels and every text cell); :func:`safe_svg` checks a chart
  before it is inlined.
- Excel: :func:`excel_text` keeps characters Excel can store, and :func:`neutralise_formulas`
  turns every cell that would be a formula into text (OWASP CSV-injection guidance: a leading
  ``=``, ``+``, ``-``, ``@``, tab or carriage return is shown, never evaluated).
- The terminal: :func:`terminal_text` drops escape sequences and control characters, and
  :func:`rich_text` wraps it so rich never reads ``[markup]`` in it; :func:`inline_text`
  writes a file or column name inside a one-line message (controls as ``\\n`` escapes).
- CSV: :func:`csv_text` / :func:`csv_frame` apply Excel's rule with a leading ``'``, and
  :func:`csv_untext` takes it off again when revsim reads a table.

No heavy imports at module level (the CLI imports this for ``revsim validate``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

# ESC sequences: CSI (ESC [ ... final), OSC/DCS/APC/PM/SOS strings (ESC ] ... BEL or ST), and
# two-character escapes; then the 8-bit CSI/OSC forms.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?")
# Remaining C0 controls except tab and newline, DEL, C1 controls, and the bidirectional
# overrides that make a terminal show text in another order than it is (Trojan Source).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"


def terminal_text(text: Any) -> str:
    """``text`` without terminal escape sequences or control characters (tab and newline
    kept; each other control shows as U+FFFD); ordinary Unicode is unchanged."""
    return _CONTROLS.sub(REPLACEMENT, _ESCAPES.sub("", str(text)))


def inline_text(text: Any) -> str:
    """``text`` (a file name, a column name) for one line of a message: every character a
    terminal would not print as itself -- newline, tab, CR, escape, other controls and the
    bidirectional overrides -- is written as its Python escape (``\\n``, ``\\x1b``,
    ``\\u202e``), so a name can neither split a message in two nor restyle it."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in s)


def rich_text(text: Any, style: str = ""):
    """A rich ``Text`` of ``text``: printed literally (``[bold]`` stays ``[bold]``)."""
    from rich.text import Text

    return Text(terminal_text(text), style=style)


def markup_text(text: Any) -> str:
    """``text`` for a place where rich reads markup (a progress bar's description): plain
    (:func:`terminal_text`) with every ``[`` escaped."""
    from rich.markup import escape

    return escape(terminal_text(text))


# ---------------------------------------------------------------- HTML


def html_text(text: Any) -> str:
    """``text`` escaped for HTML element content and quoted attribute values."""
    return html.escape(str(text), quote=True)


def style_table(df, formats: Mapping[str, Any] | None = None,
                default: str | Callable | None = None, caption: str | None = None,
                hide_index: bool = False):
    """A pandas Styler of ``df`` in which no text is markup: the caption, the index and column
    labels (and their names) and every text cell are HTML-escaped; ``formats`` maps columns
    to a format string or function (``default`` for the others). Every table the notebooks
    show is built here, so nothing can re-enable raw HTML by forgetting ``escape``."""
    sty = df.style.format(None, escape="html")
    fm = {c: (formats or {}).get(c, default) for c in df.columns}
    fm = {c: f for c, f in fm.items() if f is not None}
    if fm:
        sty = sty.format(fm, na_rep="—", escape="html")
    for axis in (0, 1):
        sty = sty.format_index(escape="html", axis=axis)
        sty = sty.format_index_names(escape="html", axis=axis)
    if caption:
        sty = sty.set_caption(html_text(caption))
    if hide_index:
        sty = sty.hide(axis="index")
    return sty


_SVG_FORBIDDEN = {"script", "foreignobject", "iframe", "object", "embed", "handler", "listener"}


def safe_svg(svg: str) -> bool:
    """True when ``svg`` is one well-formed ``<svg>`` element that cannot run code: no
    script-capable elements, no ``on*`` event attributes, no ``javascript:`` links. A chart
    from vl-convert passes; anything else must not be inlined in a page."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(svg.strip())
    except ET.ParseError:
        return False
    if _local(root.tag) != "svg":
        return False
    for el in root.iter():
        if not isinstance(el.tag, str) or _local(el.tag) in _SVG_FORBIDDEN:
            return False
        for key, value in el.attrib.items():
            name = _local(key)
            if name.startswith("on"):
                return False
            if name in ("href", "src") and re.sub(r"[\s\x00-\x1f]", "", value).lower(
            ).startswith(("javascript:", "data:text/html", "vbscript:")):
                return False
    return True


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def svg_html(svg: str) -> str:
    """A chart for an HTML page: inline when :func:`safe_svg`, else as an image (browsers
    never run scripts in an SVG shown through ``<img>``)."""
    if safe_svg(svg):
        return svg
    import base64

    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img alt="chart" src="data:image/svg+xml;base64,{data}">'


# ---------------------------------------------------------------- Excel

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_text(value: Any) -> Any:
    """A string with the characters Excel cannot store (C0 controls other than tab, newline
    and CR) replaced by U+FFFD; anything else unchanged."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)


def excel_frame(df):
    """``df`` with :func:`excel_text` applied to every text cell and to index and column
    labels (and their names), so ``to_excel`` never fails on a control character."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(excel_text)
    out.columns = _clean_index(out.columns)
    out.index = _clean_index(out.index)
    return out


def _clean_index(index):
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_clean_index(lv) for lv in index.levels]).set_names(
            [excel_text(n) for n in index.names])
    if index.dtype == object or pd.api.types.is_string_dtype(index):
        return index.map(excel_text).rename(excel_text(index.name))
    return index.rename(excel_text(index.name))


def csv_text(value: Any) -> Any:
    """A text cell for a CSV file a spreadsheet may open: OWASP's CSV-injection rule, a
    single quote before a leading ``=``, ``+``, ``-``, ``@``, tab or CR (the same cells
    :func:`neutralise_formulas` makes text in Excel). Text that already starts with quotes
    before such a character gets one more, so :func:`csv_untext` gives back every string
    exactly. Numbers (a negative one included) are not text and stay as they are.

    A carriage return inside text becomes a line feed: CSV writers quote a cell that holds
    their line terminator (``\n``) but leave a bare CR as it is, and a spreadsheet starts a
    new row at it, so the text after it would be a cell of its own, a formula included. A
    quoted cell is one cell whatever its lines start with (the CR itself is not kept)."""
    if isinstance(value, str) and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if isinstance(value, str) and value.lstrip("'").startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_untext(value: Any) -> Any:
    """The inverse of :func:`csv_text`, applied to every text cell revsim reads from a table
    (``sim.calibrate.readers``): a quote before (quotes and) a formula character is taken off, so an
    exported file reads back to the original strings. Other text is unchanged."""
    if (isinstance(value, str) and value.startswith("'")
            and value.lstrip("'").startswith(_FORMULA_START)):
        return value[1:]
    return value


def csv_frame(df):
    """``df`` with :func:`csv_text` applied to every text cell and index/column label."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(csv_text)
    for axis in ("columns", "index"):
        labels = getattr(out, axis)
        if not isinstance(labels, pd.MultiIndex) and (
                labels.dtype == object or pd.api.types.is_string_dtype(labels)):
            setattr(out, axis, labels.map(csv_text).rename(labels.name))
    return out


_SHEET_REF = re.compile(r"'(?:[^']|'')+'!")
_OWN_FORMULA = re.compile(
    r'=(?:\$?[A-Z]{1,3}\$?[0-9]{1,7}|SUM\(|IF\(|""|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?'
    r"|[-+*/(),:=<>])+")


def is_own_formula(text: str) -> bool:
    """Whether ``text`` is a formula of the kind revsim writes: cell references (to other
    sheets by their quoted names), numbers, arithmetic, comparisons, ``SUM``, ``IF`` and the
    empty string; nothing else (no function that reaches outside the workbook)."""
    return isinstance(text, str) and bool(_OWN_FORMULA.fullmatch(_SHEET_REF.sub("", text)))


def neutralise_formulas(workbook, ours: Mapping[str, Collection[str]] | None = None) -> int:
    """Make every cell of an openpyxl workbook that is text starting with ``=``, ``+``,
    ``-``, ``@``, tab or CR a plain text cell with Excel's quote prefix (shown as typed, never
    evaluated). The only formulas kept are those revsim wrote itself: the cells listed in
    ``ours`` (sheet title → coordinates) whose text is an own formula (:func:`is_own_formula`);
    every other formula cell came from text. Numbers stay numbers. Returns how many cells
    were changed."""
    ours = ours or {}
    changed = 0
    for ws in workbook.worksheets:
        kept = ours.get(ws.title, ())
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if cell.coordinate in kept and is_own_formula(value):
                    continue
                if cell.data_type == "f" or (isinstance(value, str)
                                             and value.startswith(_FORMULA_START)):
                    cell.value = str(value)
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    changed += 1
    return changed
