"""Pricing: list prices, discount policy, negotiation and renewal price steps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import MAX_USD, USD, Frac, FracDist, Model, _Number
from sim.scenario.distributions import Fixed


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
