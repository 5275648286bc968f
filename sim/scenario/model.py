"""The scenario language: a typed, frozen description of the business and the plan.

Every field has a unit (name suffix or type alias) and a docstring saying what it means and
where its default comes from. ``baseline.yaml`` sets everything; other scenarios ``extends:``
it and change only what they need. Loading, inheritance and overrides live in
``sim.scenario.io``; this module only declares the shape.
"""

from __future__ import annotations

import math
import typing
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.scenario.distributions import (
    Beta,
    Distribution,
    Fixed,
    Gamma,
    LogNormal,
    bool_message,
    support_max,
    support_min,
)

# ---------------------------------------------------------------- ranges
# Every money, count and rate field has an upper bound far above any real plan, so that a
# typo (or a hostile file) cannot overflow the arithmetic, silently give $0, or ask the
# random generators for more draws than fit in memory. The work of a valid scenario is then
# bounded by ``sim.experiments.workload`` before a run. No default or bundled value is near a bound.

MAX_USD = 1e12
"""Largest amount of any money field (USD; per person, seat, account or month as named)."""
MAX_PEOPLE = 1_000_000
"""Largest headcount of a role, hiring step or partner count."""
MAX_ACCOUNTS = 1_000_000_000
"""Largest market size (accounts); the installed base is at most the market."""
MAX_PER_MONTH = 100_000.0
"""Largest per-person rate per month (leads per SDR, referrals per partner)."""
MAX_PER_YEAR = 1_000.0
"""Largest per-account rate per year (upsells, cross-sells, advocates, references)."""
MAX_SEATS = 1_000_000.0
"""Largest mean of a seats-per-account distribution."""
MAX_DAYS = 36_500.0
"""Longest time-to-value target (days, 100 years)."""
MAX_RATIO = 1_000_000.0
"""Largest value of an open-ended ratio (accounts per CSM, churn concentration)."""


def _not_bool(value):
    # YAML 1.1 reads yes/no/on/off/true/false as booleans; never let them pass as 1 or 0
    if isinstance(value, bool):
        raise ValueError(bool_message(value))
    return value


_Number = Annotated[float, BeforeValidator(_not_bool)]

# Unit aliases: the name of the alias is the unit.
USD = Annotated[_Number, Field(ge=0, le=MAX_USD)]
"""US dollars, never negative, at most ``MAX_USD``."""
Frac = Annotated[_Number, Field(ge=0, le=1)]
"""A fraction or probability in [0, 1]."""
PositiveUSD = Annotated[_Number, Field(gt=0, le=MAX_USD)]
"""US dollars, strictly positive, at most ``MAX_USD``."""
PerMonth = Annotated[_Number, Field(ge=0, le=MAX_PER_MONTH)]
PositivePerMonth = Annotated[_Number, Field(gt=0, le=MAX_PER_MONTH)]
PerYear = Annotated[_Number, Field(ge=0, le=MAX_PER_YEAR)]
People = Annotated[int, Field(ge=0, le=MAX_PEOPLE)]
"""A head count (people or partners)."""
Month = Annotated[int, Field(ge=1, le=240)]
"""A month of the plan, 1 = the first month simulated."""


def _nonnegative(d):
    if support_min(d) < 0:
        raise ValueError(f"must not produce negative values (lowest possible {support_min(d)})")
    return d


def _positive(d):
    if support_min(d) <= 0 and d.dist in ("fixed", "triangular"):
        raise ValueError(f"must be > 0 (lowest possible {support_min(d)})")
    return d


def _fraction(d):
    if support_min(d) < 0 or support_max(d) > 1:
        raise ValueError(
            f"must stay within [0, 1] (range {support_min(d)}..{support_max(d)}); use beta, "
            "triangular or fixed"
        )
    return d


def _at_most(limit: float, name: str):
    def check(d):
        top = support_max(d)
        top = d.mean() if math.isinf(top) else top
        if top > limit:
            raise ValueError(f"mean or highest value must be <= {limit:,.0f} (got {top:,.6g}, "
                             f"limit {name})")
        return d
    return AfterValidator(check)


