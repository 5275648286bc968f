"""What the notebooks call: one call per cell, each returning something a notebook displays
(a chart, a formatted table, an HTML block with a plain-text fallback, a widget).

The numbers come from :mod:`sim.report.tables`, the formats from :mod:`sim.kpis`, the
charts from :mod:`sim.report.charts`; every text shown is HTML-escaped (:mod:`sim.outputs.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.analysis import constraints
from sim.analysis.bridge import bridges
from sim.analysis.verdict import STATISTICS_NOTE, binding_sentences
from sim.experiments.experiment import (
    CompareResult,
    ExperimentResult,
    compare,
    pricing_sweep,  # noqa: F401 - a notebook cell: nb.pricing_sweep
    run_experiment,
)
from sim.experiments.uncertainty import Flip
from sim.kpis import USD, decision_rank, fmt_dollars, fmt_usd, fmt_value, unit_of
from sim.kpis import label as kpi_label
from sim.outputs.escape import html_text, style_table
from sim.report import charts
from sim.report.cell_kit import MIME_KPIS  # noqa: F401
from sim.report.cell_kit import Html as _Html
from sim.report.cell_kit import styled as _styled
from sim.report.offsite import offsite_view  # noqa: F401 - a notebook cell
from sim.report.store import load_result, project_path, scenario_for
from sim.report.study_cells import (  # noqa: F401 - notebook cells (nb.tornado, ...)
    account_plan_assumptions,
    account_plan_chart,
    account_plan_detail,
    account_plan_summary,
    discount_tradeoff,
    pricing_curves,
    pricing_grid,
    pricing_peaks,
    sensitivity_detail,
    tornado,
)
from sim.report.tables import (
    annual_pnl_table,
    arr_bridge_table,
    break_even_table,
    cash_tables,
    cohort_table,
    compare_deltas_table,
    compare_kpi_table,
    decision_table,
    deltas_table,
    fan_table,
    funnel_table,
    headline_table,
    implied_retention_table,
    investment_bands_table,
    investment_summary_table,
    kpi_record,
    levers_table,
    month_labels,
    paths_table,
    pnl_differences_table,
    targets_table,
    unit_economics_table,
    utilisation_table,
)
from sim.report.tables.investment import DEFINITIONS
from sim.scenario import describe
from sim.scenario.io import scenario_hash
from sim.scenario.model import Scenario

# ---------------------------------------------------------------- loading and running


def experiment(scenario: str | Path, project_root: str | Path = "..", results_file: str = "",
               replications: int = 4, seed: int = 0, months: int | None = None,
               executor: str = "serial") -> ExperimentResult:
    """The notebook's experiment: loaded from ``results_file`` when the report builder ran it
    already, else run here from the scenario file."""
    if results_file:
        return load_result(project_path(results_file, "."))
    sc = scenario_for(scenario, project_root, months)
    return run_experiment(sc, replications=replications, seed=seed, executor=executor)


def comparison(scenarios: Sequence[str], project_root: str | Path = "..",
               results_files: Sequence[str] = (), replications: int = 4, seed: int = 0,
               months: int | None = None, executor: str = "serial") -> CompareResult:
    """Several scenarios against the first, on the same seeds: loaded or run here."""
    if results_files:
        results = [load_result(project_path(f, ".")) for f in results_files]
        flips = [Flip.from_record(r) for r in results[0].stats.get("flips") or ()]
        return CompareResult(base=results[0], others=results[1:],
                             deltas=deltas_table(results[0], results[1:]), flips=flips or None)
    scs = [scenario_for(p, project_root, months) for p in scenarios]
    return compare(scs[0], scs[1:], replications=replications, seed=seed, executor=executor)


# ---------------------------------------------------------------- one scenario


def summary(result: ExperimentResult) -> _Html:
    """Scenario name, description, run identity (seed, replications, hash) and every KPI as
    P50 (P10 – P90), in the catalogue's decision order (operating profit first); carries the
    machine-readable KPI record (MIME_KPIS) that tests and tools read back."""
    sc = result.scenario
    names = sorted(result.kpi_summary["kpi"], key=decision_rank)
    kp = headline_table(result, names)
    rows = "".join(f"<tr><th>{html_text(r.label)}</th><td>{html_text(r.text)}</td></tr>"
                   for r in kp.itertuples())
    binds = constraints.statement(result.constraints())
    body = (
        f"<h3>{html_text(sc.name)}</h3>"
        f"<p class=\"binding-constraint\"><b>{html_text(binds)}</b></p>"
        f"<p>{html_text(sc.description or '')}</p>"
        f"<p><small>{result.replications} replications · seed {result.seed} · "
        f"{sc.horizon_months} months · scenario hash <code>{html_text(result.hash)}</code>"
        "</small></p>"
        "<table><thead><tr><th>KPI</th><th>P50 (P10 – P90)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        "<p><small>P50 is the middle outcome across replications; P10 and P90 bracket 80% "
        "of them.</small></p>"
    )
    text = "\n".join([f"{sc.name} (seed {result.seed}, {result.replications} reps, hash "
                      f"{result.hash})", binds,
                       *(f"{r.label}: {r.text}" for r in kp.itertuples())])
    if not result.parameters.empty:
        more_body, more_text = _uncertainty_section(result)
        body, text = body + more_body, text + "\n" + more_text
    return _Html(body, text, {MIME_KPIS: kpi_record(result)})


def _uncertainty_section(result: ExperimentResult) -> tuple[str, str]:
    """What the company does not know: the ranged values, the share of each KPI's spread
    they cause (the rest is luck) and which matter most (first-order Sobol indices)."""
    from sim.experiments.uncertainty import assumption_rows, index_table, spread_table

    rows = "".join(
        f"<tr><td><code>{html_text(a['key'])}</code></td><td>{a['estimate']:,.4g}</td>"
        f"<td>{a['low']:,.4g} – {a['high']:,.4g}</td><td>{html_text(a['source'])}</td></tr>"
        for a in assumption_rows(result.scenario))
    split = spread_table(result)
    shares = "".join(
        f"<tr><th>{html_text(r['label'])}</th><td>"
        + ("n/a" if r["assumptions_share"] != r["assumptions_share"] else
           f"{r['assumptions_share']:.0%} assumptions · {1 - r['assumptions_share']:.0%} luck")
        + "</td></tr>" for _, r in split.iterrows())
    idx = index_table(result)
    ranked = "".join(f"<li><code>{html_text(r['assumption'])}</code>: {r['first_order']:.2f} "
                     f"(± {r['first_order_conf']:.2f})</li>" for _, r in idx.iterrows())
    body = ("<h4 class=\"uncertainty\">What we don't know: assumption ranges</h4>"
            "<p>These values were drawn in every replication (two replications per draw); "
            "the intervals above hold both what the company does not know and luck.</p>"
            "<table><thead><tr><th>Assumption</th><th>Estimate</th><th>Range</th>"
            f"<th>Source</th></tr></thead><tbody>{rows}</tbody></table>"
            "<table><thead><tr><th>KPI</th><th>Share of the variance</th></tr></thead>"
            f"<tbody>{shares}</tbody></table>"
            + (f"<p>Assumptions that matter most for {html_text(kpi_label(idx['kpi'].iloc[0]))} "
               "(first-order Sobol index, RBD-FAST via SALib):</p>"
               f"<ul>{ranked}</ul>" if len(idx) else
               "<p><small>Too few replications for sensitivity indices.</small></p>"))
    text = "\n".join(["Assumption ranges drawn:",
                      *(f"{r['label']}: {r['assumptions_share']:.0%} of the variance from the "
                        "assumptions" for _, r in split.iterrows()
                        if r["assumptions_share"] == r["assumptions_share"])])
    return body, text


def assumptions(result_or_scenario: ExperimentResult | Scenario):
    """Key levers of the scenario (the full resolved list is in the Excel workbook)."""
    sc = getattr(result_or_scenario, "scenario", result_or_scenario)
    return style_table(levers_table(sc), caption=f"Levers of {sc.name} (hash {scenario_hash(sc)})",
                       hide_index=True)


def revenue_profit_fan(result: ExperimentResult):
    return charts.fan_chart(fan_table(result), month_labels=month_labels(result))


def arr_bridge(result: ExperimentResult):
    return charts.arr_bridge_waterfall(arr_bridge_table(result))


def annual_pnl(result: ExperimentResult):
    t = annual_pnl_table(result)
    pct = [i for i in t.index if "margin" in i.lower()]
    sty = style_table(t, default=fmt_dollars,
                      caption="Annual P&L, mean across replications (USD)")
    return sty.format("{:.1%}", subset=pd.IndexSlice[pct, :], escape="html")


def cash(result: ExperimentResult):
    bands, trough = cash_tables(result)
    return charts.cash_chart(bands, trough, month_labels=month_labels(result))


MEDIAN_NOTE = ("Each column is a median across replications, taken per row: the {dim} rows "
               "need not add up to the total row.")
LTV_ROI_NOTE = ("LTV / CAC and ROI measure different things. LTV / CAC sets one new customer's "
                "lifetime gross profit (at the churn seen in the plan, up to 120 months) "
                "against the cost of winning it. ROI is what the {dim}'s customers returned "
                "within the {months}-month plan: gross profit minus marketing, sales, partner "
                "and customer-success cost, over those costs. A row with LTV / CAC above 1 and "
                "a negative ROI pays back over its customers' lifetimes, not within the plan.")


def unit_economics(result: ExperimentResult, dim: str = "segment") -> _Html:
    """Unit economics by segment or channel, with a note that medians need not add up and,
    where a row shows a negative ROI next to LTV/CAC above 1, what each measures."""
    t = unit_economics_table(result, dim)
    formats = {"New customers": "{:,.0f}", "CAC payback (months)": "{:,.1f}",
               "LTV / CAC": "{:,.1f}", "ROI": "{:.0%}"}
    sty = _styled(t, formats, caption=f"Unit economics by {dim} (median across replications)")
    notes = [MEDIAN_NOTE.format(dim=dim)]
    if ((t["ROI"] < 0) & (t["LTV / CAC"] > 1)).any():
        notes.append(LTV_ROI_NOTE.format(dim=dim, months=result.scenario.horizon_months))
    body = sty.to_html() + "".join(f'<p class="revsim-note"><small>{html_text(n)}</small></p>'
                                   for n in notes)
    return _Html(body, "\n".join([t.to_string(), *notes]))


def pocket_price(result: ExperimentResult) -> _Html:
    """The pocket-price waterfall per segment: list → each concession → commissions →
    pocket price, USD and % of list (``sim.report.waterfall``)."""
    from sim.report.waterfall import waterfall_html, waterfall_wide

    return _Html(waterfall_html(result), waterfall_wide(result).to_string())


def pocket_price_chart(result: ExperimentResult):
    """The same waterfall as floating bars per segment."""
    from sim.report.waterfall import waterfall_chart

    return waterfall_chart(result)


def cohort_retention(result: ExperimentResult):
    """Logo and revenue retention of each quarter's new customers (and the installed base)."""
    return charts.cohort_retention_chart(cohort_table(result))


