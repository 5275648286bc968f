"""The pocket-price waterfall per segment in the reports: a table (USD and % of list) and a
bar chart of where list price leaks on the way to the pocket price
(``sim.analysis.waterfall``)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from sim.analysis.waterfall import LIST, POCKET, pocket_price_waterfall
from sim.experiments.experiment import ExperimentResult
from sim.kpis import fmt_usd
from sim.outputs.escape import html_text
from sim.report.chart_style import style

CAPTION = ("Pocket-price waterfall of new business by segment (mean per replication over the "
           "horizon): list ARR of the deals won, each concession and the commissions paid, "
           "down to the pocket price")


def waterfall_table(result: ExperimentResult) -> pd.DataFrame:
    """Segment, step, USD and % of list, per replication's mean."""
    return pocket_price_waterfall(result.by_segment)


def waterfall_wide(result: ExperimentResult) -> pd.DataFrame:
    """One row per step, one USD and one %-of-list column per segment (the workbook's sheet)."""
    t = waterfall_table(result)
    order = list(dict.fromkeys(t["step"]))
    usd = t.pivot(index="step", columns="segment", values="usd")
    pct = t.pivot(index="step", columns="segment", values="pct_of_list")
    segs = list(dict.fromkeys(t["segment"]))
    out = pd.DataFrame(index=order)
    for s in segs:
        out[f"{s} (USD)"] = usd[s]
        out[f"{s} (% of list)"] = pct[s]
    out.index.name = "Step"
    return out.reset_index()


def waterfall_html(result: ExperimentResult) -> str:
    """The waterfall as an HTML table, one column pair a segment."""
    t = waterfall_wide(result)
    head = "".join(f"<th>{html_text(c)}</th>" for c in t.columns)
    body = []
    for _, r in t.iterrows():
        cells = [f"<th>{html_text(r['Step'])}</th>"]
        for c in t.columns[1:]:
            v = r[c]
            text = f"{v:.1%}" if c.endswith("(% of list)") else fmt_usd(v)
            cells.append(f"<td>{html_text(text)}</td>")
        cls = ' class="revsim-total"' if r["Step"] in (LIST, POCKET) else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (f'<table class="revsim-waterfall"><caption>{html_text(CAPTION)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def waterfall_chart(result: ExperimentResult) -> alt.Chart:
    """Bars from list to pocket price per segment, each step a floating horizontal bar (the
    step names read on the left, never cut)."""
    t = waterfall_table(result)
    t = t[~t["memo"]].copy()
    t["order"] = t.groupby("segment").cumcount()
    t["end"] = 0.0
    t["start"] = 0.0
    for _, g in t.groupby("segment"):
        level = 0.0
        for i, r in g.iterrows():
            if r["step"] in (LIST, POCKET):
                t.loc[i, ["start", "end"]] = (0.0, r["usd"])
                level = r["usd"]
            else:
                t.loc[i, ["start", "end"]] = (level, level + r["usd"])
                level += r["usd"]
    return style(alt.Chart(t).mark_bar().encode(
        y=alt.Y("step:N", sort=alt.SortField("order"), title=None,
                axis=alt.Axis(labelLimit=200)),
        x=alt.X("start:Q", title="USD over the horizon", axis=alt.Axis(format="~s")),
        x2="end:Q",
        color=alt.condition(alt.FieldOneOfPredicate("step", [LIST, POCKET]),
                            alt.value("#1565c0"), alt.value("#c62828")),
        tooltip=["segment", "step", alt.Tooltip("usd:Q", format=",.0f"),
                 alt.Tooltip("pct_of_list:Q", format=".1%")],
    ).properties(width=190, height=170).facet(column=alt.Column("segment:N", title=None)))
