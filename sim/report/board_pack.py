"""The board pack: one self-contained HTML page per section — verdict, profit bridge,
headline KPIs, profit next to revenue, cash, statements, assumptions — printed to
``board_pack.pdf`` by a real browser engine (headless Chromium), A4 landscape with page
numbers, no table split across pages.

Every scenario text is escaped (``html_text``); charts are vl-convert SVG (offline).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from sim.analysis import constraints
from sim.analysis import stats as mc
from sim.analysis.bridge import bridges
from sim.analysis.statements import BALANCE_LINES, CASH_FLOW_LINES, INCOME_LINES, mean_statements
from sim.analysis.verdict import STATISTICS_NOTE, verdict
from sim.experiments.compare import decision_values
from sim.kpis import DECISION_KPIS, KPIS, TEXT, fmt_range, fmt_usd, fmt_value, reached_note
from sim.kpis import label as kpi_label
from sim.outputs.escape import html_text
from sim.report import charts, page
from sim.report.chart_style import PALETTE
from sim.report.fan import fan

CSS = """
@page { size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font: 9pt sans-serif; color: #555; }
        @bottom-left { content: "revsim board pack"; font: 9pt sans-serif; color: #555; } }
body { font: 9.5pt/1.3 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1b1f24; }
section { break-before: page; }
section:first-of-type { break-before: auto; }
h1 { font-size: 17pt; margin: 0 0 4pt; } h2 { font-size: 14pt; margin: 0 0 6pt; }
p.note { color: #555; font-size: 8.5pt; margin: 2pt 0 6pt; }
table { border-collapse: collapse; break-inside: avoid; margin: 4pt 0 8pt; font-size: 8.5pt; }
th, td { padding: 2pt 6pt; border-bottom: 1px solid #dde; text-align: right; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; max-width: 95mm; }
tr.total td { font-weight: bold; border-top: 1px solid #888; }
caption { text-align: left; font-weight: bold; padding-bottom: 2pt; }
ul.verdict li { margin-bottom: 3pt; font-size: 8.5pt; }
.figure { break-inside: avoid; } .figure svg { max-width: 100%; height: auto; }
.block { break-inside: avoid; }
.row { display: flex; gap: 12pt; align-items: flex-start; } .wrap { flex-wrap: wrap; }
"""


def _money(v: float) -> str:
    return fmt_usd(v)


def _pct(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _table(headers: list[str], rows: list[list[str]], caption: str, totals=(),
           text_cols=()) -> str:
    return page.table(headers, rows, caption, text_cols, {i: "total" for i in totals})


def _verdict_section(cmp, frame: pd.DataFrame, sentences: list[str]) -> str:
    n = cmp.base.replications
    rows = []
    for _, r in frame.iterrows():
        base = bool(r["is_base"])
        rows.append([
            str(r["rank"]), r["scenario"] + (" (base)" if base else ""),
            _money(r["decision_mean"]),
            "—" if base else ("+" if r["decision_delta"] > 0 else "") + _money(r["decision_delta"]),
            "—" if base else f"{_money(r['decision_ci_low'])} to {_money(r['decision_ci_high'])}",
            "—" if base else (f"{_pct(r['profit_prob_better'])} ({_pct(r['profit_prob_low'])}–"
                              f"{_pct(r['profit_prob_high'])})"),
            f"{_money(r['cash_trough_mean'])} ({_money(r['cash_trough_p10'])} – "
            f"{_money(r['cash_trough_p90'])})",
            f"{_pct(r['prob_breach'])} (≤ {_pct(r['prob_breach_high'])})",
        ])
    table = _table(["Rank", "Plan", "NPV of op. profit, mean", "Δ vs base, mean",
                    "Δ 95% interval", "P(beats base on op. profit) (95% interval)",
                    "Cash trough, mean (P10 – P90)", "P(cash below floor) (95% upper)"],
                   rows, "Verdict table", text_cols=(1,))
    # the verdict's first sentences say what binds in each plan (one per plan): they lead
    k = len(cmp.results)
    binds = "".join(f"<li>{html_text(s)}</li>" for s in sentences[:k])
    items = "".join(f"<li>{html_text(s)}</li>" for s in sentences[k:])
    return (f"<section><h1>Verdict</h1><ul class=\"binding-constraint\">{binds}</ul>"
            f"<p class=\"note\">{n} paired runs per plan (the same "
            f"random streams in every plan). {html_text(STATISTICS_NOTE)}</p>{table}"
            f"<ul class=\"verdict\">{items}</ul></section>")


def _bridge_section(cmp) -> str:
    if not cmp.others:
        return ""
    parts = []
    all_b = bridges(cmp)
    for name, (_per, summary) in all_b.items():
        s = summary.copy()
        rows = [[r["label"], _money(r["mean"]), f"{_money(r['ci_low'])} to {_money(r['ci_high'])}"]
                for _, r in s.iterrows()]
        table = _table(["Line", "Mean (USD)", "95% interval"], rows,
                       f"{name} against {cmp.base.name}", totals=(len(rows) - 1,))
        chart = charts.profit_bridge(s)
        parts.append(f'<div class="block row">{table}{page.figure(chart)}</div>')
    return ("<section><h2>Why the plans differ: profit bridge</h2><p class=\"note\">Paired "
            "operating-profit difference over the horizon split into price, volume and mix of new "
            "customers, repricing, expansion and churn of the installed base (churn's rate "
            "apart from the ARR at risk) and each cost line; the lines add up to the "
            "difference in every run. Means with 95% intervals.</p>"
            + "".join(parts) + "</section>")


HEADLINE = (*DECISION_KPIS, "gross_margin_frac", "ltv_to_cac_last_year",
            "burn_multiple_last_year", "fcf_margin_last_year", "rule_of_40_last_year",
            "break_even_month")
"""The board pack's KPI page: every decision KPI (the one catalogue), then efficiency."""


def _kpi_section(cmp) -> str:
    values = {r.name: decision_values(r) for r in cmp.results}
    rows = []
    for kpi in HEADLINE:
        row = [kpi_label(kpi)]
        for r in cmp.results:
            if KPIS[kpi].unit == TEXT:
                row.append(constraints.statement(r.constraints(), limit=0).removeprefix(
                    "What binds: "))
                continue
            if kpi not in values[r.name]:
                row.append("—")
                continue
            v = values[r.name][kpi].to_numpy(float)
            q, n = mc.quantiles(v), int((~np.isnan(v)).sum())
            if not n:
                row.append(f"not reached{reached_note(kpi, n, len(v), short=True)}")
                continue
            row.append(f"{fmt_value(kpi, np.nanmean(v))} "
                       f"({fmt_range(kpi, q['p10'], q['p90'])})"
                       + reached_note(kpi, n, len(v), short=True))
        rows.append(row)
    table = _table(["KPI: mean (P10 – P90)", *[r.name for r in cmp.results]], rows,
                   "Decision KPIs across replications", text_cols=tuple(
                       range(1, len(cmp.results) + 1)))
    return ("<section><h2>Decision KPIs</h2><p class=\"note\">Each cell: the mean across "
            "replications, with P10–P90 (the 10th and 90th percentiles of the runs) beside it; "
            "a break-even month is over the runs that reached it, with their share.</p>"
            + table + "</section>")


PRINT_FONT = 13
"""Chart text size on the printed pages (points at 96 dpi: readable on A4 without a lens)."""


def _printable(chart, width: int, height: int):
    """One large panel with print-sized text and the legend above it."""
    return chart.properties(width=width, height=height).configure_axis(
        labelFontSize=PRINT_FONT, titleFontSize=PRINT_FONT).configure_legend(
        labelFontSize=PRINT_FONT, orient="top", title=None, labelLimit=0, columnPadding=18,
        symbolOpacity=1, symbolStrokeWidth=3).configure_title(
        fontSize=PRINT_FONT + 2, anchor="start").configure_view(stroke=None)


def _profit_cash_section(cmp) -> str:
    """Two pages of few, large panels: revenue and operating profit per plan year (one panel
    each, plans side by side in every year), then month-end cash of every plan on one chart
    (P50 line, P10–P90 band)."""
    yearly, cash = [], []
    plans = [r.name for r in cmp.results]
    for r in cmp.results:
        m = r.monthly.assign(year=(r.monthly["month"] - 1) // 12 + 1)
        y = m.groupby(["replication", "year"])[["revenue", "operating_profit"]].sum()
        y = y.groupby("year").mean().reset_index()
        for measure, title in (("revenue", "Revenue"), ("operating_profit", "Operating profit")):
            yearly.append(pd.DataFrame({"plan": r.name, "year": "Year " + y["year"].astype(str),
                                        "measure": title, "usd": y[measure]}))
        b = r.monthly.groupby("month")["cash_balance"]
        cash.append(pd.DataFrame({"plan": r.name, "month": b.median().index,
                                  "p50": b.median().to_numpy(), "p10": b.quantile(0.1).to_numpy(),
                                  "p90": b.quantile(0.9).to_numpy()}))
    ydf = pd.concat(yearly, ignore_index=True)
    color = alt.Color("plan:N", sort=plans, title=None,  # the cash fan's colours
                      scale=alt.Scale(domain=plans, range=PALETTE[:len(plans)] or PALETTE))
    panels = []
    for title in ("Revenue", "Operating profit"):
        bars = alt.Chart(ydf[ydf["measure"] == title], title=f"{title}, mean per plan year"
                         ).mark_bar().encode(
            x=alt.X("year:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("plan:N", sort=plans),
            y=alt.Y("usd:Q", title="USD", axis=alt.Axis(format="~s")), color=color)
        panels.append(bars.properties(width=440, height=330))
    bars = alt.hconcat(*panels, spacing=36).configure_axis(
        labelFontSize=PRINT_FONT, titleFontSize=PRINT_FONT).configure_legend(
        labelFontSize=PRINT_FONT, orient="top", title=None, labelLimit=0, columnPadding=18,
        symbolOpacity=1, symbolStrokeWidth=3).configure_title(
        fontSize=PRINT_FONT + 2, anchor="start").configure_view(stroke=None)
    cdf = pd.concat(cash, ignore_index=True)
    cash_chart = _printable(fan(cdf, "Cash (USD)", color="plan", palette=PALETTE, width=940),
                            940, 400)
    return ("<section><h2>Profit next to revenue</h2><p class=\"note\">Mean across "
            "replications per plan year; one bar per plan in each year.</p>"
            f"{page.figure(bars)}</section>"
            "<section><h2>Cash</h2><p class=\"note\">Month-end cash of every plan: P50 line, "
            "P10–P90 band. The cash trough is on the verdict page (mean of each run's lowest "
            "balance, P10–P90).</p>"
            f"{page.figure(cash_chart)}</section>")


def _statement_tables(res, freq: str = "year") -> str:
    st = mean_statements(res, freq)
    out = []
    for key, title, lines in (("income", "Income statement", INCOME_LINES),
                              ("cash_flow", "Cash flow", CASH_FLOW_LINES),
                              ("balance_sheet", "Balance sheet (period end)", BALANCE_LINES)):
        frame = st[key]
        rows = [[label, *[_money(frame.loc[p, line]) for p in frame.index]]
                for line, label in lines.items()]
        totals = tuple(i for i, line in enumerate(lines) if line in (
            "gross_profit", "operating_profit", "cash_from_operations", "closing_cash",
            "total_assets", "total_liabilities_equity"))
        out.append(_table(["USD, mean of replications", *map(str, frame.index)], rows,
                          f"{res.name}: {title}", totals=totals))
    return "".join(out)


def _statements_section(cmp, plans) -> str:
    return "".join(
        f"<section><h2>Statements: {html_text(r.name)}</h2><p class=\"note\">By plan or fiscal "
        "year; means across replications (the mean balance sheet balances too).</p>"
        f'<div class="row wrap">{_statement_tables(r)}</div>'
        "</section>" for r in plans)


def _assumptions_section(cmp, frame: pd.DataFrame) -> str:
    rows = [[r["scenario"], r["levers"]] for _, r in frame.iterrows() if not r["is_base"]]
    sc = cmp.base.scenario
    key = [["Horizon", f"{sc.horizon_months} months"],
           ["Starting cash", _money(sc.finance.starting_cash_usd)],
           ["Discount rate (NPV)", f"{sc.finance.discount_rate_per_year_frac:.0%} a year"],
           ["Annual price uplift", f"{sc.pricing.annual_uplift_frac:.0%}"],
           ["Fixed opex", f"{_money(sc.costs.fixed_opex_per_month_usd)} a month"],
           ["Inbound budget", f"{_money(sc.channels.inbound.budget_per_month_usd)} a month"],
           *[[f"List price, {k}", f"{_money(v.list_price_usd)} a seat a year"]
             for k, v in sc.pricing.segments.items()]]
    return ("<section><h2>Assumptions</h2>"
            + _table(["Base plan", sc.name], key, "Key assumptions of the base", text_cols=(1,))
            + (_table(["Plan", "Levers that differ from the base"], rows,
                      "What each plan changes", text_cols=(0, 1)) if rows else "")
            + "</section>")


def verdict_html(cmp) -> str:
    """The verdict block (table and sentences) for the top of a report's index page."""
    frame, sentences = verdict(cmp)
    return _verdict_section(cmp, frame, sentences).replace(
        "<section>", '<div class="card verdict" id="verdict">', 1).replace(
        "</section>", "</div>")


def board_pack_html(cmp) -> str:
    """The board pack as one HTML document (verdict first)."""
    frame, sentences = verdict(cmp)
    best = [r for r in cmp.results if r.name == frame.iloc[0]["scenario"]]
    plans = [cmp.base, *[r for r in best if r is not cmp.base]]
    body = (_verdict_section(cmp, frame, sentences) + _bridge_section(cmp) + _kpi_section(cmp)
            + _profit_cash_section(cmp) + _statements_section(cmp, plans)
            + _assumptions_section(cmp, frame))
    return page.document(f"Board pack: {cmp.base.name}", body, CSS)


def chromium() -> str | None:
    """The system Chromium, if any."""
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 180) -> None:
    """Print a local HTML file to PDF with headless Chromium (no network)."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("board pack: Chromium is not installed (apt-get install chromium)")
    # Chromium puts its singleton Unix socket under $TMPDIR, and socket paths are limited to
    # 108 bytes: a long TMPDIR makes it abort, so it gets a short one (the profile folder)
    base = tempfile.gettempdir()
    if len(base) > 40 and os.access("/tmp", os.W_OK):
        base = "/tmp"
    with tempfile.TemporaryDirectory(prefix="revsim-chromium-", dir=base) as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
               Path(html_path).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "TZ": "UTC", "TMPDIR": profile})
    if proc.returncode != 0 or not Path(pdf_path).exists():
        raise RuntimeError(f"board pack: Chromium could not print the PDF "
                           f"(exit {proc.returncode})")


def write_board_pack(cmp, out_dir: Path) -> Path:
    """board_pack.html and board_pack.pdf in ``out_dir``; returns the PDF's path."""
    out_dir = Path(out_dir)
    html_path = out_dir / "board_pack.html"
    html_path.write_text(board_pack_html(cmp), encoding="utf-8")
    pdf = out_dir / "board_pack.pdf"
    print_pdf(html_path, pdf)
    return pdf


