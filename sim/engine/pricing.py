"""Pricing rules: the discount on a won deal as reps give it, its closed forms as functions
of the discount cap, and the price step of an installed-base account at renewal.

Plain functions with no state, no SimPy and no draws of their own: the sales and retention
parts draw and call them.

Discounting. A prospect needs ``needed = max(0, 1 - wtp / list)`` off the (term-discounted)
list price to buy. The rep concedes ``conceded`` (drawn from the segment's discount
behaviour, more in the last days of a quarter) even when the buyer would pay list. The deal
is lost on price when ``needed > cap``; otherwise the discount is
``min(cap, max(needed, conceded))``. A tighter cap therefore both loses deals (those needing
more than the cap) and raises the net price of those won (concessions above the cap are cut).

Closed forms (``needed`` and ``conceded`` independent, competition independent of both):

* ``P(win | cap) = p_base * S_W(L (1 - cap))`` with ``S_W`` the survival function of the
  willingness to pay and ``L`` the list price;
* ``E[discount | won, cap] = ∫_0^cap [1 - S_W(L(1-x)) / S_W(L(1-cap)) * F_D(x)] dx`` with
  ``F_D`` the CDF of the conceded discount, because
  ``min(c, max(n, D)) = ∫_0^c 1[max(n, D) > x] dx``; ``E[net | won] = L (1 - E[discount])``.

Installed-base repricing. When a segment's list price differs from the list its installed
base signed at, each installed account carries a remaining ``gap`` factor
(``list / installed_list``). Under ``grandfather`` the gap is never charged; under
``step_to_list`` each renewal moves the price toward it by at most ``step_cap``, on top of
the contractual escalator (``annual_uplift_frac``). List-price cuts are not passed on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

QUARTER_DAYS = 365.25 / 4  # plan quarters: days [(q-1)*QUARTER_DAYS, q*QUARTER_DAYS)
GRANDFATHER = "grandfather"
STEP_TO_LIST = "step_to_list"
CAP_TOLERANCE = 1e-12  # a discount equal to the cap (up to rounding) is allowed
INTEGRATION_POINTS = 4001  # Simpson points of the closed-form integrals (odd)


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
    """The discount the rep offers whatever the buyer needs: the segment's draw, plus the
    quarter-end extra in the last days of a quarter, at most 100%."""
    return min(1.0, rep_draw_frac + (quarter_end_extra_frac if quarter_end else 0.0))


def negotiated_discount(needed_frac: float, conceded_frac: float,
                        cap_frac: float) -> float | None:
    """The discount a won deal gets: ``min(cap, max(needed, conceded))``; ``None`` when the
    buyer needs more than the cap (the deal is lost on price)."""
    if needed_frac > cap_frac + CAP_TOLERANCE:
        return None
    return min(cap_frac, max(needed_frac, conceded_frac))


class PriceDecision(NamedTuple):
    """The price side of a deal at the end of its sales cycle."""

    won_on_price: bool  # the buyer's need fits under the cap
    needed_frac: float  # discount off the listed price the buyer needs
    discount_frac: float  # discount given (nan when lost on price)
    net_price_usd: float  # price per seat-year (nan when lost on price)


def price_deal(wtp_usd: float, listed_usd: float, conceded_frac: float,
               cap_frac: float) -> PriceDecision:
    """Need, then the negotiated discount and net price of one deal."""
    needed = needed_discount(wtp_usd, listed_usd)
    d = negotiated_discount(needed, conceded_frac, cap_frac)
    if d is None:
        return PriceDecision(False, needed, math.nan, math.nan)
    return PriceDecision(True, needed, d, listed_usd * (1 - d))


# -- closed forms --------------------------------------------------------------------------

def win_probability_at_cap(base_win_prob: float, wtp_sf: Callable[[float], float],
                           listed_usd: float, cap_frac: float) -> float:
    """``P(win) = p_base * P(wtp >= listed * (1 - cap))``."""
    return base_win_prob * float(wtp_sf(listed_usd * (1 - cap_frac)))


def expected_discount_given_need(needed_frac: float, cap_frac: float,
                                 conceded_cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """``E[discount | needed, won] = needed + ∫_needed^cap (1 - F_D(x)) dx`` (nan if lost)."""
    if needed_frac > cap_frac + CAP_TOLERANCE:
        return math.nan
    x = np.linspace(needed_frac, cap_frac, INTEGRATION_POINTS)
    return needed_frac + _simpson(1.0 - np.asarray(conceded_cdf(x), float), x)


def expected_discount_given_won(cap_frac: float, listed_usd: float,
                                wtp_sf: Callable[[np.ndarray], np.ndarray],
                                conceded_cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """``E[discount | won] = ∫_0^cap [1 - S_W(L(1-x)) / S_W(L(1-cap)) F_D(x)] dx``."""
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
    """``E[net price | won] = listed * (1 - E[discount | won])``."""
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
