"""The SimPy model of one replication: leads, opportunities, AEs, deals, onboarding,
renewals, expansion, churn, costs and cash.

Processes only emit events into the ledger; they compute no report. Leads that never become
opportunities are drawn in bulk (numpy) and only counted, so only opportunities and customers
are SimPy processes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.events import EventLog
from sim.ledger import CHANNELS, MONTH_DAYS, YEAR_DAYS, Ledger
from sim.retention_math import (
    geometric_renewals,
    monthly_invoice_ages,
    renewal_churn_prob,
    segment_laws,
)
from sim.scenario import Role, Scenario
from sim.streams import Streams

INBOUND, OUTBOUND, PARTNER, INSTALLED = 0, 1, 2, 3
PROSPECT_DRAWS = ("contract", "wtp", "seats", "win", "cycle", "patience", "onboarding",
                  "account")


class ElasticResource(simpy.Resource):
    """A Resource whose capacity follows the staffing plan. Shrinking never interrupts work
    in progress; it only stops new work from starting until users fall below capacity.

    Users are kept in a dict (O(1) release instead of a list scan of hundreds of deals), and
    ``release_now`` frees a slot without scheduling a Release event: the next request in the
    queue is granted at the same instant, as with ``release``.
    """

    def __init__(self, env: simpy.Environment, capacity: int = 1):
        super().__init__(env, capacity)
        self.users = {}

    def _do_put(self, event) -> None:
        if len(self.users) < self._capacity:
            self.users[event] = None
            event.usage_since = self._env.now
            event.succeed()

    def _do_get(self, event) -> None:
        self.users.pop(event.request, None)
        event.succeed()

    def release_now(self, request) -> None:
        self.users.pop(request, None)
        self._grant_waiting()

    def set_capacity(self, capacity: int) -> None:
        self._capacity = max(0, int(capacity))
        self._grant_waiting()

    def _grant_waiting(self) -> None:
        while self.put_queue and len(self.users) < self._capacity:
            before = len(self.put_queue)
            self._trigger_put(None)
            if len(self.put_queue) == before:
                break


class Account:
    """A customer. Plain attributes (``__slots__``) because there are thousands."""

    __slots__ = (
        "id", "seg", "ch", "cohort", "seats", "price", "arr", "wtp", "churn_p", "term_months",
        "annual_billing", "start_t", "term_end", "next_bill", "next_exp", "last_uplift_t",
        "ttv_days", "rng", "grow", "pw_end", "active", "stake", "churn_at",
    )


class Prospect:
    """An opportunity's draws, fixed at arrival from its channel-segment stream."""

    __slots__ = ("seg", "ch", "t", "wtp", "seats", "win_u", "cycle", "patience", "contract",
                 "onboarding", "account_seed")

    def __init__(self, seg, ch, t, wtp, seats, win_u, cycle, patience, contract, onboarding,
                 account_seed):
        self.seg, self.ch, self.t = seg, ch, t
        self.wtp, self.seats, self.win_u = wtp, seats, win_u
        self.cycle, self.patience, self.contract = cycle, patience, contract
        self.onboarding, self.account_seed = onboarding, account_seed


def step_plan(start: float, steps, month: int) -> float:
    """Value of a step plan (``PlanStep``) in a 1-based month."""
    value = start
    for s in sorted(steps, key=lambda s: s.month):
        if s.month <= month:
            value = s.value
    return value


def headcount(role: Role, month: int) -> int:
    """Planned headcount of a role in a 1-based month."""
    return max(0, role.count + sum(h.add for h in role.hiring_plan if h.month <= month))


def effective_headcount(role: Role, month: int) -> float:
    """Headcount less the unramped part of recent hires (linear ramp)."""
    n = float(headcount(role, month))
    if role.ramp_months > 0:
        for h in role.hiring_plan:
            if h.add > 0 and h.month <= month:
                n -= h.add * max(0.0, 1.0 - (month - h.month) / role.ramp_months)
    return max(0.0, n)


