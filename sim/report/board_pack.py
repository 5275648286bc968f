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
import pandas as pd

from sim.analysis.bridge import DRIVERS, bridges
from sim.analysis.statements import BALANCE_LINES, CASH_FLOW_LINES, INCOME_LINES, mean_statements
from sim.analysis.verdict import verdict
from sim.kpis import KPIS, fmt_usd
from sim.kpis import label as kpi_label
from sim.outputs.escape import html_text
from sim.report import page
from sim.report.fan import fan

CSS = """
@page { size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font: 9pt sans-serif; color: #555; }
        @bottom-left { content: "revsim board pack"; font: 9pt sans-serif; color: #555; } }
body { font: 10pt/1.35 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1b1f24; }
section { break-before: page; }
section:first-of-type { break-before: auto; }
h1 { font-size: 17pt; margin: 0 0 4pt; } h2 { font-size: 14pt; margin: 0 0 6pt; }
p.note { color: #555; font-size: 8.5pt; margin: 2pt 0 6pt; }
table { border-collapse: collapse; break-inside: avoid; margin: 4pt 0 8pt; font-size: 8.5pt; }
th, td { padding: 2pt 6pt; border-bottom: 1px solid #dde; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; max-width: 95mm; }
tr.total td { font-weight: bold; border-top: 1px solid #888; }
caption { text-align: left; font-weight: bold; padding-bottom: 2pt; }
ul.verdict li { margin-bottom: 4pt; }
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
            _money(r["cash_trough_p50"]),
            f"{_pct(r['prob_breach'])} (≤ {_pct(r['prob_breach_high'])})",
        ])
    table = _table(["Rank", "Plan", "NPV of op. profit, mean", "Δ vs base, mean",
                    "Δ 95% interval", "P(beats base on op. profit) (95% interval)",
                    "Cash trough, P50", "P(cash below floor) (95% upper)"],
                   rows, "Verdict table", text_cols=(1,))
    # the verdict's first sentences say what binds in each plan (one per plan): they lead
    k = len(cmp.results)
    binds = "".join(f"<li>{html_text(s)}</li>" for s in sentences[:k])
    items = "".join(f"<li>{html_text(s)}</li>" for s in sentences[k:])
    return (f"<section><h1>Verdict</h1><ul class=\"binding-constraint\">{binds}</ul>"
            f"<p class=\"note\">{n} paired runs per plan (the same "
            f"random streams in every plan). Statistics: means with 95% Student-t intervals; "
            f"probabilities with 95% Wilson intervals; P50 = median.</p>{table}"
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
        chart_df = s[s["driver"] != "total"].assign(order=range(len(DRIVERS)))
        chart = alt.Chart(chart_df).mark_bar().encode(
            y=alt.Y("label:N", sort=alt.SortField("order"), title=None,
                    axis=alt.Axis(labelLimit=280)),
            x=alt.X("mean:Q", title="Contribution to Δ operating profit (USD, mean)",
                    axis=alt.Axis(format="~s")),
            color=alt.condition("datum.mean >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        ) + alt.Chart(chart_df).mark_rule().encode(
            y=alt.Y("label:N", sort=alt.SortField("order")), x="ci_low:Q", x2="ci_high:Q")
        chart = chart.properties(width=380, height=16 * len(DRIVERS))
        parts.append(f'<div class="block row">{table}{page.figure(chart)}</div>')
    return ("<section><h2>Why the plans differ: profit bridge</h2><p class=\"note\">Paired "
            "operating-profit difference over the horizon split into price, volume and mix of new "
            "customers, repricing, expansion and churn of the installed base (churn's rate "
            "apart from the ARR at risk) and each cost line; the lines add up to the "
            "difference in every run. Means with 95% intervals.</p>"
            + "".join(parts) + "</section>")


HEADLINE = ("operating_profit_total", "npv_operating_profit", "value_created_usd",
            "revenue_total", "ending_arr", "cash_trough", "nrr_last_year", "gross_margin_frac",
            "cac_payback_months", "ltv_to_cac_last_year", "burn_multiple_last_year",
            "fcf_margin_last_year", "rule_of_40_last_year", "break_even_month")


def _kpi_value(kpi: str, v: float) -> str:
    if v is None or math.isnan(v):
        return KPIS[kpi].missing if kpi in KPIS else "—"
    if kpi == "fcf_margin_last_year":
        return f"{v:.1%}"
    if kpi.endswith("_frac") or kpi.startswith(("nrr", "grr")):
        return f"{v:.1%}"
    if "month" in kpi:
        return f"{v:.1f} mo"
    if kpi.startswith(("ltv", "burn", "magic")):
        return f"{v:.2f}×"
    if kpi.startswith("rule_of_40"):
        return f"{v:.0f} pts"
    return _money(v)


def _kpi_section(cmp) -> str:
    rows = []
    for kpi in HEADLINE:
        row = [kpi_label(kpi)]
        for r in cmp.results:
            s = r.kpi_summary.set_index("kpi")
            if kpi not in s.index:
                row.append("—")
                continue
            q = s.loc[kpi]
            row.append(f"{_kpi_value(kpi, q['p50'])} ({_kpi_value(kpi, q['p10'])} – "
                       f"{_kpi_value(kpi, q['p90'])})")
        rows.append(row)
    table = _table(["KPI: P50 (P10 – P90)", *[r.name for r in cmp.results]], rows,
                   "Headline KPIs across replications")
    return ("<section><h2>Headline KPIs</h2><p class=\"note\">Each cell: the median (P50) "
            "across replications, with the P10–P90 range.</p>" + table + "</section>")


def _profit_cash_section(cmp) -> str:
    yearly, cash = [], []
    for r in cmp.results:
        m = r.monthly.assign(year=(r.monthly["month"] - 1) // 12 + 1)
        y = m.groupby(["replication", "year"])[["revenue", "operating_profit"]].sum()
        y = y.groupby("year").mean().reset_index()
        for measure in ("revenue", "operating_profit"):
            yearly.append(pd.DataFrame({"plan": r.name, "year": "Year " + y["year"].astype(str),
                                        "measure": measure.replace("_", " "),
                                        "usd": y[measure]}))
        b = r.monthly.groupby("month")["cash_balance"]
        cash.append(pd.DataFrame({"plan": r.name, "month": b.median().index,
                                  "p50": b.median().to_numpy(), "p10": b.quantile(0.1).to_numpy(),
                                  "p90": b.quantile(0.9).to_numpy()}))
    ydf = pd.concat(yearly, ignore_index=True)
    bars = alt.Chart(ydf).mark_bar().encode(
        x=alt.X("plan:N", title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("usd:Q", title="USD, mean per year", axis=alt.Axis(format="~s")),
        color=alt.Color("plan:N", legend=None),
        column=alt.Column("year:N", title=None),
        row=alt.Row("measure:N", title=None),
    ).properties(width=260, height=150).resolve_scale(y="independent")
    cdf = pd.concat(cash, ignore_index=True)
    cash_chart = fan(cdf, "Cash (USD)", width=210).properties(width=210, height=120).facet(
        facet=alt.Facet("plan:N", title=None), columns=4)
    return ("<section><h2>Profit next to revenue</h2><p class=\"note\">Mean across "
            "replications per plan year.</p>"
            f"{page.figure(bars)}</section>"
            "<section><h2>Cash</h2><p class=\"note\">Month-end cash: P50 line, P10–P90 band; "
            "one panel per plan.</p>"
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