def break_even(result: ExperimentResult):
    t = break_even_table(result)
    formats = {"Months to recover CAC": "{:,.1f}",
               "Lifetime at the plan's churn rate (months)": "{:,.0f}",
               "Share of replications that recover": "{:.0%}",
               "Revenue per customer-month": fmt_dollars,
               "Serve cost per customer-month": fmt_dollars,
               "CS cost per customer-month": fmt_dollars}
    return _styled(t, formats, caption="Customer break-even: months to repay acquisition cost")


def implied_retention(result_or_scenario: ExperimentResult | Scenario):
    t = implied_retention_table(result_or_scenario)
    formats = {c: "{:.1%}" for c in t.columns if c.startswith("Retained")}
    formats.update({c: "{:,.0f}" for c in t.columns if c.startswith("Expected")})
    return _styled(t, formats, caption="Retention of a new cohort implied by the churn inputs "
                                       "(neutral health)")


def funnel(result: ExperimentResult):
    t = funnel_table(result)
    pct = {c: "{:.1%}" for c in t.columns if c in ("Lead → opportunity", "Win rate",
                                                   "Average discount", "AE utilisation",
                                                   "Onboarding utilisation")}
    return _styled(t, pct, default="{:,.0f}", caption="Funnel and capacity per year (means)")


