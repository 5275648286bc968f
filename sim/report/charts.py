"""Altair charts of the report. Charts compute nothing: each takes a tidy table (shaped by
``sim.report.tables``) and only encodes it, in one consistent style.

Money axes read ``$1.2M`` / ``$450K``; fractions read ``45%``; every chart has a title and
axis units. Time axes end at the plan's last month and, when the scenario has a calendar,
read real months ("Feb 2026"). Several scenarios are drawn as small multiples (one panel each,
the base as a dashed reference), never as overlapping bands.

Call :func:`enable_offline_rendering` in notebooks that become HTML: charts are then drawn to
inline SVG by vl-convert, so a report opened with no internet still shows every chart.
Commands that draw charts first call :func:`renderer_problem` (vl-convert cannot start under
a virtual-memory limit below about 64 GiB).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

USD = "$,.3~s"
"""d3 format of money tooltips and labels: $1.23M, -$450k."""
USD_LABEL = "replace(replace(format(datum.value, '$,.3~s'), 'k', 'K'), 'G', 'B')"
"""Vega expression of money axis labels: $1.2M, $450K, $1.1B (finance's K and B, not SI)."""
PCT = ".0%"
WIDTH = 640
HEIGHT = 260
PALETTE = ["#1f5f99", "#d1495b", "#2e9e6b", "#edae49", "#6c4f9c", "#00798c", "#8d6a4a",
           "#c05c8b"]
STEP_COLORS = {"total": "#5b6c7d", "increase": "#2e9e6b", "decrease": "#d1495b"}
SIDE_COLORS = {"low": "#d1495b", "high": "#1f5f99"}
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
"""DejaVu Sans first: where it is installed, vl-convert lays the chart out with the same
(wide) metrics a Linux browser draws with; elsewhere both use Helvetica/Arial, narrower than
what was measured, so labels never run past the edge. The padding absorbs what is left."""


def enable_offline_rendering() -> None:
    """Draw charts as inline SVG through vl-convert (no CDN, works offline and in Papermill)."""
    alt.renderers.enable("svg")


# ---------------------------------------------------------------- the renderer under a limit

RENDER_PROBE = (
    "import mmap, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"  # a crash leaves no core file
    "try:\n"  # the address space the command will hold when it draws (never touched)
    "    held = mmap.mmap(-1, int(sys.argv[1]), flags=mmap.MAP_PRIVATE,\n"
    "                     prot=getattr(mmap, 'PROT_NONE', 0))\n"
    "except OSError:\n"
    "    sys.exit(3)\n"
    "import vl_convert\n"
    "vl_convert.vegalite_to_svg({'mark': 'point', 'data': {'values': [{'a': 1}]},\n"
    "                            'encoding': {'x': {'field': 'a', 'type': 'quantitative'}}})\n"
)
"""A tiny render in a child process that inherits the memory limit, after reserving (never
using) as much address space as the command will hold when it draws; exit 3: not even that."""
PROBE_HEADROOM = 4 << 30
"""Address space the command may add before it draws (its replications' tables, worker
pools, a notebook kernel), beyond what it holds when it probes: the process of
``revsim track`` holds about 0.6 GB when it probes and 1.8 GB when it draws."""
PROBE_TIMEOUT_S = 120
"""A probe that has not finished by then does not stop the command (it did not crash)."""
NO_ROOM = 3


def renderer_problem() -> str | None:
    """``None`` when charts can be drawn here, else the one-line environment error.

    vl-convert embeds V8, whose garbage-collected C++ heap (Oilpan) reserves a fixed cage of
    address space when it starts (it needs about 64 GiB free); under a lower ``ulimit -v``
    (RLIMIT_AS) the reservation fails and V8 ends the process with SIGTRAP and a C stack
    trace, whatever the chart. No option or environment variable of vl-convert shrinks that
    reservation, and a child process inherits the limit, so with a finite limit a tiny
    render is tried once in a child process that first reserves what this process holds plus
    ``PROBE_HEADROOM``: if it dies by a signal (or cannot reserve that much), commands that
    draw charts refuse before any work. Without a limit nothing is tried."""
    try:
        import resource
    except ImportError:  # no RLIMIT_AS here (Windows)
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return _probe(soft, _address_space() + PROBE_HEADROOM)


def _address_space() -> int:
    """Bytes of address space this process holds (Linux; 0 where it cannot be read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@functools.cache
def _probe(limit: int, hold: int) -> str | None:
    try:
        proc = subprocess.run([sys.executable, "-c", RENDER_PROBE, str(hold)],
                              capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):  # the command will meet the real problem
        return None
    if proc.returncode >= 0 and proc.returncode != NO_ROOM:
        return None  # drew, or failed in a way the command reports itself
    return ("environment: the chart renderer needs more virtual memory than the limit allows "
            f"(ulimit -v {limit // 1024}); raise it or unset it")


def _style(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT, padding={"left": 16, "top": 6, "right": 16, "bottom": 6})
        .configure_title(fontSize=15, anchor="start", subtitleColor="#555", subtitleFontSize=12)
        .configure_axis(labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6",
                        labelOverlap="greedy", labelSeparation=6, labelLimit=220)
        .configure_axisQuantitative(tickCount=6)
        .configure_legend(labelFontSize=11, titleFontSize=12, orient="bottom", columns=4,
                          labelLimit=220)
        .configure_view(stroke=None)
        .configure_header(labelFontSize=12, titleFontSize=12, labelFontWeight="bold",
                          labelLimit=400)
    )


def money_axis(title: str) -> alt.Axis:
    """A USD axis: labels $1.2M / $450K, the unit in the title."""
    return alt.Axis(title=title, labelExpr=USD_LABEL)


TICK_STEPS = (1, 2, 3, 6, 12, 24)
"""Months between time-axis ticks: the smallest that keeps the labels apart."""


def month_ticks(first: int, last: int, width: int, calendar: bool) -> list[int]:
    """Tick months in ``[first, last]``: multiples of a step (plus the first month), at most
    one label per ~34 px (plain month numbers) or ~70 px (calendar months, "Feb 2026")."""
    room = max(2, width // (70 if calendar else 34))
    step = next((s for s in TICK_STEPS if (last - first) / s + 1 <= room), TICK_STEPS[-1])
    ticks = [m for m in range(first, last + 1) if m % step == 0]
    if not ticks or ticks[0] - first >= step / 2:
        ticks.insert(0, first)
    return ticks


def month_axis(months: Sequence[int] | pd.Series, width: int = WIDTH,
               month_labels: Mapping[int, str] | None = None) -> alt.X:
    """The time axis of a monthly chart: its domain is exactly the months drawn (a 36-month
    plan ends at 36), ticks fit the width, labels are calendar months when given."""
    first, last = int(min(months)), int(max(months))
    ticks = month_ticks(first, last, width, bool(month_labels))
    if month_labels:
        names = [str(month_labels.get(m, "")) for m in range(last + 1)]
        axis = alt.Axis(values=ticks, tickCount=len(ticks), title="Month", grid=True,
                        labelExpr=f"{json.dumps(names)}[datum.value]")
    else:
        axis = alt.Axis(values=ticks, tickCount=len(ticks), format="d", title="Month of plan",
                        grid=True)
    return alt.X("month:Q", axis=axis, scale=alt.Scale(domain=[first, last], nice=False,
                                                       zero=False))


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text, subtitle=subtitle or "")


def _y(title: str, fmt: str) -> alt.Axis:
    return money_axis(title) if fmt == USD else alt.Axis(title=title, format=fmt)


def _bands(df: pd.DataFrame, color: str, y_title: str, fmt: str, palette=None,
           width: int = WIDTH, month_labels: Mapping[int, str] | None = None) -> alt.LayerChart:
    """P10–P90 area and P50 line per month, one colour per ``color`` value (in table order)."""
    order = list(dict.fromkeys(df[color]))
    scale = alt.Scale(domain=order, range=(palette or PALETTE)[:len(order)] or PALETTE)
    base = alt.Chart(df).encode(x=month_axis(df["month"], width, month_labels))
    tooltip = [alt.Tooltip(f"{color}:N"), alt.Tooltip("month:Q", title="Month"),
               alt.Tooltip("p10:Q", format=fmt, title="P10"),
               alt.Tooltip("p50:Q", format=fmt, title="P50"),
               alt.Tooltip("p90:Q", format=fmt, title="P90")]
    area = base.mark_area(opacity=0.18).encode(
        y=alt.Y("p10:Q", axis=_y(y_title, fmt)),
        y2="p90:Q",
        color=alt.Color(f"{color}:N", scale=scale, title=None, sort=order),
    )
    line = base.mark_line(strokeWidth=2.2).encode(
        y="p50:Q", color=alt.Color(f"{color}:N", scale=scale, title=None, sort=order),
        tooltip=tooltip
    )
    return alt.layer(area, line)


def fan_chart(bands: pd.DataFrame, title: str = "Operating profit and revenue per month",
              subtitle: str = "Line: P50; band: P10–P90 across replications",
              month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Fan chart. ``bands``: month, measure (label), p10, p50, p90 — USD per month."""
    chart = _bands(bands, "measure", "USD per month ($K / $M)", USD,
                   month_labels=month_labels).properties(
        width=WIDTH, height=HEIGHT, title=_title(title, subtitle))
    return _style(chart)


def scenario_bands(df: pd.DataFrame, title: str = "Scenarios per month",
                   subtitle: str = "Line: P50; band: P10–P90 across replications",
                   month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Two or three series overlaid (e.g. a what-if against its baseline), one panel per
    measure in table order. ``df``: month, scenario, measure (label), p10, p50, p90 — USD."""
    width = WIDTH // 2 - 20
    chart = (
        _bands(df, "scenario", "USD per month ($K / $M)", USD, width=width,
               month_labels=month_labels)
        .properties(width=width, height=HEIGHT - 40)
        .facet(column=alt.Column("measure:N", title=None,
                                 sort=list(dict.fromkeys(df["measure"]))))
        .resolve_scale(y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def scenario_panels(df: pd.DataFrame, month_labels: Mapping[int, str] | None = None,
                    columns: int = 3) -> alt.VConcatChart:
    """Small multiples: for each measure (table order, profit first), one panel per scenario
    with its P50 line and P10–P90 band, the base scenario's P50 dashed in every panel, the
    same y axis in all panels. ``df``: month, scenario (base first), measure (label), p10,
    p50, p90 — USD per month."""
    scenarios = list(dict.fromkeys(df["scenario"]))
    base = scenarios[0]
    cols = min(columns, len(scenarios))
    width = min(300, (WIDTH + 200) // cols - 40)
    rows = []
    for measure in dict.fromkeys(df["measure"]):
        d = df[df["measure"] == measure]
        ref = d.loc[d["scenario"] == base, ["month", "p50"]].rename(columns={"p50": "base_p50"})
        d = d.merge(ref, on="month", how="left")
        x = month_axis(d["month"], width, month_labels)
        enc = alt.Chart().encode(x=x)
        area = enc.mark_area(opacity=0.2, color=PALETTE[0]).encode(
            y=alt.Y("p10:Q", axis=money_axis("USD per month")), y2="p90:Q")
        ref_line = enc.mark_line(strokeDash=[4, 3], color="#777", strokeWidth=1.5).encode(
            y="base_p50:Q")
        line = enc.mark_line(color=PALETTE[0], strokeWidth=2.2).encode(
            y="p50:Q", tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("month:Q", title="Month"),
                                alt.Tooltip("p10:Q", format=USD, title="P10"),
                                alt.Tooltip("p50:Q", format=USD, title="P50"),
                                alt.Tooltip("p90:Q", format=USD, title="P90")])
        rows.append(
            alt.layer(area, ref_line, line, data=d)
            .properties(width=width, height=160)
            .facet(facet=alt.Facet("scenario:N", title=None, sort=scenarios), columns=cols)
            .properties(title=_title(f"{measure} per month",
                                     f"Line: P50; band: P10–P90; dashed: {base} (base) P50"))
        )
    return _style(alt.vconcat(*rows, spacing=36))


def arr_bridge_waterfall(bridge: pd.DataFrame, title: str = "ARR bridge by year",
                         subtitle: str = "Mean across replications; USD of ARR") -> alt.Chart:
    """Waterfall. ``bridge``: step (label), order, start, end, top (the higher of the two),
    amount, kind (total / increase / decrease) — USD of ARR. Value labels alternate between
    two heights so neighbours never overlap."""
    steps = len(bridge)
    x = alt.X("step:N", sort=alt.EncodingSortField("order"), title=None,
              axis=alt.Axis(labelAngle=-40, labelLimit=140, labelOverlap=False))
    base = alt.Chart(bridge).encode(x=x)
    bars = base.mark_bar(size=22).encode(
        y=alt.Y("start:Q", axis=money_axis("ARR (USD)")),
        y2="end:Q",
        color=alt.Color("kind:N", title=None,
                        scale=alt.Scale(domain=list(STEP_COLORS), range=list(STEP_COLORS.values()))),
        tooltip=[alt.Tooltip("step:N", title="Step"),
                 alt.Tooltip("amount:Q", format="$,.0f", title="Amount")],
    )
    labels = [base.transform_filter(f"datum.order % 2 == {parity}")
              .mark_text(dy=dy, fontSize=10, color="#333")
              .transform_calculate(label=USD_LABEL.replace("datum.value", "datum.amount"))
              .encode(y=alt.Y("top:Q"), text=alt.Text("label:N"))
              for parity, dy in ((0, -6), (1, -19))]
    return _style(alt.layer(bars, *labels).properties(
        width=max(WIDTH, 44 * steps), height=HEIGHT + 40, title=_title(title, subtitle)))


def cash_chart(bands: pd.DataFrame, trough: pd.DataFrame,
               title: str = "Cash balance",
               subtitle: str = "Line: P50; band: P10–P90; point: lowest P50 balance",
               month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Cash balance band with its trough marked. ``bands``: month, measure, p10, p50, p90;
    ``trough``: month, value, label (one row). The label sits on the side of the point that
    has room (right in the first half of the plan, left in the second)."""
    band = _bands(bands, "measure", "Cash balance (USD)", USD, palette=[PALETTE[0]],
                  month_labels=month_labels)
    point = alt.Chart(trough).mark_point(size=120, filled=True, color=PALETTE[1]).encode(
        x="month:Q", y="value:Q",
        tooltip=[alt.Tooltip("label:N", title="Trough")])
    first, last = int(bands["month"].min()), int(bands["month"].max())
    left = bool(len(trough)) and float(trough["month"].iloc[0]) > (first + last) / 2
    text = alt.Chart(trough).mark_text(
        dy=16, dx=-8 if left else 8, align="right" if left else "left", fontSize=11,
        color=PALETTE[1]).encode(x="month:Q", y="value:Q", text="label:N")
    return _style(alt.layer(band, point, text).properties(width=WIDTH, height=HEIGHT,
                                                           title=_title(title, subtitle)))


def utilisation_chart(bands: pd.DataFrame, title: str = "Capacity utilisation",
                      subtitle: str = "Share of capacity in use; line: P50, band: P10–P90",
                      month_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """Utilisation lines. ``bands``: month, measure (label), p10, p50, p90 — fractions 0–1."""
    chart = _bands(bands, "measure", "Utilisation (% of capacity)", PCT,
                   month_labels=month_labels).properties(
        width=WIDTH, height=HEIGHT - 40, title=_title(title, subtitle))
    return _style(chart)


def target_attainment_bars(targets: pd.DataFrame, title: str = "Chance of hitting each target",
                           subtitle: str = "Share of replications that hit the target; "
                                           "whisker: 95% interval"
                           ) -> alt.Chart:
    """Horizontal bars. ``targets``: name, probability (0–1) and, when known, its 95%
    interval probability_low / probability_high. Percent labels sit inside long bars and
    after short ones, so none runs past the axis end."""
    base = alt.Chart(targets).encode(
        y=alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)))
    bars = base.mark_bar(color=PALETTE[0], size=18).encode(
        x=alt.X("probability:Q", title="Probability of hitting the target (%)",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=PCT)),
        tooltip=[alt.Tooltip("name:N", title="Target"),
                 alt.Tooltip("probability:Q", format=PCT, title="Probability")])
    inside = base.transform_filter("datum.probability >= 0.2").mark_text(
        align="right", dx=-4, fontSize=11, color="white").encode(
        x="probability:Q", text=alt.Text("probability:Q", format=PCT))
    outside = base.transform_filter("datum.probability < 0.2").mark_text(
        align="left", dx=4, fontSize=11).encode(
        x="probability:Q", text=alt.Text("probability:Q", format=PCT))
    layers = [bars, inside, outside]
    if {"probability_low", "probability_high"} <= set(targets.columns):
        layers.append(base.mark_errorbar(ticks=True, color="#222").encode(
            x=alt.X("probability_low:Q", title="Probability of hitting the target (%)"),
            x2="probability_high:Q"))
    return _style(alt.layer(*layers).properties(width=WIDTH - 200, height=alt.Step(28),
                                                 title=_title(title, subtitle)))


