"""Finance-grade workbook sheets: the verdict, the profit bridges and the three statements
(monthly, quarterly, fiscal year) with a number format per unit, frozen headers, filters on
tables, and a print setup that fits a page width in landscape.

Works on an openpyxl ``Workbook``; text from scenarios goes in as text (``sim.outputs.escape``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import pandas as pd
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sim.analysis.statements import BALANCE_LINES, CASH_FLOW_LINES, EXPENSE_LINES, INCOME_LINES
from sim.outputs.escape import excel_text

FORMATS = {
    "usd": '$#,##0;[Red]-$#,##0;"–"',
    "usd_k": '$#,##0,"K";[Red]-$#,##0,"K";"–"',
    "pct": "0.0%",
    "months": '0.0" mo"',
    "days": '0.0" days"',
    "count": "#,##0",
    "ratio": "0.00",
    "points": '0.0" pts"',
    "number": "#,##0.###",
    "integer": "0",
}
"""Number format per unit: whole dollars, %, months, days, counts, ratios, Rule-of-40
points, other numbers, plain integers (years, plan months)."""
UNIT_FORMATS = {"usd": "usd", "frac": "pct", "months": "months", "days": "days",
                "count": "count", "ratio": "ratio", "number": "number"}
"""``sim.kpis`` unit → key of ``FORMATS``."""
UNIT_NAMES = {"usd": "USD", "pct": "%", "months": "months", "days": "days", "count": "count",
              "ratio": "ratio", "points": "points", "number": "number", "integer": "number"}
"""How a unit reads in a Unit column."""


def kpi_format(name: str) -> str:
    """The ``FORMATS`` key of a KPI (or any named value) from the KPI catalogue: NRR and
    margins as %, customers as whole numbers, payback in months, Rule of 40 in points."""
    from sim.kpis import unit_of

    if "rule_of_40" in name:
        return "points"
    return UNIT_FORMATS.get(unit_of(name), "number")
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
TOTAL_BORDER = Border(top=Side(style="thin"))
TOTAL_LINES = {"gross_profit", "operating_expenses", "operating_profit", "cash_from_operations",
               "closing_cash", "total_assets", "total_liabilities_equity"}
STATEMENT_TITLES = {"income": ("Income statement", INCOME_LINES),
                    "cash_flow": ("Cash flow", CASH_FLOW_LINES),
                    "balance_sheet": ("Balance sheet (period end)", BALANCE_LINES)}
FREQ_TITLES = {"month": "monthly", "quarter": "quarterly", "year": "fiscal year"}


def print_setup(ws: Worksheet, header_rows: int, landscape: bool = True) -> None:
    """Landscape, fit all columns on one page width (any height), repeat the header rows."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.print_title_rows = f"1:{header_rows}"
    ws.page_margins.left = ws.page_margins.right = 0.4


FORMULAS = "_revsim_formulas"
"""Attribute of an openpyxl ``Workbook`` holding the cells revsim wrote as formulas (sheet
title → coordinates); :func:`sim.outputs.escape.neutralise_formulas` keeps only these."""


def put_formula(ws: Worksheet, row: int, column: int, text: str):
    """Write an Excel formula that revsim built from cell references (never from text a
    user wrote) and record the cell as ours."""
    c = ws.cell(row=row, column=column, value=text)
    ws.parent.__dict__.setdefault(FORMULAS, {}).setdefault(ws.title, set()).add(c.coordinate)
    return c


def formula_cells(wb) -> dict[str, set[str]]:
    """Sheet title → coordinates of the formulas revsim wrote (:func:`put_formula`)."""
    return getattr(wb, FORMULAS, {})


def sheet_ref(title: str) -> str:
    """``'title'!``: a reference prefix to another sheet (quotes doubled, as Excel does)."""
    return "'" + title.replace("'", "''") + "'!"


def _number(v: float) -> str:
    return repr(float(v))


MARGIN_LINES = {"gross_margin": ("Gross margin (gross profit ÷ revenue)", "gross_profit"),
                "operating_margin": ("Operating margin (operating profit ÷ revenue)",
                                     "operating_profit")}
"""Ratio rows under the income statement: label and the profit line over revenue."""
BALANCE_CHECK = "Balance check: total assets − deferred revenue − equity (zero)"
STATEMENT_ROWS = {"income": [*INCOME_LINES, *MARGIN_LINES], "cash_flow": list(CASH_FLOW_LINES),
                  "balance_sheet": [*BALANCE_LINES, "balance_check"]}
"""Rows of each block of a statements sheet, in order."""
INPUT_LINES = {"income": {"revenue", "cogs", *EXPENSE_LINES},
               "cash_flow": {"change_receivables", "change_deferred_revenue"},
               "balance_sheet": {"receivables", "deferred_revenue"}}
