"""What the company does not know: ranges on scenario values, drawn once per replication.

Any numeric value of a scenario file may carry an uncertainty instead of a number::

    median: {estimate: 960, range: [850, 1100], source: "assumption; S6 effective/list"}
    median: {estimate: 960, draw: {dist: lognormal, median: 960, sigma: 0.08}, source: ...}

The estimate is the value the scenario runs with when parameters are fixed
(``--fixed-parameters``); the range is a triangular law low–estimate–high, ``draw`` any
distribution of :mod:`sim.scenario.distributions`. A calibrated scenario also carries
``uncertainty.joint`` blocks: values fitted together, drawn from one multivariate normal on
the scale each is about normal (log, logit), so their correlation holds.

Loading moves every inline uncertainty to ``Scenario.uncertainty`` (keyed by its dotted
path) and leaves the estimate in place, so a scenario with ranges is, value for value, the
scenario without them: its hash and every number with parameters fixed are unchanged.
Drawing (:func:`draw_values`) takes one numpy generator per key (a named stream, see
``sim.experiments.uncertainty``), so adding a range moves no other draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import special

from sim.scenario.distributions import Distribution, Fixed, Triangular, support_max, support_min

MARKER = "estimate"
"""A mapping with this key is an uncertain value, not a part of the scenario."""
STREAM_PREFIX = "assumptions/"
"""Named streams of the draws: ``assumptions/<dotted key>``, ``assumptions/joint/<first key>``."""
SCALES = ("identity", "log", "logit")
INTERVAL = 0.95
"""The probability between the low and high ends of an assumption drawn from a distribution
or a joint block (a range is its own ends)."""
Z = float(special.ndtri(0.5 + INTERVAL / 2))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Assumption(_Frozen):
    """One uncertain value: its estimate, range or distribution, and where it comes from."""

    estimate: float
    """The value with parameters fixed (the scenario holds it)."""
    range: tuple[float, float] | None = None
    """Low and high ends: drawn from the triangular law low–estimate–high."""
    draw: Distribution | None = None
    """Or any distribution (``{dist: lognormal, ...}``)."""
    source: str = Field(min_length=1)
    """Where the range comes from: a docs/saas-benchmarks.md row ("S6"), a fit, or
    "assumption" with the reasoning."""

    @model_validator(mode="after")
    def _one_law(self) -> Assumption:
        if (self.range is None) == (self.draw is None):
            raise ValueError("give either range: [low, high] or draw: {dist: ...}")
        if self.range is not None:
            lo, hi = self.range
            if not lo <= self.estimate <= hi or lo == hi:
                raise ValueError(f"range [{lo:g}, {hi:g}] must contain the estimate "
                                 f"{self.estimate:g} and have low < high")
        return self

    def law(self):
        """The distribution drawn from."""
        if self.draw is not None:
            return self.draw
        lo, hi = self.range
        return Triangular(low=lo, mode=self.estimate, high=hi)

    def ends(self) -> tuple[float, float]:
        """The range, or the distribution's central ``INTERVAL`` (its support when bounded)."""
        if self.range is not None:
            return self.range
        d = self.draw
        if isinstance(d, Fixed | Triangular):
            return support_min(d), support_max(d)
        sample = d.sample_array(np.random.default_rng(0), 20_000)
        tail = (1 - INTERVAL) / 2
        return float(np.quantile(sample, tail)), float(np.quantile(sample, 1 - tail))

    def sample(self, gen: np.random.Generator) -> float:
        return float(self.law().sample_array(gen, 1)[0])


