"""Pricing rules: a deal's negotiation under private willingness to pay, its closed forms in
simple settings, the quarter-end pull-forward, the response of effort and referrals to
commissions, and the price step of an installed-base account at renewal.

Plain functions with no state, no SimPy and no draws of their own: each deal's draws come
with its opportunity (``sim.engine.deals.draw_deals``), so the same deal gets the same draws
in every what-if.

Negotiation (``negotiate``). A prospect needs ``needed = max(0, 1 - wtp / L)`` off the
(term-discounted) list ``L`` to buy; its willingness to pay ``wtp`` is private. The rep sees
only a signal ``wtp * exp(sigma * Z)`` and the buyer's answers. It opens at its habitual
concession ``d0`` (plus the quarter-end extra in the window), never above the ceiling
``min(cap, top approval tier)``. The buyer accepts any offer with ``L (1 - d) <= wtp``;
otherwise it counters, and walks with ``walk_prob`` per counter round. In each of at most
``max_rounds`` counter rounds the rep moves toward its estimate of the need from the signal
(and, having been refused at ``d``, learns the need is above ``d``) by at most ``step``,
never above the ceiling. Refused at the last round or at the ceiling: lost on price. Each
round adds ``round_days``; each approval tier (S6: rep <=10%, manager <=20%, RVP <=35%,
VP <=50%) crossed above the rep's own adds ``approval_days``; no discount above the top
tier is given at all, so even "no cap" has a ceiling. A won deal's ``leak`` is the discount
given beyond the need.

Closed forms (``sigma = 0``, so the rep's estimate is the need itself; competition
independent of price): with ``F_N(x) = P(need <= x) = S_W(L (1 - x))`` and
``b_k = min(ceiling, d0 + k step)`` (``b_0 = d0`` capped),

* ``P(win | d0) = p_base [F_N(b_0) + sum_{k=1..R} (1 - w)^k (F_N(b_k) - F_N(b_{k-1}))]``;
* ``E[discount | won, d0] = [b_0 F_N(b_0) + sum_k (1 - w)^k int_{b_{k-1}}^{b_k} x dF_N(x)]
  / P(price win | d0)``: a buyer needing less than the opening gets the opening, one reached
  in round k gets exactly its need.

With no walk and ``d0 + R step >= ceiling`` these are the full-information rule of earlier
versions (``win_probability_at_cap``, ``expected_discount_given_won``: the deal gets
``min(cap, max(need, d0))``), which the calibration's likelihood still uses.

Installed-base repricing. When a segment's list price differs from the list its installed
base signed at, each installed account carries a remaining ``gap`` factor
(``list / installed_list``). Under ``grandfather`` the gap is never charged; under
``step_to_list`` each renewal moves the price toward it by at most ``step_cap``, on top of
the contractual escalator (``annual_uplift_frac``). List-price cuts are not passed on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

QUARTER_DAYS = 365.25 / 4  # plan quarters: days [(q-1)*QUARTER_DAYS, q*QUARTER_DAYS)
GRANDFATHER = "grandfather"
STEP_TO_LIST = "step_to_list"
CAP_TOLERANCE = 1e-12  # a discount equal to the cap (up to rounding) is allowed
INTEGRATION_POINTS = 4001  # Simpson points of the closed-form integrals (odd)
APPROVAL_TIERS = (0.10, 0.20, 0.35, 0.50)  # S6: rep, manager, RVP, VP discount authority
MAX_ROUNDS = 10  # walk draws a deal takes whatever its scenario's rounds (common random numbers)


# -- discounting ---------------------------------------------------------------------------

def needed_discount(wtp_usd: float, listed_usd: float) -> float:
    """Discount off ``listed_usd`` the buyer needs to buy (0 if it values it above list)."""
    return max(0.0, 1.0 - wtp_usd / listed_usd) if listed_usd > 0 else 0.0


def in_quarter_end(t_days: float, window_days: float) -> bool:
    """True when ``t_days`` falls in the last ``window_days`` of its plan quarter."""
    if window_days <= 0:
        return False
    return t_days % QUARTER_DAYS >= QUARTER_DAYS - window_days


def conceded_discount(rep_draw_frac: float, quarter_end: bool,
                      quarter_end_extra_frac: float) -> float:
    """The rep's opening discount: the segment's draw, plus the quarter-end extra in the
    last days of a quarter, at most 100%."""
    return min(1.0, rep_draw_frac + (quarter_end_extra_frac if quarter_end else 0.0))


class Terms(NamedTuple):
    """How a negotiation runs (the defaults: one counter round with an unlimited step and no
    walk, i.e. a rep who knows the need concedes exactly it, within the cap)."""

    step_frac: float = 1.0  # largest move of the offer per counter round
    max_rounds: int = 1  # counter rounds after the opening offer
    walk_prob: float = 0.0  # chance the buyer walks at each counter round
    round_days: float = 0.0  # days each counter round adds to the cycle
    approval_days: float = 0.0  # days each approval tier above the rep's own adds
    tiers: tuple[float, ...] = APPROVAL_TIERS  # discount authority: rep, then each approver


class Negotiation(NamedTuple):
    """The price side of a deal."""

    won: bool  # the buyer accepted an offer
    needed_frac: float  # discount the buyer needed (private; for the books only)
    discount_frac: float  # discount given if won, last offered if lost
    rounds: int  # counter rounds used (0 = the opening offer settled it)
    extra_days: float  # counter rounds and approvals added to the cycle
    walked: bool  # lost because the buyer walked during the rounds


def ceiling_frac(cap_frac: float, tiers: Sequence[float] = APPROVAL_TIERS) -> float:
    """Largest discount ever given: the cap, and nothing above the top approval tier (S6)."""
    return min(cap_frac, tiers[-1]) if tiers else cap_frac


def approvals(discount_frac: float, tiers: Sequence[float] = APPROVAL_TIERS) -> int:
    """Approval tiers above the rep's own that a discount needs (0 within the rep's)."""
    return sum(1 for t in tiers[:-1] if discount_frac > t + CAP_TOLERANCE)


def next_offer(last_frac: float, estimate_frac: float, step_frac: float,
               ceiling: float) -> float:
    """The rep's offer after a refusal at ``last_frac``: toward its estimate of the need, or a
    full step when the estimate says the refused offer should have done (the refusal shows the
    need is above it), by at most ``step_frac``, never above the ceiling."""
    target = estimate_frac if estimate_frac > last_frac else last_frac + step_frac
    return min(ceiling, last_frac + step_frac, target)


def negotiate(wtp_usd: float, listed_usd: float, signal_usd: float, opening_frac: float,
              cap_frac: float, terms: Terms = Terms(),
              walk_draws: Sequence[float] = ()) -> Negotiation:
    """Offers and answers of one deal (see the module docstring). ``walk_draws[k]`` is the
    uniform draw of counter round k+1 (the buyer walks when it is below ``walk_prob``);
    missing draws never walk. The buyer's ``wtp_usd`` is read only to answer offers."""
    needed = needed_discount(wtp_usd, listed_usd)
    ceiling = ceiling_frac(cap_frac, terms.tiers)
    d = min(opening_frac, ceiling)
    top = d
    rounds = 0
    walked = False
    estimate = needed_discount(signal_usd, listed_usd)
    while needed > d + CAP_TOLERANCE:  # refused
        if rounds >= terms.max_rounds:
            break
        nxt = next_offer(d, estimate, terms.step_frac, ceiling)
        if nxt <= d + CAP_TOLERANCE:  # at the ceiling: nothing more to give
            break
        if rounds < len(walk_draws) and walk_draws[rounds] < terms.walk_prob:
            walked = True  # the buyer walks instead of hearing the next offer
            rounds += 1
            break
        rounds += 1
        d = nxt
        top = d
    won = needed <= d + CAP_TOLERANCE
    days = rounds * terms.round_days + approvals(top, terms.tiers) * terms.approval_days
    return Negotiation(won, needed, d, rounds, days, walked)