def tornado(table: pd.DataFrame, title: str = "What moves the result most",
            subtitle: str = "Mean KPI with each lever moved down and up; base value at the join"
            ) -> alt.Chart:
    """Tornado. ``table`` (long): kpi (label), lever (label), side (low/high), side_label,
    value, base, swing — one panel per KPI, levers sorted by swing."""
    chart = (
        alt.Chart(table)
        .mark_bar(size=14)
        .encode(
            y=alt.Y("lever:N", title=None, sort=alt.EncodingSortField("swing", order="descending"),
                    axis=alt.Axis(labelLimit=300)),
            x=alt.X("value:Q", axis=money_axis("Mean KPI (USD)"),
                    scale=alt.Scale(zero=False)),
            x2="base:Q",
            color=alt.Color("side_label:N", title=None,
                            scale=alt.Scale(range=[SIDE_COLORS["low"], SIDE_COLORS["high"]])),
            tooltip=[alt.Tooltip("lever:N", title="Lever"),
                     alt.Tooltip("side_label:N", title="Move"),
                     alt.Tooltip("value:Q", format="$,.0f", title="KPI"),
                     alt.Tooltip("base:Q", format="$,.0f", title="Base")],
        )
        .properties(width=WIDTH - 180, height=alt.Step(22))
        .facet(row=alt.Row("kpi:N", title=None, sort=list(dict.fromkeys(table["kpi"])),
                           header=alt.Header(labelAngle=0, labelAlign="left",
                                             labelOrient="top")))
        .resolve_scale(x="independent", y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def sweep_curves(table: pd.DataFrame, x: str = "price_change_pct",
                 x_title: str = "List price change (%)", series: str = "series",
                 title: str = "Revenue and profit across prices",
                 subtitle: str = "Mean over replications (band: P10–P90); large point: peak"
                 ) -> alt.Chart:
    """Price/profit curves. ``table`` (long): ``x``, ``series`` (label), measure (label),
    mean, p10, p90, peak (bool) — USD totals over the horizon."""
    scale = alt.Scale(range=PALETTE)
    base = alt.Chart(table).encode(x=alt.X(f"{x}:Q", title=x_title))
    area = base.mark_area(opacity=0.12).encode(
        y=alt.Y("p10:Q", axis=money_axis("USD over the horizon"),
                scale=alt.Scale(zero=False)),
        y2="p90:Q", color=alt.Color(f"{series}:N", scale=scale, title=None))
    line = base.mark_line(strokeWidth=2).encode(
        y="mean:Q", color=alt.Color(f"{series}:N", scale=scale, title=None))
    points = base.mark_point(filled=True).encode(
        y="mean:Q",
        color=alt.Color(f"{series}:N", scale=scale, title=None),
        size=alt.Size("peak:N", scale=alt.Scale(domain=[False, True], range=[30, 220]),
                      legend=None),
        tooltip=[alt.Tooltip(f"{series}:N", title="Series"), alt.Tooltip(f"{x}:Q", title=x_title),
                 alt.Tooltip("mean:Q", format="$,.0f", title="Mean"),
                 alt.Tooltip("peak:N", title="Peak")])
    chart = (
        alt.layer(area, line, points)
        .properties(width=WIDTH // 2 - 20, height=HEIGHT)
        .facet(column=alt.Column("measure:N", title=None, sort=None))
        .resolve_scale(y="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def scenario_kpi_bars(table: pd.DataFrame, title: str = "Profit next to revenue",
                      subtitle: str = "Bar: P50; whisker: P10–P90 across replications; "
                                      "USD over the horizon"
                      ) -> alt.Chart:
    """Horizontal bars with P10–P90 whiskers, one panel per KPI in table order (profit
    first), scenarios top to bottom in table order (base first).
    ``table``: scenario, kpi (label), p10, p50, p90 — USD."""
    scenarios = list(dict.fromkeys(table["scenario"]))
    scale = alt.Scale(domain=scenarios, range=PALETTE * (len(scenarios) // len(PALETTE) + 1))
    base = alt.Chart().encode(y=alt.Y("scenario:N", title=None, sort=scenarios,
                                      axis=alt.Axis(labelLimit=180)))
    bars = base.mark_bar(size=16).encode(
        x=alt.X("p50:Q", axis=money_axis("USD over the horizon")),
        color=alt.Color("scenario:N", scale=scale, legend=None, sort=scenarios),
        tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("p10:Q", format="$,.0f", title="P10"),
                 alt.Tooltip("p50:Q", format="$,.0f", title="P50"),
                 alt.Tooltip("p90:Q", format="$,.0f", title="P90")])
    whiskers = base.mark_errorbar(ticks=True, color="#333").encode(
        x=alt.X("p10:Q", title="USD over the horizon"), x2="p90:Q")
    chart = (
        alt.layer(bars, whiskers, data=table)
        .properties(width=WIDTH // 2 - 40, height=alt.Step(24))
        .facet(column=alt.Column("kpi:N", title=None, sort=list(dict.fromkeys(table["kpi"]))))
        .resolve_scale(x="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def comparison_bars(deltas: pd.DataFrame, title: str = "Difference from the base scenario",
                    subtitle: str = "Mean paired difference with 95% confidence interval"
                    ) -> alt.Chart:
    """Delta bars with CI error bars, one panel per KPI in table order (the caller sorts by
    the KPI catalogue's decision order: operating profit first). ``deltas``: scenario, kpi
    (label), mean_delta, ci_low, ci_high, prob_better (0–1), direction (better / worse) —
    USD."""
    scenarios = list(dict.fromkeys(deltas["scenario"]))
    base = alt.Chart().encode(
        y=alt.Y("scenario:N", title=None, sort=scenarios, axis=alt.Axis(labelLimit=200)))
    bars = base.mark_bar(size=16).encode(
        x=alt.X("mean_delta:Q", axis=money_axis("Difference vs base (USD)")),
        color=alt.Color("direction:N", title=None,
                        scale=alt.Scale(domain=["better", "worse"],
                                        range=[STEP_COLORS["increase"], STEP_COLORS["decrease"]])),
        tooltip=[alt.Tooltip("scenario:N"), alt.Tooltip("kpi:N", title="KPI"),
                 alt.Tooltip("mean_delta:Q", format="$,.0f", title="Mean difference"),
                 alt.Tooltip("ci_low:Q", format="$,.0f", title="95% CI low"),
                 alt.Tooltip("ci_high:Q", format="$,.0f", title="95% CI high"),
                 alt.Tooltip("prob_better:Q", format=PCT, title="P(better than base)")])
    ci = base.mark_errorbar(ticks=True, color="#222").encode(
        x=alt.X("ci_low:Q", title="Difference vs base (USD)"), x2="ci_high:Q")
    zero = base.mark_rule(color="#888").encode(x=alt.datum(0))
    chart = (
        alt.layer(bars, ci, zero, data=deltas)
        .properties(width=WIDTH // 2 - 40, height=alt.Step(22))
        .facet(facet=alt.Facet("kpi:N", title=None, sort=list(dict.fromkeys(deltas["kpi"])),
                               header=alt.Header(labelAnchor="start")),
               columns=2)
        .resolve_scale(x="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def cohort_retention_chart(table: pd.DataFrame,
                           title: str = "Cohort retention by quarter of acquisition",
                           subtitle: str = "Share of each cohort's customers (logos) and ARR "
                                           "still there; median across replications"
                           ) -> alt.Chart:
    """One line per acquisition cohort (the installed base dark), one panel per measure.
    ``table``: cohort (label), cohort_order, age (quarters since acquisition), measure
    (label), value (0–1+)."""
    cohorts = list(dict.fromkeys(table.sort_values("cohort_order")["cohort"]))
    colours = ["#333333", *_ramp(len(cohorts) - 1)]
    chart = (
        alt.Chart(table)
        .mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.6)
        .encode(
            x=alt.X("age:Q", title="Quarters since acquisition",
                    axis=alt.Axis(tickMinStep=1, format="d"),
                    scale=alt.Scale(domain=[0, int(table["age"].max()) if len(table) else 1],
                                    nice=False)),
            y=alt.Y("value:Q", title="Retained (%)",
                    axis=alt.Axis(format=PCT)),
            color=alt.Color("cohort:N", sort=cohorts, title="Acquired in",
                            scale=alt.Scale(domain=cohorts, range=colours),
                            legend=alt.Legend(columns=6)),
            tooltip=[alt.Tooltip("cohort:N", title="Cohort"),
                     alt.Tooltip("age:Q", title="Quarters since acquisition"),
                     alt.Tooltip("value:Q", format=".1%", title="Retained")])
        .properties(width=WIDTH // 2 - 20, height=HEIGHT - 40)
        .facet(column=alt.Column("measure:N", title=None,
                                 sort=list(dict.fromkeys(table["measure"]))))
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)


def _ramp(n: int) -> list[str]:
    """``n`` blues from light (first cohort) to dark (latest), for ordered cohorts."""
    light, dark = (158, 202, 225), (8, 48, 107)
    if n <= 0:
        return []
    out = []
    for i in range(n):
        t = i / max(1, n - 1)
        rgb = [round(a + (b - a) * t) for a, b in zip(light, dark, strict=True)]
        out.append("#" + "".join(f"{v:02x}" for v in rgb))
    return out


def programme_comparison(table: pd.DataFrame,
                         title: str = "Programme accounts with and without the account plan",
                         subtitle: str = "Same accounts, same random streams; mean with 95% CI"
                         ) -> alt.Chart:
    """Paired bars of the programme's accounts with and without it. ``table``: measure
    (label), arm ("with programme" / "without"), mean, ci_low, ci_high — fractions."""
    base = alt.Chart(table).encode(y=alt.Y("arm:N", title=None, sort=None))
    bars = base.mark_bar(size=18).encode(
        x=alt.X("mean:Q", title=None, axis=alt.Axis(format=PCT)),
        color=alt.Color("arm:N", title=None, scale=alt.Scale(range=[PALETTE[0], "#9aa5b1"])),
        tooltip=[alt.Tooltip("measure:N"), alt.Tooltip("arm:N"),
                 alt.Tooltip("mean:Q", format=".1%"), alt.Tooltip("ci_low:Q", format=".1%"),
                 alt.Tooltip("ci_high:Q", format=".1%")])
    ci = base.mark_errorbar(ticks=True, color="#222").encode(x="ci_low:Q", x2="ci_high:Q")
    chart = (
        alt.layer(bars, ci)
        .properties(width=WIDTH - 160, height=alt.Step(26))
        .facet(row=alt.Row("measure:N", title=None, sort=None,
                           header=alt.Header(labelAngle=0, labelAlign="left",
                                             labelOrient="top")))
        .resolve_scale(x="independent")
        .properties(title=_title(title, subtitle))
    )
    return _style(chart)