def utilisation(result: ExperimentResult):
    return charts.utilisation_chart(utilisation_table(result), month_labels=month_labels(result))


def targets(result: ExperimentResult):
    t = targets_table(result)
    if t.empty:
        return _Html("<p>This scenario sets no targets.</p>", "No targets.")
    return charts.target_attainment_bars(t)


def targets_detail(result: ExperimentResult):
    t = targets_table(result)
    rows = [{"Target": r.name, "Probability": r.probability,
             "Actual P10": fmt_value(r.metric, r.p10), "Actual P50": fmt_value(r.metric, r.p50),
             "Actual P90": fmt_value(r.metric, r.p90)} for r in t.itertuples()]
    df = pd.DataFrame(rows, columns=["Target", "Probability", "Actual P10", "Actual P50",
                                     "Actual P90"])
    return style_table(df, {"Probability": lambda p: "n/a (beyond the horizon)"
                            if pd.isna(p) else f"{p:.0%}"}, hide_index=True,
                       caption="Target attainment across replications")


# ---------------------------------------------------------------- comparison


def compare_summary(cmp: CompareResult) -> _Html:
    items = "".join(
        f"<li><b>{html_text(r.name)}</b>{' (base)' if i == 0 else ''}: "
        f"{html_text(r.scenario.description or '')} "
        f"<small>hash <code>{html_text(r.hash)}</code></small>"
        "</li>" for i, r in enumerate(cmp.results))
    b = cmp.base
    binds = binding_sentences({r.name: r.constraints() for r in cmp.results}, b.name)
    lead = "".join(f"<li>{html_text(x)}</li>" for x in binds)
    body = (f"<ul class=\"binding-constraint\">{lead}</ul>"
            f"<p>{len(cmp.others)} scenario(s) against <b>{html_text(b.name)}</b>, "
            f"{b.replications} replications each on the same random streams (seed {b.seed}), "
            f"{b.scenario.horizon_months} months.</p><ul>{items}</ul>")
    flips = [f.sentence(b.name) for f in cmp.flips or ()]
    if flips:
        body += ("<h4 class=\"flips\">What would flip the verdict</h4><p>For each assumption "
                 "with a range, the value at which the plan's mean paired difference in NPV of "
                 "operating profit crosses zero (same random streams); a flip inside the range "
                 "makes the decision fragile.</p><ul>"
                 + "".join(f"<li>{'<b>' if 'FRAGILE' in x else ''}{html_text(x)}"
                           f"{'</b>' if 'FRAGILE' in x else ''}</li>" for x in flips) + "</ul>")
    return _Html(body, "\n".join([*binds, f"{len(cmp.results)} scenarios, base {b.name}, "
                                   f"seed {b.seed}", *flips]))


