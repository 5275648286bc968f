"""The scenario language: a typed, frozen description of the business and the plan.

Every field has a unit (name suffix or type alias) and a docstring saying what it means and
where its default comes from. ``baseline.yaml`` sets everything; other scenarios ``extends:``
it and change only what they need. Loading, inheritance and overrides live in
``sim.scenario.io``; this module only declares the shape. The parts live by concept in
``base`` (ranges, units, ``Model``), ``market``, ``pricing``, ``channels``, ``company`` and
``finance``; this module holds the root ``Scenario`` and re-exports every part, so
``from sim.scenario.model import X`` keeps working.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.scenario.base import (
    MAX_ACCOUNTS,
    MAX_AGE_MONTHS,
    MAX_DAYS,
    MAX_PEOPLE,
    MAX_PER_MONTH,
    MAX_PER_YEAR,
    MAX_RATIO,
    MAX_SEATS,
    MAX_USD,
    USD,
    AgeDist,
    Duration,
    Frac,
    FracDist,
    Model,
    Month,
    NonNegativeDist,
    People,
    PerMonth,
    PerYear,
    PositiveDist,
    PositivePerMonth,
    PositiveUSD,
    PriceDist,
    SeatsDist,
)
from sim.scenario.channels import (
    Channels,
    Inbound,
    Outbound,
    Partner,
    PlanStep,
)
from sim.scenario.company import (
    CustomerSuccess,
    Headcount,
    HiringStep,
    Onboarding,
    Role,
    Sales,
    SalesTeam,
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
from sim.scenario.finance import (
    AccountPlan,
    Calendar,
    Costs,
    Finance,
    Opening,
    Target,
)
from sim.scenario.market import ContractOption, Expansion, Segment
from sim.scenario.pricing import Pricing, SegmentPrice
from sim.scenario.uncertainty import Uncertainty, check_uncertainty, extract_inline


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
    uncertainty: Uncertainty | None = None
    """What the company does not know: ranges on values, drawn once per replication unless
    parameters are fixed (``sim.scenario.uncertainty``; inline ``{estimate: ...}`` values of
    a file land here). None: every value is known."""

    @model_validator(mode="before")
    @classmethod
    def _inline_ranges(cls, data):
        return extract_inline(data)

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
        if self.uncertainty is not None:
            problems.extend(check_uncertainty(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self


__all__ = [
    "AccountPlan",
    "AgeDist",
    "Beta",
    "Calendar",
    "Channels",
    "ContractOption",
    "Costs",
    "CustomerSuccess",
    "Distribution",
    "Duration",
    "Expansion",
    "Finance",
    "Fixed",
    "Frac",
    "FracDist",
    "Gamma",
    "Headcount",
    "HiringStep",
    "Inbound",
    "LogNormal",
    "MAX_ACCOUNTS",
    "MAX_AGE_MONTHS",
    "MAX_DAYS",
    "MAX_PEOPLE",
    "MAX_PER_MONTH",
    "MAX_PER_YEAR",
    "MAX_RATIO",
    "MAX_SEATS",
    "MAX_USD",
    "Model",
    "Month",
    "NonNegativeDist",
    "Onboarding",
    "Opening",
    "Outbound",
    "Partner",
    "People",
    "PerMonth",
    "PerYear",
    "PlanStep",
    "PositiveDist",
    "PositivePerMonth",
    "PositiveUSD",
    "PriceDist",
    "Pricing",
    "Role",
    "Sales",
    "SalesTeam",
    "Scenario",
    "SeatsDist",
    "Segment",
    "SegmentPrice",
    "Target",
    "USD",
    "bool_message",
    "support_max",
    "support_min",
]