class JointBlock(_Frozen):
    """Values fitted together: a multivariate normal on their scales (``SCALES``): the mean
    and covariance of ``f(value)`` with ``f`` the identity, log or logit."""

    keys: list[str] = Field(min_length=1)
    scales: list[Literal["identity", "log", "logit"]]
    mean: list[float]
    cov: list[list[float]]
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shapes(self) -> JointBlock:
        k = len(self.keys)
        if len(self.scales) != k or len(self.mean) != k or len(self.cov) != k or any(
                len(row) != k for row in self.cov):
            raise ValueError(f"keys, scales, mean and cov must all have {k} entries")
        try:
            np.linalg.cholesky(np.asarray(self.cov, float))
        except np.linalg.LinAlgError:
            raise ValueError("cov must be a positive-definite covariance") from None
        return self

    def estimates(self) -> dict[str, float]:
        """The values at the mean (the point estimates the scenario holds)."""
        return {k: _inverse(s, m) for k, s, m in zip(self.keys, self.scales, self.mean,
                                                    strict=True)}

    def ends(self) -> dict[str, tuple[float, float]]:
        """Each value's central ``INTERVAL`` (its marginal)."""
        out = {}
        for i, (k, s) in enumerate(zip(self.keys, self.scales, strict=True)):
            half = Z * math.sqrt(self.cov[i][i])
            out[k] = (_inverse(s, self.mean[i] - half), _inverse(s, self.mean[i] + half))
        return out

    def sample(self, gen: np.random.Generator) -> dict[str, float]:
        chol = np.linalg.cholesky(np.asarray(self.cov, float))
        x = np.asarray(self.mean, float) + chol @ gen.standard_normal(len(self.keys))
        return {k: _inverse(s, float(v)) for k, s, v in zip(self.keys, self.scales, x,
                                                           strict=True)}

    def without(self, keys: set[str]) -> JointBlock | None:
        """The block's marginal over the keys not in ``keys`` (None when none is left)."""
        keep = [i for i, k in enumerate(self.keys) if k not in keys]
        if not keep:
            return None
        if len(keep) == len(self.keys):
            return self
        return JointBlock(keys=[self.keys[i] for i in keep],
                          scales=[self.scales[i] for i in keep],
                          mean=[self.mean[i] for i in keep],
                          cov=[[self.cov[i][j] for j in keep] for i in keep], source=self.source)


def _inverse(scale: str, x: float) -> float:
    if scale == "log":
        return math.exp(x)
    if scale == "logit":
        return float(special.expit(x))
    return x


class Uncertainty(_Frozen):
    """Every uncertain value of a scenario: single assumptions by dotted key, and blocks."""

    assumptions: dict[str, Assumption] = {}
    joint: list[JointBlock] = []

    def keys(self) -> list[str]:
        """Every uncertain key: the single ones, then each block's, in order."""
        return [*self.assumptions, *(k for b in self.joint for k in b.keys)]

    def ends(self) -> dict[str, tuple[float, float]]:
        """Key → (low, high): the range, or the central ``INTERVAL`` of its law."""
        out = {k: a.ends() for k, a in self.assumptions.items()}
        for b in self.joint:
            out.update(b.ends())
        return out

    def estimates(self) -> dict[str, float]:
        out = {k: a.estimate for k, a in self.assumptions.items()}
        for b in self.joint:
            out.update(b.estimates())
        return out

    def sources(self) -> dict[str, str]:
        out = {k: a.source for k, a in self.assumptions.items()}
        for b in self.joint:
            out.update(dict.fromkeys(b.keys, b.source))
        return out

    def without(self, keys: set[str]) -> Uncertainty | None:
        """Without the values at (or under, or above) these dotted keys: a value a plan or an
        override sets is that value, not a draw. None when nothing uncertain is left."""
        def hit(k: str) -> bool:
            return any(k == o or k.startswith(o + ".") or o.startswith(k + ".") for o in keys)

        drop = {k for k in self.keys() if hit(k)}
        if not drop:
            return self
        singles = {k: a for k, a in self.assumptions.items() if k not in drop}
        blocks = [b for b in (blk.without(drop) for blk in self.joint) if b is not None]
        return Uncertainty(assumptions=singles, joint=blocks) if singles or blocks else None


