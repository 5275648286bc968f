"""Maximum-likelihood fits of the engine's parameters from validated canonical tables.

The result is a ``Fit``: named ``Estimate`` values (estimate, 95% interval, n, method) that
know nothing of the scenario's keys; ``sim.calibrate.write.to_scenario_overrides`` maps them.
Each fit is the engine's own model of the quantity:

- win probability: won (plus lost on price, when ``lost_reason`` says so) over closed
  inbound and outbound deals, Wilson interval;
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
  ``sim.calibrate.prices`` (MLE under the engine's price rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from sim.units import MONTH_DAYS

Z95 = 1.959963984540054
SMALL_N = 30  # fewer observations than this: a warning with the (wide) interval
BOUNDARY_DAYS = 3  # an ARR change this close to a renewal or anniversary is a repricing
LEAD_CHANNELS = ("inbound", "outbound", "partner")


@dataclass(frozen=True)
class Estimate:
    """One fitted quantity."""

    value: float
    low: float
    high: float
    n: int
    method: str
    warning: str = ""

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


SCALES = {"log": (np.log, np.exp), "logit": (special.logit, special.expit)}
"""The scales on which a joint block's estimates are about normal (the Hessian's scale)."""


@dataclass(frozen=True, eq=False)
class Joint:
    """Estimates fitted together in one likelihood: their covariance (the inverse Hessian)
    on the scale each is about normal (``SCALES``), so that a draw keeps their correlation
    (a gamma's shape and scale, a Beta's a and b, churn means and the concentration)."""

    names: tuple[str, ...]
    scales: tuple[str, ...]
    cov: np.ndarray


@dataclass
class Fit:
    """Estimates by name (``segment.quantity`` or ``quantity``), what could not be fitted,
    warnings, and the joint blocks of estimates fitted together. Names are the
    calibration's own vocabulary (see ``QUANTITIES``)."""

    as_of: str
    estimates: dict[str, Estimate] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    joint: list[Joint] = field(default_factory=list)

    def with_estimates(self, estimates: dict[str, Estimate]) -> Fit:
        """A copy with these estimates (the rest shared: lists copied, blocks kept)."""
        return Fit(as_of=self.as_of, estimates=dict(estimates),
                   unsupported=list(self.unsupported), warnings=list(self.warnings),
                   joint=list(self.joint))

    def add_joint(self, names: Sequence[str], scales: Sequence[str],
                  cov: np.ndarray | None) -> None:
        """Record that ``names`` were fitted together with covariance ``cov`` (on
        ``scales``); only when every one was accepted by :meth:`add` and ``cov`` is a
        finite positive-definite matrix. A block whose sizes disagree is a bug: ValueError."""
        cov = None if cov is None else np.asarray(cov, float)
        if len(scales) != len(names) or (cov is not None and cov.shape != (len(names),) * 2):
            raise ValueError(f"joint block {list(names)}: {len(scales)} scales, covariance "
                             f"{None if cov is None else cov.shape}")
        if any(sc not in SCALES for sc in scales):
            raise ValueError(f"joint block {list(names)}: unknown scale in {list(scales)}")
        if cov is None or len(names) < 2 or any(n not in self.estimates for n in names):
            return
        if not np.all(np.isfinite(cov)):
            return
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            return
        self.joint.append(Joint(tuple(names), tuple(scales), cov))

    def add(self, name: str, est: Estimate | None, why_not: str = "") -> None:
        if est is None or not math.isfinite(est.value):
            self.unsupported.append(f"{name}: {why_not or 'not enough data'}")
            return
        shared = "share" in est.method  # a share of rates has no interval of its own
        if not shared and (math.isnan(est.low) or math.isnan(est.high)):
            self.unsupported.append(f"{name}: the data cannot bound it (n={est.n}, "
                                    "degenerate likelihood)")
            return
        if est.n < SMALL_N and not est.warning and not name.endswith("installed_customers"):
            est = Estimate(est.value, est.low, est.high, est.n, est.method,
                           f"small sample (n={est.n}); wide interval")
        if est.warning:
            self.warnings.append(f"{name}: {est.warning}")
        self.estimates[name] = est


