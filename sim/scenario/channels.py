"""Demand channels: inbound marketing, outbound SDRs and referral partners."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from sim.scenario.base import (
    MAX_PEOPLE,
    MAX_USD,
    USD,
    Frac,
    Model,
    Month,
    People,
    PerMonth,
    PositivePerMonth,
    PositiveUSD,
    _Number,
)


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
