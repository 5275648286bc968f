"""The customer base: account creation (won deals and the installed base), the lifecycle
of each account, expansion, ARR bookings and churn.

The lifecycle runs off the SimPy event loop (the hybrid world view): accounts contend for no
capacity, so their renewals, churn, expansions, annual invoices and partner windows are kept
in a calendar of their own (a heap of exact event times) that the customer base works
through, in time order, whenever the SimPy side is about to read or change it: a won deal
(``sign``), the end of an onboarding, a new-unit deal, the start of a month, the horizon
(``advance``). Every event is handled at its own time with the same rules and the same
per-account streams as a process per account would, so the ledger's levels still move in
time order; only events at the very same instant may be handled in another order (and the
shared collection-lag stream be drawn in another order). ``processes=True`` keeps the
process-per-account reference (``sim.engine.model.LIFECYCLE``) for the equivalence test and
the benchmark.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from typing import TYPE_CHECKING

from sim.engine.bookings import book_arr_change
from sim.engine.context import Context
from sim.engine.entities import Account, Prospect
from sim.units import MONTH_DAYS, YEAR_DAYS, ArrChange, Channel, CohortMeasure, LifeEvent

if TYPE_CHECKING:  # pragma: no cover
    from sim.engine.billing import Billing
    from sim.engine.onboarding import OnboardingTeam
    from sim.engine.retention import Retention
    from sim.engine.sales import Decision
    from sim.engine.stakeholders import StakeholderModel

MAX_EXPANSION_HEALTH_BOOST = 2.0  # a healthy account expands at most twice the base rate
WTP_REDRAWS = 50  # installed accounts: redraws of a willingness to pay that covers the price
TIME_TOLERANCE_DAYS = 1e-6  # a renewal on the bill date issues the invoice itself
NO_WINDOW = -1.0  # partner_window_end of an account without an open commission window

# enum members bound once: reading a member off its Enum class costs ~0.5 us, and the
# lifecycle loop below is the engine's hottest code
TERM_END, EXPANSION, ANNUAL_INVOICE, PARTNER_WINDOW_END = LifeEvent
PARTNER, INSTALLED_BASE = Channel.PARTNER, Channel.INSTALLED_BASE
ARR_EXPANSION, ARR_CONTRACTION, ARR_CHURN = ArrChange

def installed_price_scale(installed_arr_usd: float | None, draws: list[tuple]) -> float:
    """The factor on the installed accounts' prices (``draws``: option, net price, seats, ...)
    that makes their ARR the segment's ``installed_arr_usd`` (1 when it is not given)."""
    if installed_arr_usd is None:
        return 1.0
    total = sum(net * seats for _j, net, seats, *_rest in draws)
    return installed_arr_usd / total if total > 0 else 1.0