"""The lines written as numbers on a monthly sheet (the monthly lines); every other line is a
formula over them. On a quarterly or fiscal-year sheet the flows are SUMs of the monthly
sheet's months and the balances its period-end month."""


def statement_rows() -> dict[tuple[str, str], int]:
    """(block, line) → row of a statements sheet (the same on every statements sheet)."""
    rows, row = {}, 3
    for key, lines in STATEMENT_ROWS.items():
        row += 2  # a blank row and the block's title
        for line in lines:
            rows[(key, line)] = row
            row += 1
    return rows


def _statement_formulas(rows, col: str, prev: str | None) -> dict[tuple[str, str], str]:
    """The formulas of one period column that do not depend on the monthly sheet."""
    r = {k: f"{col}{v}" for k, v in rows.items()}
    i = {line: r[("income", line)] for line in (*INCOME_LINES, *MARGIN_LINES)}
    c = {line: r[("cash_flow", line)] for line in CASH_FLOW_LINES}
    b = {line: r[("balance_sheet", line)] for line in (*BALANCE_LINES, "balance_check")}
    out = {
        ("income", "gross_profit"): f"={i['revenue']}-{i['cogs']}",
        ("income", "operating_expenses"):
            f"=SUM({i[EXPENSE_LINES[0]]}:{i[EXPENSE_LINES[-1]]})",
        ("income", "operating_profit"): f"={i['gross_profit']}-{i['operating_expenses']}",
        ("cash_flow", "operating_profit"): f"={i['operating_profit']}",
        ("cash_flow", "cash_from_operations"):
            f"=SUM({c['operating_profit']}:{c['change_deferred_revenue']})",
        ("cash_flow", "closing_cash"): f"={c['opening_cash']}+{c['cash_from_operations']}",
        ("balance_sheet", "cash"): f"={c['closing_cash']}",
        ("balance_sheet", "total_assets"): f"={b['cash']}+{b['receivables']}",
        ("balance_sheet", "total_liabilities_equity"):
            f"={b['deferred_revenue']}+{b['equity']}",
        ("balance_sheet", "balance_check"):
            f"={b['total_assets']}-{b['deferred_revenue']}-{b['equity']}",
    }
    for line, (_label, profit) in MARGIN_LINES.items():
        out[("income", line)] = f'=IF({i["revenue"]}=0,"",{i[profit]}/{i["revenue"]})'
    if prev is not None:
        out[("cash_flow", "opening_cash")] = f"={prev}{rows[('cash_flow', 'closing_cash')]}"
        out[("balance_sheet", "equity")] = (f"={prev}{rows[('balance_sheet', 'equity')]}"
                                            f"+{i['operating_profit']}")
    return out


def statements_sheet(wb, name: str, statements: Mapping[str, pd.DataFrame], title: str,
                     freq: str, source: tuple[str, Sequence[Sequence[int]]] | None = None
                     ) -> Worksheet:
    """One sheet holding the three statements: lines down, periods across (USD), each block
    headed by its title; header row and label column frozen.

    An auditable sheet: only the monthly lines are numbers; gross profit, operating
    expenses (a SUM), operating profit, the margins (ratios), cash from operations (a SUM),
    the cash roll-forward (opening = last period's closing, closing = opening + cash from
    operations), cash on the balance sheet, the totals, equity (last period's + operating
    profit) and the balance check are formulas. With ``source`` (the monthly sheet's title
    and each period's month columns there), a quarter's or year's flows are SUMs over those
    columns and its balances the period-end month's cells."""
    ws = wb.create_sheet(name)
    ws.cell(row=1, column=1, value=excel_text(title)).font = Font(bold=True, size=12)
    periods = list(next(iter(statements.values())).index)
    ws.cell(row=2, column=1, value="USD").font = BOLD
    for j, p in enumerate(periods, start=2):
        c = ws.cell(row=2, column=j, value=excel_text(str(p)))
        c.font, c.fill, c.alignment = BOLD, HEADER_FILL, Alignment(horizontal="right")
    ws.cell(row=2, column=1).fill = HEADER_FILL
    rows = statement_rows()
    titles = {key: block_title for key, (block_title, _lines) in STATEMENT_TITLES.items()}
    labels = {**INCOME_LINES, **{k: v[0] for k, v in MARGIN_LINES.items()}, **CASH_FLOW_LINES,
              **BALANCE_LINES, "balance_check": BALANCE_CHECK}
    for key in STATEMENT_ROWS:
        ws.cell(row=rows[(key, STATEMENT_ROWS[key][0])] - 1, column=1,
                value=titles[key]).font = BOLD
        for line in STATEMENT_ROWS[key]:
            cell = ws.cell(row=rows[(key, line)], column=1, value=labels[line])
            if line in TOTAL_LINES:
                cell.font = BOLD
    ref = sheet_ref(source[0]) if source is not None else ""
    for j, p in enumerate(periods, start=2):
        col = get_column_letter(j)
        prev = get_column_letter(j - 1) if j > 2 else None
        formulas = _statement_formulas(rows, col, prev)
        months = source[1][j - 2] if source is not None else None
        first = get_column_letter(months[0] + 1) if months else None
        last = get_column_letter(months[-1] + 1) if months else None
        if prev is None:
            opening = rows[("cash_flow", "opening_cash")]
            op = rows[("income", "operating_profit")]
            if months:
                formulas[("cash_flow", "opening_cash")] = f"={ref}{first}{opening}"
            if months:
                formulas[("balance_sheet", "equity")] = (
                    f"={ref}{last}{rows[('balance_sheet', 'equity')]}")
            else:
                equity0 = (float(statements["balance_sheet"].loc[p, "equity"])
                           - float(statements["income"].loc[p, "operating_profit"]))
                formulas[("balance_sheet", "equity")] = f"={_number(equity0)}+{col}{op}"
        for key, lines in STATEMENT_ROWS.items():
            for line in lines:
                r = rows[(key, line)]
                if (key, line) in formulas:
                    c = put_formula(ws, r, j, formulas[(key, line)])
                elif months and line in INPUT_LINES[key]:
                    text = (f"=SUM({ref}{first}{r}:{ref}{last}{r})"
                            if key != "balance_sheet" else f"={ref}{last}{r}")
                    c = put_formula(ws, r, j, text)
                else:
                    c = ws.cell(row=r, column=j, value=_value(statements[key].loc[p, line]))
                c.number_format = FORMATS["pct"] if line in MARGIN_LINES else FORMATS["usd"]
                if line in TOTAL_LINES:
                    c.font, c.border = BOLD, TOTAL_BORDER
    ws.freeze_panes = "B3"
    ws.column_dimensions["A"].width = 58
    width = 12 if freq == "month" else 14
    for j in range(2, len(periods) + 2):
        ws.column_dimensions[get_column_letter(j)].width = width
    print_setup(ws, header_rows=2)
    return ws