Duration = Annotated[Distribution, AfterValidator(_nonnegative)]
"""A duration distribution in days (never negative; no upper bound: a very long duration is how
a scenario says "never", and it costs no work)."""
PositiveDist = Annotated[Distribution, AfterValidator(_positive)]
SeatsDist = Annotated[PositiveDist, _at_most(MAX_SEATS, "MAX_SEATS")]
PriceDist = Annotated[PositiveDist, _at_most(MAX_USD, "MAX_USD")]
MAX_AGE_MONTHS = 1200.0
"""Ages of installed accounts: at most a hundred years."""
NonNegativeDist = Annotated[Distribution, AfterValidator(_nonnegative)]
AgeDist = Annotated[NonNegativeDist, _at_most(MAX_AGE_MONTHS, "MAX_AGE_MONTHS")]
FracDist = Annotated[Distribution, AfterValidator(_fraction)]


def _kinds(annotation) -> set:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, dict):
        return {typing.get_origin(annotation)}
    return set().union(*(_kinds(a) for a in args)) if args else {annotation}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value, info: ValidationInfo):
        if isinstance(value, bool) and info.field_name:
            kinds = _kinds(cls.model_fields[info.field_name].annotation)
            numeric = {int, float} & kinds or any(
                isinstance(k, type) and issubclass(k, BaseModel) and "dist" in k.model_fields
                for k in kinds)
            if bool not in kinds and numeric:
                raise ValueError(bool_message(value))
        return value


# ---------------------------------------------------------------- headcount


class HiringStep(Model):
    month: Month
    """Plan month in which the change takes effect (start of month)."""
    add: int = Field(ge=-MAX_PEOPLE, le=MAX_PEOPLE)
    """People added (negative: reductions). AE departures are backfilled separately."""


class Role(Model):
    count: People
    """Headcount at the start of month 1."""
    loaded_cost_per_month_usd: USD
    """Fully loaded monthly cost per person (salary or OTE, benefits, tools), paid every month."""
    ramp_months: float = Field(default=0.0, ge=0, le=24)
    """Months for a new hire to reach full productivity (linear ramp). Bridge Group: AEs just
    under 5 months, SDRs just over 3."""
    hiring_plan: list[HiringStep] = Field(default=[], max_length=240)
    """Step changes of headcount by month."""


class Headcount(Model):
    sdr: Role
    """Sales development reps: create outbound leads in the segments
    ``channels.outbound.segment_mix`` assigns them to. (Account executives are staffed per
    sales team in ``sales.teams``.)"""
    csm: Role
    """Customer success managers: coverage of the installed base drives retention."""
    onboarding: Role
    """Onboarding / implementation specialists: capacity for new customers' onboarding."""
    management: Role
    """Revenue leadership and operations (counted in other opex)."""


# ---------------------------------------------------------------- segments


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
    in_market_per_year_frac: Frac = 0.2
    """Share of the segment's not-yet-customer accounts that enter a buying window in a year.
    A lead qualifies into an opportunity only if its account is in market, so opportunities
    (and deals) a month are bounded by this share / 12 of the open market, whatever the
    spend. Ehrenberg-Bass "95:5": ~20% a year, ~5% a quarter (benchmarks S4)."""

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


# ---------------------------------------------------------------- pricing


