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
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import simpy

from sim.engine.context import Context
from sim.engine.deals import (  # noqa: F401  (the deal rules, re-exported)
    DealDraws,
    Decision,
    Effort,
    _rescaled,
    decide,
    draw_deals,
    sales_effort,
    win_probability,
)
from sim.engine.entities import ElasticResource, Prospect
from sim.engine.plan import headcount
from sim.engine.pricing import (
    NO_ATTAINMENT,
    QUARTER_DAYS,
    Attainment,
    Terms,
    accelerated_pull_prob,
    attainment_shares,
    conceded_discount,
    in_quarter_end,
    pull_forward,
)
from sim.units import MONTH_DAYS, YEAR_DAYS, Channel

if TYPE_CHECKING:  # pragma: no cover
    from sim.scenario.model import SalesTeam as SalesTeamPlan

CAPACITY_TOLERANCE = 1e-9  # 2.9999999 deal slots from float ramps count as 3
ALREADY_HIRED_T = -1e9  # hire time of the starting team: fully ramped from day 0
PARTNER = Channel.PARTNER  # bound once: Enum attribute reads are slow


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
        self.effort = sales_effort(ctx.scenario.sales)
        # quota and accelerator (only with an accelerator: a flat rate ignores attainment)
        self.accelerated = ctx.scenario.sales.accelerator_multiplier > 1.0
        self.attainment: Attainment = NO_ATTAINMENT
        self.closes: deque[tuple[float, float]] = deque()  # (close time, new ARR) won
        self.incentive_t = -math.inf  # month boundary of the last update
        pricing = ctx.scenario.pricing
        self.terms = [Terms(pr.concession_step_frac, pricing.max_counter_rounds,
                            pricing.walk_prob_per_round_frac, pr.counter_round_days,
                            pricing.approval_days_per_tier) for pr in ctx.prices]
        self.aes = [AccountExecutive(ALREADY_HIRED_T, 1.0, self._leave_t(0.0))
                    for _ in range(headcount(team, 1))]
        slots = self.capacity_at(0.0)
        self.resource = ElasticResource(ctx.env, slots)
        # prospecting: the team's segments, the deals a ramped AE's slots work a month on
        # each (a mean cycle under a day counts as a day), and the busy and capacity
        # slot-days since the last month's reading
        self.segments = [ctx.seg_names.index(n) for n in team.segments]
        self.deals_per_ae_month = {
            k: team.concurrent_deals_per_ae * MONTH_DAYS
            / max(1.0, ctx.segments[k].sales_cycle_days.mean() * self.effort.cycle_mult)
            for k in self.segments}
        self.busy = 0
        self._util_t = ctx.env.now
        self._busy_area = self._capacity_area = 0.0
        ledger = ctx.ledger
        ledger.team_capacity[index].set(0.0, slots)
        ledger.team_productivity[index].set(0.0, self.productivity_at(0.0))

    # -- quota and accelerator --------------------------------------------------------------

    def running_attainment(self, t: float) -> float:
        """The team's attainment over the running quarter before ``t``: new ARR won in the
        last ``QUARTER_DAYS`` (pipeline warm-up included) against the quota of its ramped AEs
        at ``t`` over that time (0 with no ramped AE)."""
        lo = t - QUARTER_DAYS
        while self.closes and self.closes[0][0] < lo:
            self.closes.popleft()
        won = sum(arr for ct, arr in self.closes if ct < t)
        quota = (self.productivity_at(t) * self.team.quota_new_arr_per_year_usd
                 * QUARTER_DAYS / YEAR_DAYS)
        return won / quota if quota > 0 else 0.0

    def update_incentives(self, t: float) -> None:
        """At the first event of a month (with an accelerator only): the AEs' attainment
        from the running quarter, the effort it buys, and the departures it moves (each AE's
        remaining time to leave rescaled by old / new attrition hazard, so the same draw
        gives a later departure when effort rises)."""
        boundary = math.floor(t / MONTH_DAYS) * MONTH_DAYS
        if not self.accelerated or boundary <= self.incentive_t:
            return
        self.incentive_t = boundary
        sales = self.ctx.scenario.sales
        self.attainment = attainment_shares(self.running_attainment(boundary),
                                            sales.attainment_dispersion)
        old, self.effort = self.effort.attrition_mult, sales_effort(
            sales, self.attainment.above_frac)
        new = self.effort.attrition_mult
        if new == old:
            return
        self.aes = [ae._replace(leaves_t=_rescaled(ae.leaves_t, boundary, old, new))
                    if ae.leaves_t > boundary else ae for ae in self.aes]

    # -- staffing ------------------------------------------------------------------------

    def _leave_t(self, t: float) -> float:
        """When an AE hired at t leaves (exponential attrition)."""
        p = self.team.attrition_per_year_frac
        mult = self.effort.attrition_mult  # commission below the reference: more leave
        if p <= 0 or mult <= 0:
            return math.inf
        if p >= 1:
            return t
        rate = -math.log(1 - p) / YEAR_DAYS * mult
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
        self.update_incentives(t)
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
        self._tick(t)
        self.resource.set_capacity(slots)

    # -- prospecting ---------------------------------------------------------------------

    def _tick(self, t: float) -> None:
        """Add the busy and capacity slot-days since the last change."""
        dt = t - self._util_t
        if dt > 0:
            self._busy_area += self.busy * dt
            self._capacity_area += self.resource.capacity * dt
            self._util_t = t

    def utilisation_since_last(self, t: float) -> float:
        """Busy share of the deal slots since the previous reading (at the first reading,
        the share busy now), then start a new reading."""
        self._tick(t)
        if self._capacity_area > 0:
            u = self._busy_area / self._capacity_area
        else:
            cap = self.resource.capacity
            u = self.busy / cap if cap > 0 else 0.0
        self._busy_area = self._capacity_area = 0.0
        return u

    def prospecting(self, t: float, in_market: list[float]) -> tuple[dict[int, float], float]:
        """The month's self-sourced interest by segment (expected opportunities before the
        contact pool and the in-market cap, ``sim.engine.demand.segment_demand``) and the
        share of ramped AE time spent prospecting.

        Time spent prospecting is ``min(p, 1 - u)`` of a ramped AE's time, with ``p`` the
        team's ``prospecting_time_frac`` and ``u`` its utilisation over the last month: full
        while the slots leave room, none when they are all busy. At full prospecting a
        ramped AE sources ``self_sourced_share_frac`` of the deals its slots work a month;
        the team's prospecting spreads over its segments by their in-market accounts."""
        team = self.team
        u = self.utilisation_since_last(t)
        p, share = team.prospecting_time_frac, team.self_sourced_share_frac
        if share <= 0 or p <= 0:
            return {}, 0.0
        full = min(1.0, max(0.0, (1.0 - u) / p))
        ramped = self.productivity_at(t)
        total = sum(in_market[k] for k in self.segments)
        if full <= 0 or ramped <= 0 or total <= 0:
            return {}, p * full
        return ({k: share * ramped * full * in_market[k] / total * self.deals_per_ae_month[k]
                 for k in self.segments}, p * full)

    # -- the queue -----------------------------------------------------------------------

    def arrive(self, event: simpy.Event) -> None:
        """An opportunity arrives: it takes a free AE now or queues for one with patience."""
        p = event.value
        env = self.ctx.env
        arrived = env.now
        self.ctx.note(arrived, -1, "opportunity", p.seg, p.ch, p.seats, f"created {p.arrival_t!r}")
        slot = self.resource.take_free_slot()
        if slot is not None:  # a free AE: no Request event to schedule and process
            self._work(p, slot, arrived)
            return
        req = self.resource.request()
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
        self._tick(start)
        self.busy += 1
        end, decision = self.plan_deal(p, start)
        ctx.env.timeout(end - start, value=(p, req, start, decision)).callbacks.append(
            self._close)

    def plan_deal(self, p: Prospect, start: float) -> tuple[float, Decision]:
        """The whole deal from its start, computed at once from its draws (one SimPy event):
        when it ends and how. The cycle (scaled by AE effort) may be pulled into the quarter
        end (then it may slip); the negotiation's rounds and approvals add days, except on a
        deal offered the quarter-end extra, whose rounds are compressed into the deadline."""
        ctx = self.ctx
        s = ctx.scenario
        pricing = s.pricing
        seg, price = ctx.segments[p.seg], ctx.prices[p.seg]
        listed = price.list_price_usd * (1 - seg.contracts[p.contract_index].term_discount_frac)
        draws = p.deal
        pull_prob = pricing.pull_forward_prob_frac
        if self.accelerated:
            self.update_incentives(start)
            pull_prob = accelerated_pull_prob(pull_prob, s.sales.accelerator_multiplier,
                                              self.attainment.above_frac,
                                              s.sales.accelerator_pull_forward_response)
        end = start + p.cycle_days * self.effort.cycle_mult
        extra = price.quarter_end_extra_discount_frac
        pulled = None
        if extra > 0:
            pulled = pull_forward(start, end, pricing.pull_forward_window_days,
                                  pricing.quarter_end_window_days, draws.pull_u, draws.land_u,
                                  pull_prob)
        if pulled is not None:
            end = pulled
            if draws.slip_u < pricing.pull_forward_slip_prob_frac:
                return end, Decision(False, False, math.nan, math.nan, slipped=True)
        qe = pulled is not None or in_quarter_end(end, pricing.quarter_end_window_days)
        win_prob = min(1.0, win_probability(seg.base_win_prob_frac,
                                            s.channels.partner.win_prob_lift_frac, p.ch)
                       * self.effort.win_mult)
        signal = p.wtp_usd * math.exp(price.wtp_signal_noise_frac * draws.signal_z)
        decision = decide(p.win_draw, p.wtp_usd, listed, win_prob, price.discount_cap_frac,
                          conceded_discount(draws.rep_draw_frac, qe, extra), signal,
                          self.terms[p.seg], draws.walk_u, extra if qe else 0.0)
        if not (qe and extra > 0):  # a quarter-end deal's rounds meet the deadline
            end += decision.extra_days
        return end, decision

    def _close(self, event: simpy.Event) -> None:
        """The sales cycle ends: the AE is free again and the prospect decides."""
        p, req, start, decision = event.value
        ctx = self.ctx
        ledger = ctx.ledger
        end = ctx.env.now
        self.resource.release_now(req)
        ledger.ae_busy.add(end, -1)
        ledger.team_busy[self.index].add(end, -1)
        self._tick(end)
        self.busy -= 1
        ledger.spread(start, end, "ae_busy_days", p.seg, p.ch)
        ledger.flow(end, "sales_cycle_days_sum", p.seg, p.ch, end - start)
        self._book(p, end, decision)

    def _book(self, p: Prospect, t: float, decision: Decision) -> None:
        ctx = self.ctx
        s, ledger = ctx.scenario, ctx.ledger
        seg, price = ctx.segments[p.seg], ctx.prices[p.seg]
        term_frac = seg.contracts[p.contract_index].term_discount_frac
        listed = price.list_price_usd * (1 - term_frac)
        if self.accelerated:
            self.update_incentives(t)
            if decision.won:
                self.closes.append((t, p.seats * decision.net_price_usd))
        if t < 0:  # closed in the pipeline warm-up before day 0
            if decision.won and self.on_won_before_start is not None:
                self.on_won_before_start(p, t, decision)
            return
        ledger.flow(t, "negotiation_rounds_sum", p.seg, p.ch, decision.rounds)
        if not decision.won:
            ledger.flow(t, "deals_lost", p.seg, p.ch, 1)
            if decision.lost_on_price:
                ledger.flow(t, "deals_lost_price", p.seg, p.ch, 1)
            if decision.slipped:
                ledger.flow(t, "deals_slipped", p.seg, p.ch, 1)
            why = ("slipped" if decision.slipped else
                   "price" if decision.lost_on_price else "competition")
            ctx.note(t, -1, "deal_lost", p.seg, p.ch, p.seats * listed,
                     f"{why}; created {p.arrival_t!r}")
            return
        net = decision.net_price_usd
        seats = p.seats
        ledger.flow(t, "deals_won", p.seg, p.ch, 1)
        ledger.flow(t, "list_arr_won", p.seg, p.ch, seats * price.list_price_usd)
        ledger.flow(t, "discount_usd", p.seg, p.ch, seats * (price.list_price_usd - net))
        ledger.flow(t, "term_discount_usd", p.seg, p.ch,
                    seats * price.list_price_usd * term_frac)
        ledger.flow(t, "rep_discount_usd", p.seg, p.ch,
                    seats * listed * (decision.discount_frac - decision.quarter_end_frac))
        ledger.flow(t, "quarter_end_discount_usd", p.seg, p.ch,
                    seats * listed * decision.quarter_end_frac)
        ledger.flow(t, "price_leak_usd", p.seg, p.ch,
                    seats * listed * max(0.0, decision.discount_frac - decision.needed_frac))
        rate = s.sales.commission_frac
        if self.accelerated:  # the share of new ARR closed above quota earns the accelerator
            rate *= 1.0 + (s.sales.accelerator_multiplier - 1.0) * self.attainment.excess_frac
        ledger.flow(t, "sales_commission", p.seg, p.ch, rate * (seats * net))
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

    def prospecting(self, t: float, in_market: list[float]) -> list[float]:
        """Each segment's self-sourced interest this month (``SalesTeam.prospecting``);
        books each team's prospecting time share for the month of t."""
        out = [0.0] * len(in_market)
        ledger = self.ctx.ledger
        for team in self.teams:
            by_seg, time_frac = team.prospecting(t, in_market)
            for k, v in by_seg.items():
                out[k] += v
            if 0 <= t < ledger.t_end:
                ledger.team_prospecting[team.index][int(t / MONTH_DAYS)] = time_frac
        return out

    def arrive(self, event: simpy.Event) -> None:
        """An opportunity queues for the team of its segment, never for another team's AEs."""
        self.teams[self.team_of_segment[event.value.seg]].arrive(event)
