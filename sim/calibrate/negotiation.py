"""The engine's negotiation (``sim.engine.pricing.negotiate``) as a likelihood: what a deal
that beat the competition shows about the buyer's willingness to pay and the rep's opening.

The engine: the buyer needs ``n = max(0, 1 - W / L)`` off the list ``L``; the rep opens at
``D = min(B + e, ceiling)`` (``B`` its concession, ``e`` the quarter-end extra in the window)
and reads the estimate ``m = max(0, 1 - W r / L)`` from a signal ``W r`` (``r = exp(sigma
Z)``); each counter round (at most ``R``, the buyer walking with ``w`` before each) moves the
offer toward ``m`` by at most ``s`` (a full step once the offer is at or above ``m``), never
above the ceiling ``C``. The negotiation's rules (``C, s, R, w, sigma``) are the scenario's:
the calibration holds them at the base's values and fits ``W`` and ``B`` given them.

Won at a discount ``d`` strictly between 0 and ``C``, for one signal ratio ``r`` (``H(x) = 1 -
(1 - x) / r`` is the need whose estimate is ``x``; the density is averaged over ``r`` at
``SIGNAL_NODES`` quantiles of Z):

- at the opening: ``f_D(d) F_N(d)``;
- stepped to ``d`` in round k (opening ``d - k s``, the estimate outside the offers' path):
  ``(1 - w)^k f_D(d - k s) P(n in (d - s, d], n not in (H(d - k s), H(d)))``;
- landed on the estimate ``d = m`` in round k (the estimate above the need, ``r <= 1``):
  ``(1 - w)^k f_N(H(d)) / r [F_D(H(d) - (k - 1) s) - F_D(d - k s)]``;
- landed on the estimate in round i below the need (``r > 1``), then j full steps to ``d``:
  ``(1 - w)^(i + j) f_N(H(d - j s)) / r [F_D(d - j s - (i - 1) s) - F_D(d - j s - i s)]``
  when ``H(d - j s)`` lies in ``(d - s, d]``.

The chance of winning on price and of winning at the ceiling (and the mean discount given) are
sums over a fixed grid of openings and needs of the cells' probabilities times the
negotiation's outcome at the cell's centre (:class:`Kernel`), computed once per rule set by
:func:`outcomes`, a vectorised copy of ``negotiate`` (tested against it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from sim.engine.pricing import CAP_TOLERANCE, ceiling_frac

SIGNAL_NODES = 24  # quantiles of the signal noise Z (midpoint rule in probability)
OPEN_CELLS = 400  # cells of the opening discount on [0, ceiling)
NEED_CELLS = 1200  # cells of the buyer's need on (0, ceiling]


@dataclass(frozen=True)
class Rules:
    """A segment's negotiation as the scenario sets it."""

    ceiling: float  # min(cap, top approval tier)
    step: float  # concession_step_frac
    rounds: int  # max_counter_rounds
    walk: float  # walk_prob_per_round_frac
    noise: float  # wtp_signal_noise_frac

    @classmethod
    def of(cls, scenario, seg: str) -> Rules:
        p = scenario.pricing
        price = p.segments[seg]
        return cls(ceiling_frac(price.discount_cap_frac), price.concession_step_frac,
                   p.max_counter_rounds, p.walk_prob_per_round_frac,
                   price.wtp_signal_noise_frac)

    @property
    def counters(self) -> bool:
        """Whether any counter round can happen."""
        return self.step > 0 and self.rounds > 0

    def describe(self) -> str:
        return (f"negotiation held at the base's rules: signal noise {self.noise:g}, step "
                f"{self.step:g}, {self.rounds} counter rounds, walk {self.walk:g} per round, "
                f"ceiling {self.ceiling:g}")


