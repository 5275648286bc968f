"""Every input file revsim reads goes through here, with one set of limits.

- YAML (scenarios and mapping files): :func:`load_yaml`, the bounded loader of
  ``sim.scenario.io`` (file size, nesting, aliases and values once aliases are expanded; an
  alias bomb is refused in milliseconds, before anything is built).
- Tables (CSV and Excel: calibration inputs, actuals): :func:`read_table`. Before any data is
  parsed: the file's size, and for a workbook the uncompressed sizes its zip directory
  declares (a zip bomb is refused by them, before openpyxl or pandas opens it); then the
  header alone (duplicate column names, and the caller's check of the required columns); then
  the rows, counted against the row and cell limits while they stream in, with progress on
  stderr for large files.

The limits (:func:`limits`) have defaults far above any real export and are read from the
environment on every call: ``REVSIM_MAX_INPUT_BYTES``, ``REVSIM_MAX_INPUT_ROWS``,
``REVSIM_MAX_INPUT_CELLS``; ``REVSIM_ALLOW_LARGE=1`` lifts them all (not the YAML limits,
which no real scenario or mapping comes near). A refusal is one line naming the file and the
limit (``InputError``, exit 2).

Text cells are returned as read, except that the quote revsim puts before a formula-like text
when it writes a CSV (:func:`sim.outputs.escape.csv_text`) is taken off again
(:func:`sim.outputs.escape.csv_untext`): a table revsim exported reads back to the original strings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError, one_line
from sim.outputs.escape import csv_untext, inline_text

MAX_INPUT_BYTES = 1_000_000_000
"""Largest table file, and largest total uncompressed size a workbook's zip declares."""
MAX_INPUT_ROWS = 5_000_000
"""Most data rows in one table."""
MAX_INPUT_CELLS = 50_000_000
"""Most cells (data rows x columns) in one table."""
MAX_ZIP_RATIO = 100
"""Largest compression ratio of a workbook member over ``ZIP_RATIO_FROM`` bytes; real sheets
compress 5-15 times, a zip bomb hundreds to thousands of times."""
ZIP_RATIO_FROM = 1_000_000
PROGRESS_ROWS = 200_000
"""A progress line (or a bar's step) per this many rows read."""
CHUNK_ROWS = 100_000
"""Rows parsed at a time from a CSV file."""

ENV = {"bytes": "REVSIM_MAX_INPUT_BYTES", "rows": "REVSIM_MAX_INPUT_ROWS",
       "cells": "REVSIM_MAX_INPUT_CELLS"}
ALLOW_LARGE_ENV = "REVSIM_ALLOW_LARGE"
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Limits:
    bytes: int
    rows: int
    cells: int
    allow_large: bool = False


def limits() -> Limits:
    """The reader limits now: the defaults above, each replaced by its environment variable
    when set; ``REVSIM_ALLOW_LARGE=1`` lifts them all."""
    if os.environ.get(ALLOW_LARGE_ENV, "") not in ("", "0"):
        return Limits(sys.maxsize, sys.maxsize, sys.maxsize, allow_large=True)
    values = {"bytes": MAX_INPUT_BYTES, "rows": MAX_INPUT_ROWS, "cells": MAX_INPUT_CELLS}
    for key, var in ENV.items():
        text = os.environ.get(var, "").strip().replace("_", "").replace(",", "")
        if text:
            if not text.isdigit() or int(text) < 1:
                raise InputError(f"{var}: expected a whole number >= 1 (got "
                                 f"{one_line(os.environ[var], 40)!r})")
            values[key] = int(text)
    return Limits(**values)


def _over(shown: str, what: str, limit: int, var: str) -> InputError:
    return InputError(f"{shown}: {what} (limit {limit:,}, {var}; set {var} higher or "
                      f"--allow-large or {ALLOW_LARGE_ENV}=1 to read it)")


# ---------------------------------------------------------------- YAML


def load_yaml(path: Path, shown: str | None = None) -> Any:
    """A YAML file through the bounded loader of scenario files (the same limits); its
    problems as one ``InputError`` line (``file: line L, column C: reason``)."""
    from sim.scenario.io import ScenarioError, read_yaml_bounded

    shown = inline_text(path) if shown is None else shown
    try:
        return read_yaml_bounded(Path(path), shown)
    except ScenarioError as exc:
        raise InputError("; ".join(exc.lines)) from None


# ---------------------------------------------------------------- progress


