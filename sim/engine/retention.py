"""Retention: health, customer-success coverage, churn propensity, the renewal decision,
repricing at renewal, and the monthly contracts' geometric renewal blocks.

The rules are plain functions (``health``, ``coverage_factor``, ``step_churn_probability``,
``over_wtp_churn_probability``, ``price_churn_probability``, ``renewal_churn_probability``,
``renewals_before_churn``); ``Retention`` reads an account, calls them and draws from the
account's own stream.

Renewal pricing meets resistance: a renewal's price step adds a hazard that rises smoothly
with the step (S7: an unplanned rise costs +12-15 points of churn, a planned escalator under
3), and a new price above the account's willingness to pay plus its switching cost (a share
of its price per segment) makes it leave, almost surely when far above. Both act as hazards
independent of the account's own churn propensity. Churn itself is booked by the customer
base (``Customers.churn``) when ``renew`` says no.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from sim.engine.bookings import book_arr_change
from sim.engine.context import Context
from sim.engine.entities import Account
from sim.engine.plan import effective_headcount
from sim.engine.pricing import GRANDFATHER, installed_price_step
from sim.engine.retention_math import renewal_outcome, segment_laws
from sim.units import MONTH_DAYS, YEAR_DAYS, ArrChange, Channel

if TYPE_CHECKING:  # pragma: no cover
    from sim.engine.billing import Billing
    from sim.engine.stakeholders import StakeholderModel
    from sim.scenario.model import Segment

MONTHLY_RENEWAL_BLOCK_MONTHS = 3  # monthly renewals drawn at once (one geometric draw)
CERTAIN_SURVIVAL_Q = 1e-12  # below this monthly churn probability the block is renewed outright
TIME_TOLERANCE_DAYS = 1e-6  # events this close count as simultaneous
ARR_EXPANSION, ARR_CONTRACTION, _ = ArrChange  # bound once: Enum attribute reads are slow
INSTALLED_BASE = Channel.INSTALLED_BASE


# -- rules ----------------------------------------------------------------------------------

def health(ttv_days: float, onboarding_target_days: float, max_late_factor: float,
           late_churn_uplift_frac: float, cs_factor: float,
           stakeholder_factor: float | None = None) -> float:
    """Churn multiplier of an account: > 1 unhealthy, < 1 healthy. Late onboarding raises it
    (capped), customer-success coverage scales it, stakeholders (if modelled) too."""
    over = max(0.0, ttv_days / onboarding_target_days - 1.0)
    late = min(max_late_factor, 1.0 + late_churn_uplift_frac * over)
    h = late * cs_factor
    if stakeholder_factor is not None:
        h *= stakeholder_factor
    return h


def coverage_factor(required_csms: float, effective_csms: float, elasticity: float,
                    min_factor: float, max_factor: float) -> float:
    """Churn multiplier from customer-success coverage: (required / available) ** elasticity,
    clamped. 0 ** 0 == 1: an elasticity of 0 switches coverage off even with no customers."""
    ratio = required_csms / effective_csms if effective_csms > 0 else math.inf
    return min(max_factor, max(min_factor, ratio ** elasticity))


def step_churn_probability(step_frac: float, at_reference_frac: float, reference_frac: float,
                           shape: float) -> float:
    """Extra churn probability from a renewal's price step: ``1 - (1 - q_ref)^((step /
    reference)^shape)``, 0 for no rise, exactly ``at_reference_frac`` at ``reference_frac``,
    smooth and rising with the step toward 1 (S7: +12-15 points for an unplanned rise)."""
    if step_frac <= 0 or at_reference_frac <= 0:
        return 0.0
    if at_reference_frac >= 1.0:
        return 1.0
    return -math.expm1((step_frac / reference_frac) ** shape * math.log1p(-at_reference_frac))


def over_wtp_churn_probability(new_price_usd: float, wtp_now_usd: float,
                               switching_cost_usd: float, scale_frac: float) -> float:
    """Churn probability of a renewal priced above what staying is worth to the account (its
    willingness to pay plus its switching cost): ``1 - exp(-(excess / scale)^2)`` with
    ``excess = new price / (wtp + switching cost) - 1``; 0 at or below it, near 1 far above."""
    reference = wtp_now_usd + switching_cost_usd
    if reference <= 0:
        return 1.0
    excess = new_price_usd / reference - 1.0
    if excess <= 0:
        return 0.0
    return -math.expm1(-(excess / scale_frac) ** 2)


def renewal_churn_probability(churn_propensity: float, health_factor: float,
                              price_churn: float | None = None,
                              renewal_factor: float | None = None) -> float:
    """Probability that an account does not renew: its propensity x health (at most 1), and
    the price's churn (step and over willingness to pay, if given) as an independent hazard,
    ``1 - (1 - q)(1 - price_churn)``; a stakeholder renewal factor (if given) scales the
    renewal odds."""
    q = min(1.0, churn_propensity * health_factor)
    if price_churn is not None:
        q = 1.0 - (1.0 - q) * (1.0 - price_churn)
    if renewal_factor is not None:  # champion gone with no backup: renewal odds x factor
        q = 1.0 - (1.0 - q) * renewal_factor
    return q


def price_churn_probability(price_usd: float, increase_frac: float, wtp_now_usd: float,
                            switching_cost_frac: float, pricing) -> float:
    """The renewal's price churn: the step hazard of ``increase_frac`` and the over-WTP
    hazard of the new price ``price_usd * (1 + increase_frac)`` against the willingness to pay
    plus a switching cost of ``switching_cost_frac`` of today's price, as independent
    hazards. ``pricing``: the scenario's ``Pricing``."""
    step = step_churn_probability(increase_frac, pricing.uplift_churn_at_reference_frac,
                                  pricing.uplift_churn_reference_frac,
                                  pricing.uplift_churn_shape)
    over = over_wtp_churn_probability(price_usd * (1 + increase_frac), wtp_now_usd,
                                      switching_cost_frac * price_usd,
                                      pricing.over_reference_churn_scale_frac)
    return 1.0 - (1.0 - step) * (1.0 - over)