class Customers:
    """Every account of the replication and the count of live customers by segment."""

    def __init__(self, ctx: Context, billing: Billing, retention: Retention,
                 onboarding: OnboardingTeam, stakeholders: StakeholderModel | None,
                 processes: bool = False):
        self.ctx, self.billing, self.retention = ctx, billing, retention
        self.onboarding, self.stakeholders = onboarding, stakeholders
        self.processes = processes  # the reference: one SimPy process per account
        # (time, order, account, event) of every live account's next life event
        self.calendar: list[tuple[float, int, Account, LifeEvent]] = []
        self._order = itertools.count()
        self.rng_installed = ctx.streams.python("installed_base")
        self.by_segment = [0] * len(ctx.segments)  # live customers
        self.created = 0  # accounts ever created; the next account's id
        self.live: dict[int, Account] = {}  # live accounts by id

    # -- creation --------------------------------------------------------------------------

    def new_account(self, k: int, c: int, t: float, seats: float, price: float, wtp: float,
                    option_i: int, rng: random.Random, tenure_days: float = 0.0,
                    renewals: int = 0) -> Account:
        """Create and book an account on contract option ``option_i``. An installed account
        comes with its tenure (days since its first contract) and the renewals it has
        survived; its churn propensity is the survivors' posterior."""
        ctx, ledger = self.ctx, self.ctx.ledger
        installed = c == INSTALLED_BASE
        option = ctx.segments[k].contracts[option_i]
        term_days = option.term_months * MONTH_DAYS
        elapsed_days = tenure_days - renewals * term_days  # into the current term
        a = Account()
        a.id = self.created
        self.created += 1
        a.seg, a.ch = k, c
        a.cohort = 0 if installed else int(t / MONTH_DAYS) + 1
        a.seats, a.price, a.wtp = seats, price, wtp
        a.arr = seats * price
        a.term_months = option.term_months
        a.option_i, a.first_t = option_i, t - tenure_days
        a.annual_billing = option.billing == "annual"
        a.start_t = t - elapsed_days  # start of the current term
        a.term_end = a.start_t + term_days
        a.rng = rng
        a.expansion_rng = random.Random(rng.getrandbits(64))
        a.churn_propensity = self.retention.propensity(k, option_i, rng, renewals, seats)
        a.ttv_days = 0.0 if installed else None
        # price anniversaries: each renewal of a 12+ month term; for month-to-month contracts
        # every year from the first contract
        if option.term_months >= 12:
            a.last_uplift_t = a.start_t
        else:
            years = math.floor(tenure_days / YEAR_DAYS + 1e-9)  # whole years as a customer
            a.last_uplift_t = t - tenure_days + years * YEAR_DAYS
        a.active = True
        a.stake = None
        a.partner_window_end = NO_WINDOW
        a.churn_at = math.inf
        self.billing.open(a, t, elapsed_days, installed, first_term=renewals == 0)
        a.next_expansion = self.next_expansion(a, t)
        ledger.level("arr", k, c).add(t, a.arr)
        ledger.level("customers", k, c).add(t, 1)
        self.by_segment[k] += 1
        self.live[a.id] = a
        if not installed:
            ledger.flow(t, "new_customers", k, c, 1)
            ledger.flow(t, "new_arr", k, c, a.arr)
            ledger.cohort_flow(t, a.cohort, CohortMeasure.NEW_ARR, a.arr)
            ledger.cohort_flow(t, a.cohort, CohortMeasure.NEW_CUSTOMERS, 1)
        commission_months = ctx.scenario.channels.partner.commission_months
        if c == PARTNER and commission_months > 0:
            a.partner_window_end = t + commission_months * MONTH_DAYS
            ledger.level("partner_window_arr", k, c).add(t, a.arr)
        if self.stakeholders is not None:
            self.stakeholders.attach(a, t)
        return a

    def sign(self, p: Prospect, t: float, decision: Decision) -> None:
        """A won deal becomes an account; its onboarding and its life start."""
        ctx = self.ctx
        self.advance(t)
        option = ctx.segments[p.seg].contracts[p.contract_index]
        a = self.new_account(p.seg, p.ch, t, p.seats, decision.net_price_usd, p.wtp_usd,
                             p.contract_index, random.Random(p.account_seed))
        if ctx.log is not None:
            ctx.note(t, a.id, "deal_won", p.seg, p.ch, p.seats * decision.net_price_usd,
                     f"discount {decision.discount_frac:.3f}, term {option.term_months}, "
                     f"billing {option.billing}, seats {p.seats:g}, created {p.arrival_t!r}")
        ctx.env.process(self.onboarding.onboard(a, p.onboarding_days))
        self.start_life(a, t)

    def sign_before_start(self, p: Prospect, t: float, decision: Decision) -> None:
        """A deal won in the pipeline warm-up before day 0: its account is already part of
        the installed base, so nothing is booked; its onboarding still occupies a specialist
        and its first annual invoice may still be open at day 0."""
        ctx = self.ctx
        option = ctx.segments[p.seg].contracts[p.contract_index]
        ctx.env.process(self.onboarding.onboard_before_start(p.seg, p.ch, p.onboarding_days))
        if option.billing == "annual":
            self.billing.opening_receivable(p.seg, INSTALLED_BASE, -t,
                                            p.seats * decision.net_price_usd)

    def installed_base(self) -> None:
        """The customers at day 0, seasoned: each has a tenure and has survived its renewals.

        Without ``installed_age_months`` the base is the steady state of a business that has
        sold at a steady rate for ``opening.business_age_months``: the contract option is
        drawn by new-deal share x expected survivors per new account, then (renewals
        survived, age) exactly from the survivors' law, then the churn propensity from the
        posterior Beta(a, b + renewals) (``sim.engine.retention_math``). With
        ``installed_arr_usd`` every account's price and willingness to pay are scaled by one
        factor per segment so that the segment's ARR at day 0 is that amount.
        """
        rng = self.rng_installed
        business_age = self.ctx.scenario.opening.business_age_months
        for k, seg in enumerate(self.ctx.segments):
            mix = self.retention.laws[k]
            if seg.installed_age_months is None:
                shares = mix.installed_shares(business_age)
            else:
                shares = [o.share_frac for o in seg.contracts]
            draws = []  # every draw first, so the base can be priced to the books
            for _ in range(seg.installed_customers):
                u = rng.random()
                acc, j = 0.0, len(seg.contracts) - 1
                for jj, share in enumerate(shares):
                    acc += share
                    if u < acc:
                        j = jj
                        break
                option = seg.contracts[j]
                net = seg.installed_price_usd * (1 - option.term_discount_frac)
                seats = max(1.0, round((seg.installed_seats or seg.seats).sample(rng)))
                wtp_dist = seg.installed_willingness_to_pay_usd or seg.willingness_to_pay_usd
                # they pay it, so they are willing to: redraw until the draw covers the price
                for _try in range(WTP_REDRAWS):
                    wtp = wtp_dist.sample(rng)
                    if wtp >= net:
                        break
                else:
                    wtp = net
                if seg.installed_age_months is None:
                    age, renewals = mix.laws[j].sample_tenure(rng, business_age)
                else:
                    age = seg.installed_age_months.sample(rng)
                    renewals = math.floor(age / option.term_months + 1e-9)
                draws.append((j, net, seats, wtp, age, renewals, rng.getrandbits(63)))
            scale = installed_price_scale(seg.installed_arr_usd, draws)
            for j, net, seats, wtp, age, renewals, seed in draws:
                option = seg.contracts[j]
                a = self.new_account(k, INSTALLED_BASE, 0.0, seats, net * scale, wtp * scale, j,
                                     random.Random(seed),
                                     tenure_days=age * MONTH_DAYS, renewals=renewals)
                self.ctx.note(0.0, a.id, "installed", k, INSTALLED_BASE, a.arr,
                              f"start {a.start_t!r}, term {option.term_months}, "
                              f"billing {option.billing}, seats {seats:g}, "
                              f"tenure {age * MONTH_DAYS!r}, renewals {renewals}")
                self.start_life(a, 0.0)
        self.billing.monthly_opening_receivables()

    def ending_base(self, t: float) -> list[tuple[int, int, float, float]]:
        """(segment, contract option, months since the first contract, ARR) of every account
        alive at ``t``, in creation order: what the customer equity of the base is valued on
        (``sim.analysis.value``)."""
        return [(a.seg, a.option_i, (t - a.first_t) / MONTH_DAYS, a.arr)
                for a in self.live.values()]

    # -- expansion --------------------------------------------------------------------------

    def next_expansion(self, a: Account, t: float) -> float:
        """Time of the account's next upsell or cross-sell; healthier accounts expand faster."""
        e = self.ctx.segments[a.seg].expansion
        rate = e.upsell_rate_per_year + e.cross_sell_rate_per_year
        if rate <= 0:
            return math.inf
        health = self.retention.health(a, t)
        if a.stake is not None and not self.stakeholders.may_expand(a, t):
            return t + MONTH_DAYS  # look again next month
        rate *= min(MAX_EXPANSION_HEALTH_BOOST, 1.0 / health)
        return t + a.expansion_rng.expovariate(rate / YEAR_DAYS)

    def _expand_once(self, a: Account, t: float) -> None:
        """An upsell (seats) or a cross-sell (a fraction of ARR), in proportion to the rates."""
        e = self.ctx.segments[a.seg].expansion
        total = e.upsell_rate_per_year + e.cross_sell_rate_per_year
        if a.expansion_rng.random() * total < e.upsell_rate_per_year:
            add = max(1.0, round(a.seats * e.upsell_seats_frac.sample(a.expansion_rng)))
            a.seats += add
            self.expand(a, t, add * a.price)
        else:
            self.expand(a, t, a.arr * e.cross_sell_arr_frac.sample(a.expansion_rng))

    def expand(self, a: Account, t: float, delta: float) -> None:
        """Add ARR to an account mid-term (upsell, cross-sell, new-unit deal)."""
        book_arr_change(self.ctx, a, t, delta, ARR_EXPANSION)
        self.ctx.ledger.flow(t, "sales_commission", a.seg, a.ch,
                             self.ctx.scenario.sales.expansion_commission_frac * delta)
        if a.annual_billing:
            remaining = max(0.0, min(a.next_bill, a.term_end) - t)
            if remaining > 0:
                self.billing.invoice(a, t, delta * remaining / YEAR_DAYS)

    # -- life and churn ---------------------------------------------------------------------

    def start_life(self, a: Account, t: float) -> None:
        """A new account at ``t`` enters the calendar (or, in the reference, its process
        starts)."""
        if self.processes:
            self.ctx.env.process(self.life(a))
        else:
            self._schedule(a, t)

    def _schedule(self, a: Account, now: float) -> None:
        t_next, event = self.next_event(a)
        heapq.heappush(self.calendar, (max(t_next, now), next(self._order), a, event))

    def advance(self, t: float) -> None:
        """Handle every life event before ``t``, in time order (the calendar's clock catches
        up with SimPy's before the SimPy side reads or changes the customer base)."""
        calendar = self.calendar
        pop, handle = heapq.heappop, self.handle
        while calendar and calendar[0][0] < t:
            te, _order, a, event = pop(calendar)
            if handle(a, te, event):
                self._schedule(a, te)

    @staticmethod
    def next_event(a: Account) -> tuple[float, LifeEvent]:
        """The account's next life event and its time: the term end, an expansion, an annual
        invoice or the end of the partner's window, whichever comes first."""
        t_next, event = a.term_end, TERM_END
        if a.next_expansion < t_next:
            t_next, event = a.next_expansion, EXPANSION
        if a.next_bill < t_next - TIME_TOLERANCE_DAYS:
            t_next, event = a.next_bill, ANNUAL_INVOICE
        if 0 <= a.partner_window_end < t_next:
            t_next, event = a.partner_window_end, PARTNER_WINDOW_END
        return t_next, event

    def handle(self, a: Account, t: float, event: LifeEvent) -> bool:
        """Handle a life event at ``t``; False when the account churned."""
        if event == EXPANSION:
            if a.stake is None or self.stakeholders.may_expand(a, t):
                self._expand_once(a, t)
            a.next_expansion = self.next_expansion(a, t)
        elif event == ANNUAL_INVOICE:
            a.next_bill += YEAR_DAYS
            self.billing.invoice(a, t, a.arr)
        elif event == PARTNER_WINDOW_END:
            self.ctx.ledger.level("partner_window_arr", a.seg, a.ch).add(t, -a.arr)
            a.partner_window_end = NO_WINDOW
        else:
            renew = (self.retention.renew_monthly if a.term_months == 1
                     else self.retention.renew)
            if not renew(a, t):
                self.churn(a, t)
                return False
        return True

    def life(self, a: Account):
        """SimPy process of the reference: wait for the account's next life event, handle
        it, until it churns."""
        env = self.ctx.env
        while True:
            t_next, event = self.next_event(a)
            yield env.timeout(max(0.0, t_next - env.now))
            if not self.handle(a, env.now, event):
                return

    def churn(self, a: Account, t: float) -> None:
        ledger = self.ctx.ledger
        book_arr_change(self.ctx, a, t, -a.arr, ARR_CHURN)
        a.active = False
        ledger.level("customers", a.seg, a.ch).add(t, -1)
        ledger.flow(t, "churned_customers", a.seg, a.ch, 1)
        ledger.cohort_flow(t, a.cohort, CohortMeasure.CHURNED_CUSTOMERS, 1)
        self.by_segment[a.seg] -= 1
        del self.live[a.id]
        if a.stake is not None:
            self.stakeholders.detach(a, t)