def table_sheet(wb, name: str, frame: pd.DataFrame, title: str,
                formats: Mapping[str, str], row_formats: Sequence[str | None] | None = None,
                row_format_columns: Collection[str] = (), freeze: str = "A3",
                widths: Mapping[str, float] | None = None) -> Worksheet:
    """A table with a title row, human headers, a number format per column (``formats``) or
    per row (``row_formats``, one ``FORMATS`` key per row, for ``row_format_columns``), a
    frozen header (and the columns left of ``freeze``), an autofilter and a print setup one
    page wide."""
    ws = wb.create_sheet(name)
    ws.cell(row=1, column=1, value=excel_text(title)).font = Font(bold=True, size=12)
    widths = widths or {}
    for j, col in enumerate(frame.columns, start=1):
        c = ws.cell(row=2, column=j, value=excel_text(str(col)))
        c.font, c.fill = BOLD, HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")
        width = widths.get(col) or max(
            12, min(60, max([len(str(col)) // 2] + [len(str(v)) for v in frame.iloc[:, j - 1]])
                + 2))
        ws.column_dimensions[get_column_letter(j)].width = width
    for i, rec in enumerate(frame.itertuples(index=False), start=3):
        row_fmt = row_formats[i - 3] if row_formats is not None else None
        for j, (col, v) in enumerate(zip(frame.columns, rec, strict=True), start=1):
            c = ws.cell(row=i, column=j, value=excel_text(v) if isinstance(v, str) else _value(v))
            if row_fmt and col in row_format_columns:
                c.number_format = FORMATS[row_fmt]
            elif col in formats:
                c.number_format = FORMATS[formats[col]]
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A2:{get_column_letter(len(frame.columns))}{len(frame) + 2}"
    print_setup(ws, header_rows=2)
    return ws


def _value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return excel_text(str(v))
    return None if math.isnan(f) else f


VERDICT_COLUMNS = {
    "rank": ("Rank", "count"),
    "scenario": ("Plan", None),
    "decision_mean": ("NPV of operating profit, mean (USD)", "usd"),
    "decision_delta": ("Δ NPV vs base, mean of paired differences (USD)", "usd"),
    "decision_ci_low": ("Δ NPV, 95% interval low (USD)", "usd"),
    "decision_ci_high": ("Δ NPV, 95% interval high (USD)", "usd"),
    "profit_delta": ("Δ operating profit vs base, mean (USD)", "usd"),
    "profit_ci_low": ("Δ operating profit, 95% interval low (USD)", "usd"),
    "profit_ci_high": ("Δ operating profit, 95% interval high (USD)", "usd"),
    "profit_prob_better": ("P(beats base on operating profit)", "pct"),
    "profit_prob_low": ("P(beats base), 95% interval low", "pct"),
    "profit_prob_high": ("P(beats base), 95% interval high", "pct"),
    "cash_trough_mean": ("Cash trough, mean (USD)", "usd"),
    "cash_trough_p10": ("Cash trough, P10 (USD)", "usd"),
    "cash_trough_p90": ("Cash trough, P90 (USD)", "usd"),
    "prob_breach": ("P(cash below floor)", "pct"),
    "prob_breach_high": ("P(cash below floor), 95% interval high", "pct"),
    "levers": ("Settings that differ from the base", None),
}


def verdict_sheet(wb, frame: pd.DataFrame, sentences: list[str], n: int) -> Worksheet:
    """The verdict table with human labels and formats, the sentences beneath."""
    cols = [c for c in VERDICT_COLUMNS if c in frame.columns]
    table = frame[cols].rename(columns={c: VERDICT_COLUMNS[c][0] for c in cols})
    formats = {VERDICT_COLUMNS[c][0]: VERDICT_COLUMNS[c][1] for c in cols if VERDICT_COLUMNS[c][1]}
    ws = table_sheet(wb, "Verdict", table,
                     f"Verdict: plans ranked by mean NPV of operating profit ({n} paired runs)",
                     formats)
    row = len(table) + 4
    for s in sentences:
        ws.cell(row=row, column=1, value=excel_text(s))
        row += 1
    return ws


def bridge_sheet(wb, summaries: Mapping[str, pd.DataFrame]) -> Worksheet:
    """Every plan's profit bridge (price, volume and mix of new customers, the installed
    base's repricing, expansion and churn, each cost line): line, mean contribution and 95%
    interval (USD)."""
    rows = []
    for plan, summary in summaries.items():
        for _, r in summary.iterrows():
            rows.append({"Plan": plan, "Line": r["label"], "Mean (USD)": r["mean"],
                         "95% interval low (USD)": r["ci_low"],
                         "95% interval high (USD)": r["ci_high"]})
    frame = pd.DataFrame(rows)
    return table_sheet(wb, "Profit bridge", frame,
                       "Profit bridge: paired operating-profit difference to the base, by price, "
                       "volume, mix, installed base and cost line",
                       {c: "usd" for c in frame.columns if "USD" in c})


def _short_name(name: str, suffix: str, used: set[str]) -> str:
    """A sheet name ≤ 31 characters, without the characters Excel forbids, unique."""
    clean = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)
    base = f"{clean[:31 - len(suffix) - 1]} {suffix}".strip()
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]} {i}"
        i += 1
    used.add(out.lower())
    return out


