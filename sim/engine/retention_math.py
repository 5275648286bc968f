"""Churn parameters, the seasoned installed base and the opening receivables, as pure functions.

**Churn model** (shifted-beta-geometric, Fader & Hardie 2007). Every account has its own
churn probability θ per renewal, drawn once when it is acquired from Beta(α, β); a renewal
comes at the end of every term of ``T`` months (``T`` = 1 for month-to-month contracts). After
``n`` renewals a new cohort keeps

    S(n) = E[(1 − θ)^n] = B(α, β + n) / B(α, β)

of its accounts; with no heterogeneity (θ the same for everyone) S(n) = (1 − θ)^n. In calendar
months since acquisition, S(t) = S(⌊t / T⌋).

**What the user gives** per segment and kind of contract: the *12-month logo retention of a new
cohort*, r₁₂, and the heterogeneity κ = α + β (the Beta concentration; lower = more spread).

* month-to-month (T = 1): 12 renewals in the first year, so α solves S(12) = r₁₂ with
  α + β = κ (one root: S(12) falls from 1 to 0 as α goes from 0 to κ);
* terms of 12 months or more: there is at most one renewal in a year, so r₁₂ is read as the
  *yearly* retention and a T-month term keeps r_T^(T/12) of a new cohort at its first
  renewal: E[1 − θ] = β / (α + β) = r_T^(T/12). A 12-month term keeps exactly r₁₂ at month
  12. A multi-year term churns less each year (S9: 2+ year contracts churn least):
  r_T = 1 − (1 − r₁₂) f^(T/12 − 1) with f the segment's ``multi_year_churn_factor``, so a
  36-month term keeps r_36³ ≥ r₁₂³ at month 36 (f = 1: the same yearly rate).

The health multipliers of the engine (CS coverage, late onboarding, stakeholders, uplifts,
price above willingness to pay) then move an account's θ up or down; r₁₂ is the retention of
accounts at neutral health.

**Expected lifetime.** With α < 1 the sBG lifetime has an infinite mean (the surviving tail
never churns fast enough), so lifetimes are truncated at ``LIFETIME_CAP_MONTHS`` (ten years,
the same cap as the LTV of ``sim.analysis.metrics``): E[min(L, cap)] = ∫₀^cap S(⌊a / T⌋) da.

**Seasoned installed base.** A business that has sold at a steady rate for N months has
accounts of every age a ∈ [0, N); one acquired a months ago has survived n(a) = ⌊a / T⌋
renewals, so the survivors' ages have density ∝ S(n(a)) and, given n, the account's θ follows
the posterior Beta(α, β + n): survivors are the less churn-prone. Both are sampled exactly (no
rejection): n from its discrete law ∝ (length of the ages with n renewals) × S(n), the age
uniformly within that stretch, then θ. An account of age a then keeps S(n(a + t)) / S(n(a)) of
its survival chance over the next t months.

**Opening receivables.** An invoice issued e days before day 0 is still unpaid at day 0 when
its collection lag exceeds e; it is collected lag − e days into the plan.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

import numpy as np

from sim.units import MONTH_DAYS


def betaln(a: float, b) -> np.ndarray | float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), elementwise over ``b`` (plain
    ``math.lgamma``: the engine imports no scipy, so a Ctrl-C never lands in its import)."""
    if np.ndim(b):
        return np.array([betaln(a, x) for x in np.asarray(b, dtype=float).ravel()]).reshape(
            np.shape(b))
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _bisect(f, lo: float, hi: float, tol: float = 1e-14) -> float:
    """Root of a monotone f with f(lo) > 0 > f(hi), by bisection to ``tol``."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


LIFETIME_CAP_MONTHS = 120
"""Expected lifetimes are truncated at ten years (the LTV cap of ``sim.analysis.metrics``)."""
RECEIVABLES_LOOKBACK_MONTHS = 24
"""Monthly invoices older than this are taken as collected before day 0."""


# --------------------------------------------------------------------------- churn law


@dataclass(frozen=True)
class ChurnLaw:
    """Per-renewal churn probability of one kind of contract.

    ``alpha``/``beta`` are the Beta parameters of θ; ``None`` means every account has the same
    θ = ``theta`` (homogeneous churn). ``term_months`` is the time between renewals.
    """

    term_months: int
    theta: float
    """Mean churn probability per renewal of a new account."""
    alpha: float | None = None
    beta: float | None = None
    _cum: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def heterogeneous(self) -> bool:
        return self.alpha is not None

    def log_survival(self, n: int | np.ndarray) -> np.ndarray | float:
        """log S(n): log share of a new cohort left after ``n`` renewals."""
        n = np.asarray(n, dtype=float)
        if self.heterogeneous:
            out = np.asarray(betaln(self.alpha, self.beta + n) - betaln(self.alpha, self.beta))
        elif self.theta >= 1.0:
            out = np.where(n > 0, -np.inf, 0.0)
        else:
            out = n * math.log1p(-self.theta)
        return out if out.ndim else float(out)

    def survival(self, n: int | np.ndarray) -> np.ndarray | float:
        """S(n) = B(α, β + n) / B(α, β), or (1 − θ)^n when homogeneous."""
        return np.exp(self.log_survival(n))

    def survival_months(self, t: float | np.ndarray) -> np.ndarray | float:
        """S(⌊t / T⌋): share of a new cohort still customers ``t`` months after acquisition."""
        return self.survival(np.floor(np.asarray(t, dtype=float) / self.term_months + 1e-9))

    def conditional_survival(self, age_months: float, t_months: float) -> float:
        """S(n(a + t)) / S(n(a)): chance that an account of age ``a`` survives ``t`` more months."""
        n0 = math.floor(age_months / self.term_months + 1e-9)
        n1 = math.floor((age_months + t_months) / self.term_months + 1e-9)
        return float(math.exp(self.log_survival(n1) - self.log_survival(n0)))

    def retention_12m(self) -> float:
        """The yearly logo retention this law implies (the inverse of ``churn_law``)."""
        if self.term_months < 12:
            return float(self.survival(12 // self.term_months))
        return float(self.survival(1)) ** (12 / self.term_months)

    def expected_lifetime_months(self, cap_months: float = LIFETIME_CAP_MONTHS) -> float:
        """E[min(L, cap)] = ∫₀^cap S(⌊a / T⌋) da (L = months from acquisition to churn)."""
        return self.tenure_weight(cap_months)

    def tenure_weight(self, months: float) -> float:
        """∫₀^months S(⌊a / T⌋) da: the expected survivors at day 0 per new account a month
        of a business that has sold at a steady rate for ``months`` months."""
        lengths, s = self._stretches(months)
        return float(np.dot(lengths, s))

    def _stretches(self, months: float) -> tuple[np.ndarray, np.ndarray]:
        """Ages [nT, (n+1)T) ∩ [0, months): their lengths and S(n)."""
        T = self.term_months
        n_max = max(1, math.ceil(months / T - 1e-9))
        n = np.arange(n_max)
        lengths = np.minimum((n + 1) * T, months) - n * T
        return lengths, np.asarray(self.survival(n))

    def sample(self, rng: random.Random, renewals_survived: int = 0) -> float:
        """θ of an account that has survived ``renewals_survived`` renewals:
        Beta(α, β + n) (the posterior given survival), or θ when homogeneous."""
        if not self.heterogeneous:
            return self.theta
        return rng.betavariate(self.alpha, self.beta + renewals_survived)

    def sample_tenure(self, rng: random.Random, business_age_months: float
                      ) -> tuple[float, int]:
        """(age in months, renewals survived) of a surviving account of a business that has
        sold at a steady rate for ``business_age_months``: exact draw of n ∝ length × S(n),
        then the age uniform within the stretch of ages with n renewals."""
        key = round(float(business_age_months), 9)
        cum = self._cum.get(key)
        if cum is None:
            lengths, s = self._stretches(business_age_months)
            w = lengths * s
            cum = (np.cumsum(w) / w.sum()).tolist(), lengths.tolist()
            self._cum[key] = cum
        cdf, lengths = cum
        n = min(bisect.bisect_right(cdf, rng.random()), len(cdf) - 1)
        age = n * self.term_months + rng.random() * lengths[n]
        return age, n


def _sbg_log_survival(alpha: float, beta: float, n: int) -> float:
    return float(betaln(alpha, beta + n) - betaln(alpha, beta))


def churn_law(retention_12m_frac: float, concentration: float | None,
              term_months: int) -> ChurnLaw:
    """The Beta(α, β) of the per-renewal churn probability from the 12-month logo retention
    of a new cohort and the heterogeneity κ = α + β (None = homogeneous). See the module
    docstring for what r₁₂ means for each term."""
    r = float(retention_12m_frac)
    T = int(term_months)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"retention must be in [0, 1] (got {r})")
    if T < 1:
        raise ValueError(f"term_months must be >= 1 (got {T})")
    if T < 12:
        renewals = 12 // T  # renewals in the first year
        theta_h = 1.0 - r ** (1.0 / renewals)
    else:
        renewals = 1
        theta_h = 1.0 - r ** (T / 12)
    if concentration is None or r >= 1.0 or r <= 0.0:
        return ChurnLaw(T, theta=float(theta_h))
    k = float(concentration)
    if renewals == 1:
        return ChurnLaw(T, theta=float(theta_h), alpha=k * theta_h, beta=k * (1.0 - theta_h))
    target = math.log(r)

    def gap(alpha: float) -> float:
        return _sbg_log_survival(alpha, k - alpha, renewals) - target

    lo, hi = k * 1e-12, k * (1 - 1e-12)
    if gap(lo) <= 0:  # retention too close to 1 for this concentration
        alpha = lo
    elif gap(hi) >= 0:
        alpha = hi
    else:
        alpha = _bisect(gap, lo, hi)
    return ChurnLaw(T, theta=alpha / k, alpha=alpha, beta=k - alpha)


@dataclass(frozen=True)
class SegmentRetention:
    """The implied retention of a segment's new customers, mixed over its contract options."""

    laws: tuple[ChurnLaw, ...]
    shares: tuple[float, ...]
    _mix: dict = field(default_factory=dict, compare=False, repr=False)

    def survival_months(self, t) -> np.ndarray:
        return sum(s * np.asarray(law.survival_months(t)) for law, s in zip(self.laws, self.shares, strict=True))

    def expected_lifetime_months(self, cap_months: float = LIFETIME_CAP_MONTHS) -> float:
        return float(sum(s * law.expected_lifetime_months(cap_months)
                         for law, s in zip(self.laws, self.shares, strict=True)))

    def installed_shares(self, business_age_months: float) -> list[float]:
        """Contract mix of the survivors of a business ``business_age_months`` old: new-deal
        share × expected survivors per new account (longer-lived contracts accumulate)."""
        key = round(float(business_age_months), 9)
        got = self._mix.get(key)
        if got is None:
            w = [s * law.tenure_weight(business_age_months)
                 for law, s in zip(self.laws, self.shares, strict=True)]
            total = sum(w)
            got = [x / total for x in w] if total > 0 else list(self.shares)
            self._mix[key] = got
        return got


