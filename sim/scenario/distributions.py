"""Distribution objects used by scenario files for every duration and uncertain quantity.

A scenario writes ``{dist: lognormal, median: 60, sigma: 0.5}``; a bare number means a fixed
value. Each distribution checks its own parameters and samples from a ``random.Random``
stream (Python's generator is about 5x cheaper per scalar draw than numpy here).
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def bool_message(value: bool) -> str:
    """The error for a boolean where a number belongs (YAML 1.1 reads yes/on as true)."""
    word = str(value).lower()
    return f"expected a number, not {word} (YAML reads yes/no/on/off as true/false)"


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data):
        for key, value in data.items() if isinstance(data, dict) else ():
            if isinstance(value, bool):
                raise ValueError(f"{key}: {bool_message(value)}")
        return data

    def sample(self, rng: random.Random) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """``n`` draws at once (numpy), for attributes drawn in bulk."""
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class Fixed(_Dist):
    """Always the same value."""

    dist: Literal["fixed"] = "fixed"
    value: float

    def sample(self, rng: random.Random) -> float:
        return self.value

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def mean(self) -> float:
        return self.value


class Exponential(_Dist):
    """Exponential with the given mean (memoryless durations, Poisson gaps)."""

    dist: Literal["exponential"] = "exponential"
    mean_value: float = Field(gt=0, alias="mean")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_value)

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.exponential(self.mean_value, n)

    def mean(self) -> float:
        return self.mean_value


class LogNormal(_Dist):
    """Log-normal given by its median and the sigma of the underlying normal (right-skewed)."""

    dist: Literal["lognormal"] = "lognormal"
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)

    def sample(self, rng: random.Random) -> float:
        return self.median * math.exp(rng.gauss(0.0, self.sigma))

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return self.median * np.exp(gen.normal(0.0, self.sigma, n))

    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


class Gamma(_Dist):
    """Gamma with shape k and scale theta (mean k*theta)."""

    dist: Literal["gamma"] = "gamma"
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    def sample(self, rng: random.Random) -> float:
        return rng.gammavariate(self.shape, self.scale)

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.gamma(self.shape, self.scale, n)

    def mean(self) -> float:
        return self.shape * self.scale


class Triangular(_Dist):
    """Triangular between low and high with the given mode (expert ranges)."""

    dist: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError(
                f"needs low <= mode <= high and low < high (got {self.low}, {self.mode}, {self.high})"
            )
        return self

    def sample(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.triangular(self.low, self.mode, self.high, n)

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Beta(_Dist):
    """Beta(a, b) on [0, 1], for fractions."""

    dist: Literal["beta"] = "beta"
    a: float = Field(gt=0)
    b: float = Field(gt=0)

    def sample(self, rng: random.Random) -> float:
        return rng.betavariate(self.a, self.b)

    def sample_array(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.beta(self.a, self.b, n)

    def mean(self) -> float:
        return self.a / (self.a + self.b)


def _number_is_fixed(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return {"dist": "fixed", "value": value}
    return value


_AnyDist = Annotated[
    Fixed | Exponential | LogNormal | Gamma | Triangular | Beta,
    Field(discriminator="dist"),
]

Distribution = Annotated[_AnyDist, BeforeValidator(_number_is_fixed)]
"""Any distribution; a bare number is a fixed value."""


def support_min(d: Fixed | Exponential | LogNormal | Gamma | Triangular | Beta) -> float:
    """Smallest value the distribution can produce."""
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Triangular):
        return d.low
    return 0.0


def support_max(d: Fixed | Exponential | LogNormal | Gamma | Triangular | Beta) -> float:
    """Largest value the distribution can produce (inf when unbounded)."""
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Triangular):
        return d.high
    if isinstance(d, Beta):
        return 1.0
    return math.inf