# -- the quarter-end pull-forward ----------------------------------------------------------

def quarter_end_before(t_days: float) -> float:
    """The plan-quarter boundary at or before ``t_days``."""
    return math.floor(t_days / QUARTER_DAYS) * QUARTER_DAYS


def pull_forward(start_t: float, end_t: float, pull_window_days: float,
                 land_window_days: float, pull_draw: float, land_draw: float,
                 pull_prob: float) -> float | None:
    """New close time of a deal offered the quarter-end extra to close by quarter end: one
    whose cycle would end within ``pull_window_days`` after a quarter boundary it started
    before, with probability ``pull_prob``; it then closes in the last ``land_window_days``
    of the quarter (never before it started). ``None``: not pulled."""
    if pull_window_days <= 0 or pull_prob <= 0 or pull_draw >= pull_prob:
        return None
    q_end = quarter_end_before(end_t)
    if q_end <= start_t or end_t - q_end >= pull_window_days:
        return None
    span = min(land_window_days, q_end - start_t)
    if span <= 0:
        return None
    return q_end - (1.0 - land_draw) * span


# -- incentives ----------------------------------------------------------------------------

def effort_index(commission_frac: float, reference_frac: float, curvature: float) -> float:
    """Concave, bounded effort response ``g(r) = (1 - e^{-k r}) / (1 - e^{-k})`` with
    ``r = commission / reference``: 0 at no commission, exactly 1 at the reference,
    diminishing returns above it, at most ``1 / (1 - e^{-k})``."""
    if reference_frac <= 0:
        return 1.0
    r = commission_frac / reference_frac
    if r == 1.0:
        return 1.0
    if curvature <= 0:
        return r
    return -math.expm1(-curvature * r) / -math.expm1(-curvature)


