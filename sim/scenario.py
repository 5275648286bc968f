"""The scenario language: a typed, frozen description of the business and the plan.

Every field has a unit (name suffix or type alias) and a docstring saying what it means and
where its default comes from. ``baseline.yaml`` sets everything; other scenarios ``extends:``
it and change only what they need. Loading, inheritance and overrides live in
``sim.scenario_io``; this module only declares the shape.
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

from sim.distributions import (
    Beta,
    Distribution,
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
# bounded by ``sim.workload`` before a run. No default or bundled value is near a bound.

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
PerMonth = Annotated[_Number, Field(ge=0, le=MAX_PER_MONTH)]
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
    ae: Role
    """Account executives: work opportunities (the sales capacity)."""
    sdr: Role
    """Sales development reps: create outbound leads."""
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


class Segment(Model):
    market_size_accounts: int = Field(gt=0, le=MAX_ACCOUNTS)
    """Accounts in the addressable market; leads come only from non-customers, so the
    segment saturates."""
    installed_customers: int = Field(ge=0, le=MAX_ACCOUNTS)
    """Customers at the start of month 1 (the installed base)."""
    installed_price_usd: USD
    """Average net price per seat-year the installed base pays today (before term discounts).
    A list-price change reaches these customers only through the renewal uplift."""
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
    """Mix of terms and billing for new deals; shares sum to 1."""
    renewal_prob_frac: Frac
    """Base probability that an average customer renews at the end of a 12+ month term. SaaS
    Capital: GRR 90-93% by ACV band."""
    monthly_churn_frac: Frac
    """Base monthly churn probability of month-to-month contracts. Recurly: B2B 3.95% voluntary;
    SaaStr: very small business 3-5%."""
    churn_concentration: float | None = Field(default=4.0, gt=0, le=MAX_RATIO)
    """Heterogeneity of churn propensity: each account's churn probability is Beta distributed
    with the base as mean and this concentration (a+b); lower = more spread, so cohort curves
    flatten. null = every account the same."""
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

    @model_validator(mode="after")
    def _shares(self) -> Segment:
        total = sum(c.share_frac for c in self.contracts)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"contracts: share_frac must sum to 1 (got {total:g})")
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
    """Largest discount a rep may give. Negotiated discounts 18-42% off list (tier-1 vendors)."""


class Pricing(Model):
    segments: dict[str, SegmentPrice]
    """List price and discount policy per segment (same keys as ``segments``)."""
    annual_uplift_frac: Frac
    """Price increase applied at each renewal of a 12+ month term (or yearly for monthly
    contracts). Historically 3-9%/yr."""
    uplift_churn_elasticity: float = Field(default=1.5, ge=0, le=20)
    """Churn multiplier per unit of uplift: 1 + e * uplift (assumption; no primary study)."""
    over_wtp_churn_prob_frac: Frac = 0.5
    """Churn probability at renewal when the new price is 20% or more above the account's
    willingness to pay (it shops around); scaled linearly below 20%. Assumption."""


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
    leads_scale_k: float = Field(gt=0, le=1000)
    """k in leads = k * budget^b (monthly). Calibrated to ~$250-350 per lead at baseline
    (mid-market SaaS CPL $80-350)."""
    response_exponent_b: float = Field(gt=0, le=1)
    """b in leads = k * budget^b: diminishing returns of spend (b < 1)."""
    segment_mix: dict[str, Frac]
    """Share of leads by segment (sums to 1)."""
    qualify_prob_frac: dict[str, Frac]
    """Lead-to-opportunity probability by segment. Implisit: 13%; FPS funnels ~10-20%."""


class Outbound(Model):
    leads_per_sdr_per_month: PerMonth
    """Leads worked per ramped SDR per month. Bridge Group: 13 qualified opps per SDR."""
    segment_mix: dict[str, Frac]
    """Share of leads by segment (sums to 1)."""
    qualify_prob_frac: dict[str, Frac]
    """Lead-to-opportunity probability by segment."""


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


class Sales(Model):
    concurrent_deals_per_ae: int = Field(ge=1, le=200)
    """Opportunities one fully ramped AE works at once (Kellogg: ~9 current-quarter)."""
    ae_attrition_per_year_frac: Frac
    """Share of AEs leaving per year; backfilled by new (ramping) hires. Bridge Group ~1 in 3."""
    ae_fail_to_ramp_frac: Frac
    """Share of new AEs who never reach full productivity (25-30% field reps)."""
    failed_ramp_productivity_frac: Frac = 0.5
    """Productivity of an AE who never fully ramps."""
    commission_frac: Frac
    """Sales commission on first-year contract value of new deals (ICONIQ: 10%)."""
    expansion_commission_frac: Frac = 0.08
    """Commission on expansion ARR (median upsell commission 8%)."""


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
        for ch_name in ("inbound", "outbound", "partner"):
            ch = getattr(self.channels, ch_name)
            for field in ("segment_mix", "qualify_prob_frac"):
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
        for seg in self.account_plan.segments:
            if seg not in names:
                problems.append(
                    f"account_plan.segments: unknown segment {seg!r} (segments are {sorted(names)})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