# --------------------------------------------------------------------------- renewals


@dataclass(frozen=True)
class RenewalOutcome:
    """What one renewal books. Churn is decided first, at the old price; only a renewing
    account contracts and then takes the uplift on what is left."""

    renewed: bool
    churned_arr: float
    contraction_arr: float
    expansion_arr: float
    arr_after: float


def renewal_outcome(arr: float, churn_prob: float, u_churn: float, contracts: bool,
                    cut_arr: float, uplift_frac: float) -> RenewalOutcome:
    """One renewal of an account with ARR ``arr``: it churns when ``u_churn`` < q and leaves
    at the old price; else it loses ``cut_arr`` if it contracts, then the price rises by the
    uplift: expansion = u × (ARR after contraction)."""
    if u_churn < churn_prob:
        return RenewalOutcome(False, arr, 0.0, 0.0, 0.0)
    cut = min(arr, cut_arr) if contracts and cut_arr > 0 else 0.0
    left = arr - cut
    up = left * uplift_frac if uplift_frac > 0 else 0.0
    return RenewalOutcome(True, 0.0, cut, up, left + up)


# --------------------------------------------------------------------------- receivables


def outstanding_at_start(elapsed_days: float, lag_days: float) -> float | None:
    """An invoice issued ``elapsed_days`` before day 0 with collection lag ``lag_days``: the
    day (≥ 0) it is collected if still unpaid at day 0, else None."""
    if lag_days > elapsed_days:
        return lag_days - elapsed_days
    return None