def response(index: float, strength_frac: float) -> float:
    """A multiplier ``1 + strength (g - 1)``: 1 at the reference, ``1 - strength`` at zero."""
    return 1.0 + strength_frac * (index - 1.0)


class Attainment(NamedTuple):
    """Quota attainment of a team's AEs, each lognormal around the team's mean."""

    above_frac: float  # P(an AE reaches quota): the chance a marginal dollar is accelerated
    excess_frac: float  # share of the team's new ARR closed above quota (paid the accelerator)


NO_ATTAINMENT = Attainment(0.0, 0.0)


def attainment_shares(mean_attainment: float, dispersion: float) -> Attainment:
    """AE attainment ``A`` lognormal with mean ``mean_attainment`` and log sd ``dispersion``:
    ``P(A >= 1) = Phi(d2)`` and ``E[(A - 1)+] / E[A] = Phi(d1) - Phi(d2) / mean`` with
    ``d2 = (ln mean - sigma^2 / 2) / sigma``, ``d1 = d2 + sigma`` (the lognormal call)."""
    if not mean_attainment > 0:  # no sales yet (or nan): nobody above quota
        return NO_ATTAINMENT
    if math.isinf(mean_attainment):
        return Attainment(1.0, 1.0)
    if dispersion <= 0:
        return Attainment(float(mean_attainment >= 1.0), max(0.0, 1.0 - 1.0 / mean_attainment))
    d2 = (math.log(mean_attainment) - dispersion ** 2 / 2) / dispersion
    phi = _normal_cdf
    return Attainment(phi(d2), max(0.0, phi(d2 + dispersion) - phi(d2) / mean_attainment))


def marginal_commission(commission_frac: float, accelerator: float, above_frac: float) -> float:
    """Expected commission on an AE's next dollar: the rate, times the accelerator with the
    chance the AE ends above quota. Exactly ``commission_frac`` with no accelerator."""
    return commission_frac * (1.0 + (accelerator - 1.0) * above_frac)


def accelerated_pull_prob(pull_prob: float, accelerator: float, above_frac: float,
                          strength: float) -> float:
    """Quarter-end pull-forward probability with an accelerator: ``p (1 + s (m - 1) P(A >=
    1))``, at most 1; exactly ``p`` with no accelerator."""
    return min(1.0, pull_prob * (1.0 + strength * (accelerator - 1.0) * above_frac))


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


# -- closed forms --------------------------------------------------------------------------

