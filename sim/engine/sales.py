"""Sales: the AE teams (staffing, attrition, ramp, capacity per team), the queue of each
team's opportunities, the sales cycle, and the win/price rule ``decide``.

An opportunity is a chain of SimPy events with callbacks rather than a generator process:
arrival (a Timeout), the AE request on the resource, a patience Timeout if it has to queue,
the sales-cycle Timeout, the release without an event. On the large benchmark this took
148,000 events to 99,800 (process start and end and the request|patience condition are
gone), with the same queueing semantics and tables.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import simpy

from sim.engine.context import Context
from sim.engine.entities import ElasticResource, Prospect
from sim.engine.plan import headcount
from sim.engine.pricing import conceded_discount, in_quarter_end, price_deal
from sim.units import MONTH_DAYS, YEAR_DAYS, Channel

if TYPE_CHECKING:  # pragma: no cover
    from sim.scenario.model import SalesTeam as SalesTeamPlan
    from sim.scenario.model import SegmentPrice

DISCOUNT_SEED_SALT = 0x5EED_D15C  # a deal's concession stream: its account seed ^ this
CAPACITY_TOLERANCE = 1e-9  # 2.9999999 deal slots from float ramps count as 3
ALREADY_HIRED_T = -1e9  # hire time of the starting team: fully ramped from day 0
PARTNER = Channel.PARTNER  # bound once: Enum attribute reads are slow


class Decision(NamedTuple):
    """The prospect's answer at the end of the sales cycle."""

    won: bool
    lost_on_price: bool  # would have bought, but the discount needed exceeds the cap
    discount_frac: float  # discount off the (term-discounted) list price: given if won,
    # needed if lost
    net_price_usd: float  # price per seat per year if won


def win_probability(base_win_prob: float, partner_lift_frac: float, ch: int) -> float:
    """Chance of beating the competition; partner-referred deals win more often."""
    if ch == PARTNER:
        return min(1.0, base_win_prob * (1 + partner_lift_frac))
    return base_win_prob


def decide(win_draw: float, wtp_usd: float, list_price_usd: float, win_prob: float,
           discount_cap_frac: float, conceded_frac: float = 0.0) -> Decision:
    """Win on competition (``win_draw < win_prob``) and on price: the deal gets the rep's
    concession or the discount the prospect needs, whichever is larger, at most
    ``discount_cap_frac``; a prospect needing more than the cap is lost on price
    (``sim.engine.pricing``)."""
    priced = price_deal(wtp_usd, list_price_usd, conceded_frac, discount_cap_frac)
    beats_competition = win_draw < win_prob
    if not beats_competition or not priced.won_on_price:
        return Decision(False, beats_competition, priced.needed_frac, math.nan)
    return Decision(True, False, priced.discount_frac, priced.net_price_usd)


def rep_concession(account_seed: int, t: float, price: SegmentPrice,
                   quarter_end_window_days: float) -> float:
    """The discount the rep concedes on this deal whatever the buyer needs: a draw from the
    segment's discount behaviour on the deal's own stream (so the same deal gets the same
    draw in every what-if), plus the quarter-end extra if it closes in the window."""
    dist = price.rep_discount_frac
    draw = dist.value if dist.dist == "fixed" else dist.sample(
        random.Random(account_seed ^ DISCOUNT_SEED_SALT))
    return conceded_discount(draw, in_quarter_end(t, quarter_end_window_days),
                             price.quarter_end_extra_discount_frac)


class AccountExecutive(NamedTuple):
    hired_t: float
    productivity: float  # once ramped: 1, or the failed-ramp fraction
    leaves_t: float


