"""The canonical input files and their validation (pandera).

Files are read as text (CSV or Excel), renamed and value-mapped by an optional mapping
(``sim.calibrate.mapping``), then validated by a pandera schema per kind with lazy
validation, so every problem is reported at once: one line per problem naming the file, the
row (the spreadsheet's row: the header is row 1 of a CSV, blank lines counted) and the column
(the vendor's name when a mapping renamed it, with the canonical one in brackets), a date in
the mapping's ``date_format`` when it gives one. Extra columns are ignored.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

from sim.errors import InputError, one_line
from sim.outputs.escape import inline_text

KINDS = ("subscriptions", "opportunities", "leads", "invoices", "actuals", "finance")
MAX_PROBLEMS = 50  # lines shown per file; the rest are counted

DATE = pa.DateTime
_money = [pa.Check.ge(0, error="must be >= 0"), pa.Check.le(1e12, error="must be <= 1e12")]


def _col(dtype, nullable=False, checks=None, required=True, unique=False):
    return pa.Column(dtype, nullable=nullable, checks=checks or [], required=required,
                     unique=unique, coerce=True, report_duplicates="exclude_first")


def _order(start: str, end: str, error: str):
    def check(df: pd.DataFrame) -> pd.Series:
        return df[end].isna() | df[start].isna() | (df[end] >= df[start])
    return pa.Check(check, error=error)


def schema(kind: str, segments: list[str]) -> pa.DataFrameSchema:
    """The pandera schema of a canonical file; segment names must be the base scenario's."""
    seg = _col(str, checks=[pa.Check.isin(segments, error=f"unknown segment (segments are "
                                                          f"{', '.join(segments)})")])
    if kind == "subscriptions":
        cols = {
            "customer_id": _col(str), "segment": seg, "start_date": _col(DATE),
            "end_date": _col(DATE, nullable=True),
            "term_months": _col(int, checks=[pa.Check.isin([1, 12, 24, 36],
                                                           error="must be 1, 12, 24 or 36")]),
            "billing": _col(str, checks=[pa.Check.isin(["monthly", "annual"],
                                                       error="must be monthly or annual")]),
            "arr_usd": _col(float, checks=_money),
            "seats": _col(float, nullable=True, required=False,
                          checks=[pa.Check.gt(0, error="must be > 0")]),
            "list_price_usd": _col(float, nullable=True, required=False, checks=_money),
            "channel": _col(str, nullable=True, required=False),
        }
        return pa.DataFrameSchema(cols, checks=[_order("start_date", "end_date",
                                                       "end_date before start_date")],
                                  strict=False)
    if kind == "opportunities":
        cols = {
            "opportunity_id": _col(str, unique=True), "account_id": _col(str, nullable=True),
            "segment": seg,
            "channel": _col(str, checks=[pa.Check.isin(
                ["inbound", "outbound", "partner"], error="must be inbound, outbound or "
                                                          "partner")]),
            "created_date": _col(DATE), "closed_date": _col(DATE, nullable=True),
            "outcome": _col(str, checks=[pa.Check.isin(["won", "lost", "open"],
                                                       error="must be won, lost or open")]),
            "amount_usd": _col(float, checks=_money),
            "list_amount_usd": _col(float, nullable=True, required=False, checks=_money),
            "seats": _col(float, nullable=True, required=False,
                          checks=[pa.Check.gt(0, error="must be > 0")]),
            "lost_reason": _col(str, nullable=True, required=False),
        }

        def closed_iff_done(df):
            return (df["outcome"] == "open") == df["closed_date"].isna()

        return pa.DataFrameSchema(cols, checks=[
            _order("created_date", "closed_date", "closed_date before created_date"),
            pa.Check(closed_iff_done, error="closed_date must be empty exactly when outcome "
                                            "is open")], strict=False)
    if kind == "leads":
        cols = {
            "month": _col(DATE),
            "channel": _col(str, checks=[pa.Check.isin(
                ["inbound", "outbound", "partner"], error="must be inbound, outbound or "
                                                          "partner")]),
            "segment": seg, "leads": _col(int, checks=[pa.Check.ge(0, error="must be >= 0")]),
            "spend_usd": _col(float, nullable=True, required=False, checks=_money),
            "sdrs": _col(float, nullable=True, required=False,
                         checks=[pa.Check.ge(0, error="must be >= 0")]),
        }
        return pa.DataFrameSchema(cols, strict=False, unique=["month", "channel", "segment"],
                                  report_duplicates="exclude_first")
    if kind == "invoices":
        cols = {
            "invoice_id": _col(str, unique=True), "customer_id": _col(str),
            "issued_date": _col(DATE), "paid_date": _col(DATE, nullable=True),
            "amount_usd": _col(float, checks=_money),
        }
        return pa.DataFrameSchema(cols, checks=[_order("issued_date", "paid_date",
                                                       "paid_date before issued_date")],
                                  strict=False)
    if kind == "actuals":
        return pa.DataFrameSchema({"month": _col(DATE, unique=True)}, strict=False)
    if kind == "finance":  # the books (sim.calibrate.books): every column but month optional
        from sim.calibrate.books import COLUMNS

        cols = {"month": _col(DATE, unique=True)}
        for c in COLUMNS:
            checks = [] if c == "cash_balance_usd" else (
                [pa.Check.ge(0, error="must be >= 0")] if c.startswith("headcount_")
                else _money)
            cols[c] = _col(float, nullable=True, required=False, checks=checks)
        return pa.DataFrameSchema(cols, strict=False)
    raise ValueError(kind)