def _need_cdf(wtp_sf: Callable, listed_usd: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.asarray(wtp_sf(listed_usd * (1 - np.asarray(x, float))), float)


def _offer_bounds(opening_frac: float, cap_frac: float, terms: Terms) -> list[float]:
    ceiling = ceiling_frac(cap_frac, terms.tiers)
    b = [min(opening_frac, ceiling)]
    for k in range(1, terms.max_rounds + 1):
        b.append(min(ceiling, b[0] + k * terms.step_frac) if terms.step_frac > 0 else b[0])
    return b


def price_win_probability(opening_frac: float, cap_frac: float, listed_usd: float,
                          wtp_sf: Callable, terms: Terms = Terms()) -> float:
    """``P(won on price | d0)`` with an exact signal (sigma = 0), from the module docstring."""
    f = _need_cdf(wtp_sf, listed_usd)
    b = _offer_bounds(opening_frac, cap_frac, terms)
    p = float(f(b[0]))
    for k in range(1, len(b)):
        p += (1 - terms.walk_prob) ** k * float(f(b[k]) - f(b[k - 1]))
    return p


def price_expected_discount(opening_frac: float, cap_frac: float, listed_usd: float,
                            wtp_sf: Callable, terms: Terms = Terms()) -> float:
    """``E[discount | won on price, d0]`` with an exact signal (sigma = 0); nan if never won.
    ``int_a^b x dF = b F(b) - a F(a) - int_a^b F``."""
    f = _need_cdf(wtp_sf, listed_usd)
    b = _offer_bounds(opening_frac, cap_frac, terms)
    mass = float(f(b[0]))
    total = b[0] * mass
    for k in range(1, len(b)):
        lo, hi = b[k - 1], b[k]
        if hi <= lo:
            continue
        x = np.linspace(lo, hi, INTEGRATION_POINTS)
        weight = (1 - terms.walk_prob) ** k
        total += weight * (hi * float(f(hi)) - lo * float(f(lo)) - _simpson(f(x), x))
        mass += weight * float(f(hi) - f(lo))
    return total / mass if mass > 0 else math.nan


def expected_rounds(opening_frac: float, cap_frac: float, listed_usd: float,
                    wtp_sf: Callable, terms: Terms = Terms()) -> float:
    """``E[counter rounds | d0]`` with an exact signal: round k is reached when the need is
    above ``b_{k-1}`` (and the buyer stayed through k-1 rounds) and ``b_{k-1}`` is below the
    ceiling."""
    f = _need_cdf(wtp_sf, listed_usd)
    b = _offer_bounds(opening_frac, cap_frac, terms)
    e = 0.0
    for k in range(1, len(b)):
        if b[k] <= b[k - 1] + CAP_TOLERANCE:
            break
        e += (1 - terms.walk_prob) ** (k - 1) * (1.0 - float(f(b[k - 1])))
    return e


def average_over_openings(fn: Callable[[float], float], opening_ppf: Callable,
                          nodes: int = 2000) -> float:
    """``E[fn(D)]`` for the rep's opening draw ``D`` given by its quantile function (midpoint
    rule in probability)."""
    u = (np.arange(nodes) + 0.5) / nodes
    return float(np.mean([fn(float(d)) for d in np.asarray(opening_ppf(u), float)]))


def win_probability_at_cap(base_win_prob: float, wtp_sf: Callable[[float], float],
                           listed_usd: float, cap_frac: float) -> float:
    """Full-information limit: ``P(win) = p_base * P(wtp >= listed * (1 - cap))``."""
    return base_win_prob * float(wtp_sf(listed_usd * (1 - cap_frac)))


def expected_discount_given_need(needed_frac: float, cap_frac: float,
                                 conceded_cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Full-information limit: ``E[discount | needed, won] = needed + int_needed^cap
    (1 - F_D(x)) dx`` (nan if lost)."""
    if needed_frac > cap_frac + CAP_TOLERANCE:
        return math.nan
    x = np.linspace(needed_frac, cap_frac, INTEGRATION_POINTS)
    return needed_frac + _simpson(1.0 - np.asarray(conceded_cdf(x), float), x)


def expected_discount_given_won(cap_frac: float, listed_usd: float,
                                wtp_sf: Callable[[np.ndarray], np.ndarray],
                                conceded_cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Full-information limit: ``E[discount | won] = int_0^cap [1 - S_W(L(1-x)) /
    S_W(L(1-cap)) F_D(x)] dx``, as ``min(c, max(n, D)) = int_0^c 1[max(n, D) > x] dx``."""
    s_cap = float(wtp_sf(listed_usd * (1 - cap_frac)))
    if s_cap <= 0:
        return math.nan
    x = np.linspace(0.0, cap_frac, INTEGRATION_POINTS)
    inner = 1.0 - np.asarray(wtp_sf(listed_usd * (1 - x)), float) / s_cap * np.asarray(
        conceded_cdf(x), float)
    return _simpson(inner, x)


def expected_net_price_given_won(cap_frac: float, listed_usd: float,
                                 wtp_sf: Callable[[np.ndarray], np.ndarray],
                                 conceded_cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Full-information limit: ``E[net price | won] = listed * (1 - E[discount | won])``."""
    return listed_usd * (1 - expected_discount_given_won(cap_frac, listed_usd, wtp_sf,
                                                         conceded_cdf))


def _simpson(y: np.ndarray, x: np.ndarray) -> float:
    if len(x) < 3 or x[-1] == x[0]:
        return 0.0
    h = (x[-1] - x[0]) / (len(x) - 1)
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


# -- installed-base price step ---------------------------------------------------------------

class PriceStep(NamedTuple):
    """A renewal's price change for one account."""

    increase_frac: float  # total price increase this renewal (escalator and move to list)
    move_frac: float  # the part that moves the account toward the new list (<= step cap)
    gap_after: float  # remaining factor between its price and the new list (1 = at list)


def installed_price_step(gap: float, uplift_frac: float, policy: str,
                         step_cap_frac: float) -> PriceStep:
    """The price step at a renewal: the escalator ``uplift_frac``, and under
    ``step_to_list`` a move of at most ``step_cap_frac`` toward the new list price (``gap``
    is new list / the list the account pays against; above 1 the account is below list).
    ``grandfather`` keeps the account on its own price path; a list cut is not passed on."""
    if policy not in (GRANDFATHER, STEP_TO_LIST):
        raise ValueError(f"unknown installed price policy {policy!r}")
    if policy == GRANDFATHER or gap <= 1.0:
        return PriceStep(uplift_frac, 0.0, gap)
    move = min(step_cap_frac, gap - 1.0)
    return PriceStep((1 + uplift_frac) * (1 + move) - 1, move, gap / (1 + move))