class SegmentPrice(Model):
    list_price_usd: USD
    """List price per seat per year."""
    discount_cap_frac: Frac
    """Largest discount a rep may give off the (term-discounted) list price. A buyer who needs
    more is lost on price; concessions above it are cut. Negotiated discounts 18-42% off list
    (tier-1 vendors); approval tiers rep <=10%, manager <=20%, RVP <=35% (S6, low trust)."""
    rep_discount_frac: FracDist = Field(default_factory=lambda: Fixed(value=0.0))
    """Discount reps concede on a won deal even where the buyer would pay list (drawn per
    deal); the deal gets max(this, what the buyer needs), at most the cap. 0 = reps give only
    what the buyer needs. Effective/list SMB assisted 68-85%, MM 55-75%, Ent 42-62% (S6, low
    trust); negotiated enterprise 18-42% off list (section 4)."""
    quarter_end_extra_discount_frac: Frac = 0.0
    """Extra discount conceded on deals closing in the last ``quarter_end_window_days`` of a
    plan quarter (still bounded by the cap). Final 2 weeks 10-25 points cheaper; last week of
    quarter deal size ~12% lower (S6, secondary)."""
    installed_list_price_usd: _Number | None = Field(default=None, gt=0, le=MAX_USD)
    """List price per seat-year the installed base signed against; null = ``list_price_usd``.
    When the list price differs, ``installed_price_policy`` says what installed customers pay
    at renewal (a list cut is not passed on)."""
    installed_price_policy: Literal["grandfather", "step_to_list"] = "grandfather"
    """grandfather: installed customers keep their own price path (the renewal escalator
    only). step_to_list: at each renewal their price moves toward the new list (the same
    relative discount) by at most ``installed_price_step_cap_frac``, on top of the escalator;
    the uplift churn response and over-willingness-to-pay churn apply to the whole step."""
    installed_price_step_cap_frac: Frac = 0.10
    """Largest move toward the new list price per renewal (per year for monthly contracts).
    Assumption; firms realise about half of the increase they ask for (S7)."""
    wtp_signal_noise_frac: float = Field(default=0.25, ge=0, le=5)
    """How well reps read a buyer's private willingness to pay: they see ``wtp * exp(sigma
    Z)``, Z standard normal, this the sigma (0 = they know it). Assumption: no published
    figure; enterprise reps do more discovery (e.g. SMB 0.30, mid-market 0.25, enterprise
    0.20)."""
    concession_step_frac: Frac = 0.07
    """Largest move of the rep's offer per counter round (off the term-discounted list).
    0 = take it or leave it at the opening offer. Assumption."""
    counter_round_days: float = Field(default=7.0, ge=0, le=365)
    """Days each counter round adds to the sales cycle. Assumption (e.g. SMB 5, mid-market
    10, enterprise 15)."""


_RETIRED_PRICING_FIELDS = {
    "uplift_churn_elasticity": "uplift_churn_at_reference_frac, uplift_churn_reference_frac "
                               "and uplift_churn_shape (a step hazard, S7)",
    "over_wtp_churn_prob_frac": "over_reference_churn_scale_frac and segments.*."
                                "switching_cost_frac (willingness to pay plus switching cost)",
}


class Pricing(Model):
    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data):
        if isinstance(data, dict):
            for old, new in _RETIRED_PRICING_FIELDS.items():
                if old in data:
                    raise ValueError(f"{old} was replaced by {new}")
        return data

    segments: dict[str, SegmentPrice]
    """List price and discount policy per segment (same keys as ``segments``)."""
    annual_uplift_frac: Frac
    """Price increase applied at each renewal of a 12+ month term (or yearly for monthly
    contracts). Historically 3-9%/yr."""
    uplift_churn_at_reference_frac: Frac = 0.135
    """Extra churn probability at a renewal whose price rises by
    ``uplift_churn_reference_frac``: S7, unplanned increases add +12-15 points of churn
    (midpoint). The step hazard is 1 - (1 - this)^((step / reference)^shape), on top of the
    account's own churn (independent hazards)."""
    uplift_churn_reference_frac: float = Field(default=0.20, gt=0, le=10)
    """The price step at which ``uplift_churn_at_reference_frac`` holds. Assumption: an
    unplanned increase of about 20% (S7: SaaS price inflation 11.4% a year, firms realise
    about half of what they ask)."""
    uplift_churn_shape: float = Field(default=2.0, ge=1, le=10)
    """Exponent of the step hazard: above 1, a small planned escalator is nearly free and
    larger steps cost more and more (S7: <3 points of churn with a process; 4%/yr gives 0.6
    points at the defaults, a 10% step 3.6 points). Assumption."""
    over_reference_churn_scale_frac: float = Field(default=0.10, gt=0, le=10)
    """A renewal priced above the account's willingness to pay plus its switching cost
    (``segments.*.switching_cost_frac``) leaves with probability 1 - exp(-(excess / this)^2):
    10% above -> 63%, 20% above -> 98% ("far above leaves almost surely"). Assumption."""
    quarter_end_window_days: float = Field(default=14.0, ge=0, le=91)
    """Days before each plan quarter end in which reps concede
    ``quarter_end_extra_discount_frac`` more (S6: the final 2 fiscal weeks)."""
    walk_prob_per_round_frac: Frac = 0.15
    """Chance a buyer walks away at each counter round of a negotiation. Assumption."""
    max_counter_rounds: int = Field(default=3, ge=0, le=10)
    """Counter rounds after the rep's opening offer; refused at the last, the deal is lost on
    price. Assumption."""
    approval_days_per_tier: float = Field(default=2.0, ge=0, le=365)
    """Days each approval above the rep's own authority adds to the cycle (tiers S6: rep
    <=10%, manager <=20%, RVP <=35%, VP <=50%; no discount above 50% is given). Assumption."""
    pull_forward_window_days: float = Field(default=21.0, ge=0, le=91)
    """A deal whose cycle would end within this many days after a quarter end may be offered
    the quarter-end extra to close before it. Assumption (S6: period-end push)."""
    pull_forward_prob_frac: Frac = 0.4
    """Chance such a deal is pulled into the last ``quarter_end_window_days`` of the quarter
    (only where the segment's ``quarter_end_extra_discount_frac`` > 0). Assumption."""
    pull_forward_slip_prob_frac: Frac = 0.15
    """Chance a pulled deal slips and is lost. Assumption; S6: the last day of a month has 3x
    the deals won and 11.43x the deals lost."""


