"""Duration-dependent churn: the beta-discrete-Weibull law (Fader, Hardie, Liu, Davin &
Steenburgh 2018) fitted beside the shifted-beta-geometric one, and the better chosen by AIC.

An account churns at period t with the discrete-Weibull hazard of its propensity θ:
S(t | θ) = (1 − θ)^(t^c), θ ~ Beta(a, b), so S(t) = B(a, b + t^c) / B(a, b). c = 1 is the
shifted-beta-geometric law; c < 1 makes an account's hazard fall with tenure (early churn
beyond what heterogeneity explains), c > 1 rise. Fitted on the month-to-month lifetimes
(right-censored, left-truncated as for the sBG, ``sim.calibrate.mle.sbg_fit``).

The engine simulates the sBG (its retention keys are the sBG's r12 and concentration), so
the choice is reported (the calibrated file's header, a warning when the sBG is rejected,
the report's survival curves against Kaplan–Meier), not written.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from sim.calibrate.mle import Z95, Estimate, _collapse, _hessian, _safe_inv

LOG_C_RANGE = (math.log(0.1), math.log(5.0))
MIN_LIFETIMES = 30  # fewer month-to-month lifetimes: no comparison of laws


def log_survival(a: float, b: float, c: float, t: np.ndarray) -> np.ndarray:
    """log S(t) of the beta-discrete-Weibull law (t in whole periods, S(0) = 1)."""
    return special.betaln(a, b + np.power(t, c)) - special.betaln(a, b)


def bdw_loglik(a: float, b: float, c: float, t, alive, d0, weight=None) -> float:
    """Log-likelihood of lifetimes: churn at period t (1-based) with S(t-1) - S(t), alive
    after t periods with S(t), left-truncated at d0 periods survived."""
    t = np.asarray(t, float)
    with np.errstate(all="ignore"):  # extreme trial parameters give -inf: refused below
        s_t = log_survival(a, b, c, t)
        s_prev = log_survival(a, b, c, np.maximum(t - 1, 0))
        churn = s_prev + np.log(-np.expm1(s_t - s_prev))
        ll = np.where(alive, s_t, churn) - log_survival(a, b, c, np.asarray(d0, float))
        ll = ll if weight is None else ll * weight
    total = float(np.sum(ll))
    return total if math.isfinite(total) else -1e300


def fit_laws(t, alive, d0) -> dict | None:
    """Both laws by maximum likelihood on one group of lifetimes: their log-likelihoods, AIC,
    the chosen law, and the beta-discrete-Weibull's mean, concentration and c (Hessian
    interval on the log scale for c). None with fewer than ``MIN_LIFETIMES`` lifetimes."""
    if len(t) < MIN_LIFETIMES:
        return None
    tt, aa, dd, w = _collapse(np.asarray(t, float), np.asarray(alive, bool),
                              np.asarray(d0, float))

    def nll(q, c=None):
        mu, kappa = special.expit(q[0]), math.exp(min(q[1], 12.0))
        cc = math.exp(min(max(q[2], LOG_C_RANGE[0]), LOG_C_RANGE[1])) if c is None else c
        return -bdw_loglik(mu * kappa, (1 - mu) * kappa, cc, tt, aa, dd, w)

    churned = float(np.sum(w[~aa]))
    mu0 = special.logit(min(0.9, max(1e-3, churned / max(1.0, float(np.sum(tt * w))))))
    starts = [[mu0, k] for k in (math.log(0.5), math.log(5.0), math.log(50.0))]
    sbg = min((optimize.minimize(lambda q: nll(q, 1.0), s, method="Nelder-Mead",
                                 options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000})
               for s in starts), key=lambda r: r.fun)
    bdw = min((optimize.minimize(nll, [*s, lc], method="Nelder-Mead",
                                 options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 8000})
               for s in [sbg.x.tolist()] + starts for lc in (0.0, math.log(0.6))),
              key=lambda r: r.fun)
    ll_s, ll_b = -float(sbg.fun), -float(bdw.fun)
    aic_s, aic_b = 4 - 2 * ll_s, 6 - 2 * ll_b
    x = bdw.x
    cov = _safe_inv(_hessian(nll, x))
    se = math.sqrt(cov[2, 2]) if cov is not None else math.inf
    log_c = min(max(float(x[2]), LOG_C_RANGE[0]), LOG_C_RANGE[1])
    n = int(np.sum(w))
    method = "beta-discrete-Weibull MLE, right-censored month-to-month lifetimes"
    return {
        "chosen": "beta-discrete-Weibull" if aic_b < aic_s else "shifted-beta-geometric",
        "loglik": {"sbg": ll_s, "bdw": ll_b}, "aic": {"sbg": aic_s, "bdw": aic_b},
        "mean": Estimate(float(special.expit(x[0])), math.nan, math.nan, n, method),
        "concentration": Estimate(math.exp(min(x[1], 12.0)), math.nan, math.nan, n, method),
        "c": Estimate(math.exp(log_c), math.exp(log_c - Z95 * se), math.exp(log_c + Z95 * se),
                      n, method),
    }


def law_note(seg: str, res: dict) -> str:
    """The header line of the calibrated file: the two laws, the choice and what is used."""
    c = res["c"]
    return (f"Churn law, {seg} month-to-month: beta-discrete-Weibull c={c.value:.3g} "
            f"[{c.low:.3g}, {c.high:.3g}] 95% (log-likelihood {res['loglik']['bdw']:.1f}, AIC "
            f"{res['aic']['bdw']:.1f}) vs shifted-beta-geometric c=1 (log-likelihood "
            f"{res['loglik']['sbg']:.1f}, AIC {res['aic']['sbg']:.1f}): the {res['chosen']} "
            "fits better by AIC. The engine simulates the shifted-beta-geometric law; its "
            "retention is the one written.")
