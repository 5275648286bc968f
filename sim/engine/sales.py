"""Sales: the AE team (staffing, attrition, ramp, capacity), the queue of opportunities for
an AE, the sales cycle, and the win/price rule ``decide``.

An opportunity is a chain of SimPy events with callbacks rather than a generator process:
arrival (a Timeout), the AE request on the resource, a patience Timeout if it has to queue,
the sales-cycle Timeout, the release without an event. On the large benchmark this took
148,000 events to 99,800 (process start and end and the request|patience condition are
gone), with the same queueing semantics and tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import simpy

from sim.engine.context import Context
from sim.engine.entities import ElasticResource, Prospect
from sim.engine.plan import headcount
from sim.units import MONTH_DAYS, YEAR_DAYS, Channel

DISCOUNT_TOLERANCE = 1e-12  # a discount equal to the cap (up to rounding) is allowed
CAPACITY_TOLERANCE = 1e-9  # 2.9999999 deal slots from float ramps count as 3
ALREADY_HIRED_T = -1e9  # hire time of the starting team: fully ramped from day 0
PARTNER = Channel.PARTNER  # bound once: Enum attribute reads are slow


class Decision(NamedTuple):
    """The prospect's answer at the end of the sales cycle."""

    won: bool
    lost_on_price: bool  # would have bought, but the discount needed exceeds the cap
    discount_frac: float  # discount off the (term-discounted) list price it needs
    net_price_usd: float  # price per seat per year if won


def win_probability(base_win_prob: float, partner_lift_frac: float, ch: int) -> float:
    """Chance of beating the competition; partner-referred deals win more often."""
    if ch == PARTNER:
        return min(1.0, base_win_prob * (1 + partner_lift_frac))
    return base_win_prob


def decide(win_draw: float, wtp_usd: float, list_price_usd: float, win_prob: float,
           discount_cap_frac: float) -> Decision:
    """Win on competition (``win_draw < win_prob``) and on price: the AE discounts down to
    the prospect's willingness to pay, at most ``discount_cap_frac``."""
    needed = max(0.0, 1.0 - wtp_usd / list_price_usd) if list_price_usd > 0 else 0.0
    beats_competition = win_draw < win_prob
    if not beats_competition or needed > discount_cap_frac + DISCOUNT_TOLERANCE:
        return Decision(False, beats_competition, needed, math.nan)
    return Decision(True, False, needed, list_price_usd * (1 - needed))


class AccountExecutive(NamedTuple):
    hired_t: float
    productivity: float  # once ramped: 1, or the failed-ramp fraction
    leaves_t: float


