"""The company's people: headcount by role, sales teams and their commission, onboarding
and customer success."""

from __future__ import annotations

from pydantic import Field

from sim.scenario.base import MAX_PEOPLE, USD, Frac, Model, Month, People


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
    accelerator_multiplier: float = Field(default=1.0, ge=1, le=10)
    """Commission multiplier on new ARR an AE closes above its quota (section 2 "AE OTE;
    commission", ICONIQ; common plans pay 1.5-2x above 100% attainment). 1 = no accelerator,
    the baseline's flat rate, which leaves effort and commission as they were. Effort
    responds to the expected marginal commission ``commission x (1 + (m - 1) P(attainment
    >= 1))`` (S10), so a quota nobody reaches makes the accelerator worthless. The size is an
    assumption."""
    attainment_dispersion: float = Field(default=0.5, gt=0, le=3)
    """Log standard deviation of one AE's attainment around its team's running attainment
    (new ARR of the last 3 months against the quota of its ramped AEs): at a team mean of
    80-90% of quota, 24-32% of AEs reach it (S5: 33% Lightspeed, 20-28% BenchSights).
    Assumption."""
    accelerator_pull_forward_response: float = Field(default=2.0, ge=0, le=20)
    """The quarter-end pull-forward probability scales by ``1 + s (m - 1) P(attainment >=
    1)`` (at most 1): reps near or above quota push deals into the quarter to be paid the
    accelerated rate. Assumption (S6 gives the direction, S10 the marginal incentive)."""


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