class _Progress:
    """Rows read so far: a rich bar on a terminal (``total``: the file's bytes), a plain line
    on stderr per ``PROGRESS_ROWS`` rows otherwise; nothing for a file smaller than that or
    with ``REVSIM_PROGRESS=never``."""

    def __init__(self, shown: str, total_bytes: int):
        self.shown, self.total, self.rows, self.next = shown, max(1, total_bytes), 0, \
            PROGRESS_ROWS
        self.enabled = os.environ.get("REVSIM_PROGRESS", "auto") != "never"
        self.bar = None

    def update(self, rows: int, done_bytes: int | None = None) -> None:
        self.rows = rows
        if not self.enabled or rows < self.next:
            return
        self.next = (rows // PROGRESS_ROWS + 1) * PROGRESS_ROWS
        if sys.stderr.isatty():
            if self.bar is None:
                from rich.progress import Progress

                from sim.outputs.escape import markup_text

                self.bar = Progress(transient=True)
                self.task = self.bar.add_task(markup_text(f"reading {self.shown}"),
                                              total=self.total)
                self.bar.start()
            self.bar.update(self.task, completed=done_bytes or 0)
        else:
            share = (f" ({min(100, done_bytes * 100 // self.total)}% of the file)"
                     if done_bytes is not None else "")
            print(f"reading {self.shown}: {rows:,} rows{share}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


# ---------------------------------------------------------------- tables

HeaderCheck = Callable[[list[str]], None]


def read_table(path: Path, check_header: HeaderCheck | None = None):
    """A CSV or Excel file as a frame of text columns (empty cells missing), within the
    limits; ``check_header`` sees the column names (stripped) before any data row is read
    and raises ``InputError`` to refuse the file. One line per problem, naming the file."""
    path = Path(path)
    shown = inline_text(path)
    if not path.is_file():
        raise InputError(f"{shown}: file not found")
    lim = limits()
    size = path.stat().st_size
    if size > lim.bytes:
        raise _over(shown, f"the file has {size:,} bytes", lim.bytes, ENV["bytes"])
    excel = path.suffix.lower() in EXCEL_SUFFIXES
    progress = _Progress(shown, size)
    try:
        if excel:
            df = _read_excel(path, shown, lim, check_header, progress)
        else:
            df = _read_csv(path, shown, lim, check_header, progress, size)
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a file the parsers cannot read, in one line
        if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError,
                                                             IsADirectoryError)):
            from sim.errors import os_reason

            raise InputError(f"{shown}: cannot read it ({os_reason(exc)})") from None
        kind = "an Excel workbook" if excel else "a table"
        raise InputError(f"{shown}: cannot read it as {kind} ({type(exc).__name__}: "
                         f"{one_line(exc, 200)})") from None
    finally:
        progress.close()
    return df


def _header(names: Sequence[Any], shown: str, check: HeaderCheck | None) -> list[str]:
    """Stripped column names; two columns with one name are refused (which one would be
    used is a guess), then the caller's check."""
    import pandas as pd

    cols = []
    for i, c in enumerate(names):
        text = "" if c is None or (isinstance(c, float) and pd.isna(c)) else str(c)
        text = csv_untext(text).strip()
        cols.append(text or f"Unnamed: {i}")
    seen: dict[str, int] = {}
    for i, c in enumerate(cols):
        if c in seen:
            raise InputError(f"{shown}: column {inline_text(c)}: appears twice in the header "
                             f"(columns {seen[c] + 1} and {i + 1}); keep one")
        seen[c] = i
    if check is not None:
        check(cols)
    return cols


def _text_frame(frame):
    """Text cells with revsim's CSV quote taken off (see :func:`sim.outputs.escape.csv_untext`)."""
    for col in frame.columns:
        s = frame[col]
        quoted = s.str.startswith("'", na=False)
        if quoted.any():
            frame.loc[quoted, col] = s[quoted].map(csv_untext)
    return frame