@dataclass
class Model:
    scenario: Scenario
    seed: int = 0
    replication: int = 0
    record_events: bool = False
    env: simpy.Environment = field(init=False)

    def __post_init__(self) -> None:
        s = self.scenario
        warm = (s.opening.pipeline_warm_up_months if s.opening.pipeline == "steady_state"
                else 0)
        # the warm-up of the pipeline runs before day 0 (negative times book nothing)
        self.env = simpy.Environment(initial_time=-warm * MONTH_DAYS)
        self.seg_names = list(s.segments)
        self.segs = [s.segments[n] for n in self.seg_names]
        self.prices = [s.pricing.segments[n] for n in self.seg_names]
        self.H = s.horizon_months
        self.ledger = Ledger(self.H, self.seg_names)
        self.log = EventLog() if self.record_events else None
        st = Streams(self.seed, self.replication)
        self.streams = st
        self.rng_arrivals = {
            (c, k): st.numpy(f"arrivals/{CHANNELS[c]}/{n}")
            for c in range(3) for k, n in enumerate(self.seg_names)
        }
        # each prospect attribute has its own stream per channel x segment: the i-th prospect
        # of a channel and segment gets the same draws whatever else changes
        self.rng_prospect = {
            (c, k): {attr: st.numpy(f"prospects/{CHANNELS[c]}/{n}/{attr}") for attr in PROSPECT_DRAWS}
            for c in range(3) for k, n in enumerate(self.seg_names)
        }
        # the pipeline warm-up before day 0 draws from streams of its own, so the plan's
        # opportunities get the same draws with or without it
        self.rng_arrivals_warm = {
            (c, k): st.numpy(f"warmup/arrivals/{CHANNELS[c]}/{n}")
            for c in range(3) for k, n in enumerate(self.seg_names)
        }
        self.rng_prospect_warm = {
            (c, k): {attr: st.numpy(f"warmup/prospects/{CHANNELS[c]}/{n}/{attr}")
                     for attr in PROSPECT_DRAWS}
            for c in range(3) for k, n in enumerate(self.seg_names)
        }
        self.rng_base = st.python("installed_base")
        self.rng_opening_ar = st.python("opening_receivables")
        # churn law of each segment's contract options (sim.retention_math)
        self.retention = [segment_laws(seg) for seg in self.segs]
        self.laws = [r.laws for r in self.retention]
        self.warm_up_months = warm
        self.rng_ae = st.python("ae_staffing")
        self.rng_finance = st.numpy("finance")
        self.rng_cash = st.python("collections")
        n_seg = len(self.segs)
        self.customers = [0] * n_seg
        self.cs_factor = 1.0
        self.next_id = 0
        ae_cap = self._ae_initial()
        self.ae = ElasticResource(self.env, capacity=max(1, ae_cap))
        self.ae.set_capacity(ae_cap)
        self.ledger.ae_capacity.value = ae_cap
        onb_cap = self._onb_capacity(1)
        self.onb = ElasticResource(self.env, capacity=max(1, onb_cap))
        self.onb.set_capacity(onb_cap)
        self.ledger.onb_capacity.value = onb_cap
        self.stakeholders = None
        if s.account_plan.enabled:
            from sim.accounts import StakeholderModel

            self.stakeholders = StakeholderModel(self, st)

    # ------------------------------------------------------------------ staffing

    def _ae_initial(self) -> int:
        role = self.scenario.headcount.ae
        self.aes: list[list[float]] = []  # [hire_t, final_productivity, leave_t]
        for _ in range(headcount(role, 1)):
            self.aes.append([-1e9, 1.0, self._ae_leave(0.0)])
        return self._ae_capacity(0.0)

    def _ae_leave(self, t: float) -> float:
        p = self.scenario.sales.ae_attrition_per_year_frac
        if p <= 0:
            return math.inf
        if p >= 1:
            return t
        rate = -math.log(1 - p) / YEAR_DAYS
        return t + self.rng_ae.expovariate(rate)

    def _ae_capacity(self, t: float) -> int:
        ramp_days = self.scenario.headcount.ae.ramp_months * MONTH_DAYS
        total = 0.0
        for hire_t, final, _ in self.aes:
            if ramp_days > 0:
                total += final * min(1.0, max(0.0, (t - hire_t) / ramp_days))
            else:
                total += final
        return int(total * self.scenario.sales.concurrent_deals_per_ae + 1e-9)

    def _onb_capacity(self, month: int) -> int:
        s = self.scenario
        eff = effective_headcount(s.headcount.onboarding, month)
        return int(eff * s.onboarding.concurrent_projects_per_specialist + 1e-9)

    def _restaff_aes(self, t: float, month: int) -> None:
        s = self.scenario
        self.aes = [a for a in self.aes if a[2] > t]
        target = headcount(s.headcount.ae, month)
        while len(self.aes) > target:
            self.aes.pop()  # planned reductions take the most recent hires
        while len(self.aes) < target:
            fails = self.rng_ae.random() < s.sales.ae_fail_to_ramp_frac
            final = s.sales.failed_ramp_productivity_frac if fails else 1.0
            self.aes.append([t, final, self._ae_leave(t)])
        cap = self._ae_capacity(t)
        self.ledger.ae_capacity.advance(t)
        self.ledger.ae_capacity.value = cap
        self.ae.set_capacity(cap)
        ocap = self._onb_capacity(month)
        self.ledger.onb_capacity.advance(t)
        self.ledger.onb_capacity.value = ocap
        self.onb.set_capacity(ocap)

    # ------------------------------------------------------------------ month planner

    def planner(self):
        """Each month: staffing, CS coverage, costs, and the month's leads in bulk. With a
        steady-state opening pipeline, month 1's lead flow first runs for the warm-up months
        before day 0 (see ``_month_leads``)."""
        s = self.scenario
        H = self.H
        costs = {k: np.zeros(H) for k in (
            "marketing_programs", "partner_program", "ae", "sdr", "csm", "onboarding",
            "management", "fixed_opex")}
        heads = {k: np.zeros(H) for k in ("ae", "sdr", "csm", "onboarding", "management",
                                          "partners", "cs_factor", "ae_capacity")}
        n_seg = len(self.segs)
        self.lead_w = np.zeros((H, n_seg, 3))
        self.ledger.monthly_costs = costs
        self.ledger.monthly_stats = heads
        self.ledger.by_seg_weights["leads"] = self.lead_w
        hc = s.headcount
        for w in range(self.warm_up_months):
            self._month_leads(1, -(self.warm_up_months - w) * MONTH_DAYS, warm=w + 1)
            yield self.env.timeout(MONTH_DAYS)
        self._book_opening_receivables()
        for m in range(1, H + 1):
            t = (m - 1) * MONTH_DAYS
            i = m - 1
            if m > 1:
                self._restaff_aes(t, m)
            # customer-success coverage: required CSMs against the team
            required = sum(self.customers[k] / seg.accounts_per_csm_target
                           for k, seg in enumerate(self.segs))
            csm = effective_headcount(hc.csm, m)
            cs = s.customer_success
            ratio = required / csm if csm > 0 else math.inf
            # 0 ** 0 == 1: an elasticity of 0 switches coverage off even with no customers
            self.cs_factor = min(cs.max_factor,
                                 max(cs.min_factor, ratio ** cs.coverage_churn_elasticity))
            budget = step_plan(s.channels.inbound.budget_per_month_usd,
                               s.channels.inbound.budget_plan, m)
            partners = step_plan(s.channels.partner.active_partners,
                                 s.channels.partner.partner_plan, m)
            for role in ("ae", "sdr", "csm", "onboarding", "management"):
                r = getattr(hc, role)
                heads[role][i] = headcount(r, m)
                costs[role][i] = heads[role][i] * r.loaded_cost_per_month_usd
            heads["partners"][i] = partners
            heads["cs_factor"][i] = self.cs_factor
            heads["ae_capacity"][i] = self.ae.capacity
            costs["marketing_programs"][i] = budget
            costs["partner_program"][i] = partners * s.channels.partner.program_cost_per_partner_per_month_usd
            costs["fixed_opex"][i] = s.costs.fixed_opex_per_month_usd * (
                1 + s.costs.fixed_opex_growth_per_year_frac) ** (i // 12)
            self._month_leads(m, t)
            if self.stakeholders is not None:
                self.stakeholders.monthly(t, m)
            yield self.env.timeout(MONTH_DAYS)

    def _month_leads(self, m: int, t: float, warm: int = 0) -> None:
        """Leads and opportunities of plan month ``m`` arriving in [t, t + month). ``warm`` > 0:
        the warm-up month of that number before day 0, with month ``m``'s inputs, its own
        streams and nothing booked (its opportunities only occupy AEs)."""
        s = self.scenario
        L = self.ledger
        hc = s.headcount
        budget = step_plan(s.channels.inbound.budget_per_month_usd,
                           s.channels.inbound.budget_plan, m)
        partners = step_plan(s.channels.partner.active_partners,
                             s.channels.partner.partner_plan, m)
        inbound = s.channels.inbound
        total = [
            inbound.leads_scale_k * budget ** inbound.response_exponent_b if budget > 0 else 0.0,
            effective_headcount(hc.sdr, m) * s.channels.outbound.leads_per_sdr_per_month,
            partners * s.channels.partner.referrals_per_partner_per_month,
        ]
        chans = (s.channels.inbound, s.channels.outbound, s.channels.partner)
        arrivals: list[Prospect] = []
        for c in range(3):
            for k, name in enumerate(self.seg_names):
                seg = self.segs[k]
                sat = max(0.0, 1.0 - self.customers[k] / seg.market_size_accounts)
                mean = total[c] * chans[c].segment_mix.get(name, 0.0) * sat
                # one stream per month, channel and segment: a changed mean in one cell
                # (saturation moves with the customer count) never shifts another cell
                if warm:
                    g = self.streams.numpy(f"warmup/leads/{CHANNELS[c]}/{name}/{warm}")
                else:
                    g = self.streams.numpy(f"leads/{CHANNELS[c]}/{name}/{m}")
                leads = int(g.poisson(mean))
                q = chans[c].qualify_prob_frac.get(name, 0.0)
                opps = int(g.binomial(leads, q)) if leads else 0
                if not warm:
                    self.lead_w[m - 1, k, c] = leads
                    L.flow(t, "leads", k, c, leads)
                    L.flow(t, "opportunities", k, c, opps)
                    if self.log is not None and leads:
                        self.log.add(t, -1, "leads", name, CHANNELS[c], float(leads),
                                     f"{opps} qualified")
                if opps:
                    rng = (self.rng_arrivals_warm if warm else self.rng_arrivals)[(c, k)]
                    times = np.sort(rng.uniform(t, t + MONTH_DAYS, opps))
                    arrivals.extend(self._draw_prospects(k, c, times, warm=bool(warm)))
        arrivals.sort(key=lambda p: p.t)
        now = self.env.now
        for p in arrivals:  # each opportunity arrives at its own time
            self.env.timeout(p.t - now, value=p).callbacks.append(self._arrive)

    def _draw_prospects(self, k: int, c: int, times: np.ndarray,
                        warm: bool = False) -> list[Prospect]:
        """Draw the attributes of a batch of opportunities in bulk, one stream each."""
        seg = self.segs[k]
        g = (self.rng_prospect_warm if warm else self.rng_prospect)[(c, k)]
        n = len(times)
        shares = np.cumsum([o.share_frac for o in seg.contracts])
        contract = np.minimum(np.searchsorted(shares, g["contract"].random(n), side="right"),
                              len(seg.contracts) - 1)
        wtp = seg.willingness_to_pay_usd.sample_array(g["wtp"], n)
        seats = np.maximum(1.0, np.round(seg.seats.sample_array(g["seats"], n)))
        win_u = g["win"].random(n)
        cycle = seg.sales_cycle_days.sample_array(g["cycle"], n)
        patience = seg.patience_days.sample_array(g["patience"], n)
        onboarding = seg.onboarding_days.sample_array(g["onboarding"], n)
        seeds = g["account"].integers(0, 2**63, n)
        return [Prospect(k, c, *row) for row in zip(
            times.tolist(), wtp.tolist(), seats.tolist(), win_u.tolist(), cycle.tolist(),
            patience.tolist(), contract.tolist(), onboarding.tolist(), seeds.tolist(),
            strict=True)]

    # ------------------------------------------------------------------ funnel
    #
    # An opportunity is a chain of SimPy events with callbacks rather than a generator
    # process: arrival (a Timeout), the AE request on the Resource, a patience Timeout if it
    # has to queue, the sales-cycle Timeout, the release without an event. On the large
    # benchmark this took 148,000 events to 99,800 (process start and end and the
    # request|patience condition are gone), with the same queueing semantics and tables.

    def _arrive(self, event: simpy.Event) -> None:
        """An opportunity arrives: it takes a free AE now or queues for one with patience."""
        p = event.value
        env = self.env
        req = self.ae.request()
        if req.triggered:
            self._work(p, req, env.now)
            return
        req.prospect, req.t0 = p, env.now
        req.callbacks.append(self._granted)
        env.timeout(p.patience, value=req).callbacks.append(self._give_up)

    def _granted(self, req) -> None:
        self._work(req.prospect, req, req.t0)

    def _give_up(self, event: simpy.Event) -> None:
        """Patience ran out: a request still waiting is withdrawn and the lead goes cold."""
        req = event.value
        if req.triggered:
            return
        req.cancel()
        p = req.prospect
        self.ledger.flow(self.env.now, "leads_lost_waiting", p.seg, p.ch, 1)
        if self.log is not None and self.env.now >= 0:
            self.log.add(self.env.now, -1, "lost_waiting", self.seg_names[p.seg],
                         CHANNELS[p.ch], 0.0, "")

    def _work(self, p: Prospect, req, t0: float) -> None:
        L = self.ledger
        start = self.env.now
        L.wait(L.ae_wait, start, start - t0)
        L.ae_busy.add(start, 1)
        self.env.timeout(p.cycle, value=(p, req, start)).callbacks.append(self._close)

    def _close(self, event: simpy.Event) -> None:
        """The sales cycle ends: the AE is free again and the prospect decides."""
        p, req, start = event.value
        L = self.ledger
        end = self.env.now
        self.ae.release_now(req)
        L.ae_busy.add(end, -1)
        L.spread(start, end, "ae_busy_days", p.seg, p.ch)
        L.flow(end, "sales_cycle_days_sum", p.seg, p.ch, end - start)
        self._decide(p, end)

    def _decide(self, p: Prospect, t: float) -> None:
        s = self.scenario
        L = self.ledger
        seg = self.segs[p.seg]
        price = self.prices[p.seg]
        opt = seg.contracts[p.contract]
        listed = price.list_price_usd * (1 - opt.term_discount_frac)
        base = seg.base_win_prob_frac
        if p.ch == PARTNER:
            base = min(1.0, base * (1 + s.channels.partner.win_prob_lift_frac))
        needed = max(0.0, 1.0 - p.wtp / listed) if listed > 0 else 0.0
        name, ch = self.seg_names[p.seg], CHANNELS[p.ch]
        if t < 0:  # closed during the warm-up: part of the installed base, books nothing
            if p.win_u < base and needed <= price.discount_cap_frac + 1e-12:
                # its onboarding still occupies a specialist, its first invoice may be open
                self.env.process(self._onboard(None, p.onboarding, p.seg, p.ch))
                if opt.billing == "annual":
                    self._opening_receivable(p.seg, INSTALLED, -t,
                                             p.seats * listed * (1 - needed))
            return
        if p.win_u >= base or needed > price.discount_cap_frac + 1e-12:
            L.flow(t, "deals_lost", p.seg, p.ch, 1)
            if p.win_u < base:
                L.flow(t, "deals_lost_price", p.seg, p.ch, 1)
            if self.log is not None:
                self.log.add(t, -1, "deal_lost", name, ch, 0.0,
                             "price" if p.win_u < base else "competition")
            return
        net = listed * (1 - needed)
        arr = p.seats * net
        L.flow(t, "deals_won", p.seg, p.ch, 1)
        L.flow(t, "list_arr_won", p.seg, p.ch, p.seats * price.list_price_usd)
        L.flow(t, "discount_usd", p.seg, p.ch, p.seats * (price.list_price_usd - net))
        L.flow(t, "sales_commission", p.seg, p.ch, s.sales.commission_frac * arr)
        acc = self._new_account(p.seg, p.ch, t, p.seats, net, p.wtp, p.contract,
                                random.Random(p.account_seed))
        if self.log is not None:
            self.log.add(t, acc.id, "deal_won", name, ch, arr,
                         f"discount {needed:.3f}, term {opt.term_months}")
        self.env.process(self._onboard(acc, p.onboarding, p.seg, p.ch))
        self.env.process(self._account_life(acc))

    # ------------------------------------------------------------------ accounts

    def _new_account(self, k, c, t, seats, price, wtp, j, rng, tenure_days=0.0, renewals=0):
        """An account on contract option ``j`` of segment ``k``. Installed accounts come with
        their tenure (days since their first contract) and the renewals they have survived:
        their churn propensity is the posterior Beta(a, b + renewals) of the survivors."""
        L = self.ledger
        opt = self.segs[k].contracts[j]
        a = Account()
        a.id = self.next_id
        self.next_id += 1
        a.seg, a.ch = k, c
        a.cohort = 0 if c == INSTALLED else int(t / MONTH_DAYS) + 1
        a.seats, a.price, a.wtp = seats, price, wtp
        a.arr = seats * price
        a.term_months = opt.term_months
        a.annual_billing = opt.billing == "annual"
        term_days = opt.term_months * MONTH_DAYS
        elapsed_days = tenure_days - renewals * term_days  # into the current term
        a.start_t = t - elapsed_days
        a.term_end = a.start_t + term_days
        a.rng = rng  # renewal, churn and contraction draws
        a.grow = random.Random(rng.getrandbits(64))  # expansion draws, a stream of its own
        a.churn_p = self.laws[k][j].sample(rng, renewals)
        a.ttv_days = 0.0 if c == INSTALLED else None
        # price anniversaries: each renewal of a 12+ month term; yearly from the first
        # contract for month-to-month contracts
        a.last_uplift_t = (a.start_t if opt.term_months >= 12 else
                           t - tenure_days + math.floor(tenure_days / YEAR_DAYS + 1e-9) * YEAR_DAYS)
        a.active = True
        a.stake = None
        a.pw_end = -1.0
        a.churn_at = math.inf
        if a.annual_billing:
            years_elapsed = math.floor(elapsed_days / YEAR_DAYS + 1e-9)
            a.next_bill = a.start_t + (years_elapsed + 1) * YEAR_DAYS
            if c != INSTALLED:
                self._invoice(a, t, a.arr)
            else:
                L.initial_deferred += a.arr * (a.next_bill - t) / YEAR_DAYS
                issued = t - (a.next_bill - YEAR_DAYS)
                # a first invoice (new booking) younger than the warm-up comes from the
                # warm-up's won deals instead, at the plan's deal flow
                if not (renewals == 0 and years_elapsed == 0
                        and issued < self.warm_up_months * MONTH_DAYS):
                    self._opening_receivable(k, c, issued, a.arr)
        else:
            a.next_bill = math.inf
            L.level("monthly_billed_arr", k, c).add(t, a.arr)
        a.next_exp = self._next_expansion(a, t)
        L.level("arr", k, c).add(t, a.arr)
        L.level("customers", k, c).add(t, 1)
        self.customers[k] += 1
        if c != INSTALLED:
            L.flow(t, "new_customers", k, c, 1)
            L.flow(t, "new_arr", k, c, a.arr)
            L.cohort_flow(t, a.cohort, 0, a.arr)
            L.cohort_flow(t, a.cohort, 5, 1)
        if c == PARTNER and self.scenario.channels.partner.commission_months > 0:
            a.pw_end = t + self.scenario.channels.partner.commission_months * MONTH_DAYS
            L.level("partner_window_arr", k, c).add(t, a.arr)
        if self.stakeholders is not None:
            self.stakeholders.attach(a, t)
        return a

    def _invoice(self, a: Account, t: float, amount: float) -> None:
        L = self.ledger
        L.flow(t, "annual_billings", a.seg, a.ch, amount)
        lag = self.scenario.finance.collection_lag_days.sample(self.rng_cash)
        L.flow(t + lag, "cash_collected", a.seg, a.ch, amount)
        if self.log is not None:
            seg, ch = self.seg_names[a.seg], CHANNELS[a.ch]
            self.log.add(t, a.id, "invoice", seg, ch, amount, "")
            self.log.add(t + lag, a.id, "cash_received", seg, ch, amount, f"lag {lag:.1f} d")

    def _health(self, a: Account, t: float) -> float:
        """Churn multiplier of an account: > 1 unhealthy, < 1 healthy."""
        s = self.scenario
        seg = self.segs[a.seg]
        ttv = a.ttv_days if a.ttv_days is not None else t - a.start_t
        over = max(0.0, ttv / seg.onboarding_target_days - 1.0)
        late = min(s.onboarding.max_late_factor, 1.0 + s.onboarding.late_churn_uplift_frac * over)
        h = late * self.cs_factor
        if a.stake is not None:
            h *= self.stakeholders.churn_factor(a, t)
        return h

    def _next_expansion(self, a: Account, t: float) -> float:
        e = self.segs[a.seg].expansion
        rate = e.upsell_rate_per_year + e.cross_sell_rate_per_year
        if rate <= 0:
            return math.inf
        health = self._health(a, t)
        if a.stake is not None and not self.stakeholders.may_expand(a, t):
            return t + MONTH_DAYS  # look again next month
        rate *= min(2.0, 1.0 / health)
        return t + a.grow.expovariate(rate / YEAR_DAYS)

    def _change_arr(self, a: Account, t: float, delta: float, kind: str) -> None:
        L = self.ledger
        a.arr += delta
        L.level("arr", a.seg, a.ch).add(t, delta)
        if not a.annual_billing:
            L.level("monthly_billed_arr", a.seg, a.ch).add(t, delta)
        if a.pw_end > t:
            L.level("partner_window_arr", a.seg, a.ch).add(t, delta)
        col = {"expansion": "expansion_arr", "contraction": "contraction_arr",
               "churn": "churned_arr"}[kind]
        L.flow(t, col, a.seg, a.ch, abs(delta))
        L.cohort_flow(t, a.cohort, {"expansion": 1, "contraction": 2, "churn": 3}[kind], abs(delta))
        if self.log is not None:
            self.log.add(t, a.id, kind, self.seg_names[a.seg], CHANNELS[a.ch], abs(delta), "")

    def expand(self, a: Account, t: float, delta: float, note: str = "") -> None:
        """Add ARR to an account mid-term (upsell, cross-sell, new-unit deal)."""
        self._change_arr(a, t, delta, "expansion")
        self.ledger.flow(t, "sales_commission", a.seg, a.ch,
                         self.scenario.sales.expansion_commission_frac * delta)
        if a.annual_billing:
            remaining = max(0.0, min(a.next_bill, a.term_end) - t)
            if remaining > 0:
                self._invoice(a, t, delta * remaining / YEAR_DAYS)

    def _account_life(self, a: Account):
        env = self.env
        seg = self.segs[a.seg]
        s = self.scenario
        while True:
            t_next = a.term_end
            kind = 0
            if a.next_exp < t_next:
                t_next, kind = a.next_exp, 1
            if a.next_bill < t_next - 1e-6:  # a renewal on the bill date issues the invoice
                t_next, kind = a.next_bill, 2
            if 0 <= a.pw_end < t_next:
                t_next, kind = a.pw_end, 3
            yield env.timeout(max(0.0, t_next - env.now))
            t = env.now
            if kind == 1:
                if a.stake is None or self.stakeholders.may_expand(a, t):
                    e = seg.expansion
                    total = e.upsell_rate_per_year + e.cross_sell_rate_per_year
                    if a.grow.random() * total < e.upsell_rate_per_year:
                        add = max(1.0, round(a.seats * e.upsell_seats_frac.sample(a.grow)))
                        a.seats += add
                        self.expand(a, t, add * a.price)
                    else:
                        self.expand(a, t, a.arr * e.cross_sell_arr_frac.sample(a.grow))
                a.next_exp = self._next_expansion(a, t)
            elif kind == 2:
                a.next_bill += YEAR_DAYS
                self._invoice(a, t, a.arr)
            elif kind == 3:
                self.ledger.level("partner_window_arr", a.seg, a.ch).add(t, -a.arr)
                a.pw_end = -1.0
            elif a.term_months == 1:
                if not self._renew_monthly(a, t, seg, s):
                    return
            else:
                if not self._renew(a, t, seg, s):
                    return

    def _price_churn(self, a: Account, t: float, seg, uplift: float) -> float:
        """Churn probability from being priced above the account's willingness to pay."""
        years = (t - a.start_t) / YEAR_DAYS
        wtp_now = a.wtp * (1 + seg.wtp_growth_per_year_frac) ** years
        excess = a.price * (1 + uplift) / wtp_now - 1.0 if wtp_now > 0 else 1.0
        if excess <= 0:
            return 0.0
        return self.scenario.pricing.over_wtp_churn_prob_frac * min(1.0, excess / 0.2)

    def _reprice(self, a: Account, t: float, seg, health: float, uplift: float) -> None:
        """A renewing account at its renewal (or a monthly contract's anniversary):
        contraction, then the uplift on what is left (``retention_math.renewal_outcome``)."""
        contracts = a.rng.random() < min(1.0, seg.contraction_prob_frac * health)
        cut = a.arr * seg.contraction_frac.sample(a.rng)  # drawn either way: keeps the stream aligned
        if contracts:
            if cut > 0:
                a.seats = max(1.0, a.seats * (1 - cut / a.arr))
                self._change_arr(a, t, -cut, "contraction")
        if uplift > 0:
            a.price *= 1 + uplift
            self._change_arr(a, t, a.arr * uplift, "expansion")
        a.last_uplift_t = t

    def _renewal_q(self, a: Account, t: float, seg, health: float, uplift: float,
                   priced: bool = True) -> float:
        """Churn probability at this renewal: the uplift's response and the over-WTP churn
        only at a priced renewal (a term end, or a monthly contract's anniversary)."""
        s = self.scenario
        price = self._price_churn(a, t, seg, uplift) if priced else 0.0
        rf = self.stakeholders.renewal_factor(a, t) if a.stake is not None else 1.0
        return renewal_churn_prob(a.churn_p, health, uplift, s.pricing.uplift_churn_elasticity,
                                  price, rf)

    def _renew(self, a: Account, t: float, seg, s: Scenario) -> bool:
        """Term end of a 12+ month contract: churn (at the old price), or contraction/uplift
        and a new term."""
        health = self._health(a, t)
        uplift = s.pricing.annual_uplift_frac
        q = self._renewal_q(a, t, seg, health, uplift)
        renewed = a.rng.random() >= q
        if a.stake is not None:
            self.stakeholders.renewal(a, renewed)
        if not renewed:
            self._churn(a, t)
            return False
        self._reprice(a, t, seg, health, uplift)
        a.term_end = t + a.term_months * MONTH_DAYS
        if a.annual_billing:
            a.next_bill = t + YEAR_DAYS
            self._invoice(a, t, a.arr)
        if self.log is not None:
            self.log.add(t, a.id, "renewal", self.seg_names[a.seg], CHANNELS[a.ch], a.arr, "")
        return True

    def _renew_monthly(self, a: Account, t: float, seg, s: Scenario) -> bool:
        """Monthly contracts renew every month with churn probability q (a monthly hazard).

        The yearly anniversary is a renewal of its own: churn is decided first with the
        uplift's response (at the old price), then a renewing account contracts and takes the
        uplift. Between anniversaries, consecutive renewals are drawn as one geometric block
        (up to 3 months, never past the next anniversary) with no uplift response: the same
        distribution as one draw a month while q holds, at a fraction of the events. Health is
        re-read at each block.
        """
        if a.churn_at <= t + 1e-6:
            self._churn(a, t)
            return False
        health = self._health(a, t)
        if t - a.last_uplift_t >= YEAR_DAYS - 1e-6:
            uplift = s.pricing.annual_uplift_frac
            if a.rng.random() < self._renewal_q(a, t, seg, health, uplift):
                self._churn(a, t)
                return False
            self._reprice(a, t, seg, health, uplift)
            a.term_end = t + MONTH_DAYS
            return True
        q = self._renewal_q(a, t, seg, health, 0.0, priced=False)
        to_anniversary = max(1, round((a.last_uplift_t + YEAR_DAYS - t) / MONTH_DAYS))
        block = min(3, to_anniversary)
        k = geometric_renewals(q, a.rng.random(), block)
        if k == 1:
            self._churn(a, t)
            return False
        if k <= block:
            a.churn_at = t + (k - 1) * MONTH_DAYS
            a.term_end = a.churn_at
        else:
            a.term_end = t + block * MONTH_DAYS
        return True

    def _churn(self, a: Account, t: float) -> None:
        L = self.ledger
        self._change_arr(a, t, -a.arr, "churn")
        a.active = False
        L.level("customers", a.seg, a.ch).add(t, -1)
        L.flow(t, "churned_customers", a.seg, a.ch, 1)
        L.cohort_flow(t, a.cohort, 4, 1)
        self.customers[a.seg] -= 1
        if a.stake is not None:
            self.stakeholders.detach(a, t)

    # ------------------------------------------------------------------ onboarding

    def _onboard(self, a: Account | None, duration: float, seg: int, ch: int):
        """An onboarding project; ``a`` None: a deal won in the warm-up before day 0, whose
        account is already in the installed base, so only its specialist time counts."""
        env, L = self.env, self.ledger
        t0 = env.now
        req = self.onb.request()
        yield req
        start = env.now
        L.wait(L.onb_wait, start, start - t0)
        L.onb_busy.add(start, 1)
        yield env.timeout(duration)
        self.onb.release(req)
        end = env.now
        L.onb_busy.add(end, -1)
        L.spread(start, end, "onboarding_busy_days", seg, ch)
        if a is None:
            return
        a.ttv_days = end - t0
        if self.log is not None:
            self.log.add(end, a.id, "onboarded", self.seg_names[a.seg], CHANNELS[a.ch],
                         0.0, f"ttv {a.ttv_days:.1f} d")

    # ------------------------------------------------------------------ installed base

    def _installed_base(self) -> None:
        """The customers at day 0, seasoned: each has a tenure and has survived its renewals.

        Without ``installed_age_months`` the base is the steady state of a business that has
        sold at a steady rate for ``opening.business_age_months``: the contract option is
        drawn by new-deal share x expected survivors per new account, then (renewals
        survived, age) exactly from the survivors' law, then the churn propensity from the
        posterior Beta(a, b + renewals) (``sim.retention_math``).
        """
        rng = self.rng_base
        age_n = self.scenario.opening.business_age_months
        for k, seg in enumerate(self.segs):
            laws = self.laws[k]
            if seg.installed_age_months is None:
                shares = self.retention[k].installed_shares(age_n)
            else:
                shares = [o.share_frac for o in seg.contracts]
            for _ in range(seg.installed_customers):
                u = rng.random()
                acc, j = 0.0, len(seg.contracts) - 1
                for jj, share in enumerate(shares):
                    acc += share
                    if u < acc:
                        j = jj
                        break
                opt = seg.contracts[j]
                net = seg.installed_price_usd * (1 - opt.term_discount_frac)
                seats = max(1.0, round((seg.installed_seats or seg.seats).sample(rng)))
                wtp_dist = seg.installed_willingness_to_pay_usd or seg.willingness_to_pay_usd
                # they pay it, so they are willing to: redraw until the draw covers the price
                for _try in range(50):
                    wtp = wtp_dist.sample(rng)
                    if wtp >= net:
                        break
                else:
                    wtp = net
                if seg.installed_age_months is None:
                    age, n = laws[j].sample_tenure(rng, age_n)
                else:
                    age = seg.installed_age_months.sample(rng)
                    n = math.floor(age / opt.term_months + 1e-9)
                a = self._new_account(k, INSTALLED, 0.0, seats, net, wtp, j,
                                      random.Random(rng.getrandbits(63)),
                                      tenure_days=age * MONTH_DAYS, renewals=n)
                self.env.process(self._account_life(a))
        self._monthly_opening_receivables()

    def _opening_receivable(self, k: int, c: int, elapsed_days: float, amount: float) -> None:
        """An annual invoice issued ``elapsed_days`` before day 0: unpaid at day 0 when its
        collection lag runs past it (kept for ``_book_opening_receivables``)."""
        if self.scenario.opening.receivables == "none":
            return
        lag = self.scenario.finance.collection_lag_days.sample(self.rng_opening_ar)
        if lag > elapsed_days:
            self._open_ar.append((lag - elapsed_days, k, c, amount))

    def _monthly_opening_receivables(self) -> None:
        """Monthly invoices of the installed base before day 0 (mid-month, today's monthly
        billed ARR / 12 each) still unpaid at day 0."""
        if self.scenario.opening.receivables == "none":
            return
        lag_dist = self.scenario.finance.collection_lag_days
        for k in range(len(self.segs)):
            billed = self.ledger.level("monthly_billed_arr", k, INSTALLED).value
            if billed <= 0:
                continue
            for age in monthly_invoice_ages():
                lag = lag_dist.sample(self.rng_opening_ar)
                if lag > age:
                    self._open_ar.append((lag - age, k, INSTALLED, billed / 12))

    def _book_opening_receivables(self) -> None:
        """Book the collections of the opening receivables (scaled to
        ``opening.receivables_usd`` when given) and keep their total for the tables."""
        items = self._open_ar
        total = sum(x[3] for x in items)
        given = self.scenario.opening.receivables_usd
        if given is not None and self.scenario.opening.receivables != "none":
            if total > 0:
                items = [(t, k, c, amt * given / total) for t, k, c, amt in items]
            elif given > 0:
                mean_lag = self.scenario.finance.collection_lag_days.mean()
                items = [(mean_lag, 0, INSTALLED, given)]
            total = given
        for t, k, c, amount in items:
            self.ledger.flow(t, "cash_collected", k, c, amount)
            if self.log is not None and t < self.ledger.t_end:
                self.log.add(t, -1, "cash_received", self.seg_names[k], CHANNELS[c], amount,
                             "opening receivable")
        self.initial["accounts_receivable"] = float(total)

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        self._open_ar: list[tuple[float, int, int, float]] = []
        self._installed_base()
        self.initial = {
            "arr": float(sum(lev.value for row in self.ledger.levels["arr"] for lev in row)),
            "customers": float(sum(self.customers)),
            "cash_balance": float(self.scenario.finance.starting_cash_usd),
            "deferred_revenue": float(self.ledger.initial_deferred),
            "accounts_receivable": 0.0,  # set at day 0, after the warm-up
        }
        self.env.process(self.planner())
        self.env.run(until=self.H * MONTH_DAYS)
        self.ledger.finish()
        self.sim_events = next(self.env._eid)
        if self.stakeholders is not None:
            self.stakeholders.finish()
        self._collect_monthly_billings()

    def _collect_monthly_billings(self) -> None:
        """Cash for monthly-billed revenue: billed mid-month, collected after a lag."""
        L = self.ledger
        billed = L.integral("monthly_billed_arr") / YEAR_DAYS
        lag_dist = self.scenario.finance.collection_lag_days
        rng = self.rng_cash
        H, n_seg, n_ch = billed.shape
        for m in range(H):
            for k in range(n_seg):
                for c in range(n_ch):
                    amount = billed[m, k, c]
                    if amount > 0:
                        L.flow((m + 0.5) * MONTH_DAYS + lag_dist.sample(rng), "cash_collected",
                               k, c, amount)
