"""The command line's tables as text: a title, column heads and rows of strings formatted by
``sim.kpis`` (the one formatter). ``sim.cli`` draws them; nothing here prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.kpis import fmt_range, fmt_value, reached_note, short_label
from sim.outputs.escape import rich_text, terminal_text


@dataclass
class TextTable:
    """Rows of text under ``heads``; ``left`` columns are flush left, the others right."""

    title: str
    heads: Sequence[str]
    rows: list[Sequence[str]]
    left: Sequence[str] = ()
    options: dict[str, Any] = field(default_factory=dict)
    """Extra options of the drawn table (``min_width``) and of every column (``overflow``)."""

    def rich(self):
        """The table for a rich console; every text a ``rich_text`` (no markup is read and no
        control character passes)."""
        from rich.table import Table

        options = dict(self.options)
        overflow = options.pop("overflow", "ellipsis")
        table = Table(title=rich_text(self.title), title_justify="left", **options)
        for head in self.heads:
            table.add_column(rich_text(head), overflow=overflow, no_wrap=head not in self.left,
                             justify="left" if head in self.left else "right")  # numbers whole
        for row in self.rows:
            table.add_row(*map(rich_text, row))
        return table


def kpi_table(summary, title: str) -> TextTable:
    """``revsim run``'s headline KPIs: label, P50 and P10 – P90 (``kpi_summary`` rows)."""
    rows = []
    runs = summary["n"].max() if "n" in summary else None
    for _, r in summary.iterrows():
        kpi, label = str(r["kpi"]), r.get("label")
        rows.append((str(label) if isinstance(label, str) and label else kpi,
                     fmt_value(kpi, r["p50"]), fmt_range(kpi, r["p10"], r["p90"])
                     + reached_note(kpi, r.get("n"), runs)))
    return TextTable(title, ("KPI", "P50", "P10 – P90"), rows, ("KPI",),
                     {"min_width": len(terminal_text(title))})


def compare_table(result, title: str) -> TextTable:
    """``revsim compare``: every decision KPI of each plan against the base
    (:func:`sim.report.tables.compare.decision_table`, the compare page's table too)."""
    from sim.report.tables.compare import DECISION_HEADS, decision_table

    t = decision_table(result)
    return TextTable(title, DECISION_HEADS, [tuple(r) for r in t.itertuples(index=False)],
                     ("Scenario", "KPI", "Base, mean", "Scenario, mean"),
                     {"overflow": "fold"})


def compare_lines(result) -> list[str]:
    """``revsim compare``'s words under its table: what binds in each plan, then every setting
    each plan changes (``sim.scenario.describe``, the verdict's and assumptions sheet's source)."""
    from sim.analysis.verdict import binding_sentences
    from sim.scenario.describe import changes_text

    found = {r.name: r.constraints() for r in result.results}
    lines = binding_sentences(found, result.base.name)
    lines += [f"{r.name} changes: {changes_text(result.base.scenario, r.scenario)}"
              for r in result.others]
    return [terminal_text(line) for line in lines]


def frame_table(df, title: str, headers: dict[str, str], kinds: dict[str, str]) -> TextTable:
    """A DataFrame as text: ``headers`` renames columns; ``kinds`` gives the KPI kind of a
    column's numbers, or ``"@col"`` to take it from that column of the same row (the lever).
    Numeric columns are flush right, the others left; long cells fold."""
    from pandas.api.types import is_numeric_dtype

    heads = [headers.get(col, str(col)) for col in df.columns]
    left = [h for h, col in zip(heads, df.columns, strict=True) if not is_numeric_dtype(df[col])]
    rows = []
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            value, kind = row[col], kinds.get(col)
            if kind is not None and kind.startswith("@"):
                kind = str(row[kind[1:]])
            if isinstance(value, str):
                cells.append(short_label(value) if col == "kpi" else value)
            elif kind is not None:
                cells.append(fmt_value(kind, value))
            elif isinstance(value, float):
                cells.append(f"{value:,.6g}")
            else:
                cells.append(str(value))
        rows.append(cells)
    return TextTable(title, heads, rows, left, {"overflow": "fold"})


def sweep_tables(result, points: dict, title: str) -> tuple[TextTable, list[str]]:
    """``revsim sweep``'s means per grid point and one line per KPI naming its best point."""
    from sim.report.tables import sweep_means_table

    df = sweep_means_table(result.table, list(points))
    # pricing.segments.smb.list_price_usd -> smb.list_price_usd, for narrow headers
    headers = {c: ".".join(c.split(".")[-2:]) if c in points else short_label(c)
               for c in df.columns}
    lines = []
    for kpi, point in result.best.items():
        lines += optimum_lines(kpi, point, list(points))
    return frame_table(df, title, headers, {c: c for c in df.columns}), lines