def _read_csv(path: Path, shown: str, lim: Limits, check: HeaderCheck | None,
              progress: _Progress, size: int):
    import pandas as pd

    opts = dict(dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    with path.open("rb") as fh:
        try:
            head = pd.read_csv(fh, header=None, nrows=1, skip_blank_lines=True, **opts)
        except pd.errors.EmptyDataError:
            raise InputError(f"{shown}: the file is empty (expected a header row)") from None
        cols = _header(list(head.iloc[0]) if len(head) else [], shown, check)
        fh.seek(0)
        max_rows = min(lim.rows, lim.cells // max(1, len(cols)))
        chunks, rows = [], 0
        # blank lines are read (then dropped) so that a row's label is its line number
        with pd.read_csv(fh, chunksize=CHUNK_ROWS, skip_blank_lines=False, **opts) as reader:
            for chunk in reader:
                if chunk.shape[1] != len(cols):
                    raise InputError(f"{shown}: rows have {chunk.shape[1]} cells but the header "
                                     f"has {len(cols)} columns")
                rows += len(chunk)
                _check_rows(rows, len(cols), max_rows, lim, shown)
                chunks.append(chunk)
                progress.update(rows, fh.tell())
    df = (pd.concat(chunks, ignore_index=True) if chunks
          else pd.DataFrame(columns=range(len(cols)), dtype=str))
    df.columns = cols
    df.index = df.index + 1  # label + 1 = the spreadsheet row (the header is row 1)
    return _text_frame(df.dropna(how="all"))


def _check_rows(rows: int, ncols: int, max_rows: int, lim: Limits, shown: str) -> None:
    if rows > max_rows:
        if rows > lim.rows:
            raise _over(shown, f"more than {lim.rows:,} rows", lim.rows, ENV["rows"])
        raise _over(shown, f"more than {lim.cells:,} cells ({ncols} columns)", lim.cells,
                    ENV["cells"])


def check_workbook(path: Path, shown: str, lim: Limits | None = None) -> None:
    """Refuse a workbook whose zip directory declares more uncompressed bytes than the limit,
    or a member compressed suspiciously well (a zip bomb), before anything decompresses it."""
    import zipfile

    lim = lim or limits()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile:
        raise InputError(f"{shown}: not an Excel workbook (.xlsx is a zip file; this is not "
                         "one)") from None
    total = sum(i.file_size for i in infos)
    if total > lim.bytes:
        raise _over(shown, f"the workbook declares {total:,} bytes uncompressed", lim.bytes,
                    ENV["bytes"])
    if lim.allow_large:
        return
    for i in infos:
        if i.file_size > ZIP_RATIO_FROM and i.file_size > MAX_ZIP_RATIO * max(1, i.compress_size):
            raise InputError(
                f"{shown}: {inline_text(i.filename)} declares {i.file_size:,} bytes from "
                f"{i.compress_size:,} compressed (more than {MAX_ZIP_RATIO} times: a zip bomb, "
                f"not a spreadsheet); {ALLOW_LARGE_ENV}=1 reads it anyway")


def _excel_na() -> frozenset[str]:
    try:
        from pandas._libs.parsers import STR_NA_VALUES

        return frozenset(STR_NA_VALUES)
    except ImportError:  # pragma: no cover - pandas moved it
        return frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                          "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None",
                          "n/a", "nan", "null"})


def _cell_text(value: Any, na: frozenset[str]) -> Any:
    """A workbook cell as pandas' ``read_excel(dtype=str)`` gives it: empty or one of
    pandas' missing-value words → missing, whole floats as integers, the rest ``str``."""
    if value is None:
        return None
    if isinstance(value, float) and not isinstance(value, bool):
        if value != value:
            return None
        text = str(int(value)) if value.is_integer() else str(value)
    else:
        text = str(value)
    return None if text in na else text


def _read_excel(path: Path, shown: str, lim: Limits, check: HeaderCheck | None,
                progress: _Progress):
    import pandas as pd
    from openpyxl import load_workbook

    check_workbook(path, shown, lim)
    wb = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        if not wb.worksheets:
            raise InputError(f"{shown}: the workbook has no sheet")
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # declared dimensions can be wrong; read what is there
        rows_iter = ws.iter_rows(values_only=True)
        head: tuple = ()
        head_row = 0
        for row in rows_iter:  # the first row with anything in it is the header
            head_row += 1
            if any(v is not None and v != "" for v in row):
                head = row
                break
        while head and (head[-1] is None or head[-1] == ""):
            head = head[:-1]
        if not head:
            raise InputError(f"{shown}: the first sheet is empty (expected a header row)")
        cols = _header([_cell_text(v, frozenset()) for v in head], shown, check)
        width = len(cols)
        max_rows = min(lim.rows, lim.cells // max(1, width))
        na = _excel_na()
        data: list[list] = []
        blank = 0  # blank rows since the last one with data: kept between rows, not at the end
        for row in rows_iter:
            cells = [_cell_text(v, na) for v in row]
            if not any(c is not None for c in cells):
                blank += 1
                if len(data) + blank > max_rows:
                    _check_rows(len(data) + blank, width, max_rows, lim, shown)
                continue
            data.extend([[None] * width] * blank)
            blank = 0
            if any(c is not None for c in cells[width:]):
                raise InputError(f"{shown}: row {head_row + len(data) + 1}: a value beyond the "
                                 f"header's "
                                 f"{width} columns (a column without a name)")
            data.append(cells[:width] + [None] * (width - len(cells)))
            _check_rows(len(data), width, max_rows, lim, shown)
            progress.update(len(data))
    finally:
        wb.close()
    df = pd.DataFrame(data, columns=cols, dtype=object).astype(str)
    df.index = df.index + head_row  # label + 1 = the sheet's row number
    return _text_frame(df)
