"""Estimation primitives of the calibration, apart from the per-quantity fits (``fit``,
``prices``, ``opening``) that use them: ``Estimate`` (value, 95% interval, n, method), ``Fit``
and its joint blocks, maximum likelihood with a Hessian covariance, censored lognormal and
gamma fits, binomial and Poisson intervals, the shifted-beta-geometric churn fit, and the
one-line note written beside each fitted value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import optimize, special, stats

Z95 = 1.959963984540054
SMALL_N = 30  # fewer observations than this: a warning with the (wide) interval
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
    failed: str = ""
    """Why the fit is not an estimate (a parameter at its bound, an interval as wide as the
    parameter's range): :meth:`Fit.add` keeps the base's value, lists and warns."""

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
    failed: dict[str, Estimate] = field(default_factory=dict)
    """Fits that ran but are not estimates (see :func:`failure`): kept from the base, listed
    in the calibrated file's header and warned about; never written as values."""
    notes: list[str] = field(default_factory=list)
    """More header lines of the calibrated file (what comes from the template, the churn law
    chosen), already worded."""

    def with_estimates(self, estimates: dict[str, Estimate]) -> Fit:
        """A copy with these estimates (the rest shared: lists copied, blocks kept)."""
        return Fit(as_of=self.as_of, estimates=dict(estimates),
                   unsupported=list(self.unsupported), warnings=list(self.warnings),
                   joint=list(self.joint), failed=dict(self.failed), notes=list(self.notes))

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
        reason = est.failed or failure(name, est)
        if reason:
            self.failed[name] = replace(est, failed=reason)
            self.unsupported.append(f"{name}: the fit failed ({reason}); kept from the base")
            self.warnings.append(f"{name}: fit failed, kept from the base: {reason} "
                                 f"(fitted {_sig(est.value):g}, n={est.n}, not written)")
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


FRACTION_EDGE = 1e-3
"""A fraction's 95% interval reaching from below this to above 1 minus this spans the whole
range: the likelihood is flat, the value is no estimate."""


def failure(name: str, est: Estimate) -> str:
    """Why a fitted value is not an estimate, or "": a fraction whose 95% interval is about
    [0, 1], or a positive parameter whose interval is [0, inf] (a flat likelihood; shares of
    rates and fixed counts have no interval of their own and are not judged)."""
    if "share" in est.method or name.endswith(("installed_customers", "renewal_term_months")):
        return ""
    lo, hi, v = est.low, est.high, est.value
    if math.isnan(lo) or math.isnan(hi):
        return ""
    if 0.0 <= v <= 1.0 and lo <= FRACTION_EDGE and hi >= 1 - FRACTION_EDGE and (
            name.endswith(("_mean", "_prob", "win_prob")) or ".qualify_prob." in name):
        return (f"its 95% interval [{_sig(lo):g}, {_sig(hi):g}] spans every value: the "
                "likelihood is flat")
    if lo <= 0 and math.isinf(hi) and v >= 0:
        return f"its 95% interval [{_sig(lo):g}, inf] bounds nothing: the likelihood is flat"
    return ""


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


def mle_cov(nll, x0, simplex: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Minimise a negative log-likelihood; the estimate and its covariance (inverse Hessian
    at the optimum; None when it is not positive definite). ``simplex=False`` (a smooth,
    costly likelihood started near its optimum) skips the simplex and runs BFGS alone; the
    caller checks the result (a likelihood flat toward a boundary drifts there)."""
    x0 = np.asarray(x0, float)
    if not simplex:
        res = optimize.minimize(nll, x0, method="BFGS")
        return res.x, _safe_inv(_hessian(nll, res.x))
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
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
    failed = "" if interior else (
        f"at its cap {MAX_CONCENTRATION:g}: the accounts look alike, heterogeneity not "
        "identified" if logk > 0 else
        f"at its lower bound {math.exp(LOG_K_RANGE[0]):g}: the likelihood runs to the edge")
    out["concentration"] = Estimate(math.exp(logk), math.exp(lo_k), math.exp(hi_k), n_total,
                                    "shifted-beta-geometric MLE (a+b) shared by terms, "
                                    "profile-likelihood interval", failed=failed)
    joint = None if cov is None else (names + (["concentration"] if interior else []), cov)
    return out, joint


def _safe_inv(h: np.ndarray):
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.diag(cov) > 0) else None


def _sig(x: float) -> float:
    return float(f"{x:.6g}")


def _note(name: str, e: Estimate) -> str:
    ci = "" if math.isnan(e.low) else f" [{_sig(e.low):g}, {_sig(e.high):g}] 95%"
    warn = f"; WARNING {e.warning}" if e.warning else ""
    return f"{name} {_sig(e.value):g}{ci}, n={e.n}, {e.method}{warn}"
