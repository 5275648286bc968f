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

UNITS = ("usd_per_seat_year", "usd_per_month", "frac", "count", "months", "hires", "choice")
"""``frac`` is a share in [0, 1]; ``count`` whole people or partners; ``months`` a duration or
a horizon; ``hires`` people added from a plan month (a hiring step, read as the plan's total);
``choice`` one of the lever's ``choices``."""
APPLIES_TO = ("company", "segment", "team")
GROUPS = ("pricing", "go_to_market", "capacity", "horizon", "market", "costs")
"""How the offsite app groups levers, as the CRO and CFO think of them; the first four are the
app's, the last two the modeller's (market and cost assumptions, not decisions)."""
GROUP_LABELS = {"pricing": "Pricing", "go_to_market": "Go-to-market", "capacity": "Capacity",
                "horizon": "Horizon", "market": "Market", "costs": "Costs"}


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
    group: str = "market"
    """Where the offsite app lists it (:data:`GROUPS`)."""
    choices: tuple[str, ...] = ()
    """The values of a ``choice`` lever."""
    directional: bool = True
    """Moves one measure one way (checked in tests/test_direction.py); False for a mix, a
    choice, a timing or the horizon, whose effect has no single sign."""

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
        return {k: scalar(read(data, k)) for k in expand(data, self.key)}

    def span(self, base: float) -> tuple[float, float]:
        """The sensible range around a base value (the base of a count lever is its total)."""
        lo, hi = (self.low * base, self.high * base) if self.relative else (self.low, self.high)
        if self.unit in ("count", "hires", "months"):
            lo, hi = math.floor(lo), math.ceil(hi)
        return lo, hi