SEGMENT_QUANTITIES = (
    "win_prob", "cycle_median_days", "cycle_sigma", "seats_median", "seats_sigma",
    "monthly_churn_mean", "renewal_churn_mean", "renewal_term_months", "churn_concentration",
    "expansion_rate_per_year", "contraction_prob", "contraction_frac_a", "contraction_frac_b",
    "installed_customers", "installed_price_usd", "installed_seats_median",
    "installed_seats_sigma",
    "inbound_cost_per_lead_usd", "inbound_reference_spend_usd", "outbound_fresh_leads_per_sdr",
    *(f"qualify_prob.{c}" for c in LEAD_CHANNELS),
    *(f"segment_mix.{c}" for c in ("inbound", "outbound")),
)
GLOBAL_QUANTITIES = ("collection_lag_shape", "collection_lag_scale")


# ---------------------------------------------------------------- generic MLE


def _hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * h * h)
    return H


def mle_cov(nll, x0) -> tuple[np.ndarray, np.ndarray | None]:
    """Minimise a negative log-likelihood; the estimate and its covariance (inverse Hessian
    at the optimum; None when it is not positive definite)."""
    res = optimize.minimize(nll, np.asarray(x0, float), method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20000})
    res = optimize.minimize(nll, res.x, method="BFGS")
    return res.x, _safe_inv(_hessian(nll, res.x))