# ---------------------------------------------------------------- channels


class PlanStep(Model):
    month: Month
    """Plan month from which the value applies."""
    value: float = Field(ge=0, le=MAX_USD)
    """New value from that month on (USD per month, or a partner count up to MAX_PEOPLE)."""


class Inbound(Model):
    budget_per_month_usd: USD
    """Paid marketing programme budget per month (media, events, content)."""
    budget_plan: list[PlanStep] = Field(default=[], max_length=240)
    """Budget changes by month (USD per month from that month)."""
    segment_mix: dict[str, Frac]
    """Share of the budget spent on each segment (sums to 1). Each segment turns its spend
    into leads on its own response curve, so moving spend changes the lead count too."""
    cost_per_lead_usd: dict[str, PositiveUSD]
    """Average cost of a lead in each segment at ``reference_spend_per_month_usd``. Rises with
    the segment's deal size (benchmarks S1: cost per MQL ~3% of ACV, rule of thumb; paid
    mid-market leads $80-350 in section 3)."""
    reference_spend_per_month_usd: dict[str, PositiveUSD]
    """Monthly spend on a segment at which ``cost_per_lead_usd`` holds."""
    response_exponent_b: dict[str, Annotated[_Number, Field(gt=0, le=1)]]
    """b in leads = (s_ref / cpl) * (s / s_ref)^b per segment: doubling a segment's spend
    multiplies its leads by 2^b, so its average cost per lead rises (assumption)."""
    qualify_prob_frac: dict[str, Frac]
    """Chance that a lead qualifies into an opportunity when its account is in market and no
    other channel reached it first (see ``segments.*.in_market_per_year_frac``). Implisit:
    13%; FPS funnels ~10-20%."""


class Outbound(Model):
    segment_mix: dict[str, Frac]
    """Share of SDR effort assigned to each segment (sums to 1)."""
    fresh_leads_per_sdr_per_month: dict[str, PerMonth]
    """Leads a ramped SDR makes a month in a segment whose accounts are all fresh (none
    cooling down from an earlier contact). Fewer in enterprise: benchmarks S3, qualified
    meetings per SDR a month outbound 12-15, enterprise 4-6."""
    accounts_contacted_per_sdr_per_month: dict[str, PositivePerMonth]
    """Accounts one ramped SDR works (a cadence of touches) a month in a segment: fewer for
    larger accounts, which take research and several contacts each (assumption; S3 cadence:
    4-12 attempts per lead)."""
    cooldown_months: int = Field(default=6, ge=0, le=36)
    """Months an account worked by an SDR is left alone before it may be contacted again
    (assumption). With a finite pool, more SDRs reach fewer fresh accounts each."""
    qualify_prob_frac: dict[str, Frac]
    """Lead-to-opportunity probability by segment when the account is in market."""


