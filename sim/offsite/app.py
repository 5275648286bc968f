"""The offsite page (Panel on Bokeh's Tornado server, bound to 127.0.0.1, every script and
style served by the app itself: no CDN, no code on screen).

Levers in four tabs (pricing, go-to-market, capacity, horizon), each showing its base value
and unit. A change draws the estimate at once, then the exact bands as the warm pool
finishes them. Buttons save the levers as a scenario file, compare the saved what-ifs and
build their board pack; a switch turns on presenter mode (large type).
"""

from __future__ import annotations

import html
import os
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from sim.errors import RevsimError
from sim.kpis import fmt_usd
from sim.offsite.session import OFFSITE_GROUPS, OffsiteSession
from sim.report.offsite import (
    OffsiteView,
    band_table,
    binding_text,
    delta_table,
    fan_frame,
    fans_chart,
    targets_table,
)
from sim.scenario.levers import GROUP_LABELS

CSS = """
:host { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
table.offsite { border-collapse: collapse; margin: 4px 0 10px; }
table.offsite th, table.offsite td { padding: 3px 10px; text-align: right;
  border-bottom: 1px solid #ddd; }
table.offsite th:first-child, table.offsite td:first-child { text-align: left; }
.kind { display: inline-block; padding: 1px 8px; border-radius: 4px; color: white; }
.kind.estimate { background: #b26b00; } .kind.exact { background: #2b7a3d; }
"""


def _fmt(unit: str, x: Any) -> str:
    if unit == "frac":
        return f"{float(x):.1%}"
    if unit.startswith("usd"):
        return fmt_usd(float(x))
    if unit == "hires":
        return "none planned" if not x or not x[0] else f"+{x[0]} from month {x[1]}"
    return str(x)


UNIT_WORDS = {"usd_per_seat_year": "$ per seat-year", "usd_per_month": "$ per month",
              "frac": "share", "count": "people", "months": "months", "hires": "AEs",
              "choice": ""}


def _widget(pn, c: dict, horizon: int):
    """The control of one lever (and segment or team), labelled with its base value."""
    name = f"{c['label']} (base {_fmt(c['unit'], c['base'])})"
    if c["unit"] == "choice":
        return pn.widgets.Select(name=name, options=list(c["choices"]), value=c["base"])
    if c["lever"] == "ae_hires":
        add = pn.widgets.IntSlider(name=f"{c['label']}: AEs added", start=0, end=10, value=0)
        month = pn.widgets.IntSlider(name="from plan month", start=1, end=max(2, horizon),
                                     value=2)
        return pn.Column(add, month, margin=0)
    if c["unit"] in ("count", "months"):
        return pn.widgets.IntSlider(name=name, start=int(c["low"]), end=int(c["high"]),
                                    value=int(c["base"]))
    if c["unit"] == "frac":
        from bokeh.models.formatters import NumeralTickFormatter

        return pn.widgets.FloatSlider(name=name, start=float(c["low"]), end=float(c["high"]),
                                      step=0.005, value=float(c["base"]),
                                      format=NumeralTickFormatter(format="0.0%"))
    step = 10.0 if c["unit"] == "usd_per_seat_year" else 5000.0
    return pn.widgets.FloatSlider(name=name, start=float(c["low"]), end=float(c["high"]),
                                  step=step, value=float(c["base"]))


def _value(c: dict, w) -> Any:
    if c["lever"] == "ae_hires":
        add, month = w.objects
        return (int(add.value), int(month.value))
    return w.value