class SalesTeam:
    """The AEs and their queue. Staffing draws come from the ``ae_staffing`` stream."""

    def __init__(self, ctx: Context, on_won: Callable[[Prospect, float, Decision], None]):
        self.ctx = ctx
        self.on_won = on_won
        self.rng = ctx.streams.python("ae_staffing")
        self.aes = [AccountExecutive(ALREADY_HIRED_T, 1.0, self._leave_t(0.0))
                    for _ in range(headcount(ctx.scenario.headcount.ae, 1))]
        slots = self.capacity_at(0.0)
        self.resource = ElasticResource(ctx.env, slots)
        ctx.ledger.ae_capacity.set(0.0, slots)

    # -- staffing ------------------------------------------------------------------------

    def _leave_t(self, t: float) -> float:
        """When an AE hired at t leaves (exponential attrition)."""
        p = self.ctx.scenario.sales.ae_attrition_per_year_frac
        if p <= 0:
            return math.inf
        if p >= 1:
            return t
        rate = -math.log(1 - p) / YEAR_DAYS
        return t + self.rng.expovariate(rate)

    def capacity_at(self, t: float) -> int:
        """Deal slots: ramped productivity of the team x concurrent deals per AE."""
        s = self.ctx.scenario
        ramp_days = s.headcount.ae.ramp_months * MONTH_DAYS
        total = 0.0
        for ae in self.aes:
            if ramp_days > 0:
                total += ae.productivity * min(1.0, max(0.0, (t - ae.hired_t) / ramp_days))
            else:
                total += ae.productivity
        return int(total * s.sales.concurrent_deals_per_ae + CAPACITY_TOLERANCE)

    def restaff(self, t: float, month: int) -> None:
        """Start of a month: leavers go, the plan's headcount is hired, capacity follows."""
        s = self.ctx.scenario
        self.aes = [ae for ae in self.aes if ae.leaves_t > t]
        target = headcount(s.headcount.ae, month)
        while len(self.aes) > target:
            self.aes.pop()  # planned reductions take the most recent hires
        while len(self.aes) < target:
            fails = self.rng.random() < s.sales.ae_fail_to_ramp_frac
            productivity = s.sales.failed_ramp_productivity_frac if fails else 1.0
            self.aes.append(AccountExecutive(t, productivity, self._leave_t(t)))
        slots = self.capacity_at(t)
        self.ctx.ledger.ae_capacity.set(t, slots)
        self.resource.set_capacity(slots)

    # -- the queue -----------------------------------------------------------------------

    def arrive(self, event: simpy.Event) -> None:
        """An opportunity arrives: it takes a free AE now or queues for one with patience."""
        p = event.value
        env = self.ctx.env
        req = self.resource.request()
        arrived = env.now
        self.ctx.note(arrived, -1, "opportunity", p.seg, p.ch, p.seats, f"created {p.arrival_t!r}")
        if req.triggered:
            self._work(p, req, arrived)
            return
        req.callbacks.append(lambda granted: self._work(p, granted, arrived))
        env.timeout(p.patience_days, value=(req, p)).callbacks.append(self._give_up)

    def _give_up(self, event: simpy.Event) -> None:
        """Patience ran out: a request still waiting is withdrawn and the lead goes cold."""
        req, p = event.value
        if req.triggered:
            return
        req.cancel()
        now = self.ctx.env.now
        self.ctx.ledger.flow(now, "leads_lost_waiting", p.seg, p.ch, 1)
        self.ctx.note(now, -1, "lost_waiting", p.seg, p.ch, 0.0, f"created {p.arrival_t!r}")

    def _work(self, p: Prospect, req, arrived: float) -> None:
        ctx = self.ctx
        ledger = ctx.ledger
        start = ctx.env.now
        ledger.wait(ledger.ae_wait, start, start - arrived)
        ledger.ae_busy.add(start, 1)
        ctx.env.timeout(p.cycle_days, value=(p, req, start)).callbacks.append(self._close)

    def _close(self, event: simpy.Event) -> None:
        """The sales cycle ends: the AE is free again and the prospect decides."""
        p, req, start = event.value
        ctx = self.ctx
        ledger = ctx.ledger
        end = ctx.env.now
        self.resource.release_now(req)
        ledger.ae_busy.add(end, -1)
        ledger.spread(start, end, "ae_busy_days", p.seg, p.ch)
        ledger.flow(end, "sales_cycle_days_sum", p.seg, p.ch, end - start)
        self._book(p, end)

    def _book(self, p: Prospect, t: float) -> None:
        ctx = self.ctx
        s, ledger = ctx.scenario, ctx.ledger
        seg, price = ctx.segments[p.seg], ctx.prices[p.seg]
        option = seg.contracts[p.contract_index]
        listed = price.list_price_usd * (1 - option.term_discount_frac)
        win_prob = win_probability(seg.base_win_prob_frac, s.channels.partner.win_prob_lift_frac,
                                   p.ch)
        decision = decide(p.win_draw, p.wtp_usd, listed, win_prob, price.discount_cap_frac)
        if not decision.won:
            ledger.flow(t, "deals_lost", p.seg, p.ch, 1)
            if decision.lost_on_price:
                ledger.flow(t, "deals_lost_price", p.seg, p.ch, 1)
            ctx.note(t, -1, "deal_lost", p.seg, p.ch, p.seats * listed,
                     f"{'price' if decision.lost_on_price else 'competition'}; "
                     f"created {p.arrival_t!r}")
            return
        net = decision.net_price_usd
        ledger.flow(t, "deals_won", p.seg, p.ch, 1)
        ledger.flow(t, "list_arr_won", p.seg, p.ch, p.seats * price.list_price_usd)
        ledger.flow(t, "discount_usd", p.seg, p.ch, p.seats * (price.list_price_usd - net))
        ledger.flow(t, "sales_commission", p.seg, p.ch, s.sales.commission_frac * (p.seats * net))
        self.on_won(p, t, decision)