def monthly_invoice_ages(lookback_months: int = RECEIVABLES_LOOKBACK_MONTHS) -> list[float]:
    """Days before day 0 of the past monthly invoices (billed mid-month, as in the engine)."""
    return [(k + 0.5) * MONTH_DAYS for k in range(lookback_months)]


def expected_opening_receivables(annual_arr_by_elapsed: list[tuple[float, float]],
                                 monthly_billed_arr: float, lag_sf) -> float:
    """E[receivables at day 0]: each annual invoice (amount, days since issued) times
    P(lag > elapsed), plus the monthly invoices ARR/12 at ages (k + ½) months times
    P(lag > age). ``lag_sf(x)`` is the survival function of the collection lag."""
    annual = sum(a * float(lag_sf(e)) for a, e in annual_arr_by_elapsed)
    monthly = monthly_billed_arr / 12 * sum(float(lag_sf(e)) for e in monthly_invoice_ages())
    return annual + monthly


# --------------------------------------------------------------------------- scenario view

CURVE_MONTHS = (6, 12, 24, 36, 60)
"""Months since acquisition at which the report shows the implied retention curve."""


def multi_year_retention(retention_12m_frac: float, term_months: int,
                         multi_year_churn_factor: float) -> float:
    """Yearly logo retention of a T-month term: ``1 - (1 - r) f^(T/12 - 1)`` for T > 12 (a
    multi-year contract churns less each year, S9), ``r`` for T <= 12."""
    if term_months <= 12:
        return retention_12m_frac
    return 1.0 - (1.0 - retention_12m_frac) * multi_year_churn_factor ** (term_months / 12 - 1)


