"""The lever catalogue: the scenario keys a CRO or CFO moves, declared once.

Sensitivity (its default tornado), the offsite sliders, the levers table of the report, the
direction-of-effect tests and any later plan search read this one tuple. Each lever says where
it lives (a dotted key; ``*`` stands for every segment or sales team), how it is labelled, its
unit, the range worth exploring and what it applies to. Moving a lever goes through the
scenario's override mechanism (:func:`sim.scenario.io.with_overrides`), so a moved scenario is
validated like a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.scenario.io import scenario_to_dict, with_overrides
from sim.scenario.model import Scenario

UNITS = ("usd_per_seat_year", "usd_per_month", "frac", "count")
"""``frac`` is a share in [0, 1]; ``count`` whole people or partners."""
APPLIES_TO = ("company", "segment", "team")


@dataclass(frozen=True)
class Lever:
    """One lever: its key, label, unit, sensible range and what it applies to."""

    name: str
    """Short identifier (``list_price``)."""
    key: str
    """Dotted scenario key; ``*`` is every segment (``applies_to="segment"``) or sales team."""
    label: str
    """Label; ``{}`` takes the segment or team name (``"List price, {}"``)."""
    unit: str
    applies_to: str
    low: float
    high: float
    """The range worth exploring: absolute, or multiples of the base value when ``relative``."""
    relative: bool = False
    sensitivity: bool = True
    """Part of the default sensitivity tornado."""
    in_table: bool = True
    """Shown in the report's levers table."""

    def keys(self, scenario: Scenario | Mapping) -> list[str]:
        """The dotted keys this lever sets in ``scenario``: one per segment or team for ``*``."""
        return expand(_data(scenario), self.key)

    def key_for(self, who: str) -> str:
        """The dotted key of one segment or team (``smb`` → ``pricing.segments.smb.…``)."""
        return self.key.replace("*", who, 1)

    def label_for(self, who: str | None = None) -> str:
        """The label of one segment or team, or of the lever as a whole (``who`` None)."""
        if who is None:
            return self.label.replace(", {} team", "").replace(", {}", "")
        return self.label.format(who) if "{}" in self.label else self.label

    def base_values(self, scenario: Scenario | Mapping) -> dict[str, Any]:
        """Today's value of each key of the lever in ``scenario``."""
        data = _data(scenario)
        return {k: read(data, k) for k in expand(data, self.key)}

    def span(self, base: float) -> tuple[float, float]:
        """The sensible range around a base value (the base of a count lever is its total)."""
        lo, hi = (self.low * base, self.high * base) if self.relative else (self.low, self.high)
        if self.unit == "count":
            lo, hi = math.floor(lo), math.ceil(hi)
        return lo, hi


LEVERS: tuple[Lever, ...] = (
    Lever("list_price", "pricing.segments.*.list_price_usd", "List price, {}",
          "usd_per_seat_year", "segment", 0.8, 1.3, relative=True),
    Lever("discount_cap", "pricing.segments.*.discount_cap_frac", "Discount cap, {}", "frac",
          "segment", 0.0, 0.5),
    Lever("annual_uplift", "pricing.annual_uplift_frac", "Annual price uplift at renewal",
          "frac", "company", 0.0, 0.15),
    Lever("marketing_budget", "channels.inbound.budget_per_month_usd", "Paid marketing budget",
          "usd_per_month", "company", 0.0, 2.0, relative=True),
    Lever("active_partners", "channels.partner.active_partners", "Active partners", "count",
          "company", 0.0, 2.0, relative=True),
    Lever("partner_commission", "channels.partner.commission_frac", "Partner commission",
          "frac", "company", 0.0, 0.3),
    Lever("ae_count", "sales.teams.*.count", "AEs, {} team", "count", "team", 0.5, 2.0,
          relative=True),
    Lever("sdr_count", "headcount.sdr.count", "Headcount, SDR", "count", "company", 0.5, 2.0,
          relative=True),
    Lever("csm_count", "headcount.csm.count", "Headcount, CSM", "count", "company", 0.5, 2.0,
          relative=True),
    Lever("onboarding_count", "headcount.onboarding.count", "Headcount, onboarding", "count",
          "company", 0.5, 2.0, relative=True),
    Lever("logo_retention", "segments.*.logo_retention_12m_frac", "Logo retention over 12 "
          "months, {}", "frac", "segment", 0.7, 0.98, in_table=False),
    Lever("win_probability", "segments.*.base_win_prob_frac", "Base win probability, {}",
          "frac", "segment", 0.1, 0.4, in_table=False),
    Lever("management_count", "headcount.management.count", "Headcount, management", "count",
          "company", 0.5, 2.0, relative=True, sensitivity=False),
    Lever("fixed_opex", "costs.fixed_opex_per_month_usd", "Fixed opex", "usd_per_month",
          "company", 0.8, 1.2, relative=True),
)
"""Every lever, in the order tables and tornados list them."""