def read_table(path: Path, check_header=None) -> pd.DataFrame:
    """A CSV or Excel file as text columns (empty cells as missing), through the shared
    reader limits of ``sim.calibrate.readers`` (size, rows, cells, zip bombs, duplicate columns,
    progress); ``check_header(columns)`` may refuse the file from its header alone."""
    from sim.calibrate.readers import read_table as read

    return read(Path(path), check_header)


def header_check(kind: str, segments: list[str], shown: str, spec: dict | None = None):
    """A check of a file's header alone (before its rows are read): the kind's required
    columns, after the mapping ``spec`` renames, are all there; one line per missing one."""
    s = schema(kind, segments)

    def check(columns: list[str]) -> None:
        from sim.calibrate.mapping import apply_mapping

        probe = apply_mapping(pd.DataFrame({c: pd.Series(dtype=object) for c in columns}),
                              spec, shown)
        missing = [n for n, col in s.columns.items() if col.required and n not in probe.columns]
        if len(missing) == 1:
            raise InputError(f"{shown}: column {missing[0]}: missing column")
        if missing:
            has = one_line(", ".join(inline_text(c) for c in columns), 120)
            raise InputError(f"{shown}: columns {', '.join(missing)}: missing columns (the "
                             f"header has {has})")
    return check


DATE_MIN, DATE_MAX = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-12-31 23:59:59")
"""Dates outside these are refused (a typo such as 0001-01-01 or a placeholder 9999-12-31)."""
_TZ = re.compile(r"([T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)$",
                 re.IGNORECASE)


def _dates(raw: pd.Series, name: str, fmt: str | None = None) -> tuple[pd.Series, list]:
    """ISO dates (times allowed): one time zone per column (its offset dropped: the local
    date as written), between DATE_MIN and DATE_MAX; a bad cell is a problem with its row."""
    problems = []
    text = raw.astype("string").str.strip()
    zone = text.str.extract(_TZ)[1].str.upper().str.replace(":", "", regex=False)
    zone = zone.where(zone.notna() | text.isna(), "none")  # a date without a zone: "none"
    zones = zone.dropna()
    bad_zone = pd.Series(False, index=raw.index)
    if zones.nunique() > 1:
        first_i, first = zones.index[0], zones.iloc[0]
        bad_zone = zone.notna() & (zone != first)
        for i in raw.index[bad_zone]:
            problems.append((i, name, f"time zone {zone[i]} differs from {first} on row "
                                      f"{int(first_i) + 1} (one time zone per column)"))
    local = text.str.replace(_TZ, r"\1", regex=True)
    parsed = pd.to_datetime(local.astype(object).where(local.notna()), format="ISO8601",
                            errors="coerce")
    want = (f"not a date in the mapping's date_format {fmt}" if fmt
            else "not an ISO date (YYYY-MM-DD)")
    for i in raw.index[raw.notna() & parsed.isna() & ~bad_zone]:
        problems.append((i, name, f"{want}: {one_line(raw[i], 40)!r}"))
    out = parsed.notna() & ((parsed < DATE_MIN) | (parsed > DATE_MAX))
    for i in raw.index[out]:
        problems.append((i, name, f"{parsed[i].date()} is outside {DATE_MIN.year}-"
                                  f"{DATE_MAX.year}"))
    parsed = parsed.where(~out & ~bad_zone)
    return parsed.astype("datetime64[ns]"), problems