def _key_value(key: str, value) -> str:
    from sim.scenario.describe import label, value_text

    return f"{label(key)} {value_text(key, value)}"


def optimum_lines(kpi: str, point: dict, keys: list[str]) -> list[str]:
    """A sweep's best point for ``kpi`` in words (``sim.experiments.sweep.optimum``): the lever
    values, the mean with its 95% interval, the range of values as good within noise, and a
    warning when a best value is on the edge of the grid."""
    where = ", ".join(_key_value(k, point[k]) for k in keys)
    line = (f"Best for {short_label(kpi).lower()}: {where}  (mean "
            f"{fmt_value(kpi, point.get(f'{kpi}_mean'))}, 95% interval "
            f"{fmt_range(kpi, point.get(f'{kpi}_ci_low'), point.get(f'{kpi}_ci_high'), ' to ')})")
    near = point.get("near", 1)
    if near > 1:
        spans = "; ".join(
            f"{_key_value(k, lo)} to {value_text_of(k, hi)}"
            for k, (lo, hi) in point["near_range"].items() if lo != hi)
        how = ("not distinguishable from it (the paired 95% interval of the difference "
               "reaches zero)" if point.get("paired") else
               "as good within the noise (a mean inside that interval)")
        line += f"; {near} points are {how}" + (f": {spans}" if spans else "")
    out = [line]
    for k in point.get("at_edge", []):
        side = point["edge_side"][k]
        beyond = "below" if side == "lowest" else "above"
        out.append(f"warning: the best {short_label(kpi).lower()} is at the edge of the grid "
                   f"({label_of(k)} {value_text_of(k, point[k])} is the {side} value tried); "
                   f"the optimum may lie {beyond} it: extend the grid")
    return out


def label_of(key: str) -> str:
    from sim.scenario.describe import label

    return label(key)


def value_text_of(key: str, value) -> str:
    from sim.scenario.describe import value_text

    return value_text(key, value)


def step_text(row) -> str:
    """What a sensitivity step moved, in the lever's unit: ``$150K → $135K / $165K a month``;
    a retention moved through its churn also in points (``88.0% → 86.8% / 89.2% (±1.2 pts,
    ±10% of churn)``); whole heads as counts."""
    from sim.scenario.describe import value_text

    key = str(row["lever"])
    first = key.replace("*", "x") if "*" not in key else key
    base, low, high = (value_text(first, row[c], suffix=False)
                       for c in ("base_value", "low_value", "high_value"))
    after = value_text(first, row["base_value"]).removeprefix(base)
    text = f"{base} → {low} / {high}{after}"
    if str(row.get("step_unit", "")).startswith("churn"):
        pts = (float(row["high_value"]) - float(row["low_value"])) * 50
        text += f" (±{pts:.1f} pts; the step is on churn, 1 − retention)"
    if "*" in key and str(row.get("base_values", "")).count(";"):
        each = []
        for part in str(row["base_values"]).split("; "):
            who, _, v = part.rpartition(" ")
            try:
                each.append(f"{who} {value_text(first, float(v.replace(',', '')))}")
            except ValueError:
                each.append(part)
        text += f"; first segment shown, each moved by the same step ({'; '.join(each)})"
    return text


SENSITIVITY_HEADS = ("Lever", "KPI", "Step (base → low / high)", "KPI at base", "KPI at low",
                     "KPI at high", "Swing", "Swing, 95% interval")


def sensitivity_table(df, title: str) -> TextTable:
    """``revsim sensitivity``'s tornado in plain units: each lever's label and step in its
    unit, the mean KPI at base, low and high, the swing and its 95% interval (paired runs)."""
    from sim.scenario.describe import label

    rows = []
    for _, r in df.iterrows():
        k = str(r["kpi"])
        rows.append((label(str(r["lever"])), short_label(k), step_text(r),
                     fmt_value(k, r["base"]), fmt_value(k, r["low"]), fmt_value(k, r["high"]),
                     fmt_value(k, r["swing"]),
                     fmt_range(k, r.get("swing_ci_low"), r.get("swing_ci_high"), " to ")))
    return TextTable(title, SENSITIVITY_HEADS, rows, ("Lever", "KPI", "Step (base → low / high)"),
                     {"overflow": "fold"})


NOT_APPLICABLE = "n/a"
"""A probability with no replication to count (a target beyond the horizon), an IRR that does
not exist."""