SENSITIVITY_LEVERS = tuple(lv.key for lv in LEVERS if lv.sensitivity)
"""The dotted keys of the default sensitivity tornado."""


def lever(name: str) -> Lever:
    """The catalogue's lever called ``name`` (ValueError naming the known ones otherwise)."""
    for lv in LEVERS:
        if lv.name == name:
            return lv
    raise ValueError(f"unknown lever {name!r} (known: {', '.join(lv.name for lv in LEVERS)})")


def _data(scenario: Scenario | Mapping) -> Mapping:
    return scenario if isinstance(scenario, Mapping) else scenario_to_dict(scenario)


def read(data: Mapping, dotted: str) -> Any:
    """The value at a dotted key of a scenario mapping (KeyError when absent)."""
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def expand(data: Mapping, key: str) -> list[str]:
    """``segments.*.x`` → one dotted key per segment (or team) of ``data``."""
    if "*" not in key:
        return [key]
    head, _, tail = key.partition(".*.")
    return [f"{head}.{k}.{tail}" for k in read(data, head)]


def lever_overrides(scenario: Scenario, lv: Lever | str,
                    value: Any | Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides setting a lever: one value for every segment or team, or a mapping
    segment/team → value (the others keep theirs)."""
    lv = lever(lv) if isinstance(lv, str) else lv
    if "*" in lv.key and isinstance(value, Mapping):
        return {lv.key_for(who): v for who, v in value.items()}
    return {k: value for k in lv.keys(scenario)}


def apply_lever(scenario: Scenario, lv: Lever | str, value: Any | Mapping[str, Any],
                name: str | None = None) -> Scenario:
    """A validated copy of ``scenario`` with the lever set (see :func:`lever_overrides`)."""
    return with_overrides(scenario, lever_overrides(scenario, lv, value), name=name)


# ---------------------------------------------------------------- moves over several keys


def price_change_overrides(scenario: Scenario, price_change_pct: float,
                           discount_cap_frac: float | None) -> dict[str, Any]:
    """The ``list_price`` lever moved by ``price_change_pct`` percent in every segment (rounded
    to cents), and the ``discount_cap`` lever capped at ``discount_cap_frac`` (None keeps the
    caps)."""
    over: dict[str, Any] = {}
    for seg, p in scenario.pricing.segments.items():
        over[lever("list_price").key_for(seg)] = round(
            p.list_price_usd * (1 + price_change_pct / 100), 2)
        if discount_cap_frac is not None:
            over[lever("discount_cap").key_for(seg)] = min(p.discount_cap_frac,
                                                           discount_cap_frac)
    return over


def team_total_overrides(scenario: Scenario, total: int) -> dict[str, int]:
    """The ``ae_count`` lever set to a total, split in proportion to today's teams (largest
    remainders; an empty plan gives the first team everything)."""
    teams = scenario.sales.teams
    now = sum(t.count for t in teams.values())
    if now == 0:
        counts = {name: (total if i == 0 else 0) for i, name in enumerate(teams)}
    else:
        exact = {name: total * t.count / now for name, t in teams.items()}
        counts = {name: int(v) for name, v in exact.items()}
        left = total - sum(counts.values())
        for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[:left]:
            counts[name] += 1
    return {lever("ae_count").key_for(name): n for name, n in counts.items()}