def add_decision_sheets(wb, compare_result, freqs=("month", "quarter", "year")) -> list[str]:
    """Verdict, profit bridge and the statements (mean of the replications) of every plan
    by month, quarter and fiscal year; returns the sheet names added."""
    from sim.analysis.bridge import bridges
    from sim.analysis.statements import mean_statements
    from sim.analysis.verdict import verdict

    frame, sentences = verdict(compare_result)
    added = [verdict_sheet(wb, frame, sentences, compare_result.base.replications).title]
    if compare_result.others:
        added.append(bridge_sheet(wb, {k: v[1] for k, v in bridges(compare_result).items()})
                     .title)
    used = {s.lower() for s in wb.sheetnames}
    for res in compare_result.results:
        monthly_sheet = None
        for freq in freqs:
            suffix = {"month": "M", "quarter": "Q", "year": "FY"}[freq]
            name = _short_name(res.name, suffix, used)
            title = (f"{res.name}: three statements, {FREQ_TITLES[freq]}, mean of "
                     f"{res.replications} replications (USD)")
            frames = mean_statements(res, freq)
            source = None
            if monthly_sheet is not None and freq != "month":
                source = (monthly_sheet, period_months(res.scenario, frames["income"].index,
                                                       freq))
            ws = statements_sheet(wb, name, frames, title, freq, source)
            if freq == "month":
                monthly_sheet = ws.title
            added.append(ws.title)
    return added


def period_months(scenario, periods: Sequence[str], freq: str) -> list[list[int]]:
    """The plan months (1-based) of each period label, in the order of ``periods``."""
    from sim.scenario.calendar import labels

    key = labels(scenario.horizon_months, scenario.calendar, freq)
    months: dict[str, list[int]] = {}
    for month, label in key.items():
        months.setdefault(str(label), []).append(int(month))
    return [months[str(p)] for p in periods]


def write_decision_workbook(path, compare_result) -> None:
    """A workbook of the decision sheets alone (the report adds them to its own)."""
    from openpyxl import Workbook

    from sim.outputs.escape import neutralise_formulas

    wb = Workbook()
    wb.remove(wb.active)
    add_decision_sheets(wb, compare_result)
    neutralise_formulas(wb, formula_cells(wb))
    wb.save(path)