def target_text_table(summary, title: str) -> TextTable:
    """``revsim run``'s targets (``ExperimentResult.target_summary``): P(hit) with its 95%
    interval and the actual value's P50; "n/a" for a target whose plan year starts after the
    horizon (no replication counts it)."""
    import math

    rows = []
    for _, r in summary.iterrows():
        p = float(r["probability"]) if r["probability"] is not None else math.nan
        metric = str(r["metric"])
        if math.isnan(p):
            rows.append((str(r["name"]), NOT_APPLICABLE, "beyond the horizon", "—"))
            continue
        actual = "—" if metric == "all" else fmt_value(metric, r["p50"])
        rows.append((str(r["name"]), fmt_value("prob_frac", p),
                     fmt_range("prob_frac", r["probability_low"], r["probability_high"]), actual))
    return TextTable(title, ("Target", "P(hit)", "95% interval", "Actual P50"), rows,
                     ("Target",), {"overflow": "fold"})


def investment_lines(table) -> list[str]:
    """``revsim compare``'s investment view, one line per plan
    (``sim.analysis.investment.investment_table`` rows)."""
    import math

    lines = []
    for _, r in table.iterrows():
        h = int(r["horizon_months"])
        p50 = r["payback_month_p50"]
        payback = (f"pays back in month {p50:.0f} (P50)" if not math.isnan(p50)
                   else f"does not pay back within {h} months (P50)")
        note = f" ({r['irr_note']})" if r["irr_note"] else ""
        irr = (fmt_value("irr_frac", r["irr_delta_frac"]) + " a year" + note
               if not math.isnan(r["irr_delta_frac"]) else NOT_APPLICABLE + note)
        lines.append(
            f"{r['scenario']}: {payback}; P(paid back within {h} months) "
            f"{fmt_value('prob_frac', r['prob_paid_back'])} "
            f"({fmt_range('prob_frac', r['prob_paid_back_low'], r['prob_paid_back_high'])}); "
            f"NPV of Δ cash {fmt_value('npv_usd', r['npv_delta_mean'])} "
            f"(95% CI {fmt_range('npv_usd', r['npv_delta_ci_low'], r['npv_delta_ci_high'])}, "
            f"at {r['discount_rate_frac']:.0%} a year); IRR of Δ {irr}")
    return [terminal_text(line) for line in lines]


def spread_lines(result) -> list[str]:
    """What the assumptions contribute to a run's spread: per KPI the share of its variance
    from the assumptions (the rest is luck), then the assumptions that matter most."""
    from sim.experiments.uncertainty import index_table, spread_table

    out = ["Spread from the assumptions vs luck (law of total variance over the drawn "
           "assumptions, two replications per draw):"]
    for _, r in spread_table(result).iterrows():
        share = r["assumptions_share"]
        shown = "n/a (too few draws)" if share != share else f"{share:.0%} assumptions, " \
            f"{1 - share:.0%} luck"
        out.append(f"  {r['label']}: {shown}")
    idx = index_table(result)
    if len(idx):
        out.append("Assumptions that matter most (first-order Sobol index, RBD-FAST via SALib, "
                   f"on {short_label(idx['kpi'].iloc[0])}):")
        out += [f"  {r['assumption']}: {r['first_order']:.2f} (± {r['first_order_conf']:.2f})"
                for _, r in idx.iterrows()]
    return out


def run_items(result, reps: int, seed: int) -> list:
    """What ``revsim run`` prints: the KPI table, the targets, what binds and, with ranges on
    the inputs, how much of the spread they carry."""
    from sim.analysis import constraints
    from sim.scenario.io import scenario_hash

    sc = result.scenario
    items: list = [kpi_table(result.kpi_summary, f"{sc.name}  (hash {scenario_hash(sc)}, "
                             f"{reps} replications, seed {seed}, {sc.horizon_months} months)")]
    if sc.targets:
        items.append(target_text_table(result.target_summary, f"Targets ({reps} replications)"))
    items.append(constraints.statement(result.constraints()))
    return items + (spread_lines(result) if not result.parameters.empty else [])


def compare_items(result, reps: int, seed: int) -> list:
    """What ``revsim compare`` prints: the decision table, the investment view, what differs
    and what binds, the spread the assumptions carry and what would flip each verdict."""
    base = result.base.scenario.name
    return [compare_table(result, f"Against {base}  ({reps} replications, seed {seed}, same "
                                  "random streams)"),
            "Investment view (plan − base, paired runs):",
            *investment_lines(result.investment_table()), *compare_lines(result),
            *(spread_lines(result.base) if not result.base.parameters.empty else []),
            *(f.sentence(base) for f in result.flips or ())]