class Partner(Model):
    active_partners: People
    """Active referral partners at the start."""
    partner_plan: list[PlanStep] = Field(default=[], max_length=240)
    """Active partner count by month."""
    referrals_per_partner_per_month: PerMonth
    """Leads referred per active partner per month."""
    segment_mix: dict[str, Frac]
    """Share of referrals by segment (sums to 1)."""
    qualify_prob_frac: dict[str, Frac]
    """Referral-to-opportunity probability by segment (referrals convert best: Implisit 3.6%
    lead-to-sale vs 1.6% web)."""
    win_prob_lift_frac: float = Field(default=0.117, ge=0, le=1)
    """Relative lift of the base win probability on partner deals (Crossbeam: +11.7%)."""
    commission_frac: Frac
    """Share of the revenue of partner-sourced accounts paid to the partner (HubSpot: 20%)."""
    commission_months: int = Field(ge=0, le=120)
    """Months after the sale during which commission is paid (HubSpot: 12 or 36)."""
    program_cost_per_partner_per_month_usd: USD = 0.0
    """Partner programme cost per active partner (enablement, MDF)."""
    commission_reference_frac: Frac = 0.20
    """Commission at which partners refer ``referrals_per_partner_per_month`` (HubSpot 20%,
    section 7)."""
    referral_commission_response_frac: Frac = 0.8
    """Share of referrals that respond to the commission: referrals scale by ``1 + s (g(r)
    - 1)`` with ``g`` the concave effort index of ``commission / reference`` (docs S10), so no
    commission keeps ``1 - s`` of them (partners who refer for their clients' sake) and more
    commission has diminishing returns. Assumption (S10)."""
    referral_commission_curvature: float = Field(default=2.0, ge=0, le=20)
    """k of the effort index ``g(r) = (1 - e^-kr) / (1 - e^-k)``; higher = faster
    saturation above the reference. Assumption (S10)."""

    @model_validator(mode="after")
    def _partner_counts(self) -> Partner:
        for i, step in enumerate(self.partner_plan):
            if step.value > MAX_PEOPLE:
                raise ValueError(f"partner_plan.{i}.value: must be <= {MAX_PEOPLE} partners "
                                 f"(got {step.value:g})")
        return self


class Channels(Model):
    inbound: Inbound
    outbound: Outbound
    partner: Partner


# ---------------------------------------------------------------- sales, onboarding, CS


class SalesTeam(Model):
    """Account executives who work the opportunities of the segments they cover. A pooled
    team in one line: ``all: {segments: [smb, mid_market, enterprise], count: 14,
    loaded_cost_per_month_usd: 24000, concurrent_deals_per_ae: 16}``."""

    segments: list[str] = Field(min_length=1, max_length=1000)
    """Segments whose opportunities queue for this team (each segment has exactly one team)."""
    count: People
    """AEs at the start of month 1 (fully ramped)."""
    loaded_cost_per_month_usd: USD
    """Fully loaded monthly cost per AE (OTE, benefits, tools). ICONIQ: SaaS AE OTE
    $235-250K, 50/50."""
    hiring_plan: list[HiringStep] = Field(default=[], max_length=240)
    """Step changes of the team's headcount by month; departures are backfilled separately."""
    ramp_months: float = Field(default=5.0, ge=0, le=24)
    """Months for a new AE to reach full productivity (linear). Bridge Group: just under 5."""
    concurrent_deals_per_ae: int = Field(ge=1, le=200)
    """Opportunities one ramped AE works at once: far fewer for enterprise deals than SMB
    (benchmarks S5: open opps per rep SMB 22-35, MM 12-22, Ent 4-9; Kellogg: 9
    current-quarter, 21 all-quarter)."""
    attrition_per_year_frac: Frac = 0.30
    """Share of the team leaving per year; backfilled by ramping hires. Bridge Group ~1 in 3."""
    fail_to_ramp_frac: Frac = 0.25
    """Share of new AEs who never reach full productivity (25-30% field reps, lower inside)."""
    failed_ramp_productivity_frac: Frac = 0.5
    """Productivity of an AE who never fully ramps (assumption)."""
    quota_new_arr_per_year_usd: USD = 750000.0
    """New ARR a ramped AE is expected to close a year; attainment is reported per team.
    BenchSights: median $750K (mean $955K); enterprise ~$800K (benchmarks S5)."""
    self_sourced_share_frac: Frac = 0.2
    """AE prospecting: opportunities a ramped AE sources itself a month, as a share of the
    deals its slots can work a month (``concurrent_deals_per_ae`` x 30.4 / mean sales
    cycle), at full prospecting time; they draw on the same accounts as the channels
    (contact pool, in-market cap). 0 = AEs only work the channels' opportunities.
    Assumption: no published AE-sourced pipeline share (benchmarks, gaps; Kellogg's
    "sales/outbound" source, S11)."""
    prospecting_time_frac: Frac = 0.25
    """Share of a ramped AE's time spent prospecting while its deal slots leave room; it
    shrinks as the team's utilisation goes from 1 - this to 1, so a saturated team stops
    prospecting. Assumption (S11)."""