LEVERS: tuple[Lever, ...] = (
    Lever("list_price", "pricing.segments.*.list_price_usd", "List price, {}",
          "usd_per_seat_year", "segment", 0.8, 1.3, relative=True, group="pricing"),
    Lever("discount_cap", "pricing.segments.*.discount_cap_frac", "Discount cap, {}", "frac",
          "segment", 0.0, 0.5, group="pricing"),
    Lever("annual_uplift", "pricing.annual_uplift_frac", "Annual price uplift at renewal",
          "frac", "company", 0.0, 0.15, group="pricing"),
    Lever("marketing_budget", "channels.inbound.budget_per_month_usd", "Paid marketing budget",
          "usd_per_month", "company", 0.0, 2.0, relative=True, group="go_to_market"),
    Lever("active_partners", "channels.partner.active_partners", "Active partners", "count",
          "company", 0.0, 2.0, relative=True, group="go_to_market"),
    Lever("partner_commission", "channels.partner.commission_frac", "Partner commission",
          "frac", "company", 0.0, 0.3, group="go_to_market"),
    Lever("ae_count", "sales.teams.*.count", "AEs, {} team", "count", "team", 0.5, 2.0,
          relative=True, group="capacity"),
    Lever("sdr_count", "headcount.sdr.count", "Headcount, SDR", "count", "company", 0.5, 2.0,
          relative=True, group="go_to_market"),
    Lever("csm_count", "headcount.csm.count", "Headcount, CSM", "count", "company", 0.5, 2.0,
          relative=True, group="capacity"),
    Lever("onboarding_count", "headcount.onboarding.count", "Headcount, onboarding", "count",
          "company", 0.5, 2.0, relative=True, group="capacity"),
    Lever("logo_retention", "segments.*.logo_retention_12m_frac", "Logo retention over 12 "
          "months, {}", "frac", "segment", 0.7, 0.98, in_table=False),
    Lever("win_probability", "segments.*.base_win_prob_frac", "Base win probability, {}",
          "frac", "segment", 0.1, 0.4, in_table=False),
    Lever("management_count", "headcount.management.count", "Headcount, management", "count",
          "company", 0.5, 2.0, relative=True, sensitivity=False, group="capacity"),
    Lever("fixed_opex", "costs.fixed_opex_per_month_usd", "Fixed opex", "usd_per_month",
          "company", 0.8, 1.2, relative=True, group="costs"),
    # The offsite's finer levers: outside the default tornado and the levers table (so those
    # and every report keep their numbers), moved one segment or team at a time.
    Lever("rep_discount", "pricing.segments.*.rep_discount_frac", "Rep discount (mean), {}",
          "frac", "segment", 0.0, 0.4, sensitivity=False, in_table=False, group="pricing"),
    Lever("installed_price_policy", "pricing.segments.*.installed_price_policy",
          "Installed base at renewal, {}", "choice", "segment", 0, 0, sensitivity=False,
          in_table=False, group="pricing", choices=("grandfather", "step_to_list"),
          directional=False),
    Lever("installed_price_step", "pricing.segments.*.installed_price_step_cap_frac",
          "Installed base: step to list, {}", "frac", "segment", 0.0, 0.3,
          sensitivity=False, in_table=False, group="pricing", directional=False),
    Lever("inbound_mix", "channels.inbound.segment_mix.*", "Marketing budget share, {}", "frac",
          "segment", 0.0, 1.0, sensitivity=False, in_table=False, group="go_to_market",
          directional=False),
    Lever("sdr_mix", "channels.outbound.segment_mix.*", "SDR effort share, {}", "frac",
          "segment", 0.0, 1.0, sensitivity=False, in_table=False, group="go_to_market",
          directional=False),
    Lever("ae_hires", "sales.teams.*.hiring_plan", "AEs hired, {} team", "hires", "team",
          0, 10, sensitivity=False, in_table=False, group="capacity", directional=False),
    Lever("ae_ramp", "sales.teams.*.ramp_months", "AE ramp, {} team", "months", "team", 0, 12,
          sensitivity=False, in_table=False, group="capacity"),
    Lever("horizon", "horizon_months", "Horizon", "months", "company", 12, 60,
          sensitivity=False, in_table=False, group="horizon", directional=False),
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


def scalar(value: Any) -> Any:
    """A lever's value as one number: a distribution's mean (``{dist: beta, a, b}``), a hiring
    plan's total added; anything else as it is."""
    if isinstance(value, Mapping) and "dist" in value:
        from pydantic import TypeAdapter

        from sim.scenario.distributions import Distribution

        return TypeAdapter(Distribution).validate_python(dict(value)).mean()
    if isinstance(value, list):
        return sum(step["add"] for step in value)
    return value


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
    if key.endswith(".*"):  # a mapping's every entry (``channels.inbound.segment_mix.*``)
        head = key[:-2]
        return [f"{head}.{k}" for k in read(data, head)]
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


# ---------------------------------------------------------------- the offsite's moves


def share_overrides(scenario: Scenario, lv: Lever | str, who: str, share: float
                    ) -> dict[str, float]:
    """A mix lever (``inbound_mix``, ``sdr_mix``) with ``who``'s share set and the other
    shares scaled so that the mix still sums to 1 (equal shares when the others were all 0)."""
    lv = lever(lv) if isinstance(lv, str) else lv
    now = {k.rsplit(".", 1)[1]: float(v) for k, v in lv.base_values(scenario).items()}
    share = min(1.0, max(0.0, float(share)))
    rest = {k: v for k, v in now.items() if k != who}
    total = sum(rest.values())
    new = {who: share}
    for k, v in rest.items():
        new[k] = (1 - share) * (v / total if total > 0 else 1 / len(rest))
    return {lv.key_for(k): round(v, 6) for k, v in new.items()}


def rep_discount_value(current: Any, mean: float) -> Any:
    """A rep discount whose mean is ``mean``: a Beta keeps its concentration ``a + b`` (the
    same spread of discounts around a new centre); a fixed value becomes ``mean``."""
    mean = min(max(float(mean), 0.0), 1.0)
    if isinstance(current, Mapping) and current.get("dist") == "beta" and 0 < mean < 1:
        n = float(current["a"]) + float(current["b"])
        return {"dist": "beta", "a": round(mean * n, 6), "b": round((1 - mean) * n, 6)}
    return mean


def hire_overrides(scenario: Scenario, team: str, add: int, month: int) -> dict[str, Any]:
    """``add`` AEs joining ``team`` from plan ``month`` (ramping like any new hire), on top of
    the team's hiring plan."""
    plan = [step.model_dump() for step in scenario.sales.teams[team].hiring_plan]
    if add:
        plan.append({"month": int(month), "add": int(add)})
    plan.sort(key=lambda step: step["month"])  # stable: steps of one month keep their order
    return {lever("ae_hires").key_for(team): plan}


def move_overrides(scenario: Scenario, moves: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides for the offsite's moves: ``{lever: value}`` for a company lever,
    ``{lever: {segment or team: value}}`` otherwise; ``ae_hires`` takes ``(add, month)``
    per team, a mix lever one segment's new share (the others rescaled), ``rep_discount``
    the mean."""
    data = scenario_to_dict(scenario)
    over: dict[str, Any] = {}
    for name, value in moves.items():
        lv = lever(name)
        per = value if isinstance(value, Mapping) else None
        if lv.name == "ae_hires":
            for team, (add, month) in (per or {}).items():
                over.update(hire_overrides(scenario, team, add, month))
        elif lv.name in ("inbound_mix", "sdr_mix"):
            for seg, share in (per or {}).items():
                over.update(share_overrides(scenario, lv, seg, share))
        elif lv.name == "rep_discount":
            for seg, mean in (per or {}).items():
                key = lv.key_for(seg)
                over[key] = rep_discount_value(read(data, key), mean)
        else:
            over.update(lever_overrides(scenario, lv, value))
    return over
