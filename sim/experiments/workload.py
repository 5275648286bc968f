"""How much work a run will be, estimated from the scenario alone before anything is simulated.

A closed-form, deliberately generous estimate (no contact cool-down, opportunities capped only by
the whole market's in-market accounts, no price losses): expected leads,
opportunities and customers per replication, and the SimPy events they cause. The CLI refuses
runs beyond ``MAX_EVENTS_PER_RUN`` or ``MAX_EVENTS_PER_REPLICATION`` unless ``--allow-large``
is given, so a typo such as a budget of 1e12 fails in milliseconds instead of running for an
hour and filling memory. Calibrated on the bundled scenarios (36 months): about 24,000 leads,
4,150 opportunities, 1,770 accounts and 35,900 SimPy events per replication (29,900 without
the 12-month pipeline warm-up before day 0), which this estimate puts at about 57,000 events.

Every command that simulates checks its work here, with the same model: ``run``, ``compare``,
``sweep``, ``sensitivity``, ``report``, ``track`` and ``export`` before anything runs;
``calibrate --engine-correction`` and ``backtest`` once the fit gives the calibrated scenario,
before its simulated histories and replications (:func:`require`). Plan targets cost their
evaluation in every replication (``EVENTS_PER_TARGET``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.engine import market
from sim.engine.plan import monthly_plan
from sim.errors import InputError
from sim.scenario.model import Scenario

MAX_EVENTS_PER_REPLICATION = 20_000_000
"""Most estimated SimPy events in one replication (about 700 times the baseline); one
replication runs in one process, so this bounds its memory."""
MAX_EVENTS_PER_RUN = 100_000_000
"""Most estimated SimPy events over every replication of every scenario of one command (about
150 times ``revsim run baseline.yaml`` at its default 20 replications)."""

EVENTS_PER_OPPORTUNITY = 5.0
"""Arrival, AE request and grant or give-up, sales cycle, decision."""
EVENTS_PER_ACCOUNT_MONTH = 0.5
"""Renewals, expansions, invoices and churn checks of a live account, per month."""
EVENTS_PER_MONTH = 20.0
"""The month planner and staffing changes."""
EVENTS_PER_TARGET = 25.0
"""Evaluating one plan target in one replication, in events of the same cost: measured about
240 µs per target against 11.4 µs per simulated event of the baseline (about 21 events)."""


@dataclass(frozen=True)
class Workload:
    """Expected volumes of one replication of one scenario (upper-leaning estimates)."""

    leads: float
    opportunities: float
    customers: float
    """Accounts that exist at some point: the installed base plus expected new customers."""
    events: float
    """SimPy events, plus the evaluation of the plan targets in events of the same cost (the
    unit of the limits)."""
    targets: int = 0
    """Plan targets evaluated in every replication."""


def estimate(scenario: Scenario) -> Workload:
    """Expected leads, opportunities, customers and SimPy events of one replication."""
    s = scenario
    ch = s.channels
    H = s.horizon_months
    leads = opps = first_month_opps = 0.0
    new_customers = {name: 0.0 for name in s.segments}
    plan = monthly_plan(s)  # the engine's plan: budget, partners and SDRs month by month
    for m in range(1, H + 1):
        budget = plan.marketing_budget_usd[m - 1]
        partners = plan.active_partners[m - 1]
        sdrs = plan.headcount["sdr"][m - 1]
        for name, seg in s.segments.items():
            spend = budget * ch.inbound.segment_mix.get(name, 0.0)
            inbound = market.inbound_leads(
                spend, ch.inbound.cost_per_lead_usd.get(name, 1.0),
                ch.inbound.reference_spend_per_month_usd.get(name, 1.0),
                ch.inbound.response_exponent_b.get(name, 1.0)) if spend > 0 else 0.0
            # every SDR attempt reaching a fresh account: no pool, no cool-down
            outbound = (sdrs * ch.outbound.segment_mix.get(name, 0.0)
                        * ch.outbound.fresh_leads_per_sdr_per_month.get(name, 0.0))
            partner = (partners * ch.partner.referrals_per_partner_per_month
                       * ch.partner.segment_mix.get(name, 0.0))
            o = 0.0
            for channel, n in ((ch.inbound, inbound), (ch.outbound, outbound),
                               (ch.partner, partner)):
                leads += n
                o += n * channel.qualify_prob_frac.get(name, 0.0)
            # opportunities never exceed the in-market accounts of the whole market
            o = min(o, market.in_market_per_month(seg.market_size_accounts,
                                                  seg.in_market_per_year_frac))
            opps += o
            if m == 1:
                first_month_opps += o
            new_customers[name] += o * seg.base_win_prob_frac
    installed = sum(seg.installed_customers for seg in s.segments.values())
    new = sum(new_customers.values())
    account_months = installed * H + new * H / 2
    # the pipeline warm-up runs month 1's opportunity flow before day 0
    warm = s.opening.pipeline_warm_up_months if s.opening.pipeline == "steady_state" else 0
    events = (EVENTS_PER_OPPORTUNITY * (opps + warm * first_month_opps)
              + EVENTS_PER_ACCOUNT_MONTH * account_months + EVENTS_PER_MONTH * (H + warm)
              + installed + EVENTS_PER_TARGET * len(s.targets))
    return Workload(leads=leads, opportunities=opps, customers=installed + new, events=events,
                    targets=len(s.targets))


def check(scenarios: list[tuple[Scenario, float]], replications: int,
          reps_flag: str | None = "--reps") -> str | None:
    """``None`` if the run is within the limits, else one line saying why it is refused.

    ``scenarios`` pairs each scenario with how many times it runs per replication (1, or a
    multiplier standing for grid points or levers that are estimated together);
    ``reps_flag`` is the option that set ``replications`` (an adaptive report: its cap), or
    ``None`` when no option sets them (the refusal then says to check the volumes)."""
    if not scenarios:
        return None
    loads = [(sc, n, estimate(sc)) for sc, n in scenarios]
    worst_sc, _, worst = max(loads, key=lambda x: x[2].events)
    total = replications * sum(n * w.events for _, n, w in loads)
    # targets are named when their evaluation is a tenth of the work or more
    targets = (f", {worst.targets:,} targets" if EVENTS_PER_TARGET * worst.targets
               >= 0.1 * worst.events else "")
    detail = (f"{worst_sc.name}: about {worst.leads:,.0f} leads, {worst.opportunities:,.0f} "
              f"opportunities, {worst.customers:,.0f} customers{targets} per replication")
    if worst.events > MAX_EVENTS_PER_REPLICATION:
        return (f"{detail}: estimated {worst.events:.3g} simulation events per replication "
                f"exceed the limit of {MAX_EVENTS_PER_REPLICATION:.3g} "
                "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large")
    if total > MAX_EVENTS_PER_RUN:
        lower = f"lower {reps_flag}" if reps_flag else "check the volumes"
        return (f"{detail}: estimated {total:.3g} simulation events in all exceed the limit of "
                f"{MAX_EVENTS_PER_RUN:.3g} (MAX_EVENTS_PER_RUN); {lower} or pass "
                "--allow-large")
    return None


def check_floor(months: int, replications: int, reps_flag: str = "--reps") -> str | None:
    """:func:`check` for a scenario not known yet (a backtest's, before the fit): ``None``
    unless even a business with no leads and no customers (the month planner alone,
    ``EVENTS_PER_MONTH``) of ``months`` months exceeds ``MAX_EVENTS_PER_RUN`` over
    ``replications``; the full check follows once the scenario is known."""
    total = replications * EVENTS_PER_MONTH * months
    if total <= MAX_EVENTS_PER_RUN:
        return None
    return (f"{replications:,} replications of {months} months: at least {total:.3g} simulation "
            f"events in all, beyond the limit of {MAX_EVENTS_PER_RUN:.3g} (MAX_EVENTS_PER_RUN) "
            f"whatever the data; lower {reps_flag} or pass --allow-large")


class TooMuchWork(InputError):
    """A command's estimated work exceeds the limits (exit 2; ``--allow-large`` lets it run)."""


def require(scenarios: list[tuple[Scenario, float]], replications: int, allow_large: bool,
            reps_flag: str | None = "--reps", what: str = "") -> None:
    """:func:`check` for code that runs inside a command (the engine correction, the
    backtest): raise :class:`TooMuchWork` with the refusal (``what``: a prefix saying which
    part of the command it is), unless ``allow_large``."""
    problem = None if allow_large else check(scenarios, replications, reps_flag)
    if problem:
        raise TooMuchWork(f"{what}{problem}")