class Sales(Model):
    teams: dict[str, SalesTeam] = Field(min_length=1, max_length=1000)
    """Sales teams by name; every segment is covered by exactly one team."""
    commission_frac: Frac
    """Sales commission on first-year contract value of new deals (ICONIQ: 10%)."""
    expansion_commission_frac: Frac = 0.08
    """Commission on expansion ARR (median upsell commission 8%)."""
    commission_reference_frac: Frac = 0.10
    """Commission at which AE effort is the scenario's own (win probabilities, cycles and
    attrition as stated): ICONIQ 10% (section 2, S10)."""
    effort_curvature: float = Field(default=2.0, ge=0, le=20)
    """k of the effort index ``g(r) = (1 - e^-kr) / (1 - e^-k)``, r = commission / reference:
    0 at no commission, 1 at the reference, concave above. Assumption (S10)."""
    effort_win_prob_response_frac: Frac = 0.25
    """Win probabilities scale by ``1 + s (g - 1)``: no commission keeps 1 - s of them (base
    salary still buys some effort); double commission about +3%. Assumption sized to the
    field studies (S10: a comp-plan change raised output ~9%)."""
    effort_cycle_response_frac: Frac = 0.20
    """Sales cycles scale by ``1 / (1 + s (g - 1))``: no commission, cycles x1.25. Assumption
    (S10)."""
    effort_attrition_response_frac: float = Field(default=1.0, ge=0, le=10)
    """AE attrition hazard scales by ``1 + s (1 - g)``: no commission doubles departures;
    more commission keeps reps longer. Assumption (S10)."""


class Onboarding(Model):
    concurrent_projects_per_specialist: int = Field(ge=1, le=100)
    """Onboarding projects one specialist runs at once."""
    late_churn_uplift_frac: float = Field(ge=0, le=10)
    """Churn multiplier added per 100% overrun of the time-to-value target (assumption)."""
    max_late_factor: float = Field(default=2.5, ge=1, le=10)
    """Cap on the late-onboarding churn multiplier."""


class CustomerSuccess(Model):
    coverage_churn_elasticity: float = Field(ge=0, le=5)
    """Churn multiplier = (accounts per CSM / target)^e: overloaded CSMs raise churn."""
    min_factor: float = Field(default=0.6, gt=0, le=1)
    """Floor of the coverage multiplier (over-staffing helps only so much)."""
    max_factor: float = Field(default=2.5, ge=1, le=10)
    """Cap of the coverage multiplier."""


class Costs(Model):
    hosting_support_frac_of_revenue: Frac
    """Hosting and support cost as a share of revenue (COGS ~21-35% of revenue overall)."""
    payment_fee_frac_of_billings: Frac
    """Payment and billing fees as a share of billings (Stripe Billing 0.7% + card/ACH)."""
    fixed_opex_per_month_usd: USD
    """R&D, G&A and facilities per month (other opex)."""
    fixed_opex_growth_per_year_frac: float = Field(default=0.0, ge=-0.5, le=2)
    """Yearly growth of fixed opex."""


class Finance(Model):
    starting_cash_usd: float = Field(ge=-MAX_USD, le=MAX_USD)
    """Cash at the start of month 1 (may be negative only for an overdrawn start)."""
    collection_lag_days: Duration
    """Days from invoice to cash. Growfin 2025: median DSO 38.6-51.3 days."""
    discount_rate_per_year_frac: Frac
    """Discount rate for NPV of operating profit."""


