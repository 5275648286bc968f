"""The market: customer segments, the contract terms buyers prefer and expansion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import (
    MAX_ACCOUNTS,
    MAX_DAYS,
    MAX_RATIO,
    USD,
    AgeDist,
    Duration,
    Frac,
    FracDist,
    Model,
    PerYear,
    PriceDist,
    SeatsDist,
)


class ContractOption(Model):
    term_months: Literal[1, 12, 24, 36]
    """Contract term; 1 = month-to-month."""
    billing: Literal["monthly", "annual"]
    """Monthly in arrears-equivalent, or one year in advance at each contract-year start."""
    share_frac: Frac
    """Share of new deals signed on this option."""
    term_discount_frac: Frac = 0.0
    """Extra discount for this term (EY: about 6% per extra contract year)."""
    offered: bool = True
    """Whether the plan sells this option. ``share_frac`` is the share of buyers who prefer
    it; a buyer whose preferred option is not offered is moved to the shortest offered term
    at least as long (with that option's term discount) and may walk away
    (``Segment.longer_term_walk_per_year_frac``); with no longer one offered, to the longest
    shorter one (no loss). The installed base keeps the options it signed."""

    @model_validator(mode="after")
    def _monthly_terms_bill_monthly(self) -> ContractOption:
        if self.term_months == 1 and self.billing == "annual":
            raise ValueError("billing: a month-to-month contract (term_months 1) bills monthly")
        return self


class Expansion(Model):
    upsell_rate_per_year: PerYear
    """Expected seat-upsell events per healthy account per year."""
    upsell_seats_frac: FracDist
    """Seats added per upsell as a fraction of current seats."""
    cross_sell_rate_per_year: PerYear
    """Expected module cross-sell events per healthy account per year."""
    cross_sell_arr_frac: FracDist
    """ARR added per cross-sell as a fraction of current ARR."""


_RETIRED_SEGMENT_FIELDS = {
    "renewal_prob_frac": "logo_retention_12m_frac (12-month logo retention of a new cohort)",
    "monthly_churn_frac": "monthly_logo_retention_12m_frac (share of new month-to-month "
                          "customers kept after 12 renewals)",
}


class Segment(Model):
    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data):
        if isinstance(data, dict):
            for old, new in _RETIRED_SEGMENT_FIELDS.items():
                if old in data:
                    raise ValueError(f"{old} was replaced by {new}")
        return data

    market_size_accounts: int = Field(gt=0, le=MAX_ACCOUNTS)
    """Accounts in the addressable market. Its not-yet-customers are the pool SDRs work and
    the accounts that come into market, so demand shrinks as the segment is won."""
    installed_customers: int = Field(ge=0, le=MAX_ACCOUNTS)
    """Customers at the start of month 1 (the installed base)."""
    installed_price_usd: USD
    """Average net price per seat-year the installed base pays today (before term discounts).
    A list-price change reaches these customers as ``pricing.segments.<seg>
    .installed_price_policy`` says (grandfathered, or stepped to the new list at renewal)."""
    seats: SeatsDist
    """Seats per new account."""
    installed_seats: SeatsDist | None = None
    """Seats per installed-base account; null = the same distribution as new accounts. Set it
    so that a lever on new deals' seats does not rewrite the starting base."""
    willingness_to_pay_usd: PriceDist
    """A prospect's willingness to pay per seat per year. No primary source; set so that the
    list price sits a little below the median and discounts of 0-30% are needed to close."""
    installed_willingness_to_pay_usd: PriceDist | None = None
    """Willingness to pay per seat-year of installed-base accounts (at least what they pay);
    null = the same distribution as prospects."""
    wtp_growth_per_year_frac: float = Field(default=0.03, ge=-0.5, le=1)
    """Yearly growth of a customer's willingness to pay as value is realised (assumption)."""
    base_win_prob_frac: Frac
    """Chance to win on everything but price (competition, fit). Salesforce: ~30% opp-to-won;
    Ebsta: 19-29%."""
    sales_cycle_days: Duration
    """Time an AE works an opportunity to close. Bridge Group: median 60-72 days at $25-35K ACV;
    $5-25K 14-30 d, $100K+ 90-180 d."""
    patience_days: Duration
    """How long an opportunity waits for a free AE before it goes cold."""
    onboarding_days: Duration
    """Onboarding project length once a specialist is free. TTV: SMB 1-2 wks, MM 2-4, Ent 4-12."""
    onboarding_target_days: float = Field(gt=0, le=MAX_DAYS)
    """Time-to-value target (wait + project); beyond it early churn risk rises."""
    contracts: list[ContractOption] = Field(min_length=1)
    """Terms and billing buyers prefer, shares summing to 1: the mix of new deals when every
    option is offered, and the mix the installed base signed. S4: 70-80% of SMBs prefer
    monthly, enterprises almost always annual, ~25% of >$250K ACV contracts 3+ years."""
    longer_term_walk_per_year_frac: Frac = 0.2
    """Chance that a buyer moved to a term longer than it prefers (its term is not offered)
    walks away, per extra contract year: P(walk) = 1 - (1 - p)^(extra months / 12). Such
    buyers drop out before they become opportunities. Assumption (no primary source; S4
    says only that most SMBs prefer monthly)."""
    multi_year_churn_factor: Frac = 0.75
    """Yearly churn of a multi-year (24- or 36-month) contract relative to an annual one, per
    extra contract year: a T-month term keeps r_T = 1 - (1 - r) * f^(T/12 - 1) a year, so
    its renewal churns 1 - r_T^(T/12). Direction from S9 (Pacific Crest: 2+ year contracts
    churn least); the size is an assumption. 1 = no benefit beyond the yearly rate."""
    switching_cost_frac: Frac = 0.15
    """A customer's cost of leaving (migration, retraining, contract friction) as a share of
    the annual price it pays: at renewal it compares the new price with its willingness to pay
    plus this (``pricing.over_reference_churn_scale_frac``). Assumption: SMB 5%, mid-market
    15%, enterprise 25% (deeper integrations upmarket)."""
    logo_retention_12m_frac: Frac
    """Share of a new cohort on 12+ month terms still customers 12 months later, read as a
    yearly rate: a T-month term keeps r^(T/12) of a new cohort at its first renewal (one
    decision per term). Each account's churn probability per renewal is Beta(a, b) with
    a + b = ``churn_concentration`` and mean 1 - r^(T/12). SaaS Capital GRR 90-93% by ACV;
    ChartMogul logo retention 75% (low ARPA) to 92% (high ARPA); docs/saas-benchmarks.md S9."""
    monthly_logo_retention_12m_frac: Frac
    """Share of a new cohort of month-to-month customers still customers after 12 monthly
    renewals: S(12) = B(a, b + 12) / B(a, b) (shifted-beta-geometric) with a + b =
    ``churn_concentration``. docs/saas-benchmarks.md S9: monthly logo churn 4.2% below $10K
    ACV (about 60% a year), ChartMogul 75% yearly at low ARPA."""
    churn_concentration: float | None = Field(default=4.0, gt=0, le=MAX_RATIO)
    """Heterogeneity of churn propensity, a + b of the Beta of each account's churn probability
    per renewal; lower = more spread, so the hazard of a cohort falls faster with tenure
    (docs/saas-benchmarks.md S9, Fader & Hardie: yearly retention 63% -> 85% over four
    renewals). null = every account the same."""
    churn_seats_elasticity: float = Field(default=0.0, ge=0, le=5)
    """Churn propensity falls with account size within the segment: each account's churn
    probability per renewal is scaled by ``(seats / mean seats) ** -e`` (at most 1), so small
    accounts churn more often while dollar retention holds (S9 "Churn vs ACV": gross $ churn
    falls as ACV rises). 0 = no size effect. The size is an assumption."""
    installed_age_months: AgeDist | None = None
    """Months since each installed account's first contract (a distribution; a number = every
    account that age). Its churn propensity is drawn given the renewals it has survived.
    null = the steady state of a business selling at a steady rate for
    ``opening.business_age_months``."""
    installed_arr_usd: USD | None = None
    """ARR of the installed base at day 0 as known from the books (USD a year). Sampled seats
    and contract terms make the opening ARR a random amount around ``installed_customers`` x
    seats x price; given this, every installed account's price (and willingness to pay) is
    scaled by one factor so that the segment opens at exactly this ARR, as
    ``opening.receivables_usd`` does for receivables. ``revsim calibrate`` writes it from the
    subscriptions active at ``--as-of``. null = as sampled."""
    expansion: Expansion
    """Upsell and cross-sell of healthy accounts."""
    contraction_prob_frac: Frac
    """Probability of a contraction at renewal for an average account (scaled by ill health)."""
    contraction_frac: FracDist
    """ARR lost in a contraction, as a fraction of the account's ARR."""
    cost_to_serve_per_month_usd: USD
    """Direct cost per customer per month (dedicated hosting, support seats)."""
    accounts_per_csm_target: float = Field(gt=0, le=MAX_RATIO)
    """Target accounts per CSM: SMB 125-200, MM 80-125, large 40-80 (Prescriptive Outcomes)."""
    in_market_per_year_frac: Frac | None = 0.2
    """Share of the segment's not-yet-customer accounts that enter a buying window in a year.
    A lead qualifies into an opportunity only if its account is in market, so opportunities
    (and deals) a month are bounded by this share / 12 of the open market, whatever the
    spend. Ehrenberg-Bass "95:5": ~20% a year, ~5% a quarter (benchmarks S4). ``null``
    turns the cap off: every qualified lead is an opportunity (the textbook market)."""

    @model_validator(mode="after")
    def _shares(self) -> Segment:
        total = sum(c.share_frac for c in self.contracts)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"contracts: share_frac must sum to 1 (got {total:g})")
        if not any(c.offered for c in self.contracts):
            raise ValueError("contracts: at least one option must be offered (offered: true)")
        if self.installed_arr_usd and not self.installed_customers:
            raise ValueError("installed_arr_usd: needs installed_customers > 0 (got "
                             f"{self.installed_arr_usd:g} USD for no customers)")
        if self.installed_customers > self.market_size_accounts:
            raise ValueError(
                f"installed_customers ({self.installed_customers}) exceeds "
                f"market_size_accounts ({self.market_size_accounts})"
            )
        return self