class SalesTeam:
    """One team's AEs and their queue: only the opportunities of the segments it covers wait
    for its AEs. Staffing draws come from the team's own ``ae_staffing/<team>`` stream, so
    a change to one team never shifts another team's hires, failures or departures."""

    def __init__(self, ctx: Context, index: int, name: str, team: SalesTeamPlan,
                 on_won: Callable[[Prospect, float, Decision], None],
                 on_won_before_start: Callable[[Prospect, float, Decision], None] | None = None):
        self.ctx = ctx
        self.index, self.name, self.team = index, name, team
        self.on_won = on_won
        self.on_won_before_start = on_won_before_start  # pipeline warm-up: nothing booked
        self.rng = ctx.streams.python(f"ae_staffing/{name}")
        self.aes = [AccountExecutive(ALREADY_HIRED_T, 1.0, self._leave_t(0.0))
                    for _ in range(headcount(team, 1))]
        slots = self.capacity_at(0.0)
        self.resource = ElasticResource(ctx.env, slots)
        ledger = ctx.ledger
        ledger.team_capacity[index].set(0.0, slots)
        ledger.team_productivity[index].set(0.0, self.productivity_at(0.0))

    # -- staffing ------------------------------------------------------------------------

    def _leave_t(self, t: float) -> float:
        """When an AE hired at t leaves (exponential attrition)."""
        p = self.team.attrition_per_year_frac
        if p <= 0:
            return math.inf
        if p >= 1:
            return t
        rate = -math.log(1 - p) / YEAR_DAYS
        return t + self.rng.expovariate(rate)

    def productivity_at(self, t: float) -> float:
        """Ramped AE equivalents: each AE's productivity times the ramped share."""
        ramp_days = self.team.ramp_months * MONTH_DAYS
        total = 0.0
        for ae in self.aes:
            if ramp_days > 0:
                total += ae.productivity * min(1.0, max(0.0, (t - ae.hired_t) / ramp_days))
            else:
                total += ae.productivity
        return total

    def capacity_at(self, t: float) -> int:
        """Deal slots: ramped productivity of the team x concurrent deals per AE."""
        return int(self.productivity_at(t) * self.team.concurrent_deals_per_ae
                   + CAPACITY_TOLERANCE)

    def restaff(self, t: float, month: int) -> None:
        """Start of a month: leavers go, the plan's headcount is hired, capacity follows."""
        team = self.team
        self.aes = [ae for ae in self.aes if ae.leaves_t > t]
        target = headcount(team, month)
        while len(self.aes) > target:
            self.aes.pop()  # planned reductions take the most recent hires
        while len(self.aes) < target:
            fails = self.rng.random() < team.fail_to_ramp_frac
            productivity = team.failed_ramp_productivity_frac if fails else 1.0
            self.aes.append(AccountExecutive(t, productivity, self._leave_t(t)))
        slots = self.capacity_at(t)
        ledger = self.ctx.ledger
        ledger.team_capacity[self.index].set(t, slots)
        ledger.team_productivity[self.index].set(t, self.productivity_at(t))
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
        ledger.wait(ledger.team_wait[self.index], start, start - arrived)
        ledger.ae_busy.add(start, 1)
        ledger.team_busy[self.index].add(start, 1)
        ctx.env.timeout(p.cycle_days, value=(p, req, start)).callbacks.append(self._close)

    def _close(self, event: simpy.Event) -> None:
        """The sales cycle ends: the AE is free again and the prospect decides."""
        p, req, start = event.value
        ctx = self.ctx
        ledger = ctx.ledger
        end = ctx.env.now
        self.resource.release_now(req)
        ledger.ae_busy.add(end, -1)
        ledger.team_busy[self.index].add(end, -1)
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
        conceded = rep_concession(p.account_seed, t, price, s.pricing.quarter_end_window_days)
        decision = decide(p.win_draw, p.wtp_usd, listed, win_prob, price.discount_cap_frac,
                          conceded)
        if t < 0:  # closed in the pipeline warm-up before day 0
            if decision.won and self.on_won_before_start is not None:
                self.on_won_before_start(p, t, decision)
            return
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



class SalesForce:
    """The sales teams: routes each opportunity to the team covering its segment."""

    def __init__(self, ctx: Context, on_won: Callable[[Prospect, float, Decision], None],
                 on_won_before_start: Callable[[Prospect, float, Decision], None] | None = None):
        self.ctx = ctx
        teams = ctx.scenario.sales.teams
        # every team gets both callbacks: a warm-up opportunity queues for the team of its
        # segment like any other, and a warm-up win is handed to on_won_before_start
        self.teams = [SalesTeam(ctx, j, name, team, on_won, on_won_before_start)
                      for j, (name, team) in enumerate(teams.items())]
        by_name = {name: j for j, name in enumerate(teams)}
        self.team_of_segment = [next(by_name[n] for n, t in teams.items() if seg in t.segments)
                                for seg in ctx.seg_names]
        ctx.ledger.ae_capacity.set(0.0, self.capacity)

    @property
    def capacity(self) -> int:
        """Deal slots of all teams."""
        return sum(team.resource.capacity for team in self.teams)

    def restaff(self, t: float, month: int) -> None:
        for team in self.teams:
            team.restaff(t, month)
        self.ctx.ledger.ae_capacity.set(t, self.capacity)

    def arrive(self, event: simpy.Event) -> None:
        """An opportunity queues for the team of its segment, never for another team's AEs."""
        self.teams[self.team_of_segment[event.value.seg]].arrive(event)
