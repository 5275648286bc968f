"""Maximum-likelihood fits of the engine's parameters from validated canonical tables.

The result is a ``Fit``: named ``Estimate`` values (estimate, 95% interval, n, method) that
know nothing of the scenario's keys; ``sim.calibrate.write.to_scenario_overrides`` maps them.
Each fit is the engine's own model of the quantity:

- win probability: won (plus lost on price, when ``lost_reason`` says so) over closed
  inbound and outbound deals that met the competition (not lost for capacity, not slipped at
  a quarter-end push), Wilson interval;
- sales cycle, seats: lognormal, interval-censored (dates are whole days, seats whole
  numbers) and right-censored (opportunities still open), MLE with a Hessian interval;
- churn: shifted-beta-geometric on right-censored (and left-truncated) lifetimes, monthly
  hazard for month-to-month contracts and per-renewal for 12+ month terms, one shared
  concentration (the engine's Beta(mean, concentration) propensity);
- expansion: Poisson rate of mid-term ARR increases per customer-year, exact interval;
  contraction: binomial share of repricing points with an ARR decrease, Beta MLE of the cut;
- collection lag: gamma, interval- and right-censored MLE;
- lead volumes per segment: Poisson, inbound on spend^b (the base's exponent), outbound on
  the accounts the base's contact pool reaches; qualification: binomial, opportunities
  created in a month over that month's leads, scaled by the base's in-market cap;
- willingness to pay, the reps' concession, the quarter-end extra and the contract mix:
  ``sim.calibrate.prices`` (MLE under the engine's negotiation, its rules held at the base's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.mle import (
    Z95,
    Estimate,
    Fit,
    _censored_nll,
    _gamma_cdf,
    _gamma_logsf,
    binomial,
    lognormal_exact,
    lognormal_fit,
    mle_cov,
    poisson_rate,
    sbg_fit,
)
from sim.units import MONTH_DAYS

BOUNDARY_DAYS = 3  # an ARR change this close to a renewal or anniversary is a repricing


# ---------------------------------------------------------------- tables → estimates


@dataclass
class Inputs:
    """Validated canonical tables (any may be None) and the facts the fits need."""

    subscriptions: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    actuals: pd.DataFrame | None = None
    finance: pd.DataFrame | None = None
    dropped: list[str] = field(default_factory=list)  # the mapping's drop rules, one line each


def _days(a, b) -> np.ndarray:
    return ((b - a) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def calibrate(inputs: Inputs, base, as_of: pd.Timestamp,
              history_start: pd.Timestamp | None = None) -> Fit:
    """Fit everything the inputs support, per segment of the base scenario."""
    fit = Fit(as_of=as_of.date().isoformat())
    fit.warnings += inputs.dropped  # rows a mapping's drop rules took out, counted and why
    segments = list(base.segments)
    subs = _before(inputs.subscriptions, "start_date", as_of)
    opps = _before(inputs.opportunities, "created_date", as_of)
    leads = _before(inputs.leads, "month", as_of)
    inv = _before(inputs.invoices, "issued_date", as_of)
    for seg in segments:
        if opps is not None:
            _fit_opportunities(fit, seg, opps[opps["segment"] == seg], as_of)
        if subs is not None:
            start = history_start if history_start is not None else subs["start_date"].min()
            _fit_subscriptions(fit, seg, subs[subs["segment"] == seg], as_of, start, base)
    from sim.calibrate.prices import fit_segment_prices

    for seg in segments:  # contract mix, willingness to pay and discounts
        fit_segment_prices(fit, seg, opps, subs, base, history_start)
    if leads is not None:
        _fit_leads(fit, leads, opps, subs, base, as_of)
    if inv is not None:
        _fit_collections(fit, inv, as_of)
    from sim.calibrate.opening import fit_opening  # the state at as-of

    fit_opening(fit, subs, opps, inv, base, as_of)
    from sim.calibrate.books import fit_books  # costs, headcount, salaries and cash

    fit_books(fit, inputs.finance, subs, base, as_of)
    missing = {"subscriptions": inputs.subscriptions, "opportunities": inputs.opportunities,
               "leads": inputs.leads, "invoices": inputs.invoices}
    for name, df in missing.items():
        if df is None:
            fit.unsupported.append(f"{name}: no file given; its parameters stay from the base")
    return fit


def _before(df, col, as_of):
    """Rows that started before the as-of date; later dates are cut to what was known.

    A subscription is ``[start_date, end_date)``, as billing systems mean it: one that ends
    on the as-of date is not active on it; its churn is known at the cut (a snapshot taken
    on a month start, where churners end on the snapshot date). A close or a payment dated
    on or after the as-of date is not yet known."""
    if df is None:
        return None
    df = df[df[col] < as_of].copy()
    for c in ("end_date", "closed_date", "paid_date"):
        if c in df.columns:
            late = df[c] > as_of if c == "end_date" else df[c] >= as_of
            df.loc[late, c] = pd.NaT
            if c == "closed_date":
                df.loc[late, "outcome"] = "open"
    return df


def _fit_opportunities(fit: Fit, seg: str, o: pd.DataFrame, as_of) -> None:
    p = f"{seg}."
    direct = o[o["channel"].isin(["inbound", "outbound"])]
    reason = (direct["lost_reason"].fillna("").str.lower() if "lost_reason" in direct
              else pd.Series("", index=direct.index))
    # a deal lost for capacity or slipped at a quarter-end push never met the competition
    closed = direct[(direct["outcome"] != "open") & ~reason.isin(["no_capacity", "slipped"])]
    won = int((closed["outcome"] == "won").sum())
    if "lost_reason" in o.columns:
        price = int(((closed["outcome"] == "lost") & (reason.loc[closed.index] == "price")).sum())
        method = "won + lost on price over closed inbound/outbound deals, Wilson interval"
    else:
        price = 0
        method = "won over closed inbound/outbound deals (no lost_reason), Wilson interval"
    fit.add(p + "win_prob", binomial(won + price, len(closed), method))
    # cycle: closed deals (not lost for capacity) and open ones (right-censored)
    work = o[(o.get("lost_reason", pd.Series("", index=o.index)).fillna("").str.lower()
              != "no_capacity")]
    done = work["outcome"] != "open"
    d = _days(work["created_date"], work["closed_date"].where(done, as_of))
    lo = np.where(done, np.maximum(d - 0.5, 0.0), d)
    hi = np.where(done, d + 0.5, np.inf)
    if done.sum() >= 2:
        med, sig, cov = lognormal_fit(lo, hi, "whole days, open deals right-censored")
        fit.add(p + "cycle_median_days", med)
        fit.add(p + "cycle_sigma", sig)
        fit.add_joint((p + "cycle_median_days", p + "cycle_sigma"), ("log", "log"), cov)
    else:
        fit.unsupported.append(f"{p}cycle: fewer than 2 closed deals")
    if "seats" in o.columns and o["seats"].notna().sum() >= 2:
        s = o["seats"].dropna().to_numpy(float)
        lo = np.where(s <= 1, 0.0, s - 0.5)
        med, sig, cov = lognormal_fit(lo, s + 0.5, "whole seats of every opportunity")
        fit.add(p + "seats_median", med)
        fit.add(p + "seats_sigma", sig)
        fit.add_joint((p + "seats_median", p + "seats_sigma"), ("log", "log"), cov)
    else:
        fit.unsupported.append(f"{p}seats: no seats column (or fewer than 2 values)")


def _repricing_points(start: float, term: int, until: float) -> list[float]:
    """Days of the renewals (12+ month terms) or yearly anniversaries (monthly contracts)."""
    step = (12 if term == 1 else term) * MONTH_DAYS
    return [start + j * step for j in range(1, int((until - start) // step) + 2)
            if start + j * step <= until]


def _day_numbers(col: pd.Series) -> np.ndarray:
    """Dates as float days since 1970 (NaN for missing)."""
    return (col - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)


def _fit_subscriptions(fit: Fit, seg: str, s: pd.DataFrame, as_of, history_start, base) -> None:
    p = f"{seg}."
    if s.empty:
        fit.unsupported.append(f"{p}churn: no subscriptions in this segment")
        return
    s = s.sort_values(["customer_id", "start_date"], kind="mergesort")
    now = float(_day_numbers(pd.Series([as_of])).iloc[0])
    since = float(_day_numbers(pd.Series([history_start])).iloc[0])
    cols = {
        "cid": s["customer_id"].to_numpy(), "start": _day_numbers(s["start_date"]).to_numpy(),
        "end": _day_numbers(s["end_date"]).to_numpy(dtype=float),
        "term": s["term_months"].to_numpy(int), "billing": s["billing"].to_numpy(),
        "arr": s["arr_usd"].to_numpy(float),
        "seats": (s["seats"].to_numpy(float) if "seats" in s.columns
                  else np.full(len(s), np.nan)),
    }
    breaks = np.flatnonzero(cols["cid"][1:] != cols["cid"][:-1]) + 1
    groups: dict[str, tuple[list, list, list]] = {}  # monthly, and renewals by term
    renewal_terms: list[int] = []
    up = 0
    exposure_years = 0.0
    repricings = 0
    cuts = []
    active_price, active_seats, active = [], [], 0
    uplift = base.pricing.annual_uplift_frac
    contracts = base.segments[seg].contracts
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(s)], strict=True):
        start = cols["start"][lo]
        ends = cols["end"][lo:hi]
        term = int(cols["term"][lo])
        churned = bool(np.all(~np.isnan(ends)))
        stop = float(np.max(ends)) if churned else now
        term_days = (1 if term == 1 else term) * MONTH_DAYS
        life = stop - start
        t = max(1, round(life / term_days)) if churned else math.floor(life / term_days + 1e-9)
        d0 = max(0, math.floor((since - start) / term_days))
        if not churned or t > d0:
            g = groups.setdefault("monthly" if term == 1 else f"renewal_{term}", ([], [], []))
            g[0].append(t)
            g[1].append(not churned)
            g[2].append(d0)
            if term != 1:
                renewal_terms.append(term)
        # expansion and contraction
        seen_from = max(start, since)
        exposure_years += max(0.0, (stop - seen_from) / 365.25)
        points = [x for x in _repricing_points(start, term, stop) if x >= seen_from]
        points = [x for x in points if x < stop or (term == 1 and x <= stop)]
        repricings += len(points)
        arr = cols["arr"][lo:hi]
        for i in range(1, hi - lo):
            when = cols["start"][lo + i]
            if when < seen_from:
                continue
            near = any(abs(when - x) <= BOUNDARY_DAYS for x in points)
            prev, new = arr[i - 1], arr[i]
            if near:
                ratio = new / prev if prev > 0 else 1.0
                if ratio < (1 + uplift) * (1 - 0.005):
                    cuts.append(1 - ratio / (1 + uplift))
            elif new > prev:
                up += 1
        if not churned:
            active += 1
            seats = cols["seats"][hi - 1]
            if not np.isnan(seats):
                active_seats.append(seats)
                disc = next((c.term_discount_frac for c in contracts
                             if c.term_months == term and c.billing == cols["billing"][lo]), 0.0)
                active_price.append(arr[-1] / seats / (1 - disc))
    churn, joint = sbg_fit({k: (np.asarray(v[0], float), np.asarray(v[1], bool),
                                np.asarray(v[2], float)) for k, v in groups.items()})
    if "monthly" in groups:  # duration dependence: the beta-discrete-Weibull beside the sBG
        from sim.calibrate.churn_law import fit_laws, law_note

        g = groups["monthly"]
        laws = fit_laws(np.asarray(g[0], float), np.asarray(g[1], bool), np.asarray(g[2], float))
        if laws is not None:
            for k in ("mean", "concentration", "c"):
                fit.estimates[f"{p}bdw_{k}"] = laws[k]
            fit.notes.append(law_note(seg, laws))
            if laws["chosen"] != "shifted-beta-geometric" and not laws["c"].covers(1.0):
                fit.warnings.append(
                    f"{p}churn law: duration-dependent (beta-discrete-Weibull c="
                    f"{laws['c'].value:.3g}) fits better than the shifted-beta-geometric the "
                    "engine simulates; early churn may be under-stated (see the calibration "
                    "report's survival curves)")
    # one mean per kind of term (a T-month term has mean 1 - r12^(T/12)), one concentration;
    # the most common 12+ month term is the one written
    fit.add(p + "monthly_churn_mean", churn.get("monthly"), "no lifetimes on this kind of contract")
    fit.add(p + "churn_concentration", churn.get("concentration"), "no lifetimes")
    if renewal_terms:
        terms, counts = np.unique(renewal_terms, return_counts=True)
        term = int(terms[np.argmax(counts)])
        fit.add(p + "renewal_churn_mean", churn.get(f"renewal_{term}"),
                "no lifetimes on this kind of contract")
        if p + "renewal_churn_mean" in fit.estimates:
            fit.add(p + "renewal_term_months", Estimate(
                term, term, term, int(counts.max()), "most common term of the 12+ month "
                "lifetimes (its churn mean is the one written)"))
    else:
        fit.unsupported.append(f"{p}renewal_churn_mean: no lifetimes on this kind of contract")
    if joint is not None:  # the written means and the concentration, drawn together
        written = {"monthly": p + "monthly_churn_mean", "concentration": p + "churn_concentration"}
        if renewal_terms:
            written[f"renewal_{term}"] = p + "renewal_churn_mean"
        groups_, cov = joint
        keep = [i for i, g in enumerate(groups_) if g in written]
        fit.add_joint([written[groups_[i]] for i in keep],
                      ["log" if groups_[i] == "concentration" else "logit" for i in keep],
                      cov[np.ix_(keep, keep)])
    if len(s) == len(breaks) + 1:  # one row per customer: no ARR change is visible
        fit.unsupported.append(f"{p}expansion and contraction: one row per customer, so no "
                               "ARR change is visible (give a row per contract period)")
    else:
        fit.add(p + "expansion_rate_per_year", poisson_rate(
            up, exposure_years, "Poisson rate of mid-term ARR increases per customer-year, exact "
            "interval", n=len(breaks) + 1), "no exposure")
        fit.add(p + "contraction_prob", binomial(len(cuts), repricings, "ARR decreases at renewals "
                                                 "and anniversaries, Wilson interval"))
        fracs = np.clip(np.asarray(cuts, float), 1e-6, 1 - 1e-6)
        if len(fracs) >= 3:
            def nll(q):
                return -float(np.sum(stats.beta.logpdf(fracs, math.exp(q[0]), math.exp(q[1]))))
            m, v = fracs.mean(), max(fracs.var(), 1e-6)
            c = max(m * (1 - m) / v - 1, 0.5)
            x, cov = mle_cov(nll, [math.log(m * c), math.log((1 - m) * c)])
            se = np.sqrt(np.diag(cov)) if cov is not None else np.full(2, np.nan)
            names = (p + "contraction_frac_a", p + "contraction_frac_b")
            for i, name in enumerate(names):
                fit.add(name, Estimate(math.exp(x[i]), math.exp(x[i] - Z95 * se[i]),
                                       math.exp(x[i] + Z95 * se[i]), len(fracs),
                                       "Beta MLE of the ARR share cut"))
            fit.add_joint(names, ("log", "log"), cov)
        else:
            fit.unsupported.append(f"{p}contraction_frac: fewer than 3 contractions")
    fit.add(p + "installed_customers", Estimate(active, active, active, active,
                                                f"customers active at {fit.as_of}"))
    if active_price:
        x = np.asarray(active_price)
        half = Z95 * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.inf
        fit.add(p + "installed_price_usd", Estimate(
            float(x.mean()), float(x.mean() - half), float(x.mean() + half), len(x),
            "mean ARR per seat of active customers before term discount"))
    if len(active_seats) >= 2:
        med, sig = lognormal_exact(np.asarray(active_seats, float),
                                   "seats of active customers, exact intervals")
        fit.add(p + "installed_seats_median", med)
        fit.add(p + "installed_seats_sigma", sig)


def _open_accounts(subs, base, months: pd.DatetimeIndex) -> dict[tuple, float]:
    """Each segment's not-yet-customer accounts at each month start (the engine's pool)."""
    out = {}
    for seg, spec in base.segments.items():
        s = subs[subs["segment"] == seg] if subs is not None else None
        for m in months:
            if s is None or s.empty:
                out[(seg, m)] = float(spec.market_size_accounts)
                continue
            live = s[(s["start_date"] <= m) & (s["end_date"].isna() | (s["end_date"] > m))]
            out[(seg, m)] = max(0.0, spec.market_size_accounts - live["customer_id"].nunique())
    return out


def _poisson_scale(leads: float, exposure: float, method: str, n: int) -> Estimate | None:
    """MLE of c in leads ~ Poisson(c x exposure), log-scale Wald interval."""
    if leads <= 0 or exposure <= 0:
        return None
    c = leads / exposure
    se = 1 / math.sqrt(leads)
    return Estimate(c, c * math.exp(-Z95 * se), c * math.exp(Z95 * se), n, method)


def _fit_leads(fit: Fit, leads, opps, subs, base, as_of) -> None:
    """Inbound, per segment: leads = (s_ref / cpl) (s / s_ref)^b (``sim.engine.market``), b from
    the base; the cost per lead is written at the segment's mean observed spend. Outbound,
    per segment: leads = reached x fresh / contacted, the reached accounts replayed through
    the base's contact pool (contacts per SDR, cool-down) on the observed open accounts."""
    from sim.engine import market

    months = pd.DatetimeIndex(sorted(leads["month"].unique()))
    open_acc = _open_accounts(subs, base, months)
    inbound, outbound = base.channels.inbound, base.channels.outbound
    for ch, col in (("inbound", "spend_usd"), ("outbound", "sdrs")):
        rows = leads[leads["channel"] == ch]
        if col not in rows.columns or rows.empty or rows[col].isna().all():
            fit.unsupported.append(f"{ch} leads: needs a {col} column on {ch} rows")
            continue
        rows = rows[rows[col].notna()]
        totals = rows.groupby("segment")[col].sum()
        if totals.sum() > 0:
            for seg in base.segments:
                fit.add(f"{seg}.segment_mix.{ch}", Estimate(
                    float(totals.get(seg, 0.0) / totals.sum()), math.nan, math.nan,
                    len(rows), f"share of the observed {col} by segment"))
        for seg, r in rows.groupby("segment"):
            if seg not in base.segments:
                continue
            r = r.sort_values("month", kind="mergesort")
            k = float(r["leads"].sum())
            if ch == "inbound":
                b = inbound.response_exponent_b[seg]
                spent = r[r[col] > 0]
                est = _poisson_scale(float(spent["leads"].sum()), float((spent[col] ** b).sum()),
                                     "", len(spent))
                if est is None:
                    fit.unsupported.append(f"{seg}.inbound_cost_per_lead_usd: no spend or leads")
                    continue
                ref = float(spent[col].mean())
                # cpl at s_ref = s_ref^(1 - b) / c; the interval of c inverts
                method = (f"Poisson MLE of leads on spend^b (b={b:g} from the base), cost per "
                          f"lead at the mean observed spend {_g(ref)} USD a month")
                fit.add(f"{seg}.inbound_cost_per_lead_usd", Estimate(
                    ref ** (1 - b) / est.value, ref ** (1 - b) / est.high,
                    ref ** (1 - b) / est.low, int(k), method))
                fit.add(f"{seg}.inbound_reference_spend_usd", Estimate(
                    ref, ref, ref, len(spent), "mean observed monthly spend"))
            else:
                contacts = outbound.accounts_contacted_per_sdr_per_month[seg]
                pool = market.ContactPool(outbound.cooldown_months)
                exposure = 0.0
                for m, sdrs in zip(r["month"], r[col], strict=True):
                    exposure += pool.step(float(sdrs) * contacts, open_acc[(seg, m)]) / contacts
                est = _poisson_scale(k, exposure, (
                    "Poisson MLE of leads on the accounts reached (contact pool of the base: "
                    f"{contacts:g} contacts per SDR, {outbound.cooldown_months} months "
                    "cool-down)"), int(k))
                fit.add(f"{seg}.outbound_fresh_leads_per_sdr", est, "no SDRs or no leads")
    if opps is None:
        fit.unsupported.append("qualify_prob: needs an opportunities file with the leads")
        return
    created = opps.assign(month=opps["created_date"].dt.to_period("M").dt.to_timestamp())
    counts = created.groupby(["channel", "segment", "month"]).size()
    by_seg = created.groupby(["segment", "month"]).size()
    for (ch, seg), r in leads.groupby(["channel", "segment"]):
        if seg not in base.segments:
            continue
        frac = base.segments[seg].in_market_per_year_frac
        n, n_eff, k = 0, 0.0, 0
        for m, n_m in zip(r["month"], r["leads"], strict=True):
            # the engine qualifies q x scale, scale = capped / raw opportunities under the
            # in-market cap; the raw count is recovered from the month's opportunities
            opps_m = float(by_seg.get((seg, m), 0))
            in_market = market.in_market_per_month(open_acc.get((seg, m), 0.0), frac)
            raw = market.raw_opportunities_for(opps_m, in_market) if opps_m else 0.0
            scale = opps_m / raw if raw > 0 and math.isfinite(raw) else 1.0
            n += int(n_m)
            n_eff += n_m * scale
            k += int(counts.get((ch, seg, m), 0))
        if n > 0:
            fit.add(f"{seg}.qualify_prob.{ch}", binomial(min(k, round(n_eff)), round(n_eff),
                    "opportunities created in a month over that month's leads, scaled by the "
                    "in-market cap of the base, Wilson"))


def _g(x: float) -> str:
    return f"{x:.6g}"


def _fit_collections(fit: Fit, inv, as_of) -> None:
    paid = inv["paid_date"].notna()
    d = _days(inv["issued_date"], inv["paid_date"].where(paid, as_of))
    lo = np.where(paid, np.maximum(d - 0.5, 0.0), d)
    hi = np.where(paid, d + 0.5, np.inf)
    if paid.sum() < 2:
        fit.unsupported.append("collection_lag: fewer than 2 paid invoices")
        return

    mean = max(float(np.mean(d[paid])), 1.0)
    x, cov = mle_cov(_censored_nll(_gamma_cdf, _gamma_logsf, lo, hi),
                     [math.log(2.0), math.log(mean / 2)])
    se = np.sqrt(np.diag(cov)) if cov is not None else np.full(2, np.nan)
    method = "gamma MLE, whole days, unpaid invoices right-censored"
    names = ("collection_lag_shape", "collection_lag_scale")
    for i, name in enumerate(names):
        fit.add(name, Estimate(math.exp(x[i]), math.exp(x[i] - Z95 * se[i]),
                               math.exp(x[i] + Z95 * se[i]), len(inv), method))
    fit.add_joint(names, ("log", "log"), cov)