def size_churn_factor(seats: float, mean_seats: float, elasticity: float) -> float:
    """Churn multiplier of an account's size within its segment: ``(seats / mean) ** -e``
    (S9: gross $ churn falls as ACV rises); 1 with no elasticity."""
    if elasticity <= 0 or mean_seats <= 0 or seats <= 0:
        return 1.0
    return (seats / mean_seats) ** -elasticity


def renewals_before_churn(u: float, q: float, block: int) -> int:
    """Month (1-based) of the first churn of a monthly contract with churn probability q a
    month, from one uniform draw u by the geometric inverse CDF; ``block + 1`` (or more)
    means it renews for the whole block. Same distribution as one Bernoulli(q) a month."""
    if q >= 1.0:
        return 1
    if q < CERTAIN_SURVIVAL_Q:
        return block + 1
    return int(math.log1p(-u) / math.log1p(-q)) + 1


# -- the part -------------------------------------------------------------------------------

class Retention:
    """Health and renewals of the installed base."""

    def __init__(self, ctx: Context, billing: Billing, stakeholders: StakeholderModel | None):
        self.ctx, self.billing, self.stakeholders = ctx, billing, stakeholders
        self.cs_factor = 1.0
        self.list_gap: dict[int, float] = {}  # installed accounts: new list / their list
        # each segment's churn law per contract option, from its 12-month logo retention
        # and heterogeneity (sim.engine.retention_math)
        self.laws = [segment_laws(seg) for seg in ctx.segments]
        self.mean_seats = [seg.seats.mean() for seg in ctx.segments]

    def update_coverage(self, month: int, customers_by_seg: list[int]) -> None:
        """Start of a month: required CSMs for today's customers against the team."""
        s = self.ctx.scenario
        required = sum(customers_by_seg[k] / seg.accounts_per_csm_target
                       for k, seg in enumerate(self.ctx.segments))
        cs = s.customer_success
        self.cs_factor = coverage_factor(required, effective_headcount(s.headcount.csm, month),
                                         cs.coverage_churn_elasticity, cs.min_factor,
                                         cs.max_factor)

    def propensity(self, seg_i: int, option_i: int, rng: random.Random,
                   renewals_survived: int = 0, seats: float | None = None) -> float:
        """An account's churn probability per renewal: Beta(a, b + renewals survived) of its
        contract option's law (the posterior of a survivor; the prior for a new account),
        scaled by its size factor (``size_churn_factor``) when the segment has one."""
        theta = self.laws[seg_i].laws[option_i].sample(rng, renewals_survived)
        e = self.ctx.segments[seg_i].churn_seats_elasticity
        if e > 0 and seats is not None:
            theta = min(1.0, theta * size_churn_factor(seats, self.mean_seats[seg_i], e))
        return theta

    def health(self, a: Account, t: float) -> float:
        s = self.ctx.scenario
        ttv = a.ttv_days if a.ttv_days is not None else t - a.start_t
        stake = self.stakeholders.churn_factor(a, t) if a.stake is not None else None
        return health(ttv, self.ctx.segments[a.seg].onboarding_target_days,
                      s.onboarding.max_late_factor, s.onboarding.late_churn_uplift_frac,
                      self.cs_factor, stake)

    def _price_churn(self, a: Account, t: float, seg: Segment, uplift: float) -> float:
        years = (t - a.start_t) / YEAR_DAYS
        wtp_now = a.wtp * (1 + seg.wtp_growth_per_year_frac) ** years
        return price_churn_probability(a.price, uplift, wtp_now, seg.switching_cost_frac,
                                       self.ctx.scenario.pricing)

    def price_increase(self, a: Account) -> float:
        """This renewal's price increase: the escalator, and for an installed account whose
        list price changed, the segment's policy (grandfather, or a capped step toward the
        new list; ``sim.engine.pricing.installed_price_step``)."""
        uplift = self.ctx.scenario.pricing.annual_uplift_frac
        price = self.ctx.prices[a.seg]
        if a.ch != INSTALLED_BASE or price.installed_price_policy == GRANDFATHER:
            return uplift
        gap = self.list_gap.get(a.id)
        if gap is None:
            gap = price.list_price_usd / (price.installed_list_price_usd or price.list_price_usd)
        step = installed_price_step(gap, uplift, price.installed_price_policy,
                                    price.installed_price_step_cap_frac)
        self.list_gap[a.id] = step.gap_after
        return step.increase_frac

    def _renewal_factor(self, a: Account, t: float) -> float | None:
        return self.stakeholders.renewal_factor(a, t) if a.stake is not None else None

    def _reprice(self, a: Account, t: float, seg: Segment, health_factor: float,
                 uplift: float) -> None:
        """A renewing account at its renewal (or a monthly contract's anniversary), after the
        churn decision: contraction, then the uplift on what is left (``renewal_outcome``)."""
        contracts = a.rng.random() < min(1.0, seg.contraction_prob_frac * health_factor)
        # drawn either way: keeps the stream aligned
        cut = a.arr * seg.contraction_frac.sample(a.rng)
        out = renewal_outcome(a.arr, 0.0, 1.0, contracts, cut, uplift)
        if out.contraction_arr > 0:
            a.seats = max(1.0, a.seats * (1 - out.contraction_arr / a.arr))
            book_arr_change(self.ctx, a, t, -out.contraction_arr, ARR_CONTRACTION)
        if out.expansion_arr > 0:
            a.price *= 1 + uplift
            book_arr_change(self.ctx, a, t, out.expansion_arr, ARR_EXPANSION)
            self.ctx.ledger.flow(t, "repricing_arr", a.seg, a.ch, out.expansion_arr)
        a.last_uplift_t = t

    def renew(self, a: Account, t: float) -> bool:
        """Term end of a 12+ month contract: False (churns), or contraction/uplift and a
        new term."""
        seg = self.ctx.segments[a.seg]
        health_factor = self.health(a, t)
        uplift = self.price_increase(a)
        q = renewal_churn_probability(a.churn_propensity, health_factor,
                                      price_churn=self._price_churn(a, t, seg, uplift),
                                      renewal_factor=self._renewal_factor(a, t))
        renewed = a.rng.random() >= q
        if a.stake is not None:
            self.stakeholders.renewal(a, renewed)
        if not renewed:
            return False
        self._reprice(a, t, seg, health_factor, uplift)
        a.term_end = t + a.term_months * MONTH_DAYS
        if a.annual_billing:
            a.next_bill = t + YEAR_DAYS
            self.billing.invoice(a, t, a.arr)
        self.ctx.note(t, a.id, "renewal", a.seg, a.ch, a.arr)
        return True

    def renew_monthly(self, a: Account, t: float) -> bool:
        """Monthly contracts renew every month with churn probability q (a monthly hazard).

        The yearly price anniversary is a renewal of its own: churn is decided first, with the
        uplift's churn response and the over-WTP churn, at the old price; only a renewing
        account then contracts and takes the uplift. Between anniversaries, consecutive
        renewals are drawn as one geometric block (up to ``MONTHLY_RENEWAL_BLOCK_MONTHS``,
        never past the next anniversary) with no uplift response: the same distribution as
        one draw a month while q holds, at a fraction of the events. Health is re-read at each
        block. False: the account churns now.
        """
        if a.churn_at <= t + TIME_TOLERANCE_DAYS:
            return False
        seg = self.ctx.segments[a.seg]
        health_factor = self.health(a, t)
        if t - a.last_uplift_t >= YEAR_DAYS - TIME_TOLERANCE_DAYS:
            # the anniversary's price rise (escalator, or the installed step) is known
            # first; churn is decided on it at the old price, and only a renewing account is
            # repriced. Its churn response acts on this renewal only, not on the block after.
            uplift = self.price_increase(a)
            q = renewal_churn_probability(a.churn_propensity, health_factor,
                                          price_churn=self._price_churn(a, t, seg, uplift),
                                          renewal_factor=self._renewal_factor(a, t))
            if a.rng.random() < q:
                return False
            self._reprice(a, t, seg, health_factor, uplift)
            a.term_end = t + MONTH_DAYS
            return True
        q = renewal_churn_probability(a.churn_propensity, health_factor,
                                      renewal_factor=self._renewal_factor(a, t))
        to_anniversary = max(1, round((a.last_uplift_t + YEAR_DAYS - t) / MONTH_DAYS))
        block = min(MONTHLY_RENEWAL_BLOCK_MONTHS, to_anniversary)
        k = renewals_before_churn(a.rng.random(), q, block)
        if k == 1:
            return False
        if k <= block:
            a.churn_at = t + (k - 1) * MONTH_DAYS
            a.term_end = a.churn_at
        else:
            a.term_end = t + block * MONTH_DAYS
        return True