def _parse(df: pd.DataFrame, s: pa.DataFrameSchema,
           fmt: str | None = None) -> tuple[pd.DataFrame, list]:
    """Parse ISO dates and numbers ourselves (pandas' coercion guesses date formats and stops
    the checks at the first bad number); a bad cell is one problem and becomes missing."""
    problems = []
    df = df.copy()
    for name, col in s.columns.items():
        if name not in df.columns:
            continue
        kind = str(col.dtype)
        raw = df[name]
        if "datetime" in kind.lower():
            df[name], bad = _dates(raw, name, fmt)
            problems += bad
            continue
        if kind.startswith(("int", "float")):
            parsed = pd.to_numeric(raw.astype("str").str.replace(",", "", regex=False)
                                   .where(raw.notna()), errors="coerce")
            if kind.startswith("int"):
                parsed = parsed.where(parsed.isna() | (parsed == parsed.round()))
            what = "not a whole number" if kind.startswith("int") else "not a number"
        else:
            continue
        bad = raw.notna() & parsed.isna()
        for i in raw.index[bad]:
            problems.append((i, name, f"{what}: {one_line(raw[i], 40)!r}"))
        df[name] = parsed
    return df, problems


def validate(df: pd.DataFrame, kind: str, segments: list[str], shown: str,
             columns: dict[str, pa.Column] | None = None,
             spec: dict | None = None) -> pd.DataFrame:
    """Validate a canonical frame; InputError with one line per problem. ``columns`` adds
    column schemas to the kind's (e.g. the engine's monthly columns an actuals file holds);
    ``spec``, the kind's mapping: problems name its vendor columns and its date format."""
    s = schema(kind, segments)
    if columns:
        s = s.add_columns(columns)
    spec = spec or {}
    vendor = dict(spec.get("columns") or {})
    if spec.get("segment"):
        vendor.setdefault("segment", spec["segment"].get("from"))
    df, problems = _parse(df, s, spec.get("date_format"))
    try:
        out = s.validate(df, lazy=True)
    except SchemaErrors as exc:
        bad_cells = {(i, c) for i, c, _ in problems}
        problems += [p for p in _problems(exc.failure_cases) if (p[0], p[1]) not in bad_cells]
        out = None
    if problems:
        lines = []
        for i, col, reason in sorted(problems, key=lambda p: (p[0] is not None, p[0] or 0)):
            where = f"row {int(i) + 1}, " if i is not None else ""
            col_txt = (f"column {inline_text(vendor[col])} ({col})" if col in vendor and
                       vendor[col] != col else f"column {col}" if col else "row")
            lines.append(f"{shown}: {where}{col_txt}: {reason}")
        if len(lines) > MAX_PROBLEMS:
            lines = lines[:MAX_PROBLEMS] + [f"{shown}: ... and {len(lines) - MAX_PROBLEMS} "
                                            f"more problems"]
        raise InputError("\n".join(lines))
    return out


def _problems(fc: pd.DataFrame) -> list[tuple]:
    out = []
    for r in fc.itertuples(index=False):
        idx = None if pd.isna(r.index) else r.index
        col = None if pd.isna(r.column) else str(r.column)
        check = str(r.check)
        case = r.failure_case
        if check == "column_in_dataframe":
            out.append((None, case, "missing column"))
        elif check == "not_nullable":
            out.append((idx, col, "empty (a value is required)"))
        elif check == "field_uniqueness" or check.startswith("multiple_fields_uniqueness"):
            out.append((idx, col, f"duplicate {one_line(case, 40)!r}"))
        elif check.startswith("coerce_dtype"):
            out.append((idx, col, f"not a number: {one_line(case, 40)!r}"))
        elif r.schema_context == "DataFrameSchema" and idx is not None:
            out.append((idx, check.split()[0], check))  # a row check names its column first
        else:
            out.append((idx, col, f"{check} (got {one_line(case, 40)})"))
    # wide checks report each failing row once per column; keep one line per row and check
    seen, unique = set(), []
    for p in out:
        key = (p[0], p[1] or "", p[2].split(" (got")[0])
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique
