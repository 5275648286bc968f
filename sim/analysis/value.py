"""Value created: NPV of operating profit over the horizon plus the discounted customer
equity of the customers alive at its end, under the model's own retention law.

**Customer equity of one account.** At the horizon an account of contract option ``T``
months has been a customer ``a`` months, so it has survived n = ⌊a / T⌋ renewals and its
next renewal is τ = (n + 1)·T − a months away (until then it is under contract). Its churn
law is its segment's for that option (``sim.engine.retention_math.segment_laws``): given
that it survived n renewals, it survives the k-th next one with P_k = S(n + k) / S(n)
(the sBG posterior, Fader & Hardie 2007; (1 − θ)^k when homogeneous). With continuous
discounting at ρ a month, the expected discounted months it still pays are

    R(ρ) = A(τ) + e^(−ρτ) · A(T) · Σ_{k≥1} P_k x^(k−1),  A(t) = (1 − e^(−ρt)) / ρ,  x = e^(−ρT)

and Σ_{k≥0} P_k x^k is, for the sBG, the hypergeometric ₂F₁(1, β + n; α + β + n; x) (the
"discounted expected residual lifetime" of Fader & Hardie 2010, "Customer-base valuation in a
contractual setting: the perils of ignoring heterogeneity", Marketing Science 29(1)); for a
homogeneous θ it is 1 / (1 − (1 − θ)x). The sum counts the renewal terms that end within
``LIFETIME_CAP_MONTHS`` (ten years, the model's LTV cap) after the horizon: the sBG survivors'
tail is long (α < 1 has an infinite mean lifetime) and a plan's value should not rest on
customers beyond a decade; the truncated sum is the ₂F₁ less its tail, also a ₂F₁.

**Cash flows.** An account's gross profit a month is its revenue ARR/12 less the cost of
serving it: the segment's ``cost_to_serve_per_month_usd``, the hosting and payment-fee
fractions of revenue, and its share of a customer-success manager at the segment's target
coverage (``headcount.csm.loaded_cost_per_month_usd / accounts_per_csm_target``) — the
neutral health the equity assumes is the health of an account covered at target, so its
cost is charged (otherwise a plan would get future retention for free). Its ARR grows at the segment's expected
expansion rate at neutral health (upsell and cross-sell events a year × their mean size,
less the expected contraction at each price anniversary): g a year, so revenue is discounted
at ρ = (ln(1 + r) − g)/12 and the fixed cost at ln(1 + r)/12, ``r`` the scenario's
``finance.discount_rate_per_year_frac``. Not extrapolated (assumption, stated in the README):
the renewal price escalator and its churn response, health multipliers (customer-success
coverage, onboarding, stakeholders). The equity at the horizon is discounted to month 0 by (1 + r)^(−H/12).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

from sim.engine.retention_math import LIFETIME_CAP_MONTHS, ChurnLaw, segment_laws

ENDING_BASE_COLUMNS = ("segment", "option", "term_months", "age_months", "arr")
"""One row per account alive at the horizon (``SimulationResult.ending_base``)."""


def annuity(t_months: float, rho: float) -> float:
    """∫₀^t e^(−ρs) ds: discounted months of a flow of 1 a month over ``t`` months."""
    if abs(rho) < 1e-15:
        return float(t_months)
    return float(-math.expm1(-rho * t_months) / rho)


def renewal_sum(law: ChurnLaw, renewals: int, x: float, k_max: int | None = None) -> float:
    """Σ_{k=0}^{K} P_k x^k with P_k = S(n + k) / S(n) of ``law`` after ``renewals`` = n
    renewals, K = ``k_max`` (None: infinite). Closed forms for x < 1: the sBG's
    ₂F₁(1, β + n; α + β + n; x), less its tail P_{K+1} x^{K+1} ₂F₁(1, β + n + K + 1;
    α + β + n + K + 1; x) when truncated; (1 − y^{K+1}) / (1 − y), y = (1 − θ)x, when
    homogeneous. A growth at or above the discount (x ≥ 1) needs a finite K: summed term by
    term."""
    n = int(renewals)
    if x >= 1.0:
        if k_max is None:
            raise ValueError("an untruncated renewal sum needs x < 1")
        k = np.arange(k_max + 1)
        logp = np.asarray(law.log_survival(n + k)) - law.log_survival(n)
        return float(np.sum(np.exp(logp + k * math.log(x))))
    if not law.heterogeneous:
        y = (1.0 - law.theta) * x
        if k_max is None:
            return 1.0 / (1.0 - y)
        return float(-math.expm1((k_max + 1) * math.log(y)) / (1 - y)) if y > 0 else 1.0

    def f(m: int) -> float:
        return float(hyp2f1(1.0, law.beta + m, law.alpha + law.beta + m, x))

    total = f(n)
    if k_max is not None:
        tail = k_max + 1
        p_tail = math.exp(law.log_survival(n + tail) - law.log_survival(n))
        total -= p_tail * x ** tail * f(n + tail)
    return total


def discounted_months(law: ChurnLaw, age_months: float, rho: float,
                      cap_months: float | None = LIFETIME_CAP_MONTHS) -> float:
    """R(ρ): expected discounted months an account of ``age_months`` on ``law`` still pays
    (continuous discounting at ``rho`` a month; see the module docstring), counting the
    renewal terms that end within ``cap_months`` (None: all)."""
    T = law.term_months
    n = math.floor(age_months / T + 1e-9)
    tau = (n + 1) * T - age_months
    if cap_months is not None and tau > cap_months:
        return annuity(cap_months, rho)
    k_max = None if cap_months is None else math.floor((cap_months - tau) / T + 1e-9)
    x = math.exp(-rho * T)
    after = (renewal_sum(law, n, x, k_max) - 1.0) / x  # Σ_{k=1}^{K} P_k x^(k−1)
    return annuity(tau, rho) + math.exp(-rho * tau) * annuity(T, rho) * after


def expansion_rate_per_year(segment) -> float:
    """Expected growth of an account's ARR a year at neutral health: upsell and cross-sell
    events a year × their mean size, less the expected contraction once a year."""
    e = segment.expansion
    grow = (e.upsell_rate_per_year * e.upsell_seats_frac.mean()
            + e.cross_sell_rate_per_year * e.cross_sell_arr_frac.mean())
    return grow - segment.contraction_prob_frac * segment.contraction_frac.mean()


def customer_equity(ending_base: pd.DataFrame | None, scenario) -> dict[str, float]:
    """Per segment and in total: the expected discounted gross profit, net of the cost to
    serve, of the accounts alive at the horizon, valued at the horizon (USD). An empty or
    missing ending base has no equity."""
    out: dict[str, float] = {name: 0.0 for name in scenario.segments}
    if ending_base is None or ending_base.empty:
        out["total"] = 0.0
        return out
    d = math.log1p(scenario.finance.discount_rate_per_year_frac) / 12
    costs = scenario.costs
    variable = costs.hosting_support_frac_of_revenue + costs.payment_fee_frac_of_billings
    memo: dict[tuple, float] = {}
    for seg_name, rows in ending_base.groupby("segment", sort=False):
        seg = scenario.segments[seg_name]
        laws = segment_laws(seg).laws
        rho_rev = d - expansion_rate_per_year(seg) / 12
        serve = (seg.cost_to_serve_per_month_usd
                 + scenario.headcount.csm.loaded_cost_per_month_usd / seg.accounts_per_csm_target)
        value = 0.0
        for opt, age, arr in zip(rows["option"], rows["age_months"], rows["arr"], strict=True):
            law = laws[int(opt)]
            n = math.floor(age / law.term_months + 1e-9)
            frac = age - n * law.term_months  # R depends on age only through n and this
            key = (seg_name, int(opt), n, round(frac, 6))
            got = memo.get(key)
            if got is None:
                got = memo[key] = (discounted_months(law, age, rho_rev),
                                   discounted_months(law, age, d))
            rev_months, cost_months = got
            value += (1 - variable) * arr / 12 * rev_months
            value -= serve * cost_months
        out[seg_name] = float(value)
    out["total"] = float(sum(v for k, v in out.items() if k != "total"))
    return out


def value_kpis(ending_base: pd.DataFrame | None, scenario,
               npv_operating_profit: float) -> dict[str, float]:
    """``customer_equity_usd`` (the ending base's equity discounted to month 0) and
    ``value_created_usd`` = NPV of operating profit + that equity."""
    equity = customer_equity(ending_base, scenario)["total"]
    r = scenario.finance.discount_rate_per_year_frac
    today = equity / (1 + r) ** (scenario.horizon_months / 12)
    return {"customer_equity_usd": float(today),
            "value_created_usd": float(npv_operating_profit + today)}


def ending_base_frame(rows: list[tuple], segments: list[str],
                      terms: Mapping[str, list[int]]) -> pd.DataFrame:
    """The engine's end-of-horizon rows (segment index, option index, age in months, ARR) as
    a frame with the segment's name and the option's term."""
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("age_months", "arr") else
                                          object if c == "segment" else int)
                             for c in ENDING_BASE_COLUMNS})
    seg_i, opt_i, age, arr = (list(c) for c in zip(*rows, strict=True))
    names = [segments[k] for k in seg_i]
    return pd.DataFrame({"segment": names, "option": opt_i,
                         "term_months": [terms[s][o] for s, o in zip(names, opt_i, strict=True)],
                         "age_months": age, "arr": arr})