class OffsitePage:
    """One browser tab's page over a shared session."""

    def __init__(self, session: OffsiteSession, report_dir: Path):
        import panel as pn

        self.pn, self.s, self.report_dir = pn, session, report_dir
        self.presenter = False
        self.view: OffsiteView | None = None
        self.controls = session.controls()
        h = session.scenario.horizon_months
        self.widgets = [_widget(pn, c, h) for c in self.controls]
        tabs = []
        for g in OFFSITE_GROUPS:
            items = [w for c, w in zip(self.controls, self.widgets, strict=True)
                     if c["group"] == g]
            tabs.append((GROUP_LABELS[g], pn.Column(*items, sizing_mode="stretch_width")))
        self.tabs = pn.Tabs(*tabs, sizing_mode="stretch_width")
        for w in self.widgets:
            for leaf in (w.objects if isinstance(w, pn.Column) else [w]):
                leaf.param.watch(self._changed, "value_throttled"
                                 if "value_throttled" in leaf.param else "value")
        self.status = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.tables = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.chart = pn.pane.Vega(None, sizing_mode="stretch_width")
        self.saved = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.name = pn.widgets.TextInput(name="What-if name", placeholder="e.g. ent_push")
        self.save_btn = pn.widgets.Button(name="Save as scenario", button_type="primary")
        self.compare_btn = pn.widgets.Button(name="Compare saved")
        self.report_btn = pn.widgets.Button(name="Report")
        self.present = pn.widgets.Toggle(name="Presenter mode")
        self.save_btn.on_click(self._save)
        self.compare_btn.on_click(self._compare)
        self.report_btn.on_click(self._report)
        self.present.param.watch(self._present, "value")
        self._token = 0
        self._t0 = time.perf_counter()
        self.first_ms = self.exact_s = None

    def layout(self):
        pn = self.pn
        title = pn.pane.HTML(
            f"<h2 style='margin:4px 0'>Offsite: {html.escape(self.s.scenario.name)}</h2>"
            f"<div>{html.escape(self.s.scenario.description)}</div>",
            sizing_mode="stretch_width", stylesheets=[CSS])
        side = pn.Column(self.tabs, pn.layout.Divider(), self.name,
                         pn.Row(self.save_btn, self.compare_btn, self.report_btn),
                         self.present, width=400)
        main = pn.Column(title, self.status, self.tables, self.chart, self.saved, width=820,
                         )
        self._draw(self.s.estimate(self._moves()))
        return pn.Row(side, main)

    # ------------------------------------------------------------ changes

    def _moves(self) -> dict[str, Any]:
        moves: dict[str, Any] = {}
        for c, w in zip(self.controls, self.widgets, strict=True):
            v = _value(c, w)
            if c["who"] is None:
                moves[c["lever"]] = v
            else:
                moves.setdefault(c["lever"], {})[c["who"]] = v
        return moves

    def _changed(self, *_events) -> None:
        t0 = time.perf_counter()
        self._token += 1
        token = self._token
        moves = self._moves()
        try:
            self.s.plan(moves)  # validated as a file would be
        except RevsimError as exc:
            self.status.object = f"<b>Not a valid plan:</b> {html.escape(str(exc))}"
            return
        self.s.cancel()
        est = self.s.estimate(moves)
        self.first_ms = (time.perf_counter() - t0) * 1000
        self.exact_s = None
        if est is not None:
            self._draw(est, first_ms=self.first_ms)
        doc = self.pn.state.curdoc
        threading.Thread(target=self._exact, args=(moves, token, t0, doc), daemon=True).start()

    def _exact(self, moves, token, t0, doc) -> None:
        def progress(done: int, total: int) -> None:
            self._later(doc, partial(self._progress, token, done, total))

        view = self.s.run_exact(moves, on_chunk=progress)
        if view is None or token != self._token:
            return
        secs = time.perf_counter() - t0
        self._later(doc, partial(self._exact_done, token, view, secs))

    def _later(self, doc, fn) -> None:
        if doc is not None:
            doc.add_next_tick_callback(fn)
        else:
            fn()

    def _progress(self, token, done, total) -> None:
        if token == self._token and self.view is not None:
            self.status.object = self._status_html(
                self.view, extra=f" — exact run: {done} of {total} replications")

    def _exact_done(self, token, view, secs) -> None:
        if token != self._token:
            return
        self.exact_s = secs
        self._draw(view, first_ms=self.first_ms, exact_s=secs)

    # ------------------------------------------------------------ drawing

    def _status_html(self, view: OffsiteView, first_ms=None, exact_s=None, extra="") -> str:
        kind = "exact" if view.exact else "estimate"
        times = []
        if first_ms is not None:
            times.append(f"first answer {first_ms:.0f} ms")
        if exact_s is not None:
            times.append(f"exact bands {exact_s:.1f} s")
        size = 26 if self.presenter else 16
        return (f"<div id='offsite-status' data-kind='{kind}' style='font-size:{size}px'>"
                f"<span class='kind {kind}'>{kind.upper()}</span> "
                f"{html.escape(view.note)}<br><b>{html.escape(view.headline())}</b><br>"
                f"{html.escape(view.cash_text())}<br><small>{html.escape('; '.join(times))}"
                f"{html.escape(extra)}</small></div>")

    def _draw(self, view: OffsiteView | None, first_ms=None, exact_s=None) -> None:
        if view is None:
            self.status.object = "<div id='offsite-status'>Running the base at the new " \
                                 "horizon…</div>"
            return
        self.view = view

        def table(df) -> str:
            return df.to_html(index=False, escape=True, border=0, classes="offsite")

        size = 22 if self.presenter else 14
        self.status.object = self._status_html(view, first_ms, exact_s)
        self.tables.object = (
            f"<div id='offsite-tables' style='font-size:{size}px'>"
            + table(band_table(view.base, view.plan))
            + table(delta_table(view.base, view.plan))
            + "<div style='display:flex;gap:24px;align-items:flex-start'>"
            + table(targets_table(view.base, view.plan))
            + f"<p id='offsite-binding'>{html.escape(binding_text(view.base, view.plan))}</p>"
            + "</div></div>")
        width = 250 if self.presenter else 185
        self.chart.object = fans_chart(fan_frame(view.base, view.plan), width=width).to_dict()

    def _present(self, event) -> None:
        self.presenter = bool(event.new)
        self._draw(self.view, self.first_ms, self.exact_s)

    # ------------------------------------------------------------ buttons

    def _save(self, _event) -> None:
        try:
            path = self.s.save(self._moves(), self.name.value or "")
        except RevsimError as exc:
            self.saved.object = f"<p id='offsite-saved'>{html.escape(str(exc))}</p>"
            return
        self.saved.object = (f"<p id='offsite-saved' data-path='{html.escape(str(path))}'>"
                             f"Saved {html.escape(str(path))} (extends "
                             f"{html.escape(self.s.base_path.name)}; validated)</p>")

    def _compare(self, _event) -> None:
        self.saved.object = "<p>Comparing the saved what-ifs…</p>"
        df = self.s.compare_saved()
        if df.empty:
            self.saved.object = "<p>Nothing saved yet.</p>"
            return
        shown = df.copy()
        for col in shown.columns[1:-1]:
            shown[col] = shown[col].map(fmt_usd)
        shown["P(beats base)"] = df["P(beats base)"].map(
            lambda p: "—" if p != p else f"{p:.0%}")
        self.saved.object = ("<div id='offsite-compare'>"
                             + shown.to_html(index=False, escape=True, border=0,
                                             classes="offsite") + "</div>")

    def _report(self, _event) -> None:
        if not self.s.saved:
            self.saved.object = "<p>Save a what-if first.</p>"
            return
        self.saved.object = "<p>Building the board pack…</p>"
        doc = self.pn.state.curdoc

        def build() -> None:
            code = self.s.report(self.report_dir)
            index = self.report_dir / "index.html"
            text = (f"Board pack: {index}" if code == 0 else
                    f"The report build ended with exit code {code} (see the terminal)")
            self._later(doc, lambda: setattr(self.saved, "object",
                                             f"<p id='offsite-report'>{html.escape(text)}</p>"))

        threading.Thread(target=build, daemon=True).start()


def serve(session: OffsiteSession, port: int = 0, report_dir: str | Path = "offsite-report",
          on_ready=None) -> None:
    """Serve the page on 127.0.0.1 until interrupted; prints its address. Scripts and
    styles come from this server (``BOKEH_RESOURCES=server``), never from a CDN."""
    os.environ["BOKEH_RESOURCES"] = "server"
    import panel as pn

    pn.extension("vega", inline=False)
    pn.config.design = None
    report = Path(report_dir)

    def page():
        return OffsitePage(session, report).layout()

    server = pn.serve({"offsite": page}, port=port, address="127.0.0.1",
                      websocket_origin=["127.0.0.1", "localhost"], show=False, start=False,
                      title="revsim offsite")
    server.start()
    print(f"revsim offsite: serving on http://127.0.0.1:{server.port}/offsite "
          "(Ctrl-C stops)", flush=True)
    if on_ready is not None:
        on_ready(server.port)
    try:
        server.io_loop.start()
    finally:
        session.close()