def draw_values(unc: Uncertainty, stream: Callable[[str], np.random.Generator],
                whole: Callable[[str], bool] = lambda key: False) -> dict[str, float]:
    """Dotted key → drawn value; ``stream(name)`` gives the generator of each named draw;
    a value ``whole(key)`` (a count) is rounded."""
    out = {k: a.sample(stream(STREAM_PREFIX + k)) for k, a in unc.assumptions.items()}
    for b in unc.joint:
        out.update(b.sample(stream(STREAM_PREFIX + "joint/" + b.keys[0])))
    return {k: float(round(v)) if whole(k) else v for k, v in out.items()}


# ---------------------------------------------------------------- inline forms in files


def _is_inline(value: Any) -> bool:
    return isinstance(value, Mapping) and MARKER in value


def extract_inline(data: Any) -> Any:
    """A scenario mapping with every inline ``{estimate: ...}`` replaced by its estimate, and
    the uncertainties moved to ``uncertainty.assumptions`` (a mapping given there already is
    kept; an inline one for the same key replaces it). Data without any is returned as is."""
    if not isinstance(data, Mapping):
        return data
    found: dict[str, Any] = {}

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if _is_inline(node):
            found[".".join(path)] = dict(node)
            return node.get(MARKER)
        if isinstance(node, Mapping):
            if path == ("uncertainty",):
                return node
            changed = {k: walk(v, (*path, str(k))) for k, v in node.items()}
            return changed
        if isinstance(node, list):
            for i, item in enumerate(node):
                if _contains_inline(item):
                    where = ".".join((*path, str(i)))
                    raise ValueError(f"{where}: a range is not supported inside a list "
                                     "(contracts, targets); give the list fixed values")
        return node

    out = walk(data, ())
    if not found:
        return data
    unc = dict(out.get("uncertainty") or {})
    unc["assumptions"] = {**dict(unc.get("assumptions") or {}), **found}
    out["uncertainty"] = unc
    return out


def _contains_inline(node: Any) -> bool:
    if _is_inline(node):
        return True
    if isinstance(node, Mapping):
        return any(_contains_inline(v) for v in node.values())
    if isinstance(node, list):
        return any(_contains_inline(v) for v in node)
    return False


def read_key(data: Mapping, dotted: str) -> Any:
    """The value at a dotted key of a plain scenario mapping (KeyError when absent)."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


UncertaintyField = Annotated[Uncertainty | None, Field(default=None)]


def check_uncertainty(scenario) -> list[str]:
    """Problems of a scenario's uncertainty: a key that is not a number of the scenario, or a
    range end at which the scenario would not be valid (each end checked alone)."""
    from pydantic import ValidationError

    unc = scenario.uncertainty
    data = scenario.model_dump(mode="json", by_alias=True, exclude={"uncertainty"})
    problems = []
    for key in unc.keys():
        try:
            value = read_key(data, key)
        except KeyError:
            problems.append(f"uncertainty: {key}: not a key of the scenario")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"uncertainty: {key}: not a number (got {type(value).__name__})")
    if problems:
        return problems
    for key, a in unc.assumptions.items():
        whole = isinstance(read_key(data, key), int)
        for end in a.ends():
            changed = _set_key(data, key, round(end) if whole else end)
            try:
                type(scenario).model_validate(changed)
            except ValidationError as exc:
                why = exc.errors()[0]["msg"].removeprefix("Value error, ")
                problems.append(f"{key}: range end {end:g} is not a valid value ({why})")
                break
    return problems


def _set_key(data: Mapping, dotted: str, value: Any) -> dict:
    import copy

    out = copy.deepcopy(dict(data))
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return out


def fixed_parameters(scenario):
    """The scenario with every uncertain value at its estimate and nothing left to draw
    (``--fixed-parameters``): the same hash and numbers as the file without ranges."""
    if getattr(scenario, "uncertainty", None) is None:
        return scenario
    return scenario.model_copy(update={"uncertainty": None})