def signal_ratios(noise: float, nodes: int = SIGNAL_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Signal ratios ``r = exp(noise Z)`` at quantiles of Z, and their weights."""
    if noise <= 0:
        return np.ones(1), np.ones(1)
    z = special.ndtri((np.arange(nodes) + 0.5) / nodes)
    return np.exp(noise * z), np.full(nodes, 1.0 / nodes)


def outcomes(opening, need, ratio, rules: Rules):
    """``negotiate`` on arrays (broadcast): won, counter rounds used, discount given. The
    buyer's estimate is ``max(0, 1 - (1 - need) ratio)``; walks are left to the caller (a won
    deal weighs ``(1 - w)^rounds``)."""
    c, s = rules.ceiling, rules.step
    need = np.asarray(need, float)
    d = np.minimum(np.asarray(opening, float), c) + 0 * need
    est = np.maximum(0.0, 1.0 - (1.0 - need) * np.asarray(ratio, float))
    won = need <= d + CAP_TOLERANCE
    active = ~won
    rounds = np.zeros(np.broadcast(d, est).shape, int)
    for _ in range(rules.rounds):
        target = np.where(est > d, est, d + s)
        nxt = np.minimum(np.minimum(c, d + s), target)
        go = active & (nxt > d + CAP_TOLERANCE)
        d = np.where(go, nxt, d)
        rounds = rounds + go
        hit = go & (need <= d + CAP_TOLERANCE)
        won = won | hit
        active = go & ~hit
    return won, rounds, d


class Kernel:
    """The negotiation's outcome on a grid of (opening, need) cells, averaged over the signal:
    ``win[j, i]``, ``at_cap[j, i]`` and ``discount[j, i]`` (won weighted by not walking, and
    times the discount given). Openings: cells of [0, C) and the ceiling itself; needs: 0 (a
    buyer who values it above list) and cells of (0, C] (a need above C never wins)."""

    def __init__(self, rules: Rules, open_cells: int = OPEN_CELLS,
                 need_cells: int = NEED_CELLS):
        c = rules.ceiling
        self.rules = rules
        self.open_edges = np.linspace(0.0, c, open_cells + 1)
        self.need_edges = np.linspace(0.0, c, need_cells + 1)
        d0 = np.append(0.5 * (self.open_edges[:-1] + self.open_edges[1:]), c)[:, None]
        n = np.append(0.0, 0.5 * (self.need_edges[:-1] + self.need_edges[1:]))[None, :]
        shape = (d0.shape[0], n.shape[1])
        self.win, self.at_cap, self.discount = (np.zeros(shape) for _ in range(3))
        for r, wt in zip(*signal_ratios(rules.noise), strict=True):
            won, rounds, d = outcomes(d0, n, r, rules)
            weight = wt * np.where(won, (1 - rules.walk) ** rounds, 0.0)
            self.win += weight
            self.at_cap += weight * (d >= c - CAP_TOLERANCE)
            self.discount += weight * d

    def opening_mass(self, a: float, b: float, extra: float) -> np.ndarray:
        """Probability of each opening cell (and of the ceiling) under ``B ~ Beta(a, b)``
        plus ``extra``."""
        cdf = special.betainc(a, b, np.clip(self.open_edges - extra, 0.0, 1.0))
        return np.append(np.diff(cdf), 1.0 - cdf[-1])

    def need_mass(self, mu: float, sigma: float, listed: float) -> np.ndarray:
        """Probability of a need of 0 and of each need cell under lognormal W (median
        ``exp(mu)``) against the list ``listed``."""
        with np.errstate(divide="ignore"):
            z = (np.log(listed * (1.0 - self.need_edges)) - mu) / sigma
        cdf = special.ndtr(z)  # P(W < L (1 - x)) = P(need > x)
        return np.append(1.0 - cdf[0], cdf[:-1] - cdf[1:])

    def probabilities(self, mu, sigma, listed, a, b, extra) -> tuple[float, float, float]:
        """P(won on price), P(won at the ceiling), E[discount; won] (not divided)."""
        pd_, pn = self.opening_mass(a, b, extra), self.need_mass(mu, sigma, listed)
        return (float(pd_ @ self.win @ pn), float(pd_ @ self.at_cap @ pn),
                float(pd_ @ self.discount @ pn))

    def table(self, mu, sigma, listed, a, b, extras) -> tuple[np.ndarray, np.ndarray]:
        """P(won on price) and P(won at the ceiling) for each list (rows) and each opening
        extra (columns), in two products."""
        pd_ = np.array([self.opening_mass(a, b, e) for e in extras])
        pn = np.array([self.need_mass(mu, sigma, lc) for lc in listed]).T
        both = np.stack([pd_ @ self.win, pd_ @ self.at_cap]) @ pn  # (2, extras, lists)
        return both[0].T, both[1].T


def won_density(d: np.ndarray, listed: np.ndarray, mu: float, sigma: float, a: float,
                b: float, extra: float, rules: Rules) -> np.ndarray:
    """Density of a deal won at discount ``d`` (0 < d < ceiling) against list ``listed``
    (arrays of one shape), from the module docstring."""
    d = np.asarray(d, float)[..., None]
    lst = np.asarray(listed, float)[..., None]
    s, w, big_r = rules.step, rules.walk, rules.rounds
    ratios, weights = signal_ratios(rules.noise)
    r = ratios[None, :] if d.ndim > 1 else ratios

    def f_n(x):  # density of the need at x in (0, 1)
        with np.errstate(all="ignore"):
            y = lst * (1.0 - x)
            z = (np.log(y) - mu) / sigma
            out = np.exp(-0.5 * z * z) / (y * sigma * math.sqrt(2 * math.pi)) * lst
        return np.where((x > 0) & (x < 1), np.nan_to_num(out), 0.0)

    def cdf_n(x):  # P(need <= x): the buyer pays at least L (1 - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(lst * (1.0 - np.clip(x, 0.0, 1.0))) - mu) / sigma
        return np.where(x < 0, 0.0, np.where(x >= 1, 1.0, special.ndtr(-z)))

    def f_d(x):
        y = x - extra
        with np.errstate(all="ignore"):
            out = np.exp((a - 1) * np.log(y) + (b - 1) * np.log1p(-y) - special.betaln(a, b))
        return np.where((y > 0) & (y < 1), np.nan_to_num(out), 0.0)

    def cdf_d(x):
        return special.betainc(a, b, np.clip(x - extra, 0.0, 1.0))

    dens = f_d(d) * cdf_n(d)  # (..., 1): won at the opening
    if not rules.counters:
        return dens[..., 0]

    def h(x):
        return 1.0 - (1.0 - x) / r

    def mass(lo, hi):
        return np.maximum(0.0, cdf_n(hi) - cdf_n(lo))

    lo = np.maximum(d - s, 0.0)
    per_r = np.zeros(np.broadcast(d, r).shape)
    h_d = h(d)
    for k in range(1, big_r + 1):
        keep = (1 - w) ** k
        # stepped to d in round k: the estimate was not on the path (d - k s, d)
        start = d - k * s
        inside = mass(np.maximum(lo, h(start)), np.minimum(d, h_d))
        per_r += keep * f_d(start) * (mass(lo, d) - np.where(h(start) < h_d, inside, 0.0))
        # landed on the estimate d in round k (estimate above the need)
        ok = (h_d > 0) & (h_d <= d + CAP_TOLERANCE)  # r = 1: H(d) = d up to rounding
        per_r += np.where(ok, keep * f_n(h_d) / r * np.maximum(
            0.0, cdf_d(h_d - (k - 1) * s) - cdf_d(d - k * s)), 0.0)
    for j in range(1, big_r):  # landed below the need, then j full steps to d
        m = d - j * s
        n_star = h(m)
        ok = (m > 0) & (n_star > lo + CAP_TOLERANCE) & (n_star <= d + CAP_TOLERANCE) & (n_star > 0)
        inner = sum((1 - w) ** (i + j) * np.maximum(
            0.0, cdf_d(m - (i - 1) * s) - cdf_d(m - i * s)) for i in range(1, big_r - j + 1))
        per_r += np.where(ok, f_n(n_star) / r * inner, 0.0)
    return dens[..., 0] + per_r @ weights
