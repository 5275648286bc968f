"""The scenario language's base: ranges, unit aliases, checked distributions and the
frozen ``Model`` every scenario part derives from."""

from __future__ import annotations

import math
import typing
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from sim.scenario.distributions import (
    Distribution,
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
