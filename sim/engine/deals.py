"""A deal's rules, without SimPy: the win-and-price decision at the end of the sales cycle,
the draws of the deals of a batch of opportunities (drawn with them, in bulk, one stream per
draw: the i-th opportunity of a channel and segment gets the same draws in every what-if),
and the AE effort that commissions, quota and accelerators buy (``sim.engine.sales`` and
``sim.engine.demand`` call them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.engine.pricing import (
    MAX_ROUNDS,
    Terms,
    effort_index,
    marginal_commission,
    needed_discount,
    negotiate,
    response,
)
from sim.units import Channel

if TYPE_CHECKING:  # pragma: no cover
    from sim.scenario.model import Sales as SalesPlan
    from sim.scenario.model import SegmentPrice

# the deal draws' streams, under each channel and segment's prospects/ streams
# (beside ``sim.engine.demand.PROSPECT_DRAWS``)
DEAL_DRAWS = ("signal", "pull", "land", "slip", "walk", "concession")
PARTNER = Channel.PARTNER  # bound once: Enum attribute reads are slow


class Decision(NamedTuple):
    """The prospect's answer at the end of the sales cycle."""

    won: bool
    lost_on_price: bool  # beat the competition, but refused every offer or walked
    discount_frac: float  # discount off the (term-discounted) list price: given if won,
    # needed if lost
    net_price_usd: float  # price per seat per year if won
    quarter_end_frac: float = 0.0  # part of the discount that is the quarter-end extra
    needed_frac: float = 0.0  # discount the buyer needed (private)
    rounds: int = 0  # counter rounds of the negotiation
    extra_days: float = 0.0  # days the rounds and approvals added to the cycle
    slipped: bool = False  # pulled into the quarter end, then lost


def win_probability(base_win_prob: float, partner_lift_frac: float, ch: int) -> float:
    """Chance of beating the competition; partner-referred deals win more often."""
    if ch == PARTNER:
        return min(1.0, base_win_prob * (1 + partner_lift_frac))
    return base_win_prob


def decide(win_draw: float, wtp_usd: float, list_price_usd: float, win_prob: float,
           discount_cap_frac: float, conceded_frac: float = 0.0,
           signal_usd: float | None = None, terms: Terms = Terms(),
           walk_draws: tuple[float, ...] = (), quarter_end_frac: float = 0.0) -> Decision:
    """Win on competition (``win_draw < win_prob``), then on price: the rep opens at
    ``conceded_frac`` and negotiates from the buyer's signal (``signal_usd``; ``None`` = it
    knows the willingness to pay) under ``terms`` (``sim.engine.pricing.negotiate``). With
    the default terms the deal gets ``max(need, conceded)``, or is lost above the cap."""
    if not win_draw < win_prob:
        return Decision(False, False, needed_discount(wtp_usd, list_price_usd), math.nan)
    n = negotiate(wtp_usd, list_price_usd, wtp_usd if signal_usd is None else signal_usd,
                  conceded_frac, discount_cap_frac, terms, walk_draws)
    if not n.won:
        return Decision(False, True, n.needed_frac, math.nan, 0.0, n.needed_frac, n.rounds,
                        n.extra_days)
    qe = min(quarter_end_frac, n.discount_frac)
    return Decision(True, False, n.discount_frac, list_price_usd * (1 - n.discount_frac), qe,
                    n.needed_frac, n.rounds, n.extra_days)


class DealDraws(NamedTuple):
    """A deal's own draws, drawn with its opportunity (common random numbers: the i-th
    opportunity of a channel and segment gets the same draws in every what-if)."""

    signal_z: float  # standard normal noise of the rep's read of willingness to pay
    pull_u: float  # uniform: offered the quarter-end extra to close early
    land_u: float  # uniform: where in the quarter-end window a pulled deal closes
    slip_u: float  # uniform: a pulled deal slips
    walk_u: Sequence[float]  # uniform per counter round (MAX_ROUNDS): the buyer walks
    rep_draw_frac: float  # the rep's habitual concession


def draw_deals(streams: dict[str, np.random.Generator], price: SegmentPrice,
               n: int) -> list[DealDraws]:
    """The deal draws of ``n`` opportunities in bulk, each kind on its own stream (named in
    ``DEAL_DRAWS``), so that a changed concession distribution moves no other draw and
    the walk draws do not depend on the scenario's number of rounds."""
    z = streams["signal"].standard_normal(n).tolist()
    pull = streams["pull"].random(n).tolist()
    land = streams["land"].random(n).tolist()
    slip = streams["slip"].random(n).tolist()
    walks = streams["walk"].random((n, MAX_ROUNDS)).tolist()
    dist = price.rep_discount_frac
    concession = ([float(dist.value)] * n if dist.dist == "fixed"
                  else dist.sample_array(streams["concession"], n).tolist())
    return list(map(DealDraws, z, pull, land, slip, walks, concession))


class Effort(NamedTuple):
    """What the sales commission (with its accelerator above quota) does to AE effort,
    relative to the reference (S10)."""

    win_mult: float  # on win probabilities
    cycle_mult: float  # on sales cycles
    attrition_mult: float  # on the attrition hazard


def sales_effort(sales: SalesPlan, above_quota_frac: float = 0.0) -> Effort:
    """Effort multipliers of the scenario's expected marginal sales commission: the rate,
    times the accelerator with the chance ``above_quota_frac`` that an AE ends above quota
    (all exactly 1 at the reference; with no accelerator the rate alone counts)."""
    g = effort_index(marginal_commission(sales.commission_frac, sales.accelerator_multiplier,
                                         above_quota_frac),
                     sales.commission_reference_frac, sales.effort_curvature)
    win = max(0.0, response(g, sales.effort_win_prob_response_frac))
    cyc = response(g, sales.effort_cycle_response_frac)
    attr = max(0.0, 1.0 + sales.effort_attrition_response_frac * (1.0 - g))
    return Effort(win, 1.0 / cyc if cyc > 0 else math.inf, attr)


def _rescaled(leaves_t: float, t: float, old_mult: float, new_mult: float) -> float:
    """A departure time after ``t`` when the attrition hazard moves from ``old_mult`` to
    ``new_mult`` at ``t``: the remaining exponential time scales by old / new."""
    if new_mult <= 0 or math.isinf(leaves_t):
        return math.inf
    return t + (leaves_t - t) * old_mult / new_mult
