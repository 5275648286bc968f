"""Market economics in closed form: what a segment's demand costs and how far it reaches.

Pure functions (no SimPy, no scenario objects), used by the engine's demand step each month
and by the tests as the theory the simulation must match.

* **Inbound response.** Spend on a segment buys leads with diminishing returns:
  ``leads(s) = (s_ref / cpl_ref) * (s / s_ref) ** b``: at the reference spend ``s_ref`` a lead
  costs ``cpl_ref``; doubling the spend multiplies leads by ``2 ** b`` (b < 1), so the average
  cost per lead rises with spend, and a segment whose leads cost more gives fewer leads for
  the same dollars.
* **Outbound pool.** SDRs assigned to a segment make contact attempts on its not-yet-customer
  accounts ``A``; an attempt on an account still cooling down from an earlier contact is
  wasted. With ``C`` attempts a month spread at random, a fresh account is reached with
  probability ``g = 1 - exp(-C / A)``; a reached account cools down ``T`` months. In the
  steady state ``x = A g / (1 + T g)`` accounts are reached a month, so leads per SDR fall as
  SDRs are added (and ``x`` never exceeds ``A / (1 + T)``, the pool's turnover).
* **In-market cap.** Only a share ``p`` of the not-yet-customer accounts is in a buying window
  in a year: ``M = p A / 12`` a month. A lead qualifies into an opportunity only if its
  account is in market, and an account counts once however many channels reach it: with
  ``O`` opportunities' worth of qualified interest spread at random over the ``M`` in-market
  accounts, ``M (1 - exp(-O / M))`` distinct accounts become opportunities (< both O and M).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

MONTHS_PER_YEAR = 12


# --------------------------------------------------------------------------- inbound


def inbound_leads(spend_usd: float, cost_per_lead_usd: float, reference_spend_usd: float,
                  exponent_b: float) -> float:
    """Expected leads a month from ``spend_usd`` a month on one segment.

    ``cost_per_lead_usd`` is the average cost per lead at ``reference_spend_usd`` a month;
    ``exponent_b`` (0 < b <= 1) the elasticity of leads to spend.
    """
    if spend_usd <= 0 or cost_per_lead_usd <= 0 or reference_spend_usd <= 0:
        return 0.0
    return reference_spend_usd / cost_per_lead_usd * (spend_usd / reference_spend_usd) ** exponent_b


def inbound_cost_per_lead(spend_usd: float, cost_per_lead_usd: float,
                          reference_spend_usd: float, exponent_b: float) -> float:
    """Average cost per lead at ``spend_usd``: ``cpl_ref * (s / s_ref) ** (1 - b)``."""
    leads = inbound_leads(spend_usd, cost_per_lead_usd, reference_spend_usd, exponent_b)
    return spend_usd / leads if leads > 0 else math.nan


def inbound_spend_for_leads(leads: float, cost_per_lead_usd: float,
                            reference_spend_usd: float, exponent_b: float) -> float:
    """Monthly spend that buys ``leads`` expected leads (the inverse of ``inbound_leads``)."""
    if leads <= 0:
        return 0.0
    base = reference_spend_usd / cost_per_lead_usd
    return reference_spend_usd * (leads / base) ** (1.0 / exponent_b)


# --------------------------------------------------------------------------- outbound


def reach_probability(attempts: float, accounts: float) -> float:
    """Chance that a given account gets at least one of ``attempts`` random contact attempts."""
    if accounts <= 0 or attempts <= 0:
        return 0.0
    return -math.expm1(-attempts / accounts)


def steady_state_reached(attempts: float, accounts: float, cooldown_months: int) -> float:
    """Accounts reached a month when ``attempts`` a month have run long enough that the
    cool-down pipeline is full: ``A g / (1 + T g)``."""
    g = reach_probability(attempts, accounts)
    return accounts * g / (1.0 + cooldown_months * g)


def steady_state_leads_per_sdr(sdrs: float, contacts_per_sdr: float, leads_per_sdr_fresh: float,
                               accounts: float, cooldown_months: int) -> float:
    """Leads per SDR a month in the steady state: the fresh-pool rate times the share of
    attempts that reach an account not cooling down."""
    attempts = sdrs * contacts_per_sdr
    if attempts <= 0:
        return leads_per_sdr_fresh
    reached = steady_state_reached(attempts, accounts, cooldown_months)
    return leads_per_sdr_fresh * reached / attempts


class ContactPool:
    """One segment's accounts under outbound prospecting, month by month.

    ``cooling`` holds the accounts reached in each of the last ``cooldown_months`` months.
    ``start`` fills it as if the month-1 effort had run for ever (the steady state), so a
    constant team starts at the steady state rather than on an untouched market.
    """

    def __init__(self, cooldown_months: int):
        self.cooldown_months = int(cooldown_months)
        self.cooling: deque[float] = deque(maxlen=max(1, self.cooldown_months))
        self.started = False

    def start(self, attempts: float, accounts: float) -> None:
        x = steady_state_reached(attempts, accounts, self.cooldown_months)
        self.cooling.clear()
        if self.cooldown_months > 0:
            self.cooling.extend([x] * self.cooldown_months)
        self.started = True

    @property
    def cooling_accounts(self) -> float:
        return float(sum(self.cooling)) if self.cooldown_months > 0 else 0.0

    def step(self, attempts: float, accounts: float) -> float:
        """Accounts reached this month out of ``accounts`` not-yet-customers; they start
        cooling down (and the oldest month's come back)."""
        if not self.started:
            self.start(attempts, accounts)
        fresh = max(0.0, accounts - self.cooling_accounts)
        reached = fresh * reach_probability(attempts, accounts)
        if self.cooldown_months > 0:
            self.cooling.append(reached)  # maxlen drops the oldest month
        return reached


# --------------------------------------------------------------------------- in market


def in_market_per_month(open_accounts: float, in_market_per_year_frac: float | None) -> float:
    """Accounts entering a buying window a month: ``p A / 12``; no cap (``None``): infinite,
    so that the cap below leaves every opportunity (the textbook market)."""
    if in_market_per_year_frac is None:
        return math.inf
    return max(0.0, open_accounts) * in_market_per_year_frac / MONTHS_PER_YEAR


def buying_accounts_per_month(open_accounts: float, in_market_per_year_frac: float | None
                              ) -> float:
    """The accounts AE prospecting spreads over (``in_market_per_month``; with no cap, the
    open accounts / 12: every account may buy)."""
    frac = 1.0 if in_market_per_year_frac is None else in_market_per_year_frac
    return max(0.0, open_accounts) * frac / MONTHS_PER_YEAR


def capped_opportunities(raw_opportunities: float, in_market: float) -> float:
    """Distinct in-market accounts reached by ``raw_opportunities`` of qualified interest:
    ``M (1 - exp(-O / M))``."""
    if raw_opportunities <= 0 or in_market <= 0:
        return 0.0
    if math.isinf(in_market):  # no cap
        return raw_opportunities
    return in_market * -math.expm1(-raw_opportunities / in_market)


def qualify_scale(raw_opportunities: float, in_market: float) -> float:
    """Factor on every channel's qualification probability so that the segment's expected
    opportunities equal ``capped_opportunities`` (1 when nothing is qualified)."""
    if raw_opportunities <= 0:
        return 1.0
    return capped_opportunities(raw_opportunities, in_market) / raw_opportunities


def raw_opportunities_for(capped: float, in_market: float) -> float:
    """The inverse of ``capped_opportunities`` (for calibration): raw interest needed to
    reach ``capped`` distinct in-market accounts; infinite at or above ``in_market``."""
    if capped <= 0:
        return 0.0
    if math.isinf(in_market):  # no cap
        return capped
    if capped >= in_market:
        return math.inf
    return -in_market * math.log1p(-capped / in_market)


def shares(values: Iterable[float]) -> list[float]:
    """Values as shares of their sum (all zero when the sum is zero)."""
    v = [max(0.0, float(x)) for x in values]
    total = sum(v)
    return [x / total if total > 0 else 0.0 for x in v]