class Opening(Model):
    """The state of the running business at day 0 (the start of month 1)."""

    business_age_months: float = Field(default=60.0, ge=1, le=600)
    """Months the business has been selling. The installed base is read as the survivors of
    a steady flow of new customers over this time: their ages, contract mix and churn
    propensities follow (assumption: a five-year-old company)."""
    pipeline: Literal["steady_state", "empty"] = "steady_state"
    """``steady_state``: month 1's opportunity flow runs ``pipeline_warm_up_months`` before
    day 0 on AE capacity of month 1, so the deals in flight and the AEs' occupancy at day 0 are
    those of a running business (the warm-up books nothing; its deals closed before day 0 are
    part of the installed base). ``empty``: no open opportunity at day 0. docs/saas-benchmarks.md
    S8: start-of-quarter pipeline coverage 3-5x."""
    pipeline_warm_up_months: int = Field(default=12, ge=1, le=36)
    """Months of warm-up: longer than the longest sales cycle plus patience (assumption)."""
    receivables: Literal["steady_state", "none"] = "steady_state"
    """``steady_state``: invoices of the installed base issued before day 0 (annual invoices
    at the start of each contract year, monthly ones mid-month) whose collection lag runs past
    day 0 are open receivables, collected in the plan. ``none``: receivables start at 0.
    docs/saas-benchmarks.md section 8 (DSO 38.6-51.3 days)."""
    receivables_usd: USD | None = None
    """Open receivables at day 0 as known from the books; collected on the steady-state
    schedule scaled to this total. null = the steady-state amount."""

    @model_validator(mode="after")
    def _receivables_given_or_none(self) -> Opening:
        if self.receivables == "none" and self.receivables_usd is not None:
            raise ValueError("receivables_usd: give an amount or receivables: none, not both")
        return self


class Target(Model):
    name: str
    """Label shown in reports."""
    metric: Literal[
        "net_new_arr", "operating_profit", "revenue", "ending_arr", "nrr", "grr", "cash_floor"
    ]
    """What is measured (per plan year, or whole horizon when year is null)."""
    year: int | None = Field(default=None, ge=1, le=20)
    """Plan year the target applies to; null = whole horizon."""
    op: Literal[">=", "<="] = ">="
    """Direction of the target."""
    value: float = Field(ge=-1e15, le=1e15)
    """Target value (USD, or a fraction for nrr/grr)."""


class AccountPlan(Model):
    """The "Trust Enablement" account-plan programme (see the domain article)."""

    enabled: bool = False
    """Turn stakeholder modelling and the programme on."""
    segments: list[str] = ["enterprise", "mid_market"]
    """Segments whose accounts have modelled stakeholders."""
    stakeholders_per_account: int = Field(default=5, ge=1, le=20)
    """Stakeholder roles: end users, admins, procurement, budget holder, executive sponsor."""
    initial_advocates: int = Field(default=1, ge=0, le=20)
    """Advocates besides the champion at the sale."""
    critic_prob_frac: Frac = 0.3
    """Chance that each non-champion stakeholder is a critic (wanted a competitor)."""
    champion_tenure_months: Distribution = Field(
        default_factory=lambda: Gamma(shape=0.6, scale=60.0)
    )
    """Months until the champion leaves; gamma shape < 1 puts the hazard highest early
    (BLS median tenure 3.9 yrs; the article: often in the first 2-3 months)."""
    no_backup_renewal_factor: Frac = 0.75
    """Multiplier on renewal probability when the champion left and no advocate is left."""
    resell_months: float = Field(default=6.0, ge=0, le=60)
    """Months expansion stops after an unbacked champion departure (the account is re-sold)."""
    advocate_renewal_lift_frac: float = Field(default=0.04, ge=0, le=1)
    """Reduction of churn probability per advocate (relative), multi-threading."""
    critic_churn_uplift_frac: float = Field(default=0.15, ge=0, le=5)
    """Increase of churn probability per unconverted critic (relative)."""
    programme_top_n: int = Field(default=0, ge=0, le=10000)
    """Accounts (largest ARR at month 1, then as they grow) in the programme; 0 = off."""
    programme_cost_per_account_per_month_usd: USD = 4000.0
    """Cross-functional team time (CSM, marketing, sales) per programme account per month."""
    advocate_add_rate_per_year: PerYear = 2.0
    """Advocates added per programme account per year."""
    critic_win_rate_per_year: PerYear = 1.5
    """Critics won over per programme account per year."""
    reference_rate_per_year: PerYear = 0.8
    """References made per programme account per year once it has proven value (≥2 advocates)."""
    new_unit_win_prob_frac: Frac = 0.5
    """Win probability of a deal in another business unit opened by a reference."""
    new_unit_arr_frac: FracDist = Field(default_factory=lambda: Beta(a=2, b=6))
    """ARR of a new-unit deal as a fraction of the account's ARR."""
    new_unit_cycle_days: Duration = Field(
        default_factory=lambda: LogNormal(median=45, sigma=0.4)
    )
    """Sales cycle of a new-unit deal (shorter than a cold enterprise cycle)."""


