"""One replication: builds the engine's parts, states their order each month, and runs.

Parts only book into the ledger; they compute no report. The order of the steps below is
part of the reproducibility contract: every step draws from its own named streams, but the
SimPy event order (and so which opportunity meets which AE, and in what order amounts are
added up) follows this order. Changing it changes the numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.engine import ENGINE_VERSION  # noqa: F401  (re-exported)
from sim.engine.billing import Billing
from sim.engine.context import Context
from sim.engine.customers import Customers
from sim.engine.demand import Demand
from sim.engine.onboarding import OnboardingTeam
from sim.engine.plan import monthly_plan
from sim.engine.retention import Retention
from sim.engine.sales import SalesForce
from sim.engine.stakeholders import StakeholderModel
from sim.scenario.model import Scenario
from sim.units import MONTH_DAYS

# How accounts live: "calendar" (the lifecycle calendar of ``sim.engine.customers``) or
# "processes" (one SimPy process per account: the reference that the equivalence test and the
# benchmark compare against). Internal; not a scenario setting.
LIFECYCLE = "calendar"


class Replication:
    """The parts of one replication and the month that drives them (``Model`` in the
    SimPy sense; named apart from the scenario's pydantic base class)."""

    def __init__(self, scenario: Scenario, seed: int = 0, replication: int = 0,
                 record_events: bool = False,
                 progress: Callable[[int, int], None] | None = None):
        """``progress(months simulated, horizon)`` is called at each month boundary."""
        self.progress = progress
        ctx = self.ctx = Context(scenario, seed, replication, record_events)
        self.scenario = scenario
        self.env, self.ledger, self.log = ctx.env, ctx.ledger, ctx.log
        self.plan = monthly_plan(scenario)
        self.stakeholders = StakeholderModel(ctx) if scenario.account_plan.enabled else None
        self.billing = Billing(ctx)
        self.retention = Retention(ctx, self.billing, self.stakeholders)
        self.onboarding = OnboardingTeam(ctx)
        self.customers = Customers(ctx, self.billing, self.retention, self.onboarding,
                                   self.stakeholders, processes=LIFECYCLE == "processes")
        # the SimPy side catches the lifecycle calendar up before it reads or changes an
        # account: the end of an onboarding, a new-unit deal
        self.onboarding.sync = self.customers.advance
        if self.stakeholders is not None:
            self.stakeholders.sync = self.customers.advance
        self.sales = SalesForce(ctx, on_won=self.customers.sign,
                                on_won_before_start=self.customers.sign_before_start)
        self.demand = Demand(ctx, self.plan)
        if any(team.self_sourced_share_frac > 0 and team.prospecting_time_frac > 0
               for team in scenario.sales.teams.values()):
            self.demand.prospecting = self.sales.prospecting  # AEs source opportunities too
        self.initial: dict[str, float] = {}
        self.sim_events = 0
        self.ending_base: list[tuple[int, int, float, float]] = []

    def month(self, t: float, month: int) -> None:
        """The start of a 1-based month, in this order: restaff AEs and onboarding, read
        customer-success coverage, record the month's capacity, draw leads and schedule the
        opportunities, run the account-plan programme."""
        self.customers.advance(t)  # every life event before the month, first
        if month > 1:
            self.sales.restaff(t, month)
            self.onboarding.restaff(t, month)
        self.retention.update_coverage(month, self.customers.by_segment)
        self.ledger.record_month(month, self.retention.cs_factor, self.sales.capacity)
        for prospect in self.demand.month(t, month, self.customers.by_segment):
            # each opportunity arrives at its own time
            self.env.timeout(prospect.arrival_t - t, value=prospect).callbacks.append(
                self.sales.arrive)
        if self.stakeholders is not None:
            self.stakeholders.monthly(t, month, self.customers.expand)

    def warm_up(self, t: float, number: int) -> None:
        """A month of the pipeline warm-up before day 0: month 1's lead flow on month 1's
        AE capacity, booking nothing, so that the opportunities in flight and the AEs'
        occupancy at day 0 are those of a running business."""
        for prospect in self.demand.month(t, 1, self.customers.by_segment, warm_up=number):
            self.env.timeout(prospect.arrival_t - t, value=prospect).callbacks.append(
                self.sales.arrive)

    def months(self):
        """SimPy process: the warm-up months (if any), the receivables open at day 0, then
        one step a month."""
        warm = self.ctx.warm_up_months
        for number in range(1, warm + 1):
            self.warm_up((number - 1 - warm) * MONTH_DAYS, number)
            yield self.env.timeout(MONTH_DAYS)
        self.initial["accounts_receivable"] = self.billing.book_opening_receivables()
        horizon = self.scenario.horizon_months
        for month in range(1, horizon + 1):
            if self.progress is not None:
                self.progress(month - 1, horizon)
            self.month((month - 1) * MONTH_DAYS, month)
            yield self.env.timeout(MONTH_DAYS)

    def run(self) -> None:
        self.customers.installed_base()
        self.initial = {
            "arr": float(sum(lev.value for row in self.ledger.levels["arr"] for lev in row)),
            "customers": float(sum(self.customers.by_segment)),
            "cash_balance": float(self.scenario.finance.starting_cash_usd),
            "deferred_revenue": float(self.ledger.initial_deferred),
            "accounts_receivable": 0.0,  # set at day 0, after the warm-up
        }
        self.env.process(self.months())
        self.env.run(until=self.ledger.t_end)
        self.customers.advance(self.ledger.t_end)
        self.ledger.finish()
        self.ending_base = self.customers.ending_base(self.ledger.t_end)
        self.sim_events = self.env.events_scheduled
        if self.stakeholders is not None:
            self.stakeholders.finish()
        self.billing.collect_monthly_billings()
