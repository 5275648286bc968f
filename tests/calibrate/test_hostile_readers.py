"""Hostile input to the readers of calibrate (and backtest, track): one table row per input —
how it is made, what is called, the exit code, a fragment of the one line expected.

Most rows call the readers in-process (``calibrate_files`` and ``load_mapping`` raise
``InputError``, exit code 2, whose text the CLI prints line by line); the rows marked ``cli``
run the real ``revsim calibrate`` because the process itself is under test (exit code, one
stderr line, no traceback, nothing written). Limits are exercised with small values set
through their environment variables, not with huge files.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.cli import run_cli

from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "baseline.yaml"

HEAD = "customer_id,segment,start_date,end_date,term_months,billing,arr_usd"
SUBS = (f"{HEAD}\n"
        "C1,smb,2024-01-01,,1,monthly,1200\n"
        "C2,mid_market,2024-02-01,2025-02-01,12,annual,30000\n")


def subs(row2: str = "C2,mid_market,2024-02-01,2025-02-01,12,annual,30000",
         row1: str = "C1,smb,2024-01-01,,1,monthly,1200", head: str = HEAD) -> str:
    return f"{head}\n{row1}\n{row2}\n"


def workbook(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_bomb(size: int = 60_000_000) -> bytes:
    """A workbook whose sheet declares ``size`` bytes of XML compressed a thousandfold."""
    good = zipfile.ZipFile(io.BytesIO(workbook([HEAD.split(",")])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in good.infolist():
            data = good.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row>" + b" " * size + b"</row></sheetData>")
            out.writestr(info.filename, data)
    return buf.getvalue()


def alias_bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        lines.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\nsubscriptions: {columns: *i}\n"


@dataclass
class Case:
    """One hostile input. ``files``: name → text or bytes written into the test's folder;
    ``call``: keyword arguments of ``calibrate_files`` (``subscriptions`` and ``mapping``
    name files); ``env``: environment variables set for the call."""

    id: str
    files: dict
    line: str
    call: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    code: int = 2
    cli: bool = False


CASES = [
    # ---- flags that make no sense
    Case("as-of empty", {"s.csv": SUBS}, "--as-of: empty", {"as_of": ""}),
    Case("as-of year 1", {"s.csv": SUBS}, "--as-of: 0001-01-01 is outside 1900-2200",
         {"as_of": "0001-01-01"}),
    Case("as-of year 9999", {"s.csv": SUBS}, "--as-of: 9999-12-31 is outside 1900-2200",
         {"as_of": "9999-12-31"}),
    Case("as-of not a date", {"s.csv": SUBS}, "--as-of: not an ISO date (YYYY-MM-DD): '2024-13-01'",
         {"as_of": "2024-13-01"}),
    Case("history start after as-of", {"s.csv": SUBS},
         "--history-start 2024-06-01: on or after --as-of 2023-01-01",
         {"as_of": "2023-01-01", "history_start": "2024-06-01"}),
    Case("no rows before as-of", {"s.csv": SUBS},
         "--as-of 2001-01-01: no data rows before it (the files run from 2024-01-01 to "
         "2024-02-01)", {"as_of": "2001-01-01"}),
    Case("no rows in the window", {"s.csv": subs(
        row1="C1,smb,2020-01-01,2020-06-01,1,monthly,1200",
        row2="C2,smb,2020-02-01,2021-02-01,12,annual,1200")},
         "--as-of 2025-01-01: no data rows between --history-start 2022-01-01 and it",
         {"history_start": "2022-01-01"}),
    Case("a history of one day", {"s.csv": SUBS},
         "--history-start 2024-01-01: only 1 day(s) before --as-of 2024-01-02; calibration "
         "needs at least 90 days", {"as_of": "2024-01-02", "history_start": "2024-01-01"}),
    Case("files that start days before as-of", {"s.csv": SUBS},
         "--as-of 2024-02-15: the files start 2024-01-01, only 45 day(s) before it",
         {"as_of": "2024-02-15"}),
    # ---- columns and cells
    Case("two arr_usd columns", {"s.csv": subs(head=HEAD + ",arr_usd",
                                               row1="C1,smb,2024-01-01,,1,monthly,1200,5",
                                               row2="C2,smb,2024-01-01,,1,monthly,1200,5")},
         "s.csv: column arr_usd: appears twice in the header (columns 7 and 8); keep one"),
    Case("mixed time zones", {"s.csv": subs(
        row1="C1,smb,2024-01-01T00:00:00+01:00,,1,monthly,1200",
        row2="C2,smb,2024-01-05T00:00:00+05:00,,1,monthly,1200")},
         "s.csv: row 2, column start_date: time zone +0500 differs from +0100 on row 1"),
    Case("one time zone is read as the local date", {"s.csv": subs(
        row1="C1,smb,2024-01-01T00:00:00+01:00,,1,monthly,1200",
        row2="C2,smb,2024-01-05T23:00:00+01:00,x,1,monthly,1200")},
         "s.csv: row 2, column end_date: not an ISO date (YYYY-MM-DD): 'x'"),
    Case("date in year 9999", {"s.csv": subs("C2,smb,2024-02-01,9999-12-31,12,annual,30000")},
         "s.csv: row 2, column end_date: 9999-12-31 is outside 1900-2200"),
    Case("date 0001-01-01", {"s.csv": subs("C2,smb,0001-01-01,,12,annual,30000")},
         "s.csv: row 2, column start_date: 0001-01-01 is outside 1900-2200"),
    Case("file name with a newline", {"s\nall good.csv": subs("C2,smb,x,,12,annual,30000")},
         "s\\nall good.csv: row 2, column start_date: not an ISO date",
         {"subscriptions": "s\nall good.csv"}),
    # ---- limits (small values through the environment)
    Case("rows over the limit", {"s.csv": SUBS},
         "s.csv: more than 1 rows (limit 1, REVSIM_MAX_INPUT_ROWS;",
         env={"REVSIM_MAX_INPUT_ROWS": "1"}),
    Case("cells over the limit", {"s.csv": SUBS},
         "s.csv: more than 10 cells (7 columns) (limit 10, REVSIM_MAX_INPUT_CELLS;",
         env={"REVSIM_MAX_INPUT_CELLS": "10"}),
    Case("file over the size limit", {"s.csv": SUBS},
         f"s.csv: the file has {len(SUBS):,} bytes (limit 100, REVSIM_MAX_INPUT_BYTES;",
         env={"REVSIM_MAX_INPUT_BYTES": "100"}),
    Case("a limit that is not a number", {"s.csv": SUBS},
         "REVSIM_MAX_INPUT_ROWS: expected a whole number >= 1 (got 'lots')",
         env={"REVSIM_MAX_INPUT_ROWS": "lots"}),
    Case("xlsx zip bomb", {"s.xlsx": zip_bomb()},
         "s.xlsx: xl/worksheets/sheet1.xml declares 60,000,", {"subscriptions": "s.xlsx"}),
    Case("xlsx over the declared-size limit", {"s.xlsx": workbook([HEAD.split(",")])},
         "s.xlsx: the workbook declares", {"subscriptions": "s.xlsx"},
         env={"REVSIM_MAX_INPUT_BYTES": "9000"}),
    Case("xlsx that is not a workbook", {"s.xlsx": SUBS},
         "s.xlsx: not an Excel workbook", {"subscriptions": "s.xlsx"}),
    Case("xlsx without the required columns", {"s.xlsx": workbook(
        [["id", "plan"]] + [["C1", "smb"]] * 50)},
         "s.xlsx: columns customer_id, segment, start_date, end_date, term_months, billing, "
         "arr_usd: missing columns (the header has id, plan)", {"subscriptions": "s.xlsx"}),
    # ---- mapping files
    Case("mapping alias bomb", {"s.csv": SUBS, "m.yaml": alias_bomb()},
         "m.yaml: line ", {"mapping": "m.yaml"}),
    Case("mapping of 2 MB", {"s.csv": SUBS, "m.yaml": "# x\n" * 500_000},
         "m.yaml: (file): larger than 1,000,000 bytes (limit MAX_FILE_BYTES)",
         {"mapping": "m.yaml"}),
    Case("mapping: a string where a list belongs", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  product: {arr_usd: Amount}\n"},
         "m.yaml: subscriptions.product.arr_usd: Input should be a valid list (got 'Amount')",
         {"mapping": "m.yaml"}),
    Case("mapping: bad date_format", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  date_format: '%Q/%d'\n"},
         "m.yaml: subscriptions.date_format: not a date format ('Q' is a bad directive",
         {"mapping": "m.yaml"}),
    Case("mapping: date_format without a directive", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  date_format: MM/DD/YYYY\n"},
         "m.yaml: subscriptions.date_format: has no % directive", {"mapping": "m.yaml"}),
    Case("mapping: bands a string", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  segment: {from: Size, bands: smb}\n"},
         "m.yaml: subscriptions.segment.bands: Input should be a valid list",
         {"mapping": "m.yaml"}),
    Case("mapping: both bands and values", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  segment: {from: S, bands: [[1, smb]], "
                                 "values: {a: smb}}\n"},
         "m.yaml: subscriptions.segment: give exactly one of bands and values",
         {"mapping": "m.yaml"}),
    Case("mapping: a list as a column name", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  columns: {arr_usd: [a, b]}\n"},
         "m.yaml: subscriptions.columns.arr_usd: Input should be a valid string",
         {"mapping": "m.yaml"}),
    Case("mapping: values a list", {
        "s.csv": SUBS, "m.yaml": "subscriptions:\n  values: [a, b]\n"},
         "m.yaml: subscriptions.values: Input should be a valid dictionary",
         {"mapping": "m.yaml"}),
    Case("mapping: an unknown kind", {"s.csv": SUBS, "m.yaml": "deals: {}\n"},
         "m.yaml: deals: unknown kind", {"mapping": "m.yaml"}),
    Case("mapping: a list", {"s.csv": SUBS, "m.yaml": "- a\n"},
         "m.yaml: expected a mapping of file kinds", {"mapping": "m.yaml"}),
    # ---- the process itself: exit code, one stderr line, nothing written
    Case("cli: as-of empty", {"s.csv": SUBS}, "--as-of: empty", {"as_of": ""}, cli=True),
    Case("cli: history start after as-of", {"s.csv": SUBS},
         "--history-start 2024-06-01: on or after --as-of 2023-01-01",
         {"as_of": "2023-01-01", "history_start": "2024-06-01"}, cli=True),
    Case("cli: mixed time zones (was exit 1, 'a bug')", {"s.csv": subs(
        row1="C1,smb,2024-01-01T00:00:00+01:00,,1,monthly,1200",
        row2="C2,smb,2024-01-05T00:00:00Z,,1,monthly,1200")},
         "s.csv: row 2, column start_date: time zone Z differs from +0100 on row 1", cli=True),
    Case("cli: file name with a newline", {"s\nwrote cal.yaml": subs("C2,smb,0001-01-01,,1,"
                                                                    "monthly,1")},
         "s\\nwrote cal.yaml: row 2, column start_date: 0001-01-01 is outside 1900-2200",
         {"subscriptions": "s\nwrote cal.yaml"}, cli=True),
    Case("cli: mapping alias bomb", {"s.csv": SUBS, "m.yaml": alias_bomb()},
         "m.yaml: line ", {"mapping": "m.yaml"}, cli=True),
]


def _setup(case: Case, folder: Path) -> dict:
    for name, content in case.files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return {"as_of": "2025-01-01", "subscriptions": "s.csv", "mapping": None,
            "history_start": None, **case.call}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_line(case: Case, tmp_path, monkeypatch):
    args = _setup(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cal.yaml"
    if case.cli:
        argv = ["calibrate", "--base", str(BASE), "--as-of", args["as_of"],
                "--subscriptions", args["subscriptions"], "--out", "cal.yaml"]
        if args["mapping"]:
            argv += ["--mapping", args["mapping"]]
        if args["history_start"]:
            argv += ["--history-start", args["history_start"]]
        proc = run_cli(*argv, cwd=tmp_path, env=case.env)
        assert proc.returncode == case.code, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, proc.stderr
        assert case.line in lines[0]
        assert not out.exists()
        return
    from sim.calibrate.run import calibrate_files

    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InputError) as err:
        calibrate_files(BASE, {"subscriptions": Path(args["subscriptions"])}, args["as_of"],
                        out, Path(args["mapping"]) if args["mapping"] else None,
                        args["history_start"])
    assert err.value.exit_code == case.code
    lines = str(err.value).splitlines()
    assert len(lines) == 1, lines
    assert case.line in lines[0], lines[0]
    assert not out.exists()


# ---------------------------------------------------------------- mechanisms


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(tmp_path, monkeypatch):
    import openpyxl

    from sim.calibrate.readers import read_table

    def never(*a, **k):
        raise AssertionError("openpyxl opened the bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(zip_bomb(400_000_000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(InputError, match="zip bomb"):
        read_table(path)
    # over the size limit too: refused by the declared total alone
    monkeypatch.setenv("REVSIM_MAX_INPUT_BYTES", "100000000")
    with pytest.raises(InputError, match="declares 400,0"):
        read_table(path)


def test_a_workbook_without_the_required_columns_is_refused_from_its_header(tmp_path,
                                                                           monkeypatch):
    import sim.calibrate.readers as readers
    from sim.calibrate.schemas import header_check, read_table

    path = tmp_path / "deals.xlsx"
    path.write_bytes(workbook([["id", "stage", "amount"]] + [["D1", "won", 5]] * 2000))
    seen = []
    real = readers._cell_text
    monkeypatch.setattr(readers, "_cell_text", lambda v, na: seen.append(v) or real(v, na))
    with pytest.raises(InputError, match="deals.xlsx: columns customer_id, segment"):
        read_table(path, header_check("subscriptions", ["smb"], "deals.xlsx"))
    assert seen == ["id", "stage", "amount"]  # the header, and no data row


def test_a_csv_without_the_required_columns_is_refused_before_its_rows(tmp_path):
    from sim.calibrate.schemas import header_check, read_table

    path = tmp_path / "deals.csv"
    path.write_bytes(b"id,stage\n" + b'"unclosed,\xff\xfe\n' * 10)  # rows pandas cannot read
    with pytest.raises(InputError, match="deals.csv: columns customer_id, segment"):
        read_table(path, header_check("subscriptions", ["smb"], "deals.csv"))


def test_allow_large_lifts_the_limits(tmp_path, monkeypatch):
    from sim.calibrate.readers import read_table

    path = tmp_path / "s.csv"
    path.write_text(SUBS)
    monkeypatch.setenv("REVSIM_MAX_INPUT_ROWS", "1")
    with pytest.raises(InputError, match="more than 1 rows"):
        read_table(path)
    monkeypatch.setenv("REVSIM_ALLOW_LARGE", "1")
    assert len(read_table(path)) == 2


def test_a_large_file_shows_progress(tmp_path, capsys, monkeypatch):
    import sim.calibrate.readers as readers
    from sim.calibrate.readers import read_table

    monkeypatch.delenv("REVSIM_PROGRESS", raising=False)
    rows = readers.PROGRESS_ROWS + readers.CHUNK_ROWS  # one line, at PROGRESS_ROWS
    path = tmp_path / "big.csv"
    path.write_text(HEAD + "\n" + "C1,smb,2024-01-01,,1,monthly,1200\n" * rows)
    df = read_table(path)
    assert len(df) == rows
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"reading {path}: {readers.PROGRESS_ROWS:,} rows (")
    monkeypatch.setenv("REVSIM_PROGRESS", "never")
    read_table(path)
    assert capsys.readouterr().err == ""


def test_small_files_are_silent(tmp_path, capsys):
    from sim.calibrate.readers import read_table

    path = tmp_path / "s.csv"
    path.write_text(SUBS)
    read_table(path)
    assert capsys.readouterr().err == ""


def test_a_capped_count_is_a_warning(tmp_path):
    from sim.calibrate.run import calibrate_files

    base = tmp_path / "base.yaml"
    base.write_text(f"extends: {BASE}\nsegments:\n  smb:\n    market_size_accounts: 3\n"
                    "    installed_customers: 1\n")
    rows = "".join(f"C{i},smb,2024-01-0{1 + i % 9},,1,monthly,1200\n" for i in range(7))
    (tmp_path / "s.csv").write_text(f"{HEAD}\n{rows}")
    text, fit = calibrate_files(base, {"subscriptions": tmp_path / "s.csv"}, "2025-01-01",
                                tmp_path / "cal.yaml")
    capped = [w for w in fit.warnings if "installed_customers" in w]
    assert capped == ["segments.smb.installed_customers: 7 customers active at 2025-01-01, "
                      "written as 3 (the base's market_size_accounts caps it; raise it in the "
                      "base to keep them all)"]
    assert "installed_customers: 3" in text


def test_an_exported_file_reads_back_like_pandas_for_excel(tmp_path):
    """The streaming Excel reader gives what ``pandas.read_excel(dtype=str)`` gave (the
    reader it replaced), apart from revsim's own CSV quote, which it takes off."""
    import datetime as dt

    import pandas as pd

    from sim.calibrate.readers import read_table

    rows = [["a", "b", 2023, "d"], [1, 1.5, dt.datetime(2023, 1, 2), "x"],
            [None, None, None, None], [3.0, -2, dt.date(2023, 1, 3), "N/A"],
            ["'@SUM(1)", " sp ", None, True], [None] * 4]
    path = tmp_path / "t.xlsx"
    path.write_bytes(workbook(rows))
    ours = read_table(path)
    theirs = pd.read_excel(path, dtype=str)
    theirs.columns = [str(c) for c in theirs.columns]
    theirs.loc[3, "a"] = "@SUM(1)"
    pd.testing.assert_frame_equal(ours, theirs)


def test_the_allow_large_flag_lifts_the_reader_limits_for_its_command(tmp_path):
    (tmp_path / "s.csv").write_text(SUBS)
    argv = ["calibrate", "--base", str(BASE), "--as-of", "2025-01-01", "--subscriptions",
            "s.csv", "--out", "cal.yaml"]
    env = {"REVSIM_MAX_INPUT_ROWS": "1"}
    refused = run_cli(*argv, cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "more than 1 rows" in refused.stderr and "--allow-large" in refused.stderr
    lifted = run_cli(*argv, "--allow-large", cwd=tmp_path, env=env)
    assert "more than 1 rows" not in lifted.stderr, lifted.stderr