def mle(nll, x0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mle_cov` with standard errors instead (NaN when the covariance is not
    positive definite)."""
    x, cov = mle_cov(nll, x0)
    return x, (np.sqrt(np.diag(cov)) if cov is not None else np.full(len(x), np.nan))


def _censored_nll(cdf, logsf, lo: np.ndarray, hi: np.ndarray):
    """Negative log-likelihood of interval data [lo, hi] (hi = inf: right-censored) under a
    distribution given by ``cdf(x, params)`` and ``logsf(x, params)``."""
    right = np.isinf(hi)
    lo_r, lo_i, hi_i = lo[right], lo[~right], hi[~right]

    def nll(params):
        with np.errstate(all="ignore"):
            ll = np.sum(logsf(lo_r, params))
            ll += np.sum(np.log(np.maximum(cdf(hi_i, params) - cdf(lo_i, params), 1e-300)))
        return -ll if np.isfinite(ll) else 1e300
    return nll


def _lognorm_cdf(x, p):
    with np.errstate(divide="ignore"):
        return special.ndtr((np.log(x) - p[0]) / math.exp(p[1]))


def _lognorm_logsf(x, p):
    with np.errstate(divide="ignore"):
        return special.log_ndtr(-(np.log(x) - p[0]) / math.exp(p[1]))


def _gamma_cdf(x, p):
    return special.gammainc(math.exp(p[0]), x / math.exp(p[1]))


def _gamma_logsf(x, p):
    return np.log(special.gammaincc(math.exp(p[0]), x / math.exp(p[1])))


def lognormal_fit(lo: np.ndarray, hi: np.ndarray, method: str
                  ) -> tuple[Estimate, Estimate, np.ndarray | None]:
    """Median and sigma of a lognormal from interval/right-censored data, and their
    covariance on the log scale."""
    n = len(lo)
    mid = np.where(np.isinf(hi), lo, (lo + hi) / 2)
    logs = np.log(np.maximum(mid, 0.5))
    x0 = [np.mean(logs), math.log(max(np.std(logs), 0.05))]
    (m, ls), cov = mle_cov(_censored_nll(_lognorm_cdf, _lognorm_logsf, lo, hi), x0)
    se_m, se_ls = np.sqrt(np.diag(cov)) if cov is not None else (math.nan, math.nan)
    median = Estimate(math.exp(m), math.exp(m - Z95 * se_m), math.exp(m + Z95 * se_m), n,
                      f"lognormal MLE ({method})")
    sigma = Estimate(math.exp(ls), math.exp(ls - Z95 * se_ls), math.exp(ls + Z95 * se_ls), n,
                     f"lognormal MLE ({method})")
    return median, sigma, cov


def lognormal_exact(x: np.ndarray, method: str) -> tuple[Estimate, Estimate]:
    """Lognormal MLE of fully observed values: median by the t interval of the mean log,
    sigma by the chi-square interval (``scipy.stats`` quantiles)."""
    logs = np.log(x)
    n = len(x)
    m, sd = float(logs.mean()), float(logs.std(ddof=1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    mle_sd = sd * math.sqrt((n - 1) / n)
    lo = sd * math.sqrt((n - 1) / stats.chi2.ppf(0.975, n - 1))
    hi = sd * math.sqrt((n - 1) / stats.chi2.ppf(0.025, n - 1))
    return (Estimate(math.exp(m), math.exp(m - half), math.exp(m + half), n,
                     f"lognormal MLE ({method})"),
            Estimate(mle_sd, lo, hi, n, f"lognormal MLE ({method})"))


def binomial(k: int, n: int, method: str) -> Estimate | None:
    if n <= 0:
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
    return Estimate(k / n, ci.low, ci.high, int(n), method)


def poisson_rate(k: int, exposure: float, method: str, n: int | None = None) -> Estimate | None:
    if exposure <= 0:
        return None
    low = stats.chi2.ppf(0.025, 2 * k) / 2 / exposure if k > 0 else 0.0
    high = stats.chi2.ppf(0.975, 2 * k + 2) / 2 / exposure
    return Estimate(k / exposure, low, high, int(n if n is not None else k), method)


# ---------------------------------------------------------------- churn (sBG)


def sbg_loglik(a: float, b: float, t: np.ndarray, alive: np.ndarray,
               d0: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Shifted-beta-geometric log-likelihood: churn at check t (1-based) with probability
    B(a+1, b+t-1)/B(a,b); alive after t checks: B(a, b+t)/B(a,b); left-truncated at d0
    checks already survived when observation starts."""
    lb = special.betaln(a, b)
    ll = np.where(alive, special.betaln(a, b + t) - lb, special.betaln(a + 1, b + t - 1) - lb)
    ll = ll - (special.betaln(a, b + d0) - lb)
    return float(np.sum(ll if weight is None else ll * weight))


def _collapse(t, alive, d0):
    """Identical lifetimes once, with a count (the likelihood is a sum over accounts)."""
    keys, counts = np.unique(np.column_stack([t, alive, d0]), axis=0, return_counts=True)
    return keys[:, 0], keys[:, 1].astype(bool), keys[:, 2], counts.astype(float)


MAX_CONCENTRATION = 1e4  # beyond this accounts are as good as identical (no heterogeneity)
LOG_K_RANGE = (math.log(0.05), math.log(MAX_CONCENTRATION))
CHI2_95 = 3.841458820694124


def sbg_fit(groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
            ) -> tuple[dict[str, Estimate], tuple[list[str], np.ndarray] | None]:
    """Means per group (``monthly``, ``renewal``) and one shared concentration by maximum
    likelihood. Means: Hessian interval on the logit scale (joint with the concentration when
    it is interior); concentration: profile-likelihood interval, whose upper end is unbounded
    when the data cannot tell the accounts apart. Also the groups' joint covariance (logit
    means, then log concentration when it is interior), or None."""
    names = [g for g, (t, _, _) in groups.items() if len(t)]
    if not names:
        return {}, None
    packed = {g: _collapse(*groups[g]) for g in names}

    def ll_at(p, logk):
        kappa = math.exp(logk)
        total = 0.0
        for i, g in enumerate(names):
            mu = special.expit(p[i])
            total += sbg_loglik(mu * kappa, (1 - mu) * kappa, *packed[g])
        return total if np.isfinite(total) else -1e300

    x0 = []
    for g in names:
        t, alive, _ = groups[g]
        x0.append(special.logit(min(0.9, max(1e-3, (~alive).sum() / max(1.0, t.sum())))))

    def profile(logk, start):
        res = optimize.minimize(lambda p: -ll_at(p, logk), start, method="BFGS")
        return -res.fun, res.x

    grid = np.linspace(*LOG_K_RANGE, 13)
    best = max((profile(k, x0) + (k,) for k in grid), key=lambda r: r[0])
    res = optimize.minimize_scalar(lambda k: -profile(k, best[1])[0],
                                   bounds=(max(LOG_K_RANGE[0], best[2] - 0.8),
                                           min(LOG_K_RANGE[1], best[2] + 0.8)),
                                   method="bounded")
    logk = float(res.x)
    ll_max, mus = profile(logk, best[1])
    cut = ll_max - CHI2_95 / 2

    def gap(k):
        return profile(k, mus)[0] - cut
    lo_k = (optimize.brentq(gap, LOG_K_RANGE[0], logk) if gap(LOG_K_RANGE[0]) < 0
            else -math.inf)
    hi_k = (optimize.brentq(gap, logk, LOG_K_RANGE[1]) if gap(LOG_K_RANGE[1]) < 0
            else math.inf)
    interior = LOG_K_RANGE[0] + 0.01 < logk < LOG_K_RANGE[1] - 0.01
    x = np.append(mus, logk)
    if interior:
        cov = _safe_inv(_hessian(lambda q: -ll_at(q[:-1], q[-1]), x))
    else:
        cov = _safe_inv(_hessian(lambda q: -ll_at(q, logk), mus))
    se = np.sqrt(np.maximum(np.diag(cov)[:len(names)], 0)) if cov is not None \
        else np.full(len(names), np.inf)
    out = {}
    n_total = sum(len(groups[g][0]) for g in names)
    for i, g in enumerate(names):
        t, alive, _ = groups[g]
        out[g] = Estimate(float(special.expit(mus[i])),
                          float(special.expit(mus[i] - Z95 * se[i])),
                          float(special.expit(mus[i] + Z95 * se[i])), len(t),
                          "shifted-beta-geometric MLE, right-censored lifetimes")
    warn = "" if interior else ("accounts look alike: heterogeneity not identified, "
                                "concentration at its cap" if logk > 0 else "")
    out["concentration"] = Estimate(math.exp(logk), math.exp(lo_k), math.exp(hi_k), n_total,
                                    "shifted-beta-geometric MLE (a+b) shared by terms, "
                                    "profile-likelihood interval", warn)
    joint = None if cov is None else (names + (["concentration"] if interior else []), cov)
    return out, joint


def _safe_inv(h: np.ndarray):
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.diag(cov) > 0) else None


# ---------------------------------------------------------------- tables → estimates


@dataclass
class Inputs:
    """Validated canonical tables (any may be None) and the facts the fits need."""

    subscriptions: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    actuals: pd.DataFrame | None = None


def _days(a, b) -> np.ndarray:
    return ((b - a) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def calibrate(inputs: Inputs, base, as_of: pd.Timestamp,
              history_start: pd.Timestamp | None = None) -> Fit:
    """Fit everything the inputs support, per segment of the base scenario."""
    fit = Fit(as_of=as_of.date().isoformat())
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
    missing = {"subscriptions": inputs.subscriptions, "opportunities": inputs.opportunities,
               "leads": inputs.leads, "invoices": inputs.invoices}
    for name, df in missing.items():
        if df is None:
            fit.unsupported.append(f"{name}: no file given; its parameters stay from the base")
    return fit


def _before(df, col, as_of):
    """Rows that started before the as-of date; later dates are cut to what was known."""
    if df is None:
        return None
    df = df[df[col] < as_of].copy()
    for c in ("end_date", "closed_date", "paid_date"):
        if c in df.columns:
            late = df[c] >= as_of
            df.loc[late, c] = pd.NaT
            if c == "closed_date":
                df.loc[late, "outcome"] = "open"
    return df


def _fit_opportunities(fit: Fit, seg: str, o: pd.DataFrame, as_of) -> None:
    p = f"{seg}."
    direct = o[o["channel"].isin(["inbound", "outbound"])]
    reason = (direct["lost_reason"].fillna("").str.lower() if "lost_reason" in direct
              else pd.Series("", index=direct.index))
    closed = direct[(direct["outcome"] != "open") & (reason != "no_capacity")]
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
