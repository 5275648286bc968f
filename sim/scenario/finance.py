"""Money and the plan around it: costs, finance, the business at day 0, targets, the
account-plan programme and the calendar."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import (
    MAX_USD,
    USD,
    Duration,
    Frac,
    FracDist,
    Model,
    PerYear,
)
from sim.scenario.distributions import Beta, Distribution, Gamma, LogNormal


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
    """A plan target (OKR): one metric against a value, or ``all:`` a list of targets that
    must all be hit in the same replication (a joint target, e.g. net new ARR and a cash
    floor together). A target whose plan year starts after the horizon has no probability
    (n/a), and neither has a joint target with such a member."""

    name: str = ""
    """Label shown in reports; made from the target (metric, year, op, value) when left out."""
    metric: Literal[
        "net_new_arr", "operating_profit", "revenue", "ending_arr", "nrr", "grr", "cash_floor"
    ] | None = None
    """What is measured (per plan year, or whole horizon when year is null); none with all."""
    year: int | None = Field(default=None, ge=1, le=20)
    """Plan year the target applies to; null = whole horizon."""
    op: Literal[">=", "<="] = ">="
    """Direction of the target."""
    value: float | None = Field(default=None, ge=-1e15, le=1e15)
    """Target value (USD, or a fraction for nrr/grr); none with all."""
    all: list[Target] | None = Field(default=None, min_length=2, max_length=20)
    """Targets that must all be hit in the same replication; the joint probability is the
    share of replications that hit every one (members are single targets, not joint ones)."""

    @staticmethod
    def _name_of(data: object) -> str:
        if not isinstance(data, dict):
            return str(getattr(data, "name", ""))
        if data.get("name"):
            return str(data["name"])
        if isinstance(data.get("all"), list):
            return " and ".join(Target._name_of(m) for m in data["all"])
        year = f" year {data['year']}" if data.get("year") is not None else ""
        value = data.get("value")
        shown = (str(value) if not isinstance(value, int | float)
                 else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}")
        return f"{data.get('metric')}{year} {data.get('op', '>=')} {shown}"

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data):
        if isinstance(data, dict) and not data.get("name"):
            data = {**data, "name": cls._name_of(data)}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if self.all is None:
            missing = [k for k in ("metric", "value") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a target needs {' and '.join(missing)} (or all: a list of "
                                 "targets)")
        else:
            extra = [k for k in ("metric", "value", "year") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"a joint target (all:) takes no {', '.join(extra)}: its "
                                 "members carry them")
            if any(m.all is not None for m in self.all):
                raise ValueError("all: members must be single targets, not joint ones")
        return self


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