def segment_laws(segment) -> SegmentRetention:
    """The churn laws of a scenario segment's contract options and their preferred shares
    (the installed base's mix; a multi-year term's yearly retention from
    ``multi_year_retention``)."""
    laws = tuple(
        churn_law(segment.monthly_logo_retention_12m_frac if o.term_months == 1
                  else multi_year_retention(segment.logo_retention_12m_frac, o.term_months,
                                            segment.multi_year_churn_factor),
                  segment.churn_concentration, o.term_months)
        for o in segment.contracts)
    return SegmentRetention(laws, tuple(o.share_frac for o in segment.contracts))


def implied_retention(scenario, months=CURVE_MONTHS,
                      cap_months: float = LIFETIME_CAP_MONTHS) -> dict[str, dict[str, float]]:
    """Per segment: the share of a new cohort still customers after each of ``months``
    (``retained_<t>m_frac``; mixed over the segment's contract options by new-deal share, at
    neutral health) and its expected lifetime truncated at ``cap_months``
    (``expected_lifetime_months``)."""
    out = {}
    for name, seg in scenario.segments.items():
        mix = segment_laws(seg)
        row = {f"retained_{t}m_frac": float(s) for t, s in zip(
            months, mix.survival_months(np.asarray(months, dtype=float)), strict=True)}
        row["expected_lifetime_months"] = mix.expected_lifetime_months(cap_months)
        out[name] = row
    return out