def compare_levers(cmp: CompareResult):
    """What each scenario changes: one row per setting that differs from the base (scenario,
    setting, base value, scenario value, in words and units), every one of them, from
    :mod:`sim.scenario.describe` (the source the Excel assumptions sheet marks them from)."""
    rows = [{"Scenario": r.name, "Setting": c.label, "Base value": c.base,
             "This scenario": c.plan}
            for r in cmp.others for c in describe.changes(cmp.base.scenario, r.scenario)]
    t = pd.DataFrame(rows, columns=["Scenario", "Setting", "Base value", "This scenario"])
    sty = style_table(t, hide_index=True,
                      caption=f"Every setting that differs from {cmp.base.name} (all others "
                              "are the same; every resolved value is in the Excel workbook)")
    return sty.set_table_styles([{"selector": "td, th, caption",
                                  "props": "text-align: left; padding: 2px 10px;"}],
                                overwrite=False)


def profit_vs_revenue(cmp: CompareResult):
    return charts.scenario_kpi_bars(compare_kpi_table(cmp))


def deltas(cmp: CompareResult):
    """The money KPIs' paired differences as bars (the other decision KPIs are in
    :func:`deltas_detail`)."""
    d = compare_deltas_table(cmp)
    if d.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No deltas.")
    return charts.comparison_bars(d[d["kpi_name"].map(unit_of) == USD])


def deltas_detail(cmp: CompareResult):
    """Every decision KPI of each plan against the base, what binds included
    (``decision_table``: what ``revsim compare`` prints), with the one statistics note."""
    t = decision_table(cmp)
    if t.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No deltas.")
    sty = style_table(t, hide_index=True,
                      caption="Every decision KPI against the base, paired by replication")
    # long KPI labels and what-binds sentences wrap inside their column
    sty = sty.set_table_styles([{"selector": "td", "props": "text-align: right; "
                                 "padding: 2px 8px; white-space: normal; max-width: 22em;"},
                                {"selector": "caption", "props": "text-align: left;"}],
                               overwrite=False)
    sty = sty.set_table_styles([  # Styler's column classes: text flush left, intervals whole
        {"selector": "td.col0, td.col1, td.col2, td.col3", "props": "text-align: left;"},
        {"selector": "td.col5", "props": "white-space: nowrap;"}], overwrite=False)
    body = sty.to_html() + f'<p class="revsim-note"><small>{html_text(STATISTICS_NOTE)}' \
        "</small></p>"
    return _Html(body, "\n".join([t.to_string(index=False), STATISTICS_NOTE]))


