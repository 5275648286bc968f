"""The calibration report: observed against fitted, one call per notebook cell
(``notebooks/calibration.ipynb``, run by ``revsim calibrate ... --report DIR``).

Tables are computed here and charts only encode them. The fitted side is the calibrated
scenario as written (so a value kept from the base shows as the base's): survival by the
engine's shifted-beta-geometric laws (``sim.engine.retention_math``) mixed over the observed
contract mix of new customers; sales cycle and seats by their lognormals; the price side by
the closed forms of ``sim.engine.pricing``. The observed survival is Kaplan–Meier
(``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``, log-log 95% band) of the customers
won during the history (the installed base is left-truncated, so it is not in the curve).
Every text from a data file reaches the page escaped (``sim.outputs.escape``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.fit import Inputs, _before
from sim.calibrate.mle import Estimate, Fit
from sim.calibrate.prices import option_key, quarter_end_share
from sim.outputs.escape import html_text, style_table
from sim.units import MONTH_DAYS

FIT_FILE = "fit.json"  # next to the executed notebook in a calibration report
HIST_BINS = 30


# ---------------------------------------------------------------- the fit on disk


def save_fit(fit: Fit, path: Path) -> None:
    data = {"as_of": fit.as_of, "estimates": {k: asdict(e) for k, e in fit.estimates.items()},
            "unsupported": fit.unsupported, "warnings": fit.warnings,
            "failed": {k: asdict(e) for k, e in fit.failed.items()}, "notes": fit.notes}
    Path(path).write_text(json.dumps(data, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def load_fit(path: Path) -> Fit:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Fit(as_of=data["as_of"],
               estimates={k: Estimate(**v) for k, v in data["estimates"].items()},
               unsupported=list(data["unsupported"]), warnings=list(data["warnings"]),
               failed={k: Estimate(**v) for k, v in data.get("failed", {}).items()},
               notes=list(data.get("notes", [])))


@dataclass
class Calibration:
    """What the report shows: the data (cut at the as-of date), the fit, and the base and
    calibrated scenarios."""

    base: object
    calibrated: object
    inputs: Inputs
    fit: Fit
    as_of: pd.Timestamp
    history_start: pd.Timestamp | None


def load(base: str, files: dict[str, str], as_of: str, history_start: str = "",
         mapping: str = "", calibrated: str = "", fit_file: str = "") -> Calibration:
    """Read everything the report needs (the notebook's one loading cell): the calibrated
    scenario and the fit ``revsim calibrate`` wrote, or (both empty) a calibration made here."""
    import tempfile

    from sim.calibrate.run import calibrate_files, parse_date, read_inputs
    from sim.scenario.io import load_scenario

    base_sc = load_scenario(Path(base))
    given = {k: Path(v) for k, v in files.items() if v}
    if calibrated and fit_file:
        cal_sc, fit = load_scenario(Path(calibrated)), load_fit(Path(fit_file))
    else:
        with tempfile.TemporaryDirectory(prefix="revsim-calibration-") as tmp:
            out = Path(tmp) / "calibrated.yaml"
            text, fit = calibrate_files(Path(base), given, as_of, out,
                                        Path(mapping) if mapping else None,
                                        history_start or None)
            out.write_text(text, encoding="utf-8")
            cal_sc = load_scenario(out)
    raw = read_inputs(given, list(base_sc.segments), Path(mapping) if mapping else None)
    when = parse_date(as_of, "--as-of")
    cut = Inputs(subscriptions=_before(raw.subscriptions, "start_date", when),
                 opportunities=_before(raw.opportunities, "created_date", when),
                 leads=raw.leads, invoices=raw.invoices)
    since = parse_date(history_start, "--history-start") if history_start else None
    return Calibration(base_sc, cal_sc, cut, fit, when, since)


# ---------------------------------------------------------------- Kaplan–Meier


def km_survival(durations, churned) -> pd.DataFrame:
    """Kaplan–Meier survival of right-censored durations (``churned`` False = still a
    customer): ``time``, ``survival``, ``low``, ``high`` (95%, log-log), starting at (0, 1)."""
    t = np.asarray(durations, float)
    event = np.asarray(churned, bool)
    rows = [(0.0, 1.0, 1.0, 1.0)]
    if event.any():
        res = stats.ecdf(stats.CensoredData(uncensored=t[event], right=t[~event]))
        sf = res.sf
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # undefined at the last steps
            ci = sf.confidence_interval(0.95, method="log-log")
        rows += list(zip(sf.quantiles, sf.probabilities, ci.low.probabilities,
                         ci.high.probabilities, strict=True))
    if len(t):
        last = rows[-1]
        rows.append((float(t.max()), last[1], last[2], last[3]))  # the curve runs to the end
    df = pd.DataFrame(rows, columns=["time", "survival", "low", "high"])
    # where the band is undefined (no one left at risk) it collapses onto the curve
    return df.assign(low=df["low"].fillna(df["survival"]), high=df["high"].fillna(df["survival"]))


def new_customer_lifetimes(cal: Calibration, seg: str) -> pd.DataFrame:
    """One row per customer won during the history: months from first start to churn (or
    to the as-of date), whether it churned, and its first contract (term x billing)."""
    s = cal.inputs.subscriptions
    if s is None:
        return pd.DataFrame(columns=["months", "churned", "option"])
    s = s[s["segment"] == seg].sort_values(["customer_id", "start_date"], kind="mergesort")
    if "channel" in s.columns:
        s = s[s["channel"].fillna("").str.lower() != "installed_base"]
    g = s.groupby("customer_id", sort=False)
    first = g.head(1).set_index("customer_id")
    churned = g["end_date"].apply(lambda x: bool(x.notna().all()))
    end = g["end_date"].max().where(churned, cal.as_of)
    out = pd.DataFrame({"start": first["start_date"], "end": end, "churned": churned,
                        "option": [option_key(t, b) for t, b in zip(
                            first["term_months"], first["billing"], strict=True)]})
    if cal.history_start is not None:
        out = out[out["start"] >= cal.history_start]
    out["months"] = (out["end"] - out["start"]) / pd.Timedelta(days=1) / MONTH_DAYS
    return out[["months", "churned", "option"]].reset_index(drop=True)


def survival_table(cal: Calibration) -> pd.DataFrame:
    """Per segment: observed Kaplan–Meier (with its band) and the fitted survival."""
    from sim.engine.retention_math import segment_laws

    frames = []
    for seg, spec in cal.calibrated.segments.items():
        life = new_customer_lifetimes(cal, seg)
        if life.empty:
            continue
        km = km_survival(life["months"], life["churned"]).assign(
            segment=seg, source="observed (Kaplan–Meier)")
        laws = {option_key(c.term_months, c.billing): law for c, law in
                zip(spec.contracts, segment_laws(spec).laws, strict=True)}
        mix = life["option"].value_counts(normalize=True)
        mix = mix[[k for k in mix.index if k in laws]]
        grid = np.linspace(0, max(1.0, float(life["months"].max())), 241)
        fitted = sum(w / mix.sum() * np.asarray(laws[k].survival_months(grid), float)
                     for k, w in mix.items()) if len(mix) else np.full(len(grid), np.nan)
        frames += [km, pd.DataFrame({"time": grid, "survival": fitted, "low": np.nan,
                                     "high": np.nan, "segment": seg,
                                     "source": "fitted (shifted-beta-geometric)"})]
        bdw = [cal.fit.estimates.get(f"{seg}.bdw_{k}") for k in ("mean", "concentration", "c")]
        if all(bdw) and "1_monthly" in mix.index:  # the duration-dependent law, month-to-month
            from sim.calibrate.churn_law import log_survival

            mu, kappa, c = (e.value for e in bdw)
            other = sum(w / mix.sum() * np.asarray(laws[k].survival_months(grid), float)
                        for k, w in mix.items() if k != "1_monthly")
            s_bdw = np.exp(log_survival(mu * kappa, (1 - mu) * kappa, c, np.floor(grid)))
            frames.append(pd.DataFrame({
                "time": grid, "survival": other + mix["1_monthly"] / mix.sum() * s_bdw,
                "low": np.nan, "high": np.nan, "segment": seg,
                "source": "fitted (beta-discrete-Weibull, month-to-month)"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["time", "survival", "low", "high", "segment", "source"])


def survival_charts(cal: Calibration):
    """One chart per segment: Kaplan–Meier steps with the 95% band, the fitted curve."""
    table = survival_table(cal)
    charts = []
    for seg, df in table.groupby("segment", sort=False):
        obs = df[df["source"].str.startswith("observed")]
        n = len(new_customer_lifetimes(cal, seg))
        base = alt.Chart(obs).encode(x=alt.X("time:Q", title="Months since first contract"))
        band = base.mark_area(opacity=0.2, interpolate="step-after", color="#1f5f99").encode(
            y=alt.Y("low:Q", title="Share still a customer", axis=alt.Axis(format=".0%"),
                    scale=alt.Scale(domain=[0, 1])), y2="high:Q")
        lines = alt.Chart(df).mark_line(interpolate="step-after").encode(
            x="time:Q", y="survival:Q",
            color=alt.Color("source:N", title=None,
                            scale=alt.Scale(domain=sorted(df["source"].unique()),
                                            range=(["#2a9d8f"] if df["source"].str.contains(
                                                "Weibull").any() else [])
                                            + ["#d1495b", "#1f5f99"])))
        charts.append((band + lines).properties(
            width=560, height=220,
            title=alt.TitleParams(f"Customer survival, {seg}",
                                  subtitle=f"{n} customers won in the history; band: 95%")))
    return _show(alt.vconcat(*charts) if charts else None, "No subscriptions: no survival curves.")


# ---------------------------------------------------------------- histograms


def _lognormal_pdf(x, dist) -> np.ndarray:
    if getattr(dist, "dist", "") != "lognormal":
        return np.full(len(x), np.nan)
    return stats.lognorm.pdf(x, dist.sigma, scale=dist.median)


def histogram_table(cal: Calibration, what: str) -> pd.DataFrame:
    """Observed density (histogram of the closed deals' cycle days, or of every
    opportunity's seats) and the fitted lognormal density at the bin centres, per segment."""
    o = cal.inputs.opportunities
    rows = []
    if o is None:
        return pd.DataFrame(columns=["segment", "left", "right", "mid", "observed", "fitted"])
    for seg, spec in cal.calibrated.segments.items():
        s = o[o["segment"] == seg]
        if what == "cycle":
            reason = (s["lost_reason"].fillna("").str.lower() if "lost_reason" in s
                      else pd.Series("", index=s.index))
            s = s[(s["outcome"] != "open") & (reason != "no_capacity")]
            x = ((s["closed_date"] - s["created_date"]) / pd.Timedelta(days=1)).to_numpy(float)
            dist = spec.sales_cycle_days
        else:
            x = s["seats"].dropna().to_numpy(float) if "seats" in s else np.array([])
            dist = spec.seats
        x = x[np.isfinite(x)]
        if len(x) < 2:
            continue
        hi = float(np.quantile(x, 0.99))
        counts, edges = np.histogram(x, bins=HIST_BINS, range=(0, hi))
        dens = counts / (len(x) * (edges[1] - edges[0]))  # the top 1% is off the axis
        mid = (edges[:-1] + edges[1:]) / 2
        rows.append(pd.DataFrame({"segment": seg, "left": edges[:-1], "right": edges[1:],
                                  "mid": mid, "observed": dens,
                                  "fitted": _lognormal_pdf(mid, dist)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["segment", "left", "right", "mid", "observed", "fitted"])


def histogram_charts(cal: Calibration, what: str):
    """Per segment: the observed histogram and the fitted density on it."""
    table = histogram_table(cal, what)
    label = {"cycle": ("Sales cycle (days, closed deals)", "Sales cycle"),
             "seats": ("Seats per opportunity", "Deal size")}[what]
    charts = []
    for seg, df in table.groupby("segment", sort=False):
        bars = alt.Chart(df).mark_bar(color="#1f5f99", opacity=0.55).encode(
            x=alt.X("left:Q", title=label[0]), x2="right:Q",
            y=alt.Y("observed:Q", title="Density"), y2=alt.datum(0))
        line = alt.Chart(df).mark_line(color="#d1495b").encode(x="mid:Q", y="fitted:Q")
        charts.append((bars + line).properties(
            width=560, height=180, title=alt.TitleParams(
                f"{label[1]}, {seg}", subtitle="bars: observed; line: fitted lognormal")))
    return _show(alt.vconcat(*charts) if charts else None,
                 "No opportunities: no histograms.")


# ---------------------------------------------------------------- rates and estimates


RATE_KEYS = ("win_prob", "qualify_prob", "contraction_prob", "contract_share")


def estimates_table(cal: Calibration, only_rates: bool = False) -> pd.DataFrame:
    rows = []
    for name, e in cal.fit.estimates.items():
        seg, _, q = name.partition(".") if "." in name else ("(all)", "", name)
        if only_rates and not q.startswith(RATE_KEYS):
            continue
        rows.append({"segment": seg, "quantity": q, "estimate": e.value, "low": e.low,
                     "high": e.high, "n": e.n, "method": e.method, "warning": e.warning})
    return pd.DataFrame(rows, columns=["segment", "quantity", "estimate", "low", "high", "n",
                                       "method", "warning"])


def _num(x) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"


def rates(cal: Calibration):
    """Win, qualification and contraction rates and the contract mix, with 95% intervals."""
    df = estimates_table(cal, only_rates=True)
    return style_table(df, {c: _num for c in ("estimate", "low", "high")}, caption=(
        "Binomial and multinomial fits: estimate and 95% interval"), hide_index=True)


def rates_chart(cal: Calibration):
    df = estimates_table(cal, only_rates=True)
    df = df[df["quantity"].isin(["win_prob"]) | df["quantity"].str.startswith("qualify_prob")]
    if df.empty:
        return _show(None, "No win or qualification rates were fitted.")
    base = alt.Chart(df).encode(y=alt.Y("quantity:N", title=None),
                                color=alt.Color("segment:N", title=None))
    chart = (base.mark_rule().encode(x=alt.X("low:Q", title="Rate (95% interval)",
                                             axis=alt.Axis(format=".0%")), x2="high:Q")
             + base.mark_point(filled=True, size=60).encode(x="estimate:Q")).facet(
        row=alt.Row("segment:N", title=None)).properties(title="Win and qualification rates")
    return _show(chart, "")


def estimates(cal: Calibration):
    """Every fitted value: estimate, 95% interval, n, method, warning."""
    return style_table(estimates_table(cal), {c: _num for c in ("estimate", "low", "high")},
                       caption="Every fitted value", hide_index=True)


def kept(cal: Calibration):
    """What stayed from the base scenario, and the warnings."""
    rows = [{"kind": "kept from the base", "what": u} for u in cal.fit.unsupported]
    rows += [{"kind": "warning", "what": w} for w in cal.fit.warnings]
    return style_table(pd.DataFrame(rows, columns=["kind", "what"]), caption=(
        "Kept from the base (the data could not support a fit) and warnings"), hide_index=True)


# ---------------------------------------------------------------- prices


def price_check_table(cal: Calibration) -> pd.DataFrame:
    """Per segment: the share of price decisions lost on price and the mean discount of won
    deals outside quarter-end windows (by contract), observed and by the engine's negotiation
    (``sim.calibrate.negotiation``: its rules at the scenario's values) at the calibrated
    values."""
    from sim.calibrate.negotiation import Kernel, Rules

    o, subs = cal.inputs.opportunities, cal.inputs.subscriptions
    cols = ["segment", "measure", "observed", "fitted", "n"]
    if o is None or "list_amount_usd" not in o.columns:
        return pd.DataFrame(columns=cols)
    origin = cal.history_start if cal.history_start is not None else pd.Timestamp(
        year=o["created_date"].min().year, month=1, day=1)
    first = {} if subs is None else dict(
        subs.sort_values("start_date", kind="mergesort").groupby("customer_id").head(1)
        .pipe(lambda f: zip(f["customer_id"], [option_key(t, b) for t, b in zip(
            f["term_months"], f["billing"], strict=True)], strict=True)))
    rows = []
    for seg, spec in cal.calibrated.segments.items():
        price = cal.calibrated.pricing.segments[seg]
        wtp, rep = spec.willingness_to_pay_usd, price.rep_discount_frac
        if wtp.dist != "lognormal" or rep.dist != "beta":
            continue
        kernel = Kernel(Rules.of(cal.calibrated, seg))
        window = cal.calibrated.pricing.quarter_end_window_days
        extra = price.quarter_end_extra_discount_frac

        def decided(listed, e, wtp=wtp, rep=rep, kernel=kernel):
            """P(won on price) and E[discount | won] against ``listed`` with extra ``e``."""
            p, _, total = kernel.probabilities(math.log(wtp.median), wtp.sigma, listed,
                                               rep.a, rep.b, e)
            return p, total / p if p > 0 else math.nan
        s = o[(o["segment"] == seg) & o["list_amount_usd"].notna()]  # as the fit reads them
        reason = (s["lost_reason"].fillna("").str.lower() if "lost_reason" in s
                  else pd.Series("", index=s.index))
        won = s[s["outcome"] == "won"]
        lost = int(((s["outcome"] == "lost") & (reason == "price")).sum())
        if "lost_reason" in s and len(won) + lost > 0:
            decisions = s[(s["outcome"] == "won") | ((s["outcome"] == "lost")
                                                     & (reason == "price"))]
            q = float(np.mean(quarter_end_share(np.floor(
                (decisions["closed_date"] - origin) / pd.Timedelta(days=1)).to_numpy(float),
                window)))
            lose = 1 - sum(c.share_frac * ((1 - q) * decided(
                price.list_price_usd * (1 - c.term_discount_frac), 0.0)[0] + q * decided(
                price.list_price_usd * (1 - c.term_discount_frac), extra)[0])
                for c in spec.contracts)
            rows.append({"segment": seg, "measure": "share lost on price (of deals that beat "
                         "the competition)", "observed": lost / (len(won) + lost),
                         "fitted": lose, "n": len(won) + lost})
        day = np.floor((won["closed_date"] - origin) / pd.Timedelta(days=1)).to_numpy(float)
        calm = quarter_end_share(day, cal.calibrated.pricing.quarter_end_window_days) == 0
        for c in spec.contracts:
            key = option_key(c.term_months, c.billing)
            mask = calm & (won["account_id"].map(first).to_numpy() == key) \
                if "account_id" in won else np.zeros(len(won), bool)
            w = won[mask]
            if len(w) < 5:
                continue
            listed = price.list_price_usd * (1 - c.term_discount_frac)
            d = 1 - (w["amount_usd"] / w["list_amount_usd"]).to_numpy(float) / (
                1 - c.term_discount_frac)
            rows.append({"segment": seg, "measure": f"mean discount of won deals, {key}, "
                         "outside quarter ends", "observed": float(np.mean(d)),
                         "fitted": decided(listed, 0.0)[1],
                         "n": len(w)})
    return pd.DataFrame(rows, columns=cols)


def price_check(cal: Calibration):
    return style_table(price_check_table(cal), {"observed": "{:.2%}", "fitted": "{:.2%}"},
                       caption="Price decisions: observed against the engine's closed forms "
                               "at the calibrated values", hide_index=True)


# ---------------------------------------------------------------- display


class _Note:
    def __init__(self, text: str):
        self.text = text

    def _repr_html_(self) -> str:
        return f"<p>{html_text(self.text)}</p>"

    def __repr__(self) -> str:
        return self.text


def _show(chart, empty: str):
    return chart if chart is not None else _Note(empty)


def summary(cal: Calibration):
    """One paragraph: the as-of date, what was fitted and what was kept."""
    n_seg = len(cal.base.segments)
    return _Note(f"Calibrated as of {cal.fit.as_of} for {n_seg} segment(s): "
                 f"{len(cal.fit.estimates)} values fitted, {len(cal.fit.unsupported)} kept "
                 f"from the base, {len(cal.fit.warnings)} warning(s).")


# ---------------------------------------------------------------- the report folder

NOTEBOOK = "calibration"


def build_report(dest, base: Path, files: dict[str, Path | None], as_of: str,
                 history_start: str | None, mapping: Path | None, calibrated: Path,
                 fit: Fit) -> None:
    """``calibration.html`` (offline, code hidden), the executed ``calibration.ipynb`` and
    ``fit.json`` into the claimed folder ``dest`` (``sim.outputs.atomic.Claim``), through the same
    Papermill execution and HTML export as ``revsim report`` (``sim.report.build``)."""
    from sim.errors import EXIT_ENVIRONMENT
    from sim.outputs.atomic import OutputError
    from sim.report.build import execute_notebook, export_html, hermetic_jupyter, notebook_error

    params = {"base": str(Path(base).resolve()),
              "files": {k: str(Path(p).resolve()) for k, p in files.items() if p is not None},
              "as_of": as_of, "history_start": history_start or "",
              "mapping": str(Path(mapping).resolve()) if mapping else "",
              "calibrated": str(Path(calibrated).resolve()), "fit_file": FIT_FILE}
    with hermetic_jupyter(), dest.folder() as tmp:
        save_fit(fit, tmp / FIT_FILE)
        nb = tmp / f"{NOTEBOOK}.ipynb"
        try:
            execute_notebook(NOTEBOOK, nb, params, cwd=tmp)
        except Exception as exc:  # a failing cell: one line, nothing replaced
            raise OutputError(f"calibration report: {notebook_error(nb, exc)}",
                              EXIT_ENVIRONMENT) from None
        export_html(nb, tmp / f"{NOTEBOOK}.html", f"Calibration as of {fit.as_of}")