class Calendar(Model):
    """Where the plan sits in real time: reports label months, quarters and fiscal years."""

    start_month: str = Field(pattern=r"^(19|20|21)\d\d-(0[1-9]|1[0-2])$")
    """Calendar month of plan month 1, as YYYY-MM (e.g. 2026-01)."""
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    """Calendar month (1-12) in which the fiscal year starts; a fiscal year is named by the
    calendar year it ends in (FY2027 runs Feb 2026 - Jan 2027 when it starts in February)."""


# ---------------------------------------------------------------- scenario


class Scenario(Model):
    name: str
    """Short name; defaults to the file name."""
    description: str = ""
    """What this plan changes and why, in words a CFO can read."""
    horizon_months: int = Field(ge=1, le=120)
    """Months simulated (typically 36 to 60)."""
    segments: dict[str, Segment] = Field(min_length=1)
    """Customer segments by name."""
    pricing: Pricing
    channels: Channels
    sales: Sales
    headcount: Headcount
    onboarding: Onboarding
    customer_success: CustomerSuccess
    costs: Costs
    finance: Finance
    targets: list[Target] = []
    """Plan targets (OKRs) whose attainment probability is reported."""
    account_plan: AccountPlan = AccountPlan()
    """Trust Enablement stakeholder model and account-plan programme."""
    opening: Opening = Opening()
    """The running business at day 0: pipeline in flight, receivables, the base's tenure."""
    calendar: Calendar | None = None
    """Start month and fiscal-year start; without it reports say Month 1, Year 1."""

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = set(self.segments)
        problems: list[str] = []
        if set(self.pricing.segments) != names:
            problems.append(
                f"pricing.segments: must name exactly the segments {sorted(names)} "
                f"(got {sorted(self.pricing.segments)})"
            )
        curves = {
            "inbound": ("cost_per_lead_usd", "reference_spend_per_month_usd",
                        "response_exponent_b"),
            "outbound": ("fresh_leads_per_sdr_per_month", "accounts_contacted_per_sdr_per_month"),
            "partner": (),
        }
        for ch_name in ("inbound", "outbound", "partner"):
            ch = getattr(self.channels, ch_name)
            for field in curves[ch_name]:
                missing = [n for n, share in ch.segment_mix.items()
                           if share > 0 and n not in getattr(ch, field)]
                if missing:
                    problems.append(
                        f"channels.{ch_name}.{field}: no value for segment {missing[0]!r}, "
                        "which gets a share in segment_mix"
                    )
            for field in ("segment_mix", "qualify_prob_frac", *curves[ch_name]):
                keys = set(getattr(ch, field))
                unknown = keys - names
                if unknown:
                    problems.append(
                        f"channels.{ch_name}.{field}: unknown segment {sorted(unknown)[0]!r} "
                        f"(segments are {sorted(names)})"
                    )
            total = sum(ch.segment_mix.values())
            if abs(total - 1.0) > 1e-6:
                problems.append(
                    f"channels.{ch_name}.segment_mix: must sum to 1 (got {total:g})"
                )
        covered: dict[str, str] = {}
        for team_name, team in self.sales.teams.items():
            for seg in team.segments:
                if seg not in names:
                    problems.append(
                        f"sales.teams.{team_name}.segments: unknown segment {seg!r} "
                        f"(segments are {sorted(names)})"
                    )
                elif seg in covered:
                    problems.append(
                        f"sales.teams.{covered[seg]}.segments: segment {seg!r} is also "
                        f"covered by team {team_name!r} (each segment has one team)"
                    )
                else:
                    covered[seg] = team_name
        uncovered = sorted(names - set(covered))
        if uncovered:
            problems.append(f"sales.teams: no team covers segment {uncovered[0]!r}")
        for seg in self.account_plan.segments:
            if seg not in names:
                problems.append(
                    f"account_plan.segments: unknown segment {seg!r} (segments are {sorted(names)})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