def profit_bridge(cmp: CompareResult):
    """Why each plan differs from the base: the price-volume-mix bridge of the paired
    operating-profit difference (:mod:`sim.analysis.bridge`), one chart per plan."""
    return charts.profit_bridges({name: summary for name, (_, summary) in bridges(cmp).items()},
                                 cmp.base.name)


def profit_bridge_detail(cmp: CompareResult):
    """The bridge's lines per plan: mean contribution and its 95% interval; they add up to the
    plan's operating-profit difference in every replication."""
    rows = [{"plan": name, "line": r.label, "mean": r.mean, "95% low": r.ci_low,
             "95% high": r.ci_high}
            for name, (_, summary) in bridges(cmp).items() for r in summary.itertuples()]
    return _styled(pd.DataFrame(rows), {"plan": "{}", "line": "{}"}, caption="Profit bridge "
                   f"against {cmp.base.name}: mean over {cmp.base.replications} paired "
                   "replications (USD)", hide_index=True)


def pnl_differences(cmp: CompareResult):
    t = pnl_differences_table(cmp)
    if t.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No differences.")
    t = t.rename(columns={"scenario": "Scenario", "year": "Year"}).set_index(["Scenario",
                                                                               "Year"])
    return _styled(t, default=fmt_dollars,
                   caption=f"Annual P&L minus {cmp.base.name} (means, USD)")


def profit_paths(cmp: CompareResult):
    """Operating profit, then revenue, per month: one small panel per scenario."""
    return charts.scenario_panels(paths_table(cmp), month_labels=month_labels(cmp.base))


def investment(cmp: CompareResult):
    """Each plan as an investment against the base: the cumulative paired Δ operating profit
    and Δ cash per month with their P10–P90 band (``sim.analysis.investment``)."""
    if not cmp.others:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No plans.")
    return charts.investment_chart(investment_bands_table(cmp),
                                   month_labels=month_labels(cmp.base))


def investment_detail(cmp: CompareResult) -> _Html:
    """Payback month (P50, P10–P90), P(paid back within the horizon), NPV and IRR of the Δ
    cash flows, incremental CAC and magic number, with what each means."""
    t = investment_summary_table(cmp)
    if t.empty:
        return _Html("<p>Only the base scenario: nothing to compare.</p>", "No plans.")
    h = cmp.base.scenario.horizon_months

    def month(x, missing: str = f"> {h}") -> str:
        return f"{x:.0f}" if pd.notna(x) else missing

    rows = [{"Plan": r["Plan"],
             "Payback month, P50 (P10 – P90)": (
                 f"month {month(r['Payback month, P50'])} "
                 f"({month(r['Payback month, P10'])} – {month(r['Payback month, P90'])})"
                 if pd.notna(r["Payback month, P50"]) else
                 f"not within {h} months (P10: month {month(r['Payback month, P10'])})"),
             "P(paid back within the horizon)": (
                 f"{r['P(paid back within the horizon)']:.0%} "
                 f"({r['P(paid back), 95% interval low']:.0%} – "
                 f"{r['P(paid back), 95% interval high']:.0%})"),
             "NPV of Δ cash, mean (95% interval)": (
                 f"{fmt_usd(r['NPV of Δ cash, mean'])} "
                 f"({fmt_usd(r['NPV of Δ cash, 95% interval low'])} – "
                 f"{fmt_usd(r['NPV of Δ cash, 95% interval high'])})"),
             "IRR of Δ cash (a year)": (f"{r['IRR of Δ cash (a year)']:.0%}"
                                        + (f" ({r['IRR note']})" if r["IRR note"] else "")
                                        if pd.notna(r["IRR of Δ cash (a year)"])
                                        else f"n/a: {r['IRR note']}"),
             "Incremental CAC": fmt_usd(r["Incremental CAC"]),
             "Incremental magic number": fmt_value("magic_number_last_year",
                                                   r["Incremental magic number"])}
            for _, r in t.iterrows()]
    df = pd.DataFrame(rows)
    sty = style_table(df, hide_index=True,
                      caption=f"Each plan as an investment against {cmp.base.name} "
                              f"({cmp.base.replications} paired replications)")
    # eight columns of long headers: cells wrap inside a narrow column, never widen the page
    sty = sty.set_table_styles([{"selector": "th, td",
                                 "props": "white-space: normal; max-width: 9em; "
                                          "padding: 2px 6px;"}], overwrite=False)
    body = sty.to_html() + f'<p class="revsim-note"><small>{html_text(DEFINITIONS)}</small></p>'
    return _Html(body, "\n".join([df.to_string(index=False), DEFINITIONS]))
